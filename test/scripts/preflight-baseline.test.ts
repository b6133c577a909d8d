import { CloudFormationClient, type ListStackResourcesCommand } from '@aws-sdk/client-cloudformation';
import { ConfigServiceClient, PutConfigurationRecorderCommand } from '@aws-sdk/client-config-service';
import { CreateDetectorCommand, GuardDutyClient } from '@aws-sdk/client-guardduty';
import { CreateOpenIDConnectProviderCommand, CreateRoleCommand, DeleteRoleCommand, IAMClient } from '@aws-sdk/client-iam';
import { EnableSecurityHubCommand, SecurityHubClient } from '@aws-sdk/client-securityhub';
import { beforeAll, describe, expect, test } from 'vitest';
import { loadStages, type StageConfig } from '../../lib/config';
import { type BaselineClients, baselineChecks } from '../../scripts/lib/preflight-baseline';
import { inAccount, type Moto, startMoto } from '../support/moto';

/**
 * An account an organisation already equips: its own GuardDuty detector, Security Hub, Config
 * recorder and GitHub OIDC provider, each of which the baseline or CI stack would fail to create a
 * second time. Against moto, in an account of this file's own (the provider and the detector are
 * account-wide), in regions no other file uses.
 */
const ACCOUNT = '210987654321';
const HOME = 'ap-south-1';
const DR = 'ap-south-2';
let moto: Moto;
let clients: BaselineClients;
const config = (context: Record<string, string> = {}): StageConfig =>
  loadStages({ stages: 'staging', 'staging.account': ACCOUNT, 'staging.region': HOME, 'staging.drRegion': DR, ...context }).selected[0];
const statusOf = (checks: Awaited<ReturnType<typeof baselineChecks>>) => Object.fromEntries(checks.map((c) => [c.name, c.status]));

beforeAll(async () => {
  moto = await startMoto();
  const at = (region: string) => moto.clientConfig(region);
  clients = {
    cfn: (region) => inAccount(new CloudFormationClient(at(region)), ACCOUNT),
    guardDuty: (region) => inAccount(new GuardDutyClient(at(region)), ACCOUNT),
    securityHub: (region) => inAccount(new SecurityHubClient(at(region)), ACCOUNT),
    config: (region) => inAccount(new ConfigServiceClient(at(region)), ACCOUNT),
    iam: inAccount(new IAMClient(at('us-east-1')), ACCOUNT),
  };
});

