import { Duration, Stack, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as targets from 'aws-cdk-lib/aws-scheduler-targets';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { acknowledgeControl } from '../shared/control-tower-checks';
import { publishMetricsReason, publishMetricsStatement } from '../shared/metric-publishing';
import { stageResourceName } from '../shared/naming';
import { servicePrincipalOfThisAccount } from '../shared/service-trust';
import type { StageDatabase } from './database';
import { DumpTasks, type DumpTasksProps, type RefreshSource, rolePolicy, via } from './dump-tasks';
import { DUMP_CONTAINER, DUMP_DEADLINE_FACTOR, DUMP_ENV, DUMP_METRICS_NAMESPACE, DUMP_PREFIX, DUMP_ROLE, type DumpCommand } from './logical-backup-names';

/** When the weekly restore check runs (`dumps.restoreCheck: weekly`): Saturday, after that night's dump. */
export const DUMP_CHECK_SCHEDULE = 'cron(0 6 ? * SAT *)';

export interface DumpJobProps extends Omit<DumpTasksProps, 'subnets' | 'assignPublicIp' | 'masterSecretKeyArn'> {
  /** The stage database: the tasks' security group is admitted to it, and the dump logs in as `webapp_dump`; its key encrypts the master secret. */
  readonly database: StageDatabase;
  /** Encrypts the anonymisation's salt (the raw dumps' key: the salt is as secret as they are). */
  readonly saltKey?: kms.IKey;
  readonly refreshFrom?: RefreshSource;
}

/**
 * The stage's logical backup (`dumps`): the nightly `pg_dump` as the read-only `webapp_dump` role
 * into the dump bucket's raw/, the weekly restore check of the newest dump inside a task, in a
 * stage that anonymises for another the weekly anonymised copy, and the restore task. EventBridge
 * Scheduler starts each task (ECS RunTask through its universal target, which passes the command
 * as a container override), retrying a start that failed; a start that never happens shows as the
 * age of the newest object under its prefix (lib/ops/dump-age.ts: `dump-stale`, `dump-check-stale`,
 * `anonymise-stale`).
 */
export class DumpJob extends Construct {
  readonly tasks: DumpTasks;
  readonly dumpTask: ecs.FargateTaskDefinition;
  readonly anonymiseTask?: ecs.FargateTaskDefinition;
  /** The salt of the anonymisation's keyed hashes. */
  readonly salt?: secretsmanager.Secret;
  /** The role EventBridge Scheduler starts the tasks with (each schedule adds its RunTask and PassRole). */
  private readonly scheduleRole: iam.Role;

  constructor(scope: Construct, id: string, props: DumpJobProps) {
    super(scope, id);
    const { stage, dumps, store, database } = props;
    const subnets = { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS };
    this.tasks = new DumpTasks(this, 'Tasks', { ...props, subnets, assignPublicIp: false, masterSecretKeyArn: database.key.keyArn });
    const { tasks } = this;
    this.scheduleRole = new iam.Role(this, 'ScheduleRole', {
      description: `EventBridge Scheduler starts the ${stage} dump tasks`,
      assumedBy: servicePrincipalOfThisAccount(this, 'scheduler.amazonaws.com'),
    });
    database.connections.allowDefaultPortFrom(tasks.securityGroup, `${stage} dump tasks`);
    const databaseEnv = {
      [DUMP_ENV.databaseHost]: database.instance.dbInstanceEndpointAddress,
      [DUMP_ENV.databasePort]: String(database.port),
      [DUMP_ENV.databaseUser]: DUMP_ROLE,
      [DUMP_ENV.deadlineMinutes]: String(dumps.maxMinutes * DUMP_DEADLINE_FACTOR),
    };
    const { region } = Stack.of(this);
    const publishMetrics = publishMetricsStatement('PublishDumpMetrics', DUMP_METRICS_NAMESPACE);
    const metricsReason: [string, string] = ['Resource::*', publishMetricsReason(DUMP_METRICS_NAMESPACE)];

    // The nightly dump and the weekly check share a definition: the check is the command override.
    this.dumpTask = tasks.task('DumpTask', 'dump', 'dump', databaseEnv);
    this.dumpTask.taskRole.addManagedPolicy(database.connectPolicy(DUMP_ROLE));
    const checks = dumps.restoreCheck === 'weekly';
    const checkMarkers = `arn:${Stack.of(this).partition}:s3:::${store.bucketName}/${DUMP_PREFIX.checks}*`;
    const dumpPolicy = rolePolicy(this, 'DumpPolicy', this.dumpTask.taskRole, `Write the ${stage} dumps and check the newest`, [
      ...tasks.readDumps([DUMP_PREFIX.raw]),
      new iam.PolicyStatement({
        sid: 'WriteDumps',
        actions: ['s3:PutObject', 's3:AbortMultipartUpload'],
        resources: [`arn:${Stack.of(this).partition}:s3:::${store.bucketName}/${DUMP_PREFIX.raw}*`],
      }),
      // A check that passed records it (lambda/logical-backup writeCheckMarker); the age of the
      // newest marker is what dump-check-stale watches.
      ...(checks ? [new iam.PolicyStatement({ sid: 'WriteCheckMarkers', actions: ['s3:PutObject'], resources: [checkMarkers] })] : []),
      new iam.PolicyStatement({ sid: 'EncryptDumps', actions: ['kms:GenerateDataKey'], resources: [store.keyArn], conditions: via('s3', region) }),
      publishMetrics,
    ]);
    tasks.acknowledgeWildcards(dumpPolicy, [
      metricsReason,
      ...(checks
        ? [[`Resource::${checkMarkers}`, 'Each passed restore check writes a new marker named by its time; only the checks/ prefix of this stage bucket.'] as [string, string]]
        : []),
    ]);

    const schedule = (scheduleId: string, command: DumpCommand, task: ecs.FargateTaskDefinition, expression: string, description: string) =>
      this.schedule(scheduleId, command, task, expression, description, subnets);
    schedule('DumpSchedule', 'dump', this.dumpTask, dumps.schedule, `Nightly pg_dump of the ${stage} database`);
    if (dumps.restoreCheck === 'weekly') schedule('CheckSchedule', 'check', this.dumpTask, DUMP_CHECK_SCHEDULE, `Weekly restore check of the newest ${stage} dump`);

    const { anonymised } = dumps;
    if (anonymised && store.anonymisedKeyArn && props.saltKey) {
      this.salt = new secretsmanager.Secret(this, 'Salt', {
        description: `${stage}: the salt of the anonymised copies' keyed hashes (fake emails, names, hashes)`,
        encryptionKey: props.saltKey,
        generateSecretString: { passwordLength: 64, excludePunctuation: true },
      });
      const stable =
        'The salt keeps the fake values of a person the same from one anonymised copy to the next (a staging account keeps its fake email); rotating it would only change them. It never leaves the anonymisation task.';
      for (const finding of ['AwsSolutions-SMG4', 'NIST.800.53.R5-SecretsManagerRotationEnabled'])
        Validations.of(this.salt.node.defaultChild!).acknowledge({ id: finding, reason: stable });
      acknowledgeControl(this.salt, 'secretsmanager_rotation_enabled_check', stable);
      this.anonymiseTask = tasks.task(
        'AnonymiseTask',
        'anonymise',
        'anonymise',
        { [DUMP_ENV.rules]: JSON.stringify(anonymised.rules), [DUMP_ENV.reservedDomain]: anonymised.reservedDomain, [DUMP_ENV.anonymisedKey]: store.anonymisedKeyArn },
        { [DUMP_ENV.salt]: ecs.Secret.fromSecretsManager(this.salt) },
      );
      const anonymisePolicy = rolePolicy(this, 'AnonymisePolicy', this.anonymiseTask.taskRole, `Anonymise the newest ${stage} dump for ${anonymised.readerStage}`, [
        ...tasks.readDumps([DUMP_PREFIX.raw, DUMP_PREFIX.anonymised]),
        new iam.PolicyStatement({
          sid: 'WriteAnonymisedCopies',
          actions: ['s3:PutObject', 's3:AbortMultipartUpload'],
          resources: [`arn:${Stack.of(this).partition}:s3:::${store.bucketName}/${DUMP_PREFIX.anonymised}*`],
        }),
        new iam.PolicyStatement({ sid: 'EncryptAnonymisedCopies', actions: ['kms:GenerateDataKey'], resources: [store.anonymisedKeyArn], conditions: via('s3', region) }),
        publishMetrics,
      ]);
      tasks.acknowledgeWildcards(anonymisePolicy, [metricsReason]);
      schedule('AnonymiseSchedule', 'anonymise', this.anonymiseTask, anonymised.schedule, `Weekly anonymised copy of the newest ${stage} dump for ${anonymised.readerStage}`);
    }
    Validations.of(this.scheduleRole).acknowledge({
      id: 'NIST.800.53.R5-IAMNoInlinePolicy',
      reason: "The schedules' targets write their grants (RunTask of their task family in the jobs cluster, PassRole of its two roles to ECS) as the role's inline default policy.",
    });
    tasks.outputs(scope, store.bucketName);
  }

  /**
   * A schedule that runs `task` with `command` in the jobs cluster: EventBridge Scheduler's
   * universal target (ECS RunTask's own request, so the command is a container override), retried
   * for an hour when the start fails (capacity, throttling).
   */
  private schedule(id: string, command: DumpCommand, task: ecs.FargateTaskDefinition, expression: string, description: string, subnets: ec2.SubnetSelection): scheduler.Schedule {
    const { cluster, securityGroup } = this.tasks;
    const { partition, region, account } = Stack.of(this);
    const target = new targets.Universal({
      service: 'ecs',
      action: 'runTask',
      input: scheduler.ScheduleTargetInput.fromObject({
        Cluster: cluster.clusterArn,
        TaskDefinition: task.family,
        LaunchType: 'FARGATE',
        NetworkConfiguration: {
          AwsvpcConfiguration: { Subnets: cluster.vpc.selectSubnets(subnets).subnetIds, SecurityGroups: [securityGroup.securityGroupId], AssignPublicIp: 'DISABLED' },
        },
        Overrides: { ContainerOverrides: [{ Name: DUMP_CONTAINER, Command: [command] }] },
        StartedBy: `schedule/${command}`,
      }),
      role: this.scheduleRole,
      retryAttempts: 5,
      maxEventAge: Duration.hours(1),
      policyStatements: [
        new iam.PolicyStatement({
          actions: ['ecs:RunTask'],
          resources: [`arn:${partition}:ecs:${region}:${account}:task-definition/${task.family}:*`],
          conditions: { ArnEquals: { 'ecs:cluster': cluster.clusterArn } },
        }),
        new iam.PolicyStatement({
          actions: ['iam:PassRole'],
          resources: [task.taskRole.roleArn, task.obtainExecutionRole().roleArn],
          conditions: { StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } },
        }),
      ],
    });
    Validations.of(this.scheduleRole).acknowledge({
      id: `AwsSolutions-IAM5[Resource::arn:${partition}:ecs:${region}:${account}:task-definition/${task.family}:*]`,
      reason: 'The schedule starts the latest revision of its one task family; each deploy that changes the task registers a new revision number.',
    });
    const created = new scheduler.Schedule(this, id, {
      scheduleName: stageResourceName(this.tasks.props.stage, command),
      description,
      schedule: scheduler.ScheduleExpression.expression(expression),
      target,
    });
    return created;
  }
}
