/**
 * What `npm run dr-images` works out and does: the releases of a stage's registry (images tagged
 * `release-<digest>`) that its DR region's registry lacks, or holds without the release tag, where
 * the stage keeps a pilot light (`dr.pilotLight`). Replication and the deploy workflow's copy bring
 * only what is pushed after they exist; this brings the releases from before. A missing image is
 * copied with skopeo as the promotion copies it (.github/scripts/promote-release.sh: by digest,
 * `--preserve-digests`, `--multi-arch all`, a login per region) straight under its release tag;
 * one there without the tag gets it through ECR (release-tags.ts, `tagRelease`).
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DescribeImagesCommand, ECRClient, GetAuthorizationTokenCommand } from '@aws-sdk/client-ecr';
import { STSClient } from '@aws-sdk/client-sts';
import { STAGE_NAMES, STAGES, type StageName } from '../../lib/config';
import { isRelease, releaseRegions, releaseTag } from '../../lib/registry/release-tag';
import { UsageError } from './assembly';
import { accountProblem } from './credentials';
import { operatorConfig } from './release';
import { tagRelease } from './release-tags';

type Send<T extends { send: unknown }> = Pick<T, 'send'>;

export interface DrImagesArgs {
  readonly stage: StageName;
  readonly account?: string;
  readonly context: Record<string, string>;
  readonly yes: boolean;
}

export interface DrImagesClients {
  readonly sts: Send<STSClient>;
  readonly ecr: Send<ECRClient>;
}

/** What becomes of one release: nothing (the DR registry holds it as a release), a tag there, or a copy. */
export type DrAction = 'none' | 'tag' | 'copy';

export interface DrRelease {
  readonly digest: string;
  /** Its tags in the stage's registry besides the release tag (`v1.4.2`, `sha-3f9a1c2`), to know it by. */
  readonly names: readonly string[];
  readonly pushedAt?: Date;
  readonly action: DrAction;
}

export interface DrImagesPlan {
  readonly stage: StageName;
  readonly repositoryName: string;
  readonly from: { readonly region: string; readonly where: string };
  readonly to: { readonly region: string; readonly where: string };
  /** Newest first: the releases a failover most likely runs are brought first. */
  readonly releases: readonly DrRelease[];
}

/** Every image of the repository by digest, with its tags; undefined when the repository does not exist. */
export async function registryImages(ecr: Send<ECRClient>, repositoryName: string): Promise<Map<string, { tags: string[]; pushedAt?: Date }> | undefined> {
  const images = new Map<string, { tags: string[]; pushedAt?: Date }>();
  let nextToken: string | undefined;
  try {
    do {
      const page = await ecr.send(new DescribeImagesCommand({ repositoryName, maxResults: 1000, nextToken }));
      for (const i of page.imageDetails ?? []) if (i.imageDigest) images.set(i.imageDigest, { tags: i.imageTags ?? [], pushedAt: i.imagePushedAt });
      nextToken = page.nextToken;
    } while (nextToken);
  } catch (error) {
    if ((error as Error).name === 'RepositoryNotFoundException') return undefined;
    throw error;
  }
  return images;
}

/** The registry stack a repository comes from, as `cdk deploy` names it (lib/app.ts). */
const registryStack = (account: string, region: string, repositoryName: string) => `Registry-${account}-${region}-${repositoryName}`.replace(/[^A-Za-z0-9-]/g, '-');

/**
 * Lists the stage's releases and what the DR registry needs of each, refusing a stage without a
 * pilot light, credentials of another account, and a registry that does not exist yet.
 */