describe('preflight: what the organisation already runs in the account', () => {
  test('an empty account: the stacks create each piece', async () => {
    const checks = await baselineChecks(config(), clients);
    expect(statusOf(checks)).toEqual({
      [`guardduty ${HOME}`]: 'ok',
      [`security hub ${HOME}`]: 'ok',
      [`config recorder ${HOME}`]: 'ok',
      [`guardduty ${DR}`]: 'ok',
      [`security hub ${DR}`]: 'ok',
      [`config recorder ${DR}`]: 'ok',
      'github oidc provider': 'ok',
      // No stack creates it: an empty account lacks it.
      'break-glass role': 'missing',
    });
    expect(checks[0].detail).toBe(`no GuardDuty detector yet in ${HOME}: the baseline creates it`);
  });

  test('the break-glass role: missing, or under a path (another ARN than the policies except), is refused with the command that creates it at path /', async () => {
    const expected = `arn:aws:iam::${ACCOUNT}:role/webapp-break-glass`;
    const breakGlass = async () => (await baselineChecks(config(), clients)).find((c) => c.name === 'break-glass role');
    const create = 'aws iam create-role --role-name webapp-break-glass --path / --assume-role-policy-document file://break-glass-trust.json';
    expect(await breakGlass()).toEqual({
      name: 'break-glass role',
      status: 'missing',
      detail: `no role webapp-break-glass in ${ACCOUNT}: the protected keys, the backup vaults and the trail buckets leave their destruction to ${expected} alone, so nobody could disable or delete those keys`,
      fix: `create it at path /: ${create} (trusting named people, with MFA; docs/disaster-recovery.md, "Break-glass")`,
    });

    const trust = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: 'sts:AssumeRole' }] });
    await clients.iam.send(new CreateRoleCommand({ RoleName: 'webapp-break-glass', Path: '/admin/', AssumeRolePolicyDocument: trust }));
    const underPath = `arn:aws:iam::${ACCOUNT}:role/admin/webapp-break-glass`;
    expect(await breakGlass()).toEqual({
      name: 'break-glass role',
      status: 'missing',
      detail: `the role webapp-break-glass is ${underPath}, not ${expected}: the protections except ${expected} exactly, which a role under a path does not match`,
      fix: `IAM cannot move a role to another path: delete ${underPath} and create it again at path /: ${create} (trusting named people, with MFA; docs/disaster-recovery.md, "Break-glass")`,
    });

    // The fix, done: the role again, at path /.
    await clients.iam.send(new DeleteRoleCommand({ RoleName: 'webapp-break-glass' }));
    await clients.iam.send(new CreateRoleCommand({ RoleName: 'webapp-break-glass', AssumeRolePolicyDocument: trust }));
    expect(await breakGlass()).toEqual({ name: 'break-glass role', status: 'ok', detail: `${expected}, the ARN the protections except` });
  });

  test('once the organisation runs them, each is refused with the setting that makes the stack use the existing one; with those settings, ready', async () => {
    const detector = await clients.guardDuty(HOME).send(new CreateDetectorCommand({ Enable: true }));
    await clients.securityHub(HOME).send(new EnableSecurityHubCommand({}));
    await clients
      .config(HOME)
      .send(new PutConfigurationRecorderCommand({ ConfigurationRecorder: { name: 'aws-controltower-BaselineConfigRecorder', roleARN: `arn:aws:iam::${ACCOUNT}:role/x` } }));
    await clients.iam.send(
      new CreateOpenIDConnectProviderCommand({ Url: 'https://token.actions.githubusercontent.com', ClientIDList: ['sts.amazonaws.com'], ThumbprintList: ['a'.repeat(40)] }),
    );

    const refused = await baselineChecks(config(), clients);
    const byName = Object.fromEntries(refused.map((c) => [c.name, c]));
    expect(byName[`guardduty ${HOME}`]).toEqual({
      name: `guardduty ${HOME}`,
      status: 'missing',
      detail: `a GuardDuty detector already exists in ${HOME} that the baseline stack did not create (${detector.DetectorId}): a second cannot be created, and the deploy would fail`,
      fix: `set baseline.guardDuty.enabled: false for every stage in ${ACCOUNT} in lib/config/stages.ts (the existing detector covers the account; keep guardDuty.runtimeMonitoring on if it runs Runtime Monitoring for Fargate)`,
    });
    expect(byName[`security hub ${HOME}`]).toMatchObject({ status: 'missing', fix: expect.stringMatching(/^set baseline\.securityHub: false for every stage in 210987654321/) });
    expect(byName[`config recorder ${HOME}`]).toMatchObject({
      status: 'missing',
      detail: expect.stringContaining('(aws-controltower-BaselineConfigRecorder)'),
      fix: expect.stringMatching(/^set baseline\.configRecorder: "organization"/),
    });
    expect(byName['github oidc provider']).toMatchObject({
      status: 'missing',
      detail: expect.stringContaining(`arn:aws:iam::${ACCOUNT}:oidc-provider/token.actions.githubusercontent.com`),
      fix: expect.stringMatching(/^set ci\.createOidcProvider: false for every stage in 210987654321/),
    });
    // The DR region has none of them: nothing to refuse there.
    expect(byName[`guardduty ${DR}`].status).toBe('ok');

    const settled = config({
      'staging.baseline': JSON.stringify({ guardDuty: { enabled: false }, securityHub: false, configRecorder: 'organization' }),
      'staging.ci.createOidcProvider': 'false',
    });
    const ready = await baselineChecks(settled, clients);
    expect(statusOf(ready)).toEqual({
      [`guardduty ${HOME}`]: 'ok',
      [`security hub ${HOME}`]: 'ok',
      [`config recorder ${HOME}`]: 'ok',
      // Turned off for the whole account, but nothing runs them in the DR region: said, not refused.
      [`guardduty ${DR}`]: 'warn',
      [`security hub ${DR}`]: 'warn',
      // Security Hub is off here too, so a missing recorder blocks nothing.
      [`config recorder ${DR}`]: 'warn',
      'github oidc provider': 'ok',
      'break-glass role': 'ok',
    });
  });

  test('a setting that counts on the organisation, where it provides nothing: Security Hub without a recorder and CI without a provider are refused', async () => {
    const checks = await baselineChecks(
      loadStages({
        stages: 'staging',
        'staging.account': '210987654322',
        'staging.region': HOME,
        'staging.drRegion': DR,
        'staging.baseline': JSON.stringify({ configRecorder: 'organization' }),
        'staging.ci.createOidcProvider': 'false',
      }).selected[0],
      {
        ...clients,
        config: (region) => inAccount(new ConfigServiceClient(moto.clientConfig(region)), '210987654322'),
        iam: inAccount(new IAMClient(moto.clientConfig('us-east-1')), '210987654322'),
        guardDuty: (region) => inAccount(new GuardDutyClient(moto.clientConfig(region)), '210987654322'),
        securityHub: (region) => inAccount(new SecurityHubClient(moto.clientConfig(region)), '210987654322'),
        cfn: (region) => inAccount(new CloudFormationClient(moto.clientConfig(region)), '210987654322'),
      },
    );
    const byName = Object.fromEntries(checks.map((c) => [c.name, c]));
    expect(byName[`config recorder ${HOME}`]).toMatchObject({ status: 'missing', fix: expect.stringMatching(/^set baseline\.configRecorder: "stack"/) });
    expect(byName['github oidc provider']).toMatchObject({ status: 'missing', fix: expect.stringMatching(/^set ci\.createOidcProvider: true/) });
  });

  test("the baseline stack is listed once per region for its three checks; a refused listing fails the checks with AWS's error", async () => {
    const listed: string[] = [];
    const counting = (region: string) => {
      const cfn = clients.cfn(region);
      const send = (command: ListStackResourcesCommand) => {
        listed.push(`${region} ${command.input.StackName}`);
        return cfn.send(command);
      };
      return { send } as never;
    };
    await baselineChecks(config(), { ...clients, cfn: counting });
    expect(listed.sort()).toEqual([`${HOME} Baseline-${ACCOUNT}-${HOME}`, `${HOME} CiAccess-${ACCOUNT}`, `${DR} Baseline-${ACCOUNT}-${DR}`]);

    // Moto answers every caller: a refusal is what only a stand-in that refuses can show.
    const denied = Object.assign(new Error('not authorized to perform: cloudformation:ListStackResources'), { name: 'AccessDenied' });
    const refusing = () => ({ send: async () => Promise.reject(denied) }) as never;
    await expect(baselineChecks(config(), { ...clients, cfn: refusing })).rejects.toBe(denied);
  });
});
