import { Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type { Construct } from 'constructs';
import { servicePrincipalOfThisAccount } from './service-trust';

/** A bucket's copy in the DR region: the replica bucket, with the key S3 encrypts there with. */
export interface DrReplicaProps {
  /** What is replicated, in words ("the uploads bucket"). */
  readonly of: string;
  /** The replica bucket in the DR region; its `encryptionKey` is the replica key. */
  readonly destination: s3.IBucket;
  /** The keys the source bucket's objects are encrypted with. */
  readonly sourceKeys: readonly kms.IKey[];
  /** Actions on the replica's objects: s3:ReplicateObject and s3:ReplicateTags, and what else this replication does. */
  readonly replicaActions: readonly string[];
  /** Actions on the source's objects besides reading their versions, ACLs and tags (an Object Lock source: their retention and legal hold). @default none */
  readonly sourceObjectActions?: readonly string[];
  /** Delete markers reach the replica too. */
  readonly replicateDeletes: boolean;
}

/**
 * S3 replication of one bucket to its DR-region copy, for the buckets that have one (uploads,
 * dumps). `role` goes to the bucket's props with `rule`; `grantSource` is called once the bucket
 * exists, which the role's source-side statements name.
 *
 * The role reads versions here, writes replicas there, decrypts with the source keys here and
 * encrypts with the replica key there, each only through S3 in its region. A managed policy, and
 * `withoutPolicyUpdates`, because CDK's own grants would give it KMS on every key ("*") when the
 * replica key lives in another region.
 */
export class DrReplication {
  readonly role: iam.IRole;
  readonly policy: iam.ManagedPolicy;
  readonly rule: s3.ReplicationRule;

  constructor(
    private readonly scope: Construct,
    private readonly props: DrReplicaProps,
  ) {
    const { destination } = props;
    const role = new iam.Role(scope, 'ReplicationRole', {
      description: `S3 replication of ${props.of} to the DR region`,
      assumedBy: servicePrincipalOfThisAccount(scope, 's3.amazonaws.com'),
    });
    this.policy = new iam.ManagedPolicy(scope, 'ReplicationPolicy', { description: `Replicate ${props.of} to its DR-region copy`, roles: [role] });
    this.policy.addStatements(
      new iam.PolicyStatement({ actions: [...props.replicaActions], resources: [destination.arnForObjects('*')] }),
      new iam.PolicyStatement({
        actions: ['kms:Encrypt', 'kms:GenerateDataKey'],
        resources: [destination.encryptionKey!.keyArn],
        conditions: { StringEquals: { 'kms:ViaService': `s3.${Stack.of(destination).region}.amazonaws.com` } },
      }),
      new iam.PolicyStatement({
        actions: ['kms:Decrypt'],
        resources: props.sourceKeys.map((k) => k.keyArn),
        conditions: { StringEquals: { 'kms:ViaService': `s3.${Stack.of(scope).region}.amazonaws.com` } },
      }),
    );
    this.role = role.withoutPolicyUpdates();
    this.rule = {
      id: 'replicate-to-dr-region',
      destination,
      kmsKey: destination.encryptionKey,
      sseKmsEncryptedObjects: true,
      deleteMarkerReplication: props.replicateDeletes,
      priority: 0,
      filter: {},
    };
  }

  /** The source side of the grant, which names the bucket (and so comes after it), and why its object wildcards are needed. */
  grantSource(bucket: s3.Bucket, everyObject: string): void {
    this.policy.addStatements(
      new iam.PolicyStatement({ actions: ['s3:GetReplicationConfiguration', 's3:ListBucket'], resources: [bucket.bucketArn] }),
      new iam.PolicyStatement({
        actions: ['s3:GetObjectVersionForReplication', 's3:GetObjectVersionAcl', 's3:GetObjectVersionTagging', ...(this.props.sourceObjectActions ?? [])],
        resources: [bucket.arnForObjects('*')],
      }),
    );
    const stack = Stack.of(this.scope);
    for (const id of [
      `AwsSolutions-IAM5[Resource::<${stack.getLogicalId(bucket.node.defaultChild as s3.CfnBucket)}.Arn>/*]`,
      `AwsSolutions-IAM5[Resource::${stack.resolve(this.props.destination.arnForObjects('*'))}]`,
    ]) {
      Validations.of(this.policy).acknowledge({ id, reason: everyObject });
    }
  }
}
