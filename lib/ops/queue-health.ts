import { join } from 'node:path';
import { Duration, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { type BullmqMajor, METRICS } from '../../lambda/queue-health/health';
import type { Cache } from '../data/cache';
import type { AlarmSet } from '../shared/alarm-set';
import { httpsOnlySecurityGroup } from '../shared/https-only-group';
import { type LogSettings, logSettings } from '../shared/log-group';
import { QUEUE_METRICS_NAMESPACE } from '../shared/naming';
import { handlerEntry } from '../shared/paths';
import { ProjectFunction } from '../shared/project-function';
import { waitingWithoutProgress } from '../shared/stage-metrics';

export interface QueueHealthProps extends LogSettings {
  readonly alarms: AlarmSet;
  readonly stage: string;
  /** The stage's VPC: the function runs in its private subnets, from where it reaches the cache and, through NAT, the AWS APIs. */
  readonly vpc: ec2.IVpc;
  /** The data stack's replication group: its endpoint, its AUTH token secret and its security group. */
  readonly cache: Cache;
  /** The app's queue names (config `operations.queues.names`). */
  readonly queues: readonly string[];
  /** The major of BullMQ the app uses: the function bundles a reader of the same one. */
  readonly bullmqMajor: BullmqMajor;
  /** BullMQ's key prefix. */
  readonly prefix: string;
  /** Seconds the first job in line may wait before its queue's age alarm pages. */
  readonly oldestWaitingSeconds: number;
  /** Readings in a row with waiting jobs and none finished before the no-progress alarm pages. */
  readonly noProgressMinutes: number;
}

/** Every minute: the alarms read one value a minute per queue. */
export const QUEUE_HEALTH_SCHEDULE = 'rate(1 minute)';

/** The handler module that bundles the given major of BullMQ. */
export function queueHealthEntry(major: BullmqMajor): string {
  return major === 6 ? handlerEntry('queue-health') : join(handlerEntry('queue-health'), '..', 'index-v5.ts');
}

/**
 * Defines the stage's view inside its BullMQ queues, which nothing in AWS has: every minute a
 * function (lambda/queue-health) reads each configured queue from the cache with the app's major
 * of BullMQ, without writing, and publishes `Waiting`, `Active`, `Failed`, `OldestWaitingSeconds`
 * and `Finished` per queue (`webapp/Queues`, dimensions `Stage` and `Queue`). Two alarms per queue
 * page: the first job in line waited too long, or jobs wait while none finishes. The function
 * reaches the cache on its port (the ingress rule is written here, beside the group it admits) and
 * reads the AUTH token from the data stack's secret.
 */
export class QueueHealth extends Construct {
  readonly checker: ProjectFunction;
  readonly oldestJobAlarms: cloudwatch.Alarm[] = [];
  readonly noProgressAlarms: cloudwatch.Alarm[] = [];

  constructor(scope: Construct, id: string, props: QueueHealthProps) {
    super(scope, id);
    const { stage, cache, queues } = props;
    const { region } = Stack.of(this);

    const group = httpsOnlySecurityGroup(this, 'SecurityGroup', {
      vpc: props.vpc,
      description: 'Queue health check: the cache, and HTTPS to the Secrets Manager and CloudWatch APIs',
      httpsTo: 'HTTPS to the Secrets Manager and CloudWatch APIs',
    });
    // Written into this stack, which depends on the data stack (allowFrom would write it there: a cycle).
    group.connections.allowToDefaultPort(cache, 'Queue health check reads the queues');

    this.checker = new ProjectFunction(this, 'Handler', {
      entry: queueHealthEntry(props.bullmqMajor),
      handler: 'handler',
      description: `Publishes the depth, age and progress of the ${stage} BullMQ queues, read from the cache`,
      vpc: props.vpc,
      securityGroups: [group],
      // A reading takes well under a second; the connection gives up after 5 s.
      timeout: Duration.seconds(30),
      memorySize: 256,
      environment: {
        STAGE: stage,
        CACHE_HOST: cache.endpointAddress,
        CACHE_PORT: String(cache.port),
        SECRET_ARN: cache.authToken.secretArn,
        QUEUES: queues.join(','),
        PREFIX: props.prefix,
        BULLMQ_MAJOR: String(props.bullmqMajor),
      },
      ...logSettings(props),
    });
    const fn = this.checker.fn;
    fn.addToRolePolicy(new iam.PolicyStatement({ sid: 'ReadTheCacheToken', actions: ['secretsmanager:GetSecretValue'], resources: [cache.authToken.secretArn] }));
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'ThroughTheCacheKey',
        actions: ['kms:Decrypt'],
        resources: [cache.authToken.encryptionKey!.keyArn],
        conditions: { StringEquals: { 'kms:ViaService': `secretsmanager.${region}.amazonaws.com` } },
      }),
    );
    this.checker.publishesMetrics('PublishTheQueueHealth', QUEUE_METRICS_NAMESPACE);

    new events.Rule(this, 'EveryMinute', {
      description: `Publishes the health of the ${stage} BullMQ queues (${queues.join(', ')})`,
      schedule: events.Schedule.expression(QUEUE_HEALTH_SCHEDULE),
      // The next reading comes in a minute; a retry would only land beside it.
      targets: [new targets.LambdaFunction(fn, { retryAttempts: 0 })],
    });
    // Lambda retries a failed asynchronous invoke twice by itself: a reading a minute late only
    // lands beside the next one.
    fn.configureAsyncInvoke({ retryAttempts: 0 });

    const minute = Duration.minutes(1);
    for (const queue of queues) {
      const metric = (metricName: string) => queueMetric(stage, queue, metricName, { period: minute });
      // Missing data is breaching: a check that cannot read the cache publishes nothing, and
      // nobody else sees inside the queues.
      this.oldestJobAlarms.push(
        props.alarms.add(this, `OldestJob-${queue}`, {
          name: `queue-oldest-job-age-${queue}`,
          runbook: 'queue-oldest-job-age',
          description: `The first job in line in the ${stage} BullMQ queue "${queue}" waited more than ${props.oldestWaitingSeconds} s for 5 minutes, or the queue check could not read the cache.`,
          metric: metric(METRICS.oldestWaitingSeconds),
          threshold: props.oldestWaitingSeconds,
          evaluationPeriods: 5,
          datapointsToAlarm: 5,
          comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
          treatMissingData: cloudwatch.TreatMissingData.BREACHING,
          severity: 'page',
          tier: 'worker',
        }),
      );
      // 1 for a minute with jobs waiting and none finished.
      // Missing data is not breaching: the age alarm already pages when the check is blind.
      this.noProgressAlarms.push(
        props.alarms.add(this, `NoProgress-${queue}`, {
          name: `queue-no-progress-${queue}`,
          runbook: 'queue-no-progress',
          description: `Jobs waited in the ${stage} BullMQ queue "${queue}" for ${props.noProgressMinutes} minutes while none completed or failed: the workers are stalled or gone.`,
          metric: waitingWithoutProgress({
            waiting: metric(METRICS.waiting),
            finished: queueMetric(stage, queue, METRICS.finished, { period: minute, statistic: 'Sum' }),
            period: minute,
            label: `${queue}: waiting without progress`,
          }),
          threshold: 0,
          evaluationPeriods: props.noProgressMinutes,
          datapointsToAlarm: props.noProgressMinutes,
          comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
          treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
          severity: 'page',
          tier: 'worker',
        }),
      );
    }
  }
}

/** One queue's metric as the queue-health function publishes it. */
export function queueMetric(stage: string, queue: string, metricName: string, options: cloudwatch.MetricOptions = {}): cloudwatch.Metric {
  return new cloudwatch.Metric({ namespace: QUEUE_METRICS_NAMESPACE, metricName, dimensionsMap: { Stage: stage, Queue: queue }, statistic: 'Maximum', ...options });
}
