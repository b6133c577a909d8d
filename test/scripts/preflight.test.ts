import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { CloudFormationClient, CreateStackCommand } from '@aws-sdk/client-cloudformation';
import { ConfigServiceClient } from '@aws-sdk/client-config-service';
import {
  AllocateAddressCommand,
  CreateNatGatewayCommand,
  CreateSubnetCommand,
  CreateTagsCommand,
  CreateVpcCommand,
  DeleteNatGatewayCommand,
  DescribeImagesCommand as DescribeMachineImagesCommand,
  DescribeManagedPrefixListsCommand,
  EC2Client,
  type Tag,
} from '@aws-sdk/client-ec2';
import { CreateRepositoryCommand, DescribeImagesCommand, ECRClient, PutImageCommand } from '@aws-sdk/client-ecr';
import { CreateClusterCommand, CreateServiceCommand, ECSClient, RegisterTaskDefinitionCommand } from '@aws-sdk/client-ecs';
import { CreateCacheSubnetGroupCommand, ElastiCacheClient } from '@aws-sdk/client-elasticache';
import { GuardDutyClient } from '@aws-sdk/client-guardduty';
import { CreateRoleCommand, IAMClient } from '@aws-sdk/client-iam';
import {
  CreateDBInstanceCommand,
  CreateDBSubnetGroupCommand,
  DescribeAccountAttributesCommand,
  type DescribeDBInstanceAutomatedBackupsCommand,
  DescribeDBInstancesCommand,
  ModifyDBInstanceCommand,
  RDSClient,
} from '@aws-sdk/client-rds';
import { CreateHostedZoneCommand, GetHostedZoneCommand, ListHostedZonesByNameCommand, Route53Client } from '@aws-sdk/client-route-53';
import { SecurityHubClient } from '@aws-sdk/client-securityhub';
import { GetServiceQuotaCommand, ServiceQuotasClient } from '@aws-sdk/client-service-quotas';
import { CreateEmailIdentityCommand, GetAccountCommand, GetEmailIdentityCommand, SESv2Client } from '@aws-sdk/client-sesv2';
import { SNSClient } from '@aws-sdk/client-sns';
import { CreateDocumentCommand, DeleteDocumentCommand, DeleteParameterCommand, PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { STSClient } from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { ORIGIN_FACING } from '../../lib/app/origin-facing';
import { loadStages, type StageConfig } from '../../lib/config';
import { pilotLightNames } from '../../lib/dr/pilot-light-names';
import { NAT_IMAGES } from '../../lib/network/nat-instances';
import { releaseTag } from '../../lib/registry/release-tag';
import { formatPreflight, type PreflightClients, type PreflightOptions, preflight } from '../../scripts/lib/preflight';
import { defaultClients } from '../../scripts/lib/preflight-clients';
import { edgeChecks, SESSION_PREFERENCES } from '../../scripts/lib/preflight-edge';
import { drBackupsCheck, drImageCheck, pilotLightChecks, sesIdentityCheck } from '../../scripts/lib/preflight-pilot-light';
import { engineCheck } from '../../scripts/lib/preflight-release';
import { tagRelease } from '../../scripts/lib/release-tags';
import { main, parseArgs } from '../../scripts/preflight';
import { printed } from '../support/console';
import { imageManifest } from '../support/ecr';
import { type Moto, startMoto } from '../support/moto';

const ROOT = join(__dirname, '..', '..');
/** moto answers as this account. */
const ACCOUNT = '123456789012';
const DIGEST = `sha256:${'f'.repeat(64)}`;

let moto: Moto;
let zoneNs: string[];
/**
 * moto's CloudFront origin-facing prefix list of the home region: moto gives it an id of its own,
 * not AWS's, so the checks that run preflight as a whole compare with this one.
 */
const motoOriginFacing: Record<string, string> = {};
let clock: number;
// Stand-ins moto does not have: RDS account quotas, SES v2 GetAccount (production access), the
// Elastic IP quota code. Everything else of RDS and SES v2 (subnet groups, email identities) is moto's.
const rdsMocks = {
  'eu-west-1': new RDSClient({ region: 'eu-west-1' }),
  'eu-central-1': new RDSClient({ region: 'eu-central-1' }),
  'eu-north-1': new RDSClient({ region: 'eu-north-1' }),
};
const rdsMock = Object.fromEntries(Object.entries(rdsMocks).map(([r, c]) => [r, mockClient(c)]));
/** Production access in the stage's region (eu-west-1 here), and in any other (the DR region's). */
const sesv2 = new SESv2Client({ region: 'eu-west-1' });
const sesMock = mockClient(sesv2);
const sesv2Elsewhere = new SESv2Client({ region: 'eu-central-1' });
const sesElsewhereMock = mockClient(sesv2Elsewhere);
const eipQuotas = new ServiceQuotasClient({ region: 'eu-west-1' });
const eipQuotaMock = mockClient(eipQuotas);

/** A stage config as a deploy gets it: staging, in moto's account, with `context` overrides. */
const staging = (context: Record<string, string> = {}): StageConfig => loadStages({ stages: 'staging', 'staging.account': ACCOUNT, ...context }).selected[0];

function clients(home = 'eu-west-1', dr = 'eu-central-1'): PreflightClients {
  const config = (region = home) => moto.clientConfig(region);
  const motoQuotas = new ServiceQuotasClient(config());
  return {
    sts: new STSClient(config()),
    route53: new Route53Client(config('us-east-1')),
    ssm: (region) => new SSMClient(config(region)),
    // moto knows RDS but its account quotas: those come from the mocks.
    rds: (region) =>
      ({
        send: (command: object) =>
          (command instanceof DescribeAccountAttributesCommand ? rdsMocks[region as keyof typeof rdsMocks] : new RDSClient(config(region))).send(command as never),
      }) as never,
    ecr: new ECRClient(config()),
    drEcr: new ECRClient(config(dr)),
    // moto knows SES v2's identities, not GetAccount: production access comes from the mocks.
    sesv2: (region) =>
      ({
        send: (command: object) =>
          (command instanceof GetAccountCommand ? (region === 'eu-west-1' ? sesv2 : sesv2Elsewhere) : new SESv2Client(config(region))).send(command as never),
      }) as never,
    elasticache: (region) => new ElastiCacheClient(config(region)),
    // moto knows the VPC quotas; the Elastic IP quota comes from the mock.
    serviceQuotas: { send: (command: GetServiceQuotaCommand) => (command.input.QuotaCode === 'L-0263D0A3' ? eipQuotas : motoQuotas).send(command) } as never,
    ec2: new EC2Client(config()),
    cfn: new CloudFormationClient(config()),
    ecs: new ECSClient(config()),
    baseline: {
      cfn: (region) => new CloudFormationClient(config(region)),
      guardDuty: (region) => new GuardDutyClient(config(region)),
      securityHub: (region) => new SecurityHubClient(config(region)),
      config: (region) => new ConfigServiceClient(config(region)),
      iam: new IAMClient(config('us-east-1')),
    },
    sns: (region) => new SNSClient(config(region)),
  };
}

const options = (overrides: Partial<PreflightOptions> = {}): PreflightOptions => ({
  resolveNs: async () => zoneNs,
  now: () => new Date(clock),
  sleep: async (ms) => {
    clock += ms;
  },
  originFacingPrefixLists: motoOriginFacing,
  ...overrides,
});
/** The id moto gives CloudFront's origin-facing prefix list in a region. */
const originFacingIn = async (region: string) =>
  (await new EC2Client(moto.clientConfig(region)).send(new DescribeManagedPrefixListsCommand({ Filters: [{ Name: 'prefix-list-name', Values: [ORIGIN_FACING.prefixListName] }] })))
    .PrefixLists![0].PrefixListId!;
const statusOf = (result: Awaited<ReturnType<typeof preflight>>) => Object.fromEntries(result.checks.map((c) => [c.name, c.status]));

/**
 * What staging's pilot light holds in a DR region once deployed, and the release copied there:
 * the registry with the release, the SES identity of the zone (verified: moto verifies at once),
 * the VPC's subnet groups for the database and the cache.
 */
async function pilotLight(region: string): Promise<void> {
  const ecr = new ECRClient(moto.clientConfig(region));
  await ecr.send(new CreateRepositoryCommand({ repositoryName: 'webapp' }));
  const copied = await ecr.send(new PutImageCommand({ repositoryName: 'webapp', imageTag: releaseTag(await releaseDigest()), imageManifest: imageManifest('preflight v0.1.0') }));
  expect(copied.image!.imageId!.imageDigest).toBe(await releaseDigest());
  await new SESv2Client(moto.clientConfig(region)).send(new CreateEmailIdentityCommand({ EmailIdentity: 'staging.example.com' }));
  const ec2 = new EC2Client(moto.clientConfig(region));
  const vpc = (await ec2.send(new CreateVpcCommand({ CidrBlock: '10.120.0.0/16' }))).Vpc!.VpcId!;
  const subnets: string[] = [];
  for (const [i, az] of ['a', 'b'].entries()) {
    subnets.push((await ec2.send(new CreateSubnetCommand({ VpcId: vpc, CidrBlock: `10.120.${i}.0/24`, AvailabilityZone: `${region}${az}` }))).Subnet!.SubnetId!);
  }
  const names = pilotLightNames('staging');
  await new RDSClient(moto.clientConfig(region)).send(
    new CreateDBSubnetGroupCommand({ DBSubnetGroupName: names.databaseSubnetGroup, DBSubnetGroupDescription: 'pilot light', SubnetIds: subnets }),
  );
  await new ElastiCacheClient(moto.clientConfig(region)).send(
    new CreateCacheSubnetGroupCommand({ CacheSubnetGroupName: names.cacheSubnetGroup, CacheSubnetGroupDescription: 'pilot light', SubnetIds: subnets }),
  );
}
/** The digest of staging's release (v0.1.0) in its own registry. */
const releaseDigest = async () =>
  (await new ECRClient(moto.clientConfig()).send(new DescribeImagesCommand({ repositoryName: 'webapp', imageIds: [{ imageTag: 'v0.1.0' }] }))).imageDetails![0].imageDigest!;

beforeAll(async () => {
  moto = await startMoto();
  motoOriginFacing['eu-west-1'] = await originFacingIn('eu-west-1');
  for (const region of ['eu-west-1', 'eu-central-1', 'us-east-1']) {
    await new SSMClient(moto.clientConfig(region)).send(new PutParameterCommand({ Name: '/cdk-bootstrap/hnb659fds/version', Value: '27', Type: 'String', Overwrite: true }));
  }
  const ecr = new ECRClient(moto.clientConfig());
  await ecr.send(new CreateRepositoryCommand({ repositoryName: 'webapp' }));
  const pushed = await ecr.send(new PutImageCommand({ repositoryName: 'webapp', imageTag: 'v0.1.0', imageManifest: imageManifest('preflight v0.1.0') }));
  await tagRelease(ecr, 'webapp', pushed.image!.imageId!.imageDigest!);
  await pilotLight('eu-central-1');
  const route53 = new Route53Client(moto.clientConfig('us-east-1'));
  // A private zone of the same name, listed before the public one: preflight must look past it.
  await route53.send(
    new CreateHostedZoneCommand({
      Name: 'staging.example.com',
      CallerReference: 'preflight-test-private',
      VPC: { VPCRegion: 'eu-west-1', VPCId: 'vpc-12345678' },
      HostedZoneConfig: { PrivateZone: true },
    }),
  );
  const zone = await route53.send(new CreateHostedZoneCommand({ Name: 'staging.example.com', CallerReference: 'preflight-test' }));
  zoneNs = (await route53.send(new GetHostedZoneCommand({ Id: zone.HostedZone!.Id }))).DelegationSet!.NameServers!;
  // The break-glass role, created by hand at path / (docs/disaster-recovery.md).
  const trust = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: 'sts:AssumeRole' }] });
  await new IAMClient(moto.clientConfig('us-east-1')).send(new CreateRoleCommand({ RoleName: 'webapp-break-glass', AssumeRolePolicyDocument: trust }));
});
beforeEach(() => {
  clock = Date.parse('2026-12-01T08:00:00Z');
  for (const m of Object.values(rdsMock)) {
    m.reset();
    m.on(DescribeAccountAttributesCommand).resolves({ AccountQuotas: [{ AccountQuotaName: 'ManualSnapshots', Used: 12, Max: 100 }] });
  }
  for (const m of [sesMock, sesElsewhereMock]) {
    m.reset();
    m.on(GetAccountCommand).resolves({ ProductionAccessEnabled: true });
  }
  eipQuotaMock.reset();
  eipQuotaMock.on(GetServiceQuotaCommand).resolves({ Quota: { QuotaCode: 'L-0263D0A3', Value: 5 } });
});
afterAll(() => {
  for (const m of [...Object.values(rdsMock), sesMock, sesElsewhereMock, eipQuotaMock]) m.restore();
});

