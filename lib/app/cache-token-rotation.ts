import { type CfnElement, Duration, Stack } from 'aws-cdk-lib';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import type * as ecs from 'aws-cdk-lib/aws-ecs';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import type { Cache } from '../data/cache';
import { httpsOnlySecurityGroup } from '../shared/https-only-group';
import { type LogSettings, logSettings } from '../shared/log-group';
import { handlerEntry } from '../shared/paths';
import { ProjectFunction } from '../shared/project-function';

/**
 * When Secrets Manager rotates the cache's AUTH token: the first Sunday of each month, in a window
 * from 06:00 to 08:00 UTC, the hour after the cache's maintenance window (CACHE_MAINTENANCE_WINDOW,
 * Sunday 04:30-05:30), when traffic is low. A rotation restarts web and worker (blue/green with
 * its smoke test, jobs drained); `rate(30 days)` would leave the hour to Secrets Manager.
 * Secrets Manager's cron (user guide, "Rotation schedules",
 * https://docs.aws.amazon.com/secretsmanager/latest/userguide/rotate-secrets_schedule.html): the
 * minutes must be 0 (windows open on the hour), the year `*`, day-of-week takes `#` (SUN#1, the
 * first Sunday) with `?` for day-of-month, rotations are at least four hours apart, and the window
 * (`Duration`, in hours) must not run into the next UTC day.
 */
export const TOKEN_ROTATION = { scheduleExpression: 'cron(0 6 ? * SUN#1 *)', duration: '2h' } as const;
/** How often the settle step looks for tasks that still hold the old token. */
export const SETTLE_EVERY = Duration.minutes(15);

export interface CacheTokenRotationProps extends LogSettings {
  readonly vpc: ec2.IVpc;
  readonly stage: string;
  /** The replication group, its AUTH token secret and its security group. */
  readonly cache: Cache;
  readonly cluster: ecs.ICluster;
  /** The services whose tasks get the token at start: web and worker. */
  readonly services: readonly ecs.FargateService[];
}

/**
 * Rotates the cache's AUTH token on a schedule, without replacing the replication group
 * (CloudFormation would: it has no AuthTokenUpdateStrategy, and Secrets Manager has no managed
 * rotation for an ElastiCache token). Secrets Manager calls the function with its four rotation
 * steps (new token, ElastiCache ROTATE so both tokens work, AUTH test, AWSCURRENT moves); every 15
 * minutes the function's settle step restarts the web and worker services whose tasks started
 * before the rotation (ECS injects secrets at task start only) and, once none is left, SETs the
 * current token so the old one stops working. lambda/cache-token-rotation/ has the logic.
 *
 * It lives in the app stack because it restarts the app's services; the secret and the group are
 * the data stack's. The function runs in the VPC: it AUTHs against the group over TLS.
 */
export class CacheTokenRotation extends Construct {
  readonly function: ProjectFunction;
  readonly schedule: secretsmanager.CfnRotationSchedule;

