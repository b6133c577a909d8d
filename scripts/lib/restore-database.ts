/**
 * What `npm run restore` does to a stage's database (docs/disaster-recovery.md, "Restoring the
 * database"): refuses what would go wrong (no stage database, a time outside its point-in-time
 * window, an earlier restore left unfinished), then restores a repair copy alongside, or a copy
 * that takes the stage database's place, from the steps in restore.ts. Every function takes its
 * SDK clients, so the tests run them against moto.
 */
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { RDSClient } from '@aws-sdk/client-rds';
import { SSMClient } from '@aws-sdk/client-ssm';
import { STSClient } from '@aws-sdk/client-sts';
import { ranMigration } from '../../lambda/release-record/stored';
import type { StageConfig, StageName } from '../../lib/config';
import { stageResourceName } from '../../lib/shared/naming';
import { UsageError } from './assembly';
import { operatorConfig } from './release';
import { findRelease, migrationWords, recentReleases, releaseHistory } from './release-history';
import {
  applySettings,
  databaseDrift,
  describe,
  differences,
  type InstanceSettings,
  pointInTimeProblem,
  type RestoreSource,
  replicateBackups,
  restoreInstance,
  settingsOf,
  stopReplicatingBackups,
  swapIn,
  type Waiting,
  waitAvailable,
} from './restore';

export interface RestoreArgs {
  readonly stage: StageName;
  /** A snapshot id, or a time (`latest` for the latest restorable time). */
  readonly from: { readonly snapshot: string } | { readonly time: Date | 'latest' };
  /** alongside: a repair copy next to the stage database; replace: the copy takes its place. */
  readonly mode: 'alongside' | 'replace';
  readonly yes: boolean;
  readonly account?: string;
  readonly context: Record<string, string>;
}

export interface RestoreClients {
  readonly rds: RDSClient | Pick<RDSClient, 'send'>;
  /** RDS in the stage's DR region, to replicate automated backups there again. */
  readonly rdsDr: RDSClient | Pick<RDSClient, 'send'>;
  /** CloudFormation in the DR region: the DR stack's key ARN. */
  readonly cloudformationDr: CloudFormationClient | Pick<CloudFormationClient, 'send'>;
  /** CloudFormation in the stage's region: drift detection on the data stack. */
  readonly cloudformation: CloudFormationClient | Pick<CloudFormationClient, 'send'>;
  /** SSM in the stage's region: the release record, for --before-release. */
  readonly ssm?: SSMClient | Pick<SSMClient, 'send'>;
}

/** How long before the recorded start of a release's migration (or of the release) --before-release restores to. */
export const BEFORE_RELEASE_MARGIN_MS = 60_000;

/**
 * The restore point before a release, from the stage's release record: the recorded start of its
 * migration task, less BEFORE_RELEASE_MARGIN_MS, where one ran (the schema and the data the
 * migration changed are as the release before left them); else the recorded start of the release
 * (its pre-deploy snapshot step). Never the completion time: by then the migration has run and the
 * new code has written for the whole rollout. Refuses a release the record does not hold.
 */
export async function restorePointBefore(ssm: Pick<SSMClient, 'send'>, stage: string, name: string): Promise<{ time: Date; basis: string }> {
  const history = await releaseHistory(ssm, stage);
  const release = findRelease(history, name);
  if (!release) {
    throw new UsageError(
      `--before-release ${name} names no release in the ${stage} release record (/webapp/${stage}/releases/current). It takes a release id, an image tag or a digest; the newest: ${recentReleases(history)}. For an older release, restore to a time (--to-time) or its pre-deploy snapshot (--snapshot).`,
    );
  }
  const migrated = ranMigration(release) && release.migrationStartedAt !== '';
  const start = new Date(migrated ? release.migrationStartedAt : release.startedAt);
  if (Number.isNaN(start.getTime())) {
    throw new UsageError(
      `the ${stage} release record has no start time for ${release.release}: restore to a time (--to-time) or its pre-deploy snapshot (--snapshot ${release.snapshotId}).`,
    );
  }
  const time = new Date(start.getTime() - BEFORE_RELEASE_MARGIN_MS);
  const what = migrated
    ? `the recorded start of the migration of release ${release.release} (${migrationWords(release)}, task ${release.migrationTask})`
    : `the recorded start of release ${release.release}, which ran no migration (${migrationWords(release)})`;
  return {
    time,
    basis: `restore point ${time.toISOString()}: ${BEFORE_RELEASE_MARGIN_MS / 60_000} minute before ${what}, from the release record /webapp/${stage}/releases/current (not the release's completion)`,
  };
}

