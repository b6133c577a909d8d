import { type ChildProcess, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { digestOf, imageDir, pushIndex, requireSkopeo, skopeo, startRegistry } from './support/registry';

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

/** A local registry (test/support/registry.ts), stopped after the file. */
async function registry(name: string): Promise<string> {
  const { host, child } = await startRegistry(work, name);
  registries.push(child);
  return host;
}

beforeAll(async () => {
  requireSkopeo();
  [staging, prod] = [await registry('staging'), await registry('prod')];
  // CI pushed the build to staging's registry, where staging runs it.
  const pushed = skopeo('copy', '--quiet', '--dest-tls-verify=false', `dir:${imageDir(join(work, 'build'))}`, `docker://${staging}/webapp:sha-3f9a1c2`);
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
