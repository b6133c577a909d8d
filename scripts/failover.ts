/**
 * Brings a stage back in its DR region when its primary region is lost (docs/disaster-recovery.md,
 * "When the primary region is lost"):
 *
 *   npm run failover -- --stage prod [--latest | --to-time 2026-12-07T03:10:00Z] [--image TAG|sha256:DIGEST]
 *                       [--primary-lost] [--account ID] [-c KEY=VALUE ...] [--yes]
 *
 * Without --yes it reads what survives in the DR region and prints the plan: each step's expected
 * minutes and their source, the RTO budget, what the DR tiers cost per day and what is lost. With
 * --yes it restores the database there, deploys the DR tiers, moves CloudFront's viewers and checks
 * the site, printing each step's minutes; run again after a failure, it continues where it stopped.
 * It refuses while the primary region still answers, unless --primary-lost says the loss is meant.
 *
 * Exit codes: 0 failed over (or the plan printed), 1 a step failed (rerun continues) or the plan
 * cannot start, 2 bad arguments, refused, or no credentials for the stage's account (nothing changed).
 */
import { STAGE_NAMES } from '../lib/config';
import { addContext, readFlags, stageArg } from './lib/args';
import { UsageError } from './lib/assembly';
import { roleLine } from './lib/credentials';
import { defaultRecoveryDeps, type FailoverArgs, type RecoveryDeps, recoveryMain, runFailover } from './lib/failover';
import { checkImageRef } from './lib/release';
import { parseIsoTime } from './lib/restore-database';

const USAGE = `usage: failover --stage ${STAGE_NAMES.join('|')} [--latest | --to-time ISO-TIME] [--image TAG|sha256:DIGEST] [--primary-lost] [--account ID] [-c KEY=VALUE ...] [--yes]; ${roleLine('failover')}`;

export function parseArgs(argv: readonly string[]): FailoverArgs {
  let stage: string | undefined;
  let time: string | undefined;
  let latest = false;
  let image: string | undefined;
  let account: string | undefined;
  let primaryLost = false;
  let yes = false;
  const context: Record<string, string> = {};
  for (const [flag, value = ''] of readFlags(argv, {
    values: ['--stage', '--to-time', '--image', '--account', '-c', '--context'],
    switches: ['--latest', '--primary-lost', '--yes'],
    usage: USAGE,
  })) {
    if (flag === '--yes') yes = true;
    else if (flag === '--latest') latest = true;
    else if (flag === '--primary-lost') primaryLost = true;
    else if (flag === '--stage') stage = value;
    else if (flag === '--to-time') time = value;
    else if (flag === '--image') image = checkImageRef(value);
    else if (flag === '--account') account = value;
    else addContext(context, flag, value, USAGE);
  }
  const name = stageArg(stage, USAGE);
  if (latest && time !== undefined) throw new UsageError(`give --latest or --to-time, not both. ${USAGE}`);
  const toTime = time === undefined ? 'latest' : parseIsoTime(time, USAGE);
  return { stage: name, toTime, image, primaryLost, yes, account, context };
}

export async function main(argv = process.argv.slice(2), env = process.env, deps: RecoveryDeps = defaultRecoveryDeps()): Promise<number> {
  return recoveryMain('failover', parseArgs, runFailover, argv, env, deps);
}

if (require.main === module) {
  main().then((code) => process.exit(code));
}
