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
import { SSMClient } from '@aws-sdk/client-ssm';
import { ranMigration } from '../../lambda/release-record/stored';
import type { StageConfig, StageName } from '../../lib/config';
import { stageResourceName } from '../../lib/shared/naming';
import { UsageError } from './assembly';
import { accountProblem } from './credentials';
import { type DeployClients, defaultClients } from './deploy';
import { appOutputs, type DeployPlan, imageRef, operatorConfig, pitrCovers, previousRelease, runningRelease, stackPlaces } from './release';
import {
  checkoutProblem,
  describeRelease,
  findRelease,
  migrationWords,
  names,
  type RecordedRelease,
  recentReleases,
  recordedRef,
  releaseHistory,
  runsRelease,
} from './release-history';
import { findImage, unreleased } from './release-tags';

export interface RollbackArgs {
  readonly stage: StageName;
  readonly fast: boolean;
  /** The release to return to (its id, image tag or digest); the previous one when not given. */
  readonly to?: string;
  /** The release the operator believes runs now; required with --yes, refused when the record says otherwise. */
  readonly from?: string;
  /** The commit of this checkout (checkoutCommit), compared with the target's recorded commit. */
  readonly checkout?: { readonly commit?: string; readonly why?: string };
  readonly account?: string;
  readonly context: Record<string, string>;
  readonly yes: boolean;
}

export interface RollbackClients extends DeployClients {
  readonly rds: RDSClient;
  readonly ssm: SSMClient;
}

/** A service pointed back at an earlier task definition (and, for a canary or linear web service, swapped at once). */
export interface Repoint {
  readonly cluster: string;
  readonly service: string;
  readonly taskDefinition: string;
  readonly deploymentConfiguration?: DeploymentConfiguration;
}

/**
 * What a rollback comes to. `command` is the exact command that carries it out (with --from and
 * --yes), which the dry run prints; `refused` is why it must not run from here (this checkout is
 * not the target's commit), said after the plan, exit 2.
 */
export type RollbackOutcome =
  | { readonly kind: 'deploy'; readonly plan: DeployPlan; readonly lines: string[]; readonly command: string; readonly refused?: string }
  | { readonly kind: 'stop'; readonly deploymentArn: string; readonly lines: string[] }
  | {
      readonly kind: 'repoint';
      readonly services: readonly Repoint[];
      readonly reconcile: DeployPlan;
      readonly lines: string[];
      readonly command: string;
      readonly refused?: string;
    };

/** The command that runs this rollback, naming the running release and the target. */
export function rollbackCommand(args: RollbackArgs, from: string, to: string): string {
  return [
    'npm run rollback --',
    `--stage ${args.stage}`,
    ...(args.fast ? ['--fast'] : []),
    `--to ${to}`,
    `--from ${from}`,
    ...(args.account ? [`--account ${args.account}`] : []),
    ...Object.entries(args.context).map(([k, v]) => `-c ${k}=${v}`),
    '--yes',
  ].join(' ');
}

/** The image of a service's primary deployment (its app container), or undefined. */
async function serviceImage(ecs: Pick<ECSClient, 'send'>, cluster: string, service: string): Promise<{ taskDefinition: string; image: string } | undefined> {
  const described = await ecs.send(new DescribeServicesCommand({ cluster, services: [service] }));
  const s = described.services?.find((x) => x.status !== 'INACTIVE');
  const taskDefinition = s?.deployments?.find((d) => d.status === 'PRIMARY')?.taskDefinition ?? s?.taskDefinition;
  if (!taskDefinition) return undefined;
  const td = (await ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition }))).taskDefinition;
  const app = td?.containerDefinitions?.find((c) => c.name === 'app') ?? td?.containerDefinitions?.[0];
  return app?.image ? { taskDefinition, image: app.image } : undefined;
}

/**
 * The target from the record: what runs now must be the record's current release (web and worker
 * alike), the operator's --from must name it, and the target must be another recorded release.
 * Refuses, saying what runs and what to do, when ECS runs something else: after ECS rolled a
 * release back by itself (circuit breaker, deployment alarm) or someone pointed the services
 * elsewhere by hand, going back "one release" from the record would go back two.
 */
