import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { freePort } from './support/ports';

/**
 * .github/scripts/promote-release.sh against two real registries (Debian's docker-registry, the
 * CNCF distribution server ECR speaks the same API as) with skopeo, as the prod deploy job runs it:
 * a release copied by digest from staging's registry into prod's, byte for byte, tagged there.
 * What it cannot show: ECR's login (a stub `aws` answers get-login-password; the local registries
 * ask for no credentials) and ECR's refusal of an existing immutable tag (the script checks first).
 */
const ROOT = join(__dirname, '..');
const SCRIPT = join(ROOT, '.github', 'scripts', 'promote-release.sh');
const work = mkdtempSync(join(tmpdir(), 'promote-'));
const registries: ChildProcess[] = [];
let staging: string;
let prod: string;
let digest: string;

const sha = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');

/** A registry on a free loopback port, storing under `work`; its host:port. */
async function registry(name: string): Promise<string> {
  const port = await freePort();
  const config = join(work, `${name}.yml`);
  writeFileSync(config, `version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: ${join(work, name)}\nhttp:\n  addr: 127.0.0.1:${port}\n`);
  const child = spawn('docker-registry', ['serve', config], { stdio: 'ignore' });
  const failed = new Promise<Error>((resolve) => child.once('error', resolve));
  registries.push(child);
  for (let i = 0; i < 100; i++) {
    const up = await Promise.race([
      fetch(`http://127.0.0.1:${port}/v2/`).then(
        (r) => r.ok,
        () => false,
      ),
      failed,
    ]);
    if (up instanceof Error) throw new Error(`docker-registry is not installed or not on PATH (${up.message}). Install it with: sudo apt-get install -y docker-registry skopeo`);
    if (up) return `127.0.0.1:${port}`;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`docker-registry did not answer on ${port}`);
}

