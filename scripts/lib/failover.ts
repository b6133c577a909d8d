/**
 * `npm run failover`: a stage back in service in its DR region when its primary region is lost
 * (docs/disaster-recovery.md, "When the primary region is lost"). It reads what survives there,
 * prints the plan with each step's expected minutes and what the DR tiers cost per day, and with
 * --yes runs the steps of dr-steps.ts, timing each. It asks the primary region only whether it
 * still answers, and refuses while it does unless told the loss is meant (--primary-lost).
 */
import { RDSClient } from '@aws-sdk/client-rds';
import type { StageConfig, StageName } from '../../lib/config';
import { pilotLightNames } from '../../lib/dr/pilot-light-names';
import { stageResourceName } from '../../lib/shared/naming';
import { accountProblem } from './credentials';
import { type DeployClients, defaultClients, runCdk } from './deploy';
import { deployStep, edgeStep, type RecoveryContext, restoreStep, verifyStep } from './dr-steps';
import { type RegionClientsFor, regionClients, surveyDr, surveyLines, surveyProblems } from './dr-survey';
import { synthesizedDailyCost } from './failover-cost';
import { operatorConfig, refusal, shellLine } from './release';
import { describe, type Waiting } from './restore';
import { dryRunEnd, minutes, minutesLine, printPlan, realTime, refuseProblems, runSteps } from './runbook';

/** The real clients, `npx cdk`, the network and the clock. */
export function defaultRecoveryDeps(): RecoveryDeps {
  return { clientsFor: regionClients(), deployClients: defaultClients, cdk: runCdk, fetch, wait: realTime, primaryAnswers, dailyCost: synthesizedDailyCost };
}

/**
 * A recovery command's `main`: its arguments and the stage's config (a refusal exits 2, nothing
 * changed), then the run; an error before or between the steps (a throttled read, say) exits 1
 * with the advice every rerun takes. A step's own failure the steps report themselves.
 */
export async function recoveryMain<A extends { readonly stage: StageName; readonly account?: string; readonly context: Record<string, string> }>(
  command: string,
  parse: (argv: readonly string[]) => A,
  run: (args: A, config: StageConfig, deps: RecoveryDeps) => Promise<number>,
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
  deps: RecoveryDeps,
): Promise<number> {
  let args: A;
  let config: StageConfig;
  try {
    args = parse(argv);
    config = operatorConfig(args.stage, args, env);
  } catch (error) {
    return refusal(command, error);
  }
  try {
    return await run(args, config, deps);
  } catch (error) {
    console.error(`${command} FAILED: ${(error as Error).message}. Run the same command again once the cause is fixed.`);
    return 1;
  }
}

/** The objective a region loss is planned against (docs/disaster-recovery.md, "RPO and RTO"). */
export const RTO_MINUTES = 60;
/** Minutes the survey of the DR region takes: a handful of reads. */
const SURVEY_MINUTES = 1;

export interface FailoverArgs {
  readonly stage: StageName;
  readonly toTime: Date | 'latest';
  readonly image?: string;
  /** The operator says the primary region is lost although it still answers (its app is down, its data is not to be trusted). */
  readonly primaryLost: boolean;
  readonly yes: boolean;
  readonly account?: string;
  readonly context: Record<string, string>;
}

/** What the recovery commands need beyond their arguments; the tests give moto's clients and a fake clock. */
export interface RecoveryDeps {
  readonly clientsFor: RegionClientsFor;
  readonly deployClients: (region: string) => DeployClients;
  readonly cdk: (args: readonly string[]) => number | Promise<number>;
  readonly fetch: typeof fetch;
  readonly wait: Waiting;
  /** How the primary region answers, in words, or undefined when it does not. */
  readonly primaryAnswers: (config: StageConfig) => Promise<string | undefined>;
  /** What the DR tiers cost per day while they run, as lines of the plan. */
  readonly dailyCost: (config: StageConfig) => Promise<string[]>;
}

/**
 * Whether the primary region answers: RDS there describing the stage database, once, within a few
 * seconds. An answer of any kind (the instance, "not found", "access denied") is the region
 * answering; a timeout, a refused connection or a server error is not.
 */
export async function primaryAnswers(
  config: StageConfig,
  rds = new RDSClient({ region: config.region, maxAttempts: 1, requestHandler: { connectionTimeout: 5_000, requestTimeout: 10_000 } }),
): Promise<string | undefined> {
  const id = stageResourceName(config.name);
  try {
    const db = await describe(rds, id);
    return `RDS in ${config.region} describes ${id} as ${db ? db.DBInstanceStatus : 'not found'}`;
  } catch (error) {
    const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    if (status !== undefined && status < 500) return `RDS in ${config.region} answered ${status} (${(error as Error).name})`;
    return undefined;
  }
}

