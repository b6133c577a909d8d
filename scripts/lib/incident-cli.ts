import type { StageConfig } from '../../lib/config';
import { loadStages } from '../../lib/config';
import { addContext, stageArg } from './args';
import { UsageError } from './assembly';
import { homeRegion, type IncidentArgs, type IncidentClients, regionClients, taskRef } from './incident';
import { operatorConfig, refusal } from './release';

/** The flags `contain` and `evidence` take. */
export const INCIDENT_FLAGS = { values: ['--stage', '--task', '--finding', '--account', '-c', '--context'], switches: ['--yes'] };

/** What `contain` and `evidence` were given (their flags, as readFlags read them with INCIDENT_FLAGS). */
export function incidentArgs(flags: readonly [string, string | undefined][], usage: string): IncidentArgs {
  let stage: string | undefined;
  let task: string | undefined;
  let finding: string | undefined;
  let account: string | undefined;
  let yes = false;
  const context: Record<string, string> = {};
  for (const [flag, value = ''] of flags) {
    if (flag === '--stage') stage = value;
    else if (flag === '--task') task = value;
    else if (flag === '--finding') finding = value;
    else if (flag === '--account') account = value;
    else if (flag === '--yes') yes = true;
    else addContext(context, flag, value, usage);
  }
  const name = stageArg(stage, usage);
  if (!task) throw new UsageError(`--task is required: the id or ARN of the task the finding names (resource.ecsClusterDetails.taskDetails.arn). ${usage}`);
  taskRef(task, usage);
  if (finding !== undefined && !/^[a-f0-9]{32}$/.test(finding)) {
    throw new UsageError(`--finding takes a GuardDuty finding id (32 hex digits, the id in the finding's ARN), not "${finding}". ${usage}`);
  }
  return { stage: name, task, finding, account, context, yes };
}

type Run = (args: IncidentArgs, clients: IncidentClients, config: StageConfig, home: string, now: Date, say: (line: string) => void) => Promise<number>;

/** A command's entry: its arguments, the stage's configuration, the clients of its region and of the account's home region. */
export function incidentMain(script: string, parse: (argv: readonly string[]) => IncidentArgs, run: Run) {
  return async (argv = process.argv.slice(2), env = process.env, clientsFor = regionClients, now = new Date()): Promise<number> => {
    try {
      const args = parse(argv);
      const config = operatorConfig(args.stage, args, env);
      const home = homeRegion(config, loadStages(args.context).all);
      return await run(args, { stage: clientsFor(config.region), home: clientsFor(home) }, config, home, now, (line) => console.log(line));
    } catch (error) {
      return refusal(script, error);
    }
  };
}
