import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type * as rds from 'aws-cdk-lib/aws-rds';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { main, run } from '../../scripts/cost';
import { readAssembly } from '../../scripts/lib/assembly';
import { estimateAssembly, estimateStack, USAGE_BY_STAGE, usageFor } from '../../scripts/lib/cost';
import { runsPerMonth } from '../../scripts/lib/pricing/dumps';
import { spotTasks } from '../../scripts/lib/pricing/fargate';
import { loadPrices, type PriceTable } from '../../scripts/lib/pricing/table';
import { printed } from '../support/console';
import { synthAssembly } from '../support/synth';

/** Round numbers so the expectations below can be computed by hand. */
const PRICES: PriceTable = {
  region: 'test-1',
  date: '2026-01-01',
  source: 'test',
  hoursPerMonth: 100,
  fargate: { arm64VcpuHour: 0.04, arm64GbHour: 0.01, x86VcpuHour: 0.05, x86GbHour: 0.02, spotDiscount: 0.75 },
  alb: { hour: 0.02, lcuHour: 0.01 },
  natGateway: { hour: 0.05, gbProcessed: 0.1 },
  publicIpv4Hour: 0.005,
  rds: { postgresInstanceHour: { 'db.t4g.micro': 0.02 }, gp3GbMonth: 0.1 },
  elasticache: { valkeyNodeHour: { 'cache.t4g.micro': 0.01 } },
  kmsKeyMonth: 1,
  secretMonth: 0.4,
  alarmMonth: 0.1,
  compositeAlarmMonth: 0.5,
  dashboardMonth: 3,
  route53HostedZoneMonth: 0.5,
  waf: { webAclMonth: 5, ruleMonth: 1, bodyInspectionPer16KbPerMillion: 0.3 },
  interfaceEndpointAzHour: 0.01,
  logs: { ingestedGb: 0.5, storedGbMonth: 0.1 },
  s3: { standardGbMonth: 0.02 },
  ec2: { instanceHour: { 't4g.nano': 0.004 }, gp3GbMonth: 0.08 },
  backup: { rdsSnapshotGbMonth: 0.1, interRegionTransferGb: 0.02 },
  baseline: {
    cloudTrailDataEventsPer100k: 0.1,
    guardDuty: { managementEventsPerMillion: 4, s3DataEventsPerMillion: 1, flowAndDnsLogGb: 1, fargateVcpuMonth: 2 },
    securityHubCheck: 0.001,
    config: { configurationItem: 0.003, ruleEvaluation: 0.001 },
  },
};

