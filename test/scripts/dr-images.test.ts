import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateRepositoryCommand, DescribeImagesCommand, ECRClient, PutImageCommand } from '@aws-sdk/client-ecr';
import { STSClient } from '@aws-sdk/client-sts';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { releaseTag } from '../../lib/registry/release-tag';
import { main, parseArgs } from '../../scripts/dr-images';
import { roleLine } from '../../scripts/lib/credentials';
import {
  applyDrImages,
  copyRelease,
  type DrImagesClients,
  formatDrImagesPlan,
  openRoute,
  planDrImages,
  registryImages,
  registryLogin,
  runSkopeo,
} from '../../scripts/lib/dr-images';
import { tagRelease } from '../../scripts/lib/release-tags';
import { printed } from '../support/console';
import { imageManifest } from '../support/ecr';
import { type Moto, startMoto } from '../support/moto';
import { digestOf, imageDir, pushIndex, requireSkopeo, sha, skopeo, startRegistry } from '../support/registry';

/**
 * `npm run dr-images`: the plan against moto's ECR in the stage's region and its DR region
 * (moto has no replication: the test puts what replication would have brought), the copies
 * against two local registries with skopeo (test/support/registry.ts), as promote-release.sh is
 * tested. Moto stands in for every AWS call; nothing is mocked.
 */
const ACCOUNT = '123456789012'; // moto's
const [REGION, DR_REGION] = ['eu-west-1', 'eu-central-1'];
/** The same repository name in every stage (the config requires it), one of this file's own per case. */
const repository = (name: string) => ['dev', 'staging', 'prod'].flatMap((stage) => ['-c', `${stage}.image.repositoryName=${name}`]);
const argv = (name: string, ...more: string[]) => ['--stage', 'staging', '--account', ACCOUNT, ...repository(name), ...more];

let moto: Moto;
const ecr: Record<string, ECRClient> = {};
const clientsFor = (region: string): DrImagesClients => ({ sts: new STSClient(moto.clientConfig(region)), ecr: ecr[region] });
const work = mkdtempSync(join(tmpdir(), 'dr-images-'));
const registries: ChildProcess[] = [];
/** The local registries standing in for the stage's and its DR region's. */
const local: Record<string, string> = {};

/** Puts an image into a moto repository under `tag`, tagged as a release with `release`; its digest. */
async function put(region: string, repositoryName: string, imageManifest: string, tag: string, release: boolean, imageDigest?: string): Promise<string> {
  const pushed = await ecr[region].send(new PutImageCommand({ repositoryName, imageManifest, imageTag: tag, imageDigest }));
  const digest = pushed.image!.imageId!.imageDigest!;
  if (release) await tagRelease(ecr[region], repositoryName, digest);
  return digest;
}
const tagsIn = async (region: string, repositoryName: string, imageDigest: string) =>
  (await ecr[region].send(new DescribeImagesCommand({ repositoryName, imageIds: [{ imageDigest }] }))).imageDetails![0].imageTags?.sort();

beforeAll(async () => {
  requireSkopeo();
  moto = await startMoto({ as: 'webapp-break-glass' });
  for (const region of [REGION, DR_REGION]) ecr[region] = new ECRClient(moto.clientConfig(region));
  for (const [region, name] of [
    [REGION, 'staging'],
    [DR_REGION, 'dr'],
  ]) {
    const started = await startRegistry(work, name);
    registries.push(started.child);
    local[region] = started.host;
  }
});
afterAll(() => {
  for (const r of registries) r.kill();
});

