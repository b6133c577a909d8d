import { CloudFormationClient, CreateStackCommand } from '@aws-sdk/client-cloudformation';
import { CreateRepositoryCommand, DescribeImagesCommand, ECRClient, PutImageCommand } from '@aws-sdk/client-ecr';
import {
  CreateClusterCommand,
  CreateServiceCommand,
  DeregisterTaskDefinitionCommand,
  DescribeServicesCommand,
  DescribeTaskDefinitionCommand,
  ECSClient,
  ListServiceDeploymentsCommand,
  RegisterTaskDefinitionCommand,
  StopServiceDeploymentCommand,
  UpdateServiceCommand,
} from '@aws-sdk/client-ecs';
import { CreateDBInstanceCommand, CreateDBSnapshotCommand } from '@aws-sdk/client-rds';
import { STSClient } from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeAll, describe, expect, test, vi } from 'vitest';
import { TAGS, TOOL_TAG } from '../../lambda/pre-deploy-snapshot/snapshot';
import { PRIMARY_READ_PREFIX } from '../../lib/shared/stage-stack';
import { main as deploy, parseArgs } from '../../scripts/deploy';
import { UsageError } from '../../scripts/lib/assembly';
import { type DeployClients, planDeploy } from '../../scripts/lib/deploy';
import { regionClientSet } from '../../scripts/lib/dr-survey';
import { checkImageRef, deployArgs, imageRef, pitrCovers, previousRelease, runningRelease, shellLine, stageAccount } from '../../scripts/lib/release';
import { tagRelease } from '../../scripts/lib/release-tags';
import { earlierRevision, planRollback, type RollbackClients } from '../../scripts/lib/rollback';
import { parseArgs as parseRollback, main as rollback } from '../../scripts/rollback';
import { printed } from '../support/console';
import { imageManifest } from '../support/ecr';
import { type Moto, startMoto } from '../support/moto';

/**
 * The deploy and rollback commands against moto: a staging stage moved to a region no other test
 * uses (moto keeps regions apart), with an App stack's outputs, a web service on its second task
 * definition, the registry's images and the pre-deploy snapshots that recorded the releases.
 */
const REGION = 'ap-northeast-2';
const ACCOUNT = '123456789012'; // moto's
const REGISTRY = `${ACCOUNT}.dkr.ecr.${REGION}.amazonaws.com/webapp`;
const AT = ['--account', ACCOUNT, '-c', `staging.region=${REGION}`];
let moto: Moto;
let clients: RollbackClients;
let currentDigest: string;
let dbInstance: string;

const clientsFor = (): RollbackClients => clients;
/** A dry run never runs cdk. */
const refuseCdk = (args: readonly string[]): number => {
  throw new Error(`a dry run ran cdk ${args.join(' ')}`);
};
const manifest = (n: number) => imageManifest(`deploy ${n}`);

/** A pre-deploy snapshot of the test database, tagged as the pre-deploy snapshot function tags it. */
const preDeploySnapshot = (id: string, stage: string, image: string, previous: string) =>
  clients.rds.send(
    new CreateDBSnapshotCommand({
      DBInstanceIdentifier: dbInstance,
      DBSnapshotIdentifier: id,
      Tags: [
        { Key: TOOL_TAG, Value: 'true' },
        { Key: TAGS.stage, Value: stage },
        { Key: TAGS.image, Value: image },
        { Key: TAGS.previousImage, Value: previous },
      ],
    }),
  );

