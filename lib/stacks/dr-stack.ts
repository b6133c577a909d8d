import type * as s3 from 'aws-cdk-lib/aws-s3';
import type { Construct } from 'constructs';
import { ServiceKey } from '../constructs/service-key';
import { UploadsReplica } from '../constructs/uploads-replica';
import { StageStack, type StageStackProps } from './stage-stack';

/**
 * The stage's stack in its DR region: what must survive the loss of the primary region. Today the
 * replica of the uploads bucket and its key; backup copies land here too as they are added.
 */
export class DrStack extends StageStack {
  readonly uploadsReplica: s3.IBucket;

  constructor(scope: Construct, id: string, props: StageStackProps) {
    super(scope, id, props);
    const { name, uploads } = this.config;
    const key = new ServiceKey(this, 'UploadsReplicaKey', {
      description: `${name}: replicas of the uploads bucket in the DR region`,
      services: ['s3'],
      removalPolicy: this.statefulRemovalPolicy,
    }).key;
    this.uploadsReplica = new UploadsReplica(this, 'UploadsReplica', {
      key,
      noncurrentVersionExpirationDays: uploads.noncurrentVersionExpirationDays,
      removalPolicy: this.statefulRemovalPolicy,
    }).bucket;
  }
}