const FIXTURE = {
  Resources: {
    Web: { Type: 'AWS::ECS::Service', Properties: { DesiredCount: 2, TaskDefinition: { Ref: 'WebTask' } } },
    WebTask: { Type: 'AWS::ECS::TaskDefinition', Properties: { Cpu: '1024', Memory: '2048', RuntimePlatform: { CpuArchitecture: 'ARM64' } } },
    Worker: {
      Type: 'AWS::ECS::Service',
      Properties: { DesiredCount: 1, TaskDefinition: { Ref: 'WorkerTask' }, CapacityProviderStrategy: [{ CapacityProvider: 'FARGATE_SPOT', Weight: 1 }] },
    },
    WorkerTask: { Type: 'AWS::ECS::TaskDefinition', Properties: { Cpu: '512', Memory: '1024', RuntimePlatform: { CpuArchitecture: 'X86_64' } } },
    Alb: { Type: 'AWS::ElasticLoadBalancingV2::LoadBalancer', Properties: { Type: 'application' } },
    AlbHttps: { Type: 'AWS::ElasticLoadBalancingV2::Listener', Properties: { LoadBalancerArn: { Ref: 'Alb' }, DefaultActions: [{ Type: 'forward', TargetGroupArn: 'web' }] } },
    Nat: { Type: 'AWS::EC2::NatGateway', Properties: {} },
    Ip: { Type: 'AWS::EC2::EIP', Properties: {} },
    Db: {
      Type: 'AWS::RDS::DBInstance',
      Properties: { Engine: 'postgres', DBInstanceClass: 'db.t4g.micro', MultiAZ: true, AllocatedStorage: '20', ManageMasterUserPassword: true },
    },
    Cache: { Type: 'AWS::ElastiCache::ReplicationGroup', Properties: { Engine: 'valkey', CacheNodeType: 'cache.t4g.micro', NumCacheClusters: 2 } },
    Key: { Type: 'AWS::KMS::Key', Properties: {} },
    Token: { Type: 'AWS::SecretsManager::Secret', Properties: {} },
    Alarm: { Type: 'AWS::CloudWatch::Alarm', Properties: {} },
    MathAlarm: { Type: 'AWS::CloudWatch::Alarm', Properties: { Metrics: [{ Expression: 'a + b + c' }, { MetricStat: {} }, { MetricStat: {} }, { MetricStat: {} }] } },
    BandAlarm: { Type: 'AWS::CloudWatch::Alarm', Properties: { ThresholdMetricId: 'band', Metrics: [{ Expression: 'ANOMALY_DETECTION_BAND(m0, 3)' }, { MetricStat: {} }] } },
    NatInstance: {
      Type: 'AWS::EC2::Instance',
      Properties: { InstanceType: 't4g.nano', BlockDeviceMappings: [{ Ebs: { VolumeSize: 8 } }], NetworkInterfaces: [{ AssociatePublicIpAddress: true }] },
    },
    Composite: { Type: 'AWS::CloudWatch::CompositeAlarm', Properties: {} },
    Acl: { Type: 'AWS::WAFv2::WebACL', Properties: { Rules: [{}, {}, {}] } },
    Endpoint: { Type: 'AWS::EC2::VPCEndpoint', Properties: { VpcEndpointType: 'Interface', SubnetIds: ['a', 'b'] } },
    Gateway: { Type: 'AWS::EC2::VPCEndpoint', Properties: { VpcEndpointType: 'Gateway' } },
    AppLogs: { Type: 'AWS::Logs::LogGroup', Properties: {} },
    Bucket: { Type: 'AWS::S3::Bucket', Properties: {} },
    Vpc: { Type: 'AWS::EC2::VPC', Properties: {} },
    Fn: { Type: 'AWS::Lambda::Function', Properties: {} },
    Queue: { Type: 'AWS::SQS::Queue', Properties: {} },
    Other: { Type: 'AWS::SQS::Queue', Properties: {} },
  },
};

describe('arithmetic on a small template', () => {
  const { lines, notPriced, usageBased } = estimateStack(FIXTURE, PRICES);
  const cost = (item: string) => lines.find((l) => l.item === item)?.monthlyUsd;

  test.each([
    // 2 tasks x (1 vCPU x 0.04 + 2 GB x 0.01) x 100 h
    ['Fargate Web', 12],
    // 1 task x (0.5 x 0.05 + 1 x 0.02) x 100 h x (1 - 0.75)
    ['Fargate Worker (Spot)', 1.13],
    // (0.02 + 1 LCU x 0.01) x 100
    ['Load balancer Alb', 3],
    // 0.05 x 100 + 50 GB x 0.1
    ['NAT gateway Nat', 10],
    ['Public IPv4 Ip', 0.5],
    // Multi-AZ doubles: 2 x 0.02 x 100
    ['RDS Db', 4],
    // 2 x 20 GB x 0.1
    ['RDS storage Db', 4],
    ['RDS-managed secret Db', 0.4],
    // 2 nodes x 0.01 x 100
    ['Valkey Cache', 2],
    ['KMS key Key', 1],
    ['Secret Token', 0.4],
    ['Alarm Alarm', 0.1],
    // CloudWatch bills alarm metrics: three metrics read by the math, three for an anomaly band
    ['Alarm MathAlarm', 0.3],
    ['Alarm BandAlarm', 0.3],
    // 0.004 x 100 h + 8 GB x 0.08 + a public address 0.005 x 100 h
    ['EC2 instance NatInstance', 1.54],
    ['Alarm Composite', 0.5],
    // 5 + 3 rules x 1
    ['WAF Acl', 8],
    // 2 AZ x 0.01 x 100
    ['Interface endpoint Endpoint', 2],
    // 1 GB x (0.5 + 0.1)
    ['Logs AppLogs', 0.6],
    // 10 GB x 0.02
    ['S3 Bucket', 0.2],
  ])('%s costs $%s', (item, expected) => {
    expect(cost(item)).toBe(expected);
  });

  test('a gateway endpoint and a VPC are free; nothing else is silently 0', () => {
    expect(lines.find((l) => l.item.includes('Gateway'))).toBeUndefined();
    expect(lines).toHaveLength(20);
  });

  test('unknown types are listed as not priced, usage-based ones as such', () => {
    expect([...notPriced]).toEqual([['AWS::SQS::Queue', 2]]);
    expect([...usageBased]).toEqual([['AWS::Lambda::Function', 1]]);
  });
});