async function recordedTarget(
  args: RollbackArgs,
  history: readonly RecordedRelease[],
  running: { readonly service: string; readonly image: string }[],
  lines: string[],
): Promise<{ current: RecordedRelease; target: RecordedRelease }> {
  const current = history.at(-1)!;
  const stage = args.stage;
  const differing = running.filter((r) => !runsRelease(current, r.image));
  if (differing.length > 0) {
    const what = differing
      .map((r) => {
        const known = [...history].reverse().find((h) => runsRelease(h, r.image));
        return `${r.service} runs ${imageRef(r.image)}${known ? ` (release ${known.release})` : ' (no recorded release)'}`;
      })
      .join('; ');
    throw new UsageError(
      `the release record says ${stage} runs ${current.release} (${recordedRef(current)}), but ${what}. ECS rolled the release back by itself (circuit breaker or a deployment alarm) or the services were changed by hand: a rollback from the record would go back a second release. ` +
        `Fix: if what runs is where ${stage} should be, make CloudFormation and the record say so: npm run deploy -- --stage ${stage} --only App --image ${imageRef(differing[0].image)}; then roll back from there if you still need to.`,
    );
  }
  lines.push(`running: ${describeRelease(current)}`);
  if (args.from !== undefined && !names(current, args.from)) {
    throw new UsageError(
      `--from ${args.from} is not what ${stage} runs: the record and ECS say ${current.release} (${recordedRef(current)}${current.digest ? `, ${current.digest}` : ''}). Look again at what you mean to roll back; --from takes the running release's id, tag or digest.`,
    );
  }
  const wanted = args.to ?? current.previous;
  const target = wanted ? (findRelease(history.slice(0, -1), wanted) ?? (names(current, wanted) ? current : undefined)) : undefined;
  if (!target) {
    throw new UsageError(
      args.to
        ? `--to ${args.to} names no recorded release of ${stage}. --to takes a release id, an image tag or a digest; the newest: ${recentReleases(history)}.`
        : `the record names no release of ${stage} before ${current.release}: name one with --to (the newest: ${recentReleases(history)}), or deploy an image with npm run deploy -- --stage ${stage} --only App --image <tag or digest>.`,
    );
  }
  if (target.release === current.release)
    throw new UsageError(`${stage} runs ${current.release} already: there is nothing to roll back to. Name another with --to (the newest: ${recentReleases(history)}).`);
  lines.push(`target:  ${describeRelease(target)}${args.to ? '' : ' (the release before the running one)'}`);
  // Code rollback leaves the schema as the newer releases migrated it.
  const after = history.filter((h) => h.version > target.version && ranMigration(h) && h.release !== target.release);
  const migrated = [...new Map(after.map((h) => [h.release, h])).values()];
  if (migrated.length > 0) {
    lines.push(
      `WARNING: the target predates the migrations of ${migrated.map((h) => `${h.release} (${migrationWords(h)})`).join('; ')}. A code rollback does not undo schema changes: the target runs on the migrated schema (backward compatible by the migration rules). If a migration damaged data, follow docs/runbooks.md, "Roll back a release that damaged data", before rolling the code back.`,
    );
  }
  return { current, target };
}

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

  const workerName = (await appOutputs(clients.cfn, args.stage))?.WorkerServiceName;
  const worker = workerName ? await serviceImage(clients.ecs, running.cluster, workerName) : undefined;
  const history = await releaseHistory(clients.ssm, args.stage);
  let previous: { ref: string; dbInstanceIdentifier?: string };
  let from: string;
  let refused: string | undefined;
  if (history.length > 0) {
    const { current, target } = await recordedTarget(
      args,
      history,
      [{ service: running.service, image: running.image }, ...(worker && workerName ? [{ service: workerName, image: worker.image }] : [])],
      lines,
    );
    previous = { ref: recordedRef(target) };
    from = current.release;
    refused = args.checkout ? checkoutProblem(args.stage, target, args.checkout) : undefined;
  } else {
    // A stage whose releases predate the record: the running release's pre-deploy snapshot names the one before.
    if (args.to)
      throw new UsageError(
        `${args.stage} has no release record yet (/webapp/${args.stage}/releases/current): --to needs one. Roll back to the previous release without --to, or deploy an image with npm run deploy -- --image.`,
      );
    const found = await previousRelease(clients.rds, args.stage, runningRef);
    if (!found) {
      throw new UsageError(
        `no pre-deploy snapshot of ${args.stage} names what ran before ${runningRef} (the release was deployed with the snapshot skipped, or its snapshots were pruned), and ${args.stage} has no release record yet. Find the previous digest in the deploy workflow's runs and deploy it: npm run deploy -- --stage ${args.stage} --only App --image sha256:...`,
      );
    }
    if (args.from !== undefined && args.from !== runningRef) {
      const digest = (await findImage(clients.ecr, config.image.repositoryName, runningRef))?.digest;
      const fromDigest = (await findImage(clients.ecr, config.image.repositoryName, args.from))?.digest;
      if (!digest || fromDigest !== digest) {
        throw new UsageError(`--from ${args.from} is not what ${args.stage} runs: its web tasks run ${runningRef}${digest && digest !== runningRef ? ` (${digest})` : ''}.`);
      }
    }
    lines.push(
      `before it ran ${config.image.repositoryName} ${found.ref} (pre-deploy snapshot ${found.snapshot}${found.snapshotTime ? `, ${found.snapshotTime.toISOString()}` : ''}; ${args.stage} has no release record yet)`,
    );
    previous = found;
    from = runningRef;
  }
  if (args.yes && args.from === undefined) {
    throw new UsageError(
      `--yes needs --from <the release you mean to roll back>, so a rollback never goes back from a release other than the one you think runs: ${rollbackCommand(args, from, args.to ?? previous.ref)}`,
    );
  }
  const command = rollbackCommand(args, from, args.to ?? previous.ref);
  const previousImage = await findImage(clients.ecr, config.image.repositoryName, previous.ref);
  if (!previousImage) {
    throw new UsageError(
      `the previous image ${config.image.repositoryName} ${previous.ref} is no longer in the ${args.stage} registry (expired by its lifecycle rule before it was tagged as a release?): deploy another with npm run deploy -- --image.`,
    );
  }
  const notReleased = unreleased(args.stage, `${account}, ${config.region}`, previousImage, `${config.image.repositoryName} ${previous.ref}`);
  if (notReleased) throw new UsageError(notReleased);
  // The checkout is the target's commit (or the record knows none): the record of the rollback names it.
  const context: Record<string, string> = { ...args.context, ...(args.checkout?.commit && !args.checkout.why && !refused ? { commit: args.checkout.commit } : {}) };
  const skip = await pitrCovers(clients.rds, previous.dbInstanceIdentifier ?? stageResourceName(args.stage), now);
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
  if (!args.fast) return { outcome: { kind: 'deploy', plan, lines, command, ...(refused ? { refused } : {}) }, config };

  // --fast after a completed release: ECS alone, now; CloudFormation catches up with the same release after.
  const services: Repoint[] = [];
  for (const service of [running.service, workerName].filter((s): s is string => Boolean(s))) {
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
  return { outcome: { kind: 'repoint', services, reconcile: plan, lines, command, ...(refused ? { refused } : {}) }, config };
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
  const options = { region, maxAttempts: 5, retryMode: 'adaptive' as const };
  return { ...defaultClients(region), rds: new RDSClient(options), ssm: new SSMClient(options) };
}

/** Stops the deployment in flight with rollback. */
export async function stopDeployment(ecs: Pick<ECSClient, 'send'>, deploymentArn: string): Promise<void> {
  await ecs.send(new StopServiceDeploymentCommand({ serviceDeploymentArn: deploymentArn, stopType: 'ROLLBACK' }));
}