/** One gzipped layer holding one file: the tar (whose digest the config names) and the blob. */
function layer(): { tar: Buffer; blob: Buffer } {
  const file = Buffer.from('release\n');
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

/** An image in skopeo's dir: layout: one gzipped layer holding one file, a config, a manifest. */
function imageDir(): string {
  const dir = join(work, 'build');
  mkdirSync(dir);
  const { tar, blob } = layer();
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
 * OCI image index referencing one image per platform (amd64, arm64). Returns the index's digest
 * and its images' digests.
 */
async function pushIndex(host: string, repository: string, tag: string): Promise<{ index: string; images: string[] }> {
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
  const { tar, blob } = layer();
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
  return { index: await putManifest(tag, OCI.index, index), images: images.map((m) => m.digest) };
}

/**
 * Runs the script as the workflow does, with a stub `aws` that answers get-login-password (and
 * writes how it was called to AWS_CALLS, when set; fails when AWS_FAILS is).
 */
function promote(args: string[], env: Record<string, string> = {}) {
  const bin = join(work, 'bin');
  mkdirSync(bin, { recursive: true });
  writeFileSync(
    join(bin, 'aws'),
    '#!/bin/sh\n[ -n "$AWS_CALLS" ] && echo "$*" >> "$AWS_CALLS"\n[ -n "$AWS_FAILS" ] && exit 1\n[ "$1 $2" = "ecr get-login-password" ] && echo not-a-real-password\n',
  );
  chmodSync(join(bin, 'aws'), 0o755);
  return spawnSync(SCRIPT, args, { encoding: 'utf8', env: { ...process.env, PATH: `${bin}:${process.env.PATH}`, REGISTRY_TLS_VERIFY: 'false', ...env } });
}

const skopeo = (...args: string[]) => spawnSync('skopeo', args, { encoding: 'utf8' });
const digestOf = (reference: string) => {
  const raw = skopeo('inspect', '--raw', '--tls-verify=false', `docker://${reference}`);
  return raw.status === 0 ? `sha256:${sha(raw.stdout)}` : undefined;
};

beforeAll(async () => {
  if (skopeo('--version').error) throw new Error('skopeo is not installed or not on PATH. Install it with: sudo apt-get install -y skopeo docker-registry');
  [staging, prod] = [await registry('staging'), await registry('prod')];
  // CI pushed the build to staging's registry, where staging runs it.
  const pushed = skopeo('copy', '--quiet', '--dest-tls-verify=false', `dir:${imageDir()}`, `docker://${staging}/webapp:sha-3f9a1c2`);
  expect(pushed.stderr).toBe('');
  digest = digestOf(`${staging}/webapp:sha-3f9a1c2`)!;
});

afterAll(() => {
  for (const r of registries) r.kill();
});

describe('promote-release.sh: a release reaches prod only by this copy, same digest', () => {
  test('pull by digest, push to prod: the digest is the one staging runs, tagged release-<digest> and with the release tag', () => {
    const dir = join(work, 'release');
    const pull = promote(['pull', digest, `${staging}/webapp`, dir]);
    expect(pull.stderr).toBe('');
    expect(pull.status).toBe(0);
    const push = promote(['push', dir, `${prod}/webapp`, 'v1.4.2']);
    expect(push.status).toBe(0);
    expect(push.stdout.trim().split('\n').at(-1)).toBe(digest);
    expect(digestOf(`${prod}/webapp:release-${digest.slice('sha256:'.length)}`)).toBe(digest);
    expect(digestOf(`${prod}/webapp:v1.4.2`)).toBe(digest);
    // Nothing else was brought over: the CI tag stays in staging's registry.
    expect(digestOf(`${prod}/webapp:sha-3f9a1c2`)).toBeUndefined();
    // The job run again finds both tags on the digest and pushes nothing.
    expect(promote(['push', dir, `${prod}/webapp`, 'v1.4.2']).status).toBe(0);
  });

  test('a multi-platform release (an image index) arrives whole: the index under the same digest, every platform image with it', async () => {
    const release = await pushIndex(staging, 'webapp', 'sha-index');
    expect(digestOf(`${staging}/webapp:sha-index`)).toBe(release.index);
    const dir = join(work, 'release-index');
    const pull = promote(['pull', release.index, `${staging}/webapp`, dir]);
    expect(pull.stderr).toBe('');
    expect(pull.status).toBe(0);
    const push = promote(['push', dir, `${prod}/webapp`, 'v2.0.0']);
    expect(push.stderr).toBe('');
    expect(push.stdout.trim().split('\n').at(-1)).toBe(release.index);
    expect(digestOf(`${prod}/webapp:release-${release.index.slice('sha256:'.length)}`)).toBe(release.index);
    expect(digestOf(`${prod}/webapp:v2.0.0`)).toBe(release.index);
    // Each platform's image, by digest: a task on either architecture can pull it.
    for (const image of release.images) expect(digestOf(`${prod}/webapp@${image}`), image).toBe(image);
  });

  test("logs in to each registry with its own region's password (an ECR login holds in one region): prod's DR registry with the DR region's", () => {
    let run = 0;
    const calls = (args: string[]) => {
      const file = join(work, `aws-calls-${run++}`);
      // The stub refuses the login: the script stops there, having asked once.
      expect(promote(args, { AWS_CALLS: file, AWS_FAILS: '1' }).status).not.toBe(0);
      return readFileSync(file, 'utf8');
    };
    const ecr = (account: string, region: string) => `${account}.dkr.ecr.${region}.amazonaws.com/webapp`;
    expect(calls(['pull', digest, ecr('222222222222', 'eu-west-1'), join(work, 'z')])).toBe('ecr get-login-password --region eu-west-1\n');
    expect(calls(['push', join(work, 'release'), ecr('333333333333', 'eu-west-1')])).toBe('ecr get-login-password --region eu-west-1\n');
    expect(calls(['push', join(work, 'release'), ecr('333333333333', 'eu-central-1'), 'v1.4.2'])).toBe('ecr get-login-password --region eu-central-1\n');
    // A host that is no ECR registry (these tests' local ones) takes the step's region.
    expect(calls(['push', join(work, 'release'), `${prod}/webapp`, 'v1.4.2'])).toBe('ecr get-login-password\n');
  });

  test('refuses what is not a digest, and a digest the source does not hold', () => {
    const notDigest = promote(['pull', 'v1.4.2', `${staging}/webapp`, join(work, 'x')]);
    expect(notDigest.status).toBe(1);
    expect(notDigest.stderr).toContain("::error::not an image digest: 'v1.4.2'");
    expect(promote(['pull', `sha256:${'0'.repeat(64)}`, `${staging}/webapp`, join(work, 'y')]).status).not.toBe(0);
    expect(promote(['promote']).status).toBe(2);
  });
});