describe('the line items the edge and the cost levers added, on a small template', () => {
  const prices: PriceTable = {
    ...PRICES,
    cloudFront: {
      dataOutGb: 0.1,
      httpsRequestsPer10k: 0.01,
      freeGbMonth: 1000,
      freeRequestsMonth: 10_000_000,
      functionInvocationsPerMillion: 0.1,
      freeFunctionInvocations: 2_000_000,
    },
  };
  const template = {
    Resources: {
      // 4 tasks: the first on Fargate (base), the other 3 on Spot.
      Worker: {
        Type: 'AWS::ECS::Service',
        Properties: {
          DesiredCount: 4,
          TaskDefinition: { Ref: 'WorkerTask' },
          CapacityProviderStrategy: [
            { CapacityProvider: 'FARGATE', Base: 1, Weight: 0 },
            { CapacityProvider: 'FARGATE_SPOT', Weight: 1 },
          ],
        },
      },
      WorkerTask: { Type: 'AWS::ECS::TaskDefinition', Properties: { Cpu: '1024', Memory: '1024', RuntimePlatform: { CpuArchitecture: 'ARM64' } } },
      PublicAlb: { Type: 'AWS::ElasticLoadBalancingV2::LoadBalancer', Properties: { Type: 'application', Scheme: 'internet-facing', Subnets: ['a', 'b', 'c'] } },
      InternalAlb: { Type: 'AWS::ElasticLoadBalancingV2::LoadBalancer', Properties: { Type: 'application', Scheme: 'internal', Subnets: ['a', 'b', 'c'] } },
      PublicHttps: {
        Type: 'AWS::ElasticLoadBalancingV2::Listener',
        Properties: { LoadBalancerArn: { Ref: 'PublicAlb' }, DefaultActions: [{ Type: 'forward', TargetGroupArn: 'web' }] },
      },
      Site: { Type: 'AWS::CloudFront::Distribution', Properties: {} },
      AllowList: { Type: 'AWS::CloudFront::Function', Properties: {} },
      Flow: { Type: 'AWS::EC2::FlowLog', Properties: { TrafficType: 'REJECT', LogGroupName: { Ref: 'FlowGroup' } } },
      FlowGroup: { Type: 'AWS::Logs::LogGroup', Properties: {} },
      Fn: { Type: 'AWS::Lambda::Function', Properties: { LoggingConfig: { LogGroup: { Ref: 'FnLogs' } } } },
      FnLogs: { Type: 'AWS::Logs::LogGroup', Properties: {} },
      Origin: { Type: 'AWS::CloudFront::VpcOrigin', Properties: {} },
      Delivery: { Type: 'AWS::Logs::Delivery', Properties: {} },
      EdgeAcl: { Type: 'AWS::WAFv2::WebACL', Properties: { Rules: [], AssociationConfig: { RequestBody: { CLOUDFRONT: { DefaultSizeInspectionLimit: 'KB_64' } } } } },
      FreeEdgeAcl: { Type: 'AWS::WAFv2::WebACL', Properties: { Rules: [], AssociationConfig: { RequestBody: { CLOUDFRONT: { DefaultSizeInspectionLimit: 'KB_16' } } } } },
      RegionalAcl: { Type: 'AWS::WAFv2::WebACL', Properties: { Rules: [] } },
    },
  };
  const cost = (usage: Parameters<typeof estimateStack>[2]) => {
    const { lines, notPriced } = estimateStack(template, prices, usage);
    expect([...notPriced]).toEqual([]);
    return (item: string) => lines.find((l) => l.item === item)?.monthlyUsd;
  };

  test.each([
    // 1 task x (1 vCPU x 0.04 + 1 GB x 0.01) x 100 h on Fargate; 3 of them on Spot at a quarter of that
    ['Fargate Worker', 5],
    ['Fargate Worker (Spot)', 3.75],
    // an internet-facing load balancer holds an address per AZ: 3 x 0.005 x 100 h; an internal one none
    ['Public IPv4 PublicAlb', 1.5],
    ['Public IPv4 InternalAlb', undefined],
    // the default 100 GB and 5 million requests are inside the free 1,000 GB and 10 million
    ['CloudFront Site', 0],
    // 5 million invocations, 2 million free: 3 x 0.1
    ['CloudFront function AllowList', 0.3],
    // 5 GB of flow logs x 10% for rejected traffic only, x (0.5 + 0.1)
    ['Logs FlowGroup', 0.3],
    // a function's group: 0.05 GB x 0.6
    ['Logs FnLogs', 0.03],
    // 64 KB inspected: 1% of 5 million requests x 3 further 16 KB x 0.3 per million
    ['WAF body inspection EdgeAcl', 0.05],
    // 16 KB (free), and a load balancer's fixed 8 KB: no line
    ['WAF body inspection FreeEdgeAcl', undefined],
    ['WAF body inspection RegionalAcl', undefined],
  ])('%s costs $%s with the default usage', (item, expected) => {
    expect(cost(undefined)(item)).toBe(expected);
  });

  test("a stage's usage profile changes only what it names: traffic beyond CloudFront's free tier, fewer LCUs", () => {
    const priced = cost({ ...usageFor(''), cloudFrontGbOut: 1500, cloudFrontRequests: 30_000_000, albLcus: 0.5 });
    // (1,500 - 1,000) GB x 0.1 + (30M - 10M) / 10,000 x 0.01
    expect(priced('CloudFront Site')).toBe(70);
    // (30M - 2M free) invocations x 0.1 per million
    expect(priced('CloudFront function AllowList')).toBe(2.8);
    // 1% of 30M requests x 3 further 16 KB x 0.3 per million
    expect(priced('WAF body inspection EdgeAcl')).toBe(0.27);
    // (0.02 + 0.5 LCU x 0.01) x 100
    expect(priced('Load balancer PublicAlb')).toBe(2.5);
    expect(priced('Fargate Worker')).toBe(5);
    expect(usageFor('dev')).toMatchObject(USAGE_BY_STAGE.dev);
    expect(usageFor('prod')).toEqual(usageFor(''));
  });

  test('Spot placement follows ECS: bases first, then weights', () => {
    const strategy = (s: unknown[]) => ({ CapacityProviderStrategy: s });
    expect(spotTasks(strategy([{ CapacityProvider: 'FARGATE_SPOT', Weight: 1 }]), 3)).toBe(3);
    expect(spotTasks(strategy([{ CapacityProvider: 'FARGATE', Weight: 1 }]), 3)).toBe(0);
    expect(spotTasks({}, 3)).toBe(0);
    expect(
      spotTasks(
        strategy([
          { CapacityProvider: 'FARGATE', Base: 2, Weight: 0 },
          { CapacityProvider: 'FARGATE_SPOT', Weight: 1 },
        ]),
        1,
      ),
    ).toBe(0);
    expect(
      spotTasks(
        strategy([
          { CapacityProvider: 'FARGATE', Base: 1, Weight: 1 },
          { CapacityProvider: 'FARGATE_SPOT', Weight: 3 },
        ]),
        5,
      ),
    ).toBe(3);
  });

  test('a load balancer that forwards nothing (the idle DR one) is priced without LCUs; one that forwards, with them', () => {
    const listener = (actions: unknown[]) => ({ Type: 'AWS::ElasticLoadBalancingV2::Listener', Properties: { LoadBalancerArn: { Ref: 'Alb' }, DefaultActions: actions } });
    const template = (resources: Record<string, unknown>) => ({
      Resources: { Alb: { Type: 'AWS::ElasticLoadBalancingV2::LoadBalancer', Properties: { Scheme: 'internal' } }, ...resources },
    });
    const monthly = (resources: Record<string, unknown>) =>
      estimateStack(template(resources), PRICES, { ...usageFor('staging'), albLcus: 2 }).lines.find((l) => l.item === 'Load balancer Alb');
    const fixed = [{ Type: 'fixed-response', FixedResponseConfig: { StatusCode: '503' } }];
    expect(monthly({ Https: listener(fixed) })).toMatchObject({ quantity: '1 ALB, idle (forwards nothing)', monthlyUsd: 2 });
    expect(monthly({ Https: listener([{ Type: 'forward', TargetGroupArn: 'x' }]) })).toMatchObject({ quantity: '1 ALB + 2 LCU', monthlyUsd: 4 });
    const rule = { Type: 'AWS::ElasticLoadBalancingV2::ListenerRule', Properties: { ListenerArn: { Ref: 'Https' }, Actions: [{ Type: 'forward', TargetGroupArn: 'x' }] } };
    expect(monthly({ Https: listener(fixed), Web: rule })).toMatchObject({ quantity: '1 ALB + 2 LCU', monthlyUsd: 4 });
  });

  test('a table without CloudFront prices leaves the distribution not priced, never $0', () => {
    const { notPriced } = estimateStack({ Resources: { Site: { Type: 'AWS::CloudFront::Distribution', Properties: {} } } }, PRICES);
    expect([...notPriced]).toEqual([['AWS::CloudFront::Distribution (no CloudFront prices in this table)', 1]]);
  });
});

