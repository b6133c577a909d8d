import { Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { accessLogBucket } from '../shared/access-log-bucket';
import { acknowledgeControls } from '../shared/control-tower-checks';
import { denyAllBut, protectionRoles } from '../shared/deny-all-but';
import { DrReplication } from '../shared/dr-replication';
import { PRIVATE_BUCKET } from '../shared/private-bucket';
import { ServiceKey } from '../shared/service-key';
import { DUMP_PREFIX } from './logical-backup-names';

/** How long a dump is kept, and whether nobody (governance: nobody but the break-glass role) may delete it earlier. */
export interface DumpRetention {
  readonly retentionDays: number;
  readonly objectLock: 'off' | 'governance' | 'compliance';
  /** The role that alone may bypass a governance lock (and administer the keys the dumps depend on). */
  readonly breakGlassRoleName: string;
}

/**
 * How dumps are stored, in the stage's bucket and in its DR replica: SSE-KMS without an S3 bucket
 * key (a few objects a night; each object's own encryption context is what lets the anonymised
 * key's policy admit the reader account for `anonymised/` alone), private, TLS-only, every dump
 * expiring `retentionDays` after it was written and its old versions a day later, and Object Lock
 * for the same period where configured. Object Lock can only be turned on when a bucket is created;
 * a replicated locked bucket needs a locked replica, or S3 refuses to replicate into it.
 */
export function dumpStorage(key: kms.IKey, retention: DumpRetention): s3.BucketProps {
  const period = Duration.days(retention.retentionDays);
  const lock =
    retention.objectLock === 'off'
      ? {}
      : {
          objectLockEnabled: true,
          objectLockDefaultRetention: retention.objectLock === 'compliance' ? s3.ObjectLockRetention.compliance(period) : s3.ObjectLockRetention.governance(period),
        };
  return {
    ...PRIVATE_BUCKET,
    encryption: s3.BucketEncryption.KMS,
    encryptionKey: key,
    bucketKeyEnabled: false,
    ...lock,
    lifecycleRules: [
      {
        id: 'expire-dumps',
        expiration: period,
        noncurrentVersionExpiration: Duration.days(1),
        abortIncompleteMultipartUploadAfter: Duration.days(1),
      },
      // Expiring a current version leaves a delete marker; once its last version has expired the
      // marker is alone, and this removes it (it cannot share a rule with the expiration days).
      { id: 'remove-expired-delete-markers', expiredObjectDeleteMarker: true },
    ],
  };
}

/**
 * Under a governance lock, what would delete a dump early or shorten its lock is left to the
 * break-glass role (the lock itself lets anyone with s3:BypassGovernanceRetention through).
 */
export function protectDumps(bucket: s3.Bucket, retention: DumpRetention): void {
  if (retention.objectLock !== 'governance') return;
  const { breakGlass } = protectionRoles(bucket);
  bucket.addToResourcePolicy(
    denyAllBut('OnlyBreakGlassShortensTheLock', ['s3:BypassGovernanceRetention', 's3:PutObjectRetention'], [breakGlass(retention.breakGlassRoleName)], [bucket.arnForObjects('*')]),
  );
}

/**
 * A key dumps are encrypted with, usable through `services` only. Where the dumps are locked it is
 * kept with them and only the break-glass role may destroy it or change its policy: deleting the
 * key would make a locked dump unreadable, a way around the lock.
 */
export function dumpKey(scope: Construct, id: string, description: string, services: readonly string[], retention: DumpRetention, removalPolicy: RemovalPolicy): kms.Key {
  return new ServiceKey(scope, id, {
    description,
    services,
    removalPolicy: retention.objectLock === 'off' ? removalPolicy : RemovalPolicy.RETAIN,
    breakGlassRoleName: retention.objectLock === 'off' ? undefined : retention.breakGlassRoleName,
  }).key;
}

export interface DumpBucketProps extends DumpRetention {
  readonly bucketName: string;
  readonly stage: string;
  /** Days the bucket's server access logs are kept. */
  readonly accessLogExpirationDays: number;
  /** The account of the stage that restores the anonymised copies (`dumps.anonymised.readerAccount`). @default no anonymised copies */
  readonly readerAccount?: string;
  /** The DR-region replica (with its key) every dump is copied to. @default not replicated */
  readonly replicateTo?: s3.IBucket;
  /** @default RemovalPolicy.RETAIN */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * The stage's dump bucket (`dumps`): the nightly `pg_dump` of the database under `raw/`, encrypted
 * with this account's key, and, in a stage that anonymises for another, the anonymised copies under
 * `anonymised/`, encrypted with a second key whose policy lets the reader stage's account decrypt
 * through S3 for objects under `anonymised/` only; the bucket policy lets that account list and
 * read `anonymised/` and nothing else. Replicated to the DR region where configured, both prefixes,
 * re-encrypted with the replica's key there.
 */
export class DumpBucket extends Construct {
  readonly bucket: s3.Bucket;
  /** Encrypts raw dumps (the bucket default) and the anonymisation's salt secret. */
  readonly key: kms.Key;
  /** Encrypts the anonymised copies; the reader account may decrypt them through S3. */
  readonly anonymisedKey?: kms.Key;
  readonly accessLogs: s3.Bucket;

  constructor(scope: Construct, id: string, props: DumpBucketProps) {
    super(scope, id);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    const { region } = Stack.of(this);
    const bucketArn = `arn:${Stack.of(this).partition}:s3:::${props.bucketName}`;
    const anonymisedObjects = `${bucketArn}/${DUMP_PREFIX.anonymised}*`;

    this.key = dumpKey(this, 'Key', `${props.stage}: raw database dumps and the anonymisation salt`, ['s3', 'secretsmanager'], props, removalPolicy);
    if (props.readerAccount) {
      this.anonymisedKey = dumpKey(this, 'AnonymisedKey', `${props.stage}: anonymised database dumps, readable by account ${props.readerAccount}`, ['s3'], props, removalPolicy);
      // S3 asks KMS with the object's ARN as encryption context (no bucket key): the reader
      // account decrypts what lies under anonymised/, through S3 in this region, and nothing else.
      this.anonymisedKey.addToResourcePolicy(
        new iam.PolicyStatement({
          sid: 'ReaderAccountDecryptsAnonymisedCopies',
          principals: [new iam.AccountPrincipal(props.readerAccount)],
          actions: ['kms:Decrypt'],
          resources: ['*'],
          conditions: {
            StringEquals: { 'kms:ViaService': `s3.${region}.amazonaws.com`, 'kms:CallerAccount': props.readerAccount },
            StringLike: { 'kms:EncryptionContext:aws:s3:arn': anonymisedObjects },
          },
        }),
      );
    }

    this.accessLogs = accessLogBucket(this, 'AccessLogs', { expirationDays: props.accessLogExpirationDays, removalPolicy, of: 'the dump bucket' });
    const replication = props.replicateTo
      ? new DrReplication(this, {
          of: 'the dump bucket',
          destination: props.replicateTo,
          sourceKeys: [this.key, ...(this.anonymisedKey ? [this.anonymisedKey] : [])],
          replicaActions: ['s3:ReplicateObject', 's3:ReplicateTags'],
          // A replica of a locked dump keeps its lock: S3 reads it from the source version.
          sourceObjectActions: ['s3:GetObjectRetention', 's3:GetObjectLegalHold'],
          // A dump deleted here (by the break-glass role, or before a lock) stays in the DR region until it expires there.
          replicateDeletes: false,
        })
      : undefined;
    this.bucket = new s3.Bucket(this, 'Bucket', {
      bucketName: props.bucketName,
      ...dumpStorage(this.key, props),
      serverAccessLogsBucket: this.accessLogs,
      serverAccessLogsPrefix: 'dumps/',
      removalPolicy,
      replicationRole: replication?.role,
      replicationRules: replication && [replication.rule],
    });
    protectDumps(this.bucket, props);

    if (props.readerAccount) {
      const reader = new iam.AccountPrincipal(props.readerAccount);
      this.bucket.addToResourcePolicy(
        new iam.PolicyStatement({
          sid: 'ReaderAccountReadsAnonymisedCopies',
          principals: [reader],
          actions: ['s3:GetObject'],
          resources: [this.bucket.arnForObjects(`${DUMP_PREFIX.anonymised}*`)],
        }),
      );
      this.bucket.addToResourcePolicy(
        new iam.PolicyStatement({
          sid: 'ReaderAccountListsAnonymisedCopies',
          principals: [reader],
          actions: ['s3:ListBucket'],
          resources: [this.bucket.bucketArn],
          conditions: { StringLike: { 's3:prefix': `${DUMP_PREFIX.anonymised}*` } },
        }),
      );
    }

    if (replication) {
      replication.grantSource(this.bucket, 'Replication copies every dump of this bucket into its DR replica; the statement names only those two buckets.');
    } else {
      Validations.of(this.bucket.node.defaultChild!).acknowledge({
        id: 'NIST.800.53.R5-S3BucketReplicationEnabled',
        reason: 'Not replicated to another region (dumps.replicateToDr is off for this stage): the AWS Backup recovery points remain the database backup there.',
      });
    }
    acknowledgeControls(this.bucket, {
      s3_event_notifications_enabled_check: 'Only the stage dump tasks write dumps; the dump alarms watch their metrics, and no consumer acts on new objects.',
      ...(props.objectLock === 'off'
        ? { s3_bucket_object_lock_enabled_check: 'dumps.objectLock is off for this stage (a throw-away stage): dumps expire after dumps.retentionDays and may be deleted sooner.' }
        : {}),
    });
  }
}
