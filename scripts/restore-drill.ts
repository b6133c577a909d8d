/**
 * Restore drill: restores the newest recovery point of a stage's database into a throw-away
 * instance, shows progress, verifies it with the stage's restore verifier, prints the measured
 * RTO and the result, and deletes the instance whatever happens. Needs AWS credentials for the
 * stage's account (and iam:PassRole on the restore role).
 *
 *   npx tsx scripts/restore-drill.ts --stage staging [--region eu-west-1]
 *
 * Exit codes: 0 restored and verified, 1 the drill failed (or could not clean up), 2 bad arguments
 * or no credentials for the stage's account (nothing was started).
 */
import { loadStages, STAGE_NAMES, STAGES } from '../lib/config';
import { AWS_REGIONS, closest } from '../lib/config/aws-catalog';
import { readFlags, stageArg } from './lib/args';
import { UsageError } from './lib/assembly';
import { accountProblem, roleLine } from './lib/credentials';
import { drillClients, drillSummary, runDrill } from './lib/drill';

const USAGE = `usage: restore-drill --stage ${STAGE_NAMES.join('|')} [--region REGION]; ${roleLine('restore-drill')}`;

export function parseArgs(argv: readonly string[]): { stage: string; region: string } {
  let stage: string | undefined;
  let region: string | undefined;
  const positional = (arg: string) =>
    `unexpected argument "${arg}": ${(STAGE_NAMES as readonly string[]).includes(arg) ? `pass the stage as --stage ${arg}` : 'every argument is a --flag with a value'}.`;
  for (const [flag, value] of readFlags(argv, { values: ['--stage', '--region'], usage: USAGE, positional })) {
    if (flag === '--stage') stage = value;
    else region = value;
  }
  const name = stageArg(stage, USAGE);
  if (region !== undefined && !AWS_REGIONS.includes(region)) {
    throw new UsageError(`--region ${region} is not an AWS region; the closest are ${closest(region, AWS_REGIONS).join(', ')}. ${USAGE}`);
  }
  return { stage: name, region: region ?? STAGES[name].region };
}

async function drill(argv: readonly string[], clientsFor: typeof drillClients): Promise<number> {
  let args: { stage: string; region: string };
  try {
    args = parseArgs(argv);
  } catch (error) {
    console.error((error as Error).message);
    return 2;
  }
  const { account } = STAGES[args.stage as keyof typeof STAGES];
  const { sts, ...clients } = clientsFor(args.region);
  const problem = await accountProblem(sts, account, args.stage, { command: 'restore-drill', acting: true, config: loadStages({ stages: args.stage }).selected[0] });
  if (problem) {
    console.error(`restore-drill: ${problem} Nothing was restored.`);
    return 2;
  }
  const result = await runDrill(clients, {
    stage: args.stage,
    now: () => new Date(),
    sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
    log: (line) => console.log(`${new Date().toISOString()} ${line}`),
  });
  const summary = drillSummary(args.stage, result);
  for (const line of summary.lines) console.log(line);
  return summary.exitCode;
}

/** The command; what it did not expect is printed whole (with its stack) and exits 1. */
export async function main(argv = process.argv.slice(2), clientsFor = drillClients): Promise<number> {
  try {
    return await drill(argv, clientsFor);
  } catch (error) {
    console.error(error);
    return 1;
  }
}

if (require.main === module) {
  main().then((code) => process.exit(code));
}
