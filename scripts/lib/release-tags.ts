/**
 * Release tags in a stage's registry (lib/registry/release-tag.ts): whether an image carries its
 * own, and adding it. ECR retags without moving layers: BatchGetImage the manifest, PutImage it
 * again under the new tag, which immutable repositories allow for a tag not yet used.
 */
import { BatchGetImageCommand, DescribeImagesCommand, type ECRClient, PutImageCommand } from '@aws-sdk/client-ecr';
import { isRelease, releaseTag } from '../../lib/registry/release-tag';

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

/** Why a deploy must not run `ref`, or undefined when it may: the stage's registry lacks it, or it is not tagged as a release there. */
export function unreleased(stage: string, where: string, image: RegistryImage | undefined, ref: string): string | undefined {
  if (!image) return `the image ${ref} is not in the ${stage} registry (${where})`;
  if (image.released) return undefined;
  return `the image ${ref} (${image.digest}) is not tagged as a release in the ${stage} registry (${where}): its build tags expire after 30 days, even while ${stage} runs it. Tag it first: ${releaseTagCommand(stage, image.digest)}`;
}