describe("CloudWatch's free tier", () => {
  const dir = mkdtempSync(join(tmpdir(), 'prices-'));
  writeFileSync(join(dir, 'test-1.json'), JSON.stringify(PRICES));
  const stack = (stackName: string, stage: string, resources: Record<string, unknown>) =>
    ({ stage, stackName, environment: 'aws://111111111111/test-1', template: { Resources: resources } }) as never;
  const alarms = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`Alarm${i}`, { Type: 'AWS::CloudWatch::Alarm', Properties: {} }]));

  test('is taken once per account and region, by the stage there: 10 alarm metrics and 5 GB of logs at most', () => {
    const costs = estimateAssembly(
      [
        stack('test-Ops', 'test', { ...alarms(12), Logs: { Type: 'AWS::Logs::LogGroup', Properties: {} }, MoreLogs: { Type: 'AWS::Logs::LogGroup', Properties: {} } }),
        stack('Baseline-111111111111-test-1', '', { ...alarms(3) }),
      ],
      dir,
    );
    const free = (group: string) => costs.find((c) => c.stage === group)!.lines.filter((l) => l.category === 'CloudWatch free tier');
    // 10 of 15 alarm metrics x 0.1 + 2 GB (1 GB a group) x 0.5, for the stage; nothing again for the account's stacks
    expect(free('test')).toEqual([
      { category: 'CloudWatch free tier', item: 'test: CloudWatch free tier in 111111111111/test-1', quantity: '10 alarm metrics, 2 GB of logs', monthlyUsd: -2 },
    ]);
    expect(free('account 111111111111')).toEqual([]);
  });
});

