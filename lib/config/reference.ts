import { COLLECTOR_PORTS } from '../app/otel/collector-config';
import { fieldDefault, fieldPaths, isOptionalField } from './context-keys';

/**
 * The configuration reference: one row per field or group of fields, in the order the README
 * lists them. The README's table is generated from these rows and the schema
 * (`npm run docs:config`); test/config/reference.test.ts fails when a schema field has no row,
 * a row names a field the schema lacks, or the README's table differs from what is generated.
 * The "default" column comes from the schema itself.
 */
export interface ReferenceRow {
  /** Field paths ("app.waf"); "web.*" stands for every field of web. */
  readonly fields: readonly string[];
  readonly meaning: string;
  readonly rules: string;
}

export const CONFIG_REFERENCE: readonly ReferenceRow[] = [
  { fields: ['name'], meaning: 'stage name, also the `cdk.Stage` id', rules: '`dev`, `staging` or `prod`' },
  { fields: ['account'], meaning: 'AWS account id', rules: '12 digits' },
  {
    fields: ['region', 'drRegion'],
    meaning: 'primary region; region for backup and snapshot copies',
    rules:
      'regions of the `aws` partition (pinned list; not China or GovCloud, where the edge stack and the CI roles cannot run); must differ; with `edge.enabled`, `region` must have its CloudFront prefix list id in `lib/app/origin-facing-prefix-lists.json`',
  },
  { fields: ['network.cidr'], meaning: 'VPC IPv4 block; each subnet gets 1/16 of it', rules: 'private (10/8, 172.16/12, 192.168/16), `/16` to `/24`, no host bits set' },
  { fields: ['network.azCount'], meaning: 'Availability Zones', rules: '2 or 3' },
  {
    fields: ['network.availabilityZones'],
    meaning: 'optional explicit zone names (unset: `<region>a`, `b`, `c`)',
    rules: '`azCount` different zones `region` has (pinned list); unset, `a` to `c` must exist there (not in ca-central-1)',
  },
  { fields: ['network.natGateways'], meaning: 'NAT gateways (1 is cheapest; one per AZ survives an AZ outage)', rules: '1 to `azCount`' },
  {
    fields: ['network.nat', 'network.natInstanceType'],
    meaning: '`gateway` (managed NAT gateways) or `instance` (one EC2 instance per `natGateways`, about a tenth of the cost, no managed failover); its type',
    rules: 'prod: `gateway`; `t4g.nano` to `t4g.medium`',
  },
  {
    fields: ['network.flowLogs'],
    meaning: 'what the VPC flow log records: `all` connections, or only `rejected` ones (a tenth of the volume or less)',
    rules: 'prod: `all`',
  },
  {
    fields: ['domain.zoneName', 'domain.recordName', 'domain.parentZoneName'],
    meaning: "the stage's own public zone (the network stack creates it in the stage account), the site's name in it, and the zone it is delegated from",
    rules: 'zone inside the parent, record inside the zone, no two stages alike; required when `https`',
  },
  { fields: ['domain.hostedZoneId'], meaning: 'optional: an existing zone of the stage account to use instead of creating one', rules: '`Z...`' },
  { fields: ['https'], meaning: 'serve HTTPS with an ACM certificate', rules: 'prod: must be true' },
  {
    fields: ['edge.enabled'],
    meaning:
      'a CloudFront distribution in front (stack `<stage>-Edge` in us-east-1): the site name points at it, the WAF moves to it, the load balancer becomes internal behind a VPC origin',
    rules: "without a domain: CloudFront's own `*.cloudfront.net` name, to `app.httpAllowedCidrs` only; prod: must be true",
  },
  {
    fields: ['edge.priceClass', 'edge.immutablePaths'],
    meaning: 'edge locations served (`PriceClass_100` North America and Europe, `_200`, `_All`); path patterns of content-hashed assets cached a year',
    rules: '`PriceClass_100` and `["/_next/static/*"]` by default; 1 to 20 different patterns',
  },
  {
    fields: ['web.*', 'worker.*'],
    meaning: '`cpu` units, `memoryLimitMiB`, `desiredCount`, `minCapacity`, `maxCapacity`, `useSpot`, `onDemandBase` (with Spot: tasks kept on regular Fargate first)',
    rules: 'a Fargate cpu/memory pair; min <= desired <= max; prod: web min >= 2, web not on Spot, a Spot worker keeps `onDemandBase` >= 1',
  },
  {
    fields: ['database.instanceClass'],
    meaning: 'RDS class without `db.` (`t4g.micro`)',
    rules: 'a class RDS offers for PostgreSQL in the t3, t4g, m5-m8g, r5-r8g families (pinned list; their memory sets max_connections)',
  },
  {
    fields: ['database.allocatedStorageGiB', 'database.maxAllocatedStorageGiB'],
    meaning: 'gp3 storage and autoscaling ceiling',
    rules: '>= 20; ceiling at least 10% above it (RDS refuses less)',
  },
  { fields: ['database.multiAz', 'database.deletionProtection'], meaning: '', rules: 'prod: both true' },
  { fields: ['database.backupRetentionDays'], meaning: 'automated backups / point-in-time window', rules: '1 to 35' },
  { fields: ['database.engineVersion'], meaning: 'PostgreSQL `major.minor`', rules: 'a 16.x or 17.x minor RDS still accepts new instances on (pinned list)' },
  {
    fields: ['database.allowMajorVersionUpgrade'],
    meaning: 'let the next deploy upgrade the instance to a new major version in place (docs/runbooks.md, "Upgrade PostgreSQL to a new major version")',
    rules: 'off by default; the review and preflight refuse a major change without it; turn it off after',
  },
  { fields: ['database.pgvectorMinVersion'], meaning: 'lowest pgvector version a deploy accepts', rules: '`x.y` or `x.y.z`' },
  { fields: ['database.enablePerformanceInsights'], meaning: 'Performance Insights (7 days) and enhanced monitoring every 60 s', rules: '' },
  {
    fields: ['cache.nodeType', 'cache.replicas'],
    meaning: 'ElastiCache node type (`cache.t4g.micro`), read replicas (one or more turns on Multi-AZ failover)',
    rules: 'a node type that runs Valkey (pinned list); 0 to 5 replicas; prod >= 1',
  },
  { fields: ['cache.snapshotRetentionDays'], meaning: 'days of daily cache snapshots (0: none)', rules: '0 to 35' },
  {
    fields: ['app.containerPort'],
    meaning: 'port the server listens on',
    rules: `>= 1024 (the container runs as a non-root user); not ${COLLECTOR_PORTS.join(', ')} (the tracing collector's)`,
  },
  { fields: ['app.readinessPath', 'app.livenessPath'], meaning: 'load balancer health check (can serve) and container health check (process alive)', rules: 'absolute paths' },
  { fields: ['app.workerCommand'], meaning: 'command of the worker container', rules: 'e.g. `["node", "dist/worker.js"]`' },
  { fields: ['app.workerStopTimeoutSeconds'], meaning: 'time a worker gets after SIGTERM to finish its job', rules: '2 to 120' },
  {
    fields: ['app.logLevel'],
    meaning: "the app's log level, as `LOG_LEVEL` in its containers (pino's names)",
    rules: '`debug`, `info`, `warn`, `error`; `debug` in dev, `info` elsewhere as shipped',
  },
  {
    fields: ['app.migrationCommand', 'app.migrationTimeoutMinutes'],
    meaning:
      "the release's schema migration (same image, as the migration role), run once per release after the pre-deploy snapshot and before the services update; the deploy fails, and the services stay on the old release, when it exits non-zero, cannot start or runs past the timeout (docs/releases.md)",
    rules: 'a command, or unset for no migration step (`-c <stage>.app.migrationCommand=null`); timeout 1 to 55 minutes; shipped: `["node", "dist/migrate.js"]` in every stage',
  },
  {
    fields: ['app.deployment.strategy'],
    meaning:
      'how a release reaches the web service: `rolling` replaces tasks in place; `blueGreen`, `canary` and `linear` start the new revision beside the old one, smoke-test it through the test listener (port 8443), then move production traffic all at once, a canary share first, or in equal steps, with the deployment alarms rolling back during the shift and the bake (docs/releases.md); the worker always rolls',
    rules: 'not `rolling` in prod; anything but `rolling` needs `https`; shipped: `blueGreen` in staging, `canary` in prod',
  },
  {
    fields: ['app.deployment.stepPercent', 'app.deployment.stepMinutes'],
    meaning: 'canary: the share of traffic the new revision gets first, and for how long; linear: the share each step moves, and the minutes between steps',
    rules: 'percent 1 to 50 in steps of 0.1 (linear: 10 to 50); minutes 5 to 60; a linear shift plus bake at most 120 minutes',
  },
  { fields: ['app.deployment.bakeMinutes'], meaning: 'minutes both revisions keep running after all traffic moved, so an alarm still rolls back at once', rules: '5 to 60' },
  {
    fields: ['app.deployment.smokePaths', 'app.deployment.smokeLatencyMs'],
    meaning:
      'paths the smoke test requests from the new revision before production traffic moves (the readiness path always); each must answer 2xx within the latency bound, or the release rolls back',
    rules: 'different absolute paths, at most 10; 100 to 5000 ms',
  },
  {
    fields: ['app.enableExecuteCommand'],
    meaning: "ECS Exec into running tasks; AWS does not support it with a read-only root filesystem, so the containers' root filesystem is writable where it is on",
    rules: 'prod: must be false',
  },
  {
    fields: ['app.loadBalancerDeletionProtection'],
    meaning: 'refuse to delete the load balancer: a change that would replace or remove it fails instead',
    rules: 'prod: must be true',
  },
  {
    fields: ['app.waf', 'app.wafRateLimitPer5Min'],
    meaning: 'WAF web ACL on the load balancer (on the distribution where `edge.enabled`); requests per IP per 5 minutes',
    rules: 'prod: WAF on',
  },
  {
    fields: ['app.wafAuthPaths', 'app.wafAuthRateLimitPer5Min'],
    meaning: 'URL path prefixes of sign-in, sign-up and password reset, and the tighter per-IP limit there',
    rules: 'different absolute paths, at least one; limit >= 10 and below `app.wafRateLimitPer5Min` (else that rule blocks first)',
  },
  {
    fields: ['app.wafLargeBodyPaths', 'app.wafServerActions', 'app.wafBodyInspectionKb'],
    meaning:
      'the only places where bodies over 8 KB pass the common rule set: these exact paths (uploads; compared byte for byte, so `/api/uploads-evil` or `/api/uploads/../admin` is no upload) and, when on and behind CloudFront, Next.js Server Action POSTs (header `Next-Action` holding an action id) up to the KB of a body CloudFront hands the web ACL, so the managed rules read all of it (beyond 16 KB AWS charges $0.30 per million requests that large per further 16 KB; a load balancer inspects 8 KB, fixed, and its Server Actions keep the 8 KB limit)',
    rules: 'different normalised absolute paths (no empty, `.` or `..` segment, no trailing slash); 16, 32, 48 or 64',
  },
  {
    fields: ['app.wafRedactedHeaders'],
    meaning: 'request headers carrying secrets that never reach the WAF logs (cookie and authorization always are redacted; only BLOCK and COUNT decisions are logged)',
    rules: 'different lower-case header names',
  },
  {
    fields: ['app.httpAllowedCidrs'],
    meaning: 'a stage without HTTPS admits only these client blocks (on port 80; behind CloudFront at the edge, over its HTTPS name)',
    rules:
      'required without HTTPS; different public blocks (no private, carrier-grade NAT, loopback, link-local, multicast or reserved addresses), none inside another, at most a `/8` in all; dev ships the documentation range 198.51.100.0/24: replace it with your office or VPN',
  },
  { fields: ['uploads.noncurrentVersionExpirationDays'], meaning: 'days a replaced or deleted upload version is kept', rules: '>= 1' },
  { fields: ['uploads.accessLogExpirationDays'], meaning: "days the uploads bucket's server access logs are kept", rules: '>= 1' },
  { fields: ['uploads.replicateToDr'], meaning: 'replicate every upload to a bucket in `drRegion` (adds the `<stage>-Dr` stack)', rules: 'prod: on' },
  {
    fields: ['backup.drCopies'],
    meaning: 'DR key and vault in `drRegion` (adds the `<stage>-Dr` stack); AWS Backup and pre-deploy snapshots are copied there',
    rules: 'prod: must be true; staging true, dev false',
  },
  {
    fields: ['backup.automatedBackupReplicationDays'],
    meaning: 'days RDS also keeps its automated backups in `drRegion` (point-in-time restore there); 0: off',
    rules: '0 to 35; needs `drCopies`',
  },
  { fields: ['backup.planRetentionDays', 'backup.drCopyRetentionDays'], meaning: 'days the daily AWS Backup recovery points and their DR copies are kept', rules: '>= 1' },
  { fields: ['backup.preDeploySnapshotsKept'], meaning: 'pre-deploy snapshots kept per region (older ones of the tool are deleted)', rules: '1 to 50' },
  {
    fields: ['backup.manualSnapshotQuota'],
    meaning: "the account's quota of manual DB snapshots per region (100 unless raised)",
    rules: 'daily recovery points (or DR copies) + pre-deploy snapshots + 5 must fit under it, per region',
  },
  {
    fields: ['backup.vaultLock'],
    meaning:
      'AWS Backup vault lock on both vaults, minimum retention = the plan\'s (or the DR copies\') days: `{ mode: "governance" }`, or `{ mode: "compliance", changeableForDays }` (permanent after that many days: nobody can then shorten retention or delete a recovery point early)',
    rules: 'governance everywhere as shipped; compliance needs `changeableForDays` >= 3 and never in dev or a stage with `retainOnDelete: false`',
  },
  {
    fields: ['backup.breakGlassRoleName'],
    meaning:
      "the role (created by hand at path `/`, outside this app) that alone may delete recovery points, lift the vault policy or lock, schedule deletion of (or disable) the database, backup and DR keys, and delete or overwrite trail log files; it and CloudFormation's deploy role alone may change those keys' policies. The policies name its exact ARN `arn:aws:iam::<account>:role/<name>`: a role under another path matches none of them (`npm run preflight` checks it)",
    rules: 'an IAM role name; `webapp-break-glass`',
  },
  {
    fields: ['backup.restoreTesting'],
    meaning: 'how often AWS Backup restores the newest recovery point for the verifier to check',
    rules: '`off`, `weekly`, `monthly`; prod: not off (weekly), staging monthly',
  },
  {
    fields: ['backup.verify.tables', 'backup.verify.vectorQuery'],
    meaning: 'tables (`{ name, minRows }`) a restored database must have, and a `{ table, column }` for a nearest-neighbour query',
    rules: 'plain lower-case names, each table once',
  },
  {
    fields: ['email.requireProductionAccess'],
    meaning: "preflight fails (instead of warning) while SES in the stage's region is in the sandbox, where mail reaches only verified addresses",
    rules: 'prod: must be true',
  },
  {
    fields: ['email.dmarcPolicy', 'email.dmarcReportsTo'],
    meaning: "the DMARC policy of the stage's domain (`_dmarc.<zone>`: what receivers do with mail that fakes it) and where aggregate reports go",
    rules: '`none`, `quarantine` (default) or `reject`, not `none` in prod; reports: an email address, required with a domain and `quarantine` or `reject`',
  },
  {
    fields: ['alarms.emails', 'alarms.httpsEndpoints'],
    meaning: 'alarm topic subscribers (emails also get the budget notifications); pagers are HTTPS endpoints, Slack goes through AWS Chatbot ([docs/alarms.md](docs/alarms.md))',
    rules: 'different valid emails, at most 10; different `https://` URLs; prod needs one',
  },
  { fields: ['operations.http5xxRatePercent'], meaning: 'alarm when more than this % of requests in 5 minutes get a 5xx, from the load balancer or from the app', rules: '' },
  { fields: ['operations.p99LatencySeconds'], meaning: 'web p99 response time alarm (10 minutes)', rules: '' },
  { fields: ['operations.ecsCpuPercent', 'operations.ecsMemoryPercent'], meaning: 'web and worker CPU and memory alarms (5 minutes)', rules: '' },
  { fields: ['operations.rdsCpuPercent', 'operations.rdsFreeableMemoryMiB'], meaning: 'database CPU (10 minutes) and freeable memory (15 minutes) alarms', rules: '' },
  { fields: ['operations.rdsFreeStoragePercent'], meaning: 'alarm when free storage is below this % of `allocatedStorageGiB`', rules: '' },
  { fields: ['operations.rdsConnectionsPercent'], meaning: "alarm above this % of max_connections (written into the parameter group from the class's memory)", rules: '' },
  { fields: ['operations.rdsLatencySeconds'], meaning: 'database read and write latency alarm (15 minutes)', rules: '' },
  {
    fields: ['operations.cacheCpuPercent', 'operations.cacheMemoryPercent', 'operations.cacheConnections'],
    meaning: 'Valkey engine CPU, memory used and client connections, per node (evictions always alarm at > 0)',
    rules: '',
  },
  { fields: ['operations.sesBounceRatePercent', 'operations.sesComplaintRatePercent'], meaning: 'SES reputation alarms (account)', rules: '' },
  {
    fields: ['operations.queueMetrics', 'operations.queueOldestJobSeconds'],
    meaning:
      'the worker publishes its BullMQ queues (`webapp/Queues`: `Waiting`, `OldestWaitingSeconds`, dimension `Stage`; docs/architecture.md, "What the worker publishes"): its task role may, the dashboard shows them, and `queue-oldest-job-age` pages when the oldest job waits too long or the worker stops reporting',
    rules: 'turn on once the app publishes them; 60 to 86400 s',
  },
  { fields: ['operations.wafBlockedPer5Min'], meaning: 'WAF blocked-request surge alarm', rules: '' },
  {
    fields: ['baseline.trail.enabled', 'baseline.trail.organizationTrail'],
    meaning:
      "the account's multi-region CloudTrail trail (bucket, key, CloudWatch Logs copy, CIS metric filters and alarms); or, when off, the organisation trail that records the account",
    rules: 'one per account (stages sharing an account set the same `baseline`); prod: on, or `organizationTrail` named; not both',
  },
  {
    fields: ['baseline.trail.retentionDays', 'baseline.trail.archiveAfterDays', 'baseline.trail.objectLock'],
    meaning:
      'days log files are kept, days until Glacier Instant Retrieval, S3 Object Lock (governance) for the retention: `"governance"` creates the trail bucket locked, for an account whose trail bucket does not exist yet (one bucket, locked from the start); `"locked-bucket"` moves an already-deployed trail to a second bucket created locked (the first, unlocked bucket keeps the earlier files until they expire)',
    rules:
      '90 to 36500 (Object Lock keeps 100 years at most; prod >= 365); archive before expiry, >= 30; prod: a lock (`"governance"` as shipped); `"governance"` only on a trail bucket created with it (set on a deployed unlocked bucket, it would replace the bucket)',
  },
  { fields: ['baseline.trail.uploadsDataEvents'], meaning: 'record object-level events of the uploads buckets of the stages in the account', rules: 'needs the trail; on in prod' },
  {
    fields: ['baseline.guardDuty.enabled', 'baseline.guardDuty.runtimeMonitoring'],
    meaning: 'GuardDuty detector (S3, RDS login, EBS malware scans) and Fargate Runtime Monitoring (its agent as a sidecar; task execution roles may pull it)',
    rules: 'off in dev as shipped (cost)',
  },
  {
    fields: ['baseline.securityHub', 'baseline.configRecorder'],
    meaning:
      'Security Hub with AWS Foundational Security Best Practices; AWS Config recording of the types this project uses (`stack`), by the landing zone (`organization`), or none',
    rules: 'Security Hub needs a recorder (`stack` or `organization`)',
  },
  { fields: ['baseline.accessAnalyzer'], meaning: 'IAM Access Analyzer for the account (external access)', rules: '' },
  { fields: ['operations.slo.enabled'], meaning: 'build the SLO burn-rate alarms and budget widgets', rules: 'off in dev as shipped; prod: must be on' },
  {
    fields: ['operations.slo.availabilityPercent', 'operations.slo.latencyPercent', 'operations.slo.latencyThresholdMs'],
    meaning: 'service-level objectives: requests without a 5xx; requests answered within the threshold (multi-window burn-rate alarms on their 30-day error budgets)',
    rules: '90 to 99.99; 50 to 99.9; 10 to 30000 ms',
  },
  { fields: ['operations.anomalyAlarms'], meaning: 'anomaly-detection alarms on request count and p99 latency', rules: 'on in prod as shipped' },
  {
    fields: ['app.tracing.enabled', 'app.tracing.sampleRatio'],
    meaning: 'an ADOT collector sidecar in web and worker (OTLP on localhost, traces to X-Ray, metrics to CloudWatch); the share of new traces the app samples',
    rules: 'ratio above 0, at most 1; the collector takes 64 CPU units and 128 MiB of each task (the smallest Fargate size leaves the app 384 MiB)',
  },
  { fields: ['logRetentionDays'], meaning: 'CloudWatch Logs retention', rules: 'a value CloudWatch offers (1, 3, 5, 7, 14, 30, 60, 90, ...)' },
  { fields: ['retainOnDelete'], meaning: 'keep keys, log groups and data when a stack or resource is deleted', rules: 'prod: must be true' },
  { fields: ['monthlyBudgetUsd'], meaning: "monthly cost budget of the stage's account: mails at 80% actual and 100% forecast", rules: '> 0' },
  {
    fields: ['image.repositoryName', 'image.tag'],
    meaning: 'ECR repository and image tag or `sha256:` digest',
    rules: 'ECR name rules; tag or 64-hex digest, not an expiring tag',
  },
  { fields: ['image.source'], meaning: '`{ account, region }` of the registry CI pushes to; it replicates to every other stage account', rules: 'the same in every stage' },
  {
    fields: ['image.promotedFrom'],
    meaning: "the stage whose running image this stage's deploys promote by digest; its account gets a read-only role only this stage's GitHub environment may assume",
    rules: 'another stage; at most one stage promotes from each; prod ships `staging`',
  },
  {
    fields: ['image.expiringTagPatterns'],
    meaning:
      'tag patterns of builds that expire after 30 days (`pr-*`, `sha-*`) unless released: every image a stage deploys is tagged `release-<digest>` in its registry, and those are kept',
    rules: 'different patterns, no bare `*`, none that selects `release-` tags; the same in every stage',
  },
  {
    fields: ['ci.repository', 'ci.repositoryId', 'ci.createOidcProvider'],
    meaning:
      "the GitHub repository (`owner/name`) and its numeric id (`gh api repos/<owner>/<name> --jq .id`) the CI roles trust; create GitHub's OIDC provider in the account (false if it has one)",
    rules: 'the same repository and id in every stage',
  },
];

