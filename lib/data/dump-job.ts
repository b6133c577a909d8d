import { CfnOutput, Duration, Fn, Stack, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as logs from 'aws-cdk-lib/aws-logs';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as targets from 'aws-cdk-lib/aws-scheduler-targets';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { DATABASE_ROLES } from '../../lambda/database-setup/roles';
import type { StageConfig } from '../config';
import { acknowledgeControl, acknowledgeControls } from '../shared/control-tower-checks';
import { type LogSettings, stageLogGroup } from '../shared/log-group';
import { stageResourceName } from '../shared/naming';
import { servicePrincipalOfThisAccount } from '../shared/service-trust';
import { DATABASE_PORT, type StageDatabase } from './database';
import { dumpJobImage } from './dump-job-image';
import { DUMP_CONTAINER, DUMP_ENV, DUMP_METRICS_NAMESPACE, DUMP_OUTPUTS, DUMP_PREFIX, DUMP_ROLE, type DumpCommand, dumpTaskFamily } from './logical-backup-names';

/** When the weekly restore check runs (`dumps.restoreCheck: weekly`): Saturday, after that night's dump. */
export const DUMP_CHECK_SCHEDULE = 'cron(0 6 ? * SAT *)';

/** The name of a stage's jobs cluster, where the dump tasks run. */
export function jobsClusterName(stage: string): string {
  return stageResourceName(stage, 'jobs');
}

type Dumps = StageConfig['dumps'];

/**
 * What a database restored from a dump must contain (VERIFY_EXPECTATIONS): what the restore
 * verifier holds a test restore of the snapshots to (`backup.verify`, the pgvector minimum, the
 * app's roles), so a dump and a snapshot are held to the same.
 */
export function dumpExpectations(config: StageConfig): string {
  return JSON.stringify({ minVectorVersion: config.database.pgvectorMinVersion, ...config.backup.verify, roles: [DATABASE_ROLES.app, DATABASE_ROLES.migrator] });
}

/** A bucket of dumps a task reads or writes: its name and the keys of its objects (ARNs; a pattern where the key lives in another stack). */
export interface DumpStore {
  readonly bucketName: string;
  /** The bucket's default key (raw dumps). */
  readonly keyArn: string;
  /** The key of the anonymised copies, where the stage makes them. */
  readonly anonymisedKeyArn?: string;
}

/** Where a stage restores another stage's anonymised copy from (`dumps.refreshFrom`). */
export interface RefreshSource {
  readonly bucketName: string;
  readonly account: string;
  readonly region: string;
}

export interface DumpTasksProps extends LogSettings {
  readonly vpc: ec2.IVpc;
  /** Where the tasks run: the private subnets (through NAT), or the pilot light's public ones with a public address (it has no NAT). */
  readonly subnets: ec2.SubnetSelection;
  readonly assignPublicIp: boolean;
  readonly stage: string;
  readonly dumps: Dumps;
  /** The database engine version: the image's PostgreSQL is of it. */
  readonly engineVersion: string;
  readonly store: DumpStore;
  readonly databaseName: string;
  /** What a restored database must contain (VERIFY_EXPECTATIONS), as JSON. */
  readonly expectations: string;
  /** The key a restored instance's master secret is encrypted with (the database key, or the DR backup key). */
  readonly masterSecretKeyArn: string;
}

/** The statements of a task role, as a managed policy (one per role, so the role has no inline policy). */
function rolePolicy(scope: Construct, id: string, role: iam.IRole, description: string, statements: iam.PolicyStatement[]): iam.ManagedPolicy {
  return new iam.ManagedPolicy(scope, id, { description, roles: [role], statements });
}

const via = (service: string, region: string) => ({ StringEquals: { 'kms:ViaService': `${service}.${region}.amazonaws.com` } });

/**
 * The cluster, log group, image and restore task every place that restores a dump has: the data
 * stack (where the nightly dump, its check and the anonymisation run too) and the pilot light in
 * the DR region. The restore task (`restore` into a new instance, `refresh` into the stage
 * database) logs in as the master user: its role may read the RDS-managed master secrets of the
 * stage's instances (`webapp-<stage>*`) and decrypt them through Secrets Manager.
 */
export class DumpTasks extends Construct {
  readonly cluster: ecs.Cluster;
  readonly securityGroup: ec2.SecurityGroup;
  readonly logGroup: logs.LogGroup;
  readonly image: ecs.ContainerImage;
  readonly restoreTask: ecs.FargateTaskDefinition;
  /** The restore task role's policy. */
  readonly restorePolicy: iam.ManagedPolicy;

  constructor(
    scope: Construct,
    id: string,
    readonly props: DumpTasksProps & { readonly refreshFrom?: RefreshSource },
  ) {
    super(scope, id);
    const { stage, vpc } = props;
    this.cluster = new ecs.Cluster(this, 'Cluster', { clusterName: jobsClusterName(stage), vpc, containerInsightsV2: ecs.ContainerInsights.ENABLED });
    this.securityGroup = new ec2.SecurityGroup(this, 'SecurityGroup', {
      vpc,
      description: `${stage} dump tasks: reach the database, S3 and the AWS APIs`,
      allowAllOutbound: false,
    });
    // HTTPS to S3, ECR, CloudWatch, KMS and Secrets Manager; PostgreSQL only to the database that admits the group.
    this.securityGroup.addEgressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(443), 'HTTPS to the AWS APIs and the image registry');
    this.logGroup = stageLogGroup(this, 'Logs', props);
    this.image = dumpJobImage(this, props.engineVersion);

    const { partition, region, account } = Stack.of(this);
    const { refreshFrom } = props;
    this.restoreTask = this.task('RestoreTask', 'restore', 'restore', {
      [DUMP_ENV.databasePort]: String(DATABASE_PORT),
      ...(refreshFrom ? { [DUMP_ENV.sourceBucket]: refreshFrom.bucketName } : {}),
    });
    const statements = [
      ...this.readDumps(['*']),
      new iam.PolicyStatement({
        sid: 'ReadTheMasterSecretOfTheStageInstances',
        actions: ['secretsmanager:GetSecretValue'],
        resources: [`arn:${partition}:secretsmanager:${region}:${account}:secret:rds!db-*`],
        conditions: { StringLike: { 'secretsmanager:ResourceTag/aws:rds:primaryDBInstanceArn': `arn:${partition}:rds:${region}:${account}:db:${stageResourceName(stage)}*` } },
      }),
      new iam.PolicyStatement({ sid: 'DecryptTheMasterSecret', actions: ['kms:Decrypt'], resources: [props.masterSecretKeyArn], conditions: via('secretsmanager', region) }),
    ];
    if (refreshFrom) {
      // The source stage's bucket and key policies admit this account for anonymised/ only; this
      // role asks for no more (the key's id is not known here: any key of that account, through
      // S3 of its region, for objects under anonymised/ of that bucket).
      const sourceObjects = `arn:${partition}:s3:::${refreshFrom.bucketName}/${DUMP_PREFIX.anonymised}*`;
      statements.push(
        new iam.PolicyStatement({
          sid: 'ListTheSourceAnonymisedCopies',
          actions: ['s3:ListBucket'],
          resources: [`arn:${partition}:s3:::${refreshFrom.bucketName}`],
          conditions: { StringLike: { 's3:prefix': `${DUMP_PREFIX.anonymised}*` } },
        }),
        new iam.PolicyStatement({ sid: 'ReadTheSourceAnonymisedCopies', actions: ['s3:GetObject'], resources: [sourceObjects] }),
        new iam.PolicyStatement({
          sid: 'DecryptTheSourceAnonymisedCopies',
          actions: ['kms:Decrypt'],
          resources: [`arn:${partition}:kms:${refreshFrom.region}:${refreshFrom.account}:key/*`],
          conditions: { StringEquals: { 'kms:ViaService': `s3.${refreshFrom.region}.amazonaws.com` }, StringLike: { 'kms:EncryptionContext:aws:s3:arn': sourceObjects } },
        }),
      );
    }
    const policy = rolePolicy(this, 'RestorePolicy', this.restoreTask.taskRole, `Restore a ${stage} dump into a database of the stage`, statements);
    this.restorePolicy = policy;
    this.acknowledgeWildcards(policy, [
      [
        `Resource::arn:${partition}:secretsmanager:${region}:${account}:secret:rds!db-*`,
        `RDS names each managed master secret rds!db-<uuid>; the condition holds the role to the secrets of the ${stage} instances.`,
      ],
      ...(refreshFrom
        ? ([
            [
              `Resource::arn:${partition}:s3:::${refreshFrom.bucketName}/${DUMP_PREFIX.anonymised}*`,
              'The refresh reads the newest anonymised copy, whose key is chosen at run time; only that prefix of the source bucket.',
            ],
            [
              `Resource::arn:${partition}:kms:${refreshFrom.region}:${refreshFrom.account}:key/*`,
              "The source stage's anonymised key lives in its account, whose key id this stage does not know; the condition holds the grant to S3 decrypting objects under anonymised/ of that bucket.",
            ],
          ] as [string, string][])
        : []),
    ]);
    Validations.of(this.restoreTask.node.defaultChild!).acknowledge({
      id: 'AwsSolutions-ECS2',
      reason:
        'The environment holds plain settings (bucket, database name, stage, what a restore must contain); the master secret is read by its ARN at run time, never placed in the environment.',
    });
  }

  /**
   * A task definition of the job's one container: its family, the command it runs unless the
   * caller overrides it, and the environment every command reads. Ephemeral storage for the
   * commands that unpack a dump into a PostgreSQL of their own.
   */
  task(
    id: string,
    family: 'dump' | 'anonymise' | 'restore',
    command: DumpCommand,
    environment: Record<string, string>,
    secrets?: Record<string, ecs.Secret>,
  ): ecs.FargateTaskDefinition {
    const { dumps, stage } = this.props;
    const definition = new ecs.FargateTaskDefinition(this, id, {
      family: dumpTaskFamily(stage, family),
      cpu: dumps.cpu,
      memoryLimitMiB: dumps.memoryMiB,
      ephemeralStorageGiB: dumps.storageGiB,
      runtimePlatform: { cpuArchitecture: ecs.CpuArchitecture.ARM64, operatingSystemFamily: ecs.OperatingSystemFamily.LINUX },
    });
    definition.addContainer(DUMP_CONTAINER, {
      image: this.image,
      command: [command],
      // The image's unprivileged user (lambda/logical-backup/Dockerfile): PostgreSQL refuses to run its server as root.
      user: 'postgres',
      environment: {
        [DUMP_ENV.stage]: stage,
        [DUMP_ENV.bucket]: this.props.store.bucketName,
        [DUMP_ENV.databaseName]: this.props.databaseName,
        [DUMP_ENV.expectations]: this.props.expectations,
        ...environment,
      },
      secrets,
      logging: ecs.LogDrivers.awsLogs({ logGroup: this.logGroup, streamPrefix: family, mode: ecs.AwsLogDriverMode.NON_BLOCKING }),
    });
    acknowledgeControls(definition, {
      ecs_task_definition_memory_hard_limit_check: 'On Fargate the task size is the hard memory limit of its one container.',
      ecs_containers_readonly_access_check:
        "The job unpacks dumps into a PostgreSQL of its own (initdb, pg_ctl), whose data directory and sockets are on the task's root filesystem.",
    });
    Validations.of(definition.node.defaultChild!).acknowledge({
      id: 'AwsSolutions-ECS2',
      reason:
        'The environment holds plain settings (bucket, database host and name, stage, rules); the salt comes through `secrets` from Secrets Manager and the restore reads the master secret at run time.',
    });
    const execution = definition.obtainExecutionRole().node.tryFindChild('DefaultPolicy');
    if (execution) {
      Validations.of(execution).acknowledge({
        id: 'AwsSolutions-IAM5[Resource::*]',
        reason:
          'ecr:GetAuthorizationToken, which the execution role needs to pull the image, has no resource-level permissions; every other statement names the repository, log group or secret.',
      });
      Validations.of(execution).acknowledge({
        id: 'NIST.800.53.R5-IAMNoInlinePolicy',
        reason: 'CDK writes the execution role grants (pull this image, write this log group, read the salt secret) as its inline default policy.',
      });
    }
    return definition;
  }

  /** Read (and list) the dumps under `prefixes` of this stage's bucket, decrypting with its keys through S3. */
  readDumps(prefixes: readonly string[]): iam.PolicyStatement[] {
    const { store } = this.props;
    const { partition, region } = Stack.of(this);
    const bucketArn = `arn:${partition}:s3:::${store.bucketName}`;
    const every = prefixes.includes('*');
    return [
      new iam.PolicyStatement({
        sid: 'ListDumps',
        actions: ['s3:ListBucket'],
        resources: [bucketArn],
        ...(every ? {} : { conditions: { StringLike: { 's3:prefix': prefixes.map((p) => `${p}*`) } } }),
      }),
      new iam.PolicyStatement({ sid: 'ReadDumps', actions: ['s3:GetObject'], resources: prefixes.map((p) => `${bucketArn}/${p === '*' ? '' : p}*`) }),
      // S3 asks KMS with the object's ARN as encryption context (the buckets have no S3 bucket key).
      new iam.PolicyStatement({
        sid: 'DecryptDumps',
        actions: ['kms:Decrypt'],
        resources: [
          ...(every || prefixes.includes(DUMP_PREFIX.raw) ? [store.keyArn] : []),
          ...(store.anonymisedKeyArn && (every || prefixes.includes(DUMP_PREFIX.anonymised)) ? [store.anonymisedKeyArn] : []),
        ],
        conditions: { ...via('s3', region), StringLike: { 'kms:EncryptionContext:aws:s3:arn': prefixes.map((p) => `${bucketArn}/${p === '*' ? '' : p}*`) } },
      }),
    ];
  }

  /** Acknowledges cdk-nag's wildcard findings on a task policy, each with its reason. */
  acknowledgeWildcards(policy: iam.ManagedPolicy, findings: readonly (readonly [string, string])[]): void {
    const { partition } = Stack.of(this);
    const bucketArn = `arn:${partition}:s3:::${this.props.store.bucketName}`;
    const own: [string, string][] = [
      [`Resource::${bucketArn}/*`, 'A restore reads the dump the operator names (raw/ or anonymised/), chosen at run time; only this stage bucket.'],
      [`Resource::${bucketArn}/${DUMP_PREFIX.raw}*`, 'Each dump is a new object named by its time; only the raw/ prefix of this stage bucket.'],
      [`Resource::${bucketArn}/${DUMP_PREFIX.anonymised}*`, 'Each anonymised copy is a new object named by its time; only the anonymised/ prefix of this stage bucket.'],
    ];
    for (const [finding, reason] of [...own, ...findings]) Validations.of(policy).acknowledge({ id: `AwsSolutions-IAM5[${finding}]`, reason });
  }

  /** The operator commands' way to the restore task (`npm run restore -- --from-dump`, `npm run refresh-staging`). */
  outputs(scope: Construct, bucketName: string): void {
    const { subnets, assignPublicIp, vpc } = this.props;
    const output = (name: string, value: string, description: string) => new CfnOutput(scope, name, { value, description });
    output(DUMP_OUTPUTS.bucket, bucketName, 'Bucket of the database dumps');
    output(DUMP_OUTPUTS.cluster, this.cluster.clusterName, 'Cluster the dump and restore tasks run in');
    output(DUMP_OUTPUTS.restoreTask, this.restoreTask.taskDefinitionArn, 'Task definition that restores a dump into a database');
    output(DUMP_OUTPUTS.subnets, Fn.join(',', vpc.selectSubnets(subnets).subnetIds), 'Subnets the restore task runs in, comma-separated');
    output(DUMP_OUTPUTS.securityGroup, this.securityGroup.securityGroupId, 'Security group of the dump tasks (the database admits it)');
    output(DUMP_OUTPUTS.publicIp, assignPublicIp ? 'ENABLED' : 'DISABLED', 'Whether the restore task needs a public address to reach the AWS APIs');
  }
}

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
 * `dump-stale` alarm (no dump in 26 hours) or the check's missing result.
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
    };
    const { region } = Stack.of(this);
    const publishMetrics = new iam.PolicyStatement({
      sid: 'PublishDumpMetrics',
      actions: ['cloudwatch:PutMetricData'],
      resources: ['*'],
      conditions: { StringEquals: { 'cloudwatch:namespace': DUMP_METRICS_NAMESPACE } },
    });
    const metricsReason: [string, string] = [
      'Resource::*',
      `cloudwatch:PutMetricData has no resource-level permissions; the condition holds it to the ${DUMP_METRICS_NAMESPACE} namespace.`,
    ];

    // The nightly dump and the weekly check share a definition: the check is the command override.
    this.dumpTask = tasks.task('DumpTask', 'dump', 'dump', databaseEnv);
    this.dumpTask.taskRole.addManagedPolicy(database.connectPolicy(DUMP_ROLE));
    const dumpPolicy = rolePolicy(this, 'DumpPolicy', this.dumpTask.taskRole, `Write the ${stage} dumps and check the newest`, [
      ...tasks.readDumps([DUMP_PREFIX.raw]),
      new iam.PolicyStatement({
        sid: 'WriteDumps',
        actions: ['s3:PutObject', 's3:AbortMultipartUpload'],
        resources: [`arn:${Stack.of(this).partition}:s3:::${store.bucketName}/${DUMP_PREFIX.raw}*`],
      }),
      new iam.PolicyStatement({ sid: 'EncryptDumps', actions: ['kms:GenerateDataKey'], resources: [store.keyArn], conditions: via('s3', region) }),
      publishMetrics,
    ]);
    tasks.acknowledgeWildcards(dumpPolicy, [metricsReason]);

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