beforeAll(async () => {
  moto = await startMoto({ as: 'webapp-break-glass' });
  const config = moto.clientConfig(REGION);
  clients = regionClientSet(config);

  await clients.ecr.send(new CreateRepositoryCommand({ repositoryName: 'webapp' }));
  await clients.ecr.send(new PutImageCommand({ repositoryName: 'webapp', imageManifest: manifest(1), imageTag: 'v1.4.1' }));
  const current = await clients.ecr.send(new PutImageCommand({ repositoryName: 'webapp', imageManifest: manifest(2), imageTag: 'v1.4.2' }));
  currentDigest = current.image!.imageId!.imageDigest!;
  // Both were released (tagged as releases in this registry); v1.5.0 was built, never released.
  const earlier = await clients.ecr.send(new DescribeImagesCommand({ repositoryName: 'webapp', imageIds: [{ imageTag: 'v1.4.1' }] }));
  await tagRelease(clients.ecr, 'webapp', earlier.imageDetails![0].imageDigest!);
  await tagRelease(clients.ecr, 'webapp', currentDigest);
  await clients.ecr.send(new PutImageCommand({ repositoryName: 'webapp', imageManifest: manifest(3), imageTag: 'v1.5.0' }));

  const cluster = 'staging-App-Cluster';
  await clients.ecs.send(new CreateClusterCommand({ clusterName: cluster }));
  const task = (image: string) =>
    clients.ecs.send(
      new RegisterTaskDefinitionCommand({
        family: 'stagingAppWebTask',
        networkMode: 'awsvpc',
        requiresCompatibilities: ['FARGATE'],
        cpu: '1024',
        memory: '2048',
        containerDefinitions: [{ name: 'app', image }],
      }),
    );
  await task(`${REGISTRY}:v1.4.1`);
  const second = await task(`${REGISTRY}@${currentDigest}`);
  await clients.ecs.send(
    new CreateServiceCommand({ cluster, serviceName: 'staging-App-WebService', taskDefinition: second.taskDefinition!.taskDefinitionArn, desiredCount: 2, launchType: 'FARGATE' }),
  );
  await clients.cfn.send(
    new CreateStackCommand({
      StackName: 'staging-App',
      TemplateBody: JSON.stringify({
        Resources: { Topic: { Type: 'AWS::SNS::Topic' } },
        Outputs: { ClusterName: { Value: cluster }, WebServiceName: { Value: 'staging-App-WebService' } },
      }),
    }),
  );

  dbInstance = `webapp-staging-${Date.now()}`;
  await clients.rds.send(
    new CreateDBInstanceCommand({
      DBInstanceIdentifier: dbInstance,
      Engine: 'postgres',
      DBInstanceClass: 'db.t4g.large',
      MasterUsername: 'webapp',
      MasterUserPassword: 'not-a-real-password',
      AllocatedStorage: 50,
      BackupRetentionPeriod: 7,
    }),
  );
  await preDeploySnapshot('predeploy-staging-v1-4-1', 'staging', 'webapp:v1.4.1', `${REGISTRY}:v1.4.0`);
  await preDeploySnapshot('predeploy-staging-v1-4-2', 'staging', `webapp@${currentDigest}`, `${REGISTRY}:v1.4.1`);
  // Another stage's snapshot of the same image must not count.
  await preDeploySnapshot('predeploy-prod-v1-4-2', 'prod', `webapp@${currentDigest}`, `${REGISTRY}:v0.9.0`);
});

