/**
 * Release tags in a stage's registry (lib/registry/release-tag.ts): whether an image carries its
 * own, and adding it. ECR retags without moving layers: BatchGetImage the manifest, PutImage it
 * again under the new tag, which immutable repositories allow for a tag not yet used. And what
 * `npm run release-tag` works out: the images to tag, refusing another account's credentials and
 * an image the registry does not hold.
 */
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { BatchGetImageCommand, DescribeImagesCommand, ECRClient, PutImageCommand } from '@aws-sdk/client-ecr';
import { ECSClient } from '@aws-sdk/client-ecs';
import { STSClient } from '@aws-sdk/client-sts';
import { loadStages, STAGES, type StageName } from '../../lib/config';
import { isRelease, releaseRegions, releaseTag } from '../../lib/registry/release-tag';
import { UsageError } from './assembly';
import { accountProblem } from './credentials';
import { imageRef, runningRelease, stageAccount } from './release';

type Ecr = Pick<ECRClient, 'send'>;

/** An image of the registry, by its digest. */
export interface RegistryImage {
  /** The tag or digest it was asked for by. */
  readonly ref: string;
  readonly digest: string;
  readonly tags: readonly string[];
  /** It carries `release-<its digest>`. */
  readonly released: boolean;
}

/** The image a tag or digest names in the repository, or undefined when the registry lacks it. */
export async function findImage(ecr: Ecr, repositoryName: string, ref: string): Promise<RegistryImage | undefined> {
  const imageId = ref.startsWith('sha256:') ? { imageDigest: ref } : { imageTag: ref };
  try {
    const [found] = (await ecr.send(new DescribeImagesCommand({ repositoryName, imageIds: [imageId] }))).imageDetails ?? [];
    if (!found?.imageDigest) return undefined;
    return { ref, digest: found.imageDigest, tags: found.imageTags ?? [], released: isRelease(found.imageDigest, found.imageTags) };
  } catch (error) {
    if (['ImageNotFoundException', 'RepositoryNotFoundException'].includes((error as Error).name)) return undefined;
    throw error;
  }
}

/** Adds the release tag to the image with `digest`: 'tagged', or 'already' when it carried it. */
export async function tagRelease(ecr: Ecr, repositoryName: string, digest: string): Promise<'tagged' | 'already'> {
  const tag = releaseTag(digest);
  // Every manifest type ECR stores: without the list, an image index (multi-platform, or with
  // attestations) is not returned.
  const acceptedMediaTypes = [
    'application/vnd.docker.distribution.manifest.v2+json',
    'application/vnd.docker.distribution.manifest.list.v2+json',
    'application/vnd.oci.image.manifest.v1+json',
    'application/vnd.oci.image.index.v1+json',
  ];
  const [image] = (await ecr.send(new BatchGetImageCommand({ repositoryName, imageIds: [{ imageDigest: digest }], acceptedMediaTypes }))).images ?? [];
  if (!image?.imageManifest) throw new Error(`${repositoryName}@${digest} has no manifest to tag: is it still in the registry?`);
  try {
    await ecr.send(
      new PutImageCommand({ repositoryName, imageManifest: image.imageManifest, imageManifestMediaType: image.imageManifestMediaType, imageDigest: digest, imageTag: tag }),
    );
    return 'tagged';
  } catch (error) {
    // The tag is derived from the digest: where it exists, it is on this image.
    if (['ImageAlreadyExistsException', 'ImageTagAlreadyExistsException'].includes((error as Error).name)) return 'already';
    throw error;
  }
}

/** The command that tags an image as a release in a stage's registry (dry run without --yes). */
export const releaseTagCommand = (stage: string, ref: string) => `npm run release-tag -- --stage ${stage} --image ${ref} --yes`;

/** The command that copies a stage's releases into its DR region's registry and tags them there (dry run without --yes). */
export const drImagesCommand = (stage: string) => `npm run dr-images -- --stage ${stage} --yes`;

