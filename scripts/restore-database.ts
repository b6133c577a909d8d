/**
 * Restores a stage's database from a snapshot or to a point in time, with every setting the stack
 * gives the instance (docs/disaster-recovery.md, "Restoring the database"):
 *
 *   npm run restore -- --stage prod --to-time 2026-12-01T02:10:00Z [--yes]          # alongside (default)
 *   npm run restore -- --stage prod --snapshot predeploy-prod-v1-4-2-... [--yes]     # alongside
 *   npm run restore -- --stage prod --to-time latest --replace [--yes]               # in place
 *   npm run restore -- --stage prod --before-release v1.4.2-3f9a1c2e [--yes]          # alongside, before a release
 *   npm run restore -- --stage prod --from-dump latest|KEY [--region DR_REGION] [--engine-version V] [--yes]
 *
 * Alongside (the default, the least loss): the copy is a new instance, webapp-<stage>-repair
 * (single-AZ, no deletion protection), next to the stage database, which keeps serving; copy the
 * lost rows back from it, then delete it. With --replace the copy takes the stage database's place:
 * restored as webapp-<stage>-restored with the current instance's network, parameters, class,
 * Multi-AZ, IAM authentication, log exports, backups, Performance Insights and monitoring, its own
 * RDS-managed master secret (stage database key), checked to differ in nothing, then
 * webapp-<stage> is renamed to webapp-<stage>-old (kept) and the copy to webapp-<stage>, the
 * automated-backup replication to the DR region is started again, and CloudFormation drift
 * detection on the data stack's instance proves the result matches the template. Stop writes
 * first (runbook step 2).
 *
 * From a dump (a logical backup, docs/disaster-recovery.md, "Restoring from a logical backup"): a
 * new instance webapp-<stage>-dump-<yyyymmddhhmm> (the dump's time) alongside, with the stage
 * database's class, storage, network and key (in the DR region: the pilot light's, the DR key),
 * the stage's engine version or a newer one, into which the restore task loads the dump. A rerun
 * continues where the last one stopped.
 *
 * Before a release (data damage): --before-release takes a release id, image tag or digest of the
 * stage's release record and restores to the recorded start of that release's migration, less a
 * minute (or, when it ran none, the recorded start of the release), and says which record it used.
 *
 * Without --yes it only prints what it would do. Exit codes: 0 restored (or the dry run printed),
 * 1 the restore failed or was refused, 2 bad arguments or no credentials for the stage's account
 * (nothing was changed).
 */
import { STAGE_NAMES, type StageConfig } from '../lib/config';
import { stageResourceName } from '../lib/shared/naming';
import { addContext, readFlags, stageArg } from './lib/args';
import { UsageError } from './lib/assembly';
import { accountProblem, roleLine } from './lib/credentials';
import { regionClients } from './lib/dr-survey';
import { type DumpRestoreArgs, type DumpRestoreDeps, runDumpRestore } from './lib/dump-restore';
import { checkImageRef, operatorConfig, refusal } from './lib/release';
import type { Waiting } from './lib/restore';
import { parseIsoTime, type RestoreArgs, restoreClients, restorePointBefore, runRestore } from './lib/restore-database';

const USAGE = `usage: restore --stage ${STAGE_NAMES.join('|')} (--snapshot SNAPSHOT_ID | --to-time ISO-TIME|latest [--replace] | --before-release RELEASE [--replace] | --from-dump latest|KEY [--region REGION] [--engine-version MAJOR.MINOR]) [--account ID] [-c KEY=VALUE ...] [--yes]; ${roleLine('restore')}`;

/** A dump's object key as the job writes it (`raw/2026-12-07T02-00-04Z.dump`), or any key of the bucket ending in `.dump`. */
const DUMP_KEY = /^(?!\/)[\w./-]+\.dump$/;

/** The arguments with --before-release still to be read from the release record (main does, with the stage's SSM). */
export type ParsedRestoreArgs = (Omit<RestoreArgs, 'from'> & { readonly from: RestoreArgs['from'] | { readonly beforeRelease: string } }) | DumpRestoreArgs;