describe('the account baseline on a small template', () => {
  // The stated usage (ASSUMPTIONS.baseline): 1M management events, 1M S3 object operations, 5 GB
  // of flow and DNS logs, 4 vCPUs under Runtime Monitoring, 5,000 checks, 1,000 configuration
  // items, 5,000 Config rule evaluations.
  const template = {
    Resources: {
      Trail: { Type: 'AWS::CloudTrail::Trail', Properties: { AdvancedEventSelectors: [{ FieldSelectors: [{ Field: 'eventCategory', Equals: ['Data'] }] }] } },
      PlainTrail: { Type: 'AWS::CloudTrail::Trail', Properties: {} },
      Detector: { Type: 'AWS::GuardDuty::Detector', Properties: { Features: [{ Name: 'RUNTIME_MONITORING', Status: 'ENABLED' }] } },
      QuietDetector: { Type: 'AWS::GuardDuty::Detector', Properties: { Features: [{ Name: 'RUNTIME_MONITORING', Status: 'DISABLED' }] } },
      Hub: { Type: 'AWS::SecurityHub::Hub', Properties: {} },
      Recorder: { Type: 'AWS::Config::ConfigurationRecorder', Properties: {} },
      Standard: { Type: 'AWS::SecurityHub::Standard', Properties: {} },
      Channel: { Type: 'AWS::Config::DeliveryChannel', Properties: {} },
      Filter: { Type: 'AWS::Logs::MetricFilter', Properties: {} },
      Analyzer: { Type: 'AWS::AccessAnalyzer::Analyzer', Properties: {} },
    },
  };
  const { lines, notPriced } = estimateStack(template, PRICES);
  const cost = (item: string) => lines.find((l) => l.item === item)?.monthlyUsd;

  test.each([
    // 1M data events / 100k x 0.1; management events: the first copy is free
    ['CloudTrail Trail', 1],
    ['CloudTrail PlainTrail', 0],
    // 1M x 4/M + 1M x 1/M + 5 GB x 1 + 4 vCPU x 2
    ['GuardDuty Detector', 18],
    ['GuardDuty QuietDetector', 10],
    // 5,000 x 0.001 + 5,000 x 0.001
    ['Security Hub Hub', 10],
    // 1,000 x 0.003
    ['AWS Config Recorder', 3],
  ])('%s costs $%s', (item, expected) => {
    expect(cost(item)).toBe(expected);
  });

  test('the standard, delivery channel, metric filters and analyzer cost nothing by themselves', () => {
    expect(lines).toHaveLength(6);
    expect([...notPriced]).toEqual([]);
    expect(new Set(lines.map((l) => l.category))).toEqual(new Set(['Account baseline']));
  });
});

