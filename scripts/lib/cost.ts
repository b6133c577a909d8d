import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AssemblyStack, Template } from './assembly';
import { BACKUP_ASSUMPTIONS, type BackupAssumptions, estimateBackups } from './backup-cost';

/** A pinned price table for one region (scripts/pricing/<region>.json). */
export interface PriceTable {
  region: string;
  date: string;
  source: string;
  hoursPerMonth: number;
  fargate: { arm64VcpuHour: number; arm64GbHour: number; x86VcpuHour: number; x86GbHour: number; spotDiscount: number };
  alb: { hour: number; lcuHour: number };
  natGateway: { hour: number; gbProcessed: number };
  publicIpv4Hour: number;
  rds: { postgresInstanceHour: Record<string, number>; gp3GbMonth: number };
  elasticache: { valkeyNodeHour: Record<string, number> };
  kmsKeyMonth: number;
  secretMonth: number;
  alarmMonth: number;
  compositeAlarmMonth: number;
  dashboardMonth: number;
  route53HostedZoneMonth: number;
  /**
   * Per web ACL and rule a month; and, behind CloudFront, per million requests whose body is over
   * the free 16 KB, for each further 16 KB the web ACL inspects (AssociationConfig).
   */
  waf: { webAclMonth: number; ruleMonth: number; bodyInspectionPer16KbPerMillion: number };
  interfaceEndpointAzHour: number;
  logs: { ingestedGb: number; storedGbMonth: number };
  s3: { standardGbMonth: number };
  /** EC2 instances (the NAT instances) and their gp3 volumes. */
  ec2: { instanceHour: Record<string, number>; gp3GbMonth: number };
  /** CloudFront (global, priced once in us-east-1's table): data out and HTTPS requests, North America and Europe, with the always-free allowance per account. */
  cloudFront?: {
    dataOutGb: number;
    httpsRequestsPer10k: number;
    freeGbMonth: number;
    freeRequestsMonth: number;
    functionInvocationsPerMillion: number;
    freeFunctionInvocations: number;
  };
  /** Snapshot storage and inter-region transfer (backup-cost.ts). */
  backup: { rdsSnapshotGbMonth: number; interRegionTransferGb: number };
  /** The account baseline's services, billed by use: the estimate applies ASSUMPTIONS.baseline. */
  baseline: {
    cloudTrailDataEventsPer100k: number;
    guardDuty: { managementEventsPerMillion: number; s3DataEventsPerMillion: number; flowAndDnsLogGb: number; fargateVcpuMonth: number };
    securityHubCheck: number;
    config: { configurationItem: number; ruleEvaluation: number };
  };
}

/** Usage the templates cannot tell; printed with every estimate. */
export const ASSUMPTIONS = {
  albLcus: 1,
  natGbProcessedPerGateway: 50,
  logGbIngestedPerGroup: 1,
  /** A project function's log group: the functions run a few times a day (deploys, schedules) and log a few JSON lines each time. */
  functionLogGbIngested: 0.05,
  flowLogGbIngested: 5,
  /** The share of flow-log records a REJECT-only flow log keeps (refused connections are a small part of the traffic). */
  rejectedFlowShare: 0.1,
  s3GbPerBucket: 10,
  /** What each distribution serves a month: its data out to viewers and its requests. */
  cloudFrontGbOut: 100,
  cloudFrontRequests: 5_000_000,
  /**
   * The share of a distribution's requests whose body is over 16 KB (uploads, large forms and
   * Server Actions); each pays every further 16 KB step its web ACL inspects (an upper bound:
   * a body under the limit pays fewer).
   */
  wafLargeBodyShare: 0.01,
  /** Per account and region a baseline stack covers (its trail: per account). */
  baseline: {
    /** Management events (API calls) a month: deploys, the services' own calls, KMS. */
    managementEvents: 1_000_000,
    /** Object operations on the uploads buckets a month (data events the trail records where asked; GuardDuty analyses those of every bucket). */
    s3DataEvents: 1_000_000,
    /** VPC flow-log and DNS-log volume GuardDuty analyses a month. */
    flowAndDnsLogGb: 5,
    /** Fargate vCPUs Runtime Monitoring watches on average. */
    monitoredVcpus: 4,
    /** Security Hub control checks a month (about 50 resources, a few controls each, re-checked on change and daily). */
    securityHubChecks: 5_000,
    /** AWS Config configuration items recorded a month, and the evaluations of Security Hub's Config rules. */
    configurationItems: 1_000,
    configRuleEvaluations: 5_000,
  },
} as const;

