import { Duration, type RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as config from 'aws-cdk-lib/aws-config';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { awsManagedRole } from '../shared/aws-managed-policy';
import { acknowledgeControls, BUCKET_CONTROLS } from '../shared/control-tower-checks';
import { PRIVATE_BUCKET } from '../shared/private-bucket';

/**
 * The resource types AWS Config records: those this project deploys that Security Hub's AWS
 * Foundational Security Best Practices controls evaluate (a recorder of every supported type
 * would bill for each configuration change of everything in the account). Add a type here when
 * the stacks start using it.
 */
export const RECORDED_TYPES = [
  'AWS::EC2::VPC',
  'AWS::EC2::Subnet',
  'AWS::EC2::SecurityGroup',
  'AWS::EC2::NetworkAcl',
  'AWS::EC2::NatGateway',
  'AWS::EC2::EIP',
  'AWS::EC2::VPCEndpoint',
  'AWS::EC2::Instance',
  'AWS::EC2::LaunchTemplate',
  'AWS::EC2::Volume',
  'AWS::ElasticLoadBalancingV2::LoadBalancer',
  'AWS::ElasticLoadBalancingV2::Listener',
  'AWS::WAFv2::WebACL',
  'AWS::ACM::Certificate',
  'AWS::ECS::Cluster',
  'AWS::ECS::Service',
  'AWS::ECS::TaskDefinition',
  'AWS::ECR::Repository',
  'AWS::RDS::DBInstance',
  'AWS::RDS::DBSnapshot',
  'AWS::RDS::DBSubnetGroup',
  'AWS::ElastiCache::ReplicationGroup',
  'AWS::ElastiCache::CacheCluster',
  'AWS::S3::Bucket',
  'AWS::KMS::Key',
  'AWS::SecretsManager::Secret',
  'AWS::SNS::Topic',
  'AWS::Lambda::Function',
  'AWS::StepFunctions::StateMachine',
  'AWS::CloudTrail::Trail',
  'AWS::Backup::BackupPlan',
  'AWS::Backup::BackupVault',
  'AWS::Backup::RecoveryPoint',
] as const;

/** IAM is global: its types are recorded in the account's home region only. */
export const RECORDED_GLOBAL_TYPES = ['AWS::IAM::Role', 'AWS::IAM::Policy', 'AWS::IAM::User', 'AWS::IAM::Group'] as const;

export interface ConfigRecorderProps {
  /** Record the global (IAM) types too: true in one region of the account. */
  readonly includeGlobalTypes: boolean;
  /** Encrypts the configuration snapshots and history in the delivery bucket. */
  readonly key: kms.IKey;
  readonly removalPolicy: RemovalPolicy;
}

/**
 * AWS Config recording of the types above in one region, continuously, delivered to a private,
 * TLS-only, KMS-encrypted bucket of its own (history expires after a year). The recorder runs
 * as its own role with AWS's AWS_ConfigRole policy and the grants on the bucket and key.
 * CloudFormation starts recording when the delivery channel exists.
 */
export class ConfigRecorder extends Construct {
  readonly recorder: config.CfnConfigurationRecorder;
  readonly bucket: s3.Bucket;

  constructor(scope: Construct, id: string, props: ConfigRecorderProps) {
    super(scope, id);
    this.bucket = new s3.Bucket(this, 'Bucket', {
      encryption: s3.BucketEncryption.KMS,
      encryptionKey: props.key,
      bucketKeyEnabled: true,
      ...PRIVATE_BUCKET,
      removalPolicy: props.removalPolicy,
      lifecycleRules: [
        { id: 'expire-config-history', expiration: Duration.days(365), noncurrentVersionExpiration: Duration.days(30), abortIncompleteMultipartUploadAfter: Duration.days(7) },
      ],
    });
    acknowledgeControls(this.bucket, {
      ...BUCKET_CONTROLS.serviceWritten,
      s3_bucket_logging_enabled_check: 'AWS Config is the only writer (as its role) and CloudTrail records its calls; access logs would need a bucket of their own for little.',
      s3_bucket_object_lock_enabled_check: 'Configuration history the recorder rebuilds; it expires after a year and is evidence of nothing a lock would protect.',
    });
    for (const [rule, reason] of [
      ['AwsSolutions-S1', 'AWS Config is the only writer (as its role); CloudTrail records its API calls. Access logs would add a bucket of their own for little.'],
      ['NIST.800.53.R5-S3BucketLoggingEnabled', 'AWS Config is the only writer (as its role); CloudTrail records its API calls.'],
      ['NIST.800.53.R5-S3BucketReplicationEnabled', 'Configuration history is rebuilt by the recorder; it is not kept outside the region.'],
    ] as const) {
      Validations.of(this.bucket).acknowledge({ id: rule, reason });
    }

    const role = awsManagedRole(this, 'Role', {
      service: 'config.amazonaws.com',
      description: "AWS Config records the configuration of the account's resources",
      policyName: 'service-role/AWS_ConfigRole',
      reason: 'AWS_ConfigRole is the read-only policy AWS keeps current for AWS Config to describe every type it records.',
      // AWS Config documents aws:SourceAccount in the trust of the role it records with.
      thisAccountOnly: true,
    });
    role.addToPolicy(new iam.PolicyStatement({ actions: ['s3:GetBucketAcl'], resources: [this.bucket.bucketArn] }));
    role.addToPolicy(
      new iam.PolicyStatement({
        actions: ['s3:PutObject'],
        resources: [this.bucket.arnForObjects(`AWSLogs/${Stack.of(this).account}/Config/*`)],
      }),
    );
    props.key.grant(role, 'kms:GenerateDataKey', 'kms:Decrypt');
    const policy = role.node.findChild('DefaultPolicy');
    Validations.of(policy).acknowledge({
      id: `AwsSolutions-IAM5[Resource::<${Stack.of(this).getLogicalId(this.bucket.node.defaultChild as s3.CfnBucket)}.Arn>/AWSLogs/${Stack.of(this).account}/Config/*]`,
      reason: 'AWS Config writes its snapshot and history files under AWSLogs/<account>/Config/ with names it chooses.',
    });
    Validations.of(policy).acknowledge({
      id: 'NIST.800.53.R5-IAMNoInlinePolicy',
      reason: "The recorder role's grants on its own bucket and key, written by CDK as the role's inline default policy.",
    });

    this.recorder = new config.CfnConfigurationRecorder(this, 'Recorder', {
      roleArn: role.roleArn,
      recordingGroup: {
        allSupported: false,
        includeGlobalResourceTypes: false,
        recordingStrategy: { useOnly: 'INCLUSION_BY_RESOURCE_TYPES' },
        resourceTypes: [...RECORDED_TYPES, ...(props.includeGlobalTypes ? RECORDED_GLOBAL_TYPES : [])],
      },
      recordingMode: { recordingFrequency: 'CONTINUOUS' },
    });
    const channel = new config.CfnDeliveryChannel(this, 'DeliveryChannel', {
      s3BucketName: this.bucket.bucketName,
      s3KmsKeyArn: props.key.keyArn,
      configSnapshotDeliveryProperties: { deliveryFrequency: 'TwentyFour_Hours' },
    });
    channel.addResourceDependency(this.recorder);
    channel.node.addDependency(role);
  }
}
