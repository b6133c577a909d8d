import { describe, expect, test } from 'vitest';
import { ORIGIN_FACING } from '../../lib/app/origin-facing';
import { COLLECTOR_PORTS } from '../../lib/app/otel/collector-config';
import { LISTS_WITH_REPEATS, parseStageConfig, STAGE_NAMES, STAGES, type StageConfig, type StageConfigInput, type StageName } from '../../lib/config';
import { APP_REGIONS, AWS_REGIONS, RDS_INSTANCE_CLASSES, regionPartition, zonesOf } from '../../lib/config/aws-catalog';
import { fieldPaths, listPaths } from '../../lib/config/context-keys';
import { rdsClassMemoryGiB } from '../../lib/config/instance-class';

/** A shipped stage definition with the schema's defaults filled in, changed by `mutate`. */
function variant(stage: StageName, mutate: (c: StageConfig) => void): StageConfigInput {
  const copy = structuredClone(parseStageConfig(STAGES[stage]));
  mutate(copy);
  return copy;
}

function errorOf(input: StageConfigInput): string {
  try {
    parseStageConfig(input);
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error('expected the configuration to be rejected');
}

describe('shipped stage definitions', () => {
  test.each(STAGE_NAMES)('%s is valid', (name) => {
    const config = parseStageConfig(STAGES[name]);
    expect(config.name).toBe(name);
  });

  test('sizing follows the documented defaults', () => {
    const dev = parseStageConfig(STAGES.dev);
    expect(dev.web).toMatchObject({ cpu: 256, memoryLimitMiB: 512, desiredCount: 1, useSpot: true });
    expect(dev.database).toMatchObject({ instanceClass: 't4g.micro', multiAz: false });
    const prod = parseStageConfig(STAGES.prod);
    expect(prod.web).toMatchObject({ cpu: 1024, memoryLimitMiB: 2048, minCapacity: 2, maxCapacity: 10, useSpot: false });
    expect(prod.database).toMatchObject({ multiAz: true, deletionProtection: true });
    expect(prod.network.azCount).toBe(3);
    const staging = parseStageConfig(STAGES.staging);
    // staging is prod's shape at about 80% of its capacity
    expect(staging.web.maxCapacity / prod.web.maxCapacity).toBeCloseTo(0.8, 1);
  });
});

const ELEVEN_EMAILS = Array.from({ length: 11 }, (_, i) => `oncall${i}@example.com`);

// Each row: what is wrong, the stage, the change, then the field, the value and the fix the message must name.
const badConfigs: [string, StageName, (c: StageConfig) => void, string, string, RegExp][] = [
  [
    'malformed account id',
    'dev',
    (c) => {
      c.account = '12345';
    },
    'account',
    '"12345"',
    /exactly 12 digits/,
  ],
  [
    'region that is not a region',
    'dev',
    (c) => {
      c.region = 'europe-west';
    },
    'region',
    '"europe-west"',
    /not an AWS region \(lib\/config\/aws-catalog\.ts\)\. Fix: use e\.g\. "eu-west-1"; the closest are/,
  ],
  [
    'region that does not exist',
    'prod',
    (c) => {
      c.drRegion = 'eu-west-9';
    },
    'drRegion',
    '"eu-west-9"',
    /not an AWS region.*the closest are "eu-west-1", "eu-west-2", "eu-west-3"/,
  ],
  [
    "a region behind CloudFront without a pinned id of CloudFront's origin-facing prefix list",
    'staging',
    (c) => {
      c.region = 'ap-east-1';
    },
    'region',
    '"ap-east-1"',
    /no id of CloudFront's origin-facing prefix list \(com\.amazonaws\.global\.cloudfront\.origin-facing\) is pinned for ap-east-1 in lib\/app\/origin-facing-prefix-lists\.json.*Fix: add "ap-east-1" with the id aws ec2 describe-managed-prefix-lists --region ap-east-1 --filters Name=prefix-list-name,Values=com\.amazonaws\.global\.cloudfront\.origin-facing/,
  ],
  [
    'a DMARC policy that quarantines mail, with nobody reading the reports',
    'staging',
    (c) => {
      c.email.dmarcReportsTo = undefined;
    },
    'email.dmarcReportsTo',
    'undefined',
    /unset, while email\.dmarcPolicy "quarantine" has receivers quarantine mail that claims staging\.example\.com and fails DMARC.*Fix: set email\.dmarcReportsTo to a mailbox that reads aggregate reports, e\.g\. "dmarc@example\.com" \(an address under another domain needs the record staging\.example\.com\._report\._dmarc\.<that domain> published there\), or set email\.dmarcPolicy: "none"$/,
  ],
  [
    "prod's DMARC policy that rejects mail, with nobody reading the reports",
    'prod',
    (c) => {
      c.email.dmarcPolicy = 'reject';
      c.email.dmarcReportsTo = undefined;
    },
    'email.dmarcReportsTo',
    'undefined',
    /has receivers refuse mail that claims app\.example\.com .*Fix: set email\.dmarcReportsTo .*published there\)$/,
  ],
  [
    'DR region equal to the primary',
    'staging',
    (c) => {
      c.drRegion = c.region;
    },
    'drRegion',
    '"eu-west-1"',
    /regional outage.*Fix: pick another region/,
  ],
  [
    'CIDR that is no CIDR',
    'dev',
    (c) => {
      c.network.cidr = '10.0.0.0';
    },
    'network.cidr',
    '"10.0.0.0"',
    /not an IPv4 CIDR block\. Fix:/,
  ],
  [
    'CIDR wider than /16',
    'dev',
    (c) => {
      c.network.cidr = '10.0.0.0/8';
    },
    'network.cidr',
    '"10.0.0.0/8"',
    /must be \/16 to \/24 \(got \/8\)/,
  ],
  [
    'CIDR narrower than /24',
    'dev',
    (c) => {
      c.network.cidr = '10.0.0.0/28';
    },
    'network.cidr',
    '"10.0.0.0/28"',
    /must be \/16 to \/24 \(got \/28\)/,
  ],
  [
    'CIDR with host bits set',
    'dev',
    (c) => {
      c.network.cidr = '10.0.1.0/16';
    },
    'network.cidr',
    '"10.0.1.0/16"',
    /host bits are set.*Fix: use "10\.0\.0\.0\/16"/,
  ],
  [
    'CIDR octet above 255',
    'dev',
    (c) => {
      c.network.cidr = '10.300.0.0/16';
    },
    'network.cidr',
    '"10.300.0.0/16"',
    /octet is above 255/,
  ],
  [
    'more NAT gateways than AZs',
    'dev',
    (c) => {
      c.network.natGateways = 3;
    },
    'network.natGateways',
    '3',
    /Fix: use 1 to 2/,
  ],
  [
    'no NAT gateway',
    'dev',
    (c) => {
      c.network.natGateways = 0;
    },
    'network.natGateways',
    '0',
    /need a NAT gateway.*Fix: use 1 or more/,
  ],
  [
    'AZ of another region',
    'dev',
    (c) => {
      c.network.availabilityZones = ['eu-west-1a', 'us-east-1b'];
    },
    'network.availabilityZones',
    '["eu-west-1a","us-east-1b"]',
    /us-east-1b is not a zone of eu-west-1/,
  ],
  [
    'min tasks above max',
    'staging',
    (c) => {
      c.web.minCapacity = 9;
    },
    'web.minCapacity',
    '9',
    /minCapacity \(9\) is above maxCapacity \(8\)\. Fix: lower minCapacity or raise maxCapacity/,
  ],
  [
    'desired count outside min..max',
    'dev',
    (c) => {
      c.worker.desiredCount = 5;
    },
    'worker.desiredCount',
    '5',
    /between minCapacity \(1\) and maxCapacity \(2\)/,
  ],
  [
    'CPU Fargate does not offer',
    'dev',
    (c) => {
      c.web.cpu = 300;
    },
    'web.cpu',
    '300',
    /Fargate does not offer 300 CPU units\. Fix: use one of 256, 512, 1024/,
  ],
  [
    'memory Fargate does not offer with that CPU',
    'dev',
    (c) => {
      c.web.memoryLimitMiB = 4096;
    },
    'web.memoryLimitMiB',
    '4096',
    /4096 MiB with 256 CPU units\. Fix: use one of 512, 1024, 2048/,
  ],
  [
    'memory off the 1 GB steps',
    'prod',
    (c) => {
      c.worker.memoryLimitMiB = 1536;
    },
    'worker.memoryLimitMiB',
    '1536',
    /Fix: use one of 1024, 2048, 3072, 4096$/,
  ],
  [
    'memory outside a wide range',
    'prod',
    (c) => {
      c.web.cpu = 2048;
      c.web.memoryLimitMiB = 2048;
    },
    'web.memoryLimitMiB',
    '2048',
    /Fix: use one of 4096 to 16384 in steps of 1024$/,
  ],
  [
    'prod without Multi-AZ',
    'prod',
    (c) => {
      c.database.multiAz = false;
    },
    'database.multiAz',
    'false',
    /prod must run the database Multi-AZ.*Fix: set database.multiAz: true/,
  ],
  [
    'prod without deletion protection',
    'prod',
    (c) => {
      c.database.deletionProtection = false;
    },
    'database.deletionProtection',
    'false',
    /Fix: set database.deletionProtection: true/,
  ],
  [
    'prod that would not keep its data',
    'prod',
    (c) => {
      c.retainOnDelete = false;
    },
    'retainOnDelete',
    'false',
    /Fix: set retainOnDelete: true/,
  ],
  [
    'prod without HTTPS',
    'prod',
    (c) => {
      c.https = false;
    },
    'https',
    'false',
    /prod must serve HTTPS/,
  ],
  [
    'prod without a cache replica',
    'prod',
    (c) => {
      c.cache.replicas = 0;
    },
    'cache.replicas',
    '0',
    /Fix: set cache.replicas: 1 or more/,
  ],
  [
    'prod alarms to nobody',
    'prod',
    (c) => {
      c.alarms.emails = [];
    },
    'alarms',
    '{"emails":[],"httpsEndpoints":[]}',
    /would reach nobody/,
  ],
  [
    'backup retention 0',
    'dev',
    (c) => {
      c.database.backupRetentionDays = 0;
    },
    'database.backupRetentionDays',
    '0',
    /at least 1 day\. Fix: use 1 to 35/,
  ],
  [
    'backup retention 36',
    'prod',
    (c) => {
      c.database.backupRetentionDays = 36;
    },
    'database.backupRetentionDays',
    '36',
    /at most 35 days\. Fix: use 1 to 35/,
  ],
  [
    'storage ceiling below initial storage',
    'dev',
    (c) => {
      c.database.maxAllocatedStorageGiB = 10;
    },
    'database.maxAllocatedStorageGiB',
    '10',
    /RDS refuses an autoscaling ceiling less than 10% above the allocated 20 GiB.*Fix: set it to 22 or more/,
  ],
  [
    'storage ceiling less than 10% above the initial storage (RDS refuses it)',
    'staging',
    (c) => {
      c.database.maxAllocatedStorageGiB = 54;
    },
    'database.maxAllocatedStorageGiB',
    '54',
    /less than 10% above the allocated 50 GiB.*Fix: set it to 55 or more/,
  ],
  [
    'storage so large that no ceiling is 10% above it',
    'prod',
    (c) => {
      c.database.allocatedStorageGiB = 60000;
      c.database.maxAllocatedStorageGiB = 65536;
    },
    'database.maxAllocatedStorageGiB',
    '65536',
    /Fix: lower allocatedStorageGiB to 59578 or less \(the ceiling is at most 65536\)/,
  ],
  [
    'engine that is not PostgreSQL 16 or 17',
    'dev',
    (c) => {
      c.database.engineVersion = '15.4';
    },
    'database.engineVersion',
    '"15.4"',
    /PostgreSQL 16 or 17 minor version/,
  ],
  [
    'instance class with the db. prefix',
    'dev',
    (c) => {
      c.database.instanceClass = 'db.t4g.micro';
    },
    'database.instanceClass',
    '"db.t4g.micro"',
    /without its "db\." prefix/,
  ],
  [
    'HTTPS stage without a domain',
    'staging',
    (c) => {
      delete c.domain;
    },
    'domain',
    'undefined',
    /https is on but no domain is set.*Fix: set domain/,
  ],
  [
    'record outside the hosted zone',
    'staging',
    (c) => {
      c.domain!.recordName = 'staging.example.org';
    },
    'domain.recordName',
    '"staging.example.org"',
    /outside the hosted zone staging\.example\.com/,
  ],
  [
    'stage zone outside its parent',
    'prod',
    (c) => {
      c.domain!.zoneName = 'app.example.org';
      c.domain!.recordName = 'app.example.org';
    },
    'domain.zoneName',
    '"app.example.org"',
    /not a subdomain of the parent zone example\.com.*Fix: use a name ending in \.example\.com, e\.g\. "prod\.example\.com"/,
  ],
  [
    'malformed hosted zone id',
    'staging',
    (c) => {
      c.domain!.hostedZoneId = 'zone-1';
    },
    'domain.hostedZoneId',
    '"zone-1"',
    /not a Route 53 hosted zone id/,
  ],
  [
    'image tag that would expire',
    'staging',
    (c) => {
      c.image.tag = 'pr-42';
    },
    'image.tag',
    '"pr-42"',
    /matches the expiring tag pattern "pr-\*": the image could expire while the stage runs it\. Fix: deploy a release tag or a sha256: digest/,
  ],
  [
    'expiring pattern that matches every tag',
    'dev',
    (c) => {
      c.image.expiringTagPatterns = ['*'];
    },
    'image.expiringTagPatterns.0',
    '"*"',
    /would expire every tag, releases included/,
  ],
  [
    'expiring pattern that selects the release tags',
    'dev',
    (c) => {
      c.image.expiringTagPatterns = ['pr-*', 'rel*'];
    },
    'image.expiringTagPatterns.1',
    '"rel*"',
    /selects the release tags \(release-\*\), which the first lifecycle rule keeps: it could never expire them, and says otherwise\. Fix: name the builds' own prefix/,
  ],
  [
    'GitHub repository without an owner',
    'dev',
    (c) => {
      c.ci.repository = 'webapp-platform';
    },
    'ci.repository',
    '"webapp-platform"',
    /not a GitHub repository "owner\/name"/,
  ],
  [
    'image source that is not an account',
    'dev',
    (c) => {
      c.image.source.account = 'staging';
    },
    'image.source.account',
    '"staging"',
    /exactly 12 digits/,
  ],
  [
    'image tag with a space',
    'dev',
    (c) => {
      c.image.tag = 'v1 beta';
    },
    'image.tag',
    '"v1 beta"',
    /neither an image tag nor a "sha256:" digest/,
  ],
  [
    'digest that is too short',
    'prod',
    (c) => {
      c.image.tag = 'sha256:abc123';
    },
    'image.tag',
    '"sha256:abc123"',
    /neither an image tag nor a "sha256:" digest/,
  ],
  [
    'invalid alarm email',
    'staging',
    (c) => {
      c.alarms.emails = ['oncall-at-example.com'];
    },
    'alarms.emails.0',
    '"oncall-at-example.com"',
    /not an email address/,
  ],
  [
    'more alarm emails than AWS Budgets notifies',
    'staging',
    (c) => {
      c.alarms.emails = ELEVEN_EMAILS;
    },
    'alarms.emails',
    JSON.stringify(ELEVEN_EMAILS),
    /at most 10 email addresses.*Fix: list at most 10/,
  ],
  [
    'database class RDS does not have',
    'dev',
    (c) => {
      c.database.instanceClass = 'x2g.large';
    },
    'database.instanceClass',
    '"x2g.large"',
    /not an RDS for PostgreSQL instance class.*Fix: use e\.g\. "m7g\.large"/,
  ],
  [
    'database size that does not exist',
    'prod',
    (c) => {
      c.database.instanceClass = 'm7g.3xlarge';
    },
    'database.instanceClass',
    '"m7g.3xlarge"',
    /not an RDS for PostgreSQL instance class.*closest are "m7g\.2xlarge"/,
  ],
  [
    'database family without its processor letter',
    'prod',
    (c) => {
      c.database.instanceClass = 'm8.large';
    },
    'database.instanceClass',
    '"m8.large"',
    /not an RDS for PostgreSQL instance class.*"m8g\.large"/,
  ],
  [
    'cache node type that does not exist',
    'staging',
    (c) => {
      c.cache.nodeType = 'cache.x99.gigantic';
    },
    'cache.nodeType',
    '"cache.x99.gigantic"',
    /not an ElastiCache node type that runs Valkey/,
  ],
  [
    'engine minor RDS does not have',
    'dev',
    (c) => {
      c.database.engineVersion = '17.999';
    },
    'database.engineVersion',
    '"17.999"',
    /not a PostgreSQL minor version RDS accepts new instances on.*Fix: use e\.g\. "17\.6"/,
  ],
  [
    'engine minor past its standard support',
    'dev',
    (c) => {
      c.database.engineVersion = '17.2';
    },
    'database.engineVersion',
    '"17.2"',
    /not a PostgreSQL minor version RDS accepts new instances on/,
  ],
  [
    'the same AZ twice',
    'dev',
    (c) => {
      c.network.availabilityZones = ['eu-west-1a', 'eu-west-1a'];
    },
    'network.availabilityZones.1',
    '"eu-west-1a"',
    /"eu-west-1a" is listed twice: each zone once\. Fix: remove the second one/,
  ],
  [
    'the same alarm email twice',
    'staging',
    (c) => {
      c.alarms.emails = ['a@example.com', 'a@example.com'];
    },
    'alarms.emails.1',
    '"a@example.com"',
    /listed twice: each address once/,
  ],
  [
    'the same alarm endpoint twice',
    'staging',
    (c) => {
      c.alarms.httpsEndpoints = ['https://x.example.com/h', 'https://x.example.com/h'];
    },
    'alarms.httpsEndpoints.1',
    '"https://x.example.com/h"',
    /listed twice: each endpoint once/,
  ],
  [
    'a public VPC block',
    'dev',
    (c) => {
      c.network.cidr = '8.8.0.0/16';
    },
    'network.cidr',
    '"8.8.0.0/16"',
    /is not a private block.*Fix: use a block inside 10\.0\.0\.0\/8, 172\.16\.0\.0\/12, 192\.168\.0\.0\/16/,
  ],
  [
    'a block just outside 172.16.0.0/12',
    'dev',
    (c) => {
      c.network.cidr = '172.32.0.0/16';
    },
    'network.cidr',
    '"172.32.0.0/16"',
    /is not a private block/,
  ],
  [
    'zero percent',
    'dev',
    (c) => {
      c.operations.ecsCpuPercent = 0;
    },
    'operations.ecsCpuPercent',
    '0',
    /must be above 0\. Fix: use a value above 0 and at most 100/,
  ],
  [
    '5xx alarm above 100%',
    'prod',
    (c) => {
      c.operations.http5xxRatePercent = 150;
    },
    'operations.http5xxRatePercent',
    '150',
    /at most 100\. Fix: use a value above 0 and at most 100/,
  ],
  [
    'negative alarm threshold',
    'dev',
    (c) => {
      c.operations.rdsLatencySeconds = -1;
    },
    'operations.rdsLatencySeconds',
    '-1',
    /must be above 0\. Fix: use a number of seconds above 0/,
  ],
  [
    'unknown operations field',
    'dev',
    (c) => {
      (c.operations as Record<string, unknown>).cpuPercent = 80;
    },
    'operations.cpuPercent',
    '80',
    /unknown field/,
  ],
  [
    'prod behind a NAT instance',
    'prod',
    (c) => {
      c.network.nat = 'instance';
    },
    'network.nat',
    '"instance"',
    /prod must not lose its egress \(image pulls, AWS APIs\) to one failed instance\. Fix: set network\.nat: "gateway"/,
  ],
  [
    'prod recording rejected connections only',
    'prod',
    (c) => {
      c.network.flowLogs = 'rejected';
    },
    'network.flowLogs',
    '"rejected"',
    /prod must keep a record of every connection for investigations\. Fix: set network\.flowLogs: "all"/,
  ],
  [
    'prod without its SLO alarms',
    'prod',
    (c) => {
      c.operations.slo = { ...c.operations.slo, enabled: false };
    },
    'operations.slo.enabled',
    'false',
    /prod must page when its error budget burns\. Fix: set operations\.slo\.enabled: true/,
  ],
  [
    'prod web tasks on Spot',
    'prod',
    (c) => {
      c.web.useSpot = true;
    },
    'web.useSpot',
    'true',
    /prod must not lose web capacity to Spot reclaims mid-request\. Fix: set web\.useSpot: false/,
  ],
  [
    'prod workers all on Spot',
    'prod',
    (c) => {
      c.worker.onDemandBase = 0;
    },
    'worker.onDemandBase',
    '0',
    /a Spot reclaim must never stop every prod worker at once\. Fix: set worker\.onDemandBase: 1 or more/,
  ],
  [
    'prod without CloudFront in front',
    'prod',
    (c) => {
      c.edge = { ...c.edge, enabled: false };
    },
    'edge.enabled',
    'false',
    /prod must serve through CloudFront, its load balancer unreachable from the internet\. Fix: set edge\.enabled: true/,
  ],
  [
    'a cache behaviour path that is not a path pattern',
    'staging',
    (c) => {
      c.edge = { ...c.edge, immutablePaths: ['_next/static/*'] };
    },
    'edge.immutablePaths.0',
    '"_next/static/*"',
    /not a CloudFront path pattern\. Fix: write it like "\/_next\/static\/\*"/,
  ],
  [
    'a NAT instance type that is not a small Graviton',
    'dev',
    (c) => {
      c.network.natInstanceType = 'm5.large';
    },
    'network.natInstanceType',
    '"m5.large"',
    /a NAT instance here is a burstable Graviton type\. Fix: use t4g\.nano, t4g\.micro, t4g\.small or t4g\.medium/,
  ],
  [
    'tracing that samples nothing',
    'staging',
    (c) => {
      c.app.tracing.sampleRatio = 0;
    },
    'app.tracing.sampleRatio',
    '0',
    /a ratio of 0 records no trace while the collector runs for nothing\. Fix: use a ratio above 0/,
  ],
  [
    'a sampling ratio above every trace',
    'prod',
    (c) => {
      c.app.tracing.sampleRatio = 2;
    },
    'app.tracing.sampleRatio',
    '2',
    /a ratio is at most 1 \(every trace\)\. Fix: use 0\.01 to 1/,
  ],
  [
    'an availability objective no budget can meet',
    'staging',
    (c) => {
      c.operations.slo.availabilityPercent = 99.999;
    },
    'operations.slo.availabilityPercent',
    '99.999',
    /a budget under 0\.01% is exhausted by a handful of failed requests\. Fix: use 90 to 99\.99/,
  ],
  [
    'an availability objective that allows days of errors',
    'dev',
    (c) => {
      c.operations.slo.availabilityPercent = 80;
    },
    'operations.slo.availabilityPercent',
    '80',
    /leaves more than 3 days of errors a month\. Fix: use 90 to 99\.99/,
  ],
  [
    'a latency objective over most requests',
    'dev',
    (c) => {
      c.operations.slo.latencyPercent = 40;
    },
    'operations.slo.latencyPercent',
    '40',
    /says nothing about most requests\. Fix: use 50 to 99\.9/,
  ],
  [
    'a latency threshold of a minute',
    'prod',
    (c) => {
      c.operations.slo.latencyThresholdMs = 60000;
    },
    'operations.slo.latencyThresholdMs',
    '60000',
    /more than 30 s is not a latency objective\. Fix: use 10 to 30000 ms/,
  ],
  [
    'prod without an audit trail or an organisation trail',
    'prod',
    (c) => {
      c.baseline.trail.enabled = false;
      c.baseline.trail.uploadsDataEvents = false;
    },
    'baseline.trail.enabled',
    'false',
    /prod must have an audit trail of its account\. Fix: set baseline\.trail\.enabled: true, or name the organisation trail/,
  ],
  [
    'prod keeping its trail less than a year',
    'prod',
    (c) => {
      c.baseline.trail.retentionDays = 180;
    },
    'baseline.trail.retentionDays',
    '180',
    /prod must keep its audit trail at least a year\. Fix: set baseline\.trail\.retentionDays: 365 or more/,
  ],
  [
    'prod log files without Object Lock',
    'prod',
    (c) => {
      c.baseline.trail.objectLock = 'off';
    },
    'baseline.trail.objectLock',
    '"off"',
    /prod must keep its log files under S3 Object Lock, .*\. Fix: set baseline\.trail\.objectLock: "governance" where the trail bucket does not exist yet \(it is created locked\), or "locked-bucket" where the trail already runs \(it moves to a bucket created with the lock; the first bucket keeps what it holds\)/,
  ],
  [
    'a trail of its own and an organisation trail',
    'staging',
    (c) => {
      c.baseline.trail.organizationTrail = 'arn:aws:cloudtrail:eu-west-1:999999999999:trail/org';
    },
    'baseline.trail.organizationTrail',
    '"arn:aws:cloudtrail:eu-west-1:999999999999:trail/org"',
    /two copies of its management events\. Fix: set baseline\.trail\.enabled: false, or drop organizationTrail/,
  ],
  [
    'Security Hub without a recorder',
    'staging',
    (c) => {
      c.baseline.configRecorder = 'off';
    },
    'baseline.configRecorder',
    '"off"',
    /Security Hub evaluates its controls on AWS Config recordings, and none would exist\. Fix: set baseline\.configRecorder: "stack"/,
  ],
  [
    'trail log files expiring before they are archived',
    'staging',
    (c) => {
      c.baseline.trail.archiveAfterDays = 365;
    },
    'baseline.trail.archiveAfterDays',
    '365',
    /would expire \(after 365 days\) before they are archived\. Fix: use fewer days than baseline\.trail\.retentionDays/,
  ],
  [
    'data events without the trail',
    'dev',
    (c) => {
      c.baseline.trail.enabled = false;
      c.baseline.trail.uploadsDataEvents = true;
    },
    'baseline.trail.uploadsDataEvents',
    'true',
    /data events need the trail, which is off\. Fix: set baseline\.trail\.enabled: true/,
  ],
  [
    'a trail kept less than CloudTrail keeps its event history',
    'dev',
    (c) => {
      c.baseline.trail.retentionDays = 30;
    },
    'baseline.trail.retentionDays',
    '30',
    /should outlive the 90 days of event history\. Fix: use 90 or more/,
  ],
  [
    'prod without DR copies of its backups',
    'prod',
    (c) => {
      c.backup.drCopies = false;
      c.backup.automatedBackupReplicationDays = 0;
    },
    'backup.drCopies',
    'false',
    /prod must keep copies of its backups outside its region\. Fix: set backup\.drCopies: true/,
  ],
  [
    'replicated backups without the DR stack',
    'dev',
    (c) => {
      c.backup.automatedBackupReplicationDays = 7;
    },
    'backup.automatedBackupReplicationDays',
    '7',
    /need the DR stack's key.*Fix: set backup\.drCopies: true, or set this to 0/,
  ],
  [
    'no pre-deploy snapshot kept',
    'staging',
    (c) => {
      c.backup.preDeploySnapshotsKept = 0;
    },
    'backup.preDeploySnapshotsKept',
    '0',
    /release's own snapshot must be kept\. Fix: use 1 to 50/,
  ],
  [
    'more pre-deploy snapshots than the quota allows',
    'prod',
    (c) => {
      c.backup.preDeploySnapshotsKept = 80;
    },
    'backup.preDeploySnapshotsKept',
    '80',
    /quota of 100 per region\. Fix: use 1 to 50/,
  ],
  [
    'DR copies that would fill the manual-snapshot quota',
    'prod',
    (c) => {
      c.backup.drCopyRetentionDays = 90;
    },
    'backup.drCopyRetentionDays',
    '90',
    /eu-central-1 would hold 105 manual DB snapshots \(90 daily recovery points, 10 pre-deploy snapshots, 5 spare\) but the quota is 100\. Fix: keep at most 85 days.*raise the quota in Service Quotas and set backup\.manualSnapshotQuota/,
  ],
  [
    'daily backups that would fill the manual-snapshot quota',
    'staging',
    (c) => {
      c.backup.planRetentionDays = 95;
    },
    'backup.planRetentionDays',
    '95',
    /eu-west-1 would hold 105 manual DB snapshots/,
  ],
  [
    'a compliance lock in dev',
    'dev',
    (c) => {
      c.backup.vaultLock = { mode: 'compliance', changeableForDays: 3 };
    },
    'backup.vaultLock.mode',
    '"compliance"',
    /cannot be undone after its grace period, and dev is a throw-away stage.*Fix: use mode "governance"/,
  ],
  [
    'a compliance lock without a grace period',
    'prod',
    (c) => {
      c.backup.vaultLock = { mode: 'compliance' };
    },
    'backup.vaultLock.changeableForDays',
    'undefined',
    /compliance mode needs a grace period.*Fix: set changeableForDays \(3 or more\)/,
  ],
  [
    'a governance lock with a grace period',
    'staging',
    (c) => {
      c.backup.vaultLock = { mode: 'governance', changeableForDays: 7 };
    },
    'backup.vaultLock.changeableForDays',
    '7',
    /turns the lock into compliance mode, permanent after 7 days\. Fix: drop changeableForDays/,
  ],
  [
    'a grace period under 3 days',
    'prod',
    (c) => {
      c.backup.vaultLock = { mode: 'compliance', changeableForDays: 1 };
    },
    'backup.vaultLock.changeableForDays',
    '1',
    /at least 3 days\. Fix: use 3 or more/,
  ],
  [
    'a break-glass role that is not a role name',
    'prod',
    (c) => {
      c.backup.breakGlassRoleName = 'arn:aws:iam::333333333333:role/x';
    },
    'backup.breakGlassRoleName',
    '"arn:aws:iam::333333333333:role/x"',
    /not an IAM role name/,
  ],
  [
    'a plain-HTTP stage open to everyone',
    'dev',
    (c) => {
      delete c.app.httpAllowedCidrs;
    },
    'app.httpAllowedCidrs',
    'undefined',
    /dev serves plain HTTP, which must not be open to the internet\. Fix: list the client blocks/,
  ],
  [
    'a plain-HTTP stage admitting 0.0.0.0/0',
    'dev',
    (c) => {
      c.app.httpAllowedCidrs = ['198.51.100.0/24', '0.0.0.0/0'];
    },
    'app.httpAllowedCidrs.1',
    '"0.0.0.0/0"',
    /admits the whole internet\. Fix: list the public blocks of your office or VPN only/,
  ],
  [
    'a client block with an octet above 255',
    'dev',
    (c) => {
      c.app.httpAllowedCidrs = ['198.51.300.0/24'];
    },
    'app.httpAllowedCidrs.0',
    '"198.51.300.0/24"',
    /an octet is above 255\. Fix: write it like "198\.51\.100\.0\/24"/,
  ],
  [
    'a client block with host bits set',
    'dev',
    (c) => {
      c.app.httpAllowedCidrs = ['198.51.100.7/24'];
    },
    'app.httpAllowedCidrs.0',
    '"198.51.100.7/24"',
    /host bits are set: the block starts at 198\.51\.100\.0\/24\. Fix: use "198\.51\.100\.0\/24"/,
  ],
  [
    'a client block with a prefix above 32',
    'dev',
    (c) => {
      c.app.httpAllowedCidrs = ['198.51.100.7/33'];
    },
    'app.httpAllowedCidrs.0',
    '"198.51.100.7/33"',
    /an IPv4 prefix is at most \/32 \(got \/33\)/,
  ],
  [
    'a client block that is no CIDR',
    'dev',
    (c) => {
      c.app.httpAllowedCidrs = ['my office'];
    },
    'app.httpAllowedCidrs.0',
    '"my office"',
    /not an IPv4 CIDR block/,
  ],
  [
    'an authentication path that is no path',
    'prod',
    (c) => {
      c.app.wafAuthPaths = ['api/auth'];
    },
    'app.wafAuthPaths.0',
    '"api/auth"',
    /not an absolute URL path\. Fix: write it like "\/api\/auth\/"/,
  ],
  [
    'no authentication path',
    'prod',
    (c) => {
      c.app.wafAuthPaths = [];
    },
    'app.wafAuthPaths',
    '[]',
    /needs at least one path/,
  ],
  [
    'an upload path with a ".." segment (WAF compares paths byte for byte)',
    'prod',
    (c) => {
      c.app.wafLargeBodyPaths = ['/api/uploads/../files'];
    },
    'app.wafLargeBodyPaths.0',
    '"/api/uploads/../files"',
    /is not a normalised path .*byte for byte.* Fix: write the path the upload requests use, like "\/api\/uploads"/,
  ],
  [
    'an upload path with a trailing slash',
    'staging',
    (c) => {
      c.app.wafLargeBodyPaths = ['/api/uploads/'];
    },
    'app.wafLargeBodyPaths.0',
    '"/api/uploads/"',
    /is not a normalised path/,
  ],
  [
    'an upload path with an empty segment',
    'staging',
    (c) => {
      c.app.wafLargeBodyPaths = ['/api//uploads'];
    },
    'app.wafLargeBodyPaths.0',
    '"/api//uploads"',
    /is not a normalised path/,
  ],
  [
    'a body inspection size CloudFront does not offer',
    'prod',
    (c) => {
      c.app.wafBodyInspectionKb = 128 as never;
    },
    'app.wafBodyInspectionKb',
    '128',
    /is not a size WAF inspects behind CloudFront\. Fix: use one of 16, 32, 48, 64/,
  ],
  [
    "an authentication rate limit under WAF's minimum",
    'staging',
    (c) => {
      c.app.wafAuthRateLimitPer5Min = 5;
    },
    'app.wafAuthRateLimitPer5Min',
    '5',
    /WAF rate limits start at 10/,
  ],
  [
    'a redacted header in capitals',
    'prod',
    (c) => {
      c.app.wafRedactedHeaders = ['X-Api-Key'];
    },
    'app.wafRedactedHeaders.0',
    '"X-Api-Key"',
    /not a lower-case header name/,
  ],
  [
    'a VPC block with a prefix',
    'dev',
    (c) => {
      c.network.cidr = 'x10.0.0.0/16';
    },
    'network.cidr',
    '"x10.0.0.0/16"',
    /not an IPv4 CIDR block/,
  ],
  [
    'a VPC block with a suffix',
    'dev',
    (c) => {
      c.network.cidr = '10.0.0.0/16x';
    },
    'network.cidr',
    '"10.0.0.0/16x"',
    /not an IPv4 CIDR block/,
  ],
  [
    'an octet of 256',
    'dev',
    (c) => {
      c.network.cidr = '10.256.0.0/16';
    },
    'network.cidr',
    '"10.256.0.0/16"',
    /an octet is above 255/,
  ],
  [
    'a VPC block of /25',
    'dev',
    (c) => {
      c.network.cidr = '10.0.0.0/25';
    },
    'network.cidr',
    '"10.0.0.0/25"',
    /must be \/16 to \/24 \(got \/25\)/,
  ],
  [
    'a VPC block of /15',
    'dev',
    (c) => {
      c.network.cidr = '10.0.0.0/15';
    },
    'network.cidr',
    '"10.0.0.0/15"',
    /must be \/16 to \/24 \(got \/15\)/,
  ],
  [
    'more AZs listed than used',
    'prod',
    (c) => {
      c.network.availabilityZones = ['eu-west-1a', 'eu-west-1b'];
    },
    'network.availabilityZones',
    '["eu-west-1a","eu-west-1b"]',
    /lists 2 zones but azCount is 3\. Fix: list exactly 3 zones/,
  ],
  [
    'a zone of another region',
    'dev',
    (c) => {
      c.network.availabilityZones = ['eu-west-1a', 'us-east-1b'];
    },
    'network.availabilityZones',
    '["eu-west-1a","us-east-1b"]',
    /us-east-1b is not a zone of eu-west-1/,
  ],
  [
    'a desired count above the maximum',
    'prod',
    (c) => {
      c.web.desiredCount = c.web.maxCapacity + 1;
    },
    'web.desiredCount',
    '11',
    /Fix:/,
  ],
  [
    'a minimum above the maximum',
    'staging',
    (c) => {
      c.worker.minCapacity = c.worker.maxCapacity + 1;
    },
    'worker.minCapacity',
    String(STAGES.staging.worker.maxCapacity + 1),
    /Fix:/,
  ],
  [
    'prod without restore testing',
    'prod',
    (c) => {
      c.backup.restoreTesting = 'off';
    },
    'backup.restoreTesting',
    '"off"',
    /prod must prove its backups restore/,
  ],
  [
    'prod with ECS Exec',
    'prod',
    (c) => {
      c.app.enableExecuteCommand = true;
    },
    'app.enableExecuteCommand',
    'true',
    /prod must not allow shells/,
  ],
  [
    'prod without the WAF',
    'prod',
    (c) => {
      c.app.waf = false;
    },
    'app.waf',
    'false',
    /prod must sit behind the WAF/,
  ],
  [
    'prod with one web task',
    'prod',
    (c) => {
      c.web.minCapacity = 1;
    },
    'web.minCapacity',
    '1',
    /prod needs at least 2 web tasks/,
  ],
  [
    'prod without load balancer deletion protection',
    'prod',
    (c) => {
      c.app.loadBalancerDeletionProtection = false;
    },
    'app.loadBalancerDeletionProtection',
    'false',
    /prod must not lose its load balancer/,
  ],
  [
    'prod sending mail from the SES sandbox unnoticed',
    'prod',
    (c) => {
      c.email.requireProductionAccess = false;
    },
    'email.requireProductionAccess',
    'false',
    /preflight must fail while SES is in the sandbox/,
  ],
  [
    'a stage promoting its own image',
    'staging',
    (c) => {
      c.image.promotedFrom = 'staging';
    },
    'image.promotedFrom',
    '"staging"',
    /cannot promote its own image/,
  ],
  [
    'alarm endpoint over plain HTTP',
    'staging',
    (c) => {
      c.alarms.httpsEndpoints = ['http://events.example.com/hook'];
    },
    'alarms.httpsEndpoints.0',
    '"http://events.example.com/hook"',
    /not an https:\/\/ URL/,
  ],
  [
    'log retention CloudWatch does not offer',
    'dev',
    (c) => {
      c.logRetentionDays = 42;
    },
    'logRetentionDays',
    '42',
    /Fix: use one of 1, 3, 5, 7, 14, 30/,
  ],
  [
    'misspelt field',
    'dev',
    (c) => {
      (c.web as Record<string, unknown>).desiredCout = 2;
    },
    'web.desiredCout',
    '2',
    /unknown field\. Fix: remove it or correct its spelling/,
  ],
  [
    'wrong type',
    'dev',
    (c) => {
      (c as Record<string, unknown>).https = 'yes';
    },
    'https',
    '"yes"',
    /expected boolean.*Fix: correct https in lib\/config\/stages\.ts/,
  ],
  [
    'prod rolling straight onto all traffic',
    'prod',
    (c) => {
      c.app.deployment.strategy = 'rolling';
    },
    'app.deployment.strategy',
    '"rolling"',
    /prod must shift traffic to a release gradually.*Fix: set app\.deployment\.strategy: "canary"/,
  ],
  [
    'a deployment strategy that does not exist',
    'staging',
    (c) => {
      (c.app.deployment as { strategy: string }).strategy = 'bluegreen';
    },
    'app.deployment.strategy',
    '"bluegreen"',
    /not a deployment strategy\. Fix: use "rolling", "blueGreen", "canary" or "linear"/,
  ],
  [
    'a canary of more than half the traffic',
    'prod',
    (c) => {
      c.app.deployment.stepPercent = 60;
    },
    'app.deployment.stepPercent',
    '60',
    /more than half the traffic is no canary\. Fix: use 1 to 50/,
  ],
  [
    'a canary of nothing',
    'prod',
    (c) => {
      c.app.deployment.stepPercent = 0.5;
    },
    'app.deployment.stepPercent',
    '0.5',
    /must be at least 1%/,
  ],
  [
    'a bake too short for the rollback alarms',
    'prod',
    (c) => {
      c.app.deployment.bakeMinutes = 2;
    },
    'app.deployment.bakeMinutes',
    '2',
    /the deployment alarms need 3 one-minute periods of data to fire\. Fix: use 5 to 60 minutes/,
  ],
  [
    'a bake that holds CloudFormation for hours',
    'staging',
    (c) => {
      c.app.deployment.bakeMinutes = 240;
    },
    'app.deployment.bakeMinutes',
    '240',
    /CloudFormation holds the deploy for the whole bake/,
  ],
  [
    'a canary step too short for the rollback alarms',
    'prod',
    (c) => {
      c.app.deployment.stepMinutes = 1;
    },
    'app.deployment.stepMinutes',
    '1',
    /need 3 one-minute periods/,
  ],
  [
    'a smoke path that is not absolute',
    'prod',
    (c) => {
      c.app.deployment.smokePaths = ['/', 'api/health'];
    },
    'app.deployment.smokePaths.1',
    '"api/health"',
    /not an absolute URL path/,
  ],
  [
    'a smoke-test latency bound no request meets',
    'prod',
    (c) => {
      c.app.deployment.smokeLatencyMs = 10;
    },
    'app.deployment.smokeLatencyMs',
    '10',
    /must be at least 100 ms\. Fix: use 100 to 5000/,
  ],
  [
    'traffic shifting on a plain-HTTP stage',
    'dev',
    (c) => {
      c.app.deployment.strategy = 'blueGreen';
    },
    'app.deployment.strategy',
    '"blueGreen"',
    /needs the test listener, which serves the stage's certificate, and dev serves plain HTTP\. Fix: serve HTTPS/,
  ],
  [
    'linear steps too small to finish',
    'staging',
    (c) => {
      c.app.deployment.strategy = 'linear';
      c.app.deployment.stepPercent = 5;
    },
    'app.deployment.stepPercent',
    '5',
    /more than 10 steps.*Fix: use 10 to 50/,
  ],
  [
    'a linear shift longer than a release may hold CloudFormation',
    'staging',
    (c) => {
      c.app.deployment.strategy = 'linear';
      c.app.deployment.stepPercent = 10;
      c.app.deployment.stepMinutes = 20;
    },
    'app.deployment.stepMinutes',
    '20',
    /takes 205 minutes, over the 120 a release may hold CloudFormation/,
  ],
  [
    'a canary share finer than ECS shifts traffic (aws-cdk-lib stops synth with a stack trace)',
    'prod',
    (c) => {
      c.app.deployment.stepPercent = 10.55;
    },
    'app.deployment.stepPercent',
    '10.55',
    /ECS shifts traffic in steps of 0\.1%\. Fix: use at most one decimal, e\.g\. 10 or 12\.5/,
  ],
  [
    'a linear step finer than ECS shifts traffic',
    'staging',
    (c) => {
      Object.assign(c.app.deployment, { strategy: 'linear', stepPercent: 12.25 });
    },
    'app.deployment.stepPercent',
    '12.25',
    /steps of 0\.1%/,
  ],
  [
    'the whole internet in two halves',
    'dev',
    (c) => {
      c.app.httpAllowedCidrs = ['0.0.0.0/1', '128.0.0.0/1'];
    },
    'app.httpAllowedCidrs.0',
    '"0.0.0.0/1"',
    /admits 2,147,483,648 addresses, more than a \/8: no office or VPN is that large.*Fix: list the public blocks of your office or VPN only/,
  ],
  [
    'a share of the internet in /8 pieces',
    'dev',
    (c) => {
      c.app.httpAllowedCidrs = ['11.0.0.0/8', '12.0.0.0/8'];
    },
    'app.httpAllowedCidrs',
    '["11.0.0.0/8","12.0.0.0/8"]',
    /the blocks admit 33,554,432 addresses together, more than a \/8 \(16,777,216\).*Fix: list the public blocks/,
  ],
  [
    'a client block inside another listed block',
    'dev',
    (c) => {
      c.app.httpAllowedCidrs = ['198.51.100.0/24', '198.51.100.128/25'];
    },
    'app.httpAllowedCidrs.1',
    '"198.51.100.128/25"',
    /lies inside 198\.51\.100\.0\/24, listed too\. Fix: remove it/,
  ],
  [
    'an Availability Zone the region lacks',
    'dev',
    (c) => {
      c.network.availabilityZones = ['eu-west-1a', 'eu-west-1d'];
    },
    'network.availabilityZones.1',
    '"eu-west-1d"',
    /eu-west-1 has no zone eu-west-1d \(lib\/config\/aws-catalog\.ts\)\. Fix: use 2 of eu-west-1a, eu-west-1b, eu-west-1c/,
  ],
  [
    'default zones in a region without a "c" zone',
    'prod',
    (c) => {
      Object.assign(c, { region: 'ca-central-1', drRegion: 'ca-west-1' });
    },
    'network.availabilityZones',
    'undefined',
    /unset, so the zones default to ca-central-1a, b, c, and ca-central-1 has no zone ca-central-1c\. Fix: list 3 of ca-central-1a, ca-central-1b, ca-central-1d/,
  ],
  [
    'an authentication rate limit the global one always reaches first',
    'staging',
    (c) => {
      c.app.wafAuthRateLimitPer5Min = 3000;
    },
    'app.wafAuthRateLimitPer5Min',
    '3000',
    /is not below the per-IP limit of every path \(wafRateLimitPer5Min, 2000\).*Fix: use less than 2000/,
  ],
  [
    'trail retention longer than S3 Object Lock keeps anything',
    'prod',
    (c) => {
      c.baseline.trail.retentionDays = 40000;
    },
    'baseline.trail.retentionDays',
    '40000',
    /S3 Object Lock keeps an object at most 100 years.*Fix: use 90 to 36500 days/,
  ],
];

