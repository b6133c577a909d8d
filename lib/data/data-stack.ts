import { CfnOutput, RemovalPolicy } from 'aws-cdk-lib';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as rds from 'aws-cdk-lib/aws-rds';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type { Construct } from 'constructs';
import { DATABASE_ROLES } from '../../lambda/database-setup/roles';
import type { DeployOptions, StageConfig } from '../config';
import type { DrTier } from '../dr/dr-stack';
import type { NetworkTier } from '../network/network-stack';
import { stageResourceName } from '../shared/naming';
import { ServiceKey } from '../shared/service-key';
import { StageStack, type StageStackProps } from '../shared/stage-stack';
import { Cache } from './cache';
import { CacheEvents } from './cache-events';
import { DATABASE_NAME, Database, type StageDatabase } from './database';
import { DatabaseBackup } from './database-backup';
import { DatabaseSetup, type DatabaseSetupProps } from './database-setup';
import { DatabaseShell } from './database-shell';
import { DumpBucket } from './dump-bucket';
import { DumpJob } from './dump-job';
import { dumpBucketName } from './logical-backup-names';
import { RestoreTesting } from './restore-testing';
import { type UploadsAccess, UploadsBucket } from './uploads-bucket';

export interface DataStackProps extends StageStackProps {
  readonly network: NetworkTier;
  /** The stage's ticket topic, where the cache's events are forwarded. */
  readonly alarmTopic: sns.ITopic;
  /** The stage's DR-region tier: the uploads replica, and the backup key and vault that receive copies, as configured. */
  readonly dr?: DrTier;
  /** The switches of this deploy (-c rerunDatabaseSetup). */
  readonly deploy: DeployOptions;
}

/**
 * What the app's tasks use of a data tier (ReleaseTasks): the database, the cache and the uploads.
 * The primary's data stack provides it, and so does the DR app tier with the database restored
 * there, its own cache and the uploads replica.
 */
export interface TaskData {
  readonly database: StageDatabase;
  readonly cache: Cache;
  readonly uploads: UploadsAccess;
}

/** What the app and operations tiers use of the data tier; they take this, not the stack. */
export interface DataTier extends TaskData {
  /** The uploads bucket, and the bucket the load balancer writes its access logs to. */
  readonly uploads: UploadsBucket;
  /** The keys every snapshot and recovery point is encrypted with (the database and backup keys), protected by the break-glass role. */
  readonly protectedKeys: readonly kms.IKey[];
}

/**
 * What the database setup checks, from the stage config and this deploy's switches: one reading
 * for the data stack and the DR app tier, so a restored database is held to the same pgvector
 * minimum and roles as the stage's.
 */
export function databaseSetupSettings(config: StageConfig, deploy: DeployOptions): Pick<DatabaseSetupProps, 'databaseName' | 'engineVersion' | 'minVersion' | 'runId'> {
  return { databaseName: DATABASE_NAME, engineVersion: config.database.engineVersion, minVersion: config.database.pgvectorMinVersion, runId: deploy.rerunDatabaseSetup };
}

/**
 * What a database restored from a dump must contain (VERIFY_EXPECTATIONS): what the restore
 * verifier holds a test restore of the snapshots to (`backup.verify`, the pgvector minimum, the
 * app's roles), so a dump and a snapshot are held to the same.
 */
export function dumpExpectations(config: StageConfig): string {
  return JSON.stringify({ minVectorVersion: config.database.pgvectorMinVersion, ...config.backup.verify, roles: [DATABASE_ROLES.app, DATABASE_ROLES.migrator] });
}

/**
 * The stage's stateful tier: PostgreSQL with pgvector guaranteed, Valkey for BullMQ, the uploads
 * bucket, and one KMS key per concern. One key each keeps every key policy down to the services
 * that use it (rds and secretsmanager; elasticache and secretsmanager; s3) and lets one be
 * disabled or audited without touching the others.
 */
export class DataStack extends StageStack implements DataTier {
  readonly database: Database;
  readonly cache: Cache;
  /** The cache's notification topic and its forwarder to the ticket topic. */
  readonly cacheEvents: CacheEvents;
  readonly uploads: UploadsBucket;
  readonly protectedKeys: readonly kms.IKey[];
  readonly backup: DatabaseBackup;
  /** The nightly dumps (and the anonymised copies where this stage makes them). */
  readonly dumps: DumpBucket;
  /** The tasks that write, check, anonymise and restore them. */
  readonly dumpJob: DumpJob;
  /** Restore testing and its verifier, where configured. */
  readonly restoreTesting?: RestoreTesting;
  /** pgvector and the app's database roles, set up as the master user. */
  readonly setup: DatabaseSetup;
  /** Installed pgvector version (custom resource attribute). */
  readonly pgvectorVersion: string;

