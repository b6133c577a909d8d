/**
 * Marks images as releases in a stage's registry, so its lifecycle rules keep them:
 *
 *   npm run release-tag -- --stage prod [--image TAG|sha256:DIGEST] [--running] [--account ID]
 *                          [-c KEY=VALUE ...] [--wait-for-image SECONDS] [--yes]
 *
 * It adds `release-<digest>` to the image the stage's config names (with the -c overrides, as the
 * deploy workflow passes them) or `--image`, and with `--running` to the image its web tasks run
 * now (once, for a stage deployed before releases were tagged). `--wait-for-image` first waits
 * for the image to reach the stage's registry (replication is asynchronous). Deploy, rollback and
 * preflight refuse an image without it. Without --yes it prints what it would tag.
 *
 * Exit codes: 0 tagged (or the plan printed, or nothing to do), 1 tagging failed, 2 bad arguments
 * or refused (wrong account, no such image): nothing was changed.
 */
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { ECRClient } from '@aws-sdk/client-ecr';
import { ECSClient } from '@aws-sdk/client-ecs';
import { STSClient } from '@aws-sdk/client-sts';
import { loadStages, STAGE_NAMES, STAGES, type StageName } from '../lib/config';
import { releaseTag } from '../lib/registry/release-tag';
import { addContext, readFlags, stageArg } from './lib/args';
import { UsageError } from './lib/assembly';
import { accountProblem } from './lib/credentials';
import { checkImageRef, imageRef, refusal, runningRelease, stageAccount } from './lib/release';
import { findImage, type RegistryImage, tagRelease } from './lib/release-tags';

const USAGE = `usage: release-tag --stage ${STAGE_NAMES.join('|')} [--image TAG|sha256:DIGEST] [--running] [--account ID] [-c KEY=VALUE ...] [--wait-for-image SECONDS] [--yes]`;

export interface ReleaseTagArgs {
  readonly stage: StageName;
  readonly image?: string;
  readonly running: boolean;
  readonly account?: string;
  readonly context: Record<string, string>;
  readonly waitForImageSeconds: number;
  readonly yes: boolean;
}

export function parseArgs(argv: readonly string[]): ReleaseTagArgs {
  let stage: string | undefined;
  let image: string | undefined;
  let account: string | undefined;
  let running = false;
  let yes = false;
  let waitForImageSeconds = 0;
  const context: Record<string, string> = {};
  for (const [flag, value = ''] of readFlags(argv, {
    values: ['--stage', '--image', '--account', '-c', '--context', '--wait-for-image'],
    switches: ['--running', '--yes'],
    usage: USAGE,
  })) {
    if (flag === '--yes') yes = true;
    else if (flag === '--running') running = true;
    else if (flag === '--stage') stage = value;
    else if (flag === '--image') image = checkImageRef(value);
    else if (flag === '--account') account = value;
    else if (flag === '--wait-for-image') {
      waitForImageSeconds = Number(value);
      if (!/^\d+$/.test(value) || waitForImageSeconds > 3600) throw new UsageError(`--wait-for-image takes whole seconds from 0 to 3600, not "${value}". ${USAGE}`);
    } else addContext(context, flag, value, USAGE);
  }
  return { stage: stageArg(stage, USAGE), image, running, account, context, waitForImageSeconds, yes };
}

export interface ReleaseTagClients {
  readonly sts: STSClient;
  readonly ecr: ECRClient;
  readonly cfn: CloudFormationClient;
  readonly ecs: ECSClient;
}

/** What the command found: each image with whether it needs the tag. */
export interface ReleaseTagPlan {
  readonly stage: StageName;
  readonly region: string;
  readonly repositoryName: string;
  readonly where: string;
  readonly images: readonly (RegistryImage & { readonly why: string })[];
}

/**
 * Finds the images to tag (the configured or given one, and with --running what runs now),
 * refusing credentials of another account and an image the registry does not hold.
 */
