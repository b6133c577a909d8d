/**
 * The names the logical backup's parts agree on: the dump job (lambda/logical-backup, an ECS
 * task), the stacks that run it (lib/data/logical-backup.ts, lib/dr) and the operator commands
 * (`npm run restore -- --from-dump`, `npm run refresh-staging`, `npm run local`). No CDK import:
 * the job and the scripts read it too.
 */
import { PROJECT, stageResourceName } from '../shared/naming';

/** How a column is anonymised; lambda/logical-backup/anonymise.ts says what each writes. */
export const ANONYMISATION_RULES = ['email', 'name', 'null', 'hash', 'redact', 'keep'] as const;
export type AnonymisationRule = (typeof ANONYMISATION_RULES)[number];

/**
 * The dump bucket of a stage in one region: the stage's own in its primary region, the replica in
 * its DR region. Named from account and region so another stage's account (the anonymised copy's
 * reader) knows it without a lookup.
 */
export function dumpBucketName(stage: string, account: string, region: string): string {
  return stageResourceName(stage, 'dumps', account, region);
}

/**
 * The database role the nightly dump logs in as (IAM authentication, read-only): the database
 * setup creates it (`DATABASE_ROLES.dump`), the dump task's role may connect as it.
 */
export const DUMP_ROLE = `${PROJECT}_dump`;

/**
 * The objects a `refreshFrom` stage reads in its source stage's bucket: the anonymised copies
 * only (`arn:aws:s3:::<bucket>/anonymised/*`).
 */
export function refreshSourceObjects(from: { readonly sourceStage: string; readonly sourceAccount: string; readonly sourceRegion: string }, partition = 'aws'): string {
  return `arn:${partition}:s3:::${dumpBucketName(from.sourceStage, from.sourceAccount, from.sourceRegion)}/${DUMP_PREFIX.anonymised}*`;
}

/**
 * Object key prefixes of the dump bucket: raw dumps (this account only), anonymised copies (also
 * the reader stage's account), and the markers of passed restore checks (`checkKey`).
 */
export const DUMP_PREFIX = { raw: 'raw/', anonymised: 'anonymised/', checks: 'checks/' } as const;

/**
 * The key of a dump taken at `at`: `raw/2026-12-07T02-00-04Z.dump`. Keys sort by time, so the
 * newest is the greatest.
 */
export function dumpKey(prefix: string, at: Date, extension = '.dump'): string {
  return `${prefix}${at.toISOString().slice(0, 19).replace(/:/g, '-')}Z${extension}`;
}

/**
 * The marker a restore check that passed at `at` writes: `checks/2026-12-12T06-00-04Z.json`. Its
 * time, like a dump's, is what the age of the newest passed check is read from (lambda/dump-age).
 */
export function checkKey(at: Date): string {
  return dumpKey(DUMP_PREFIX.checks, at, '.json');
}

const KEY_TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2})-(\d{2})-(\d{2})Z\.[a-z]+$/;

/** The time in a key `dumpKey` or `checkKey` wrote under `prefix`, or undefined for any other key. */
export function keyTime(prefix: string, key: string): Date | undefined {
  if (!key.startsWith(prefix)) return undefined;
  const match = KEY_TIME.exec(key.slice(prefix.length));
  if (!match) return undefined;
  const [year, month, day, hour, minute, second] = match.slice(1).map(Number);
  const time = new Date(Date.UTC(year, month - 1, day, hour, minute, second));
  // Date rolls a field out of range into the next one (month 13, 25 o'clock): not a key it wrote.
  return dumpKey(prefix, time, key.slice(key.lastIndexOf('.'))) === key ? time : undefined;
}

/** User metadata on every dump object (S3 `x-amz-meta-*`): what a restore checks before it starts. */
export const DUMP_METADATA = {
  /** The server's `server_version_num` major ("17"): a restore goes onto this major or a newer one. */
  serverMajor: 'server-major',
  /** The server's full version ("17.6"). */
  serverVersion: 'server-version',
  /** When the raw dump the object holds (or was anonymised from) started, ISO 8601. */
  sourceTime: 'source-time',
  /** The database dumped. */
  database: 'database',
} as const;

/** The dump job's one container, and the commands its entrypoint takes (its first argument). */
export const DUMP_CONTAINER = 'dump';
export const DUMP_COMMANDS = ['dump', 'check', 'anonymise', 'restore', 'refresh'] as const;
export type DumpCommand = (typeof DUMP_COMMANDS)[number];

/** Task definition families: the nightly dump and its check, the anonymisation (the source stage only), and the restore of a dump into another database. */
export function dumpTaskFamily(stage: string, command: 'dump' | 'anonymise' | 'restore'): string {
  return stageResourceName(stage, `${command}-task`);
}