describe('the plan: which releases the DR registry lacks, against moto in both regions', () => {
  const REPO = 'dr-images-plan';
  const digests: Record<string, string> = {};

  beforeAll(async () => {
    for (const region of [REGION, DR_REGION]) await ecr[region].send(new CreateRepositoryCommand({ repositoryName: REPO, imageTagMutability: 'IMMUTABLE' }));
    // In both registries as a release: nothing to do.
    digests.kept = await put(REGION, REPO, imageManifest('dr kept'), 'v1.0.0', true);
    await put(DR_REGION, REPO, imageManifest('dr kept'), 'v1.0.0', true);
    // Replicated with its build tag, released afterwards in the stage's registry only: a tag there.
    digests.replicated = await put(REGION, REPO, imageManifest('dr replicated'), 'sha-2b7e9d1', true);
    await put(DR_REGION, REPO, imageManifest('dr replicated'), 'sha-2b7e9d1', false);
    // Released before the DR registry existed: a copy.
    digests.early = await put(REGION, REPO, imageManifest('dr early'), 'v0.9.0', true);
    // A build never released, and one that reached the DR registry alone: neither is a release of the stage.
    digests.build = await put(REGION, REPO, imageManifest('dr build'), 'sha-77aa001', false);
    digests.elsewhere = await put(DR_REGION, REPO, imageManifest('dr elsewhere'), 'sha-88bb002', false);
  });

  test('each release with what it needs: nothing, a tag there, or a copy; builds that are no release are left out', async () => {
    const plan = await planDrImages(parseArgs(argv(REPO)), {}, clientsFor);
    expect(plan.from).toEqual({ region: REGION, where: `${ACCOUNT}/${REGION} ${REPO}` });
    expect(plan.to).toEqual({ region: DR_REGION, where: `${ACCOUNT}/${DR_REGION} ${REPO}` });
    expect(Object.fromEntries(plan.releases.map((r) => [r.digest, [r.action, r.names]]))).toEqual({
      [digests.kept]: ['none', ['v1.0.0']],
      [digests.replicated]: ['tag', ['sha-2b7e9d1']],
      [digests.early]: ['copy', ['v0.9.0']],
    });
    const lines = formatDrImagesPlan(plan);
    expect(lines[0]).toBe(`the releases of staging (${ACCOUNT}/${REGION} ${REPO}) in its DR region's registry (${ACCOUNT}/${DR_REGION} ${REPO})`);
    expect(lines).toContain(`  ${digests.kept} (v1.0.0): there, a release`);
    expect(lines).toContain(`  ${digests.replicated} (sha-2b7e9d1): there without the release tag: tag ${releaseTag(digests.replicated)}`);
    expect(lines).toContain(`  ${digests.early} (v0.9.0): not there: copy it, tagged ${releaseTag(digests.early)}`);
    expect(lines.at(-1)).toBe('3 release(s): 1 there, 1 to tag, 1 to copy.');
  });

  test('without --yes it prints the plan and changes nothing (exit 0)', async () => {
    const dry = await printed(() => main(argv(REPO), {}, { clientsFor }));
    expect(dry.result).toBe(0);
    expect(dry.stderr).toBe('');
    expect(dry.stdout.trimEnd().split('\n').at(-1)).toBe('dry run: nothing copied or tagged. Run again with --yes to copy 1 and tag 1 release(s).');
    expect(await tagsIn(DR_REGION, REPO, digests.replicated)).toEqual(['sha-2b7e9d1']);
  });

  test('without skopeo it refuses before it tags or copies anything (exit 2)', async () => {
    const missing = async () => ({ status: 127, stdout: Buffer.alloc(0), stderr: 'spawn skopeo ENOENT' });
    const refused = await printed(() => main(argv(REPO, '--yes'), {}, { clientsFor, skopeo: missing }));
    expect(refused.result).toBe(2);
    expect(refused.stderr).toBe(
      'dr-images: skopeo does not run (spawn skopeo ENOENT): install it (apt-get install skopeo, or brew install skopeo) and run again. Nothing was copied.\n',
    );
    expect(await tagsIn(DR_REGION, REPO, digests.replicated)).toEqual(['sha-2b7e9d1']);
  });
});

