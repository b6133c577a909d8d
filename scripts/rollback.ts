/**
 * Puts a stage back on the release before the one it runs:
 *
 *   npm run rollback -- --stage prod [--account ID] [-c KEY=VALUE ...] [--yes]
 *   npm run rollback -- --stage prod --fast [--yes]
 *
 * It reads what the web tasks run now, finds the release before it in the pre-deploy snapshot of
 * the running release (its previous-image tag), checks that image is still in the registry, and
 * deploys it to the App stack alone (`npm run deploy` with `--only App`), by blue/green where the
 * stage shifts traffic by canary or linear steps (one smoke test and a short bake instead of the
 * canary's wait; the next release goes back to the config's strategy). When point-in-time restore
 * reaches the last minutes, the rollback skips its pre-deploy snapshot, which could otherwise wait
 * out the backup window, and says so.
 *
 * `--fast` is for a release still shifting or baking: it stops the web service's deployment in
 * flight with rollback (ECS StopServiceDeployment), which sends all traffic back to the old
 * revision at once; CloudFormation then fails the stack update and rolls the App stack back.
 *
 * Without --yes it prints what it would do. Exit codes: 0 done (or printed), 1 the rollback failed
 * or had nothing to do, 2 bad arguments or refused (wrong account, no previous release known).
 */
import { type ECSClient, ListServiceDeploymentsCommand, StopServiceDeploymentCommand } from '@aws-sdk/client-ecs';
import { RDSClient } from '@aws-sdk/client-rds';
import { loadStages, STAGE_NAMES, type StageName } from '../lib/config';
import { type DeployClients, defaultClients, deployConfig, runCdk } from './deploy';
import { addContext, readFlags, stageArg } from './lib/args';
import { UsageError } from './lib/assembly';
import { accountProblem } from './lib/credentials';
import { type DeployPlan, deployOrPrint, formatPlan, imageExists, imageRef, pitrCovers, previousRelease, refusal, runningRelease, stageAccount } from './lib/release';

const USAGE = `usage: rollback --stage ${STAGE_NAMES.join('|')} [--fast] [--account ID] [-c KEY=VALUE ...] [--yes]`;

export interface RollbackArgs {
  readonly stage: StageName;
  readonly fast: boolean;
  readonly account?: string;
  readonly context: Record<string, string>;
  readonly yes: boolean;
}

export function parseArgs(argv: readonly string[]): RollbackArgs {
  let stage: string | undefined;
  let account: string | undefined;
  let fast = false;
  let yes = false;
  const context: Record<string, string> = {};
  for (const [flag, value = ''] of readFlags(argv, { values: ['--stage', '--account', '-c', '--context'], switches: ['--fast', '--yes'], usage: USAGE })) {
    if (flag === '--fast') fast = true;
    else if (flag === '--yes') yes = true;
    else if (flag === '--stage') stage = value;
    else if (flag === '--account') account = value;
    else addContext(context, flag, value, USAGE);
  }
  if (context.imageTag !== undefined) throw new UsageError(`a rollback finds its image; to deploy a given one use npm run deploy -- --image. ${USAGE}`);
  return { stage: stageArg(stage, USAGE), fast, account, context, yes };
}

export interface RollbackClients extends DeployClients {
  readonly rds: RDSClient;
}

export type RollbackOutcome =
  | { readonly kind: 'deploy'; readonly plan: DeployPlan; readonly lines: string[] }
  | { readonly kind: 'stop'; readonly deploymentArn?: string; readonly lines: string[] };