/** The usage the estimate assumes: the defaults, or what a stage's profile changes. */
export type Usage = { -readonly [K in Exclude<keyof typeof ASSUMPTIONS, 'baseline'>]: number } & { readonly baseline: (typeof ASSUMPTIONS)['baseline'] };

/**
 * Where a stage's usage differs from the defaults. dev has no users: its load balancer sees a
 * developer's requests (a quarter of an LCU is still about 6 new connections a second all month),
 * its services log a quarter as much, and its flow log sees a fraction of the traffic.
 */
export const USAGE_BY_STAGE: Readonly<Record<string, Partial<Usage>>> = {
  dev: { albLcus: 0.25, logGbIngestedPerGroup: 0.25, flowLogGbIngested: 2, natGbProcessedPerGateway: 10, cloudFrontGbOut: 5, cloudFrontRequests: 200_000 },
};

/** The usage profile of a stage (the defaults for stages and accounts without one). */
export function usageFor(stage: string): Usage {
  return { ...ASSUMPTIONS, ...USAGE_BY_STAGE[stage] };
}

export function assumptionLines(): string[] {
  const a = ASSUMPTIONS;
  const profiles = Object.entries(USAGE_BY_STAGE).map(
    ([stage, u]) =>
      `${stage} differs: ${Object.entries(u)
        .map(([k, v]) => `${k} ${typeof v === 'number' ? fmt(v) : JSON.stringify(v)}`)
        .join(', ')} (USAGE_BY_STAGE in scripts/lib/cost.ts)`,
  );
  return [
    `load balancers average ${a.albLcus} LCU`,
    `each NAT gateway processes ${a.natGbProcessedPerGateway} GB a month`,
    `each log group ingests ${a.logGbIngestedPerGroup} GB a month, a project function's ${a.functionLogGbIngested} GB, the VPC flow-log group ${a.flowLogGbIngested} GB (${a.rejectedFlowShare * 100}% of that where it records rejected traffic only); stored for one month`,
    `each bucket holds ${a.s3GbPerBucket} GB in S3 Standard (requests and transfer not counted)`,
    `each CloudFront distribution serves ${a.cloudFrontGbOut} GB and ${fmt(a.cloudFrontRequests)} HTTPS requests a month, beyond its account's always-free 1 TB and 10 million requests; ${a.wafLargeBodyShare * 100}% of them carry a body over 16 KB, which its web ACL inspects beyond the free 16 KB`,
    'Fargate tasks run at their desired count all month; Lambda, Step Functions, restore tests, data transfer other than the backup copies, request charges and X-Ray traces ($5 per million recorded) are usage-based and not counted',
    "a month is 730 hours; on-demand list prices, no savings plans or reservations; CloudWatch's free tier (10 alarm metrics, 5 GB of logs) once per account and region",
    ...profiles,
    `account baseline, per account and region: ${fmt(a.baseline.managementEvents)} management events and ${fmt(a.baseline.s3DataEvents)} S3 object operations a month (the trail's first copy of management events is free; GuardDuty analyses both), ${a.baseline.flowAndDnsLogGb} GB of flow and DNS logs, ${a.baseline.monitoredVcpus} Fargate vCPUs under Runtime Monitoring, ${fmt(a.baseline.securityHubChecks)} Security Hub checks, ${fmt(a.baseline.configurationItems)} AWS Config items and ${fmt(a.baseline.configRuleEvaluations)} rule evaluations`,
  ];
}