export async function planReleaseTag(
  args: ReleaseTagArgs,
  env: NodeJS.ProcessEnv,
  clientsFor: (region: string) => ReleaseTagClients,
  wait: { now: () => number; sleep: (ms: number) => Promise<void> } = { now: Date.now, sleep: (ms) => new Promise((r) => setTimeout(r, ms)) },
): Promise<ReleaseTagPlan> {
  const account = stageAccount(args.stage, args, env, STAGES[args.stage].account);
  const config = loadStages({ ...args.context, [`${args.stage}.account`]: account, stages: args.stage }).selected[0];
  const clients = clientsFor(config.region);
  const problem = await accountProblem(clients.sts, account, args.stage);
  if (problem) throw new UsageError(problem);
  const { repositoryName } = config.image;
  const where = `${account}/${config.region} ${repositoryName}`;

  const wanted: { ref: string; why: string }[] = [];
  if (args.image || !args.running) wanted.push({ ref: args.image ?? config.image.tag, why: args.image ? 'given with --image' : `the ${args.stage} config's image` });
  if (args.running) {
    const running = await runningRelease(clients, args.stage);
    if (!running) throw new UsageError(`${args.stage} runs no web service yet (no ${args.stage}-App stack): there is no running image to tag.`);
    wanted.push({ ref: imageRef(running.image), why: 'what the web tasks run now' });
  }

  const images: ReleaseTagPlan['images'][number][] = [];
  for (const { ref, why } of wanted) {
    const deadline = wait.now() + args.waitForImageSeconds * 1000;
    let found = await findImage(clients.ecr, repositoryName, ref);
    while (!found && wait.now() < deadline) {
      await wait.sleep(10_000);
      found = await findImage(clients.ecr, repositoryName, ref);
    }
    if (!found) {
      throw new UsageError(
        `the image ${ref} (${why}) is not in the ${args.stage} registry (${where})${args.waitForImageSeconds ? ` after ${args.waitForImageSeconds} s` : ''}: push it, or wait for replication (--wait-for-image 900).`,
      );
    }
    if (!images.some((i) => i.digest === found.digest)) images.push({ ...found, why });
  }
  return { stage: args.stage, region: config.region, repositoryName, where, images };
}

export function formatReleaseTagPlan(plan: ReleaseTagPlan): string[] {
  return [
    `release tags in the ${plan.stage} registry (${plan.where})`,
    ...plan.images.map((i) => `  ${i.ref} (${i.why}, ${i.digest}): ${i.released ? 'a release already' : `tag ${releaseTag(i.digest)}`}`),
  ];
}

export function defaultClients(region: string): ReleaseTagClients {
  const options = { region, maxAttempts: 5, retryMode: 'adaptive' as const };
  return { sts: new STSClient(options), ecr: new ECRClient(options), cfn: new CloudFormationClient(options), ecs: new ECSClient(options) };
}

export async function main(argv = process.argv.slice(2), env = process.env, clientsFor = defaultClients): Promise<number> {
  try {
    const args = parseArgs(argv);
    const plan = await planReleaseTag(args, env, clientsFor);
    for (const line of formatReleaseTagPlan(plan)) console.log(line);
    const untagged = plan.images.filter((i) => !i.released);
    if (untagged.length === 0) {
      console.log('nothing to do: every image is a release.');
      return 0;
    }
    if (!args.yes) {
      console.log(`dry run: nothing tagged. Run again with --yes to tag ${untagged.length} image(s).`);
      return 0;
    }
    const { ecr } = clientsFor(plan.region);
    for (const image of untagged) {
      try {
        const outcome = await tagRelease(ecr, plan.repositoryName, image.digest);
        console.log(`${image.ref}: ${outcome === 'tagged' ? 'tagged' : 'was tagged meanwhile'} ${releaseTag(image.digest)}`);
      } catch (error) {
        console.error(`release-tag: tagging ${image.ref} failed (${(error as Error).name}: ${(error as Error).message}); nothing else was changed after it. Run again.`);
        return 1;
      }
    }
    return 0;
  } catch (error) {
    return refusal('release-tag', error);
  }
}

if (require.main === module) {
  main().then((code) => process.exit(code));
}