/** Works out the rollback: what runs, what ran before, and the deploy (or the stop) that returns to it. */
export async function planRollback(
  args: RollbackArgs,
  env: NodeJS.ProcessEnv,
  clientsFor: (region: string) => RollbackClients,
  now: Date,
): Promise<{ outcome: RollbackOutcome; config: ReturnType<typeof deployConfig> }> {
  const configured = loadStages({ stages: args.stage }).selected[0];
  const account = stageAccount(args.stage, args, env, configured.account);
  const config = deployConfig(args, account);
  const clients = clientsFor(config.region);
  const problem = await accountProblem(clients.sts, account, args.stage);
  if (problem) throw new UsageError(problem);
  const running = await runningRelease(clients, args.stage);
  if (!running) throw new UsageError(`${args.stage} runs no web service (no ${args.stage}-App stack or no task definition): there is nothing to roll back.`);
  const runningRef = imageRef(running.image);
  const lines = [`${args.stage} runs ${config.image.repositoryName} ${runningRef} (${running.taskDefinition})`];

  if (args.fast) {
    const inFlight = await clients.ecs.send(new ListServiceDeploymentsCommand({ cluster: running.cluster, service: running.service, status: ['PENDING', 'IN_PROGRESS'] }));
    const deploymentArn = inFlight.serviceDeployments?.[0]?.serviceDeploymentArn;
    lines.push(
      deploymentArn
        ? `the web service's deployment ${deploymentArn} is in flight: stopping it with rollback sends all traffic back to the revision before it`
        : 'no web deployment is in flight: --fast has nothing to stop. Run the rollback without --fast to deploy the previous release.',
    );
    return { outcome: { kind: 'stop', deploymentArn, lines }, config };
  }

  const previous = await previousRelease(clients.rds, args.stage, runningRef);
  if (!previous) {
    throw new UsageError(
      `no pre-deploy snapshot of ${args.stage} names what ran before ${runningRef} (the release was deployed with the snapshot skipped, or its snapshots were pruned). Find the previous digest in the deploy workflow's runs and deploy it: npm run deploy -- --stage ${args.stage} --only App --image sha256:...`,
    );
  }
  lines.push(
    `before it ran ${config.image.repositoryName} ${previous.ref} (pre-deploy snapshot ${previous.snapshot}${previous.snapshotTime ? `, ${previous.snapshotTime.toISOString()}` : ''})`,
  );
  if (!(await imageExists(clients.ecr, config.image.repositoryName, previous.ref))) {
    throw new UsageError(
      `the previous image ${config.image.repositoryName} ${previous.ref} is no longer in the ${args.stage} registry (expired by its lifecycle rule?): deploy another with npm run deploy -- --image.`,
    );
  }
  const context: Record<string, string> = { ...args.context };
  const skip = await pitrCovers(clients.rds, previous.dbInstanceIdentifier, now);
  if (skip) {
    context.skipPreDeploySnapshot = 'true';
    lines.push(`${skip}`);
  } else {
    lines.push('point-in-time restore does not reach the last minutes: the rollback takes its pre-deploy snapshot as every release does');
  }
  const { strategy } = config.app.deployment;
  if (strategy === 'canary' || strategy === 'linear') {
    context[`${args.stage}.app.deployment.strategy`] = 'blueGreen';
    context[`${args.stage}.app.deployment.bakeMinutes`] = '5';
    lines.push(
      `${args.stage} shifts by ${strategy}: the rollback swaps blue/green instead (one smoke test, all traffic at once, 5 minutes of bake); the next release returns to ${strategy}`,
    );
  }
  const plan: DeployPlan = {
    stage: args.stage,
    account,
    region: config.region,
    image: previous.ref,
    imageSource: 'the release before the running one',
    only: ['App'],
    context,
    noApproval: env.CI === 'true',
  };
  return { outcome: { kind: 'deploy', plan, lines }, config };
}

export function rollbackClients(region: string): RollbackClients {
  return { ...defaultClients(region), rds: new RDSClient({ region, maxAttempts: 5, retryMode: 'adaptive' }) };
}

/** Stops the deployment in flight with rollback. */
export async function stopDeployment(ecs: Pick<ECSClient, 'send'>, deploymentArn: string): Promise<void> {
  await ecs.send(new StopServiceDeploymentCommand({ serviceDeploymentArn: deploymentArn, stopType: 'ROLLBACK' }));
}

export async function main(argv = process.argv.slice(2), env = process.env, run = runCdk, clientsFor = rollbackClients, now = new Date()): Promise<number> {
  try {
    const args = parseArgs(argv);
    const { outcome, config } = await planRollback(args, env, clientsFor, now);
    for (const line of outcome.lines) console.log(line);
    if (outcome.kind === 'stop') {
      if (!outcome.deploymentArn) return 1;
      console.log(`  command: aws ecs stop-service-deployment --service-deployment-arn ${outcome.deploymentArn} --stop-type ROLLBACK`);
      if (!args.yes) {
        console.log('dry run: nothing stopped. Run again with --yes to stop it.');
        return 0;
      }
      await stopDeployment(clientsFor(config.region).ecs, outcome.deploymentArn);
      console.log('stopped with rollback: ECS sends traffic back to the previous revision; watch the App stack roll back (aws cloudformation describe-stack-events).');
      return 0;
    }
    console.log(formatPlan(outcome.plan, config));
    return deployOrPrint(outcome.plan, args.yes, run, {
      dryRun: 'Run again with --yes to roll back.',
      failure: 'rollback: cdk deploy failed (exit %s). Read the App stack events; npm run rollback -- --fast stops a web deployment in flight.',
    });
  } catch (error) {
    return refusal('rollback', error);
  }
}

if (require.main === module) {
  main().then((code) => process.exit(code));
}
