import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { CreateRepositoryCommand, DescribeImagesCommand, ECRClient, PutImageCommand } from '@aws-sdk/client-ecr';
import { ECSClient } from '@aws-sdk/client-ecs';
import { STSClient } from '@aws-sdk/client-sts';
import { beforeAll, describe, expect, test, vi } from 'vitest';
import { releaseTag } from '../../lib/registry/release-tag';
import { main as deploy, parseArgs } from '../../scripts/deploy';
import { type AssemblyStack, readAssembly, stageTarget } from '../../scripts/lib/assembly';
import { type DeployClients, planDeploy } from '../../scripts/lib/deploy';
import { deployArgs, formatPlan } from '../../scripts/lib/release';
import { main as releaseTagMain } from '../../scripts/release-tag';
import { printed } from '../support/console';
import { imageManifest } from '../support/ecr';
import { type Moto, startMoto } from '../support/moto';
import { synthAssembly } from '../support/synth';

/**
 * `npm run deploy -- --stage S --app DIR`, the path the release workflow takes for every stage, on
 * an assembly synthesized the way the workflow does (every stack of the stage, each in its own
 * region: the DR stack in the DR region, the edge stack in us-east-1), with moto's account as the
 * stages' account so the credential check passes.
 */
const ACCOUNT = '123456789012'; // moto's
const REPOSITORY = { 'dev.image.repositoryName': 'assembly-webapp', 'staging.image.repositoryName': 'assembly-webapp', 'prod.image.repositoryName': 'assembly-webapp' };
let digest: string;
let moto: Moto;
let assembly: string;
let clients: DeployClients;
let drEcr: ECRClient;
const clientsFor = () => clients;

beforeAll(async () => {
  moto = await startMoto({ as: 'webapp-break-glass' });
  const config = moto.clientConfig('eu-west-1');
  clients = { sts: new STSClient(config), cfn: new CloudFormationClient(config), ecs: new ECSClient(config), ecr: new ECRClient(config) };
  assembly = synthAssembly(mkdtempSync(join(tmpdir(), 'release-assembly-')), {
    stages: 'dev,staging',
    // Two stages in one account share its baseline: dev takes staging's (the defaults) here. A
    // repository of this file's own, in moto's account (the stages' config names v0.1.0).
    context: { 'dev.account': ACCOUNT, 'staging.account': ACCOUNT, 'dev.baseline': '{}', ...REPOSITORY },
  });
  await clients.ecr.send(new CreateRepositoryCommand({ repositoryName: 'assembly-webapp', imageTagMutability: 'IMMUTABLE' }));
  const pushed = await clients.ecr.send(new PutImageCommand({ repositoryName: 'assembly-webapp', imageTag: 'v0.1.0', imageManifest: imageManifest('assembly v0.1.0') }));
  digest = pushed.image!.imageId!.imageDigest!;
  // Staging keeps a pilot light: replication brought the build into its DR region's registry too,
  // with the tag it was pushed with.
  drEcr = new ECRClient(moto.clientConfig('eu-central-1'));
  await drEcr.send(new CreateRepositoryCommand({ repositoryName: 'assembly-webapp', imageTagMutability: 'IMMUTABLE' }));
  await drEcr.send(new PutImageCommand({ repositoryName: 'assembly-webapp', imageTag: 'v0.1.0', imageManifest: imageManifest('assembly v0.1.0') }));
});

