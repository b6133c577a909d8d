import { CfnOutput, Fn, Stack, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { acknowledgeControls } from '../shared/control-tower-checks';
import { type LogSettings, stageLogGroup } from '../shared/log-group';
import { stageResourceName } from '../shared/naming';
import { DATABASE_PORT } from './database';
import { dumpJobImage } from './dump-job-image';
import { DUMP_CONTAINER, DUMP_ENV, DUMP_OUTPUTS, DUMP_PREFIX, type DumpCommand, dumpTaskFamily } from './logical-backup-names';

/** The name of a stage's jobs cluster, where the dump tasks run. */
export function jobsClusterName(stage: string): string {
  return stageResourceName(stage, 'jobs');
}

/** The `dumps` settings the tasks read (lib/config/schema/dumps.ts). */
export interface DumpSettings {
  readonly schedule: string;
  /** Minutes a dump should take at most (the slow-dump alarm); it is stopped after DUMP_DEADLINE_FACTOR times that. */
  readonly maxMinutes: number;
  readonly restoreCheck: 'off' | 'weekly';
  readonly cpu: number;
  readonly memoryMiB: number;
  readonly storageGiB: number;
  readonly anonymised?: {
    readonly readerStage: string;
    readonly schedule: string;
    readonly reservedDomain: string;
    readonly rules: Readonly<Record<string, Readonly<Record<string, string>>>>;
  };
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
  readonly dumps: DumpSettings;
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
export function rolePolicy(scope: Construct, id: string, role: iam.IRole, description: string, statements: iam.PolicyStatement[]): iam.ManagedPolicy {
  return new iam.ManagedPolicy(scope, id, { description, roles: [role], statements });
}

export const via = (service: string, region: string) => ({ StringEquals: { 'kms:ViaService': `${service}.${region}.amazonaws.com` } });

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
      // S3 of its region, for objects under anonymised/ of that bucket). It reads the object the
      // command names and lists nothing (the command lists, with the operator's credentials).
      const sourceObjects = `arn:${partition}:s3:::${refreshFrom.bucketName}/${DUMP_PREFIX.anonymised}*`;
      statements.push(
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