const fmt = (n: number) => n.toLocaleString('en-US');

/**
 * CloudWatch's always-free tier, per account and region: 10 alarm metrics and 5 GB of log data
 * (ingestion, storage and Logs Insights scans) a month (aws.amazon.com/cloudwatch/pricing, "Free
 * tier"). Its 3 free dashboards hold at most 50 metrics each, fewer than the stage dashboard
 * shows: not counted.
 */
export const CLOUDWATCH_FREE_TIER = { alarmMetrics: 10, logGb: 5 } as const;

/** Types AWS does not charge for by themselves (their cost, if any, shows up elsewhere). */
const FREE_TYPES = new Set([
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
  // The edge's free parts: policies and the VPC origin cost nothing; the access logs' cost is their log group's ingestion.
  'AWS::CloudFront::VpcOrigin',
  'AWS::CloudFront::CachePolicy',
  'AWS::CloudFront::OriginRequestPolicy',
  'AWS::CloudFront::ResponseHeadersPolicy',
  'AWS::Logs::ResourcePolicy',
  'AWS::Logs::DeliverySource',
  'AWS::Logs::DeliveryDestination',
  'AWS::Logs::Delivery',
]);

/** Summary category of each line, by the start of its item. */
const CATEGORIES: [string, string][] = [
  ['Fargate', 'Fargate tasks'],
  ['Load balancer', 'Load balancers'],
  ['NAT gateway', 'NAT gateways'],
  ['EC2 instance', 'EC2 instances (NAT)'],
  ['Public IPv4', 'Public IPv4 addresses'],
  ['RDS-managed secret', 'Secrets'],
  ['RDS storage', 'RDS storage'],
  ['RDS', 'RDS instances'],
  ['Valkey', 'ElastiCache nodes'],
  ['KMS', 'KMS keys'],
  ['Secret', 'Secrets'],
  ['Alarm', 'CloudWatch alarms'],
  ['Dashboard', 'CloudWatch dashboards'],
  ['Hosted zone', 'Route 53'],
  ['WAF', 'WAF'],
  ['CloudFront', 'CloudFront'],
  ['Interface endpoint', 'VPC endpoints'],
  ['Logs', 'CloudWatch Logs'],
  ['S3', 'S3 storage'],
  ['CloudTrail', 'Account baseline'],
  ['GuardDuty', 'Account baseline'],
  ['Security Hub', 'Account baseline'],
  ['AWS Config', 'Account baseline'],
];

/** Lambda, custom resources and the custom-resource waiter cost per use; the project's run a few times a day. */
const USAGE_TYPES = new Set(['AWS::Lambda::Function', 'AWS::StepFunctions::StateMachine', 'AWS::Backup::RestoreTestingPlan', 'AWS::Backup::RestoreTestingSelection']);

export interface CostLine {
  /** What kind of cost, for the summary: "Fargate", "RDS", "NAT gateways", ... */
  readonly category: string;
  readonly item: string;
  readonly quantity: string;
  readonly monthlyUsd: number;
}

export interface StageCost {
  readonly stage: string;
  readonly lines: CostLine[];
  /** Monthly USD per category, largest first. */
  readonly byCategory: [string, number][];
  readonly totalUsd: number;
  /** "Type (count) in stack": resources with no price, never counted as 0. */
  readonly notPriced: string[];
  /** Types counted at 0 because they are billed by use (listed so nothing hides). */
  readonly usageBased: string[];
  readonly priceDates: string[];
}

export function loadPrices(region: string, dir = join(__dirname, '..', 'pricing')): PriceTable | undefined {
  const file = join(dir, `${region}.json`);
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as PriceTable) : undefined;
}

type Resources = NonNullable<Template['Resources']>;
type Props = Record<string, unknown>;

const round = (n: number) => Math.round(n * 100) / 100;

