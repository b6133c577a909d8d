import { RemovalPolicy, Validations } from 'aws-cdk-lib';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { type DumpRetention, dumpKey, dumpStorage, protectDumps } from '../data/dump-bucket';
import { acknowledgeControls } from '../shared/control-tower-checks';

export interface DumpsReplicaProps extends DumpRetention {
  readonly stage: string;
  /** `dumpBucketName(stage, account, drRegion)`: the restore in the DR region finds it by name. */
  readonly bucketName: string;
  /** @default RemovalPolicy.RETAIN */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * The DR-region copy of the dump bucket (`dumps.replicateToDr`): stored like the source
 * (`dumpStorage`: the same expiry and, where the source is locked, the same lock, which S3 requires
 * of a replica of a locked bucket), encrypted with this region's key. The source bucket's
 * replication role writes to it; `npm run restore -- --from-dump ... --region <drRegion>` reads it
 * with the pilot light's restore task.
 */
export class DumpsReplica extends Construct {
  readonly bucket: s3.Bucket;
  readonly key: kms.Key;

  constructor(scope: Construct, id: string, props: DumpsReplicaProps) {
    super(scope, id);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    this.key = dumpKey(this, 'Key', `${props.stage}: replicas of the database dumps in the DR region`, ['s3'], props, removalPolicy);
    this.bucket = new s3.Bucket(this, 'Bucket', { bucketName: props.bucketName, ...dumpStorage(this.key, props), removalPolicy });
    protectDumps(this.bucket, props);

    const resource = this.bucket.node.defaultChild!;
    const replicaOnly =
      "This bucket receives the replicas of the dump bucket, whose requests are logged in the primary region; only the replication role writes here, and only a restore in the DR region reads (its task's logs record it).";
    Validations.of(resource).acknowledge({ id: 'AwsSolutions-S1', reason: replicaOnly });
    Validations.of(resource).acknowledge({ id: 'NIST.800.53.R5-S3BucketLoggingEnabled', reason: replicaOnly });
    Validations.of(resource).acknowledge({
      id: 'NIST.800.53.R5-S3BucketReplicationEnabled',
      reason: 'This bucket is itself the cross-region replica of the dump bucket; replicating it again would add a third copy for no recovery objective.',
    });
    acknowledgeControls(this.bucket, {
      s3_bucket_logging_enabled_check: replicaOnly,
      s3_event_notifications_enabled_check: 'Only S3 replication writes here; no consumer acts on new replicas.',
      ...(props.objectLock === 'off' ? { s3_bucket_object_lock_enabled_check: 'dumps.objectLock is off for this stage: the replicas expire with the dumps they copy.' } : {}),
    });
  }
}