/** `--to-time`'s value: an ISO 8601 time with its zone, or a UsageError naming the other values it takes (`or "latest"`) and ending in `usage`. */
export function parseIsoTime(text: string, usage: string, orElse = ''): Date {
  const parsed = new Date(text);
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(text) || Number.isNaN(parsed.getTime())) {
    throw new UsageError(`--to-time takes an ISO time with its zone (2026-12-01T02:10:00Z)${orElse}, not "${text}". ${usage}`);
  }
  return parsed;
}

const describeFrom = (from: RestoreArgs['from']) =>
  'snapshot' in from ? `snapshot ${from.snapshot}` : from.time === 'latest' ? 'the latest restorable time' : `the state of ${from.time.toISOString()}`;

/** Runs the restore (or prints its plan) and returns the exit code; `wait.log` gets every line. */
export async function runRestore(args: RestoreArgs, clients: RestoreClients, wait: Waiting, config: StageConfig = operatorConfig(args.stage, args, {})): Promise<number> {
  const names = {
    current: stageResourceName(args.stage),
    restored: stageResourceName(args.stage, 'restored'),
    old: stageResourceName(args.stage, 'old'),
    repair: stageResourceName(args.stage, 'repair'),
  };
  const say = wait.log;
  const current = await describe(clients.rds, names.current);
  if (!current) {
    say(`REFUSED: ${names.current} does not exist in ${config.region}. Restore into the DR region by the runbook instead (docs/disaster-recovery.md).`);
    return 1;
  }
  const source: RestoreSource = 'snapshot' in args.from ? { snapshot: args.from.snapshot } : { source: names.current, time: args.from.time };
  if ('time' in args.from) {
    const problem = pointInTimeProblem(current, args.from.time, wait.now());
    if (problem) {
      say(`REFUSED: ${problem}`);
      return 1;
    }
  }
  const taken = args.mode === 'replace' ? [names.restored, names.old] : [names.repair];
  for (const name of taken) {
    if (await describe(clients.rds, name)) {
      say(`REFUSED: ${name} already exists: an earlier restore was not finished. Delete or rename it first (docs/disaster-recovery.md).`);
      return 1;
    }
  }
  const run: RestoreRun = { args, clients, wait, config, settings: settingsOf(current), source };
  return args.mode === 'alongside' ? alongside(run, names.repair) : replace(run, names);
}

/** What both restores work from: the arguments, the clients, the current instance's settings and where to restore from. */
interface RestoreRun {
  readonly args: RestoreArgs;
  readonly clients: RestoreClients;
  readonly wait: Waiting;
  readonly config: StageConfig;
  readonly settings: InstanceSettings;
  readonly source: RestoreSource;
}