/** Estimates one stack; pure, so tests can check the arithmetic on a small template. */
export function estimateStack(
  template: Template,
  prices: PriceTable,
  usage: Usage = usageFor(''),
): { lines: CostLine[]; notPriced: Map<string, number>; usageBased: Map<string, number>; alarmMetrics: number; logGb: number } {
  const h = prices.hoursPerMonth;
  const resources: Resources = template.Resources ?? {};
  const lines: CostLine[] = [];
  const notPriced = new Map<string, number>();
  const usageBased = new Map<string, number>();
  const add = (item: string, quantity: string, monthlyUsd: number) =>
    lines.push({ category: CATEGORIES.find(([prefix]) => item.startsWith(prefix))?.[1] ?? item, item, quantity, monthlyUsd: round(monthlyUsd) });
  const countAs = (map: Map<string, number>, type: string) => map.set(type, (map.get(type) ?? 0) + 1);
  const b = usage.baseline;
  let alarmMetrics = 0;
  let logGb = 0;
  const functionLogGroups = referencedBy(resources, 'AWS::Lambda::Function', (p) => (p.LoggingConfig as Props | undefined)?.LogGroup);
  const flowLogGroups = referencedBy(resources, 'AWS::EC2::FlowLog', (p) => p.LogGroupName);

  for (const [id, resource] of Object.entries(resources)) {
    const p = (resource.Properties ?? {}) as Props;
    switch (resource.Type) {
      case 'AWS::ECS::Service': {
        const task = taskDefinitionOf(p, resources);
        if (!task) {
          countAs(notPriced, `${resource.Type} (task definition not in this stack)`);
          break;
        }
        const count = Number(p.DesiredCount ?? 1);
        const vcpu = Number(task.Cpu) / 1024;
        const gb = Number(task.Memory) / 1024;
        const arm = (task.RuntimePlatform as Props | undefined)?.CpuArchitecture === 'ARM64';
        const rate = arm ? prices.fargate.arm64VcpuHour * vcpu + prices.fargate.arm64GbHour * gb : prices.fargate.x86VcpuHour * vcpu + prices.fargate.x86GbHour * gb;
        const spot = spotTasks(p, count);
        const size = `${vcpu} vCPU / ${gb} GB ${arm ? 'ARM' : 'x86'}`;
        if (spot < count) add(`Fargate ${id}`, `${count - spot} x ${size}`, (count - spot) * rate * h);
        if (spot > 0) add(`Fargate ${id} (Spot)`, `${spot} x ${size}`, spot * rate * h * (1 - prices.fargate.spotDiscount));
        break;
      }
      case 'AWS::ElasticLoadBalancingV2::LoadBalancer':
        if (p.Type === 'network' || p.Type === 'gateway') countAs(notPriced, `${resource.Type} (${p.Type})`);
        else {
          add(`Load balancer ${id}`, `1 ALB + ${usage.albLcus} LCU`, (prices.alb.hour + prices.alb.lcuHour * usage.albLcus) * h);
          // An internet-facing load balancer holds a public IPv4 address in each of its subnets (AZs).
          const azs = Array.isArray(p.Subnets) ? p.Subnets.length : 0;
          if (p.Scheme !== 'internal' && azs > 0) add(`Public IPv4 ${id}`, `${azs} addresses (one per AZ)`, azs * prices.publicIpv4Hour * h);
        }
        break;
      case 'AWS::EC2::NatGateway':
        add(`NAT gateway ${id}`, `1 + ${usage.natGbProcessedPerGateway} GB`, prices.natGateway.hour * h + prices.natGateway.gbProcessed * usage.natGbProcessedPerGateway);
        break;
      case 'AWS::EC2::Instance': {
        const type = String(p.InstanceType);
        const hour = prices.ec2.instanceHour[type];
        if (hour === undefined) {
          countAs(notPriced, `${resource.Type} (${type})`);
          break;
        }
        const volumes = (p.BlockDeviceMappings ?? []) as { Ebs?: { VolumeSize?: number } }[];
        const gb = volumes.reduce((sum, v) => sum + Number(v.Ebs?.VolumeSize ?? 0), 0) || 8;
        const publicIp = ((p.NetworkInterfaces ?? []) as { AssociatePublicIpAddress?: boolean }[]).some((n) => n.AssociatePublicIpAddress === true);
        add(`EC2 instance ${id}`, `${type} + ${gb} GB gp3${publicIp ? ' + public IPv4' : ''}`, hour * h + gb * prices.ec2.gp3GbMonth + (publicIp ? prices.publicIpv4Hour * h : 0));
        break;
      }
      case 'AWS::CloudFront::Distribution':
      case 'AWS::CloudFront::Function': {
        const cf = prices.cloudFront;
        if (!cf) {
          countAs(notPriced, `${resource.Type} (no CloudFront prices in this table)`);
          break;
        }
        const requests = usage.cloudFrontRequests;
        if (resource.Type === 'AWS::CloudFront::Function') {
          // A viewer-request function runs on every request the distribution serves.
          const invocations = Math.max(0, requests - cf.freeFunctionInvocations);
          add(`CloudFront function ${id}`, `${fmt(requests)} invocations (free up to ${fmt(cf.freeFunctionInvocations)})`, (invocations / 1e6) * cf.functionInvocationsPerMillion);
          break;
        }
        const gb = Math.max(0, usage.cloudFrontGbOut - cf.freeGbMonth);
        const billed = Math.max(0, requests - cf.freeRequestsMonth);
        add(
          `CloudFront ${id}`,
          `${usage.cloudFrontGbOut} GB out, ${fmt(requests)} requests (free up to ${cf.freeGbMonth} GB, ${fmt(cf.freeRequestsMonth)})`,
          gb * cf.dataOutGb + (billed / 10_000) * cf.httpsRequestsPer10k,
        );
        break;
      }
      case 'AWS::EC2::EIP':
        add(`Public IPv4 ${id}`, '1 address', prices.publicIpv4Hour * h);
        break;
      case 'AWS::RDS::DBInstance': {
        const cls = String(p.DBInstanceClass);
        const hour = prices.rds.postgresInstanceHour[cls];
        if (hour === undefined || p.Engine !== 'postgres') {
          countAs(notPriced, `${resource.Type} (${p.Engine} ${cls})`);
          break;
        }
        const copies = p.MultiAZ === true || p.MultiAZ === 'true' ? 2 : 1;
        const storage = Number(p.AllocatedStorage ?? 20);
        add(`RDS ${id}`, `${cls}${copies === 2 ? ' Multi-AZ' : ''}`, copies * hour * h);
        add(`RDS storage ${id}`, `${storage} GB gp3${copies === 2 ? ' x 2' : ''}`, copies * storage * prices.rds.gp3GbMonth);
        if (p.ManageMasterUserPassword === true) add(`RDS-managed secret ${id}`, '1 secret', prices.secretMonth);
        break;
      }
      case 'AWS::ElastiCache::ReplicationGroup': {
        const node = String(p.CacheNodeType);
        const hour = prices.elasticache.valkeyNodeHour[node];
        if (hour === undefined || p.Engine !== 'valkey') {
          countAs(notPriced, `${resource.Type} (${p.Engine} ${node})`);
          break;
        }
        const nodes = Number(p.NumCacheClusters ?? 1);
        add(`Valkey ${id}`, `${nodes} x ${node}`, nodes * hour * h);
        break;
      }
      case 'AWS::KMS::Key':
        add(`KMS key ${id}`, '1 key', prices.kmsKeyMonth);
        break;
      case 'AWS::SecretsManager::Secret':
        add(`Secret ${id}`, '1 secret', prices.secretMonth);
        break;
      case 'AWS::CloudWatch::Alarm': {
        // CloudWatch bills alarm metrics: each metric a math alarm reads, three for an anomaly band.
        const metrics = p.ThresholdMetricId ? 3 : Math.max(1, ((p.Metrics ?? []) as { MetricStat?: unknown }[]).filter((m) => m.MetricStat).length);
        alarmMetrics += metrics;
        add(`Alarm ${id}`, `${metrics} alarm metric${metrics === 1 ? '' : 's'}`, metrics * prices.alarmMonth);
        break;
      }
      case 'AWS::CloudWatch::CompositeAlarm':
        add(`Alarm ${id}`, '1 composite alarm', prices.compositeAlarmMonth);
        break;
      case 'AWS::CloudWatch::Dashboard':
        add(`Dashboard ${id}`, '1 dashboard', prices.dashboardMonth);
        break;
      case 'AWS::Route53::HostedZone':
        add(`Hosted zone ${id}`, '1 zone (queries not counted)', prices.route53HostedZoneMonth);
        break;
      case 'AWS::WAFv2::WebACL': {
        const rules = Array.isArray(p.Rules) ? p.Rules.length : 0;
        add(`WAF ${id}`, `1 web ACL + ${rules} rules`, prices.waf.webAclMonth + rules * prices.waf.ruleMonth);
        // Behind CloudFront: the KB of a body the web ACL inspects; beyond the free 16 KB AWS charges
        // per request with a body that large, per further 16 KB (a load balancer's 8 KB is fixed).
        const limit = String(
          (p.AssociationConfig as { RequestBody?: Record<string, { DefaultSizeInspectionLimit?: string }> } | undefined)?.RequestBody?.CLOUDFRONT?.DefaultSizeInspectionLimit ??
            'KB_16',
        );
        const steps = Number(limit.replace('KB_', '')) / 16 - 1;
        if (steps > 0) {
          const large = usage.cloudFrontRequests * usage.wafLargeBodyShare;
          add(
            `WAF body inspection ${id}`,
            `${limit.replace('KB_', '')} KB: ${fmt(large)} requests over 16 KB x ${steps} further 16 KB`,
            (large / 1e6) * steps * prices.waf.bodyInspectionPer16KbPerMillion,
          );
        }
        break;
      }
      case 'AWS::EC2::VPCEndpoint':
        if (p.VpcEndpointType === 'Interface') {
          const azs = Array.isArray(p.SubnetIds) ? p.SubnetIds.length : 1;
          add(`Interface endpoint ${id}`, `${azs} AZ`, azs * prices.interfaceEndpointAzHour * h);
        }
        break;
      case 'AWS::Logs::LogGroup': {
        // A flow log's group: all traffic, or rejected traffic only (TrafficType REJECT).
        const flowLog = flowLogGroups.get(id);
        const gb = flowLog
          ? usage.flowLogGbIngested * (flowLog.TrafficType === 'REJECT' ? usage.rejectedFlowShare : 1)
          : functionLogGroups.has(id)
            ? usage.functionLogGbIngested
            : usage.logGbIngestedPerGroup;
        logGb += gb;
        add(`Logs ${id}`, `${gb} GB ingested`, gb * (prices.logs.ingestedGb + prices.logs.storedGbMonth));
        break;
      }
      case 'AWS::S3::Bucket':
        add(`S3 ${id}`, `${usage.s3GbPerBucket} GB`, usage.s3GbPerBucket * prices.s3.standardGbMonth);
        break;
      case 'AWS::CloudTrail::Trail': {
        // The first trail's management events are free; object-level (data) events are not.
        const selectors = JSON.stringify(p.AdvancedEventSelectors ?? p.EventSelectors ?? []);
        const dataEvents = /"Data"|AWS::S3::Object/.test(selectors) ? b.s3DataEvents : 0;
        add(`CloudTrail ${id}`, `management events (first copy, free) + ${fmt(dataEvents)} data events`, (dataEvents / 100_000) * prices.baseline.cloudTrailDataEventsPer100k);
        break;
      }
      case 'AWS::GuardDuty::Detector': {
        const g = prices.baseline.guardDuty;
        const features = (p.Features ?? []) as { Name?: string; Status?: string }[];
        const runtime = features.some((f) => f.Name === 'RUNTIME_MONITORING' && f.Status === 'ENABLED') ? b.monitoredVcpus : 0;
        add(
          `GuardDuty ${id}`,
          `${fmt(b.managementEvents)} events, ${fmt(b.s3DataEvents)} S3 events, ${b.flowAndDnsLogGb} GB logs, ${runtime} vCPU runtime`,
          (b.managementEvents / 1e6) * g.managementEventsPerMillion +
            (b.s3DataEvents / 1e6) * g.s3DataEventsPerMillion +
            b.flowAndDnsLogGb * g.flowAndDnsLogGb +
            runtime * g.fargateVcpuMonth,
        );
        break;
      }
      case 'AWS::SecurityHub::Hub':
        add(
          `Security Hub ${id}`,
          `${fmt(b.securityHubChecks)} checks + ${fmt(b.configRuleEvaluations)} Config rule evaluations`,
          b.securityHubChecks * prices.baseline.securityHubCheck + b.configRuleEvaluations * prices.baseline.config.ruleEvaluation,
        );
        break;
      case 'AWS::Config::ConfigurationRecorder':
        add(`AWS Config ${id}`, `${fmt(b.configurationItems)} configuration items`, b.configurationItems * prices.baseline.config.configurationItem);
        break;
      default:
        if (USAGE_TYPES.has(resource.Type)) countAs(usageBased, resource.Type);
        else if (!FREE_TYPES.has(resource.Type) && !resource.Type.startsWith('Custom::')) countAs(notPriced, resource.Type);
    }
  }
  return { lines, notPriced, usageBased, alarmMetrics, logGb };
}

