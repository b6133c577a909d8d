import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { expect } from 'vitest';
import { freePort } from './ports';

/**
 * Local image registries for the tests that copy images with skopeo (Debian's docker-registry,
 * the CNCF distribution server ECR speaks the same API as), and images to put in them.
 */

export const sha = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');

export const skopeo = (...args: string[]) => spawnSync('skopeo', args, { encoding: 'utf8' });

/** The digest of what a reference names in a local registry, or undefined when it names nothing. */
export const digestOf = (reference: string) => {
  const raw = skopeo('inspect', '--raw', '--tls-verify=false', `docker://${reference}`);
  return raw.status === 0 ? `sha256:${sha(raw.stdout)}` : undefined;
};

/** Fails, saying how to install it, when skopeo is missing. */
export function requireSkopeo(): void {
  if (skopeo('--version').error) throw new Error('skopeo is not installed or not on PATH. Install it with: sudo apt-get install -y skopeo docker-registry');
}

/** A registry on a free loopback port, storing under `work/name`; its host:port, and how to stop it. */
export async function startRegistry(work: string, name: string): Promise<{ host: string; child: ChildProcess }> {
  const port = await freePort();
  const config = join(work, `${name}.yml`);
  writeFileSync(config, `version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: ${join(work, name)}\nhttp:\n  addr: 127.0.0.1:${port}\n`);
  const child = spawn('docker-registry', ['serve', config], { stdio: 'ignore' });
  const failed = new Promise<Error>((resolve) => child.once('error', resolve));
  for (let i = 0; i < 100; i++) {
    const up = await Promise.race([
      fetch(`http://127.0.0.1:${port}/v2/`).then(
        (r) => r.ok,
        () => false,
      ),
      failed,
    ]);
    if (up instanceof Error) throw new Error(`docker-registry is not installed or not on PATH (${up.message}). Install it with: sudo apt-get install -y docker-registry skopeo`);
    if (up) return { host: `127.0.0.1:${port}`, child };
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill();
  throw new Error(`docker-registry did not answer on ${port}`);
}

/** One gzipped layer holding one file (its content differs with `seed`): the tar (whose digest the config names) and the blob. */
export function layer(seed = ''): { tar: Buffer; blob: Buffer } {
  const file = Buffer.from(`release${seed ? ` ${seed}` : ''}\n`);
  const header = Buffer.alloc(512);
  header.write('app.txt');
  header.write('0000644\0', 100);
  header.write('0000000\0', 108);
  header.write('0000000\0', 116);
  header.write(`${file.length.toString(8).padStart(11, '0')}\0`, 124);
  header.write('00000000000\0', 136);
  header.write('        ', 148);
  header.write('0', 156);
  header.write('ustar\0', 257);
  header.write('00', 263);
  const checksum = [...header].reduce((a, b) => a + b, 0);
  header.write(`${checksum.toString(8).padStart(6, '0')}\0 `, 148);
  const tar = Buffer.concat([header, file, Buffer.alloc(512 - file.length), Buffer.alloc(1024)]);
  return { tar, blob: gzipSync(tar) };
}

/** An image in skopeo's dir: layout at `dir`: one gzipped layer holding one file, a config, a manifest. Returns `dir`. */
export function imageDir(dir: string, seed = ''): string {
  mkdirSync(dir);
  const { tar, blob } = layer(seed);
  const config = Buffer.from(JSON.stringify({ architecture: 'arm64', os: 'linux', rootfs: { type: 'layers', diff_ids: [`sha256:${sha(tar)}`] }, config: {} }));
  const manifest = JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
    config: { mediaType: 'application/vnd.docker.container.image.v1+json', size: config.length, digest: `sha256:${sha(config)}` },
    layers: [{ mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', size: blob.length, digest: `sha256:${sha(blob)}` }],
  });
  writeFileSync(join(dir, sha(blob)), blob);
  writeFileSync(join(dir, sha(config)), config);
  writeFileSync(join(dir, 'manifest.json'), manifest);
  writeFileSync(join(dir, 'version'), 'Directory Transport Version: 1.1\n');
  return dir;
}

const OCI = { index: 'application/vnd.oci.image.index.v1+json', manifest: 'application/vnd.oci.image.manifest.v1+json' } as const;

/**
 * A multi-platform release as a build with buildx pushes it, through the registry's HTTP API: an
 * OCI image index referencing one image per platform (amd64, arm64). Returns the index's digest,
 * its manifest (as pushed) and its images' digests.
 */
export async function pushIndex(host: string, repository: string, tag: string, seed = ''): Promise<{ index: string; manifest: string; images: string[] }> {
  const api = `http://${host}/v2/${repository}`;
  const putBlob = async (data: Buffer) => {
    const started = await fetch(`${api}/blobs/uploads/`, { method: 'POST' });
    expect(started.status).toBe(202);
    const location = new URL(started.headers.get('location')!, `http://${host}`);
    location.searchParams.set('digest', `sha256:${sha(data)}`);
    const done = await fetch(location, { method: 'PUT', body: data, headers: { 'content-type': 'application/octet-stream' } });
    expect(done.status).toBe(201);
  };
  const putManifest = async (reference: string, mediaType: string, body: string) => {
    const put = await fetch(`${api}/manifests/${reference}`, { method: 'PUT', body, headers: { 'content-type': mediaType } });
    expect(put.status, await put.text()).toBe(201);
    return `sha256:${sha(body)}`;
  };
  const { tar, blob } = layer(seed);
  await putBlob(blob);
  const images: { digest: string; size: number; architecture: string }[] = [];
  for (const architecture of ['amd64', 'arm64']) {
    const config = Buffer.from(JSON.stringify({ architecture, os: 'linux', rootfs: { type: 'layers', diff_ids: [`sha256:${sha(tar)}`] }, config: {} }));
    await putBlob(config);
    const manifest = JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI.manifest,
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', size: config.length, digest: `sha256:${sha(config)}` },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', size: blob.length, digest: `sha256:${sha(blob)}` }],
    });
    images.push({ digest: await putManifest(`sha256:${sha(manifest)}`, OCI.manifest, manifest), size: Buffer.byteLength(manifest), architecture });
  }
  const index = JSON.stringify({
    schemaVersion: 2,
    mediaType: OCI.index,
    manifests: images.map((m) => ({ mediaType: OCI.manifest, digest: m.digest, size: m.size, platform: { architecture: m.architecture, os: 'linux' } })),
  });
  return { index: await putManifest(tag, OCI.index, index), manifest: index, images: images.map((m) => m.digest) };
}