/** The schema paths a row's field stands for ("web.*" is every field under web). */
export function expandField(field: string, paths: readonly string[] = fieldPaths()): string[] {
  if (field.endsWith('.*')) {
    const prefix = field.slice(0, -1);
    return paths.filter((p) => p.startsWith(prefix) && !p.slice(prefix.length).includes('.'));
  }
  return paths.includes(field) ? [field] : [];
}

/** The default column of a row: each field's schema default, "optional", or "required" (every stage sets it). */
function defaults(row: ReferenceRow): string {
  const shown = row.fields
    .flatMap((f) => expandField(f))
    .map((path) => {
      const value = fieldDefault(path);
      if (value !== undefined) return `\`${JSON.stringify(value)}\``;
      return isOptionalField(path) ? 'optional' : 'required';
    });
  return [...new Set(shown)].length === 1 && shown.length > 1 ? shown[0] : shown.join(', ');
}

/** Markers around the generated table in README.md. */
export const TABLE_START = '<!-- config-table:start (generated by npm run docs:config from lib/config/reference.ts and the schema) -->';
export const TABLE_END = '<!-- config-table:end -->';

/** The README's configuration table, markers included. */
export function configTable(): string {
  const cell = (text: string) => text.replace(/\|/g, '\\|');
  const lines = [
    '| field | meaning | rules | default |',
    '| --- | --- | --- | --- |',
    ...CONFIG_REFERENCE.map((row) => `| ${row.fields.map((f) => `\`${f}\``).join(', ')} | ${cell(row.meaning)} | ${cell(row.rules)} | ${defaults(row)} |`),
  ];
  return [TABLE_START, ...lines, TABLE_END].join('\n');
}