describe('refusals: nothing is changed (exit 2)', () => {
  test('a stage without a pilot light', async () => {
    const refused = await printed(() => main(['--stage', 'dev', '--account', ACCOUNT], {}, { clientsFor }));
    expect(refused).toEqual({
      result: 2,
      stdout: '',
      stderr:
        'dr-images: dev keeps no pilot light (dr.pilotLight is false), so its DR region eu-central-1 holds no registry of its releases. Fix: set dr.pilotLight: true for dev (docs/configuration.md), or name a stage that keeps one (staging, prod).\n',
    });
  });

  test("credentials of another account than the stage's", async () => {
    const refused = await printed(() => main(['--stage', 'staging', '--account', '222222222222'], {}, { clientsFor }));
    expect(refused.result).toBe(2);
    expect(refused.stderr).toMatch(
      /^dr-images: the credentials are for account 123456789012 .*, but staging is in 222222222222\. Use credentials of 222222222222 and run again\.\n$/,
    );
  });

  test('a DR registry (or stage registry) that is not deployed yet names the stack to deploy', async () => {
    await ecr[REGION].send(new CreateRepositoryCommand({ repositoryName: 'dr-images-nodr' }));
    const noDr = await printed(() => main(argv('dr-images-nodr'), {}, { clientsFor }));
    expect(noDr.result).toBe(2);
    expect(noDr.stderr).toBe(
      `dr-images: the repository ${ACCOUNT}/${DR_REGION} dr-images-nodr does not exist: nothing was copied. Deploy the registry stack first: npx cdk deploy Registry-${ACCOUNT}-${DR_REGION}-dr-images-nodr\n`,
    );
    const none = await printed(() => main(argv('dr-images-none'), {}, { clientsFor }));
    expect(none.stderr).toContain(`the repository ${ACCOUNT}/${REGION} dr-images-none does not exist`);
  });

  test('bad arguments, with the usage line', async () => {
    expect(await printed(() => main(['--stage', 'staging', '--image', 'v1'], {}, { clientsFor }))).toEqual({
      result: 2,
      stdout: '',
      stderr: `dr-images: unknown argument "--image". usage: dr-images --stage dev|staging|prod [--account ID] [-c KEY=VALUE ...] [--yes]; ${roleLine('dr-images')}\n`,
    });
    expect(() => parseArgs(['--yes'])).toThrow('--stage must be one of dev, staging, prod.');
  });
});