/** Why a deploy must not run `ref`, or undefined when it may: the stage's registry lacks it, or it is not tagged as a release there. */
export function unreleased(stage: string, where: string, image: RegistryImage | undefined, ref: string): string | undefined {
  if (!image) return `the image ${ref} is not in the ${stage} registry (${where})`;
  if (image.released) return undefined;
  return `the image ${ref} (${image.digest}) is not tagged as a release in the ${stage} registry (${where}): its build tags expire after 30 days, even while ${stage} runs it. Tag it first: ${releaseTagCommand(stage, image.digest)}`;
}

export interface ReleaseTagArgs {
  readonly stage: StageName;
  readonly image?: string;
  readonly running: boolean;
  readonly account?: string;
  readonly context: Record<string, string>;
  readonly waitForImageSeconds: number;
  readonly yes: boolean;
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
  /**
   * The same images in the stage's DR region's registry, where it keeps a pilot light: each as
   * found there (by its digest), or `missing` when the registry lacks it.
   */
  readonly dr?: {
    readonly region: string;
    readonly where: string;
    readonly images: readonly ((RegistryImage & { readonly missing?: false }) | { readonly ref: string; readonly digest: string; readonly missing: true })[];
  };
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
  const problem = await accountProblem(clients.sts, account, args.stage, { command: 'release-tag', acting: args.yes, config });
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

  // Replication is asynchronous: look again every 10 s, up to --wait-for-image.
  const waitingFor = async (ecr: Ecr, ref: string) => {
    const deadline = wait.now() + args.waitForImageSeconds * 1000;
    let found = await findImage(ecr, repositoryName, ref);
    while (!found && wait.now() < deadline) {
      await wait.sleep(10_000);
      found = await findImage(ecr, repositoryName, ref);
    }
    return found;
  };
  const images: ReleaseTagPlan['images'][number][] = [];
  for (const { ref, why } of wanted) {
    const found = await waitingFor(clients.ecr, ref);
    if (!found) {
      throw new UsageError(
        `the image ${ref} (${why}) is not in the ${args.stage} registry (${where})${args.waitForImageSeconds ? ` after ${args.waitForImageSeconds} s` : ''}: push it, or wait for replication (--wait-for-image 900).`,
      );
    }
    if (!images.some((i) => i.digest === found.digest)) images.push({ ...found, why });
  }
  // The pilot light's registry holds the same releases, found by digest (a copy made by
  // dr-images carries the release tag alone). Replication may have brought a build there
  // without the release tag, which only a tag in that registry itself is sure to add.
  const drRegion = releaseRegions(config).find((r) => r !== config.region);
  if (!drRegion) return { stage: args.stage, region: config.region, repositoryName, where, images };
  const drEcr = clientsFor(drRegion).ecr;
  const drImages: NonNullable<ReleaseTagPlan['dr']>['images'][number][] = [];
  for (const { ref, digest } of images) {
    const found = await waitingFor(drEcr, digest);
    drImages.push(found ? { ...found, ref } : { ref, digest, missing: true });
  }
  return { stage: args.stage, region: config.region, repositoryName, where, images, dr: { region: drRegion, where: `${account}/${drRegion} ${repositoryName}`, images: drImages } };
}

export function formatReleaseTagPlan(plan: ReleaseTagPlan): string[] {
  return [
    `release tags in the ${plan.stage} registry (${plan.where})`,
    ...plan.images.map((i) => `  ${i.ref} (${i.why}, ${i.digest}): ${i.released ? 'a release already' : `tag ${releaseTag(i.digest)}`}`),
    ...(plan.dr
      ? [
          `release tags in the ${plan.stage} DR registry (${plan.dr.where})`,
          ...plan.dr.images.map(
            (i) =>
              `  ${i.ref} (${i.digest}): ${i.missing ? `not there: a failover could not run it. Copy it: ${drImagesCommand(plan.stage)}` : i.released ? 'a release already' : `tag ${releaseTag(i.digest)}`}`,
          ),
        ]
      : []),
  ];
}

export function releaseTagClients(region: string): ReleaseTagClients {
  const options = { region, maxAttempts: 5, retryMode: 'adaptive' as const };
  return { sts: new STSClient(options), ecr: new ECRClient(options), cfn: new CloudFormationClient(options), ecs: new ECSClient(options) };
}