describe('the dumps', () => {
  test('a schedule fires daily, or weekly where it names a day of the week', () => {
    expect(runsPerMonth('cron(0 2 * * ? *)')).toBeCloseTo(365 / 12);
    expect(runsPerMonth('cron(0 6 ? * SAT *)')).toBeCloseTo(52 / 12);
    expect(runsPerMonth('cron(0 6 1 * ? *)')).toBe(1);
    expect(runsPerMonth('rate(1 day)')).toBe(0);
  });

  test("a bucket of dumps holds a dump a night for its retention, its replication crosses each night's dump, and each scheduled task's runs are Fargate time", () => {
    const usage = { ...usageFor(''), dumpGb: 2, dumpTaskMinutes: 30 };
    const input = { 'Fn::Join': ['', ['{"Cluster":"', { 'Fn::GetAtt': ['Cluster', 'Arn'] }, '","TaskDefinition":"webapp-x-dump-task","LaunchType":"FARGATE"}']] };
    const template = {
      Resources: {
        Dumps: {
          Type: 'AWS::S3::Bucket',
          Properties: { LifecycleConfiguration: { Rules: [{ Id: 'expire-dumps', ExpirationInDays: 10 }] }, ReplicationConfiguration: { Rules: [] } },
        },
        Other: { Type: 'AWS::S3::Bucket', Properties: {} },
        Task: { Type: 'AWS::ECS::TaskDefinition', Properties: { Family: 'webapp-x-dump-task', Cpu: '1024', Memory: '2048', RuntimePlatform: { CpuArchitecture: 'ARM64' } } },
        Nightly: { Type: 'AWS::Scheduler::Schedule', Properties: { ScheduleExpression: 'cron(0 2 * * ? *)', Target: { Input: input } } },
        Weekly: { Type: 'AWS::Scheduler::Schedule', Properties: { ScheduleExpression: 'cron(0 6 ? * SAT *)', Target: { Input: input } } },
      },
    };
    const { lines, notPriced } = estimateStack(template, PRICES, usage);
    expect([...notPriced]).toEqual([]);
    const cost = (item: string) => lines.find((l) => l.item === item)?.monthlyUsd;
    // 10 dumps of 2 GB at $0.02; 365/12 dumps of 2 GB at $0.02 across regions.
    expect(cost('S3 Dumps')).toBe(0.4);
    expect(cost('S3 replication of Dumps')).toBe(Math.round((365 / 12) * 2 * 0.02 * 100) / 100);
    expect(cost('S3 Other')).toBe(usage.s3GbPerBucket * 0.02);
    // Half an hour of 1 vCPU ($0.04) and 2 GB ($0.01 each) per run.
    expect(cost('Fargate runs of Nightly')).toBe(Math.round((365 / 12) * 0.5 * 0.06 * 100) / 100);
    expect(cost('Fargate runs of Weekly')).toBe(Math.round((52 / 12) * 0.5 * 0.06 * 100) / 100);
  });
  test("a job's log group (tasks no service runs write to it) ingests like a function's; a service's as any group", () => {
    const container = (group: string) => ({ LogConfiguration: { Options: { 'awslogs-group': { Ref: group } } } });
    const template = {
      Resources: {
        JobLogs: { Type: 'AWS::Logs::LogGroup', Properties: {} },
        ServiceLogs: { Type: 'AWS::Logs::LogGroup', Properties: {} },
        Job: { Type: 'AWS::ECS::TaskDefinition', Properties: { ContainerDefinitions: [container('JobLogs')] } },
        Web: { Type: 'AWS::ECS::TaskDefinition', Properties: { ContainerDefinitions: [container('ServiceLogs')] } },
        Shared: { Type: 'AWS::ECS::TaskDefinition', Properties: { ContainerDefinitions: [container('ServiceLogs')] } },
        Service: { Type: 'AWS::ECS::Service', Properties: { TaskDefinition: { Ref: 'Web' } } },
      },
    };
    const usage = usageFor('');
    const { lines } = estimateStack(template, PRICES, usage);
    expect(lines.find((l) => l.item === 'Logs JobLogs')?.quantity).toBe(`${usage.functionLogGbIngested} GB ingested`);
    expect(lines.find((l) => l.item === 'Logs ServiceLogs')?.quantity).toBe(`${usage.logGbIngestedPerGroup} GB ingested`);
  });
});

