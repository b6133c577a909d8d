import { Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { accessLogBucket } from '../shared/access-log-bucket';
import { acknowledgeControls } from '../shared/control-tower-checks';
import { DrReplication } from '../shared/dr-replication';

export interface UploadsBucketProps {
  /** Encrypts the uploads (SSE-KMS with an S3 bucket key, so KMS is called once per object batch). */
  readonly key: kms.IKey;
  /** Days a replaced or deleted object version is kept. */
  readonly noncurrentVersionExpirationDays: number;
  /** Days the server access logs are kept. */
  readonly accessLogExpirationDays: number;
  /**
   * Browser origins allowed to upload with presigned URLs (the stage's site). None: no CORS rule,
   * so browsers cannot upload directly.
   */
  readonly corsOrigins: readonly string[];
  /**
   * What happens to both buckets when they leave the stack. DESTROY only succeeds on empty buckets.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * Replicate every object (and delete marker) to this bucket in another region, re-encrypted
   * with its key there.
   * @default - no replication
   */
  readonly replicateTo?: s3.IBucket;
}

/** The Control Tower controls that do not apply to the uploads bucket and its replica. */
export const UPLOADS_CONTROLS = {
  s3_bucket_object_lock_enabled_check:
    'Users delete their uploads and the app must be able to erase them (privacy requests); versioning keeps overwritten and deleted objects for uploads.noncurrentVersionExpirationDays and AWS Backup is not needed for them.',
  s3_event_notifications_enabled_check: 'The app learns of uploads from its own requests (presigned URLs it issued); no consumer would act on bucket notifications.',
} as const;

/**
 * How uploads are stored, here and in the DR-region replica: SSE-KMS with an S3 bucket key (one
 * KMS call per batch of objects, not per object), versioned (replication needs it on both sides,
 * and it keeps overwritten or deleted objects recoverable), private, TLS-only, old versions
 * expiring, abandoned multipart uploads cleaned after 7 days.
 */
export function uploadsStorage(key: kms.IKey, noncurrentVersionExpirationDays: number): s3.BucketProps {
  return {
    encryption: s3.BucketEncryption.KMS,
    encryptionKey: key,
    bucketKeyEnabled: true,
    versioned: true,
    blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
    objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
    enforceSSL: true,
    lifecycleRules: [
      {
        id: 'expire-old-versions',
        noncurrentVersionExpiration: Duration.days(noncurrentVersionExpirationDays),
        abortIncompleteMultipartUploadAfter: Duration.days(7),
      },
    ],
  };
}

/** What the app's tasks use of an uploads bucket: the bucket, and the policy their roles get for it. */
export interface UploadsAccess {
  readonly bucket: s3.IBucket;
  /** Read, write and delete its objects; attach it to app roles. */
  readonly objectAccessPolicy: iam.IManagedPolicy;
}

/**
 * What the app may do with the uploads in `bucket` (encrypted with `key`): read, write and delete
 * objects (and abort their multipart uploads), list the bucket, and use the key only through S3
 * of the bucket's region. One definition for the stage's bucket and the DR region's replica, so the
 * app has the same rights in both.
 */
export function uploadsAccessPolicy(scope: Construct, id: string, bucket: s3.IBucket, key: kms.IKey): iam.ManagedPolicy {
  return new iam.ManagedPolicy(scope, id, {
    description: 'Read, write and delete objects of the uploads bucket',
    statements: [
      new iam.PolicyStatement({ actions: ['s3:ListBucket'], resources: [bucket.bucketArn] }),
      new iam.PolicyStatement({
        actions: ['s3:GetObject', 's3:PutObject', 's3:DeleteObject', 's3:AbortMultipartUpload'],
        resources: [bucket.arnForObjects('*')],
      }),
      new iam.PolicyStatement({
        actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
        resources: [key.keyArn],
        conditions: { StringEquals: { 'kms:ViaService': `s3.${Stack.of(scope).region}.amazonaws.com` } },
      }),
    ],
  });
}

/**
 * Defines the uploads bucket and the bucket that receives its server access logs. Uploads are
 * versioned, KMS-encrypted, private, TLS-only, with old versions expiring and abandoned multipart
 * uploads cleaned up after 7 days. The log bucket is an `accessLogBucket` (SSE-S3, expiring logs).
 */
export class UploadsBucket extends Construct implements UploadsAccess {
  readonly bucket: s3.Bucket;
  readonly accessLogs: s3.Bucket;
  /**
   * What the app may do with uploads: read, write and delete objects (and abort their multipart
   * uploads), list the bucket, and use the uploads key only through S3. Attach it to app roles.
   */
  readonly objectAccessPolicy: iam.ManagedPolicy;

  constructor(scope: Construct, id: string, props: UploadsBucketProps) {
    super(scope, id);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;

    this.accessLogs = accessLogBucket(this, 'AccessLogs', { expirationDays: props.accessLogExpirationDays, removalPolicy, of: 'the uploads bucket' });

    const replication = props.replicateTo
      ? new DrReplication(this, {
          of: 'the uploads bucket',
          destination: props.replicateTo,
          sourceKeys: [props.key],
          replicaActions: ['s3:ReplicateObject', 's3:ReplicateDelete', 's3:ReplicateTags', 's3:ObjectOwnerOverrideToBucketOwner'],
          replicateDeletes: true,
        })
      : undefined;

    this.bucket = new s3.Bucket(this, 'Bucket', {
      ...uploadsStorage(props.key, props.noncurrentVersionExpirationDays),
      serverAccessLogsBucket: this.accessLogs,
      serverAccessLogsPrefix: 'uploads/',
      removalPolicy,
      replicationRole: replication?.role,
      replicationRules: replication && [replication.rule],
      cors: uploadsCors(props.corsOrigins),
    });

    this.objectAccessPolicy = uploadsAccessPolicy(this, 'ObjectAccessPolicy', this.bucket, props.key);
    Validations.of(this.objectAccessPolicy).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::<UploadsBucketC4B27CC7.Arn>/*]',
      reason: 'The app reads and writes any object of its own uploads bucket (keys are chosen at run time); no other bucket.',
    });

    replication?.grantSource(this.bucket, 'Replication copies every object version of the uploads bucket into its DR copy; the statement names only those two buckets.');
    if (!props.replicateTo) {
      Validations.of(this.bucket.node.defaultChild!).acknowledge({
        id: 'NIST.800.53.R5-S3BucketReplicationEnabled',
        reason: 'Not replicated to another region (uploads.replicateToDr is off for this stage): versioning keeps overwritten and deleted objects for the configured days.',
      });
    }
    acknowledgeControls(this.bucket, UPLOADS_CONTROLS);
  }
}

/**
 * The uploads' CORS rule: browsers upload and read with presigned URLs from the site's own origin
 * only. The DR replica carries the same, for the app that serves from it after a failover.
 */
export function uploadsCors(origins: readonly string[]): s3.CorsRule[] | undefined {
  if (origins.length === 0) return undefined;
  return [
    {
      allowedOrigins: [...origins],
      allowedMethods: [s3.HttpMethods.GET, s3.HttpMethods.PUT, s3.HttpMethods.POST, s3.HttpMethods.HEAD],
      allowedHeaders: ['*'],
      exposedHeaders: ['ETag'],
      maxAge: 3000,
    },
  ];
}