describe('what the commands find out', () => {
  test('the account: --account, then -c <stage>.account, then AWS_<STAGE>_ACCOUNT_ID, then the config', () => {
    const env = { AWS_PROD_ACCOUNT_ID: '444444444444' };
    expect(stageAccount('prod', { account: '555555555555', context: { 'prod.account': '666666666666' } }, env, '333333333333')).toBe('555555555555');
    expect(stageAccount('prod', { context: { 'prod.account': '666666666666' } }, env, '333333333333')).toBe('666666666666');
    expect(stageAccount('prod', { context: {} }, env, '333333333333')).toBe('444444444444');
    expect(stageAccount('prod', { context: {} }, {}, '333333333333')).toBe('333333333333');
    expect(() => stageAccount('prod', { account: '12', context: {} }, {}, '333333333333')).toThrow('the prod account "12" is not a 12-digit account id.');
    for (const bad of ['1234567890123', 'a123456789012', '123456789012a'])
      expect(() => stageAccount('prod', { account: bad, context: {} }, {}, '333333333333')).toThrow(/not a 12-digit account id/);
  });

  test('an image URI comes to the tag or digest -c imageTag takes', () => {
    expect(imageRef(`${REGISTRY}@sha256:${'c'.repeat(64)}`)).toBe(`sha256:${'c'.repeat(64)}`);
    expect(imageRef(`${REGISTRY}:v1.4.1`)).toBe('v1.4.1');
    expect(imageRef('webapp:v1.4.1')).toBe('v1.4.1');
    expect(() => imageRef(REGISTRY)).toThrow(/names no tag or digest/);
    // A registry with a port: the tag is after the last slash.
    expect(imageRef('localhost:5000/webapp:v1.4.1')).toBe('v1.4.1');
    expect(imageRef(`localhost:5000/webapp@sha256:${'d'.repeat(64)}`)).toBe(`sha256:${'d'.repeat(64)}`);
    expect(() => imageRef('localhost:5000/webapp')).toThrow(/names no tag or digest/);
    expect(() => checkImageRef(`xsha256:${'a'.repeat(64)}`)).toThrow(/--image takes a tag/);
    expect(() => checkImageRef(`sha256:${'a'.repeat(64)}x`)).toThrow(/--image takes a tag/);
    expect(() => checkImageRef('-v1')).toThrow(/--image takes a tag/);
    expect(checkImageRef('v1.4.2')).toBe('v1.4.2');
    // The names people copy from the docs, the console or ECS: a release id, an image URI.
    expect(checkImageRef('v1.4.2-3f9a1c2e')).toBe('v1.4.2-3f9a1c2e');
    expect(checkImageRef(`${REGISTRY}:v1.4.1`)).toBe('v1.4.1');
    expect(checkImageRef(`webapp@sha256:${'e'.repeat(64)}`)).toBe(`sha256:${'e'.repeat(64)}`);
    expect(() => checkImageRef('v1.4.2', '--to')).not.toThrow();
    expect(() => checkImageRef('webapp v1.4.2', '--to')).toThrow(/^--to takes a tag \(v1\.4\.2\), a release id from the release record/);
  });

  test('what the web tasks run now: the primary deployment of the web service in the App stack outputs', async () => {
    expect(await runningRelease(clients, 'staging')).toEqual({
      cluster: 'staging-App-Cluster',
      service: 'staging-App-WebService',
      taskDefinition: expect.stringMatching(/:task-definition\/stagingAppWebTask:2$/),
      image: `${REGISTRY}@${currentDigest}`,
    });
    expect(await runningRelease(clients, 'dev')).toBeUndefined();
  });

  test('what runs is the primary deployment of the active service, and its app container (states moto cannot make, given by a mock)', async () => {
    const ecs = new ECSClient(moto.clientConfig(REGION));
    const mock = mockClient(ecs);
    mock.on(DescribeServicesCommand).resolves({
      services: [
        { status: 'INACTIVE', taskDefinition: 'arn:aws:ecs:x:1:task-definition/web:1' },
        {
          status: 'ACTIVE',
          taskDefinition: 'arn:aws:ecs:x:1:task-definition/web:4',
          deployments: [
            { status: 'ACTIVE', taskDefinition: 'arn:aws:ecs:x:1:task-definition/web:4' },
            { status: 'PRIMARY', taskDefinition: 'arn:aws:ecs:x:1:task-definition/web:5' },
          ],
        },
      ],
    });
    mock.on(DescribeTaskDefinitionCommand, { taskDefinition: 'arn:aws:ecs:x:1:task-definition/web:5' }).resolves({
      taskDefinition: {
        containerDefinitions: [
          { name: 'log-router', image: 'fluent-bit:3' },
          { name: 'app', image: `${REGISTRY}:v1.5.0` },
        ],
      },
    });
    expect(await runningRelease({ cfn: clients.cfn, ecs }, 'staging')).toMatchObject({ taskDefinition: 'arn:aws:ecs:x:1:task-definition/web:5', image: `${REGISTRY}:v1.5.0` });
    mock.on(DescribeTaskDefinitionCommand).resolves({ taskDefinition: { containerDefinitions: [{ name: 'app' }] } });
    expect(await runningRelease({ cfn: clients.cfn, ecs }, 'staging')).toBeUndefined();
    mock.on(DescribeServicesCommand).resolves({ services: [{ status: 'ACTIVE', deployments: [] }] });
    expect(await runningRelease({ cfn: clients.cfn, ecs }, 'staging')).toBeUndefined();
    mock.restore();
  });

  test("the previous release: the running release's own pre-deploy snapshot, of this stage", async () => {
    expect(await previousRelease(clients.rds, 'staging', currentDigest)).toMatchObject({ ref: 'v1.4.1', snapshot: 'predeploy-staging-v1-4-2', dbInstanceIdentifier: dbInstance });
    expect(await previousRelease(clients.rds, 'staging', 'v1.4.1')).toMatchObject({ ref: 'v1.4.0', snapshot: 'predeploy-staging-v1-4-1' });
    expect(await previousRelease(clients.rds, 'prod', currentDigest)).toMatchObject({ ref: 'v0.9.0' });
    expect(await previousRelease(clients.rds, 'staging', 'v2.0.0')).toBeUndefined();
  });

  test('a release deployed twice: its newest snapshot names what ran before; one naming the release itself is passed over', async () => {
    await preDeploySnapshot('predeploy-dev-v3-first', 'dev', 'webapp:v3', `${REGISTRY}:v1`);
    await new Promise((r) => setTimeout(r, 20));
    await preDeploySnapshot('predeploy-dev-v3-second', 'dev', 'webapp:v3', `${REGISTRY}:v2`);
    await new Promise((r) => setTimeout(r, 20));
    // A redeploy of v3 over itself records v3 as its previous image: not a release to go back to.
    await preDeploySnapshot('predeploy-dev-v3-again', 'dev', 'webapp:v3', `${REGISTRY}:v3`);
    expect(await previousRelease(clients.rds, 'dev', 'v3')).toMatchObject({ ref: 'v2', snapshot: 'predeploy-dev-v3-second' });
  });

  test('point-in-time restore covers a rollback when it reaches the last 10 minutes', async () => {
    expect(await pitrCovers(clients.rds, dbInstance, new Date())).toMatch(
      new RegExp(`^point-in-time restore of ${dbInstance} reaches .* so the rollback skips its pre-deploy snapshot$`),
    );
    expect(await pitrCovers(clients.rds, dbInstance, new Date(Date.now() + 60 * 60_000))).toBeUndefined();
  });
});

