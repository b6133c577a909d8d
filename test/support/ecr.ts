import { createHash } from 'node:crypto';

/**
 * An image manifest (Docker v2, schema 2) for pushing to moto's ECR with PutImage. ECR's digest is
 * the manifest's own hash; moto's is the hash of the layer digests, so two images without layers
 * would share one digest there. Each `seed` gives its own layer, and so its own digest in both.
 */
export function imageManifest(seed: string): string {
  const digest = (what: string) => `sha256:${createHash('sha256').update(`${what}:${seed}`).digest('hex')}`;
  return JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
    config: { digest: digest('config'), size: 1, mediaType: 'application/vnd.docker.container.image.v1+json' },
    layers: [{ digest: digest('layer'), size: 1, mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip' }],
  });
}