function taskDefinitionOf(service: Props, resources: Resources): Props | undefined {
  const ref = service.TaskDefinition as { Ref?: string } | undefined;
  const def = ref?.Ref ? resources[ref.Ref] : undefined;
  return def?.Type === 'AWS::ECS::TaskDefinition' ? (def.Properties as Props) : undefined;
}

/**
 * How many of a service's `count` tasks run on Fargate Spot, as ECS places them: each provider's
 * base first, in order, then the rest split by weight.
 */
export function spotTasks(service: Props, count: number): number {
  const strategy = (service.CapacityProviderStrategy ?? []) as { CapacityProvider?: string; Weight?: number; Base?: number }[];
  if (!Array.isArray(strategy) || strategy.length === 0) return 0;
  let left = count;
  let spot = 0;
  for (const s of strategy) {
    const base = Math.min(left, Number(s.Base ?? 0));
    if (s.CapacityProvider === 'FARGATE_SPOT') spot += base;
    left -= base;
  }
  const weights = strategy.reduce((sum, s) => sum + Number(s.Weight ?? 0), 0);
  const spotWeight = strategy.filter((s) => s.CapacityProvider === 'FARGATE_SPOT').reduce((sum, s) => sum + Number(s.Weight ?? 0), 0);
  return spot + (weights > 0 ? Math.round((left * spotWeight) / weights) : 0);
}

