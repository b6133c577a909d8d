/**
 * What `npm run rollback` works out and does: the release before the running one (from the
 * pre-deploy snapshot of the running release) and the deploy that returns to it; with --fast, the
 * web deployment in flight to stop, or the services to point back at their earlier task
 * definitions in ECS before CloudFormation catches up. Every function takes its SDK clients, so
 * the tests run them against moto.
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
import type { StageConfig, StageName } from '../../lib/config';
import { UsageError } from './assembly';
import { accountProblem } from './credentials';
import { type DeployClients, defaultClients } from './deploy';
import { appOutputs, type DeployPlan, imageRef, operatorConfig, pitrCovers, previousRelease, runningRelease, stackPlaces } from './release';
import { findImage, unreleased } from './release-tags';

export interface RollbackArgs {
  readonly stage: StageName;
  readonly fast: boolean;
  readonly account?: string;
  readonly context: Record<string, string>;
  readonly yes: boolean;
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
  const problem = await accountProblem(clients.sts, account, args.stage, { command: 'rollback', acting: args.yes, config });
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
