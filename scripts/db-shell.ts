/**
 * Opens a short-lived, audited way to the stage database, which sits in isolated subnets:
 *
 *   npm run db-shell -- --stage staging --reason "INC-42: check locks" [--minutes 60] [--write] [--yes]
 *   npm run db-shell -- --stage prod --prod --reason "..." --yes
 *   npm run db-shell -- --stage staging --instance webapp-staging-repair --reason "..." [--write] [--yes]
 *   npm run db-shell -- --stage staging --stop [--yes]
 *
 * Starts one host from the data stack's database-shell launch template in a private subnet,
 * tagged with who opened it, why and until when; it shuts itself down (and is terminated) after
 * --minutes (60, at most 240). It prints the Session Manager port-forwarding command and the psql
 * line: an IAM token for webapp_oncall, who may only read the app's tables, unless --write (then
 * as webapp_migrator, who owns the schema). CloudTrail records the start, the session and the caller.
 * Prod needs --prod. --instance reaches a copy of the stage's database instead (one that
 * `npm run restore` made, `webapp-<stage>-repair` or `webapp-<stage>-dump-*`, in the stage
 * database's security group), with the same roles. --stop terminates every shell host of the stage now.
 *
 * Without --yes it prints what it would do. Exit codes: 0 done (or printed), 1 it failed, 2 bad
 * arguments or refused (wrong account, prod without --prod, no reason, the data stack's outputs
 * missing).
 */
import { STAGE_NAMES } from '../lib/config';
import { DB_SHELL_MAX_MINUTES } from '../lib/data/database-shell';
import { addContext, readFlags, stageArg } from './lib/args';
import { UsageError } from './lib/assembly';
import { roleLine } from './lib/credentials';
import { runShell, type ShellArgs, shellClients } from './lib/db-shell';
import { operatorConfig, refusal } from './lib/release';

const USAGE = `usage: db-shell --stage ${STAGE_NAMES.join('|')} (--reason TEXT [--minutes N] [--write] [--instance DB_INSTANCE_ID] | --stop) [--prod] [--account ID] [-c KEY=VALUE ...] [--yes]; ${roleLine('db-shell')}`;

export function parseArgs(argv: readonly string[]): ShellArgs {
  let stage: string | undefined;
  let reason: string | undefined;
  let account: string | undefined;
  let instance: string | undefined;
  let minutes = 60;
  const flags = { write: false, stop: false, prod: false, yes: false };
  const context: Record<string, string> = {};
  for (const [flag, value = ''] of readFlags(argv, {
    values: ['--stage', '--reason', '--minutes', '--account', '--instance', '-c', '--context'],
    switches: ['--write', '--stop', '--prod', '--yes'],
    usage: USAGE,
  })) {
    if (flag === '--stage') stage = value;
    else if (flag === '--reason') reason = value.trim();
    else if (flag === '--account') account = value;
    else if (flag === '--instance') instance = value;
    else if (flag === '--minutes') {
      minutes = Number(value);
      if (!Number.isInteger(minutes) || minutes < 5 || minutes > DB_SHELL_MAX_MINUTES)
        throw new UsageError(`--minutes takes whole minutes from 5 to ${DB_SHELL_MAX_MINUTES}, not "${value}". ${USAGE}`);
    } else if (flag in { '--write': 1, '--stop': 1, '--prod': 1, '--yes': 1 }) flags[flag.slice(2) as keyof typeof flags] = true;
    else addContext(context, flag, value, USAGE);
  }
  const name = stageArg(stage, USAGE);
  if (name === 'prod' && !flags.prod) throw new UsageError(`prod data needs --prod, to say it is meant (and the reason is recorded on the host). ${USAGE}`);
  if (!flags.stop && !reason) throw new UsageError(`--reason is required (an incident or ticket id and what for): it is tagged on the host for the audit. ${USAGE}`);
  if (instance !== undefined && flags.stop) throw new UsageError(`--stop ends every shell host of the stage and takes no --instance. ${USAGE}`);
  if (reason && reason.length > 200) throw new UsageError(`--reason is at most 200 characters. ${USAGE}`);
  return { stage: name, reason, minutes, account, context, instance, ...flags };
}

export async function main(argv = process.argv.slice(2), env = process.env, clientsFor = shellClients, now = new Date()): Promise<number> {
  try {
    const args = parseArgs(argv);
    const config = operatorConfig(args.stage, args, env);
    return await runShell(args, clientsFor(config.region), config, now, (line) => console.log(line));
  } catch (error) {
    return refusal('db-shell', error);
  }
}

if (require.main === module) {
  main().then((code) => process.exit(code));
}
