import type { StageConfigInput, StageName } from './schema';

/**
 * The three stages. This is the one place to set real values: account ids, domain, recipients.
 * The placeholders (account ids 1111..., 2222..., 3333..., example.com) let the app synthesize with
 * no AWS account. Any field can also be overridden per command with `-c <stage>.<field>=<value>`
 * (docs/configuration.md).
 *
 * Sizing follows what a platform team would start an MVP with:
 * - dev: smallest Fargate size on Spot, one of each task, single-AZ burstable DB, one NAT gateway, no domain.
 * - staging: prod's shape at about 80% of its capacity (same task sizes, lower ceilings, burstable DB).
 * - prod: 2-10 web tasks of 1 vCPU/2 GB, Multi-AZ DB with deletion protection, a cache replica, three AZs.
 */
/**
 * Where images come from: CI pushes each build once to the staging account's registry, and ECR
 * replicates it to the dev and prod accounts (docs/releases.md, "Releasing an image"). A dedicated build
 * account works the same way: set its account id here. Builds tagged like these expire after 30
 * days; release tags ("v1.4.2") never do.
 */
const IMAGE = {
  repositoryName: 'webapp',
  source: { account: '222222222222', region: 'eu-west-1' },
};

/** The repository whose GitHub Actions workflows deploy and review the stages (the CI access roles trust only it). */
// The repository id is the example repository's placeholder: set yours (docs/first-deployment.md, "First deployment").
const CI = { repository: 'example-org/webapp-platform', repositoryId: '100000001', createOidcProvider: true };

/**
 * The settings every stage shares are the schema's defaults (lib/config/schema/, and the table of
 * docs/configuration.md): the app's ports, paths and WAF rules, the alarm thresholds, what a restored
 * database must contain (nothing until the app's migrations create tables: list them in
 * backup.verify), the break-glass role ("webapp-break-glass", created by hand in each account;
 * docs/disaster-recovery.md) and governance-mode vault locks. A stage sets only what differs.
 */
/**
 * How each personal column of the app's tables is anonymised before prod's data reaches staging
 * (dumps.anonymised.rules): the job refuses to run while a column that looks personal has no rule.
 * Empty until the app's migrations create such columns; the job's refusal names them.
 */
const ANONYMISATION = {};

/**
 * The app's BullMQ queues, read from the cache every minute by the queue-health function: the
 * names, the major and the prefix are the app's contract (docs/app-contract.md, "Queues").
 */
const QUEUES = { enabled: true, names: ['email', 'default'], bullmqMajor: 5, prefix: 'bull' } as const;

/**
 * The IAM Identity Center permission set of the people on call (its roles are
 * AWSReservedSSO_WebappOnCall_<hash> in each account it is assigned to): a placeholder until yours
 * is named (docs/security.md, "On-call").
 */
const ON_CALL = 'sso:WebappOnCall';

/** The app's schema migration, run once per release before the services update (docs/releases.md). */
const MIGRATION = ['node', 'dist/migrate.js'];

