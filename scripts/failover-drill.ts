/**
 * Rehearses a stage's failover into its DR region beside the running stage, measures each step,
 * and takes it down again (docs/disaster-recovery.md, "Failover drill"):
 *
 *   npm run failover-drill -- --stage staging [--image TAG|sha256:DIGEST] [--teardown] [--account ID] [-c KEY=VALUE ...] [--yes]
 *
 * Without --yes it prints the plan. With --yes it restores the database in the DR region from the
 * replicated automated backups, deploys the DR tiers against it (CloudFront keeps serving from the
 * primary), runs the DR smoke test, takes it all down and records the minutes (the failover's
 * plan quotes them; the stale-drill alarm reads the time). --teardown only takes a drill down.
 *
 * Exit codes: 0 drilled (or the plan printed), 1 a step failed (rerun continues; --teardown cleans
 * up) or the plan cannot start, 2 bad arguments, refused, or no credentials (nothing changed).
 */
import { STAGE_NAMES } from '../lib/config';
import { addContext, readFlags, stageArg } from './lib/args';
import { UsageError } from './lib/assembly';
import { roleLine } from './lib/credentials';
import { defaultRecoveryDeps, type RecoveryDeps, recoveryMain } from './lib/failover';
import { type DrillArgs, runDrill } from './lib/failover-drill';
import { checkImageRef } from './lib/release';

const USAGE = `usage: failover-drill --stage ${STAGE_NAMES.join('|')} [--image TAG|sha256:DIGEST] [--teardown] [--account ID] [-c KEY=VALUE ...] [--yes]; ${roleLine('failover-drill')}`;

export function parseArgs(argv: readonly string[]): DrillArgs {
  let stage: string | undefined;
  let image: string | undefined;
  let account: string | undefined;
  let teardown = false;
  let yes = false;
  const context: Record<string, string> = {};
  for (const [flag, value = ''] of readFlags(argv, {
    values: ['--stage', '--image', '--account', '-c', '--context'],
    switches: ['--teardown', '--yes'],
    usage: USAGE,
  })) {
    if (flag === '--yes') yes = true;
    else if (flag === '--teardown') teardown = true;
    else if (flag === '--stage') stage = value;
    else if (flag === '--image') image = checkImageRef(value);
    else if (flag === '--account') account = value;
    else addContext(context, flag, value, USAGE);
  }
  const name = stageArg(stage, USAGE);
  if (teardown && image) throw new UsageError(`--teardown takes the drill down and deploys no image: leave --image out. ${USAGE}`);
  return { stage: name, teardown, image, yes, account, context };
}

export async function main(argv = process.argv.slice(2), env = process.env, deps: RecoveryDeps = defaultRecoveryDeps()): Promise<number> {
  return recoveryMain('failover-drill', parseArgs, runDrill, argv, env, deps);
}

if (require.main === module) {
  main().then((code) => process.exit(code));
}
