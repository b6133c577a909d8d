import { CfnOutput, RemovalPolicy } from 'aws-cdk-lib';
import type * as backup from 'aws-cdk-lib/aws-backup';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type { Construct } from 'constructs';
import { dumpBucketName } from '../data/logical-backup-names';
import { forwardingRule } from '../shared/forward-events';
import { stageResourceName } from '../shared/naming';
import { protectedKeyEvents } from '../shared/protected-key-events';
import { protectedVault } from '../shared/protected-vault';
import { ServiceKey } from '../shared/service-key';
import { StageStack, type StageStackProps } from '../shared/stage-stack';
import { DumpsReplica } from './dumps-replica';
import { BACKUP_KEY_SERVICES } from './pilot-light-names';
import { UploadsReplica } from './uploads-replica';

/** What the data tier uses of the DR region: each is there only where the stage config asks for it. */
export interface DrTier {
  /** Receives a copy of every upload (`uploads.replicateToDr`). */
  readonly uploadsReplica?: s3.IBucket;
  /** Encrypts the copies of the database's snapshots and backups (`backup.drCopies`). */
  readonly backupKey?: kms.IKey;
  /** Receives the copies of the backup plan's recovery points (`backup.drCopies`). */
  readonly backupVault?: backup.IBackupVault;
  /** Receives a copy of every database dump, with its key (`dumps.replicateToDr`). */
  readonly dumpsReplica?: s3.IBucket;
}

/**
 * The stage's stack in its DR region: what must survive the loss of the primary region. The
 * replica of the uploads bucket and its key (`uploads.replicateToDr`); the key and vault that
 * receive copies of the database's snapshots and backups (`backup.drCopies`), with a rule that
 * forwards the calls that would change or destroy that key to the stage's region; the replica of
 * the dump bucket and its key (`dumps.replicateToDr`).
 */
export class DrStack extends StageStack implements DrTier {
  readonly uploadsReplica?: s3.IBucket;
  /** Encrypts copied snapshots, replicated automated backups and the DR vault (RDS and AWS Backup use it). */
  readonly backupKey?: kms.IKey;
  readonly backupVault?: backup.IBackupVault;
  readonly dumpsReplica?: s3.IBucket;

  constructor(scope: Construct, id: string, props: StageStackProps) {
    super(scope, id, props);
    const { name, uploads } = this.config;
    if (uploads.replicateToDr) {
      const key = new ServiceKey(this, 'UploadsReplicaKey', {
        description: `${name}: replicas of the uploads bucket in the DR region`,
        services: ['s3'],
        removalPolicy: this.statefulRemovalPolicy,
      }).key;
      this.uploadsReplica = new UploadsReplica(this, 'UploadsReplica', {
        key,
        noncurrentVersionExpirationDays: uploads.noncurrentVersionExpirationDays,
        removalPolicy: this.statefulRemovalPolicy,
        corsOrigins: this.config.domain ? [`https://${this.config.domain.recordName}`] : [],
      }).bucket;
      // Where the uploads are readable when the primary region is lost (docs/disaster-recovery.md);
      // the DR app tier reads both by these outputs.
      new CfnOutput(this, 'UploadsReplicaBucketName', { value: this.uploadsReplica.bucketName, description: 'The replica of the uploads bucket in the DR region' });
      new CfnOutput(this, 'UploadsReplicaKeyArn', { value: key.keyArn, description: 'Key of the uploads replica' });
    }
    const { dumps } = this.config;
    if (dumps.replicateToDr) {
      const replica = new DumpsReplica(this, 'DumpsReplica', {
        stage: name,
        bucketName: dumpBucketName(name, this.config.account, this.config.drRegion),
        retentionDays: dumps.retentionDays,
        objectLock: dumps.objectLock,
        breakGlassRoleName: this.config.backup.breakGlassRoleName,
        removalPolicy: this.statefulRemovalPolicy,
      });
      this.dumpsReplica = replica.bucket;
      new CfnOutput(this, 'DumpsReplicaBucketName', { value: replica.bucket.bucketName, description: 'The replica of the dump bucket in the DR region' });
    }
    if (this.config.backup.drCopies) {
      // Kept in every stage, like the vault and the snapshot copies it encrypts. Secrets Manager:
      // a database restored here from the replicated backups (the failover, its drill) gets an
      // RDS-managed master secret encrypted with this key, as its storage is.
      this.backupKey = new ServiceKey(this, 'BackupKey', {
        description: `${name}: database snapshot copies, replicated automated backups and the DR backup vault`,
        services: [...BACKUP_KEY_SERVICES],
        removalPolicy: RemovalPolicy.RETAIN,
        breakGlassRoleName: this.config.backup.breakGlassRoleName,
      }).key;
      // KMS reports calls on the key to this region's event bus; the stage's ops stack watches them.
      forwardingRule(this, 'ForwardBackupKeyChanges', {
        description: `Changes (or attempts) to the policy, rotation or life of the DR backup key, to ${this.config.region}, where the stage alarms`,
        eventPattern: protectedKeyEvents([this.backupKey.keyId]),
        toRegion: this.config.region,
      });
      // scripts/restore-database.ts restarts the automated-backup replication with it after a restore.
      new CfnOutput(this, 'BackupKeyArn', { value: this.backupKey.keyArn, description: 'Key of the DR copies and replicated automated backups' });
      // The failover checks that the deployed key serves Secrets Manager before it restores.
      new CfnOutput(this, 'BackupKeyServices', { value: BACKUP_KEY_SERVICES.join(' '), description: 'The services the DR backup key policy admits' });
      const { vaultLock, breakGlassRoleName, drCopyRetentionDays } = this.config.backup;
      this.backupVault = protectedVault(this, 'BackupVault', {
        vaultName: stageResourceName(name, 'dr', this.creationSuffix),
        key: this.backupKey,
        minRetentionDays: drCopyRetentionDays,
        ...vaultLock,
        breakGlassRoleName,
      });
    }
  }
}
