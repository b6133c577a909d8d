/**
 * Restores a stage's database from a snapshot or to a point in time, with every setting the stack
 * gives the instance (docs/disaster-recovery.md, "Restoring the database"):
 *
 *   npm run restore -- --stage prod --to-time 2026-12-01T02:10:00Z [--yes]          # alongside (default)
 *   npm run restore -- --stage prod --snapshot predeploy-prod-v1-4-2-... [--yes]     # alongside
 *   npm run restore -- --stage prod --to-time latest --replace [--yes]               # in place
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
 * Without --yes it only prints what it would do. Exit codes: 0 restored (or the dry run printed),
 * 1 the restore failed or was refused, 2 bad arguments or no credentials for the stage's account
 * (nothing was changed).
 */
import { STAGE_NAMES, type StageConfig } from '../lib/config';
import { stageResourceName } from '../lib/shared/naming';
import { addContext, readFlags, stageArg } from './lib/args';
import { UsageError } from './lib/assembly';
import { accountProblem } from './lib/credentials';
import { operatorConfig, refusal } from './lib/release';
import type { Waiting } from './lib/restore';
import { parseIsoTime, type RestoreArgs, restoreClients, runRestore } from './lib/restore-database';

const USAGE = `usage: restore --stage ${STAGE_NAMES.join('|')} (--snapshot SNAPSHOT_ID | --to-time ISO-TIME|latest) [--replace] [--account ID] [-c KEY=VALUE ...] [--yes]`;

export function parseArgs(argv: readonly string[]): RestoreArgs {
  let stage: string | undefined;
  let snapshot: string | undefined;
  let time: string | undefined;
  let account: string | undefined;
  let yes = false;
  let replace = false;
  const context: Record<string, string> = {};
  for (const [flag, value = ''] of readFlags(argv, {
    values: ['--stage', '--snapshot', '--to-time', '--account', '-c', '--context'],
    switches: ['--yes', '--replace'],
    usage: USAGE,
  })) {
    if (flag === '--yes') yes = true;
    else if (flag === '--replace') replace = true;
    else if (flag === '--stage') stage = value;
    else if (flag === '--snapshot') snapshot = value;
    else if (flag === '--to-time') time = value;
    else if (flag === '--account') account = value;
    else addContext(context, flag, value, USAGE);
  }
  const name = stageArg(stage, USAGE);
  if ((snapshot === undefined) === (time === undefined)) throw new UsageError(`name exactly one of --snapshot and --to-time. ${USAGE}`);
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

export async function main(argv = process.argv.slice(2), env = process.env, clientsFor = restoreClients, wait = realTime): Promise<number> {
  let args: RestoreArgs;
  let config: StageConfig;
  try {
    args = parseArgs(argv);
    config = operatorConfig(args.stage, args, env);
  } catch (error) {
    return refusal('restore', error);
  }
  const { sts, ...clients } = clientsFor(config);
  const problem = await accountProblem(sts, config.account, args.stage);
  if (problem) {
    console.error(`restore: ${problem} Nothing was changed.`);
    return 2;
  }
  try {
    return await runRestore(args, clients, wait, config);
  } catch (error) {
    console.error(`FAILED: ${(error as Error).message}. ${stageResourceName(args.stage)} is left as it was unless the log above says it was renamed.`);
    return 1;
  }
}

if (require.main === module) {
  main().then((code) => process.exit(code));
}
