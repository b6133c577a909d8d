/**
 * Brings a failed-over stage back to its primary region once that region answers again, with the
 * data written in the DR region (docs/disaster-recovery.md, "Failing back"):
 *
 *   npm run failback -- --stage prod [--account ID] [-c KEY=VALUE ...] [--yes]
 *
 * Without --yes it prints the plan with each step's expected minutes. With --yes it stops writes
 * in the DR region (the maintenance page), copies the DR database back and restores it in place
 * of the stale primary one, deploys the stage (the edge moves back), checks the site and takes
 * the DR tiers down. Run again after a failure, it continues where it stopped.
 *
 * Exit codes: 0 failed back (or the plan printed, or nothing to do), 1 a step failed (rerun
 * continues), 2 bad arguments, refused, or no credentials for the stage's account (nothing changed).
 */
import { STAGE_NAMES } from '../lib/config';
import { readFlags, STAGE_COMMAND_FLAGS, stageCommandArgs } from './lib/args';
import { roleLine } from './lib/credentials';
import { type FailbackArgs, runFailback } from './lib/failback';
import { defaultRecoveryDeps, type RecoveryDeps, recoveryMain } from './lib/failover';

const USAGE = `usage: failback --stage ${STAGE_NAMES.join('|')} [--account ID] [-c KEY=VALUE ...] [--yes]; ${roleLine('failback')}`;

export function parseArgs(argv: readonly string[]): FailbackArgs {
  return stageCommandArgs(readFlags(argv, { ...STAGE_COMMAND_FLAGS, usage: USAGE }), USAGE);
}

export async function main(argv = process.argv.slice(2), env = process.env, deps: RecoveryDeps = defaultRecoveryDeps()): Promise<number> {
  return recoveryMain('failback', parseArgs, runFailback, argv, env, deps);
}

if (require.main === module) {
  main().then((code) => process.exit(code));
}