describe('the workflow tags the release before it deploys it', () => {
  /** release-tag's clients: the stage's region, and its DR region's registry. */
  const tagClients = (region: string) => (region === 'eu-central-1' ? { ...clients, ecr: drEcr } : clients);

  test('deploy --app refuses an image that is not a release yet, and names the command that makes it one', async () => {
    await expect(planDeploy(parseArgs(['--stage', 'staging', '--app', assembly]), {}, clientsFor)).rejects.toThrow(
      `the image assembly-webapp v0.1.0 (${digest}) is not tagged as a release in the staging registry (${ACCOUNT}, eu-west-1): its build tags expire after 30 days, even while staging runs it. Tag it first: npm run release-tag -- --stage staging --image ${digest} --yes`,
    );
  });

  test('release-tag: a dry run says what it would tag; --yes tags it; again, it has nothing to do', async () => {
    const logged: string[] = [];
    vi.spyOn(console, 'log').mockImplementation((line: string) => {
      logged.push(line);
    });
    const argv = ['--stage', 'staging', '--account', ACCOUNT, ...Object.entries(REPOSITORY).flatMap(([k, v]) => ['-c', `${k}=${v}`])];
    expect(await releaseTagMain(argv, {}, tagClients)).toBe(0);
    expect(logged).toEqual([
      `release tags in the staging registry (${ACCOUNT}/eu-west-1 assembly-webapp)`,
      `  v0.1.0 (the staging config's image, ${digest}): tag ${releaseTag(digest)}`,
      // Its pilot light's registry, where the build arrived by replication without the release tag.
      `release tags in the staging DR registry (${ACCOUNT}/eu-central-1 assembly-webapp)`,
      `  v0.1.0 (${digest}): tag ${releaseTag(digest)}`,
      'dry run: nothing tagged. Run again with --yes to tag 2 image(s).',
    ]);
    expect(await releaseTagMain([...argv, '--yes'], {}, tagClients)).toBe(0);
    expect(logged.slice(-2)).toEqual([`v0.1.0: tagged ${releaseTag(digest)}`, `v0.1.0: tagged ${releaseTag(digest)} in the DR registry`]);
    expect(await releaseTagMain([...argv, '--yes'], {}, tagClients)).toBe(0);
    expect(logged.at(-1)).toBe('nothing to do: every image is a release.');
    vi.restoreAllMocks();
    for (const ecr of [clients.ecr, drEcr]) {
      const [image] = (await ecr.send(new DescribeImagesCommand({ repositoryName: 'assembly-webapp', imageIds: [{ imageDigest: digest }] }))).imageDetails!;
      expect(image.imageTags?.sort()).toEqual([releaseTag(digest), 'v0.1.0']);
    }
  });

  test('release-tag: a release the DR registry lacks is tagged where it is, and the command fails naming the copy that brings it', async () => {
    // A build pushed before the replication rule existed: it never reached the DR region.
    const early = await clients.ecr.send(new PutImageCommand({ repositoryName: 'assembly-webapp', imageTag: 'v0.0.9', imageManifest: imageManifest('assembly v0.0.9') }));
    const earlyDigest = early.image!.imageId!.imageDigest!;
    const argv = ['--stage', 'staging', '--account', ACCOUNT, '--image', 'v0.0.9', ...Object.entries(REPOSITORY).flatMap(([k, v]) => ['-c', `${k}=${v}`])];
    const dry = await printed(() => releaseTagMain(argv, {}, tagClients));
    expect(dry.result).toBe(0);
    expect(dry.stdout.split('\n').slice(2, 4)).toEqual([
      `release tags in the staging DR registry (${ACCOUNT}/eu-central-1 assembly-webapp)`,
      `  v0.0.9 (${earlyDigest}): not there: a failover could not run it. Copy it: npm run dr-images -- --stage staging --yes`,
    ]);
    const done = await printed(() => releaseTagMain([...argv, '--yes'], {}, tagClients));
    expect(done.result).toBe(1);
    expect(done.stdout).toContain(`v0.0.9: tagged ${releaseTag(earlyDigest)}\n`);
    expect(done.stderr).toBe(
      `release-tag: v0.0.9 (${earlyDigest}) is not in the staging DR registry, so it could not be tagged there. Copy it: npm run dr-images -- --stage staging --yes\n`,
    );
    // Run again: tagged where it is, still missing there.
    expect((await printed(() => releaseTagMain([...argv, '--yes'], {}, tagClients))).result).toBe(1);
  });
});

