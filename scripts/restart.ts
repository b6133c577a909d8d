/**
 * Gives a stage's web or worker service (or both) new tasks on the task definitions they run, so
 * each task connects again: after a cache failover, when the workers hold connections to the old
 * primary (docs/runbooks.md, "Workers stalled after a cache failover").
 *
 *   npm run restart -- --stage prod --service worker|web|all [--account ID] [-c KEY=VALUE ...] [--yes]
 *
 * The worker is replaced by its rolling deployment. A web service that shifts by canary or linear
 * steps, or bakes after a blue/green swap, is restarted by one blue/green swap without bake (the
 * swap `rollback --fast` uses: the smoke test and the deployment alarms still apply), and its own
 * deployment configuration is put back once that deployment is done. It refuses a service with a
 * deployment in flight (that deployment starts new tasks already).
 *
 * Role: on-call (ecs:DescribeServices, ecs:ListServiceDeployments, ecs:UpdateService on the
 * stage's services; cloudformation:DescribeStacks on its App stack).
 *
 * Without --yes it prints what it would do. Exit codes: 0 done (or printed), 1 the restart did not
 * finish (what is left is said), 2 bad arguments or refused (wrong account, no such service, a
 * deployment in flight).
 */
import { STAGE_NAMES } from '../lib/config';
import { addContext, readFlags, stageArg } from './lib/args';
import { UsageError } from './lib/assembly';
import { roleLine } from './lib/credentials';
import { defaultClients } from './lib/deploy';
import { refusal } from './lib/release';
import {
  planRestart,
  RESTART_SERVICES,
  type RestartArgs,
  type RestartClients,
  RestartIncomplete,
  type RestartOptions,
  type RestartService,
  restart,
  restartCommand,
} from './lib/restart';

const USAGE = `usage: restart --stage ${STAGE_NAMES.join('|')} --service ${RESTART_SERVICES.join('|')} [--account ID] [-c KEY=VALUE ...] [--yes]; ${roleLine('restart')}`;

export function parseArgs(argv: readonly string[]): RestartArgs {
  let stage: string | undefined;
  let service: string | undefined;
  let account: string | undefined;
  let yes = false;
  const context: Record<string, string> = {};
  for (const [flag, value = ''] of readFlags(argv, { values: ['--stage', '--service', '--account', '-c', '--context'], switches: ['--yes'], usage: USAGE })) {
    if (flag === '--yes') yes = true;
    else if (flag === '--stage') stage = value;
    else if (flag === '--service') service = value;
    else if (flag === '--account') account = value;
    else addContext(context, flag, value, USAGE);
  }
  if (!service || !(RESTART_SERVICES as readonly string[]).includes(service)) throw new UsageError(`--service must be one of ${RESTART_SERVICES.join(', ')}. ${USAGE}`);
  return { stage: stageArg(stage, USAGE), service: service as RestartService, account, context, yes };
}

export async function main(
  argv = process.argv.slice(2),
  env = process.env,
  clientsFor: (region: string) => RestartClients = defaultClients,
  options: RestartOptions = {},
): Promise<number> {
  try {
    const args = parseArgs(argv);
    const plan = await planRestart(args, env, clientsFor);
    console.log(`${args.stage} (${plan.config.account}, ${plan.config.region}): restart ${plan.restarts.map((r) => r.role).join(' and ')}`);
    for (const line of plan.lines) console.log(`  ${line}`);
    for (const r of plan.restarts) {
      console.log(`  command: ${restartCommand(r, r.fastConfiguration)}`);
      if (r.restoreConfiguration) console.log(`  then, once it is done: ${restartCommand(r, r.restoreConfiguration, false)}`);
    }
    if (!args.yes) {
      console.log('dry run: nothing changed. Run again with --yes to restart.');
      return 0;
    }
    try {
      await restart(clientsFor(plan.config.region).ecs, plan, options);
    } catch (error) {
      if (!(error instanceof RestartIncomplete)) throw error;
      console.error(`restart: ${error.message}`);
      return 1;
    }
    console.log('restarted: new tasks connect afresh; watch them start with aws ecs describe-services, and the queues drain on the dashboard ("Queues").');
    return 0;
  } catch (error) {
    return refusal('restart', error);
  }
}

if (require.main === module) {
  main().then((code) => process.exit(code));
}