/** What a failover loses, and what an on-call engineer does about it (printed with every plan). */
export function lossLines(config: StageConfig): string[] {
  return [
    'What is lost:',
    `  - the writes after the restore time (the RPO above), and uploads not yet replicated to ${config.drRegion};`,
    '  - every BullMQ job in the lost region\'s cache: waiting, delayed and running jobs, and repeatable-job schedules. The DR cache starts empty; the worker registers its repeatable jobs again when it starts, and jobs the app recorded in the database (a status column, an outbox) are re-driven by the app\'s own re-drive command (docs/app-contract.md, "Queues").',
  ];
}

export async function runFailover(args: FailoverArgs, config: StageConfig, deps: RecoveryDeps): Promise<number> {
  const say = deps.wait.log;
  const names = pilotLightNames(config.name);
  if (!config.dr.pilotLight || !config.domain) {
    say(`failover: ${config.name} has no pilot light (dr.pilotLight) to fail over to: restore by hand (docs/disaster-recovery.md). Nothing was changed.`);
    return 2;
  }
  const drClients = deps.clientsFor(config.drRegion);
  const problem = await accountProblem(drClients.sts, config.account, config.name, { command: 'failover', acting: args.yes, config });
  if (problem) {
    say(`failover: ${problem} Nothing was changed.`);
    return 2;
  }
  const answers = await deps.primaryAnswers(config);
  if (answers && !args.primaryLost) {
    say(`REFUSED: the primary region ${config.region} still answers (${answers}). A failover while it serves splits the stage's writes between two databases.`);
    say(
      'If the site is down although the region answers (its database lost, its network broken) and the decision to fail over is made, run again with --primary-lost. Nothing was changed.',
    );
    return 2;
  }
  const start = deps.wait.now();
  const survey = await surveyDr(config, drClients, start, args.image);
  const surveyed = deps.wait.now();
  for (const line of surveyLines(config, survey)) say(line);
  const problems = surveyProblems(config, survey, args.toTime);
  const image = survey.image?.ref ?? args.image ?? config.image.tag;
  const ctx: RecoveryContext = { ...deps, config, purpose: 'failover', survey, toTime: args.toTime, image };
  const steps = [restoreStep(survey, config, 'failover', args.toTime), deployStep(survey, config, 'failover', image), edgeStep(survey, config), verifyStep(survey, config)];
  const rerun = shellLine([
    'npm',
    'run',
    'failover',
    '--',
    '--stage',
    config.name,
    ...(args.toTime === 'latest' ? ['--latest'] : ['--to-time', args.toTime.toISOString()]),
    ...(args.image ? ['--image', args.image] : []),
    ...(args.primaryLost ? ['--primary-lost'] : []),
    '--yes',
  ]);

  if (!args.yes) {
    say(
      `Plan: fail ${config.name} over from ${config.region} to ${config.drRegion}${answers ? ` (the primary answers, ${answers}, and --primary-lost says to go on)` : ` (${config.region} does not answer)`}:`,
    );
    const plan = await printPlan(steps, ctx, deps.wait);
    const total = SURVEY_MINUTES + plan.minutes;
    problems.push(...plan.blocked);
    say(`RTO budget: ${total} min (the survey ${SURVEY_MINUTES}, then the steps) of the ${RTO_MINUTES}-minute objective${total > RTO_MINUTES ? ': OVER IT' : ''}.`);
    for (const line of await deps.dailyCost(config)) say(line);
    for (const line of lossLines(config)) say(line);
    return dryRunEnd(deps.wait, problems, `To fail over: ${rerun}`);
  }
  const refused = refuseProblems(deps.wait, problems);
  if (refused) return refused;
  const result = await runSteps(rerun, steps, ctx, deps.wait);
  say(`Minutes: ${minutesLine({ survey: minutes(surveyed.getTime() - start.getTime()), ...result.minutes })}`);
  if (!result.completed) return 1;
  say(`SERVING FROM ${config.drRegion}: ${config.name} runs in ${names.drAppStackName} against ${names.databaseIdentifier} restored there.`);
  say('Next (docs/disaster-recovery.md, "When the primary region is lost"):');
  say(`  - confirm the email subscriptions of ${names.drAppStackName}'s alarm topic (AlarmTopicArn output): until then the DR alarms reach nobody;`);
  say(`  - commit dr: { ..., appTier: true, serveFrom: 'dr' } for ${config.name} in lib/config/stages.ts, or the next pipeline deploy moves viewers back to the lost region;`);
  say("  - re-drive the queue jobs the lost cache held (the app's re-drive command);");
  say(`  - when ${config.region} is back: npm run failback -- --stage ${config.name}`);
  return 0;
}