describe('npm run deploy', () => {
  test('without --image deploys what the web tasks run now, and prints the plan', async () => {
    const { plan } = await planDeploy(parseArgs(['--stage', 'staging', ...AT]), {}, clientsFor);
    expect(plan).toMatchObject({ account: ACCOUNT, region: REGION, image: currentDigest, imageSource: 'what the web tasks run now', noApproval: false });
    expect(deployArgs(plan)).toEqual([
      'deploy',
      'staging/*',
      '-c',
      'stages=staging',
      '-c',
      `staging.account=${ACCOUNT}`,
      '-c',
      `imageTag=${currentDigest}`,
      '-c',
      `staging.region=${REGION}`,
    ]);
  });

  test('--only deploys exactly those stacks; CI skips the approval prompt', async () => {
    const { plan } = await planDeploy(parseArgs(['--stage', 'staging', ...AT, '--image', 'v1.4.1', '--only', 'App', '--only', 'Ops']), { CI: 'true' }, clientsFor);
    expect(shellLine(['npx', 'cdk', ...deployArgs(plan)])).toBe(
      `npx cdk deploy staging/App staging/Ops --exclusively -c stages=staging -c staging.account=${ACCOUNT} -c imageTag=v1.4.1 -c staging.region=${REGION} --require-approval never`,
    );
  });

  test.each([
    [
      ['--stage', 'staging', ...AT, '--image', 'v9.9.9'],
      /^--image v9\.9\.9 names no image of the staging registry \(123456789012, ap-northeast-2 webapp\) and no release of its record\. It takes a tag \(newest: (v1\.\d\.\d, ){2}v1\.\d\.\d\), a digest \(sha256:\.\.\.\) or a recorded release id \(newest: none recorded yet\)\. If the image was just pushed, wait for replication: npm run preflight/,
    ],
    [['--stage', 'staging', '-c', `staging.region=${REGION}`], /the credentials are for account 123456789012 .*, but staging is in 222222222222/],
    [['--stage', 'dev', '--account', ACCOUNT, '-c', `dev.region=${REGION}`], /dev runs no web service yet .*: name the first image with --image/],
    [
      ['--stage', 'staging', ...AT, '--image', 'v1.5.0'],
      /the image webapp v1\.5\.0 \(sha256:[0-9a-f]{64}\) is not tagged as a release in the staging registry \(123456789012, ap-northeast-2\): its build tags expire after 30 days, even while staging runs it\. Tag it first: npm run release-tag -- --stage staging --image sha256:[0-9a-f]{64} --yes$/,
    ],
  ])('refuses %j', async (argv, message) => {
    await expect(planDeploy(parseArgs(argv), {}, clientsFor)).rejects.toThrow(message);
  });

  test.each([
    [['--stage', 'staging', '--only', 'Web'], '--only takes a stack of the stage (Network, Dr, PilotLight, DrApp, Data, App, Edge, Ops), not "Web".'],
    [['--stage', 'staging', '--app', 'cdk.out', '--image', 'v1'], '--app deploys an assembly as it was synthesized'],
    [['--stage', 'staging', '-c', 'imageTag=v1'], 'pass the image as --image, not -c imageTag.'],
    [
      ['--stage', 'staging', '--image', 'sha256:abc'],
      '--image takes a tag (v1.4.2), a release id from the release record (v1.4.2-3f9a1c2e), a digest (sha256: and 64 hex digits) or an image URI ending in one, not "sha256:abc".',
    ],
    [['--stage', 'qa'], '--stage must be one of dev, staging, prod.'],
  ])('bad arguments %j', (argv, message) => {
    expect(() => parseArgs(argv)).toThrow(UsageError);
    expect(() => parseArgs(argv)).toThrow(message);
  });

  test('--yes runs cdk deploy with the plan; a failed deploy is exit 1', async () => {
    vi.spyOn(console, 'log').mockImplementation(() => {});
    vi.spyOn(console, 'error').mockImplementation(() => {});
    const runs: string[][] = [];
    const record = (args: readonly string[]) => {
      runs.push([...args]);
      return 0;
    };
    expect(await deploy(['--stage', 'staging', ...AT, '--yes'], {}, record, clientsFor)).toBe(0);
    expect(await deploy(['--stage', 'staging', ...AT, '--yes'], {}, () => 1, clientsFor)).toBe(1);
    expect(await deploy(['--stage', 'staging', ...AT], {}, record, clientsFor)).toBe(0);
    expect(runs).toHaveLength(1);
    expect(runs[0].slice(0, 2)).toEqual(['deploy', 'staging/*']);
    vi.restoreAllMocks();
  });
});