describe('bad configuration fails with stage, field, value and fix', () => {
  test('there are at least 15 cases', () => {
    expect(badConfigs.length).toBeGreaterThanOrEqual(15);
  });

  test.each(badConfigs)('%s', (_what, stage, mutate, field, value, fix) => {
    const message = errorOf(variant(stage, mutate));
    const line = message.split('\n').find((l) => l.includes(`field "${field}"`));
    expect(line, message).toBeDefined();
    expect(line).toContain(`stage "${stage}"`);
    expect(line).toContain(`value ${value}:`);
    expect(line).toMatch(fix);
    expect(line).toMatch(/Fix: /);
  });

  test('values on the edge of each rule are accepted', () => {
    const ok = (stage: StageName, mutate: (c: StageConfig) => void) => expect(() => parseStageConfig(variant(stage, mutate))).not.toThrow();
    ok('prod', (c) => {
      Object.assign(c.app.deployment, { stepPercent: 50, stepMinutes: 5, bakeMinutes: 60, smokeLatencyMs: 5000 });
    });
    ok('prod', (c) => {
      Object.assign(c.app.deployment, { strategy: 'linear', stepPercent: 10, stepMinutes: 11, bakeMinutes: 10 });
    });
    ok('staging', (c) => {
      c.app.deployment.strategy = 'rolling';
    });
    ok('dev', (c) => {
      c.network.cidr = '10.255.100.0/24';
    });
    ok('dev', (c) => {
      c.network.cidr = '10.0.0.0/16';
    });
    ok('dev', (c) => {
      c.network.cidr = '192.168.0.0/16';
    });
    ok('dev', (c) => {
      c.app.httpAllowedCidrs = ['203.0.113.7/32', '198.51.100.0/24'];
    });
    // A /8 alone is as much as an allow list admits.
    ok('dev', (c) => {
      c.app.httpAllowedCidrs = ['11.0.0.0/8'];
    });
    // The collector's ports are reserved, their neighbours are not.
    ok('dev', (c) => {
      c.app.containerPort = 4319;
    });
    ok('prod', (c) => {
      c.web.minCapacity = 2;
      c.web.desiredCount = c.web.maxCapacity;
    });
    ok('staging', (c) => {
      c.worker.minCapacity = c.worker.maxCapacity;
      c.worker.desiredCount = c.worker.maxCapacity;
    });
    // RDS's floor: 10% above the allocated storage.
    ok('dev', (c) => {
      c.database.allocatedStorageGiB = 20;
      c.database.maxAllocatedStorageGiB = 22;
    });
    ok('prod', (c) => {
      c.database.allocatedStorageGiB = 59578;
      c.database.maxAllocatedStorageGiB = 65536;
    });
    ok('staging', (c) => {
      c.domain!.recordName = `www.${c.domain!.zoneName}`;
    });
    ok('prod', (c) => {
      c.alarms.emails = [];
      c.alarms.httpsEndpoints = ['https://events.example.com/hook'];
    });
    // Exactly at the quota: 85 days + 10 pre-deploy + 5 spare = 100.
    ok('prod', (c) => {
      c.backup.drCopyRetentionDays = 85;
    });
    // Without DR copies, the DR-region retention is not held to the quota.
    ok('dev', (c) => {
      c.backup.drCopyRetentionDays = 500;
    });
    // DMARC reports: not asked for where nothing is held back, or where no domain publishes a policy.
    ok('staging', (c) => {
      c.email.dmarcPolicy = 'none';
      c.email.dmarcReportsTo = undefined;
    });
    ok('dev', (c) => {
      c.email.dmarcPolicy = 'reject';
      c.email.dmarcReportsTo = undefined;
    });
  });

  test('every RDS class in the catalog has its memory known (max_connections and the connections alarm derive from it)', () => {
    for (const instanceClass of RDS_INSTANCE_CLASSES) expect(rdsClassMemoryGiB(instanceClass), instanceClass).toBeGreaterThan(0);
  });

  test('a raised manual-snapshot quota admits longer retention', () => {
    expect(
      parseStageConfig(
        variant('prod', (c) => {
          c.backup.drCopyRetentionDays = 90;
          c.backup.manualSnapshotQuota = 150;
        }),
      ).backup.drCopyRetentionDays,
    ).toBe(90);
  });

  test('every problem of a stage is reported at once', () => {
    const message = errorOf(
      variant('prod', (c) => {
        c.database.multiAz = false;
        c.database.deletionProtection = false;
      }),
    );
    expect(message).toMatch(/^Invalid stage configuration \(2 problems\):/);
  });
});