describe('preflight against moto (with mocks where moto has no stand-in)', () => {
  test('a ready account: every check passes and the exit code is 0', async () => {
    const config = staging();
    const result = await preflight(config, clients(), options());
    expect(result.checks.map((c) => [c.name, c.status])).toEqual([
      ['account', 'ok'],
      ['bootstrap eu-west-1', 'ok'],
      ['bootstrap eu-central-1', 'ok'],
      // The edge stack (CloudFront) deploys to us-east-1.
      ['bootstrap us-east-1', 'ok'],
      ['image', 'ok'],
      // No staging-App stack in this account yet: nothing runs, nothing to protect.
      ['running release', 'ok'],
      ['dns', 'ok'],
      ['ses', 'ok'],
      // staging keeps a pilot light in eu-central-1: SES may send from there too, the release is
      // in that region's registry, the zone's identity is verified there, the subnet groups exist.
      ['ses eu-central-1', 'ok'],
      ['image eu-central-1', 'ok'],
      ['ses identity eu-central-1', 'ok'],
      ['subnet groups eu-central-1', 'ok'],
      // No staging database in this account yet: nothing to replicate.
      ['database backups eu-central-1', 'ok'],
      ['database engine', 'ok'],
      ['snapshot quota eu-west-1', 'ok'],
      ['snapshot quota eu-central-1', 'ok'],
      ['vpc quota', 'ok'],
      ['elastic ip quota', 'ok'],
      ['nat gateway quota', 'ok'],
      // staging egresses through NAT instances: moto knows the pinned Amazon Linux image.
      ['nat instance image', 'ok'],
      // The load balancer's pinned prefix list is the region's (here moto's), and no Session
      // Manager preferences ask for a KMS key the database shell's role cannot use.
      ['cloudfront prefix list', 'ok'],
      ['session manager preferences', 'ok'],
      // No alarm topic yet in either region the stage alarms in (test/scripts/preflight-alarms.test.ts).
      ['alarm emails eu-west-1', 'ok'],
      ['alarm emails us-east-1', 'ok'],
      // Nothing of an organisation's in this account: the baseline and CI stacks create their own.
      ['guardduty eu-west-1', 'ok'],
      ['security hub eu-west-1', 'ok'],
      ['config recorder eu-west-1', 'ok'],
      ['guardduty eu-central-1', 'ok'],
      ['security hub eu-central-1', 'ok'],
      ['config recorder eu-central-1', 'ok'],
      ['github oidc provider', 'ok'],
      ['break-glass role', 'ok'],
    ]);
    expect(result.exitCode).toBe(0);
    const text = formatPreflight(config, result);
    expect(text.split('\n')[0]).toBe(`preflight staging (${ACCOUNT}, eu-west-1 + eu-central-1 + us-east-1)`);
    expect(text).toMatch(/\n {2}ok {7}image {2,}v0\.1\.0 is in 123456789012\/eu-west-1 webapp \(sha256:[0-9a-f]{64}\), tagged as a release\n/);
    expect(text.split('\n').at(-1)).toBe('READY: staging can be deployed.');
  });

  test("the NAT instances' pinned image: missing or deprecated (states moto cannot give: a stub answers) says how to refresh it", async () => {
    const answering = (Images: object[]) => ({
      ...clients(),
      ec2: { send: async (command: object) => (command instanceof DescribeMachineImagesCommand ? { Images } : clients().ec2.send(command as never)) } as never,
    });
    const gone = await preflight(staging(), answering([]), options());
    expect(gone.checks.find((c) => c.name === 'nat instance image')).toEqual({
      name: 'nat instance image',
      status: 'missing',
      detail: `the pinned image ${NAT_IMAGES.images['eu-west-1'].imageId} is not available in eu-west-1`,
      fix: 'npm run nat-image -- --region eu-west-1 --write, then deploy staging/Network (it replaces the NAT instances)',
    });
    expect(gone.exitCode).toBe(1);
    const old = { State: 'available', Architecture: 'arm64', Name: 'al2023-ami-2023.1.20230101.0-kernel-6.1-arm64', DeprecationTime: '2025-01-01T00:00:00.000Z' };
    const deprecated = await preflight(staging(), answering([old]), options());
    expect(deprecated.checks.find((c) => c.name === 'nat instance image')).toMatchObject({ status: 'warn', detail: expect.stringContaining('is deprecated since 2025-01-01') });
    expect(deprecated.exitCode).toBe(0);
    const other = await preflight(staging(), answering([{ ...old, Name: 'ubuntu-noble-24.04-arm64', DeprecationTime: undefined }]), options());
    expect(other.checks.find((c) => c.name === 'nat instance image')).toMatchObject({ status: 'missing', detail: expect.stringContaining('not Amazon Linux 2023 for arm64') });
  });

  test("CloudFront's origin-facing prefix list: the region's id as pinned is ready; another id is not, and the fix names the region's", async () => {
    // A region of this file's own; moto's id stands in for AWS's.
    const region = 'sa-east-1';
    const config = staging({ 'staging.region': region });
    const id = await originFacingIn(region);
    expect(id).toMatch(/^pl-[0-9a-f]+$/);
    const [matching] = await edgeChecks(config, clients(region), { originFacingPrefixLists: { [region]: id } });
    expect(matching).toEqual({ name: 'cloudfront prefix list', status: 'ok', detail: `com.amazonaws.global.cloudfront.origin-facing in ${region} is ${id}, as pinned` });
    // The id pinned in the repository is AWS's, which moto's is not: the mismatch as it would show.
    expect(ORIGIN_FACING.prefixLists[region]).not.toBe(id);
    const [mismatching] = await edgeChecks(config, clients(region));
    expect(mismatching).toEqual({
      name: 'cloudfront prefix list',
      status: 'missing',
      detail: `CloudFront's origin-facing prefix list in ${region} is ${id}, but lib/app/origin-facing-prefix-lists.json pins ${ORIGIN_FACING.prefixLists[region]}: the load balancer's rule would name the wrong list`,
      fix: `set "${region}": "${id}" in lib/app/origin-facing-prefix-lists.json, then deploy staging/App`,
    });
    const whole = await preflight(config, clients(region), options({ originFacingPrefixLists: undefined }));
    expect(whole.checks.find((c) => c.name === 'cloudfront prefix list')?.status).toBe('missing');
    expect(whole.exitCode).toBe(1);
    // Nothing pinned for the region, or (a state moto cannot give: a stub answers) no such list there.
    expect((await edgeChecks(config, clients(region), { originFacingPrefixLists: {} }))[0]).toMatchObject({ status: 'missing', detail: `no id is pinned for ${region}` });
    const none = { send: async () => ({ PrefixLists: [] }) };
    expect((await edgeChecks(config, { ...clients(region), ec2: none as never }))[0]).toEqual({
      name: 'cloudfront prefix list',
      status: 'missing',
      detail: `${region} has no prefix list named com.amazonaws.global.cloudfront.origin-facing, which the load balancer behind CloudFront admits its VPC origin from`,
      fix: 'deploy the stage to a region that has it (lib/app/origin-facing-prefix-lists.json lists those known)',
    });
    // Without CloudFront nothing admits the list: no check.
    // (A pilot light needs CloudFront: off with it.)
    const noEdge = staging({ 'staging.region': region, 'staging.edge.enabled': 'false', 'staging.dr.pilotLight': 'false' });
    expect((await edgeChecks(noEdge, clients(region))).map((c) => c.name)).toEqual(['session manager preferences']);
  });

  test("Session Manager preferences that encrypt sessions with a KMS key: a warning, since the database shell's role cannot use the key", async () => {
    // A region of this file's own, whose preferences document is created here and removed after.
    const region = 'eu-west-3';
    const config = staging({ 'staging.region': region });
    const ssm = new SSMClient(moto.clientConfig(region));
    const preferences = (kmsKeyId: string) =>
      ssm.send(
        new CreateDocumentCommand({
          Name: SESSION_PREFERENCES,
          DocumentType: 'Session',
          DocumentFormat: 'JSON',
          Content: JSON.stringify({
            schemaVersion: '1.0',
            description: 'Document to hold regional settings for Session Manager',
            sessionType: 'Standard_Stream',
            inputs: { s3BucketName: '', s3KeyPrefix: '', s3EncryptionEnabled: true, cloudWatchLogGroupName: '', kmsKeyId, runAsEnabled: false, idleSessionTimeout: '20' },
          }),
        }),
      );
    const sessionCheck = async () => (await edgeChecks(config, clients(region))).find((c) => c.name === 'session manager preferences');
    expect(await sessionCheck()).toEqual({
      name: 'session manager preferences',
      status: 'ok',
      detail: `no Session Manager preferences in ${region} (SSM-SessionManagerRunShell): sessions are not encrypted with a KMS key of the account`,
    });
    try {
      await preferences('');
      expect(await sessionCheck()).toEqual({ name: 'session manager preferences', status: 'ok', detail: `the Session Manager preferences in ${region} set no KMS key` });
      await ssm.send(new DeleteDocumentCommand({ Name: SESSION_PREFERENCES }));
      await preferences('alias/session-manager');
      expect(await sessionCheck()).toEqual({
        name: 'session manager preferences',
        status: 'warn',
        detail: `the Session Manager preferences in ${region} (SSM-SessionManagerRunShell) encrypt sessions with the KMS key alias/session-manager: the database shell's host needs kms:Decrypt on it, which its role does not hold, so npm run db-shell's sessions would fail`,
        fix: "allow kms:Decrypt on alias/session-manager to the database shell's instance role (DatabaseShell/Role of staging-Data) in that key's policy, or clear the KMS key in the Session Manager preferences",
      });
      // A warning: the stage is still ready to deploy.
      const whole = await preflight(config, clients(region), options({ originFacingPrefixLists: { [region]: await originFacingIn(region) } }));
      expect(whole.checks.find((c) => c.name === 'session manager preferences')?.status).toBe('warn');
      expect(whole.checks.find((c) => c.name === 'cloudfront prefix list')?.status).toBe('ok');
    } finally {
      await ssm.send(new DeleteDocumentCommand({ Name: SESSION_PREFERENCES })).catch(() => undefined);
    }
    // An answer other than "no such document" cannot tell.
    const denied = { send: async () => Promise.reject(Object.assign(new Error('not authorized to perform ssm:GetDocument'), { name: 'AccessDeniedException' })) };
    expect((await edgeChecks(config, { ...clients(region), ssm: () => denied as never })).find((c) => c.name === 'session manager preferences')).toEqual({
      name: 'session manager preferences',
      status: 'error',
      detail: 'could not check: AccessDeniedException: not authorized to perform ssm:GetDocument',
    });
  });

  test('an image or a running image that is not tagged as a release: not ready, and the command that tags it', async () => {
    // A stage in a region of its own: its registry holds a build never released, which its web tasks run.
    const region = 'eu-west-3';
    const ecr = new ECRClient(moto.clientConfig(region));
    await ecr.send(new CreateRepositoryCommand({ repositoryName: 'webapp' }));
    const build = await ecr.send(
      new PutImageCommand({
        repositoryName: 'webapp',
        imageTag: 'v2.0.0',
        imageManifest: imageManifest('preflight unreleased'),
      }),
    );
    const digest = build.image!.imageId!.imageDigest!;
    // The same build carries its CI tag too, which expires unless the image is a release.
    await ecr.send(new PutImageCommand({ repositoryName: 'webapp', imageTag: 'sha-3f9a1c2', imageManifest: imageManifest('preflight unreleased') }));
    const ecs = new ECSClient(moto.clientConfig(region));
    await ecs.send(new CreateClusterCommand({ clusterName: 'staging-App-Cluster' }));
    const td = await ecs.send(
      new RegisterTaskDefinitionCommand({
        family: 'stagingAppWebTask',
        containerDefinitions: [{ name: 'app', memory: 512, image: `${ACCOUNT}.dkr.ecr.${region}.amazonaws.com/webapp:v2.0.0` }],
      }),
    );
    await ecs.send(
      new CreateServiceCommand({ cluster: 'staging-App-Cluster', serviceName: 'staging-App-WebService', taskDefinition: td.taskDefinition!.taskDefinitionArn, desiredCount: 1 }),
    );
    await new CloudFormationClient(moto.clientConfig(region)).send(
      new CreateStackCommand({
        StackName: 'staging-App',
        TemplateBody: JSON.stringify({
          Resources: { Topic: { Type: 'AWS::SNS::Topic' } },
          Outputs: { ClusterName: { Value: 'staging-App-Cluster' }, WebServiceName: { Value: 'staging-App-WebService' } },
        }),
      }),
    );
    const result = await preflight(staging({ 'staging.region': region, 'staging.image.tag': 'v2.0.0' }), clients(region), options());
    expect(result.checks.find((c) => c.name === 'image')).toEqual({
      name: 'image',
      status: 'missing',
      detail: `v2.0.0 is in ${ACCOUNT}/${region} webapp (${digest}) but not tagged as a release: its build tags expire after 30 days`,
      fix: `npm run release-tag -- --stage staging --image ${digest} --yes`,
    });
    expect(result.checks.find((c) => c.name === 'running release')).toEqual({
      name: 'running release',
      status: 'missing',
      detail: `staging runs v2.0.0 (${digest}), which is not tagged as a release: its build tags expire after 30 days`,
      fix: 'npm run release-tag -- --stage staging --running --yes',
    });
    expect(result.exitCode).toBe(1);
    await tagRelease(ecr, 'webapp', digest);
    const tagged = await preflight(staging({ 'staging.region': region, 'staging.image.tag': 'v2.0.0' }), clients(region), options());
    expect(tagged.checks.filter((c) => ['image', 'running release'].includes(c.name)).map((c) => c.status)).toEqual(['ok', 'ok']);
  });

  test('the database engine moves only forward, and to a new major only when allowed', async () => {
    // A staging instance of its own, in a region no other test uses.
    const region = 'sa-east-1';
    const rds = new RDSClient(moto.clientConfig(region));
    await rds.send(
      new CreateDBInstanceCommand({
        DBInstanceIdentifier: 'webapp-staging',
        Engine: 'postgres',
        EngineVersion: '16.9',
        DBInstanceClass: 'db.t4g.medium',
        MasterUsername: 'postgres',
        MasterUserPassword: 'not-a-real-password',
        AllocatedStorage: 20,
      }),
    );
    const at = (context: Record<string, string>) => engineCheck(staging({ 'staging.region': region, ...context }), { ...clients(region), rds: () => rds });
    expect(await at({ 'staging.database.engineVersion': '17.6' })).toEqual({
      status: 'missing',
      detail: 'PostgreSQL 16.9 to 17.6 is a major version upgrade, which the instance update refuses without database.allowMajorVersionUpgrade (and the stack would roll back).',
      fix: 'follow docs/runbooks.md, "Upgrade PostgreSQL to a new major version"',
    });
    expect(await at({ 'staging.database.engineVersion': '17.6', 'staging.database.allowMajorVersionUpgrade': 'true' })).toMatchObject({
      status: 'warn',
      detail: expect.stringMatching(/^the deploy upgrades webapp-staging from PostgreSQL 16\.9 to 17\.6 in place/),
    });
    expect(await at({ 'staging.database.engineVersion': '16.10' })).toEqual({
      status: 'ok',
      detail: 'the deploy upgrades webapp-staging from PostgreSQL 16.9 to 16.10 (a minor upgrade: a restart)',
    });
    expect(await at({ 'staging.database.engineVersion': '16.9', 'staging.database.allowMajorVersionUpgrade': 'true' })).toMatchObject({
      status: 'warn',
      fix: 'set database.allowMajorVersionUpgrade: false',
    });
    await rds.send(new ModifyDBInstanceCommand({ DBInstanceIdentifier: 'webapp-staging', EngineVersion: '17.6', ApplyImmediately: true, AllowMajorVersionUpgrade: true }));
    expect(await at({ 'staging.database.engineVersion': '17.5' })).toMatchObject({
      status: 'missing',
      detail: 'PostgreSQL 17.6 cannot go back to 17.5: RDS upgrades in place, never down.',
    });
    expect(await at({ 'staging.database.engineVersion': '16.13', 'staging.database.allowMajorVersionUpgrade': 'true' })).toMatchObject({ status: 'missing' });
    expect(await at({ 'staging.database.engineVersion': '17.6' })).toEqual({ status: 'ok', detail: 'webapp-staging runs PostgreSQL 17.6, as configured' });
  });

  test("the RPO: the database's automated backups replicated to the DR region, restorable to within 15 minutes of now", async () => {
    // The engine test above left webapp-staging in sa-east-1 (moto). moto neither replicates
    // automated backups across regions nor gives a restore window: the DR region's answer is a stub.
    const config = staging({ 'staging.region': 'sa-east-1' });
    const primary = (await new RDSClient(moto.clientConfig('sa-east-1')).send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: 'webapp-staging' }))).DBInstances![0];
    const asked: unknown[] = [];
    const withReplicas = (latest?: Date) => ({
      ...clients('sa-east-1'),
      rds: (region: string) =>
        (region === 'sa-east-1'
          ? new RDSClient(moto.clientConfig(region))
          : {
              send: async (command: DescribeDBInstanceAutomatedBackupsCommand) => {
                asked.push(command.input);
                return {
                  DBInstanceAutomatedBackups: latest
                    ? [{ Status: 'replicating', RestoreWindow: { EarliestTime: new Date(Date.parse('2026-11-24T08:00:00Z')), LatestTime: latest } }]
                    : [],
                };
              },
            }) as never,
    });
    const check = async (latest?: Date) => ({ name: 'database backups eu-central-1', ...(await drBackupsCheck(config, withReplicas(latest), options())) });
    // clock: 2026-12-01T08:00:00Z
    expect(await check(new Date('2026-12-01T07:55:00Z'))).toEqual({
      name: 'database backups eu-central-1',
      status: 'ok',
      detail: 'webapp-staging is restorable in eu-central-1 to 2026-12-01T07:55:00.000Z (5 minutes ago, within the 15-minute RPO)',
    });
    expect(asked).toEqual([{ DbiResourceId: primary.DbiResourceId }]);
    expect(await check(new Date('2026-12-01T07:44:00Z'))).toMatchObject({
      status: 'missing',
      detail: 'webapp-staging is restorable in eu-central-1 to 2026-12-01T07:44:00.000Z only, 16 minutes ago: beyond the 15-minute RPO',
      fix: expect.stringMatching(/^look at the replication \(RDS console, eu-central-1, Automated backups, Replicated backups/),
    });
    expect(await check(undefined)).toEqual({
      name: 'database backups eu-central-1',
      status: 'missing',
      detail:
        "webapp-staging's automated backups are not replicated to eu-central-1: after a region loss the newest copy there is the daily backup vault's (up to a day of data lost, not 15 minutes)",
      fix: `deploy 'staging/Data' with backup.automatedBackupReplicationDays above 0 (it turns the replication on), or: aws rds start-db-instance-automated-backups-replication --region eu-central-1 --source-db-instance-arn ${primary.DBInstanceArn} --kms-key-id <BackupKeyArn output of staging-Dr> --backup-retention-period 7`,
    });
  });

  test('an image that is not in the stage registry: not ready, and how to check the replication', async () => {
    const result = await preflight(staging(), clients(), options({ image: DIGEST }));
    const image = result.checks.find((c) => c.name === 'image')!;
    expect(result.exitCode).toBe(1);
    // The source registry is in the staging account of the shipped config, not moto's.
    expect(image).toMatchObject({ status: 'missing', detail: `${DIGEST} is not in ${ACCOUNT}/eu-west-1 webapp` });
    expect(image.fix).toMatch(
      /^CI pushes to 222222222222\/eu-west-1, which replicates it here within minutes of the push\. Check it was pushed and replicated: aws ecr describe-image-replication-status --registry-id 222222222222/,
    );
    expect(image.fix).toContain(`--repository-name webapp --image-id imageDigest=${DIGEST} (images pushed`);
  });

  test('an image that arrives while preflight waits (replication is asynchronous)', async () => {
    const ecr = new ECRClient(moto.clientConfig());
    let waited = 0;
    // Without a pilot light, whose DR image check would wait beside this one (its own test is below).
    const result = await preflight(staging({ 'staging.dr.pilotLight': 'false' }), clients(), {
      ...options({ image: 'v0.2.0', waitForImageSeconds: 120 }),
      sleep: async (ms) => {
        clock += ms;
        waited += ms;
        if (waited !== 30_000) return;
        // Replicated, then tagged as a release there (the release-tag step before preflight in the workflow).
        const arrived = await ecr.send(new PutImageCommand({ repositoryName: 'webapp', imageTag: 'v0.2.0', imageManifest: imageManifest('preflight v0.2.0') }));
        await tagRelease(ecr, 'webapp', arrived.image!.imageId!.imageDigest!);
      },
    });
    expect(result.checks.find((c) => c.name === 'image')).toMatchObject({ status: 'ok', detail: expect.stringMatching(/^v0\.2\.0 is in .*, tagged as a release$/) });
    expect(waited).toBe(30_000);

    const gone = await preflight(staging(), clients(), options({ image: 'v9.9.9', waitForImageSeconds: 60 }));
    expect(gone.checks.find((c) => c.name === 'image')!.detail).toBe(`v9.9.9 is not in ${ACCOUNT}/eu-west-1 webapp after waiting 60 s`);
  });

  test('a region without the CDK bootstrap: not ready, with the bootstrap command', async () => {
    const result = await preflight(staging({ 'staging.drRegion': 'eu-north-1' }), clients(), options());
    expect(result.exitCode).toBe(1);
    expect(result.checks.find((c) => c.name === 'bootstrap eu-north-1')).toEqual({
      name: 'bootstrap eu-north-1',
      status: 'missing',
      detail: `${ACCOUNT}/eu-north-1 is not bootstrapped for CDK`,
      fix: `npx cdk bootstrap aws://${ACCOUNT}/eu-north-1`,
    });
  });

  test("a stage behind CloudFront needs us-east-1 bootstrapped (the edge stack's region); one without does not ask", async () => {
    await new SSMClient(moto.clientConfig('us-east-1')).send(new DeleteParameterCommand({ Name: '/cdk-bootstrap/hnb659fds/version' }));
    try {
      const result = await preflight(staging(), clients(), options());
      expect(result.exitCode).toBe(1);
      expect(result.checks.find((c) => c.name === 'bootstrap us-east-1')).toEqual({
        name: 'bootstrap us-east-1',
        status: 'missing',
        detail: `${ACCOUNT}/us-east-1 is not bootstrapped for CDK`,
        fix: `npx cdk bootstrap aws://${ACCOUNT}/us-east-1`,
      });
      // (A pilot light needs CloudFront: off with it.)
      const without = await preflight(staging({ 'staging.edge.enabled': 'false', 'staging.dr.pilotLight': 'false' }), clients(), options());
      expect(without.checks.map((c) => c.name)).not.toContain('bootstrap us-east-1');
    } finally {
      await new SSMClient(moto.clientConfig('us-east-1')).send(new PutParameterCommand({ Name: '/cdk-bootstrap/hnb659fds/version', Value: '27', Type: 'String', Overwrite: true }));
    }
  });

  test('a zone that public DNS does not delegate to: not ready, with the NS records to add in the parent zone', async () => {
    const elsewhere = ['ns-1.other-dns.example', 'ns-2.other-dns.example'];
    for (const answer of [async () => elsewhere, async () => Promise.reject(Object.assign(new Error('queryNs ENOTFOUND'), { code: 'ENOTFOUND' }))]) {
      const result = await preflight(staging(), clients(), options({ resolveNs: answer }));
      const dns = result.checks.find((c) => c.name === 'dns')!;
      expect(result.exitCode).toBe(1);
      expect(dns.status).toBe('missing');
      expect(dns.detail).toMatch(/^staging\.example\.com is not delegated to its zone \w+: public DNS answers /);
      expect(dns.fix).toBe(
        `in the example.com zone, create the NS record staging.example.com with ${zoneNs
          .map((n) => n.toLowerCase())
          .sort()
          .join(' ')} (the certificate and SES identity cannot validate before that)`,
      );
    }
  });

  // moto lists every zone of the name and ignores MaxItems; Route 53 returns at most MaxItems,
  // so the stand-in cuts the list where Route 53 would.
  test("a private zone of the same name, listed first, is not taken for the stage's public zone", async () => {
    const route53 = new Route53Client(moto.clientConfig('us-east-1'));
    const paged = {
      send: async (command: ListHostedZonesByNameCommand | GetHostedZoneCommand) => {
        const answer = await route53.send(command as never);
        if (!(command instanceof ListHostedZonesByNameCommand)) return answer;
        const listed = answer as { HostedZones?: { Config?: { PrivateZone?: boolean } }[] };
        expect(listed.HostedZones?.[0]?.Config?.PrivateZone).toBe(true);
        return { ...listed, HostedZones: listed.HostedZones?.slice(0, command.input.MaxItems ?? 100) };
      },
    };
    const result = await preflight(staging(), { ...clients(), route53: paged as never }, options());
    expect(result.checks.find((c) => c.name === 'dns')).toMatchObject({ status: 'ok' });
  });

  test('a zone that does not exist yet: deploy the network stack first', async () => {
    const result = await preflight(
      staging({ 'staging.domain': '{"zoneName":"nowhere.example.com","recordName":"nowhere.example.com","parentZoneName":"example.com"}' }),
      clients(),
      options(),
    );
    expect(result.checks.find((c) => c.name === 'dns')).toMatchObject({
      status: 'missing',
      fix: "deploy 'staging/Network' first (it creates the zone), then delegate it from example.com and run preflight again",
    });
  });

  test('a nearly full snapshot quota, or one smaller than the design holds: not ready', async () => {
    rdsMock['eu-central-1'].on(DescribeAccountAttributesCommand).resolves({ AccountQuotas: [{ AccountQuotaName: 'ManualSnapshots', Used: 97, Max: 100 }] });
    const full = await preflight(staging(), clients(), options());
    expect(full.exitCode).toBe(1);
    expect(full.checks.find((c) => c.name === 'snapshot quota eu-central-1')).toMatchObject({
      status: 'missing',
      detail: '97 of 100 manual snapshots are used: the next pre-deploy snapshot or backup may fail',
    });
    expect(statusOf(full)['snapshot quota eu-west-1']).toBe('ok');

    rdsMock['eu-west-1'].on(DescribeAccountAttributesCommand).resolves({ AccountQuotas: [{ AccountQuotaName: 'ManualSnapshots', Used: 0, Max: 20 }] });
    const small = await preflight(staging(), clients(), options());
    expect(small.checks.find((c) => c.name === 'snapshot quota eu-west-1')!.detail).toBe("the account's quota is 20 manual snapshots, but backup.manualSnapshotQuota says 100");
  });

  test('the caller in another account: not ready, and nothing else is checked there', async () => {
    const result = await preflight(staging({ 'staging.account': '222222222222' }), clients(), options());
    expect(result).toEqual({
      exitCode: 1,
      checks: [
        {
          name: 'account',
          status: 'missing',
          detail: `the caller (arn:aws:sts::${ACCOUNT}:user/moto) is in ${ACCOUNT}, but staging deploys to 222222222222`,
          fix: 'use credentials of 222222222222 (the staging deploy role), or correct the account: -c staging.account=...',
        },
      ],
    });
  });

  test('the SES sandbox blocks a stage that requires production access (prod) and warns elsewhere', async () => {
    sesMock.on(GetAccountCommand).resolves({ ProductionAccessEnabled: false });
    const stagingResult = await preflight(staging(), clients(), options());
    expect(stagingResult.checks.find((c) => c.name === 'ses')!.status).toBe('warn');
    expect(stagingResult.exitCode).toBe(0);
    expect(formatPreflight(staging(), stagingResult).split('\n').at(-1)).toBe('READY: staging can be deployed (read the warnings).');
    // A stage that requires production access, as prod does (email.requireProductionAccess), in moto's account.
    const prod = staging({ 'staging.email.requireProductionAccess': 'true' });
    const prodResult = await preflight(prod, clients(), options());
    expect(prodResult.checks.find((c) => c.name === 'ses')).toMatchObject({
      status: 'missing',
      detail: 'SES in eu-west-1 is in the sandbox: mail reaches only verified addresses, 200 a day',
    });
    expect(prodResult.exitCode).toBe(1);
  });

  test('the bootstrap needs version 8 or newer', async () => {
    const ssm = new SSMClient(moto.clientConfig('eu-north-1'));
    const config = staging({ 'staging.drRegion': 'eu-north-1' });
    try {
      await ssm.send(new PutParameterCommand({ Name: '/cdk-bootstrap/hnb659fds/version', Value: '8', Type: 'String', Overwrite: true }));
      expect((await preflight(config, clients(), options())).checks.find((c) => c.name === 'bootstrap eu-north-1')).toMatchObject({
        status: 'ok',
        detail: 'CDK bootstrap version 8',
      });
      // Only "no such parameter" means not bootstrapped; any other error cannot tell.
      const denied = { send: async () => Promise.reject(Object.assign(new Error('not authorized to perform ssm:GetParameter'), { name: 'AccessDeniedException' })) };
      const base = clients();
      const deniedThere = { ...base, ssm: (region: string) => (region === 'eu-north-1' ? (denied as never) : base.ssm(region)) };
      expect((await preflight(config, deniedThere, options())).checks.find((c) => c.name === 'bootstrap eu-north-1')).toEqual({
        name: 'bootstrap eu-north-1',
        status: 'error',
        detail: 'could not check: AccessDeniedException: not authorized to perform ssm:GetParameter',
      });
      await ssm.send(new PutParameterCommand({ Name: '/cdk-bootstrap/hnb659fds/version', Value: '7', Type: 'String', Overwrite: true }));
      expect((await preflight(config, clients(), options())).checks.find((c) => c.name === 'bootstrap eu-north-1')).toEqual({
        name: 'bootstrap eu-north-1',
        status: 'missing',
        detail: 'CDK bootstrap version 7 is older than 8',
        fix: `npx cdk bootstrap aws://${ACCOUNT}/eu-north-1`,
      });
    } finally {
      await ssm.send(new DeleteParameterCommand({ Name: '/cdk-bootstrap/hnb659fds/version' }));
    }
  });

  test('the image: by digest too; a missing repository says to deploy the registry; a registry that is its own source says to push', async () => {
    const ecr = new ECRClient(moto.clientConfig());
    const digest = (await ecr.send(new DescribeImagesCommand({ repositoryName: 'webapp', imageIds: [{ imageTag: 'v0.1.0' }] }))).imageDetails![0].imageDigest!;
    expect((await preflight(staging(), clients(), options({ image: digest }))).checks.find((c) => c.name === 'image')).toMatchObject({ status: 'ok' });

    const own = staging();
    const noRepository = await preflight({ ...own, image: { ...own.image, repositoryName: 'webapp-nowhere' } }, clients(), options());
    expect(noRepository.checks.find((c) => c.name === 'image')).toEqual({
      name: 'image',
      status: 'missing',
      detail: `${ACCOUNT}/eu-west-1 webapp-nowhere: the repository does not exist`,
      fix: `deploy the registry stack first: npx cdk deploy Registry-${ACCOUNT}-eu-west-1-webapp-nowhere`,
    });

    const ownSource = { ...own, image: { ...own.image, source: { account: ACCOUNT, region: 'eu-west-1' } } };
    expect((await preflight(ownSource, clients(), options({ image: 'v9.9.9' }))).checks.find((c) => c.name === 'image')?.fix).toBe(
      `push it: docker buildx build --platform linux/arm64 --provenance=false -t ${ACCOUNT}.dkr.ecr.eu-west-1.amazonaws.com/webapp:v9.9.9 --push .`,
    );

    const otherRegion = { ...own, image: { ...own.image, source: { account: ACCOUNT, region: 'eu-central-1' } } };
    expect((await preflight(otherRegion, clients(), options({ image: 'v9.9.9' }))).checks.find((c) => c.name === 'image')?.fix).toMatch(
      new RegExp(`^CI pushes to ${ACCOUNT}/eu-central-1, which replicates it here .* --image-id imageTag=v9\\.9\\.9 `),
    );

    // Waiting polls every 10 s up to the limit, not past it.
    const start = clock;
    await preflight(staging(), clients(), options({ image: 'v9.9.9', waitForImageSeconds: 60 }));
    expect(clock - start).toBe(60_000);

    // An error that is not "not found" cannot tell: could not check.
    const denied = { send: async () => Promise.reject(Object.assign(new Error('not authorized to perform ecr:DescribeImages'), { name: 'AccessDeniedException' })) };
    expect((await preflight(staging(), { ...clients(), ecr: denied as never }, options())).checks.find((c) => c.name === 'image')).toEqual({
      name: 'image',
      status: 'error',
      detail: 'could not check: AccessDeniedException: not authorized to perform ecr:DescribeImages',
    });
  });

  test('a stage without a domain has no DNS or SES check; a resolver failure other than "no answer" cannot tell', async () => {
    const names = (await preflight({ ...staging(), domain: undefined }, clients(), options())).checks.map((c) => c.name);
    expect(names).not.toContain('dns');
    expect(names).not.toContain('ses');
    // Public DNS may list the name servers in any order and case, with or without the final dot.
    const shuffled = async () => [...zoneNs].reverse().map((n) => `${n.toUpperCase()}.`);
    expect((await preflight(staging(), clients(), options({ resolveNs: shuffled }))).checks.find((c) => c.name === 'dns')?.status).toBe('ok');
    const noAnswer = async () => Promise.reject(Object.assign(new Error('queryNs ENODATA'), { code: 'ENODATA' }));
    expect((await preflight(staging(), clients(), options({ resolveNs: noAnswer }))).checks.find((c) => c.name === 'dns')?.detail).toMatch(/public DNS answers nothing$/);
    const servfail = async () => Promise.reject(Object.assign(new Error('queryNs ESERVFAIL staging.example.com'), { code: 'ESERVFAIL' }));
    expect((await preflight(staging(), clients(), options({ resolveNs: servfail }))).checks.find((c) => c.name === 'dns')).toEqual({
      name: 'dns',
      status: 'error',
      detail: 'could not check: Error: queryNs ESERVFAIL staging.example.com',
    });
  });

  test('the snapshot quota: ManualSnapshots among the others, each region with its own retention, full only below the headroom', async () => {
    const quotas = (used: number) => ({
      AccountQuotas: [
        { AccountQuotaName: 'DBInstances', Used: 3, Max: 40 },
        { AccountQuotaName: 'ManualSnapshots', Used: used, Max: 100 },
      ],
    });
    rdsMock['eu-west-1'].on(DescribeAccountAttributesCommand).resolves(quotas(12));
    rdsMock['eu-central-1'].on(DescribeAccountAttributesCommand).resolves(quotas(95));
    const result = await preflight(staging({ 'staging.backup.drCopyRetentionDays': '7' }), clients(), options());
    // 14 daily points in the stage region, 7 DR copies, 5 pre-deploy snapshots, 5 spare.
    expect(result.checks.filter((c) => c.name.startsWith('snapshot quota'))).toEqual([
      { name: 'snapshot quota eu-west-1', status: 'ok', detail: '12 of 100 manual snapshots used; the design holds up to 24' },
      { name: 'snapshot quota eu-central-1', status: 'ok', detail: '95 of 100 manual snapshots used; the design holds up to 17' },
    ]);
    rdsMock['eu-west-1'].on(DescribeAccountAttributesCommand).resolves({ AccountQuotas: [{ AccountQuotaName: 'DBInstances', Used: 3, Max: 40 }] });
    expect((await preflight(staging(), clients(), options())).checks.find((c) => c.name === 'snapshot quota eu-west-1')).toEqual({
      name: 'snapshot quota eu-west-1',
      status: 'error',
      detail: 'RDS did not report the ManualSnapshots quota',
    });
  });

  test('VPC, Elastic IP and NAT gateway quotas: what exists counts, the stage own resources are not counted twice', async () => {
    // EC2 in a moto region of its own (one default VPC), and every quota from a stand-in.
    const ec2 = new EC2Client(moto.clientConfig('eu-west-3'));
    const quotaClient = new ServiceQuotasClient({ region: 'eu-west-1' });
    const quotaMock = mockClient(quotaClient);
    const limits = (vpcs: number, eips: number, nats: number) => {
      quotaMock.reset();
      quotaMock.on(GetServiceQuotaCommand, { QuotaCode: 'L-F678F1CE' }).resolves({ Quota: { Value: vpcs } });
      quotaMock.on(GetServiceQuotaCommand, { QuotaCode: 'L-0263D0A3' }).resolves({ Quota: { Value: eips } });
      quotaMock.on(GetServiceQuotaCommand, { QuotaCode: 'L-FE5A380F' }).resolves({ Quota: { Value: nats } });
    };
    // A stage with NAT gateways, two of them.
    const config = staging({ 'staging.network.nat': 'gateway' });
    const quotaChecks = async () =>
      (await preflight(config, { ...clients(), ec2, serviceQuotas: quotaClient }, options())).checks.filter((c) => /quota$/.test(c.name) && !c.name.startsWith('snapshot'));
    const stage = (value: string): Tag[] => [{ Key: 'stage', Value: value }];
    try {
      // Another stage's VPC, and one whose tag names staging under another key: neither is the stage's.
      await ec2.send(new CreateVpcCommand({ CidrBlock: '10.1.0.0/16', TagSpecifications: [{ ResourceType: 'vpc', Tags: stage('prod') }] }));
      const other = await ec2.send(new CreateVpcCommand({ CidrBlock: '10.2.0.0/16', TagSpecifications: [{ ResourceType: 'vpc', Tags: [{ Key: 'Name', Value: 'staging' }] }] }));
      // Elastic IPs: the stage's one, another stage's, an untagged one.
      for (const tags of [stage('staging'), stage('prod'), []]) {
        const { AllocationId } = await ec2.send(new AllocateAddressCommand({ Domain: 'vpc' }));
        if (tags.length) await ec2.send(new CreateTagsCommand({ Resources: [AllocationId!], Tags: tags }));
      }
      // NAT gateways (private ones, which need no address): in subnet a two others, the stage's
      // own and a deleted one; in subnet b another.
      const subnet = async (cidr: string) => (await ec2.send(new CreateSubnetCommand({ VpcId: other.Vpc!.VpcId, CidrBlock: cidr }))).Subnet!.SubnetId!;
      const [a, b] = [await subnet('10.2.1.0/24'), await subnet('10.2.2.0/24')];
      const nat = async (SubnetId: string, tags: Tag[] = []) =>
        (await ec2.send(new CreateNatGatewayCommand({ SubnetId, ConnectivityType: 'private', TagSpecifications: [{ ResourceType: 'natgateway', Tags: tags }] }))).NatGateway!
          .NatGatewayId!;
      await nat(a);
      await nat(a);
      await nat(a, stage('staging'));
      await ec2.send(new DeleteNatGatewayCommand({ NatGatewayId: await nat(a) }));
      await nat(b);

      limits(4, 4, 3);
      expect(await quotaChecks()).toEqual([
        { name: 'vpc quota', status: 'ok', detail: '3 of 4 VPCs in eu-west-1, one more for the stage' },
        { name: 'elastic ip quota', status: 'ok', detail: '3 of 4 Elastic IPs in eu-west-1; the NAT gateways need 1 more' },
        { name: 'nat gateway quota', status: 'ok', detail: 'at most 2 other NAT gateway(s) per subnet, 3 allowed per AZ' },
      ]);
      limits(3, 3, 2);
      expect(await quotaChecks()).toEqual([
        {
          name: 'vpc quota',
          status: 'missing',
          detail: '3 of 3 VPCs in eu-west-1 exist and the stage needs one more',
          fix: 'raise "VPCs per Region" in Service Quotas, or delete an unused VPC',
        },
        {
          name: 'elastic ip quota',
          status: 'missing',
          detail: '3 of 3 Elastic IPs in eu-west-1 are taken and the 2 NAT gateway(s) need 1 more',
          fix: 'raise "EC2-VPC Elastic IPs" in Service Quotas, or release unused addresses',
        },
        {
          name: 'nat gateway quota',
          status: 'missing',
          detail: '2 NAT gateways already run in one place and 2 are allowed per AZ',
          fix: 'raise "NAT gateways per Availability Zone" in Service Quotas',
        },
      ]);
      // Once the stage has its VPC and both addresses, it needs no more of either.
      await ec2.send(new CreateVpcCommand({ CidrBlock: '10.3.0.0/16', TagSpecifications: [{ ResourceType: 'vpc', Tags: stage('staging') }] }));
      const { AllocationId } = await ec2.send(new AllocateAddressCommand({ Domain: 'vpc' }));
      await ec2.send(new CreateTagsCommand({ Resources: [AllocationId!], Tags: stage('staging') }));
      limits(4, 4, 3);
      expect((await quotaChecks()).slice(0, 2)).toEqual([
        { name: 'vpc quota', status: 'ok', detail: "4 of 4 VPCs in eu-west-1, the stage's included" },
        { name: 'elastic ip quota', status: 'ok', detail: '4 of 4 Elastic IPs in eu-west-1; the NAT gateways need 0 more' },
      ]);
    } finally {
      quotaMock.restore();
      ec2.destroy();
    }
  });

  test('the report: one line per check, its fix under it, and the verdict with what is missing and what could not be checked', async () => {
    sesMock.on(GetAccountCommand).rejects(Object.assign(new Error('not authorized to perform ses:GetAccount'), { name: 'AccessDeniedException' }));
    const config = staging();
    const result = await preflight(config, clients(), options({ image: 'v9.9.9' }));
    expect(result.exitCode).toBe(1);
    const text = formatPreflight(config, result).split('\n');
    // Names padded to the longest, "database backups eu-central-1".
    expect(text).toContain(`  MISSING  image                          v9.9.9 is not in ${ACCOUNT}/eu-west-1 webapp`);
    expect(text[text.indexOf(`  MISSING  image                          v9.9.9 is not in ${ACCOUNT}/eu-west-1 webapp`) + 1]).toMatch(
      /^ {9} {2} {29} {2}fix: CI pushes to 222222222222\/eu-west-1/,
    );
    expect(text).toContain('  ERROR    ses                            could not check: AccessDeniedException: not authorized to perform ses:GetAccount');
    // The image is missing from the pilot light's registry too (staging keeps one), with its own fix.
    expect(text).toContain(
      `  MISSING  image eu-central-1             v9.9.9 is not in the staging registry (see the image check), so its digest cannot be looked up in ${ACCOUNT}/eu-central-1 webapp`,
    );
    expect(text.filter((l) => l.includes('fix:'))).toHaveLength(2);
    expect(text.at(-1)).toBe('NOT READY: 2 thing(s) missing, 1 could not be checked. Fix them and run preflight again.');
  });

  test('a check that cannot run is reported, and the exit code is 2 when nothing is missing', async () => {
    sesMock.on(GetAccountCommand).rejects(Object.assign(new Error('not authorized to perform ses:GetAccount'), { name: 'AccessDeniedException' }));
    const result = await preflight(staging(), clients(), options());
    expect(result.checks.find((c) => c.name === 'ses')).toEqual({
      name: 'ses',
      status: 'error',
      detail: 'could not check: AccessDeniedException: not authorized to perform ses:GetAccount',
    });
    expect(result.exitCode).toBe(2);
    expect(formatPreflight(staging(), result).split('\n').at(-1)).toMatch(/^COULD NOT CHECK: 1 check\(s\) failed to run/);
  });
});