  constructor(scope: Construct, id: string, props: DataStackProps) {
    super(scope, id, props);
    const { vpc, logsKey } = props.network;
    const { name, database, cache, uploads, domain, backup: backupConfig } = this.config;
    const removalPolicy = this.statefulRemovalPolicy;

    // Kept in every stage: the final snapshot taken when the instance is deleted (and every
    // other snapshot) stays encrypted with it, and is useless once the key is gone.
    const databaseKey = new ServiceKey(this, 'DatabaseKey', {
      description: `${name}: RDS storage, snapshots, Performance Insights and the master secret`,
      services: ['rds', 'secretsmanager'],
      removalPolicy: RemovalPolicy.RETAIN,
      // Every snapshot and recovery point of the database is encrypted with it.
      breakGlassRoleName: backupConfig.breakGlassRoleName,
    }).key;
    const cacheKey = new ServiceKey(this, 'CacheKey', {
      description: `${name}: ElastiCache data at rest and the AUTH token secret`,
      services: ['elasticache', 'secretsmanager'],
      removalPolicy,
    }).key;
    const uploadsKey = new ServiceKey(this, 'UploadsKey', {
      description: `${name}: uploads bucket objects`,
      services: ['s3'],
      removalPolicy,
    }).key;

    this.database = new Database(this, 'Database', {
      vpc,
      instanceIdentifier: stageResourceName(name),
      ...database,
      key: databaseKey,
      logsKey,
      logRetention: this.logRetention,
      logRemovalPolicy: removalPolicy,
    });

    const { backupKey: drKey, backupVault: drVault } = props.dr ?? {};
    if (backupConfig.automatedBackupReplicationDays > 0 && drKey) {
      // Point-in-time restore in the DR region: RDS replicates its automated backups there,
      // encrypted with the DR key. The L2 construct has no properties for it.
      const cfn = this.database.instance.node.defaultChild as rds.CfnDBInstance;
      cfn.addPropertyOverride('AutomaticBackupReplicationRegion', this.config.drRegion);
      cfn.addPropertyOverride('AutomaticBackupReplicationKmsKeyId', drKey.keyArn);
      cfn.addPropertyOverride('AutomaticBackupReplicationRetentionPeriod', backupConfig.automatedBackupReplicationDays);
    }
    // Kept in every stage, like the vault it encrypts (a vault with recovery points outlives the stack).
    const backupKey = new ServiceKey(this, 'BackupKey', {
      description: `${name}: AWS Backup vault of the stage`,
      services: ['backup'],
      removalPolicy: RemovalPolicy.RETAIN,
      breakGlassRoleName: backupConfig.breakGlassRoleName,
    }).key;
    const { dumps: dumpsConfig } = this.config;
    this.dumps = new DumpBucket(this, 'Dumps', {
      stage: name,
      bucketName: dumpBucketName(name, this.config.account, this.config.region),
      retentionDays: dumpsConfig.retentionDays,
      objectLock: dumpsConfig.objectLock,
      breakGlassRoleName: backupConfig.breakGlassRoleName,
      accessLogExpirationDays: uploads.accessLogExpirationDays,
      readerAccount: dumpsConfig.anonymised?.readerAccount,
      replicateTo: props.dr?.dumpsReplica,
      removalPolicy,
    });
    // Locked dumps are backups like the recovery points: their keys are watched the same way.
    const dumpKeys = dumpsConfig.objectLock === 'off' ? [] : [this.dumps.key, ...(this.dumps.anonymisedKey ? [this.dumps.anonymisedKey] : [])];
    this.protectedKeys = [databaseKey, backupKey, ...dumpKeys];
    this.backup = new DatabaseBackup(this, 'Backup', {
      stage: name,
      vaultName: stageResourceName(name, this.creationSuffix),
      instance: this.database.instance,
      key: backupKey,
      retentionDays: backupConfig.planRetentionDays,
      protection: { ...backupConfig.vaultLock, breakGlassRoleName: backupConfig.breakGlassRoleName },
      drCopy: drVault ? { vault: drVault, retentionDays: backupConfig.drCopyRetentionDays } : undefined,
    });

    if (backupConfig.restoreTesting !== 'off') {
      this.restoreTesting = new RestoreTesting(this, 'RestoreTesting', {
        vpc,
        stage: name,
        schedule: backupConfig.restoreTesting,
        vault: this.backup.vault,
        databaseArn: this.database.instance.instanceArn,
        databaseKey,
        subnetGroupName: (this.database.instance.node.findChild('SubnetGroup') as rds.SubnetGroup).subnetGroupName,
        databaseName: DATABASE_NAME,
        minVectorVersion: database.pgvectorMinVersion,
        verify: backupConfig.verify,
        logsKey,
        logRetention: this.logRetention,
        logRemovalPolicy: removalPolicy,
      });
    }

    this.setup = new DatabaseSetup(this, 'DatabaseSetup', {
      vpc,
      database: this.database,
      ...databaseSetupSettings(this.config, props.deploy),
      logsKey,
      logRetention: this.logRetention,
      logRemovalPolicy: removalPolicy,
    });
    this.pgvectorVersion = this.setup.version;

    const { refreshFrom } = dumpsConfig;
    this.dumpJob = new DumpJob(this, 'DumpJob', {
      vpc,
      stage: name,
      dumps: dumpsConfig,
      engineVersion: database.engineVersion,
      store: { bucketName: dumpBucketName(name, this.config.account, this.config.region), keyArn: this.dumps.key.keyArn, anonymisedKeyArn: this.dumps.anonymisedKey?.keyArn },
      saltKey: this.dumps.key,
      databaseName: DATABASE_NAME,
      expectations: dumpExpectations(this.config),
      database: this.database,
      refreshFrom: refreshFrom && {
        bucketName: dumpBucketName(refreshFrom.sourceStage, refreshFrom.sourceAccount, refreshFrom.sourceRegion),
        account: refreshFrom.sourceAccount,
        region: refreshFrom.sourceRegion,
      },
      logsKey,
      logRetention: this.logRetention,
      logRemovalPolicy: removalPolicy,
    });

    this.cacheEvents = new CacheEvents(this, 'CacheEvents', {
      vpc,
      stage: this.config.name,
      alarmTopic: props.alarmTopic,
      logsKey,
      logRetention: this.logRetention,
      logRemovalPolicy: removalPolicy,
    });
    this.cache = new Cache(this, 'Cache', {
      vpc,
      ...cache,
      key: cacheKey,
      notificationTopicArn: this.cacheEvents.topic.topicArn,
      removalPolicy: this.config.retainOnDelete ? undefined : removalPolicy,
    });

    this.uploads = new UploadsBucket(this, 'Uploads', {
      key: uploadsKey,
      ...uploads,
      corsOrigins: domain ? [`https://${domain.recordName}`] : [],
      removalPolicy,
      replicateTo: props.dr?.uploadsReplica,
    });

    // On-call's way to the database (npm run db-shell); nothing runs until someone starts a host.
    const shell = new DatabaseShell(this, 'DatabaseShell', { vpc, database: this.database });
    new CfnOutput(this, 'DatabaseShellLaunchTemplateId', { value: shell.launchTemplate.launchTemplateId!, description: 'Launch template of the on-call database shell host' });
    new CfnOutput(this, 'DatabaseShellSubnetId', { value: shell.subnetId, description: 'Private subnet the database shell host starts in' });
    // Read-only logins as webapp_oncall: the on-call role holds the same grant (lib/baseline/operator-roles.ts); attach this to any other role that needs it.
    new CfnOutput(this, 'OnCallDatabasePolicyArn', {
      value: this.database.connectPolicy(DATABASE_ROLES.oncall).managedPolicyArn,
      description: `Lets its holder log in to the stage database as ${DATABASE_ROLES.oncall} (read-only) with an IAM token`,
    });
    new CfnOutput(this, 'DatabaseEndpoint', { value: this.database.instance.dbInstanceEndpointAddress });
    new CfnOutput(this, 'PgvectorVersion', { value: this.pgvectorVersion, description: 'pgvector version installed in the stage database' });
    new CfnOutput(this, 'CacheEndpoint', { value: this.cache.endpointAddress });
    new CfnOutput(this, 'UploadsBucketName', { value: this.uploads.bucket.bucketName });
  }
}