export function parseArgs(argv: readonly string[]): ParsedRestoreArgs {
  let stage: string | undefined;
  let beforeRelease: string | undefined;
  let snapshot: string | undefined;
  let time: string | undefined;
  let dump: string | undefined;
  let region: string | undefined;
  let engineVersion: string | undefined;
  let account: string | undefined;
  let yes = false;
  let replace = false;
  const context: Record<string, string> = {};
  for (const [flag, value = ''] of readFlags(argv, {
    values: ['--stage', '--snapshot', '--to-time', '--before-release', '--from-dump', '--region', '--engine-version', '--account', '-c', '--context'],
    switches: ['--yes', '--replace'],
    usage: USAGE,
  })) {
    if (flag === '--yes') yes = true;
    else if (flag === '--replace') replace = true;
    else if (flag === '--stage') stage = value;
    else if (flag === '--snapshot') snapshot = value;
    else if (flag === '--to-time') time = value;
    else if (flag === '--before-release') beforeRelease = checkImageRef(value, '--before-release');
    else if (flag === '--from-dump') dump = value;
    else if (flag === '--region') region = value;
    else if (flag === '--engine-version') engineVersion = value;
    else if (flag === '--account') account = value;
    else addContext(context, flag, value, USAGE);
  }
  const name = stageArg(stage, USAGE);
  const sources = [snapshot, time, beforeRelease, dump].filter((s) => s !== undefined).length;
  if (sources !== 1) throw new UsageError(`name exactly one of --snapshot, --to-time, --before-release and --from-dump. ${USAGE}`);
  if (dump === undefined && (region !== undefined || engineVersion !== undefined))
    throw new UsageError(`--region and --engine-version go with --from-dump only (a snapshot or point-in-time restore keeps the stage's region and version). ${USAGE}`);
  if (dump !== undefined) {
    if (replace) throw new UsageError(`--replace does not go with --from-dump: a dump restores into a new instance alongside. ${USAGE}`);
    if (dump !== 'latest' && !DUMP_KEY.test(dump))
      throw new UsageError(`--from-dump takes "latest" or a key of the dump bucket (raw/2026-12-07T02-00-04Z.dump), not "${dump}". ${USAGE}`);
    if (region !== undefined && !/^[a-z]{2}(-[a-z]+)+-\d$/.test(region)) throw new UsageError(`--region takes an AWS region (eu-central-1), not "${region}". ${USAGE}`);
    if (engineVersion !== undefined && !/^\d{2}\.\d{1,2}$/.test(engineVersion))
      throw new UsageError(`--engine-version takes a PostgreSQL major.minor (17.6), not "${engineVersion}". ${USAGE}`);
    return { stage: name, from: { dump }, region, engineVersion, yes, account, context };
  }
  if (beforeRelease !== undefined) return { stage: name, from: { beforeRelease }, mode: replace ? 'replace' : 'alongside', yes, account, context };
  let from: RestoreArgs['from'];
  if (snapshot !== undefined) from = { snapshot };
  else if (time === 'latest') from = { time: 'latest' };
  else {
    from = { time: parseIsoTime(time!, USAGE, ' or "latest"') };
  }
  return { stage: name, from, mode: replace ? 'replace' : 'alongside', yes, account, context };
}

const realTime: Waiting = {
  now: () => new Date(),
  sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
  log: (line) => console.log(`${new Date().toISOString()} ${line}`),
};

export async function main(
  argv = process.argv.slice(2),
  env = process.env,
  clientsFor = restoreClients,
  wait = realTime,
  dumpDeps: Omit<DumpRestoreDeps, 'wait'> = { clientsFor: regionClients() },
): Promise<number> {
  let args: ParsedRestoreArgs;
  let config: StageConfig;
  try {
    args = parseArgs(argv);
    config = operatorConfig(args.stage, args, env);
  } catch (error) {
    return refusal('restore', error);
  }
  if ('dump' in args.from) {
    try {
      return await runDumpRestore(args as DumpRestoreArgs, config, { ...dumpDeps, wait });
    } catch (error) {
      console.error(`restore FAILED: ${(error as Error).message}. Nothing of ${stageResourceName(args.stage)} was touched; run the same command again once the cause is fixed.`);
      return 1;
    }
  }
  const { sts, ...clients } = clientsFor(config);
  const problem = await accountProblem(sts, config.account, args.stage, {
    command: 'restore',
    acting: args.yes,
    flags: (args as RestoreArgs).mode === 'replace' ? ['--replace'] : [],
    config,
  });
  if (problem) {
    console.error(`restore: ${problem} Nothing was changed.`);
    return 2;
  }
  if ('beforeRelease' in args.from) {
    try {
      if (!clients.ssm) throw new UsageError('--before-release reads the release record, and these clients have no SSM client.');
      const point = await restorePointBefore(clients.ssm, args.stage, args.from.beforeRelease);
      wait.log(point.basis);
      args = { ...(args as Omit<RestoreArgs, 'from'>), from: { time: point.time } };
    } catch (error) {
      return refusal('restore', error);
    }
  }
  try {
    return await runRestore(args as RestoreArgs, clients, wait, config);
  } catch (error) {
    console.error(`FAILED: ${(error as Error).message}. ${stageResourceName(args.stage)} is left as it was unless the log above says it was renamed.`);
    return 1;
  }
}

if (require.main === module) {
  main().then((code) => process.exit(code));
}