describe('the pilot light: what the DR region must hold before a disaster (staging and prod keep one)', () => {
  const pilotChecks = (result: Awaited<ReturnType<typeof preflight>>, region: string) =>
    result.checks.filter((c) =>
      [`bootstrap ${region}`, `ses ${region}`, `image ${region}`, `ses identity ${region}`, `subnet groups ${region}`, `database backups ${region}`].includes(c.name),
    );

  test('a DR region where nothing is deployed yet: each check says what to deploy or run there, the CDK bootstrap first', async () => {
    // A region of this test's own, with nothing in it (the bootstrap test above removes its parameter after it).
    const region = 'eu-north-1';
    const config = staging({ 'staging.drRegion': region });
    await new SSMClient(moto.clientConfig(region)).send(new DeleteParameterCommand({ Name: '/cdk-bootstrap/hnb659fds/version' })).catch(() => undefined);
    sesElsewhereMock.on(GetAccountCommand).resolves({ ProductionAccessEnabled: false });
    const result = await preflight(config, clients('eu-west-1', region), options());
    expect(result.exitCode).toBe(1);
    const names = pilotLightNames('staging');
    expect(pilotChecks(result, region)).toEqual([
      // The pilot light needs backup.drCopies, so the DR region is among the stage's deploy regions.
      { name: `bootstrap ${region}`, status: 'missing', detail: `${ACCOUNT}/${region} is not bootstrapped for CDK`, fix: `npx cdk bootstrap aws://${ACCOUNT}/${region}` },
      {
        name: `ses ${region}`,
        status: 'warn',
        detail: `SES in ${region} is in the sandbox: mail reaches only verified addresses, 200 a day`,
        fix: `request production access in ${region} too (it is granted per region): SES console, Account dashboard, "Request production access" (docs/app-contract.md, "Email (SES)")`,
      },
      {
        name: `image ${region}`,
        status: 'missing',
        detail: `${ACCOUNT}/${region} webapp: the repository does not exist`,
        fix: `deploy the DR registry stack first: npx cdk deploy Registry-${ACCOUNT}-${region}-webapp, then npm run dr-images -- --stage staging --yes`,
      },
      {
        name: `ses identity ${region}`,
        status: 'missing',
        detail: `SES in ${region} has no identity staging.example.com: the stage could not send mail from there`,
        fix: `deploy 'staging/PilotLight' (the staging-PilotLight stack, in ${region})`,
      },
      {
        name: `subnet groups ${region}`,
        status: 'missing',
        detail: `${region} lacks the database subnet group ${names.databaseSubnetGroup} and the cache subnet group ${names.cacheSubnetGroup}: a restored database or a new cache would have nowhere to go`,
        fix: `deploy 'staging/PilotLight' (the staging-PilotLight stack, in ${region})`,
      },
      { name: `database backups ${region}`, status: 'ok', detail: `no webapp-staging database in eu-west-1 yet: nothing to replicate to ${region}` },
    ]);
    // SES's sandbox in the DR region blocks a stage that requires production access (prod), as in its own region.
    const strict = await preflight(staging({ 'staging.drRegion': region, 'staging.email.requireProductionAccess': 'true' }), clients('eu-west-1', region), options());
    expect(strict.checks.find((c) => c.name === `ses ${region}`)?.status).toBe('missing');
    expect(strict.checks.find((c) => c.name === 'ses')?.status).toBe('ok');
  });

  test('the release in the DR registry: a copy missing, a release tag missing, or an image that is no release yet, each with its command', async () => {
    const primary = new ECRClient(moto.clientConfig());
    const dr = new ECRClient(moto.clientConfig('eu-central-1'));
    const push = async (ecr: ECRClient, tag: string, seed: string) =>
      (await ecr.send(new PutImageCommand({ repositoryName: 'webapp', imageTag: tag, imageManifest: imageManifest(seed) }))).image!.imageId!.imageDigest!;
    const drImage = async (image: string) => ({ name: 'image eu-central-1', ...(await drImageCheck(staging(), clients(), options({ image }))) });
    // Released before the DR registry existed: not there.
    const early = await push(primary, 'v0.3.0', 'preflight v0.3.0');
    await tagRelease(primary, 'webapp', early);
    expect(await drImage('v0.3.0')).toEqual({
      name: 'image eu-central-1',
      status: 'missing',
      detail: `v0.3.0 (${early}) is not in ${ACCOUNT}/eu-central-1 webapp: a failover could not run it`,
      fix: 'npm run dr-images -- --stage staging --yes',
    });
    // Replicated with its build tag, released in the stage's registry only: its build tag would expire there.
    const replicated = await push(primary, 'v0.4.0', 'preflight v0.4.0');
    await tagRelease(primary, 'webapp', replicated);
    await push(dr, 'v0.4.0', 'preflight v0.4.0');
    expect(await drImage(replicated)).toEqual({
      name: 'image eu-central-1',
      status: 'missing',
      detail: `${replicated} is in ${ACCOUNT}/eu-central-1 webapp (${replicated}) but not tagged as a release: its build tags expire after 30 days, and a failover would find no image`,
      fix: `npm run release-tag -- --stage staging --image ${replicated} --yes`,
    });
    // A build not released yet: dr-images copies releases alone, so it is tagged first.
    const build = await push(primary, 'v0.5.0', 'preflight v0.5.0');
    expect((await drImage('v0.5.0'))?.fix).toBe(`npm run release-tag -- --stage staging --image ${build} --yes, then npm run dr-images -- --stage staging --yes`);
    // Tagged in the DR registry (release-tag does it there too): ready.
    await tagRelease(dr, 'webapp', replicated);
    expect(await drImage('v0.4.0')).toEqual({
      name: 'image eu-central-1',
      status: 'ok',
      detail: `v0.4.0 is in ${ACCOUNT}/eu-central-1 webapp (${replicated}), tagged as a release`,
    });
  });

  test('the DR image may arrive while preflight waits (replication is asynchronous)', async () => {
    const primary = new ECRClient(moto.clientConfig());
    const dr = new ECRClient(moto.clientConfig('eu-central-1'));
    const digest = (await primary.send(new PutImageCommand({ repositoryName: 'webapp', imageTag: 'v0.6.0', imageManifest: imageManifest('preflight v0.6.0') }))).image!.imageId!
      .imageDigest!;
    await tagRelease(primary, 'webapp', digest);
    let waited = 0;
    const result = await drImageCheck(staging(), clients(), {
      ...options({ image: 'v0.6.0', waitForImageSeconds: 120 }),
      sleep: async (ms) => {
        clock += ms;
        waited += ms;
        if (waited !== 30_000) return;
        // Replicated, then tagged as a release there (the release-tag step before preflight in the workflow).
        await dr.send(new PutImageCommand({ repositoryName: 'webapp', imageTag: 'v0.6.0', imageManifest: imageManifest('preflight v0.6.0') }));
        await tagRelease(dr, 'webapp', digest);
      },
    });
    expect(result).toMatchObject({ status: 'ok' });
    expect(waited).toBe(30_000);
    // Waiting for one that never comes polls every 10 s up to the limit, and says how long it waited.
    const start = clock;
    const never = await drImageCheck(staging(), clients(), options({ image: 'v0.3.0', waitForImageSeconds: 60 }));
    expect(never.detail).toMatch(/ is not in .* after waiting 60 s: a failover could not run it$/);
    expect(clock - start).toBe(60_000);
  });

  test("an SES identity SES has not verified yet (a state moto cannot give: it verifies at once, so a stub answers) says to check the zone's DKIM records", async () => {
    const base = clients();
    const pending = {
      ...base,
      sesv2: (region: string) =>
        ({
          send: async (command: object) =>
            command instanceof GetEmailIdentityCommand ? { IdentityType: 'DOMAIN', VerificationStatus: 'PENDING' } : base.sesv2(region).send(command as never),
        }) as never,
    };
    expect(await sesIdentityCheck(staging(), pending)).toEqual({
      status: 'missing',
      detail:
        'the SES identity staging.example.com in eu-central-1 is not verified (PENDING): SES checks its DKIM records in the staging.example.com zone for up to 72 hours after the deploy',
      fix: "check that the staging.example.com zone holds the identity's three DKIM CNAME records (SES console, eu-central-1, Identities, staging.example.com), or deploy 'staging/PilotLight' (the staging-PilotLight stack, in eu-central-1) again",
    });
  });

  test('a stage without a pilot light has none of these checks; a refusal other than "not found" cannot tell', async () => {
    const names = (await preflight(staging({ 'staging.dr.pilotLight': 'false' }), clients(), options())).checks.map((c) => c.name);
    expect(names.filter((n) => n.endsWith('eu-central-1'))).toEqual([
      'bootstrap eu-central-1',
      'snapshot quota eu-central-1',
      'guardduty eu-central-1',
      'security hub eu-central-1',
      'config recorder eu-central-1',
    ]);
    const denied = { send: async () => Promise.reject(Object.assign(new Error('not authorized to perform rds:DescribeDBSubnetGroups'), { name: 'AccessDenied' })) };
    expect((await pilotLightChecks(staging(), { ...clients(), rds: () => denied as never }, options())).find((c) => c.name === 'subnet groups eu-central-1')).toEqual({
      name: 'subnet groups eu-central-1',
      status: 'error',
      detail: 'could not check: AccessDenied: not authorized to perform rds:DescribeDBSubnetGroups',
    });
  });
});

