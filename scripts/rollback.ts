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
 * `--fast` acts in ECS first. While a web deployment is in flight (shifting or baking) it stops it
 * with rollback (StopServiceDeployment): all traffic back to the old revision at once, and
 * CloudFormation rolls the App stack back by itself. After a completed release it points the web
 * and worker services back at their earlier task definitions that run the previous image
 * (UpdateService; a canary or linear web service by one blue/green swap without bake, the smoke
 * test and the deployment alarms still on), then deploys that release to the App stack as above,
 * so CloudFormation describes what runs again (an identical revision, one more quick swap).
 *
 * Without --yes it prints what it would do. Exit codes: 0 done (or printed), 1 the rollback failed
 * or had nothing to do, 2 bad arguments or refused (wrong account, no previous release known).
 */
import {
  type DeploymentConfiguration,
  DescribeServicesCommand,
  DescribeTaskDefinitionCommand,
  type ECSClient,
  ListServiceDeploymentsCommand,
  ListTaskDefinitionsCommand,
  StopServiceDeploymentCommand,
  UpdateServiceCommand,
} from '@aws-sdk/client-ecs';
import { RDSClient } from '@aws-sdk/client-rds';
import { STAGE_NAMES, type StageConfig, type StageName } from '../lib/config';
import { type DeployClients, defaultClients, runCdk } from './deploy';
import { addContext, readFlags, stageArg } from './lib/args';
import { UsageError } from './lib/assembly';
import { accountProblem } from './lib/credentials';
import { appOutputs, type DeployPlan, deployOrPrint, formatPlan, imageRef, operatorConfig, pitrCovers, previousRelease, refusal, runningRelease, stackPlaces } from './lib/release';
import { findImage, unreleased } from './lib/release-tags';

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

/** A service pointed back at an earlier task definition (and, for a canary or linear web service, swapped at once). */
export interface Repoint {
  readonly cluster: string;
  readonly service: string;
  readonly taskDefinition: string;
  readonly deploymentConfiguration?: DeploymentConfiguration;
}

export type RollbackOutcome =
  | { readonly kind: 'deploy'; readonly plan: DeployPlan; readonly lines: string[] }
  | { readonly kind: 'stop'; readonly deploymentArn: string; readonly lines: string[] }
  | { readonly kind: 'repoint'; readonly services: readonly Repoint[]; readonly reconcile: DeployPlan; readonly lines: string[] };

/** Works out the rollback: what runs, what ran before, and the deploy (or the stop) that returns to it. */
export async function planRollback(
  args: RollbackArgs,
  env: NodeJS.ProcessEnv,
  clientsFor: (region: string) => RollbackClients,
  now: Date,
): Promise<{ outcome: RollbackOutcome; config: StageConfig }> {
  const config = operatorConfig(args.stage, args, env);
  const { account } = config;
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
    if (deploymentArn) {
      lines.push(`the web service's deployment ${deploymentArn} is in flight: stopping it with rollback sends all traffic back to the revision before it`);
      return { outcome: { kind: 'stop', deploymentArn, lines }, config };
    }
    lines.push('no web deployment is in flight: the services are pointed back at the task definitions of the release before, without CloudFormation');
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
  const previousImage = await findImage(clients.ecr, config.image.repositoryName, previous.ref);
  if (!previousImage) {
    throw new UsageError(
      `the previous image ${config.image.repositoryName} ${previous.ref} is no longer in the ${args.stage} registry (expired by its lifecycle rule before it was tagged as a release?): deploy another with npm run deploy -- --image.`,
    );
  }
  const refused = unreleased(args.stage, `${account}, ${config.region}`, previousImage, `${config.image.repositoryName} ${previous.ref}`);
  if (refused) throw new UsageError(refused);
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
    stacks: stackPlaces(config),
    image: previous.ref,
    imageSource: 'the release before the running one',
    only: ['App'],
    context,
    noApproval: env.CI === 'true',
  };
  if (!args.fast) return { outcome: { kind: 'deploy', plan, lines }, config };

  // --fast after a completed release: ECS alone, now; CloudFormation catches up with the same release after.
  const outputs = (await appOutputs(clients.cfn, args.stage)) ?? {};
  const services: Repoint[] = [];
  for (const service of [running.service, outputs.WorkerServiceName].filter((s): s is string => Boolean(s))) {
    const current = (await clients.ecs.send(new DescribeServicesCommand({ cluster: running.cluster, services: [service] }))).services?.[0];
    const taskDefinition = current?.taskDefinition ? await earlierRevision(clients.ecs, current.taskDefinition, previous.ref) : undefined;
    if (!current || !taskDefinition) {
      throw new UsageError(`no earlier task definition of ${service} runs ${previous.ref} (deregistered?): roll back without --fast, which deploys it again.`);
    }
    const dc = current.deploymentConfiguration;
    const shifting = dc?.strategy === 'CANARY' || dc?.strategy === 'LINEAR';
    services.push({
      cluster: running.cluster,
      service,
      taskDefinition,
      ...(shifting ? { deploymentConfiguration: { ...dc, strategy: 'BLUE_GREEN', bakeTimeInMinutes: 0, canaryConfiguration: undefined, linearConfiguration: undefined } } : {}),
    });
    lines.push(`${service}: back to ${taskDefinition}${shifting ? ' by one blue/green swap, no bake (the smoke test and the deployment alarms still apply)' : ''}`);
  }
  lines.push(
    'then bring CloudFormation to the same release, or its next update of the services would deploy the bad one again: the deploy below (an identical revision, one more quick swap)',
  );
  return { outcome: { kind: 'repoint', services, reconcile: plan, lines }, config };
}

