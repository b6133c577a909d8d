/**
 * What `npm run deploy` works out before it touches a stage: the plan (account, image, stacks) and
 * its refusals (credentials of another account, an image the stage's registry lacks, a stage with
 * nothing running and no image given); and how it runs `cdk deploy`. The rollback deploys with
 * the same clients and runner. Every function takes its SDK clients, so the tests run them against moto.
 */
import { spawnSync } from 'node:child_process';
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { ECRClient } from '@aws-sdk/client-ecr';
import { ECSClient } from '@aws-sdk/client-ecs';
import { STSClient } from '@aws-sdk/client-sts';
import { loadStages, type StageConfig, type StageName } from '../../lib/config';
import { PRIMARY_READ_PREFIX } from '../../lib/shared/stage-stack';
import { assemblyImage, readAssembly, stageTarget, UsageError } from './assembly';
import { accountProblem } from './credentials';
import { type DeployPlan, imageRef, operatorConfig, runningRelease, type StackPlace, type StageStack, stackOutputs, stackPlaces } from './release';
import { findImage, unreleased } from './release-tags';

export interface DeployArgs {
  readonly stage: StageName;
  readonly image?: string;
  readonly only?: readonly StageStack[];
  readonly app?: string;
  readonly account?: string;
  readonly context: Record<string, string>;
  readonly yes: boolean;
  /**
   * The stage's primary region is lost: deploy the `only` stacks outside it (the edge, the pilot
   * light) without asking that region anything, their reads of it pinned to the values they kept.
   */
  readonly primaryLost?: boolean;
}

export interface DeployClients {
  readonly sts: STSClient;
  readonly cfn: CloudFormationClient;
  readonly ecs: ECSClient;
  readonly ecr: ECRClient;
}

/** Refuses `--only` stacks the stage does not have (dev has no DR stack), which `cdk deploy` would report as "no stacks match". */
function checkOnly(args: DeployArgs, stacks: readonly StackPlace[]): void {
  const missing = (args.only ?? []).filter((o) => !stacks.some((s) => s.stackName === `${args.stage}-${o}`));
  if (missing.length > 0) {
    throw new UsageError(
      `${args.stage} has no ${missing.join(' or ')} stack (it has ${stacks.map((s) => s.stackName.slice(args.stage.length + 1)).join(', ')}): leave --only ${missing.join(' --only ')} out.`,
    );
  }
}

/**
 * Works out the deploy, refusing what would go wrong: credentials of another account, an image the
 * stage's registry lacks, a stage with nothing running and no image given.
 */
export async function planDeploy(args: DeployArgs, env: NodeJS.ProcessEnv, clientsFor: (region: string) => DeployClients): Promise<{ plan: DeployPlan; config: StageConfig }> {
  // The pipeline's unattended deploys skip CDK's prompt; a person with --yes still sees it for IAM and security-group changes.
  const noApproval = env.CI === 'true';
  if (args.app) {
    const assembly = readAssembly(args.app);
    const { account, region, stacks } = stageTarget(assembly, args.stage, args.app);
    checkOnly(args, stacks);
    const clients = clientsFor(region);
    const config = loadStages({ stages: args.stage }).selected[0];
    const problem = await accountProblem(clients.sts, account, args.stage, { command: 'deploy', acting: args.yes, config });
    if (problem) throw new UsageError(problem);
    const { repositoryName, ref } = assemblyImage(assembly, args.stage, args.app);
    const refused = unreleased(args.stage, `${account}, ${region}`, await findImage(clients.ecr, repositoryName, ref), `${repositoryName} ${ref}`);
    if (refused) throw new UsageError(`${refused}${refused.includes('Tag it first') ? '' : ': push it, or wait for replication.'}`);
    return {
      plan: { stage: args.stage, account, region, stacks, imageSource: `the image ${args.app} was synthesized with`, only: args.only, app: args.app, context: {}, noApproval },
      config,
    };
  }
  const config = operatorConfig(args.stage, args, env);
  const { account } = config;
  checkOnly(args, stackPlaces(config));
  if (args.primaryLost) return { plan: await primaryLostPlan(args, config, clientsFor, noApproval), config };
  const clients = clientsFor(config.region);
  const problem = await accountProblem(clients.sts, account, args.stage, { command: 'deploy', acting: args.yes, config });
  if (problem) throw new UsageError(problem);

  let image = args.image;
  let imageSource = 'given with --image';
  if (!image) {
    const running = await runningRelease(clients, args.stage);
    if (!running) throw new UsageError(`${args.stage} runs no web service yet (no ${args.stage}-App stack, or no task definition): name the first image with --image.`);
    image = imageRef(running.image);
    imageSource = 'what the web tasks run now';
  }
  const found = await findImage(clients.ecr, config.image.repositoryName, image);
  if (!found) {
    throw new UsageError(
      `the image ${config.image.repositoryName} ${image} is not in the ${args.stage} registry (${account}, ${config.region}): push it, or wait for replication (npm run preflight -- --stage ${args.stage} --image ${image} --wait-for-image 900).`,
    );
  }
  const refused = unreleased(args.stage, `${account}, ${config.region}`, found, `${config.image.repositoryName} ${image}`);
  if (refused) throw new UsageError(refused);
  return {
    plan: { stage: args.stage, account, region: config.region, stacks: stackPlaces(config), image, imageSource, only: args.only, context: args.context, noApproval },
    config,
  };
}