describe('the preflight command', () => {
  test('arguments', () => {
    expect(parseArgs(['--stage', 'prod', '-c', 'prod.account=123456789012', '--image', DIGEST, '--wait-for-image', '300', '--lookup-role'])).toEqual({
      stage: 'prod',
      context: { 'prod.account': '123456789012' },
      image: DIGEST,
      waitForImageSeconds: 300,
      lookupRole: true,
    });
    expect(() => parseArgs(['--stage', 'qa'])).toThrow(/--stage must be one of dev, staging, prod/);
    expect(() => parseArgs(['--stage', 'dev', '--wait-for-image', 'soon'])).toThrow(/--wait-for-image takes whole seconds from 0 to 3600, not "soon"/);
    expect(() => parseArgs(['--stage', 'dev', '-c', 'nokey'])).toThrow(/-c takes KEY=VALUE, not "nokey"/);
  });

  /** The command in-process, every client against moto as the spawned one below reaches it. */
  const cli = async (args: string[]) => {
    const run = await printed(() =>
      main(args, (config, settings) => defaultClients(config, { credentials: moto.clientConfig().credentials, ...settings, endpoint: moto.endpoint })),
    );
    return { status: run.result, stdout: run.stdout, stderr: run.stderr };
  };

  test('exits 1 with the list when the account is not ready, 2 on bad arguments or config', async () => {
    const wrongAccount = await cli(['--stage', 'staging']);
    expect(wrongAccount.status).toBe(1);
    expect(wrongAccount.stdout).toContain(`MISSING  account  the caller (arn:aws:sts::${ACCOUNT}:user/moto) is in ${ACCOUNT}, but staging deploys to 222222222222`);
    expect(wrongAccount.stdout.trim().split('\n').at(-1)).toBe('NOT READY: 1 thing(s) missing. Fix them and run preflight again.');

    const badArgs = await cli(['--stage', 'qa']);
    expect(badArgs.status).toBe(2);
    expect(badArgs.stdout).toBe('');
    expect(badArgs.stderr).toContain('preflight: --stage must be one of dev, staging, prod');
    const badConfig = await cli(['--stage', 'dev', '-c', 'dev.account=12']);
    expect(badConfig.status).toBe(2);
    expect(badConfig.stderr).toContain('stage "dev", field "account", value "12"');
  });

  test('the script, run as people run it (credentials and endpoint from the environment), exits 1 with the list on stdout', () => {
    const run = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'scripts', 'preflight.ts'), '--stage', 'staging'], {
      encoding: 'utf8',
      env: { ...process.env, AWS_ACCESS_KEY_ID: 'testing', AWS_SECRET_ACCESS_KEY: 'testing', AWS_ENDPOINT_URL: moto.endpoint, AWS_REGION: 'eu-west-1' },
    });
    expect(run.status).toBe(1);
    expect(run.stderr).toBe('');
    expect(run.stdout).toContain(`MISSING  account  the caller (arn:aws:sts::${ACCOUNT}:user/moto) is in ${ACCOUNT}, but staging deploys to 222222222222`);
    expect(run.stdout.trim().split('\n').at(-1)).toBe('NOT READY: 1 thing(s) missing. Fix them and run preflight again.');
  });

  test("reads the deploy's -c overrides (the same account and image the deploy will use); exits 2 when a check cannot run", async () => {
    // dev has no domain (no DNS or SES check, which would ask public DNS). RDS account quotas and
    // the Elastic IP quota have no stand-in in moto: those cannot be checked here, nothing is missing.
    // Without CloudFront: moto's origin-facing prefix list has an id of its own, not the one pinned
    // for AWS (the check against moto's is above).
    const run = await cli(['--stage', 'dev', '-c', `dev.account=${ACCOUNT}`, '-c', 'dev.image.tag=v0.1.0', '-c', 'dev.edge.enabled=false']);
    expect(run.stdout).toMatch(/ok +account/);
    expect(run.stdout).toContain('v0.1.0 is in 123456789012/eu-west-1 webapp');
    expect(run.stdout).toMatch(/ERROR +snapshot quota eu-west-1 +could not check/);
    expect(run.stdout.trim().split('\n').at(-1)).toMatch(/^COULD NOT CHECK: 2 check\(s\) failed to run; nothing was found missing/);
    expect(run.status).toBe(2);
  });
});
