import { CfnOutput, RemovalPolicy } from 'aws-cdk-lib';
import type * as backup from 'aws-cdk-lib/aws-backup';
import * as rds from 'aws-cdk-lib/aws-rds';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type { Construct } from 'constructs';
import { Cache } from './cache';
import { DATABASE_NAME, Database } from './database';
import { DatabaseBackup } from './database-backup';
import { DatabaseSetup } from './database-setup';
import { RestoreTesting } from './restore-testing';
import { ServiceKey } from '../shared/service-key';
import { UploadsBucket } from './uploads-bucket';
import { StageStack, type StageStackProps } from '../shared/stage-stack';

export interface DataStackProps extends StageStackProps {
  readonly vpc: ec2.IVpc;
  /** The stage's CloudWatch Logs key (network stack). */
  readonly logsKey: kms.IKey;
  /** Bucket in the DR region that receives copies of every upload (DR stack), if configured. */
  readonly uploadsReplica?: s3.IBucket;
  /** The stage's DR-region stack, whose backup key and vault receive copies, if configured. */
  readonly dr?: { readonly backupKey?: kms.IKey; readonly backupVault?: backup.IBackupVault };
}

/**
 * The stage's stateful tier: PostgreSQL with pgvector guaranteed, Valkey for BullMQ, the uploads
 * bucket, and one KMS key per concern. One key each keeps every key policy down to the services
 * that use it (rds and secretsmanager; elasticache and secretsmanager; s3) and lets one be
 * disabled or audited without touching the others.
 */
export class DataStack extends StageStack {
  readonly database: Database;
  readonly cache: Cache;
  readonly uploads: UploadsBucket;
  readonly backup: DatabaseBackup;
  /** Restore testing and its verifier, where configured. */
  readonly restoreTesting?: RestoreTesting;
  /** pgvector and the app's database roles, set up as the master user. */
  readonly setup: DatabaseSetup;
  /** Installed pgvector version (custom resource attribute). */
  readonly pgvectorVersion: string;

  constructor(scope: Construct, id: string, props: DataStackProps) {
    super(scope, id, props);
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
      vpc: props.vpc,
      instanceIdentifier: `webapp-${name}`,
      ...database,
      key: databaseKey,
      logsKey: props.logsKey,
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
    this.backup = new DatabaseBackup(this, 'Backup', {
      stage: name,
      vaultName: `webapp-${name}-${this.creationSuffix}`,
      instance: this.database.instance,
      key: backupKey,
      retentionDays: backupConfig.planRetentionDays,
      protection: { ...backupConfig.vaultLock, breakGlassRoleName: backupConfig.breakGlassRoleName },
      drCopy: drVault ? { vault: drVault, retentionDays: backupConfig.drCopyRetentionDays } : undefined,
    });

    if (backupConfig.restoreTesting !== 'off') {
      this.restoreTesting = new RestoreTesting(this, 'RestoreTesting', {
        vpc: props.vpc,
        stage: name,
        schedule: backupConfig.restoreTesting,
        vault: this.backup.vault,
        databaseArn: this.database.instance.instanceArn,
        databaseKey,
        subnetGroupName: (this.database.instance.node.findChild('SubnetGroup') as rds.SubnetGroup).subnetGroupName,
        databaseName: DATABASE_NAME,
        minVectorVersion: database.pgvectorMinVersion,
        verify: backupConfig.verify,
        logsKey: props.logsKey,
        logRetention: this.logRetention,
        logRemovalPolicy: removalPolicy,
      });
    }

    this.setup = new DatabaseSetup(this, 'DatabaseSetup', {
      vpc: props.vpc,
      database: this.database,
      databaseName: DATABASE_NAME,
      engineVersion: database.engineVersion,
      minVersion: database.pgvectorMinVersion,
      runId: this.node.tryGetContext('rerunDatabaseSetup')?.toString(),
      logsKey: props.logsKey,
      logRetention: this.logRetention,
      logRemovalPolicy: removalPolicy,
    });
    this.pgvectorVersion = this.setup.version;

    this.cache = new Cache(this, 'Cache', {
      vpc: props.vpc,
      ...cache,
      key: cacheKey,
      removalPolicy: this.config.retainOnDelete ? undefined : removalPolicy,
    });

    this.uploads = new UploadsBucket(this, 'Uploads', {
      key: uploadsKey,
      ...uploads,
      corsOrigins: domain ? [`https://${domain.recordName}`] : [],
      removalPolicy,
      replicateTo: props.uploadsReplica,
    });

    new CfnOutput(this, 'DatabaseEndpoint', { value: this.database.instance.dbInstanceEndpointAddress });
    new CfnOutput(this, 'PgvectorVersion', { value: this.pgvectorVersion, description: 'pgvector version installed in the stage database' });
    new CfnOutput(this, 'CacheEndpoint', { value: this.cache.endpointAddress });
    new CfnOutput(this, 'UploadsBucketName', { value: this.uploads.bucket.bucketName });
  }
}