describe('the copies, against two local registries with skopeo', () => {
  /** A route between the local registries; their logins are ECR's (moto's) for each region, which the local registries ignore. */
  const route = (repositoryName: string) => {
    const authfile = join(work, `auth-${repositoryName}.json`);
    writeFileSync(authfile, JSON.stringify({ auths: {} }), { mode: 0o600 });
    return { from: `${local[REGION]}/${repositoryName}`, to: `${local[DR_REGION]}/${repositoryName}`, authfile, tlsVerify: false };
  };

  test("ECR's login is per region: each registry's host and token come from its own region", async () => {
    for (const region of [REGION, DR_REGION]) {
      expect(await registryLogin(ecr[region])).toEqual({
        host: `${ACCOUNT}.dkr.ecr.${region}.amazonaws.com`,
        auth: Buffer.from(`AWS:${ACCOUNT}-auth-token`).toString('base64'),
      });
    }
  });

  test('a single image and an image index arrive under their release tags, same digests, every platform with the index', async () => {
    const pushed = skopeo('copy', '--quiet', '--dest-tls-verify=false', `dir:${imageDir(join(work, 'single'), 'single')}`, `docker://${local[REGION]}/webapp:v1.0.0`);
    expect(pushed.stderr).toBe('');
    const single = digestOf(`${local[REGION]}/webapp:v1.0.0`)!;
    const index = await pushIndex(local[REGION], 'webapp', 'v2.0.0', 'index');
    for (const digest of [single, index.index]) {
      await copyRelease(runSkopeo, route('webapp'), digest);
      expect(digestOf(`${local[DR_REGION]}/webapp:${releaseTag(digest)}`), digest).toBe(digest);
    }
    for (const image of index.images) expect(digestOf(`${local[DR_REGION]}/webapp@${image}`), image).toBe(image);
    // Only the release tags: the stage's own tags stay where they were.
    expect(digestOf(`${local[DR_REGION]}/webapp:v1.0.0`)).toBeUndefined();
  });

  test('a digest the stage registry does not hold fails the copy, saying skopeo failed', async () => {
    await expect(copyRelease(runSkopeo, route('webapp'), `sha256:${'0'.repeat(64)}`)).rejects.toThrow(/^skopeo copy failed: /);
  });

  test('a copy whose release tag in the DR registry names another digest fails: the digest is checked after the copy', async () => {
    const index = await pushIndex(local[REGION], 'checked', 'v6.0.0', 'checked');
    const other = await pushIndex(local[DR_REGION], 'checked', 'other', 'other');
    // skopeo as it is, except that reading the copy back reads another image (as a tag moved under it would).
    const moved: typeof runSkopeo = (args) => runSkopeo(args[0] === 'inspect' ? args.map((a) => a.replace(/:release-[0-9a-f]{64}$/, ':other')) : args);
    await expect(copyRelease(moved, route('checked'), index.index)).rejects.toThrow(`the DR registry holds ${other.index} under ${releaseTag(index.index)}, not ${index.index}`);
    await copyRelease(runSkopeo, route('checked'), index.index);
  });

  test('a failed copy does not stop the releases after it; each outcome is reported', async () => {
    const index = await pushIndex(local[REGION], 'after', 'v5.0.0', 'after');
    const absent = `sha256:${'1'.repeat(64)}`;
    const tagged: string[] = [];
    const plan = {
      stage: 'staging' as const,
      repositoryName: 'after',
      from: { region: REGION, where: 'here' },
      to: { region: DR_REGION, where: 'there' },
      releases: [
        { digest: absent, names: [], action: 'copy' as const },
        { digest: index.index, names: [], action: 'copy' as const },
        { digest: `sha256:${'2'.repeat(64)}`, names: [], action: 'none' as const },
        { digest: `sha256:${'3'.repeat(64)}`, names: [], action: 'tag' as const },
      ],
    };
    const act = {
      copy: (digest: string) => copyRelease(runSkopeo, route('after'), digest),
      tag: async (digest: string) => {
        tagged.push(digest);
        return 'tagged' as const;
      },
    };
    const run = await printed(() => applyDrImages(plan, act));
    expect(run.result).toEqual({ done: 2, failed: 1 });
    expect(run.stderr).toMatch(new RegExp(`^dr-images: the copy of ${absent} failed \\(Error: skopeo copy failed: .*\\); going on with the others\\.\\n$`));
    expect(run.stdout).toBe(`${index.index}: copied, tagged ${releaseTag(index.index)}\n${`sha256:${'3'.repeat(64)}`}: tagged ${releaseTag(`sha256:${'3'.repeat(64)}`)}\n`);
    expect(digestOf(`${local[DR_REGION]}/after:${releaseTag(index.index)}`)).toBe(index.index);
    expect(tagged).toEqual([`sha256:${'3'.repeat(64)}`]);
  });
});

describe("the stage registry's images, page by page", () => {
  // moto answers DescribeImages in one page whatever maxResults says: a stub gives two pages.
  test("every page is read, with ECR's largest page size", async () => {
    const asked: (string | undefined)[] = [];
    const paged = {
      send: async (command: DescribeImagesCommand) => {
        asked.push(command.input.nextToken);
        expect(command.input.maxResults).toBe(1000);
        return command.input.nextToken
          ? { imageDetails: [{ imageDigest: 'sha256:b', imageTags: ['v2'] }] }
          : { imageDetails: [{ imageDigest: 'sha256:a', imageTags: ['v1'] }, { imageDigest: 'sha256:c' }], nextToken: 'page-2' };
      },
    };
    const images = await registryImages(paged as never, 'webapp');
    expect(asked).toEqual([undefined, 'page-2']);
    expect([...images!.entries()].map(([digest, { tags }]) => [digest, tags])).toEqual([
      ['sha256:a', ['v1']],
      ['sha256:c', []],
      ['sha256:b', ['v2']],
    ]);
  });
});