describe('npm run deploy -- --primary-lost', () => {
  // prod as shipped: primary eu-west-1 (lost: a client there fails the test), DR eu-central-1, edge us-east-1.
  const asked: string[] = [];
  const lostClientsFor = (region: string): DeployClients => {
    asked.push(region);
    if (region === 'eu-west-1') throw new Error('asked the lost primary region');
    const config = moto.clientConfig(region);
    return { sts: new STSClient(config), cfn: new CloudFormationClient(config), ecs: new ECSClient(config), ecr: new ECRClient(config) };
  };
  const kept = (stackName: string, region: string, reads: Record<string, string>) =>
    lostClientsFor(region).cfn.send(
      new CreateStackCommand({
        StackName: stackName,
        TemplateBody: JSON.stringify({
          Resources: { Topic: { Type: 'AWS::SNS::Topic' } },
          Outputs: {
            SiteUrl: { Value: 'https://app.example.com', Description: 'not a read' },
            ...Object.fromEntries(Object.entries(reads).map(([key, value], i) => [`PrimaryRead${i}`, { Value: value, Description: `${PRIMARY_READ_PREFIX}${key}` }])),
          },
        }),
      }),
    );

  beforeAll(async () => {
    await kept('prod-Edge', 'us-east-1', { 'prod-App/OutAlbArn': 'arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/x/1', 'prod-Network/OutZone': 'Z0123' });
    await kept('prod-PilotLight', 'eu-central-1', { 'prod-Network/OutZone': 'Z0123' });
  });

  test('deploys the named stacks outside the lost region, every read of it pinned to the value kept, without asking that region', async () => {
    asked.length = 0;
    const argv = ['--stage', 'prod', '--account', ACCOUNT, '--primary-lost', '--only', 'PilotLight', '--only', 'Edge', '-c', 'prod.dr.serveFrom=dr', '-c', 'prod.dr.appTier=true'];
    const { plan } = await planDeploy(parseArgs(argv), {}, lostClientsFor);
    expect(asked).not.toContain('eu-west-1');
    expect(JSON.parse(plan.context.pinnedReads)).toEqual({
      'prod-App/OutAlbArn': 'arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/x/1',
      'prod-Network/OutZone': 'Z0123',
    });
    expect(plan).toMatchObject({ image: 'v0.1.0', imageSource: "the config's (no stack deployed here runs it)" });
    const args = deployArgs(plan);
    expect(args.slice(0, 4)).toEqual(['deploy', 'prod/PilotLight', 'prod/Edge', '--exclusively']);
    expect(args).toContain(`pinnedReads=${plan.context.pinnedReads}`);
  });

  test.each([
    [['--only', 'App'], /with the primary region \(eu-west-1\) lost, only stacks outside it can deploy, not prod-App: name them with --only \(Dr, PilotLight, Edge\)/],
    [['--only', 'Edge', '--only', 'Data'], /not prod-Data/],
  ])('refuses stacks in the lost region %j', async (only, message) => {
    await expect(planDeploy(parseArgs(['--stage', 'prod', '--account', ACCOUNT, '--primary-lost', ...only]), {}, lostClientsFor)).rejects.toThrow(message);
  });

  test('refuses a stage whose stacks outside the region kept nothing to pin (never deployed)', async () => {
    await expect(planDeploy(parseArgs(['--stage', 'dev', '--account', ACCOUNT, '--primary-lost', '--only', 'Edge']), {}, lostClientsFor)).rejects.toThrow(
      /no stack of dev outside eu-west-1 kept what it reads from there .*deploy them once while the primary region answers/,
    );
  });

  test('needs --only, and synthesizes here (no --app)', () => {
    expect(() => parseArgs(['--stage', 'prod', '--primary-lost'])).toThrow(/--primary-lost deploys named stacks outside the lost region, synthesized here: name them with --only/);
    expect(() => parseArgs(['--stage', 'prod', '--primary-lost', '--app', 'cdk.out', '--only', 'Edge'])).toThrow(/leave --app out|--app deploys an assembly/);
  });
});