export async function planDrImages(args: DrImagesArgs, env: NodeJS.ProcessEnv, clientsFor: (region: string) => DrImagesClients): Promise<DrImagesPlan> {
  const config = operatorConfig(args.stage, args, env);
  const [region, drRegion] = releaseRegions(config);
  if (!drRegion) {
    const keeping = STAGE_NAMES.filter((s) => STAGES[s].dr?.pilotLight);
    throw new UsageError(
      `${args.stage} keeps no pilot light (dr.pilotLight is false), so its DR region ${config.drRegion} holds no registry of its releases. Fix: set dr.pilotLight: true for ${args.stage} (docs/configuration.md), or name a stage that keeps one (${keeping.join(', ') || 'none does'}).`,
    );
  }
  const { account } = config;
  const clients = clientsFor(region);
  const problem = await accountProblem(clients.sts, account, args.stage, { command: 'dr-images', acting: args.yes, config });
  if (problem) throw new UsageError(problem);
  const { repositoryName } = config.image;
  const where = (r: string) => `${account}/${r} ${repositoryName}`;
  const missing = (r: string) =>
    new UsageError(`the repository ${where(r)} does not exist: nothing was copied. Deploy the registry stack first: npx cdk deploy ${registryStack(account, r, repositoryName)}`);

  const [held, drHeld] = await Promise.all([registryImages(clients.ecr, repositoryName), registryImages(clientsFor(drRegion).ecr, repositoryName)]);
  if (!held) throw missing(region);
  if (!drHeld) throw missing(drRegion);
  const releases = [...held.entries()]
    .filter(([digest, { tags }]) => isRelease(digest, tags))
    .map(([digest, { tags, pushedAt }]): DrRelease => {
      const there = drHeld.get(digest);
      const action: DrAction = !there ? 'copy' : isRelease(digest, there.tags) ? 'none' : 'tag';
      return { digest, names: tags.filter((t) => t !== releaseTag(digest)).sort(), pushedAt, action };
    })
    .sort((a, b) => (b.pushedAt?.getTime() ?? 0) - (a.pushedAt?.getTime() ?? 0) || a.digest.localeCompare(b.digest));
  return { stage: args.stage, repositoryName, from: { region, where: where(region) }, to: { region: drRegion, where: where(drRegion) }, releases };
}

const ACTION: Record<DrAction, (digest: string) => string> = {
  none: () => 'there, a release',
  tag: (digest) => `there without the release tag: tag ${releaseTag(digest)}`,
  copy: (digest) => `not there: copy it, tagged ${releaseTag(digest)}`,
};

export function formatDrImagesPlan(plan: DrImagesPlan): string[] {
  const count = (action: DrAction) => plan.releases.filter((r) => r.action === action).length;
  return [
    `the releases of ${plan.stage} (${plan.from.where}) in its DR region's registry (${plan.to.where})`,
    ...plan.releases.map((r) => `  ${r.digest}${r.names.length ? ` (${r.names.join(', ')})` : ''}: ${ACTION[r.action](r.digest)}`),
    `${plan.releases.length} release(s): ${count('none')} there, ${count('tag')} to tag, ${count('copy')} to copy.`,
  ];
}

/** A registry's host and its login for skopeo (`auth`: base64 of `AWS:<password>`, as ECR issues it). */
export interface RegistryLogin {
  readonly host: string;
  readonly auth: string;
}

/** ECR's login to the registry of the client's region (valid there alone, for 12 hours). */
export async function registryLogin(ecr: Send<ECRClient>): Promise<RegistryLogin> {
  const [data] = (await ecr.send(new GetAuthorizationTokenCommand({}))).authorizationData ?? [];
  if (!data?.authorizationToken || !data.proxyEndpoint) throw new Error('ECR returned no authorization token');
  return { host: new URL(data.proxyEndpoint).host, auth: data.authorizationToken };
}

/** Runs skopeo with the arguments; its exit status and output (the raw bytes, for a manifest's digest). */
export type Skopeo = (args: readonly string[]) => Promise<{ readonly status: number; readonly stdout: Buffer; readonly stderr: string }>;

