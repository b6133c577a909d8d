import { Duration, Stack } from 'aws-cdk-lib';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { WATCHED, type Watched } from '../../lambda/dump-age/age';
import { DUMP_METRICS_NAMESPACE, dumpBucketName } from '../data/logical-backup-names';
import { httpsOnlySecurityGroup } from '../shared/https-only-group';
import { type LogSettings, logSettings } from '../shared/log-group';
import { handlerEntry } from '../shared/paths';
import { ProjectFunction } from '../shared/project-function';

export interface DumpAgeProps extends LogSettings {
  readonly stage: string;
  /** The stage's VPC: the function runs in its private subnets, like every project function. */
  readonly vpc: ec2.IVpc;
  /** What the stage runs: the nightly dump always, the weekly check and the anonymised copy where configured. */
  readonly watched: readonly Watched[];
}

/** Every hour, ten minutes past: an age alarm sees a fresh value in each of its hourly periods. */
export const DUMP_AGE_SCHEDULE = 'cron(10 * * * ? *)';

/**
 * Defines the hourly age check of the stage's logical backup (lambda/dump-age): it reads the time
 * in the newest key under `raw/`, `checks/` (where the restore check runs) and `anonymised/`
 * (where the stage makes the copy) of the stage's dump bucket, and publishes the hours since each
 * (`HoursSinceDump`, `HoursSinceCheck`, `HoursSinceAnonymised`) for the stale alarms of
 * lib/ops/data-alarms.ts. The bucket holds each job's last result for as long as the dumps are
 * kept, so a weekly job's age is known at any time, which a metric the job itself publishes is not
 * (CloudWatch evaluates at most 7 days back). It may list only those prefixes of that bucket, and
 * read nothing.
 */
export class DumpAge extends Construct {
  readonly checker: ProjectFunction;

  constructor(scope: Construct, id: string, props: DumpAgeProps) {
    super(scope, id);
    const { stage, watched } = props;
    const { partition, account, region } = Stack.of(this);
    // By name (the data stack's bucket in this account and region): no export ties the stacks.
    const bucket = dumpBucketName(stage, account, region);

    const group = httpsOnlySecurityGroup(this, 'SecurityGroup', {
      vpc: props.vpc,
      description: 'Dump age check: HTTPS to the S3 and CloudWatch APIs only',
      httpsTo: 'HTTPS to the S3 and CloudWatch APIs',
    });
    this.checker = new ProjectFunction(this, 'Handler', {
      entry: handlerEntry('dump-age'),
      handler: 'handler',
      description: `Publishes the hours since the newest dump, restore check and anonymised copy of the ${stage} stage`,
      vpc: props.vpc,
      securityGroups: [group],
      timeout: Duration.minutes(1),
      memorySize: 128,
      environment: { STAGE: stage, DUMP_BUCKET: bucket, WATCHED: watched.join(',') },
      ...logSettings(props),
    });
    this.checker.fn.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'ListTheWatchedPrefixes',
        actions: ['s3:ListBucket'],
        resources: [`arn:${partition}:s3:::${bucket}`],
        conditions: { StringEquals: { 's3:prefix': watched.map((w) => WATCHED[w].prefix) } },
      }),
    );
    this.checker.publishesMetrics('PublishTheDumpAges', DUMP_METRICS_NAMESPACE);

    new events.Rule(this, 'Hourly', {
      description: `Publishes the age of the newest dump, restore check and anonymised copy of ${stage}`,
      schedule: events.Schedule.expression(DUMP_AGE_SCHEDULE),
      targets: [new targets.LambdaFunction(this.checker.fn, { retryAttempts: 2 })],
    });
  }
}