describe('npm run rollback', () => {
  test('deploys the previous release to the App stack, skipping the snapshot that point-in-time restore makes unnecessary', async () => {
    const { outcome } = await planRollback(parseRollback(['--stage', 'staging', ...AT]), {}, clientsFor, new Date());
    expect(outcome.kind).toBe('deploy');
    if (outcome.kind !== 'deploy') return;
    expect(outcome.lines).toEqual([
      expect.stringMatching(new RegExp(`^staging runs webapp ${currentDigest} \\(.*stagingAppWebTask:2\\)$`)),
      expect.stringMatching(/^before it ran webapp v1\.4\.1 \(pre-deploy snapshot predeploy-staging-v1-4-2, /),
      expect.stringMatching(/so the rollback skips its pre-deploy snapshot$/),
    ]);
    expect(outcome.plan).toMatchObject({ image: 'v1.4.1', only: ['App'], context: { 'staging.region': REGION, skipPreDeploySnapshot: 'true' } });
  });

  test('a canary stage rolls back by blue/green; a stale restore point keeps the snapshot', async () => {
    const later = new Date(Date.now() + 60 * 60_000);
    const { outcome } = await planRollback(parseRollback(['--stage', 'staging', ...AT, '-c', 'staging.app.deployment.strategy=canary']), {}, clientsFor, later);
    if (outcome.kind !== 'deploy') throw new Error('expected a deploy');
    expect(outcome.plan.context).toEqual({
      'staging.region': REGION,
      'staging.app.deployment.strategy': 'blueGreen',
      'staging.app.deployment.bakeMinutes': '5',
    });
    expect(outcome.lines).toContain('point-in-time restore does not reach the last minutes: the rollback takes its pre-deploy snapshot as every release does');
  });

  test('refuses without a known previous release, or on the wrong account', async () => {
    await expect(planRollback(parseRollback(['--stage', 'staging', '-c', `staging.region=${REGION}`]), {}, clientsFor, new Date())).rejects.toThrow(
      /credentials are for account 123456789012/,
    );
    await expect(planRollback(parseRollback(['--stage', 'dev', '--account', ACCOUNT, '-c', `dev.region=${REGION}`]), {}, clientsFor, new Date())).rejects.toThrow(
      /dev runs no web service/,
    );
  });

  test('--fast stops the web deployment in flight with rollback (ECS service deployments, which moto lacks, mocked)', async () => {
    vi.spyOn(console, 'log').mockImplementation(() => {});
    const ecs = new ECSClient(moto.clientConfig(REGION));
    const mock = mockClient(ecs);
    mock.on(DescribeServicesCommand).resolves({ services: [{ status: 'ACTIVE', deployments: [{ status: 'PRIMARY', taskDefinition: 'arn:aws:ecs:x:1:task-definition/web:7' }] }] });
    mock.on(DescribeTaskDefinitionCommand).resolves({ taskDefinition: { containerDefinitions: [{ name: 'app', image: `${REGISTRY}:v1.4.2` }] } });
    const arn = 'arn:aws:ecs:ap-northeast-2:123456789012:service-deployment/staging-App-Cluster/staging-App-WebService/abc';
    mock.on(ListServiceDeploymentsCommand).resolves({ serviceDeployments: [{ serviceDeploymentArn: arn, status: 'IN_PROGRESS' }] });
    mock.on(StopServiceDeploymentCommand).resolves({ serviceDeploymentArn: arn });
    const withMock = () => ({ ...clients, ecs });
    expect(await rollback(['--stage', 'staging', ...AT, '--fast'], {}, () => 0, withMock)).toBe(0);
    expect(mock.commandCalls(StopServiceDeploymentCommand)).toHaveLength(0);
    expect(await rollback(['--stage', 'staging', ...AT, '--fast', '--yes'], {}, () => 0, withMock)).toBe(0);
    expect(mock.commandCalls(StopServiceDeploymentCommand)[0].args[0].input).toEqual({ serviceDeploymentArn: arn, stopType: 'ROLLBACK' });
    expect(mock.commandCalls(ListServiceDeploymentsCommand)[0].args[0].input).toMatchObject({ cluster: 'staging-App-Cluster', service: 'staging-App-WebService' });
    mock.restore();
    vi.restoreAllMocks();
  });

  test('--fast after a completed release points the service back at its earlier revision at once, then deploys that release', async () => {
    const logged: string[] = [];
    vi.spyOn(console, 'log').mockImplementation((line: string) => {
      logged.push(line);
    });
    // moto has no service deployments (none in flight here), and shows no deployment strategy:
    // the answers it cannot give are added to its own; everything else is moto's.
    const updates: UpdateServiceCommand['input'][] = [];
    const ecs = {
      send: async (command: { input: unknown }) => {
        if (command instanceof ListServiceDeploymentsCommand) return { serviceDeployments: [] };
        if (command instanceof UpdateServiceCommand) updates.push(command.input);
        const out = (await clients.ecs.send(command as never)) as { services?: { deploymentConfiguration?: object }[] };
        if (command instanceof DescribeServicesCommand)
          for (const s of out.services ?? [])
            s.deploymentConfiguration = {
              ...s.deploymentConfiguration,
              strategy: 'CANARY',
              canaryConfiguration: { canaryPercent: 10, canaryBakeTimeInMinutes: 10 },
              bakeTimeInMinutes: 10,
            };
        return out;
      },
    } as unknown as ECSClient;
    const runs: string[][] = [];
    const record = (args: readonly string[]) => {
      runs.push([...args]);
      return 0;
    };
    expect(await rollback(['--stage', 'staging', ...AT, '--fast'], {}, record, () => ({ ...clients, ecs }))).toBe(0);
    expect(updates).toEqual([]);
    expect(logged).toContain(
      'staging-App-WebService: back to arn:aws:ecs:ap-northeast-2:123456789012:task-definition/stagingAppWebTask:1 by one blue/green swap, no bake (the smoke test and the deployment alarms still apply)',
    );
    expect(await rollback(['--stage', 'staging', ...AT, '--fast', '--from', 'v1.4.2', '--yes'], {}, record, () => ({ ...clients, ecs }))).toBe(0);
    expect(updates).toEqual([
      {
        cluster: 'staging-App-Cluster',
        service: 'staging-App-WebService',
        taskDefinition: 'arn:aws:ecs:ap-northeast-2:123456789012:task-definition/stagingAppWebTask:1',
        deploymentConfiguration: expect.objectContaining({ strategy: 'BLUE_GREEN', bakeTimeInMinutes: 0, canaryConfiguration: undefined }),
      },
    ]);
    // Then CloudFormation is brought to the same release, App stack only.
    expect(runs).toHaveLength(1);
    expect(runs[0]).toEqual(expect.arrayContaining(['staging/App', '--exclusively', '-c', 'imageTag=v1.4.1']));
    // The service runs the earlier revision now (moto applied the update).
    const after = await clients.ecs.send(new DescribeServicesCommand({ cluster: 'staging-App-Cluster', services: ['staging-App-WebService'] }));
    expect(after.services![0].taskDefinition).toMatch(/stagingAppWebTask:1$/);
    await clients.ecs.send(
      new UpdateServiceCommand({
        cluster: 'staging-App-Cluster',
        service: 'staging-App-WebService',
        taskDefinition: 'arn:aws:ecs:ap-northeast-2:123456789012:task-definition/stagingAppWebTask:2',
      }),
    );
    vi.restoreAllMocks();
  });

  test('an earlier revision is one of the same family, older, running the image asked for', async () => {
    const current = (await clients.ecs.send(new DescribeServicesCommand({ cluster: 'staging-App-Cluster', services: ['staging-App-WebService'] }))).services![0].taskDefinition!;
    expect(await earlierRevision(clients.ecs, current, 'v1.4.1')).toMatch(/stagingAppWebTask:1$/);
    expect(await earlierRevision(clients.ecs, current, 'v0.0.1')).toBeUndefined();
    expect(await earlierRevision(clients.ecs, current.replace(/:2$/, ':1'), 'v1.4.1')).toBeUndefined();
    expect(await earlierRevision(clients.ecs, 'not-an-arn', 'v1.4.1')).toBeUndefined();
  });
});

describe('rollback --fast and revisions CloudFormation no longer holds', () => {
  /** A family of task definitions in moto, one revision per image given, oldest first; their ARNs. */
  const family = async (name: string, images: string[]) => {
    const arns: string[] = [];
    for (const image of images) {
      const out = await clients.ecs.send(
        new RegisterTaskDefinitionCommand({
          family: name,
          networkMode: 'awsvpc',
          requiresCompatibilities: ['FARGATE'],
          cpu: '256',
          memory: '512',
          containerDefinitions: [{ name: 'app', image }],
        }),
      );
      arns.push(out.taskDefinition!.taskDefinitionArn!);
    }
    return arns;
  };

  test('the earlier revision is the newest ACTIVE one of the image, never a deregistered one', async () => {
    const [first, second, current] = await family('rollbackNewest', [`${REGISTRY}:v1`, `${REGISTRY}:v1`, `${REGISTRY}:v2`]);
    expect(await earlierRevision(clients.ecs, current, 'v1')).toBe(second);
    // CloudFormation deregistered the replaced revision (before task definitions were retained): ECS would refuse it.
    await clients.ecs.send(new DeregisterTaskDefinitionCommand({ taskDefinition: second }));
    expect(await earlierRevision(clients.ecs, current, 'v1')).toBe(first);
    await clients.ecs.send(new DeregisterTaskDefinitionCommand({ taskDefinition: first }));
    expect(await earlierRevision(clients.ecs, current, 'v1')).toBeUndefined();
  });

  test('an earlier revision whose roles a later release replaced does not count: its tasks would not start', async () => {
    const register = (image: string, taskRoleArn: string) =>
      clients.ecs.send(
        new RegisterTaskDefinitionCommand({
          family: 'rollbackRoles',
          taskRoleArn,
          executionRoleArn: 'arn:aws:iam::123456789012:role/exec',
          networkMode: 'awsvpc',
          requiresCompatibilities: ['FARGATE'],
          cpu: '256',
          memory: '512',
          containerDefinitions: [{ name: 'app', image }],
        }),
      );
    const sameRoles = (await register(`${REGISTRY}:v1`, 'arn:aws:iam::123456789012:role/task-new')).taskDefinition!.taskDefinitionArn!;
    await register(`${REGISTRY}:v1`, 'arn:aws:iam::123456789012:role/task-old');
    const current = (await register(`${REGISTRY}:v2`, 'arn:aws:iam::123456789012:role/task-new')).taskDefinition!.taskDefinitionArn!;
    // Revision 2 runs v1 too, but with a task role the stack has replaced since: revision 1 is the one.
    expect(await earlierRevision(clients.ecs, current, 'v1')).toBe(sameRoles);
  });

  test('a revision ECS refuses (moto accepts INACTIVE ones: the refusal is stubbed) stops the rollback with what to do, exit 1', async () => {
    const errors: string[] = [];
    vi.spyOn(console, 'log').mockImplementation(() => {});
    vi.spyOn(console, 'error').mockImplementation((line: string) => {
      errors.push(line);
    });
    const ecs = {
      send: async (command: { input: unknown }) => {
        if (command instanceof ListServiceDeploymentsCommand) return { serviceDeployments: [] };
        if (command instanceof UpdateServiceCommand) {
          throw Object.assign(new Error('TaskDefinition is inactive'), { name: 'ClientException' });
        }
        return clients.ecs.send(command as never);
      },
    } as unknown as ECSClient;
    const runs: string[][] = [];
    const record = (args: readonly string[]) => {
      runs.push([...args]);
      return 0;
    };
    const code = await rollback(['--stage', 'staging', ...AT, '--fast', '--from', 'v1.4.2', '--yes'], {}, record, () => ({ ...clients, ecs }));
    vi.restoreAllMocks();
    expect(code).toBe(1);
    expect(runs).toEqual([]);
    expect(errors).toEqual([
      expect.stringMatching(
        /^rollback: ECS refused to point staging-App-WebService at .*stagingAppWebTask:1 \(TaskDefinition is inactive\)\. Nothing was changed; roll back without --fast, which deploys the earlier release again\.$/,
      ),
    ]);
  });
});

describe('the commands as people run them, against moto', () => {
  test('deploy prints the plan and exits 0', async () => {
    const ok = await printed(() => deploy(['--stage', 'staging', ...AT, '--only', 'App'], {}, refuseCdk, clientsFor));
    expect(ok.stdout).toContain(`deploy staging (account ${ACCOUNT}, ${REGION})\n  image:   webapp ${currentDigest} (what the web tasks run now)\n  stacks:  staging/App only`);
    expect(ok.stdout).toContain('dry run: nothing deployed. Run again with --yes to deploy.');
    expect(ok.stderr).toBe('');
    expect(ok.result).toBe(0);
  });

  test('rollback prints what ran before and the deploy that returns to it', async () => {
    const ok = await printed(() => rollback(['--stage', 'staging', ...AT], {}, refuseCdk, clientsFor));
    expect(ok.stdout).toContain('before it ran webapp v1.4.1 (pre-deploy snapshot predeploy-staging-v1-4-2');
    expect(ok.stdout).toContain(`npx cdk deploy staging/App --exclusively -c stages=staging -c staging.account=${ACCOUNT} -c imageTag=v1.4.1`);
    expect(ok.stderr).toBe('');
    expect(ok.result).toBe(0);
  });

  // The scripts' own clients, as a shell gives them their credentials and endpoint (the
  // environment); that main's exit code reaches the shell is the form test/scripts/args.test.ts
  // holds every command to, spawned once there.
  const fromEnvironment = () => {
    for (const [key, value] of Object.entries({ AWS_ENDPOINT_URL: moto.endpoint, AWS_ACCESS_KEY_ID: 'testing', AWS_SECRET_ACCESS_KEY: 'testing', AWS_REGION: REGION }))
      vi.stubEnv(key, value);
  };

  test.each([
    ['deploy', deploy],
    ['rollback', rollback],
  ] as const)('%s with credentials of the wrong account exits 2 with the reason on stderr', async (name, command) => {
    fromEnvironment();
    try {
      const wrong = await printed(() => command(['--stage', 'staging', '-c', `staging.region=${REGION}`], { CI: '' }));
      expect(wrong.stderr).toMatch(
        new RegExp(`^${name}: the credentials are for account 123456789012 .*, but staging is in 222222222222\\. Use credentials of 222222222222 and run again\\.\\n$`),
      );
      expect(wrong.stdout).toBe('');
      expect(wrong.result).toBe(2);
    } finally {
      vi.unstubAllEnvs();
    }
  });
});