/**
 * The newest ACTIVE task definition of `current`'s family, older than it, whose app container runs
 * `ref` with the task and execution roles `current` has. Only ACTIVE revisions count: ECS refuses to
 * point a service at an INACTIVE one (revisions CloudFormation deregistered before the task
 * definitions were retained on replacement). A revision from before a release that replaced a role
 * names a role that is gone, and its tasks would not start: it does not count either.
 */
export async function earlierRevision(ecs: Pick<ECSClient, 'send'>, current: string, ref: string): Promise<string | undefined> {
  const match = /task-definition\/([^:]+):(\d+)$/.exec(current);
  if (!match) return undefined;
  const [, family, revision] = match;
  const older: { arn: string; revision: number }[] = [];
  let nextToken: string | undefined;
  do {
    const page = await ecs.send(new ListTaskDefinitionsCommand({ familyPrefix: family, status: 'ACTIVE', sort: 'DESC', nextToken }));
    for (const arn of page.taskDefinitionArns ?? []) {
      const [, name, rev] = /task-definition\/([^:]+):(\d+)$/.exec(arn) ?? [];
      if (name === family && Number(rev) < Number(revision)) older.push({ arn, revision: Number(rev) });
    }
    nextToken = page.nextToken;
  } while (nextToken);
  const now = (await ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: current }))).taskDefinition;
  // Newest first, whatever order the pages came in.
  for (const { arn } of older.sort((a, b) => b.revision - a.revision)) {
    const td = (await ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: arn }))).taskDefinition;
    if (td?.status !== undefined && td.status !== 'ACTIVE') continue;
    if (td?.taskRoleArn !== now?.taskRoleArn || td?.executionRoleArn !== now?.executionRoleArn) continue;
    const app = td?.containerDefinitions?.find((c) => c.name === 'app') ?? td?.containerDefinitions?.[0];
    if (app?.image && imageRef(app.image) === ref) return arn;
  }
  return undefined;
}

/**
 * Points the services back at their earlier task definitions (ECS UpdateService). A refusal by ECS
 * (a revision deregistered since the plan, say) becomes a RepointRefused naming the services
 * already pointed back, so the operator knows where the stage stands.
 */
export async function repoint(ecs: Pick<ECSClient, 'send'>, services: readonly Repoint[]): Promise<void> {
  const done: string[] = [];
  for (const s of services) {
    try {
      await ecs.send(
        new UpdateServiceCommand({
          cluster: s.cluster,
          service: s.service,
          taskDefinition: s.taskDefinition,
          ...(s.deploymentConfiguration ? { deploymentConfiguration: s.deploymentConfiguration } : {}),
        }),
      );
    } catch (error) {
      if ((error as Error).name !== 'ClientException' && (error as Error).name !== 'InvalidParameterException') throw error;
      throw new RepointRefused(
        `ECS refused to point ${s.service} at ${s.taskDefinition} (${(error as Error).message}). ${done.length > 0 ? `${done.join(' and ')} already went back; ` : 'Nothing was changed; '}roll back without --fast, which deploys the earlier release again.`,
      );
    }
    done.push(s.service);
  }
}

/** ECS refused a repoint: said, exit 1. */
export class RepointRefused extends Error {}

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
    if (outcome.kind === 'repoint') {
      for (const s of outcome.services) console.log(`  command: aws ecs update-service --cluster ${s.cluster} --service ${s.service} --task-definition ${s.taskDefinition}`);
      console.log(formatPlan(outcome.reconcile, config));
      if (!args.yes) {
        console.log('dry run: nothing changed. Run again with --yes to point the services back, then to deploy.');
        return 0;
      }
      try {
        await repoint(clientsFor(config.region).ecs, outcome.services);
      } catch (error) {
        if (!(error instanceof RepointRefused)) throw error;
        console.error(`rollback: ${error.message}`);
        return 1;
      }
      console.log('pointed back: ECS deploys the earlier revisions now (aws ecs describe-services shows the progress); deploying the same release through CloudFormation.');
      return deployOrPrint(outcome.reconcile, true, run, {
        dryRun: '',
        failure:
          'rollback: the services run the earlier release, but the stack deploy failed (exit %s): run it again before the next release (npm run deploy -- --stage <stage> --only App --image <that release>).',
      });
    }
    if (outcome.kind === 'stop') {
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
