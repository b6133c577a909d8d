/**
 * `npm run failover-drill`: the failover's steps into the DR region as a copy that takes no
 * viewer traffic (CloudFront keeps serving from the primary), measured step by step, then taken
 * down (docs/disaster-recovery.md, "Failover drill"). The measured minutes go to the DR region,
 * where the failover's plan quotes them, and the completion time to the primary region, where the
 * `<stage>-failover-drill-stale` alarm reads it.
 */
import { PutParameterCommand } from '@aws-sdk/client-ssm';
import type { StageConfig, StageName } from '../../lib/config';
import { pilotLightNames } from '../../lib/dr/pilot-light-names';
import { accountProblem } from './credentials';
import { deployStep, type RecoveryContext, restoreStep, retireStep, smokeStep } from './dr-steps';
import { type Survey, surveyDr, surveyLines, surveyProblems } from './dr-survey';
import type { RecoveryDeps } from './failover';
import { shellLine } from './release';
import { dryRunEnd, minutes, minutesLine, printPlan, refuseProblems, runSteps } from './runbook';

export interface DrillArgs {
  readonly stage: StageName;
  /** Only take a drill's DR tiers down (one left behind by a stopped run). */
  readonly teardown: boolean;
  readonly image?: string;
  readonly yes: boolean;
  readonly account?: string;
  readonly context: Record<string, string>;
}

/** What the drill writes when it completes: the time to the primary region (the staleness alarm), the minutes to the DR region (the failover's plan). */
async function record(ctx: RecoveryContext, survey: Survey, took: Readonly<Record<string, number>>): Promise<void> {
  const names = pilotLightNames(ctx.config.name);
  const at = ctx.wait.now().toISOString();
  // Steps this run found done keep the minutes an earlier run measured.
  const minutes = { ...(survey.drill?.minutes ?? {}), ...took };
  await ctx
    .clientsFor(ctx.config.drRegion)
    .ssm.send(new PutParameterCommand({ Name: names.drillMinutesParameter, Value: JSON.stringify({ at, minutes }), Type: 'String', Overwrite: true }));
  await ctx.clientsFor(ctx.config.region).ssm.send(new PutParameterCommand({ Name: names.lastDrillParameter, Value: at, Type: 'String', Overwrite: true }));
}

export async function runDrill(args: DrillArgs, config: StageConfig, deps: RecoveryDeps): Promise<number> {
  const say = deps.wait.log;
  if (!config.dr.pilotLight || !config.domain) {
    say(`failover-drill: ${config.name} has no pilot light (dr.pilotLight) to drill. Nothing was changed.`);
    return 2;
  }
  if (config.dr.serveFrom === 'dr') {
    say(`failover-drill: ${config.name} serves from ${config.drRegion} (dr.serveFrom): its DR tiers are live, not a drill's. Nothing was changed.`);
    return 2;
  }
  const problem = await accountProblem(deps.clientsFor(config.drRegion).sts, config.account, config.name, { command: 'failover-drill', acting: args.yes, config });
  if (problem) {
    say(`failover-drill: ${problem} Nothing was changed.`);
    return 2;
  }
  const answers = await deps.primaryAnswers(config);
  if (!answers) {
    say(`REFUSED: the primary region ${config.region} does not answer: this is no time for a drill. Fail over: npm run failover -- --stage ${config.name}`);
    return 2;
  }
  const start = deps.wait.now();
  const survey = await surveyDr(config, deps.clientsFor(config.drRegion), start, args.image);
  const surveyed = deps.wait.now();
  const image = survey.image?.ref ?? args.image ?? config.image.tag;
  const ctx: RecoveryContext = { ...deps, config, purpose: 'drill', survey, toTime: 'latest', image };
  const retire = retireStep(survey, config, false);
  const steps = args.teardown ? [retire] : [restoreStep(survey, config, 'drill', 'latest'), deployStep(survey, config, 'drill', image), smokeStep(survey, config), retire];
  const rerun = shellLine([
    'npm',
    'run',
    'failover-drill',
    '--',
    '--stage',
    config.name,
    ...(args.teardown ? ['--teardown'] : []),
    ...(args.image ? ['--image', args.image] : []),
    '--yes',
  ]);
  for (const line of surveyLines(config, survey)) say(line);
  const problems = args.teardown ? [] : surveyProblems(config, survey, 'latest');

  if (!args.yes) {
    say(
      args.teardown
        ? `Plan: take the drill's DR tiers of ${config.name} down in ${config.drRegion}:`
        : `Plan: drill ${config.name}'s failover into ${config.drRegion} beside the primary (CloudFront keeps serving from ${config.region}), then take it down:`,
    );
    const plan = await printPlan(steps, ctx, deps.wait);
    problems.push(...plan.blocked);
    say(`Expected: ${plan.minutes} min.`);
    if (!args.teardown) for (const line of await deps.dailyCost(config)) say(line.replace('while they run', 'while the drill runs (per day; a drill takes about an hour)'));
    return dryRunEnd(deps.wait, problems, `To run it: ${rerun}`);
  }
  const refused = refuseProblems(deps.wait, problems);
  if (refused) return refused;
  const result = await runSteps(rerun, steps, ctx, deps.wait);
  const took = { survey: minutes(surveyed.getTime() - start.getTime()), ...result.minutes };
  say(`Minutes: ${minutesLine(took)}`);
  if (!result.completed) {
    if (result.failedAt !== 'retire') say(`The DR tiers may still be up and costing: npm run failover-drill -- --stage ${config.name} --teardown --yes`);
    return 1;
  }
  if (args.teardown) {
    say(`TORN DOWN: no drill tiers of ${config.name} remain in ${config.drRegion}.`);
    return 0;
  }
  await record(ctx, survey, took);
  say(
    `DRILL COMPLETE: recorded in ${pilotLightNames(config.name).lastDrillParameter} (${config.region}) and ${pilotLightNames(config.name).drillMinutesParameter} (${config.drRegion}).`,
  );
  say('Put the minutes in the incident log of the drill; a step far over its budget is a finding (docs/disaster-recovery.md, "Failover drill").');
  return 0;
}