describe('--yes, end to end: the plan from moto, the copies between the local registries', () => {
  const REPO = 'dr-images-yes';

  test('copies and tags what the DR registry needs; a failed copy fails the command (exit 1) but not the others', async () => {
    for (const region of [REGION, DR_REGION]) await ecr[region].send(new CreateRepositoryCommand({ repositoryName: REPO, imageTagMutability: 'IMMUTABLE' }));
    // Two releases in the stage's registry (moto holds their manifests under their real digests,
    // as ECR would), and a third whose layers are gone from it: its copy fails.
    skopeo('copy', '--quiet', '--dest-tls-verify=false', `dir:${imageDir(join(work, 'yes-single'), 'yes single')}`, `docker://${local[REGION]}/${REPO}:v3.0.0`);
    const raw = skopeo('inspect', '--raw', '--tls-verify=false', `docker://${local[REGION]}/${REPO}:v3.0.0`).stdout;
    const single = await put(REGION, REPO, raw, 'v3.0.0', true, `sha256:${sha(raw)}`);
    const index = await pushIndex(local[REGION], REPO, 'v4.0.0', 'yes index');
    await put(REGION, REPO, index.manifest, 'v4.0.0', true, index.index);
    const gone = await put(REGION, REPO, imageManifest('dr gone'), 'v2.9.0', true);
    // A release already in the DR registry by replication, without the release tag: tagged through ECR.
    const replicated = await put(REGION, REPO, imageManifest('dr yes replicated'), 'sha-99cc003', true);
    await put(DR_REGION, REPO, imageManifest('dr yes replicated'), 'sha-99cc003', false);

    const login = async (region: string) => ({ ...(await registryLogin(ecr[region])), host: local[region] });
    const run = await printed(() => main(argv(REPO, '--yes'), {}, { clientsFor, login, tlsVerify: false }));
    expect(run.result).toBe(1);
    expect(run.stderr).toMatch(new RegExp(`^dr-images: the copy of ${gone} failed \\(Error: skopeo copy failed: .*\\); going on with the others\\.\\n$`));
    const out = run.stdout.split('\n');
    for (const digest of [single, index.index]) {
      expect(out).toContain(`${digest}: copied, tagged ${releaseTag(digest)}`);
      expect(digestOf(`${local[DR_REGION]}/${REPO}:${releaseTag(digest)}`), digest).toBe(digest);
    }
    for (const image of index.images) expect(digestOf(`${local[DR_REGION]}/${REPO}@${image}`), image).toBe(image);
    expect(out).toContain(`${replicated}: tagged ${releaseTag(replicated)}`);
    expect(await tagsIn(DR_REGION, REPO, replicated)).toEqual([releaseTag(replicated), 'sha-99cc003']);
    expect(out).toContain('1 of 4 failed (3 done): run again, what is done stays done.');
  });
});

test('the route verifies TLS unless a test says otherwise, and keeps the logins in a file only the caller reads', async () => {
  const plan = { repositoryName: 'webapp', from: { region: 'eu-west-1' }, to: { region: 'eu-central-1' }, releases: [] } as unknown as Parameters<typeof openRoute>[0];
  // skopeo's presence is all openRoute asks of it; the copies themselves run the real one above.
  const deps = {
    clientsFor: () => ({}) as DrImagesClients,
    login: async (region: string) => ({ host: `123456789012.dkr.ecr.${region}.amazonaws.com`, auth: 'QVdTOnRva2Vu' }),
    skopeo: async () => ({ status: 0, stdout: Buffer.from('skopeo version 1.13.3'), stderr: '' }),
  };
  const route = await openRoute(plan, deps as never);
  try {
    expect(route.tlsVerify).toBe(true);
    expect(route.to).toBe('123456789012.dkr.ecr.eu-central-1.amazonaws.com/webapp');
    expect(statSync(route.authfile).mode & 0o777).toBe(0o600);
  } finally {
    route.close();
  }
});
