/**
 * The tag that marks an image as a release in a registry: `release-` and the image digest's 64 hex
 * digits. The repository's first lifecycle rule selects it and keeps such images (an image a rule
 * selects cannot be expired by a lower-priority rule, whatever other tags it carries), so a
 * release also tagged `sha-...` never expires under a stage that runs it or could roll back to it.
 * Derived from the digest, the tag is the same in every registry and adding it twice is a no-op;
 * a release tag naming another digest is no release tag.
 */
export const RELEASE_TAG_PREFIX = 'release-';

/** The ECR lifecycle pattern of release tags. */
export const RELEASE_TAG_PATTERN = `${RELEASE_TAG_PREFIX}*`;

/** `sha256:<hex>` -> `release-<hex>`. */
export function releaseTag(digest: string): string {
  const match = /^sha256:([a-f0-9]{64})$/.exec(digest);
  if (!match) throw new Error(`not an image digest: "${digest}" (sha256: and 64 hex digits)`);
  return `${RELEASE_TAG_PREFIX}${match[1]}`;
}

/** Whether `tags` hold the release tag of the image with `digest`. */
export function isRelease(digest: string, tags: readonly string[] | undefined): boolean {
  return (tags ?? []).includes(releaseTag(digest));
}

/**
 * The regions whose registries hold a stage's releases: its own, and its DR region where it keeps
 * a pilot light there (`dr.pilotLight`), so a failover finds the images without the lost region.
 * Typed by the fields it reads, so commands load it without the CDK.
 */
export function releaseRegions(stage: { readonly region: string; readonly drRegion: string; readonly dr: { readonly pilotLight: boolean } }): string[] {
  return [stage.region, ...(stage.dr.pilotLight && stage.drRegion !== stage.region ? [stage.drRegion] : [])];
}
