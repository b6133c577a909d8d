import { Duration, type RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import type { Construct } from 'constructs';
import { acknowledgeControls, BUCKET_CONTROLS } from './control-tower-checks';
import { PRIVATE_BUCKET } from './private-bucket';

export interface AccessLogBucketProps {
  /** Days the access logs are kept. */
  readonly expirationDays: number;
  readonly removalPolicy: RemovalPolicy;
  /** The bucket whose server access logs it receives, for the acknowledgements ("the uploads bucket"). */
  readonly of: string;
}

/**
 * A bucket that receives another bucket's server access logs: SSE-S3 (S3 delivers access logs
 * into nothing else), private like every bucket, logs expiring after `expirationDays` and old
 * versions after a day; with the findings such a bucket draws acknowledged on it, each once.
 */
export function accessLogBucket(scope: Construct, id: string, props: AccessLogBucketProps): s3.Bucket {
  const bucket = new s3.Bucket(scope, id, {
    encryption: s3.BucketEncryption.S3_MANAGED,
    ...PRIVATE_BUCKET,
    removalPolicy: props.removalPolicy,
    lifecycleRules: [
      {
        id: 'expire-access-logs',
        expiration: Duration.days(props.expirationDays),
        noncurrentVersionExpiration: Duration.days(1),
        abortIncompleteMultipartUploadAfter: Duration.days(7),
      },
    ],
  });
  const isLogTarget = `This bucket receives the server access logs of ${props.of}; logging it into itself would log its own log writes forever.`;
  for (const [rule, reason] of [
    ['AwsSolutions-S1', isLogTarget],
    ['NIST.800.53.R5-S3BucketLoggingEnabled', isLogTarget],
    ['NIST.800.53.R5-S3DefaultEncryptionKMS', 'S3 server access logging only delivers into buckets encrypted with SSE-S3, not SSE-KMS.'],
    ['NIST.800.53.R5-S3BucketReplicationEnabled', `Access logs of ${props.of} are kept in the account and region, in no stage replicated: they expire on schedule.`],
  ] as const) {
    Validations.of(bucket).acknowledge({ id: rule, reason });
  }
  acknowledgeControls(bucket, { ...BUCKET_CONTROLS.accessLogs, ...BUCKET_CONTROLS.serviceWritten });
  return bucket;
}