/**
 * The environment the job reads (set by the task definition, or by the operator command as a
 * container override for `restore` and `refresh`).
 */
export const DUMP_ENV = {
  stage: 'STAGE',
  bucket: 'DUMP_BUCKET',
  /** The object a restore or refresh reads; the check and the anonymisation read the newest raw dump. */
  key: 'DUMP_KEY',
  /** The bucket the refresh reads from (the source stage's, in its account). */
  sourceBucket: 'SOURCE_BUCKET',
  databaseHost: 'DATABASE_HOST',
  databasePort: 'DATABASE_PORT',
  databaseName: 'DATABASE_NAME',
  /** The role the dump logs in as (IAM authentication). */
  databaseUser: 'DATABASE_USER',
  /**
   * The master secret a restore and a refresh log in with: the ARN of the instance's RDS-managed
   * secret (the operator commands' override: the instance is new, so no task definition can name
   * it), whose JSON holds username and password.
   */
  masterSecret: 'MASTER_SECRET',
  /** The rules of `dumps.anonymised.rules` as JSON, and the reserved domain. */
  rules: 'ANONYMISE_RULES',
  reservedDomain: 'RESERVED_DOMAIN',
  /**
   * The key an anonymised copy is written with (SSE-KMS, named on the upload): not the bucket's
   * default, which is the raw dumps' key and stays this account's. The reader stage's account may
   * decrypt with it, through S3, for objects under `anonymised/` only.
   */
  anonymisedKey: 'ANONYMISED_KEY_ID',
  /** The secret salt of the keyed hashes (Secrets Manager, injected by ECS). */
  salt: 'ANONYMISE_SALT',
  /**
   * Minutes after which the dump stops pg_dump and fails (`dumps.maxMinutes` × DUMP_DEADLINE_FACTOR):
   * ECS has no time limit for a task, and a hung dump would still hold its connection when the
   * next night's starts.
   */
  deadlineMinutes: 'DUMP_DEADLINE_MINUTES',
  /** What a restored database must contain (`backup.verify` and the pgvector minimum), as JSON. */
  expectations: 'VERIFY_EXPECTATIONS',
} as const;

/** How many times `dumps.maxMinutes` (the slow-dump alarm's threshold) a dump may run before it is stopped. */
export const DUMP_DEADLINE_FACTOR = 4;

/** Metric namespace of the job (dimension Stage). */
export const DUMP_METRICS_NAMESPACE = `${PROJECT}/Dumps`;
export const DUMP_METRICS = {
  /** Seconds the nightly dump took, published when it succeeded. */
  seconds: 'DumpSeconds',
  /** Bytes of the dump object, published when it succeeded. */
  bytes: 'DumpBytes',
  /** 1 when the nightly dump was uploaded, 0 when it failed. */
  dumpSucceeded: 'DumpSucceeded',
  /** 1 when the weekly restore check passed, 0 when it failed. */
  checkSucceeded: 'RestoreCheckSucceeded',
  /** 1 when an anonymised copy passed its verifier and was written, 0 when it was refused or failed. */
  anonymisedSucceeded: 'AnonymisedSucceeded',
  /** Hours since the newest raw dump started (lambda/dump-age, hourly, once there is one). */
  hoursSinceDump: 'HoursSinceDump',
  /** Hours since the newest restore check passed (its `checkKey` marker), where the check runs. */
  hoursSinceCheck: 'HoursSinceCheck',
  /** Hours since the newest anonymised copy was written, where the stage makes one. */
  hoursSinceAnonymised: 'HoursSinceAnonymised',
} as const;

/** SSM parameter where a refresh records which source stage's dump (and its time) the stage's data came from. */
export function refreshedFromParameter(stage: string): string {
  return `/${PROJECT}/${stage}/data/refreshed-from`;
}

/**
 * Stack outputs the operator commands read to run the restore task (`npm run restore --
 * --from-dump`, `npm run refresh-staging`): on the data stack in the primary region, and on the
 * pilot light in the DR region (whose restore task runs in its public subnets: it has no NAT).
 */
export const DUMP_OUTPUTS = {
  bucket: 'DumpBucketName',
  cluster: 'DumpClusterName',
  /** The restore task definition's ARN (family `dumpTaskFamily(stage, 'restore')`). */
  restoreTask: 'DumpRestoreTaskDefinitionArn',
  /** Comma-separated subnet ids the restore task runs in. */
  subnets: 'DumpSubnetIds',
  securityGroup: 'DumpSecurityGroupId',
  /** "ENABLED" where the task needs a public address to reach AWS's endpoints (the pilot light), else "DISABLED". */
  publicIp: 'DumpAssignPublicIp',
} as const;