describe('a stage read from a synthesized assembly', () => {
  test('staging spans three regions of one account: home eu-west-1, its DR stack and pilot light in eu-central-1, its edge in us-east-1', () => {
    const target = stageTarget(readAssembly(assembly), 'staging', assembly);
    expect(target.account).toBe(ACCOUNT);
    expect(target.region).toBe('eu-west-1');
    expect(Object.fromEntries(target.stacks.map((s) => [s.stackName, s.region]))).toEqual({
      'staging-Network': 'eu-west-1',
      'staging-Dr': 'eu-central-1',
      'staging-PilotLight': 'eu-central-1',
      'staging-Data': 'eu-west-1',
      'staging-App': 'eu-west-1',
      'staging-Edge': 'us-east-1',
      'staging-Ops': 'eu-west-1',
    });
  });

  const stack = (displayName: string, environment: string): AssemblyStack => ({
    displayName,
    stage: displayName.split('/')[0],
    stackName: displayName.replace('/', '-'),
    environment,
    template: {},
  });

  test.each([
    [[stack('dev/App', 'aws://111111111111/eu-west-1')], 'prod', /holds no stack of prod: synthesize it with prod in it/],
    [[stack('dev/Network', 'aws://111111111111/eu-west-1')], 'dev', /holds no dev-App stack \(it has dev-Network\)/],
    [
      [stack('dev/App', 'aws://111111111111/eu-west-1'), stack('dev/Edge', 'aws://222222222222/us-east-1')],
      'dev',
      /puts the stacks of dev in several accounts \(dev-App: 111111111111, dev-Edge: 222222222222\): a stage deploys to one account/,
    ],
    [[stack('dev/App', 'aws://unknown-account/eu-west-1')], 'dev', /"unknown-account", which is no account id/],
  ])('refuses %#: %s', (stacks, stage, message) => {
    expect(() => stageTarget(stacks, stage, 'cdk.out')).toThrow(message);
  });
});

describe('deploy --app, as the release workflow runs it', () => {
  test.each(['dev', 'staging'] as const)('%s: deploys the whole stage from the assembly, in every region it spans', async (stage) => {
    const { plan } = await planDeploy(parseArgs(['--stage', stage, '--app', assembly, '--yes']), { CI: 'true' }, clientsFor);
    expect(plan).toMatchObject({ stage, account: ACCOUNT, region: 'eu-west-1', app: assembly });
    expect(deployArgs(plan)).toEqual(['deploy', '--app', assembly, `${stage}/*`, '--require-approval', 'never']);
    expect(plan.stacks.map((s) => s.region)).toContain('us-east-1');
  });

  test('the plan names every region and stack it deploys; --only narrows both', async () => {
    const { plan, config } = await planDeploy(parseArgs(['--stage', 'staging', '--app', assembly]), {}, clientsFor);
    expect(formatPlan(plan, config)).toContain(
      '  regions: eu-west-1 (staging-Network, staging-Data, staging-App, staging-Ops), eu-central-1 (staging-Dr, staging-PilotLight), us-east-1 (staging-Edge)',
    );
    const edge = await planDeploy(parseArgs(['--stage', 'staging', '--app', assembly, '--only', 'Edge']), {}, clientsFor);
    expect(formatPlan(edge.plan, edge.config)).toContain('  regions: us-east-1 (staging-Edge)');
    expect(deployArgs(edge.plan)).toEqual(['deploy', '--app', assembly, 'staging/Edge', '--exclusively']);
  });

  test('--only a stack the stage does not have is refused before cdk runs', async () => {
    await expect(planDeploy(parseArgs(['--stage', 'dev', '--app', assembly, '--only', 'Dr']), {}, clientsFor)).rejects.toThrow(
      'dev has no Dr stack (it has Network, Data, App, Edge, Ops): leave --only Dr out.',
    );
  });

  test('--yes runs cdk deploy on the assembly', async () => {
    vi.spyOn(console, 'log').mockImplementation(() => {});
    const runs: string[][] = [];
    const record = (args: readonly string[]) => {
      runs.push([...args]);
      return 0;
    };
    const code = await deploy(['--stage', 'dev', '--app', assembly, '--yes'], { CI: 'true' }, record, clientsFor);
    vi.restoreAllMocks();
    expect(code).toBe(0);
    expect(runs).toEqual([['deploy', '--app', assembly, 'dev/*', '--require-approval', 'never']]);
  });

  test('as the workflow runs it (dry run): the plan on stdout and exit 0', async () => {
    // The spawned command's wiring (exit code, streams) is checked in test/scripts/deploy.test.ts.
    const runs: string[][] = [];
    const record = (args: readonly string[]) => {
      runs.push([...args]);
      return 0;
    };
    const run = await printed(() => deploy(['--stage', 'staging', '--app', assembly], { CI: '' }, record, clientsFor));
    expect(run.stderr).toBe('');
    expect(run.stdout).toContain(`deploy staging (account ${ACCOUNT}, eu-west-1)`);
    expect(run.stdout).toContain(`command: npx cdk deploy --app ${assembly} 'staging/*'`);
    expect(run.result).toBe(0);
    expect(runs).toEqual([]);
  });
});