describe('cost of the real app', () => {
  let work: string;
  let assembly: string;
  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), 'cost-'));
    assembly = synthAssembly(join(work, 'base'));
  });
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  test('every stage lands in its documented range, with every resource type known', () => {
    const costs = estimateAssembly(readAssembly(assembly));
    const total = Object.fromEntries(costs.map((c) => [c.stage, c.totalUsd]));
    // Ranges documented in README.md ("Reviewing and shipping changes").
    expect(total.dev).toBeGreaterThan(50);
    expect(total.dev).toBeLessThan(150);
    expect(total.staging).toBeGreaterThan(250);
    expect(total.staging).toBeLessThan(600);
    expect(total.prod).toBeGreaterThan(400);
    expect(total.prod).toBeLessThan(1200);
    for (const c of costs) expect(c.notPriced, c.stage).toEqual([]);
    // The viewer-request function runs on every request of every stage; the web ACL inspects 64 KB of a body.
    const line = (stage: string, item: string) => costs.find((c) => c.stage === stage)!.lines.filter((l) => l.item.startsWith(`${stage}-Edge: ${item}`));
    expect(line('dev', 'CloudFront function').map((l) => l.monthlyUsd)).toEqual([0]);
    expect(line('dev', 'WAF body inspection')).toEqual([]);
    for (const stage of ['staging', 'prod']) {
      expect(line(stage, 'CloudFront function').map((l) => l.monthlyUsd)).toEqual([0.3]);
      expect(line(stage, 'WAF body inspection').map((l) => [l.quantity, l.monthlyUsd])).toEqual([['64 KB: 50,000 requests over 16 KB x 3 further 16 KB', 0.05]]);
    }
  });

  test("the DR stack is priced at its own region's prices", () => {
    const prod = estimateAssembly(readAssembly(assembly)).find((c) => c.stage === 'prod')!;
    expect(prod.priceDates).toEqual(['eu-west-1 2026-11-22', 'eu-central-1 2026-11-22', 'us-east-1 2026-12-01']);
    const replicaKey = prod.lines.find((l) => l.item === 'prod-Dr: KMS key UploadsReplicaKey133A8F9C');
    expect(replicaKey?.monthlyUsd).toBe(loadPrices('eu-central-1')!.kmsKeyMonth);
  });

  test('--base prints the change per stage: a bigger prod database', () => {
    const head = synthAssembly(join(work, 'head'), {
      variant: 'bigger-prod-database',
      change: (stages) => {
        const prod = stages.find((s) => s.stageName === 'prod')!;
        (prod.data.database.instance.node.defaultChild as rds.CfnDBInstance).dbInstanceClass = 'db.m7g.xlarge';
      },
    });
    const { output, exitCode } = run(['--assembly', head, '--base', assembly]);
    expect(exitCode).toBe(0);
    const prices = loadPrices('eu-west-1')!.rds.postgresInstanceHour;
    // Multi-AZ: two instances of the bigger class for 730 hours.
    const delta = (2 * 730 * (prices['db.m7g.xlarge'] - prices['db.m7g.large'])).toFixed(2);
    expect(output).toMatch(new RegExp(`^prod\\s+\\$[\\d.]+\\s+\\$[\\d.]+\\s+\\+\\$${delta.replace('.', '\\.')}$`, 'm'));
    expect(output).toMatch(/^dev\s+\$[\d.]+\s+\$[\d.]+\s+\+\$0\.00$/m);
    expect(output).toMatch(new RegExp(`^RDS instances\\s+\\$[\\d.]+\\s+\\+\\$${delta.replace('.', '\\.')}$`, 'm'));
  });

  test('a corrupt assembly exits 2 with a message on stderr, from the script too, without a stack trace; an estimate goes to stdout', async () => {
    const corrupt = join(work, 'corrupt');
    cpSync(assembly, corrupt, { recursive: true });
    writeFileSync(join(corrupt, 'assembly-prod', 'manifest.json'), '{ not json');
    const { output, exitCode } = run(['--assembly', corrupt]);
    expect(exitCode).toBe(2);
    expect(output).toMatch(/^cost: .* is a corrupt cloud assembly: the manifest .* is not JSON/);
    const refused = await printed(() => main(['--assembly', corrupt]));
    expect(refused).toMatchObject({ result: 2, stdout: '' });
    expect(refused.stderr).toMatch(/^cost: .* is a corrupt cloud assembly/);
    const ok = await printed(() => main(['--assembly', assembly]));
    expect(ok).toMatchObject({ result: 0, stderr: '' });
    expect(ok.stdout).toMatch(/^Monthly cost estimate \(USD\)/);
    // The command as people run it: main's exit code becomes the process's.
    const cli = spawnSync(process.execPath, ['--import', 'tsx', join(__dirname, '..', '..', 'scripts', 'cost.ts'), '--assembly', corrupt], { encoding: 'utf8' });
    expect(cli.status).toBe(2);
    expect(cli.stdout).toBe('');
    expect(cli.stderr).toMatch(/^cost: .* is a corrupt cloud assembly/);
    expect(cli.stderr).not.toMatch(/\n\s+at /);
  });

  test('markdown output is a table with the assumptions stated', () => {
    const { output } = run(['--assembly', assembly, '--format', 'markdown']);
    expect(output).toContain('| stage | monthly |');
    expect(output).toContain('Assumptions:');
    expect(output).toContain('each NAT gateway processes 50 GB a month');
  });
});

describe('bad arguments exit 2', () => {
  test.each([
    [[], /--assembly is required/],
    [['--assembly', '/does/not/exist'], /is not a folder/],
    [['--assembly', '.', '--format', 'csv'], /--format must be text or markdown/],
    [['--assembly', '.', '--budget'], /unknown argument "--budget"/],
  ])('%j', (argv, message) => {
    const { output, exitCode } = run(argv);
    expect(exitCode).toBe(2);
    expect(output).toMatch(message);
  });
});
