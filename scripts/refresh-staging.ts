/**
 * Gives a stage (staging) the newest anonymised copy of its source stage's data
 * (docs/disaster-recovery.md, "Staging data"):
 *
 *   npm run refresh-staging -- [--stage staging] [--account ID] [-c KEY=VALUE ...] [--yes]
 *
 * Without --yes it prints the plan: which copy (the source stage's bucket, read across accounts),
 * of when, from which PostgreSQL, what the stage's data is now, and the restore task that would
 * replace it. With --yes it runs the task (`refresh`: pg_restore --clean, the database setup, the
 * verifier's checks), waits for its exit code and records the copy in the stage's
 * `refreshed-from` SSM parameter; a rerun of a refresh already done does nothing.
 *
 * Exit codes: 0 refreshed (or the plan printed), 1 the refresh failed or cannot start, 2 bad
 * arguments, a stage without dumps.refreshFrom, prod, or no credentials for the stage's account
 * (nothing changed).
 */
import { STAGE_NAMES } from '../lib/config';
import { readFlags, STAGE_COMMAND_FLAGS, stageCommandArgs } from './lib/args';
import { roleLine } from './lib/credentials';
import { regionClients } from './lib/dr-survey';
import { type RefreshArgs, type RefreshDeps, runRefresh } from './lib/refresh-staging';
import { operatorConfig, refusal } from './lib/release';
import { realTime } from './lib/runbook';

const USAGE = `usage: refresh-staging [--stage ${STAGE_NAMES.join('|')}] [--account ID] [-c KEY=VALUE ...] [--yes]; ${roleLine('refresh-staging')}`;

export function parseArgs(argv: readonly string[]): RefreshArgs {
  return stageCommandArgs(readFlags(argv, { ...STAGE_COMMAND_FLAGS, usage: USAGE }), USAGE, 'staging');
}

export async function main(argv = process.argv.slice(2), env = process.env, deps: RefreshDeps = { clientsFor: regionClients(), wait: realTime }): Promise<number> {
  let args: RefreshArgs;
  let config: ReturnType<typeof operatorConfig>;
  try {
    args = parseArgs(argv);
    config = operatorConfig(args.stage, args, env);
  } catch (error) {
    return refusal('refresh-staging', error);
  }
  try {
    return await runRefresh(args, config, deps);
  } catch (error) {
    console.error(`refresh-staging FAILED: ${(error as Error).message}. Run the same command again once the cause is fixed.`);
    return 1;
  }
}

if (require.main === module) {
  main().then((code) => process.exit(code));
}