/** A field of a configuration by its path ("app.deployment.smokePaths"). */
function fieldOf(config: unknown, path: string): unknown {
  return path.split('.').reduce<unknown>((node, key) => (node as Record<string, unknown> | undefined)?.[key], config);
}

function setField(config: StageConfig, path: string, value: unknown): void {
  const keys = path.split('.');
  let node = config as unknown as Record<string, unknown>;
  for (const key of keys.slice(0, -1)) {
    node[key] ??= {};
    node = node[key] as Record<string, unknown>;
  }
  node[keys[keys.length - 1]] = value;
}

const escaped = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

describe('every list names each entry once', () => {
  /** An entry for the lists no shipped stage fills. */
  const SAMPLES: Record<string, unknown> = {
    'network.availabilityZones': 'eu-west-1a',
    'alarms.httpsEndpoints': 'https://events.example.com/hook',
    'backup.verify.tables': { name: 'documents', minRows: 1 },
  };
  const shipped = Object.fromEntries(STAGE_NAMES.map((name) => [name, parseStageConfig(STAGES[name])]));

  test('the schema has lists, and the ones whose entries may repeat are commands', () => {
    expect(listPaths().length).toBeGreaterThan(10);
    for (const path of LISTS_WITH_REPEATS) {
      expect(listPaths()).toContain(path);
      expect(path).toMatch(/Command$/);
    }
  });

  // Found by walking the schema: a list added without unique() fails here.
  test.each(listPaths().filter((path) => !LISTS_WITH_REPEATS.includes(path)))('%s refuses an entry listed twice', (path) => {
    const stage = STAGE_NAMES.find((name) => ((fieldOf(shipped[name], path) as unknown[] | undefined) ?? []).length > 0) ?? 'dev';
    const entry = (fieldOf(shipped[stage], path) as unknown[] | undefined)?.[0] ?? SAMPLES[path];
    expect(entry, `no stage lists ${path}: add an entry for it to SAMPLES`).toBeDefined();
    const message = errorOf(variant(stage, (c) => setField(c, path, [entry, structuredClone(entry)])));
    expect(message).toMatch(new RegExp(`stage "${stage}", field "${escaped(path)}\\.1", value .*: .* is listed twice: each .+ once\\. Fix: remove the second one`));
  });
});