export const runSkopeo: Skopeo = (args) =>
  new Promise((resolve) => {
    const child = spawn('skopeo', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.once('error', (error) => resolve({ status: 127, stdout: Buffer.alloc(0), stderr: error.message }));
    child.once('close', (code) => resolve({ status: code ?? 1, stdout: Buffer.concat(out), stderr }));
  });

/** Where a copy goes, and the logins it uses. */
export interface CopyRoute {
  /** `<host>/<repository>` of the stage's registry and of its DR region's. */
  readonly from: string;
  readonly to: string;
  /** A containers-auth.json with both registries' logins (read by skopeo, never on its command line). */
  readonly authfile: string;
  /** false for the tests' local registries only. */
  readonly tlsVerify: boolean;
}

/**
 * Copies one release by digest into the DR registry under its release tag, and checks that the tag
 * there names the same digest. `--multi-arch all` copies an image index whole (its digest is the
 * release's); `--preserve-digests` refuses any conversion that would change it.
 */
export async function copyRelease(skopeo: Skopeo, route: CopyRoute, digest: string): Promise<void> {
  const tag = releaseTag(digest);
  const tls = String(route.tlsVerify);
  const copied = await skopeo([
    'copy',
    '--quiet',
    '--multi-arch',
    'all',
    '--preserve-digests',
    '--authfile',
    route.authfile,
    `--src-tls-verify=${tls}`,
    `--dest-tls-verify=${tls}`,
    `docker://${route.from}@${digest}`,
    `docker://${route.to}:${tag}`,
  ]);
  if (copied.status !== 0) throw new Error(`skopeo copy failed: ${copied.stderr.trim() || `exit ${copied.status}`}`);
  const raw = await skopeo(['inspect', '--raw', '--authfile', route.authfile, `--tls-verify=${tls}`, `docker://${route.to}:${tag}`]);
  if (raw.status !== 0) throw new Error(`the copy is not readable in the DR registry: ${raw.stderr.trim()}`);
  const held = `sha256:${createHash('sha256').update(raw.stdout).digest('hex')}`;
  if (held !== digest) throw new Error(`the DR registry holds ${held} under ${tag}, not ${digest}`);
}

/** What the command needs to act: its clients, the registries' logins and skopeo. */
export interface DrImagesDeps {
  readonly clientsFor: (region: string) => DrImagesClients;
  /** The login to the registry of a region. @default ECR's (registryLogin) */
  readonly login?: (region: string) => Promise<RegistryLogin>;
  readonly skopeo?: Skopeo;
  /** @default true */
  readonly tlsVerify?: boolean;
}

/**
 * The route of the copies: skopeo must run, and both regions' registries log in. The logins go
 * into a file only the caller can read, which `close` removes. A refusal (UsageError) copies nothing.
 */
export async function openRoute(plan: DrImagesPlan, deps: DrImagesDeps): Promise<CopyRoute & { close: () => void }> {
  const skopeo = deps.skopeo ?? runSkopeo;
  const version = await skopeo(['--version']);
  if (version.status !== 0) {
    throw new UsageError(
      `skopeo does not run (${version.stderr.trim() || `exit ${version.status}`}): install it (apt-get install skopeo, or brew install skopeo) and run again. Nothing was copied.`,
    );
  }
  const login = deps.login ?? ((region: string) => registryLogin(deps.clientsFor(region).ecr));
  let logins: RegistryLogin[];
  try {
    logins = await Promise.all([login(plan.from.region), login(plan.to.region)]);
  } catch (error) {
    throw new UsageError(
      `could not log in to the registries (${(error as Error).name}: ${(error as Error).message}): may the caller run ecr:GetAuthorizationToken? Nothing was copied.`,
    );
  }
  const dir = mkdtempSync(join(tmpdir(), 'dr-images-'));
  const authfile = join(dir, 'auth.json');
  writeFileSync(authfile, JSON.stringify({ auths: Object.fromEntries(logins.map((l) => [l.host, { auth: l.auth }])) }), { mode: 0o600 });
  return {
    from: `${logins[0].host}/${plan.repositoryName}`,
    to: `${logins[1].host}/${plan.repositoryName}`,
    authfile,
    tlsVerify: deps.tlsVerify ?? true,
    close: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/**
 * Copies or tags every release the DR registry needs, one after the other. A failure is reported
 * and the others go on: each release stands alone, and what is done stays done on a rerun.
 */
export async function applyDrImages(
  plan: DrImagesPlan,
  act: { readonly copy: (digest: string) => Promise<void>; readonly tag: (digest: string) => Promise<'tagged' | 'already'> },
): Promise<{ readonly done: number; readonly failed: number }> {
  let done = 0;
  let failed = 0;
  for (const { digest, action } of plan.releases) {
    if (action === 'none') continue;
    try {
      if (action === 'copy') {
        await act.copy(digest);
        console.log(`${digest}: copied, tagged ${releaseTag(digest)}`);
      } else {
        console.log(`${digest}: ${(await act.tag(digest)) === 'tagged' ? 'tagged' : 'was tagged meanwhile'} ${releaseTag(digest)}`);
      }
      done++;
    } catch (error) {
      failed++;
      console.error(`dr-images: the ${action} of ${digest} failed (${(error as Error).name}: ${(error as Error).message}); going on with the others.`);
    }
  }
  return { done, failed };
}

/** Tags a release that is in the DR registry without its release tag (through ECR: no layer moves). */
export const tagInDr = (plan: DrImagesPlan, deps: DrImagesDeps) => (digest: string) => tagRelease(deps.clientsFor(plan.to.region).ecr, plan.repositoryName, digest);

export function drImagesClients(region: string): DrImagesClients {
  const options = { region, maxAttempts: 5, retryMode: 'adaptive' as const };
  return { sts: new STSClient(options), ecr: new ECRClient(options) };
}