  constructor(scope: Construct, id: string, props: CacheTokenRotationProps) {
    super(scope, id);
    const { region, account, partition } = Stack.of(this);
    const { cache } = props;
    const secretArn = cache.authToken.secretArn;

    const securityGroup = httpsOnlySecurityGroup(this, 'SecurityGroup', {
      vpc: props.vpc,
      description: 'Cache AUTH token rotation: HTTPS to the Secrets Manager, ElastiCache and ECS APIs, and the cache',
      httpsTo: 'HTTPS to the Secrets Manager, ElastiCache and ECS APIs',
    });
    this.function = new ProjectFunction(this, 'Handler', {
      entry: handlerEntry('cache-token-rotation'),
      handler: 'handler',
      description: `Rotates the ${props.stage} cache AUTH token and restarts the services onto it`,
      vpc: props.vpc,
      securityGroups: [securityGroup],
      // setSecret waits for ElastiCache to apply ROTATE (minutes).
      timeout: Duration.minutes(15),
      environment: {
        STAGE: props.stage,
        SECRET_ARN: secretArn,
        REPLICATION_GROUP_ID: cache.replicationGroup.ref,
        CACHE_HOST: cache.endpointAddress,
        CACHE_PORT: String(cache.port),
        CLUSTER: props.cluster.clusterName,
        SERVICES: props.services.map((s) => s.serviceName).join(','),
      },
      ...logSettings(props),
    });
    const fn = this.function.fn;
    // Written into this stack, which depends on the data stack (allowFrom would write it there: a cycle).
    securityGroup.connections.allowToDefaultPort(cache, 'AUTH token rotation tests tokens');

    const replicationGroupArn = `arn:${partition}:elasticache:${region}:${account}:replicationgroup:${cache.replicationGroup.ref}`;
    const statements = [
      new iam.PolicyStatement({
        sid: 'RotateTheToken',
        actions: ['secretsmanager:DescribeSecret', 'secretsmanager:GetSecretValue', 'secretsmanager:PutSecretValue', 'secretsmanager:UpdateSecretVersionStage'],
        resources: [secretArn],
      }),
      new iam.PolicyStatement({ sid: 'GenerateTokens', actions: ['secretsmanager:GetRandomPassword'], resources: ['*'] }),
      new iam.PolicyStatement({
        sid: 'ThroughTheCacheKey',
        actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
        resources: [cache.authToken.encryptionKey!.keyArn],
        conditions: { StringEquals: { 'kms:ViaService': `secretsmanager.${region}.amazonaws.com` } },
      }),
      new iam.PolicyStatement({
        sid: 'ChangeTheGroupsToken',
        actions: ['elasticache:DescribeReplicationGroups', 'elasticache:ModifyReplicationGroup'],
        resources: [replicationGroupArn],
      }),
      new iam.PolicyStatement({ sid: 'RestartTheServices', actions: ['ecs:DescribeServices', 'ecs:UpdateService'], resources: props.services.map((s) => s.serviceArn) }),
      new iam.PolicyStatement({
        sid: 'ListTheirTasks',
        actions: ['ecs:ListTasks'],
        resources: ['*'],
        conditions: { ArnEquals: { 'ecs:cluster': props.cluster.clusterArn } },
      }),
      new iam.PolicyStatement({
        sid: 'ReadTheirTasks',
        actions: ['ecs:DescribeTasks'],
        resources: [`arn:${partition}:ecs:${region}:${account}:task/${props.cluster.clusterName}/*`],
      }),
    ];
    for (const statement of statements) fn.addToRolePolicy(statement);

    // Only Secrets Manager in this account may run the rotation steps.
    fn.addPermission('SecretsManagerRotates', { principal: new iam.ServicePrincipal('secretsmanager.amazonaws.com'), sourceAccount: account });
    this.schedule = new secretsmanager.CfnRotationSchedule(this, 'Schedule', {
      secretId: secretArn,
      rotationLambdaArn: fn.functionArn,
      rotationRules: { scheduleExpression: TOKEN_ROTATION.scheduleExpression, duration: TOKEN_ROTATION.duration },
      // A rotation restarts the services: never as a side effect of a deploy.
      rotateImmediatelyOnUpdate: false,
    });
    // Creating the schedule, Secrets Manager checks that it may invoke the function and runs its
    // testSecret step, which AUTHs against the cache: the permission and the path there come first.
    this.schedule.node.addDependency(fn.node.findChild('SecretsManagerRotates'), securityGroup);

    new events.Rule(this, 'Settle', {
      description: `Restarts ${props.stage} services still on the previous cache AUTH token, then drops that token`,
      schedule: events.Schedule.rate(SETTLE_EVERY),
      // The next run comes in 15 minutes; retrying sooner adds nothing.
      targets: [new targets.LambdaFunction(fn, { event: events.RuleTargetInput.fromObject({ action: 'settle' }), retryAttempts: 0 })],
    });

    const clusterId = `<${Stack.of(this).getLogicalId(props.cluster.node.defaultChild as CfnElement)}>`;
    this.function.acknowledgeWildcards({
      '*': 'secretsmanager:GetRandomPassword has no resource-level permissions, and ecs:ListTasks is limited to the stage cluster by the ecs:cluster condition.',
      [`arn:aws:ecs:${region}:${account}:task/${clusterId}/*`]:
        'The tasks of the stage cluster are read (never changed) to find those started before the rotation; task ids are not known in advance.',
    });
  }
}