describe('catalogued values are checked against their catalog', () => {
  const regionFields = fieldPaths().filter((path) => /(^|\.)(region|drRegion)$/.test(path));

  test('the region fields are the primary, the DR and the image source region', () => {
    expect(regionFields).toEqual(['region', 'drRegion', 'image.source.region']);
  });

  test.each(regionFields.flatMap((field) => AWS_REGIONS.filter((r) => regionPartition(r) !== 'aws').map((region) => [field, region])))(
    '%s refuses %s: the stacks are written for the aws partition',
    (field, region) => {
      const message = errorOf(
        variant('staging', (c) => {
          setField(c, field, region);
          if (field === 'region') c.drRegion = region === 'cn-north-1' ? 'cn-northwest-1' : region.replace(/west/, 'east');
        }),
      );
      expect(message).toMatch(
        new RegExp(
          `field "${escaped(field)}", value "${region}": is in the aws-(cn|us-gov) partition, and the stacks are written for the aws partition.*Fix: use a region of the aws partition`,
        ),
      );
    },
  );

  test('China and GovCloud are the regions left out; every region kept has its zones catalogued and deploys with the default zones', () => {
    expect(AWS_REGIONS.filter((r) => !APP_REGIONS.includes(r))).toEqual(['cn-north-1', 'cn-northwest-1', 'us-gov-east-1', 'us-gov-west-1']);
    for (const region of APP_REGIONS) {
      expect(zonesOf(region).length, region).toBeGreaterThanOrEqual(3);
      const drRegion = region === 'eu-west-1' ? 'eu-central-1' : 'eu-west-1';
      // Without CloudFront: a region behind it also needs its pinned prefix list (the next test).
      expect(() => parseStageConfig(variant('dev', (c) => Object.assign(c, { region, drRegion, edge: { ...c.edge, enabled: false } }))), region).not.toThrow();
    }
    // Zones listed by hand may be any the region has, also where a letter is skipped.
    expect(() =>
      parseStageConfig(
        variant('prod', (c) => {
          Object.assign(c, { region: 'ca-central-1', drRegion: 'ca-west-1' });
          c.network.availabilityZones = ['ca-central-1a', 'ca-central-1b', 'ca-central-1d'];
        }),
      ),
    ).not.toThrow();
  });

  test("behind CloudFront, a region needs its pinned id of CloudFront's origin-facing prefix list; without it, it does not", () => {
    const pinned = Object.keys(ORIGIN_FACING.prefixLists);
    expect(pinned.length).toBeGreaterThanOrEqual(16);
    for (const [region, id] of Object.entries(ORIGIN_FACING.prefixLists)) {
      expect(APP_REGIONS, region).toContain(region);
      expect(id, region).toMatch(/^pl-[0-9a-f]{8}$/);
      const drRegion = region === 'eu-west-1' ? 'eu-central-1' : 'eu-west-1';
      expect(() => parseStageConfig(variant('dev', (c) => Object.assign(c, { region, drRegion }))), region).not.toThrow();
    }
    const unpinned = APP_REGIONS.filter((r) => !pinned.includes(r));
    expect(unpinned.length).toBeGreaterThan(0);
    for (const region of unpinned) {
      expect(errorOf(variant('dev', (c) => Object.assign(c, { region, drRegion: 'eu-west-1' }))), region).toContain(
        `stage "dev", field "region", value "${region}": no id of CloudFront's origin-facing prefix list`,
      );
      expect(() => parseStageConfig(variant('dev', (c) => Object.assign(c, { region, drRegion: 'eu-west-1', edge: { ...c.edge, enabled: false } }))), region).not.toThrow();
    }
  });

  test("the collector's ports are read from its configuration", () => {
    expect(COLLECTOR_PORTS).toEqual([13133, 4317, 4318]);
  });

  test.each(COLLECTOR_PORTS)("containerPort %i is the tracing collector's", (port) => {
    const message = errorOf(
      variant('dev', (c) => {
        c.app.containerPort = port;
      }),
    );
    expect(message).toContain(
      `field "app.containerPort", value ${port}: the tracing collector beside the app listens there (lib/app/otel/collector.yaml uses ${COLLECTOR_PORTS.join(', ')}), and the containers of a task share their ports. Fix: use another port, e.g. 3000`,
    );
  });

  test.each([
    ['10.20.0.0/16', '10.0.0.0/8 (private, RFC 1918)'],
    ['172.31.0.0/16', '172.16.0.0/12 (private, RFC 1918)'],
    ['192.168.1.0/24', '192.168.0.0/16 (private, RFC 1918)'],
    ['100.64.0.0/10', '100.64.0.0/10 (carrier-grade NAT, RFC 6598)'],
    ['127.0.0.1/32', '127.0.0.0/8 (loopback)'],
    ['169.254.169.254/32', '169.254.0.0/16 (link-local)'],
    ['224.0.0.0/8', '224.0.0.0/4 (multicast)'],
    ['100.0.0.0/8', '100.64.0.0/10 (carrier-grade NAT, RFC 6598)'],
  ])('no viewer comes from %s, which overlaps %s', (cidr, overlap) => {
    const message = errorOf(
      variant('dev', (c) => {
        c.app.httpAllowedCidrs = ['198.51.100.0/24', cidr];
      }),
    );
    expect(message).toContain(
      `field "app.httpAllowedCidrs.1", value "${cidr}": overlaps ${overlap}: no client reaches CloudFront or an internet-facing load balancer from there (a VPN or NAT shows its public address). Fix: list the public blocks of your office or VPN only`,
    );
  });
});