/**
 * A deploy while the primary region is lost: only stacks outside it, the account checked from the
 * DR region, the image the config names (none of these stacks runs it), and every value those
 * stacks read from the primary region pinned to what they kept as outputs at their last deploy
 * (lib/shared/stage-stack.ts), read from their own regions.
 */
async function primaryLostPlan(args: DeployArgs, config: StageConfig, clientsFor: (region: string) => DeployClients, noApproval: boolean): Promise<DeployPlan> {
  const places = stackPlaces(config);
  const chosen = places.filter((p) => args.only?.some((o) => p.stackName === `${args.stage}-${o}`));
  const inPrimary = chosen.filter((p) => p.region === config.region);
  const outside = places.filter((p) => p.region !== config.region);
  if (chosen.length === 0 || inPrimary.length > 0) {
    throw new UsageError(
      `with the primary region (${config.region}) lost, only stacks outside it can deploy${inPrimary.length > 0 ? `, not ${inPrimary.map((p) => p.stackName).join(', ')}` : ''}: name them with --only (${outside.map((p) => p.stackName.slice(args.stage.length + 1)).join(', ')}).`,
    );
  }
  const problem = await accountProblem(clientsFor(config.drRegion).sts, config.account, args.stage, { command: 'deploy', acting: args.yes, config });
  if (problem) throw new UsageError(problem);
  const pins: Record<string, string> = {};
  for (const place of outside) {
    // A stack never deployed has nothing to pin; anything else (no access, throttling) stops the plan.
    for (const output of (await stackOutputs(clientsFor(place.region).cfn, place.stackName)) ?? []) {
      if (output.Description?.startsWith(PRIMARY_READ_PREFIX) && output.OutputValue) pins[output.Description.slice(PRIMARY_READ_PREFIX.length)] = output.OutputValue;
    }
  }
  if (Object.keys(pins).length === 0) {
    throw new UsageError(
      `no stack of ${args.stage} outside ${config.region} kept what it reads from there (outputs "${PRIMARY_READ_PREFIX}..."): deploy them once while the primary region answers, or pass -c pinnedReads yourself.`,
    );
  }
  return {
    stage: args.stage,
    account: config.account,
    region: config.region,
    stacks: places,
    image: args.image ?? config.image.tag,
    imageSource: args.image ? 'given with --image' : "the config's (no stack deployed here runs it)",
    only: args.only,
    context: { ...args.context, pinnedReads: JSON.stringify(pins) },
    noApproval,
  };
}

/** Runs `npx cdk` with the plan's arguments; its exit code. */
export function runCdk(args: readonly string[]): number {
  const run = spawnSync('npx', ['cdk', ...args], { stdio: 'inherit' });
  return run.status ?? 1;
}

export function defaultClients(region: string): DeployClients {
  const options = { region, maxAttempts: 5, retryMode: 'adaptive' as const };
  return { sts: new STSClient(options), cfn: new CloudFormationClient(options), ecs: new ECSClient(options), ecr: new ECRClient(options) };
}
