/**
 * Every resource type the estimate knows, in one of three places: a pricing module, the types AWS
 * does not charge for by themselves, or the types billed by use alone. A type in none of them is
 * listed as not priced (a test holds the app's templates to none such), never counted as $0.
 */
import { accountBaseline } from './baseline';
import { cloudFront } from './cloudfront';
import { cloudWatch } from './cloudwatch';
import { scheduledTasks } from './dumps';
import { ec2 } from './ec2';
import { elastiCache } from './elasticache';
import { fargate } from './fargate';
import { kms } from './kms';
import { loadBalancer } from './load-balancer';
import { logs } from './logs';
import type { PricingModule } from './module';
import { network } from './network';
import { rds } from './rds';
import { route53 } from './route53';
import { s3 } from './s3';
import { secretsManager } from './secrets-manager';
import { waf } from './waf';

export const PRICING_MODULES: readonly PricingModule[] = [
  fargate,
  scheduledTasks,
  loadBalancer,
  network,
  ec2,
  cloudFront,
  rds,
  elastiCache,
  kms,
  secretsManager,
  cloudWatch,
  route53,
  waf,
  logs,
  s3,
  accountBaseline,
];

/** Types AWS does not charge for by themselves (their cost, if any, shows up elsewhere). */
export const FREE_TYPES: ReadonlySet<string> = new Set([
  'AWS::EC2::VPC',
  'AWS::EC2::Subnet',
  'AWS::EC2::RouteTable',
  'AWS::EC2::Route',
  'AWS::EC2::SubnetRouteTableAssociation',
  'AWS::EC2::InternetGateway',
  'AWS::EC2::VPCGatewayAttachment',
  'AWS::EC2::SecurityGroup',
  'AWS::EC2::SecurityGroupIngress',
  'AWS::EC2::SecurityGroupEgress',
  'AWS::EC2::FlowLog',
  'AWS::IAM::Role',
  'AWS::IAM::Policy',
  'AWS::IAM::ManagedPolicy',
  'AWS::IAM::InstanceProfile',
  // A template: the database shell host it starts runs minutes at a time, by hand (usage, not counted).
  'AWS::EC2::LaunchTemplate',
  'AWS::RDS::DBSubnetGroup',
  'AWS::RDS::DBParameterGroup',
  'AWS::ElastiCache::SubnetGroup',
  'AWS::ElastiCache::ParameterGroup',
  'AWS::S3::BucketPolicy',
  'AWS::CDK::Metadata',
  'AWS::Lambda::Permission',
  'AWS::Lambda::EventInvokeConfig',
  // Rotation costs its function's runs and API calls, within the free tiers; the secret is priced.
  'AWS::SecretsManager::RotationSchedule',
  'AWS::ECS::Cluster',
  'AWS::ECS::TaskDefinition',
  'AWS::ECS::ClusterCapacityProviderAssociations',
  'AWS::ElasticLoadBalancingV2::Listener',
  'AWS::ElasticLoadBalancingV2::TargetGroup',
  'AWS::ElasticLoadBalancingV2::ListenerRule',
  'AWS::ApplicationAutoScaling::ScalableTarget',
  'AWS::ApplicationAutoScaling::ScalingPolicy',
  'AWS::Route53::RecordSet',
  'AWS::CertificateManager::Certificate',
  'AWS::SNS::Topic',
  'AWS::SNS::Subscription',
  'AWS::SNS::TopicPolicy',
  'AWS::Events::Rule',
  'AWS::KMS::Alias',
  'AWS::WAFv2::WebACLAssociation',
  'AWS::WAFv2::LoggingConfiguration',
  'AWS::SES::ConfigurationSet',
  'AWS::SES::ConfigurationSetEventDestination',
  'AWS::SES::EmailIdentity',
  'AWS::ECR::Repository',
  'AWS::ECR::ReplicationConfiguration',
  'AWS::ECR::RegistryPolicy',
  // The cache's images are billed as ECR storage of their repositories (a collector image, well under a GB), not by the rule.
  'AWS::ECR::PullThroughCacheRule',
  'AWS::ECR::RepositoryCreationTemplate',
  'AWS::IAM::OIDCProvider',
  // What the stage's backups hold is priced per stage (backups.ts), not per resource.
  'AWS::Backup::BackupPlan',
  'AWS::Backup::BackupSelection',
  'AWS::Backup::BackupVault',
  'AWS::Budgets::Budget',
  // The baseline's free parts: the filters' metrics are the alarms' cost; the standard's cost is the
  // hub's checks; the delivery channel's is the recorder's; external access analysis is free.
  'AWS::Logs::MetricFilter',
  'AWS::Logs::QueryDefinition',
  'AWS::SecurityHub::Standard',
  'AWS::Config::DeliveryChannel',
  'AWS::AccessAnalyzer::Analyzer',
  // The edge's free parts: policies, the VPC origins and origin access control cost nothing; the access logs' cost is their log group's ingestion.
  'AWS::CloudFront::VpcOrigin',
  'AWS::CloudFront::OriginAccessControl',
  'AWS::CloudFront::CachePolicy',
  'AWS::CloudFront::OriginRequestPolicy',
  'AWS::CloudFront::ResponseHeadersPolicy',
  'AWS::Logs::ResourcePolicy',
  'AWS::Logs::DeliverySource',
  'AWS::Logs::DeliveryDestination',
  'AWS::Logs::Delivery',
]);

/** Lambda, custom resources and the custom-resource waiter cost per use; the project's run a few times a day. */
export const USAGE_TYPES: ReadonlySet<string> = new Set([
  'AWS::Lambda::Function',
  'AWS::StepFunctions::StateMachine',
  'AWS::Backup::RestoreTestingPlan',
  'AWS::Backup::RestoreTestingSelection',
]);

const BY_TYPE = new Map<string, PricingModule>();
for (const module of PRICING_MODULES) {
  for (const type of module.resourceTypes) {
    // Two modules for one type would price it twice or by whichever came first.
    if (BY_TYPE.has(type)) throw new Error(`${type} has two pricing modules: keep it in one of them.`);
    BY_TYPE.set(type, module);
  }
}

/** How the estimate treats a resource type. */
export type Treatment = { readonly kind: 'priced'; readonly module: PricingModule } | { readonly kind: 'free' | 'usage-based' | 'not priced' };

export function treatmentOf(type: string): Treatment {
  const module = BY_TYPE.get(type);
  if (module) return { kind: 'priced', module };
  if (USAGE_TYPES.has(type)) return { kind: 'usage-based' };
  // A custom resource is a function's run (usage-based, listed with the function's own type).
  if (FREE_TYPES.has(type) || type.startsWith('Custom::')) return { kind: 'free' };
  return { kind: 'not priced' };
}
