/**
 * The one way to deploy a stage, by hand or from the workflows, with what the pipeline would pass:
 *
 *   npm run deploy -- --stage prod [--image TAG|sha256:DIGEST] [--only App ...] [--app DIR]
 *                     [--account ID] [-c KEY=VALUE ...] [--yes]
 *
 * The account is `--account`, `-c <stage>.account`, the workflows' variable AWS_<STAGE>_ACCOUNT_ID
 * or the config's, and the credentials must be that account's. The image is `--image`, else what
 * the stage's web tasks run now (so a deploy by hand never changes the release by accident), and
 * it must be in the stage's registry. `--only` deploys exactly the named stacks (`cdk deploy -e`);
 * `--app` deploys a prebuilt assembly (the release workflow's), whose account and image it fixes.
 * It prints what it will do; only with --yes does it run `cdk deploy`.
 *
 * Exit codes: 0 deployed (or the plan printed), 1 the deploy failed, 2 bad arguments or refused
 * (wrong account, no such image, no credentials): nothing was changed.
 */
import { spawnSync } from 'node:child_process';
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { ECRClient } from '@aws-sdk/client-ecr';
import { ECSClient } from '@aws-sdk/client-ecs';
import { STSClient } from '@aws-sdk/client-sts';
import { loadStages, STAGE_NAMES, type StageConfig, type StageName } from '../lib/config';
import { addContext, readFlags, stageArg } from './lib/args';
import { assemblyImage, readAssembly, stageTarget, UsageError } from './lib/assembly';
import { accountProblem } from './lib/credentials';
import {
  checkImageRef,
  type DeployPlan,
  deployOrPrint,
  formatPlan,
  imageRef,
  operatorConfig,
  refusal,
  runningRelease,
  STAGE_STACKS,
  type StackPlace,
  type StageStack,
  stackPlaces,
} from './lib/release';
import { findImage, unreleased } from './lib/release-tags';

const USAGE = `usage: deploy --stage ${STAGE_NAMES.join('|')} [--image TAG|sha256:DIGEST] [--only ${STAGE_STACKS.join('|')} ...] [--app DIR] [--account ID] [-c KEY=VALUE ...] [--yes]`;

export interface DeployArgs {
  readonly stage: StageName;
  readonly image?: string;
  readonly only?: readonly StageStack[];
  readonly app?: string;
  readonly account?: string;
  readonly context: Record<string, string>;
  readonly yes: boolean;
}

export function parseArgs(argv: readonly string[]): DeployArgs {
  let stage: string | undefined;
  let image: string | undefined;
  let app: string | undefined;
  let account: string | undefined;
  let yes = false;
  const only: StageStack[] = [];
  const context: Record<string, string> = {};
  for (const [flag, value = ''] of readFlags(argv, {
    values: ['--stage', '--image', '--only', '--app', '--account', '-c', '--context'],
    switches: ['--yes'],
    repeatable: ['--only'],
    usage: USAGE,
  })) {
    if (flag === '--yes') yes = true;
    else if (flag === '--stage') stage = value;
    else if (flag === '--image') image = checkImageRef(value);
    else if (flag === '--app') app = value;
    else if (flag === '--account') account = value;
    else if (flag === '--only') {
      if (!(STAGE_STACKS as readonly string[]).includes(value)) throw new UsageError(`--only takes a stack of the stage (${STAGE_STACKS.join(', ')}), not "${value}". ${USAGE}`);
      if (!only.includes(value as StageStack)) only.push(value as StageStack);
    } else addContext(context, flag, value, USAGE);
  }
  const name = stageArg(stage, USAGE);
  if (app && (image || account || Object.keys(context).length > 0)) {
    throw new UsageError(`--app deploys an assembly as it was synthesized: its account, image and context are fixed; leave out --image, --account and -c. ${USAGE}`);
  }
  if (context.imageTag !== undefined) throw new UsageError(`pass the image as --image, not -c imageTag. ${USAGE}`);
  return { stage: name, image, only: only.length > 0 ? only : undefined, app, account, context, yes };
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
    const problem = await accountProblem(clients.sts, account, args.stage);
    if (problem) throw new UsageError(problem);
    const { repositoryName, ref } = assemblyImage(assembly, args.stage, args.app);
    const refused = unreleased(args.stage, `${account}, ${region}`, await findImage(clients.ecr, repositoryName, ref), `${repositoryName} ${ref}`);
    if (refused) throw new UsageError(`${refused}${refused.includes('Tag it first') ? '' : ': push it, or wait for replication.'}`);
    return {
      plan: { stage: args.stage, account, region, stacks, imageSource: `the image ${args.app} was synthesized with`, only: args.only, app: args.app, context: {}, noApproval },
      config: loadStages({ stages: args.stage }).selected[0],
    };
  }
  const config = operatorConfig(args.stage, args, env);
  const { account } = config;
  checkOnly(args, stackPlaces(config));
  const clients = clientsFor(config.region);
  const problem = await accountProblem(clients.sts, account, args.stage);
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

/** Runs `npx cdk` with the plan's arguments; its exit code. */
export function runCdk(args: readonly string[]): number {
  const run = spawnSync('npx', ['cdk', ...args], { stdio: 'inherit' });
  return run.status ?? 1;
}

export function defaultClients(region: string): DeployClients {
  const options = { region, maxAttempts: 5, retryMode: 'adaptive' as const };
  return { sts: new STSClient(options), cfn: new CloudFormationClient(options), ecs: new ECSClient(options), ecr: new ECRClient(options) };
}

export async function main(argv = process.argv.slice(2), env = process.env, run = runCdk, clientsFor = defaultClients): Promise<number> {
  try {
    const args = parseArgs(argv);
    const { plan, config } = await planDeploy(args, env, clientsFor);
    console.log(formatPlan(plan, config));
    return deployOrPrint(plan, args.yes, run, {
      dryRun: 'Run again with --yes to deploy.',
      failure: 'deploy: cdk deploy failed (exit %s); CloudFormation rolled back what it could. Read the stack events.',
    });
  } catch (error) {
    return refusal('deploy', error);
  }
}

if (require.main === module) {
  main().then((code) => process.exit(code));
}