/** A repair copy next to the stage database: its settings, but single-AZ, one day of backups and deletable. */
async function alongside({ args, clients, wait, config, settings, source }: RestoreRun, repair: string): Promise<number> {
  const say = wait.log;
  // Deletion protection stays off (the restore and applySettings never set it) and nothing replicates a repair copy.
  const copy: InstanceSettings = { ...settings, multiAz: false, backupRetention: 1 };
  const plan = [
    `restore ${describeFrom(args.from)} as ${repair} next to ${stageResourceName(args.stage)}, which keeps serving (${copy.instanceClass}, single-AZ, subnet group ${copy.subnetGroup}, security groups ${copy.securityGroups.join(' ')})`,
    `give it a managed master secret (key ${copy.masterSecretKmsKeyId ?? 'the RDS default'}), IAM logins, Performance Insights ${copy.performanceInsights.enabled}, monitoring every ${copy.monitoring.intervalSeconds} s, 1 day of backups`,
  ];
  if (!args.yes) {
    say(`Would, for ${stageResourceName(args.stage)} in ${config.region}:`);
    for (const [i, step] of plan.entries()) say(`  ${i + 1}. ${step}`);
    say('Nothing stops: the stage goes on using its database. Run again with --yes.');
    return 0;
  }
  say(`1/2 ${plan[0]}`);
  await restoreInstance(clients.rds, source, repair, copy);
  await waitAvailable(clients.rds, repair, wait);
  say(`2/2 ${plan[1]}`);
  await applySettings(clients.rds, repair, copy);
  const restored = await waitAvailable(clients.rds, repair, wait, { secret: true });
  say(`REPAIR COPY READY: ${repair} at ${restored.Endpoint?.Address ?? '(no endpoint yet)'}:${restored.Endpoint?.Port ?? 5432}, ${describeFrom(args.from)}.`);
  say('Next (docs/disaster-recovery.md, "Repairing from a copy"):');
  say(
    `  - read or copy back what was lost, as webapp_app or webapp_migrator with an IAM token for ${restored.Endpoint?.Address ?? repair} (same security group as the stage database);`,
  );
  say(`  - then delete it: aws rds delete-db-instance --db-instance-identifier ${repair} --skip-final-snapshot --delete-automated-backups`);
  return 0;
}

/** The copy takes the stage database's place (the old one is kept), and the stacks are proven unchanged. */
async function replace({ args, clients, wait, config, settings, source }: RestoreRun, names: { current: string; restored: string; old: string }): Promise<number> {
  const say = wait.log;
  const plan = [
    `restore ${describeFrom(args.from)} as ${names.restored} (${settings.instanceClass}, Multi-AZ ${settings.multiAz}, subnet group ${settings.subnetGroup}, security groups ${settings.securityGroups.join(' ')})`,
    `apply what a restore drops: a managed master secret (key ${settings.masterSecretKmsKeyId ?? 'the RDS default'}), ${settings.backupRetention} days of backups, Performance Insights ${settings.performanceInsights.enabled}, monitoring every ${settings.monitoring.intervalSeconds} s`,
    `rename ${names.current} to ${names.old} (kept, with its secret) and ${names.restored} to ${names.current}, deletion protection ${settings.deletionProtection}`,
    settings.backupReplication.length > 0
      ? settings.backupReplication.map((r) => `stop replicating ${names.old}'s automated backups to ${r.region} and replicate the copy's`).join('; ')
      : 'no automated-backup replication to restart',
    `check with CloudFormation drift detection that ${args.stage}-Data's database instance matches its template`,
  ];
  if (!args.yes) {
    say(`Would, for ${names.current} in ${config.region}:`);
    for (const [i, step] of plan.entries()) say(`  ${i + 1}. ${step}`);
    say(migrationsComeBack(args.stage));
    say('Stop writes first (docs/disaster-recovery.md, step 2), then run again with --yes.');
    return 0;
  }

  say(`1/5 ${plan[0]}`);
  await restoreInstance(clients.rds, source, names.restored, settings);
  await waitAvailable(clients.rds, names.restored, wait);
  say(`2/5 ${plan[1]}`);
  await applySettings(clients.rds, names.restored, settings);
  const restored = await waitAvailable(clients.rds, names.restored, wait, { secret: true });
  const diff = differences(settings, settingsOf(restored));
  if (diff.length > 0) {
    say(`STOPPED before the swap: ${names.restored} differs from ${names.current}: ${diff.join('; ')}. Fix it by hand (aws rds modify-db-instance), then swap by the runbook.`);
    return 1;
  }
  say(`3/5 ${plan[2]}`);
  await swapIn(clients.rds, names, wait, settings.deletionProtection);
  say(`4/5 ${plan[3]}`);
  if (settings.backupReplication.length > 0) {
    const key = await drBackupKey(clients.cloudformationDr, args.stage);
    const arn = (await describe(clients.rds, names.current))!.DBInstanceArn!;
    // The replaced instance's replication would go on beside the new one's, under the same name there.
    await stopReplicatingBackups(clients.rdsDr, (await describe(clients.rds, names.old))!.DBInstanceArn!);
    await replicateBackups(clients.rdsDr, arn, key, config.backup.automatedBackupReplicationDays);
  }
  say(`5/5 ${plan[4]}`);
  let drift: string;
  try {
    drift = await databaseDrift(clients.cloudformation, `${args.stage}-Data`, names.current, wait);
  } catch (error) {
    drift = `drift detection did not run (${(error as Error).name}: ${(error as Error).message}): run it by hand (aws cloudformation detect-stack-drift --stack-name ${args.stage}-Data)`;
  }
  say(`    ${drift}`);
  say(`RESTORED: ${names.current} is the copy of ${describeFrom(args.from)}; ${names.old} is kept.`);
  say(migrationsComeBack(args.stage));
  say('Next (docs/disaster-recovery.md, steps 4-6):');
  say(`  - deploy the stage, data first, as the pipeline would: npm run deploy -- --stage ${args.stage} -c rerunDatabaseSetup=${Math.floor(wait.now().getTime() / 1000)} --yes`);
  say('  - set the services back to their capacity (step 5), check the site and the dashboard;');
  say(`  - once the restore is accepted: aws rds modify-db-instance --db-instance-identifier ${names.old} --no-deletion-protection, then delete it (a final snapshot is kept).`);
  return drift.includes('DRIFTED') ? 1 : 0;
}

