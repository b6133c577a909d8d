import { PhysicalName, RemovalPolicy, Validations } from 'aws-cdk-lib';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { UPLOADS_CONTROLS, uploadsCors, uploadsStorage } from '../data/uploads-bucket';
import { acknowledgeControls } from '../shared/control-tower-checks';

export interface UploadsReplicaProps {
  /** Encrypts the replicated objects in the DR region. */
  readonly key: kms.IKey;
  /** Days a replaced or deleted replica version is kept (as in the source bucket). */
  readonly noncurrentVersionExpirationDays: number;
  /**
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
  /** The site's origins, as the source bucket admits them: the DR app tier serves uploads from here after a failover. @default none */
  readonly corsOrigins?: readonly string[];
}

/**
 * Defines the DR-region copy of the uploads bucket, stored like the source (`uploadsStorage`) but
 * encrypted with the DR region's key, with the source's CORS rule. The source bucket's
 * replication role writes to it; after a failover the DR app tier serves the uploads from it.
 */
export class UploadsReplica extends Construct {
  readonly bucket: s3.Bucket;

  constructor(scope: Construct, id: string, props: UploadsReplicaProps) {
    super(scope, id);
    this.bucket = new s3.Bucket(this, 'Bucket', {
      // The source bucket's replication rule, in another region, must name it: CDK derives a
      // stable name from the stack and construct path.
      bucketName: PhysicalName.GENERATE_IF_NEEDED,
      ...uploadsStorage(props.key, props.noncurrentVersionExpirationDays),
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
      cors: uploadsCors(props.corsOrigins ?? []),
    });

    const resource = this.bucket.node.defaultChild!;
    const replicaOnly =
      "This bucket receives the replicas of the uploads bucket, whose requests are logged in the primary region; only the replication role writes here until a failover, when the DR app tier's tasks do (for hours, until the failback copies their uploads home).";
    Validations.of(resource).acknowledge({ id: 'AwsSolutions-S1', reason: replicaOnly });
    acknowledgeControls(this.bucket, { ...UPLOADS_CONTROLS, s3_bucket_logging_enabled_check: replicaOnly });
    Validations.of(resource).acknowledge({ id: 'NIST.800.53.R5-S3BucketLoggingEnabled', reason: replicaOnly });
    Validations.of(resource).acknowledge({
      id: 'NIST.800.53.R5-S3BucketReplicationEnabled',
      reason: 'This bucket is itself the cross-region replica of the uploads bucket; replicating it again would add a third copy for no recovery objective.',
    });
  }
}