export const STAGES: Record<StageName, StageConfigInput> = {
  dev: {
    name: 'dev',
    account: '111111111111',
    region: 'eu-west-1',
    drRegion: 'eu-central-1',
    // One NAT instance instead of a NAT gateway: about $34 a month less, no managed failover.
    network: { cidr: '10.10.0.0/16', azCount: 2, natGateways: 1, nat: 'instance', flowLogs: 'rejected' },
    https: false,
    // CloudFront in front as in staging and prod, on its own *.cloudfront.net name (HTTPS without a
    // domain), held to app.httpAllowedCidrs at the edge; the internal load balancer saves its public addresses.
    edge: { enabled: true },
    web: { cpu: 256, memoryLimitMiB: 512, desiredCount: 1, minCapacity: 1, maxCapacity: 2, useSpot: true },
    worker: { cpu: 256, memoryLimitMiB: 512, desiredCount: 1, minCapacity: 1, maxCapacity: 2, useSpot: true },
    database: {
      instanceClass: 't4g.micro',
      allocatedStorageGiB: 20,
      maxAllocatedStorageGiB: 50,
      multiAz: false,
      backupRetentionDays: 3,
      deletionProtection: false,
      engineVersion: '17.6',
    },
    cache: { nodeType: 'cache.t4g.micro', replicas: 0, snapshotRetentionDays: 0 },
    alarms: { emails: ['dev-alerts@example.com'] },
    // Aggregate DMARC reports, once dev has a domain (-c dev.domain=...): none is published without one.
    email: { dmarcReportsTo: 'dev-dmarc@example.com' },
    backup: { drCopies: false, automatedBackupReplicationDays: 0, planRetentionDays: 7, drCopyRetentionDays: 7, preDeploySnapshotsKept: 3, restoreTesting: 'off' },
    // Plain HTTP (no domain): only these blocks reach the load balancer. Replace the
    // documentation range with the office or VPN blocks of the people who use dev.
    app: { enableExecuteCommand: true, waf: false, httpAllowedCidrs: ['198.51.100.0/24'], migrationCommand: MIGRATION, tracing: { sampleRatio: 1 }, logLevel: 'debug' },
    uploads: { noncurrentVersionExpirationDays: 7, accessLogExpirationDays: 30, replicateToDr: false },
    // The nightly pg_dump, kept a week; no restore check (dev's data is rebuilt, not restored).
    dumps: { retentionDays: 7, restoreCheck: 'off' },
    // The dev account keeps an audit trail and the free access analyzer; threat detection, Security
    // Hub and Config recording (about $20 a month together here) run in staging and prod.
    baseline: { guardDuty: { enabled: false, runtimeMonitoring: false }, securityHub: false, configRecorder: 'off' },
    // No users, no error budget: the SLO burn-rate alarms (about $5 a month) run in staging and prod;
    // so does the queue check (5 custom metrics and 3 alarm metrics a queue: about $3.60 a month for two).
    operations: { slo: { enabled: false } },
    logRetentionDays: 30,
    retainOnDelete: false,
    monthlyBudgetUsd: 150,
    // No on-call role (developers act with their own access); a use of the break-glass role is a
    // notification, not a page (the alarm's $0.10 a month).
    access: { pageOnUse: false },
    image: { ...IMAGE, tag: 'v0.1.0' },
    ci: CI,
  },
  staging: {
    name: 'staging',
    account: '222222222222',
    region: 'eu-west-1',
    drRegion: 'eu-central-1',
    // One NAT instance per AZ: about $15 a month instead of $75 for two gateways; a failed instance
    // stops that AZ's egress until EC2 recovers it, which staging can afford (prod cannot: the schema refuses).
    network: { cidr: '10.20.0.0/16', azCount: 2, natGateways: 2, nat: 'instance' },
    // Staging rehearses what prod relies on: the failover drill runs here.
    dr: { pilotLight: true, cidr: '10.120.0.0/16' },
    domain: { zoneName: 'staging.example.com', recordName: 'staging.example.com', parentZoneName: 'example.com' },
    https: true,
    // CloudFront in front (a stack in us-east-1), as in prod.
    edge: { enabled: true },
    web: { cpu: 1024, memoryLimitMiB: 2048, desiredCount: 2, minCapacity: 2, maxCapacity: 8, useSpot: false },
    // BullMQ retries a job whose worker was reclaimed (its lock expires): staging's one worker runs on Spot.
    worker: { cpu: 512, memoryLimitMiB: 1024, desiredCount: 1, minCapacity: 1, maxCapacity: 3, useSpot: true },
    database: {
      instanceClass: 't4g.large',
      allocatedStorageGiB: 50,
      maxAllocatedStorageGiB: 200,
      multiAz: true,
      backupRetentionDays: 7,
      deletionProtection: true,
      engineVersion: '17.6',
    },
    cache: { nodeType: 'cache.t4g.small', replicas: 1, snapshotRetentionDays: 1 },
    alarms: { emails: ['staging-alerts@example.com'] },
    // Aggregate DMARC reports: who sends as the domain, and what receivers quarantine.
    email: { dmarcReportsTo: 'staging-dmarc@example.com' },
    backup: { drCopies: true, automatedBackupReplicationDays: 7, planRetentionDays: 14, drCopyRetentionDays: 14, preDeploySnapshotsKept: 5, restoreTesting: 'monthly' },
    // Blue/green: the release swaps in one step after its smoke test, so staging exercises the
    // second target group, the test listener and the hook before prod relies on them.
    app: { migrationCommand: MIGRATION, deployment: { strategy: 'blueGreen', bakeMinutes: 5 }, tracing: { sampleRatio: 0.5 } },
    uploads: { noncurrentVersionExpirationDays: 30, accessLogExpirationDays: 90, replicateToDr: false },
    // Its data is prod's, anonymised in prod's account (docs/disaster-recovery.md, "Staging data").
    dumps: { retentionDays: 14, replicateToDr: true, refreshFrom: { sourceStage: 'prod', sourceAccount: '333333333333', sourceRegion: 'eu-west-1' } },
    operations: { queues: { ...QUEUES, names: [...QUEUES.names] } },
    logRetentionDays: 90,
    retainOnDelete: true,
    monthlyBudgetUsd: 600,
    // The people on call act as the on-call role (docs/security.md, "On-call").
    access: { onCall: { principals: [ON_CALL] } },
    image: { ...IMAGE, tag: 'v0.1.0' },
    ci: CI,
  },
  prod: {
    name: 'prod',
    account: '333333333333',
    region: 'eu-west-1',
    drRegion: 'eu-central-1',
    network: { cidr: '10.30.0.0/16', azCount: 3, natGateways: 3 },
    dr: { pilotLight: true, cidr: '10.130.0.0/16' },
    domain: { zoneName: 'app.example.com', recordName: 'app.example.com', parentZoneName: 'example.com' },
    https: true,
    edge: { enabled: true },
    web: { cpu: 1024, memoryLimitMiB: 2048, desiredCount: 2, minCapacity: 2, maxCapacity: 10, useSpot: false },
    // The first worker on regular Fargate, every further one on Spot (about 70% cheaper; a reclaimed
    // worker's jobs are retried by BullMQ once their locks expire).
    worker: { cpu: 512, memoryLimitMiB: 1024, desiredCount: 2, minCapacity: 1, maxCapacity: 4, useSpot: true, onDemandBase: 1 },
    database: {
      instanceClass: 'm7g.large',
      allocatedStorageGiB: 100,
      maxAllocatedStorageGiB: 500,
      multiAz: true,
      backupRetentionDays: 14,
      deletionProtection: true,
      engineVersion: '17.6',
      enablePerformanceInsights: true,
    },
    // Staging's node size (1.37 GiB): BullMQ queues rarely hold more; the memory alarm fires at 80%
    // and a larger node type is an online change (docs/alarms.md, "cache-memory").
    cache: { nodeType: 'cache.t4g.small', replicas: 1, snapshotRetentionDays: 7 },
    // Pages go to the pager (replace with its CloudWatch integration URL; docs/alarms.md), every notification to the emails.
    alarms: { emails: ['oncall@example.com'], httpsEndpoints: ['https://pager.example.com/integration/prod'] },
    backup: { drCopies: true, automatedBackupReplicationDays: 14, planRetentionDays: 35, drCopyRetentionDays: 84, preDeploySnapshotsKept: 10, restoreTesting: 'weekly' },
    // Canary: 10% of traffic for 10 minutes after the smoke test, then the rest, then 10 minutes of bake.
    app: {
      loadBalancerDeletionProtection: true,
      migrationCommand: MIGRATION,
      deployment: { strategy: 'canary', stepPercent: 10, stepMinutes: 10, bakeMinutes: 10 },
      tracing: { sampleRatio: 0.1 },
    },
    email: { requireProductionAccess: true, dmarcReportsTo: 'dmarc@example.com' },
    uploads: { noncurrentVersionExpirationDays: 90, accessLogExpirationDays: 365, replicateToDr: true },
    // Dumps nobody may delete early, copied to the DR region; staging's data is anonymised from
    // them here, and only the anonymised copy is readable by staging's account.
    dumps: {
      retentionDays: 35,
      objectLock: 'governance',
      replicateToDr: true,
      anonymised: { readerStage: 'staging', readerAccount: '222222222222', rules: ANONYMISATION },
    },
    // Traffic and p99 latency against the band they usually keep (after two weeks of history).
    operations: { anomalyAlarms: true, queues: { ...QUEUES, names: [...QUEUES.names] } },
    // Who read or changed which upload is on record (object-level CloudTrail events), in log
    // files nobody but the break-glass role can delete before they expire. The trail bucket is
    // created with the lock ("governance"): prod's account has no trail bucket yet. An account
    // whose trail already ran unlocked would move it to a locked bucket ("locked-bucket").
    baseline: { trail: { uploadsDataEvents: true, objectLock: 'governance' } },
    logRetentionDays: 365,
    retainOnDelete: true,
    monthlyBudgetUsd: 1500,
    access: { onCall: { principals: [ON_CALL] } },
    image: { ...IMAGE, tag: 'v0.1.0', promotedFrom: 'staging' },
    ci: CI,
  },
};