/**
 * What an in-place restore brings back besides the data: the migration tool's own table (the
 * migrations it has applied) as of the restore point, and a new instance whose record of migrated
 * releases is empty (docs/releases.md, "Migrations"). So the next deploy runs again every
 * migration after the restore point, the damaging release's included.
 */
export function migrationsComeBack(stage: StageName): string {
  return `WARNING: the migration tool's table (_prisma_migrations, knex_migrations, pgmigrations, __drizzle_migrations, ...) comes back as of the restore point too, so the next deploy runs every migration after it again, the damaging release's included: roll back to the release before it first (npm run rollback -- --stage ${stage}), or deploy one whose migrations are fixed.`;
}

/** The DR backup key's ARN, from the DR stack's output. */
async function drBackupKey(cf: RestoreClients['cloudformationDr'], stage: string): Promise<string> {
  const stack = (await cf.send(new DescribeStacksCommand({ StackName: `${stage}-Dr` }))).Stacks?.[0];
  const key = stack?.Outputs?.find((o) => o.OutputKey === 'BackupKeyArn')?.OutputValue;
  if (!key)
    throw new Error(`${stage}-Dr has no output BackupKeyArn: deploy the DR stack, then run: aws rds start-db-instance-automated-backups-replication (docs/disaster-recovery.md)`);
  return key;
}

/** The stage's clients: RDS and CloudFormation in its region and its DR region, STS to check the account. */
export function restoreClients(config: StageConfig): RestoreClients & { readonly sts: Pick<STSClient, 'send'> } {
  return {
    sts: new STSClient({ region: config.region }),
    rds: new RDSClient({ region: config.region }),
    rdsDr: new RDSClient({ region: config.drRegion }),
    cloudformationDr: new CloudFormationClient({ region: config.drRegion }),
    cloudformation: new CloudFormationClient({ region: config.region }),
    ssm: new SSMClient({ region: config.region }),
  };
}