/**
 * The logical ids that resources of `type` name with `Ref` at `pick` (a function's log group, a
 * flow log's), each with the properties of the resource naming it.
 */
function referencedBy(resources: Resources, type: string, pick: (p: Props) => unknown): Map<string, Props> {
  const ids = new Map<string, Props>();
  for (const r of Object.values(resources)) {
    if (r.Type !== type) continue;
    const props = (r.Properties ?? {}) as Props;
    const ref = pick(props) as { Ref?: string } | undefined;
    if (ref?.Ref) ids.set(ref.Ref, props);
  }
  return ids;
}

/** Estimates every stage of an assembly, each stack at its own region's prices. */
export function estimateAssembly(stacks: AssemblyStack[], pricesDir?: string, backupAssumptions: BackupAssumptions = BACKUP_ASSUMPTIONS): StageCost[] {
  const byStage = new Map<string, AssemblyStack[]>();
  // Stacks outside a stage (registry, CI access, baseline) are the account's: grouped by account.
  const groupOf = (stack: AssemblyStack) => stack.stage || `account ${stack.environment.split('/')[2] ?? '?'}`;
  for (const stack of stacks) byStage.set(groupOf(stack), [...(byStage.get(groupOf(stack)) ?? []), stack]);
  // CloudWatch's free tier is the account's: given once per account and region, to the stage there
  // (or the account's own stacks where no stage runs).
  const freeTierTaken = new Set<string>();
  return [...byStage].map(([stage, members]) => {
    const usage = new Map<string, { alarmMetrics: number; logGb: number; prices: PriceTable }>();
    const lines: CostLine[] = [];
    const notPriced: string[] = [];
    const usageBased: string[] = [];
    const dates = new Set<string>();
    for (const stack of members) {
      const region = stack.environment.split('/').pop()!;
      const prices = loadPrices(region, pricesDir);
      if (!prices) {
        const count = Object.keys(stack.template.Resources ?? {}).length;
        notPriced.push(`all ${count} resources of ${stack.stackName}: no price table for ${region} in scripts/pricing/`);
        continue;
      }
      dates.add(`${region} ${prices.date}`);
      const estimate = estimateStack(stack.template, prices, usageFor(stack.stage));
      lines.push(...estimate.lines.map((l) => ({ ...l, item: `${stack.stackName}: ${l.item}` })));
      const place = stack.environment.replace('aws://', '');
      const used = usage.get(place) ?? { alarmMetrics: 0, logGb: 0, prices };
      usage.set(place, { alarmMetrics: used.alarmMetrics + estimate.alarmMetrics, logGb: used.logGb + estimate.logGb, prices });
      for (const [type, count] of estimate.notPriced) notPriced.push(`${type} x${count} in ${stack.stackName}`);
      for (const [type, count] of estimate.usageBased) usageBased.push(`${type} x${count} in ${stack.stackName}`);
    }
    for (const [place, used] of usage) {
      const stageHere = stacks.some((st) => st.stage && st.environment.endsWith(place));
      if (freeTierTaken.has(place) || (stageHere && !members.some((m) => m.stage))) continue;
      freeTierTaken.add(place);
      const metrics = Math.min(CLOUDWATCH_FREE_TIER.alarmMetrics, used.alarmMetrics);
      const gb = Math.min(CLOUDWATCH_FREE_TIER.logGb, used.logGb);
      if (metrics + gb > 0) {
        lines.push({
          category: 'CloudWatch free tier',
          item: `${stage}: CloudWatch free tier in ${place}`,
          quantity: `${metrics} alarm metrics, ${round(gb)} GB of logs`,
          monthlyUsd: -round(metrics * used.prices.alarmMonth + gb * used.prices.logs.ingestedGb),
        });
      }
    }
    // What the stage's backups and copies hold, across its stacks and regions.
    if (members.some((m) => m.stage)) {
      const backups = estimateBackups(members, (region) => loadPrices(region, pricesDir), backupAssumptions);
      lines.push(...backups.lines.map((l) => ({ ...l, item: `${stage}: ${l.item}` })));
      notPriced.push(...backups.notPriced);
    }
    const categories = new Map<string, number>();
    for (const line of lines) categories.set(line.category, (categories.get(line.category) ?? 0) + line.monthlyUsd);
    const byCategory = [...categories].map(([c, v]) => [c, round(v)] as [string, number]).sort((a, b) => b[1] - a[1]);
    return { stage, lines, byCategory, totalUsd: round(lines.reduce((sum, l) => sum + l.monthlyUsd, 0)), notPriced, usageBased, priceDates: [...dates] };
  });
}