describe('every validation aws-cdk-lib runs on a value from the configuration is met by the schema first', () => {
  // Each row: aws-cdk-lib's rule (its error id), the stage, how the value is set, a value it refuses, the nearest it takes.
  const rules: [string, StageName, (c: StageConfig, v: number) => void, string, number, number][] = [
    [
      'aws-ecs MustBeCanaryDeploymentStepPercent: a multiple of 0.1',
      'prod',
      (c, v) => Object.assign(c.app.deployment, { stepPercent: v }),
      'app.deployment.stepPercent',
      10.55,
      10.5,
    ],
    [
      'aws-ecs MustBeLinearDeploymentStepPercent: a multiple of 0.1, at least 3',
      'staging',
      (c, v) => Object.assign(c.app.deployment, { strategy: 'linear', stepPercent: v }),
      'app.deployment.stepPercent',
      33.33,
      33.3,
    ],
    ['aws-ecs MustBeCanaryDeploymentStepBakeTime: whole minutes', 'prod', (c, v) => Object.assign(c.app.deployment, { stepMinutes: v }), 'app.deployment.stepMinutes', 5.5, 5],
    ['aws-applicationautoscaling MinCapacity: min <= max', 'staging', (c, v) => Object.assign(c.web, { minCapacity: v, desiredCount: v }), 'web.minCapacity', 9, 8],
    ['aws-applicationautoscaling MinCapacityCannotNegative', 'dev', (c, v) => Object.assign(c.worker, { minCapacity: v }), 'worker.minCapacity', -1, 0],
    [
      'aws-backup BackupEnforcesHourCoolingPeriod: changeableFor >= 72 hours',
      'prod',
      (c, v) => Object.assign(c.backup, { vaultLock: { mode: 'compliance', changeableForDays: v } }),
      'backup.vaultLock.changeableForDays',
      2,
      3,
    ],
    [
      'aws-backup ShortestMinimumRetentionPeriodSpecify: minRetention >= 1 day',
      'dev',
      (c, v) => Object.assign(c.backup, { planRetentionDays: v }),
      'backup.planRetentionDays',
      0,
      1,
    ],
    ['aws-s3 MustBeObjectLockRetention: at most 100 years', 'prod', (c, v) => Object.assign(c.baseline.trail, { retentionDays: v }), 'baseline.trail.retentionDays', 36501, 36500],
    ['aws-logs RetentionDaysPositive', 'dev', (c, v) => Object.assign(c, { logRetentionDays: v }), 'logRetentionDays', 0, 1],
  ];

  test.each(rules)('%s', (_rule, stage, set, field, refused, taken) => {
    const message = errorOf(variant(stage, (c) => set(c, refused)));
    expect(message).toMatch(new RegExp(`stage "${stage}", field "${escaped(field)}", value ${escaped(String(refused))}: .*Fix: `));
    expect(() => parseStageConfig(variant(stage, (c) => set(c, taken)))).not.toThrow();
  });
});
