import { CloudFormationClient, CreateStackCommand } from '@aws-sdk/client-cloudformation';
import {
  CreateLaunchTemplateCommand,
  CreateSecurityGroupCommand,
  CreateSubnetCommand,
  CreateVpcCommand,
  DescribeImagesCommand,
  DescribeInstanceAttributeCommand,
  DescribeInstancesCommand,
  EC2Client,
} from '@aws-sdk/client-ec2';
import { STSClient } from '@aws-sdk/client-sts';
import { beforeAll, describe, expect, test, vi } from 'vitest';
import { loadStages } from '../../lib/config';
import { main, parseArgs } from '../../scripts/db-shell';
import { UsageError } from '../../scripts/lib/assembly';
import { runShell, SHELL_TAG, type ShellClients } from '../../scripts/lib/db-shell';
import { printed } from '../support/console';
import { type Moto, roleCredentials, startMoto } from '../support/moto';

/** The database shell on moto's EC2 and CloudFormation, in a region of its own. */
const REGION = 'ca-central-1';
const ACCOUNT = '123456789012';
const AT = ['--account', ACCOUNT, '-c', `staging.region=${REGION}`];
const NOW = new Date('2026-12-01T02:00:00Z');
let moto: Moto;
let clients: ShellClients;
let ec2: EC2Client;
let launchTemplate: string;
let subnet: string;
const config = () => loadStages({ stages: 'staging', 'staging.account': ACCOUNT, 'staging.region': REGION }).selected[0];

beforeAll(async () => {
  moto = await startMoto({ as: 'webapp-break-glass' });
  const cfg = moto.clientConfig(REGION);
  ec2 = new EC2Client(cfg);
  clients = { sts: new STSClient(cfg), cfn: new CloudFormationClient(cfg), ec2 };
  const vpc = (await ec2.send(new CreateVpcCommand({ CidrBlock: '10.20.0.0/16' }))).Vpc!.VpcId!;
  subnet = (await ec2.send(new CreateSubnetCommand({ VpcId: vpc, CidrBlock: '10.20.16.0/20' }))).Subnet!.SubnetId!;
  const group = (await ec2.send(new CreateSecurityGroupCommand({ VpcId: vpc, GroupName: 'db-shell', Description: 'db shell' }))).GroupId!;
  const image = (await ec2.send(new DescribeImagesCommand({}))).Images![0].ImageId!;
  launchTemplate = (
    await ec2.send(
      new CreateLaunchTemplateCommand({ LaunchTemplateName: 'staging-db-shell', LaunchTemplateData: { ImageId: image, InstanceType: 't4g.nano', SecurityGroupIds: [group] } }),
    )
  ).LaunchTemplate!.LaunchTemplateId!;
  await clients.cfn.send(
    new CreateStackCommand({
      StackName: 'staging-Data',
      TemplateBody: JSON.stringify({
        Resources: { Topic: { Type: 'AWS::SNS::Topic' } },
        Outputs: {
          DatabaseShellLaunchTemplateId: { Value: launchTemplate },
          DatabaseShellSubnetId: { Value: subnet },
          DatabaseEndpoint: { Value: 'webapp-staging.abc.ca-central-1.rds.amazonaws.com' },
        },
      }),
    }),
  );
});

const running = async () =>
  (
    await ec2.send(
      new DescribeInstancesCommand({
        Filters: [
          { Name: `tag:${SHELL_TAG}`, Values: ['staging'] },
          { Name: 'instance-state-name', Values: ['pending', 'running'] },
        ],
      }),
    )
  ).Reservations?.flatMap((r) => r.Instances ?? []) ?? [];

describe('npm run db-shell', () => {
  test('starts one host from the launch template in the private subnet, tagged with who, why and until when, and prints the way in', async () => {
    const lines: string[] = [];
    const args = parseArgs(['--stage', 'staging', ...AT, '--reason', 'INC-42: check locks', '--minutes', '30', '--yes']);
    expect(await runShell(args, clients, config(), NOW, (l) => lines.push(l))).toBe(0);
    const [host] = await running();
    expect(host.SubnetId).toBe(subnet);
    const tags = Object.fromEntries((host.Tags ?? []).map((t) => [t.Key, t.Value]));
    expect(tags).toMatchObject({ 'webapp:db-shell': 'staging', 'webapp:reason': 'INC-42: check locks', 'webapp:access': 'read-only', 'webapp:until': '2026-12-01T02:30:00.000Z' });
    expect(tags['webapp:opened-by']).toMatch(/^arn:aws:sts::123456789012:/);
    const userData = await ec2.send(new DescribeInstanceAttributeCommand({ InstanceId: host.InstanceId, Attribute: 'userData' }));
    expect(Buffer.from(userData.UserData!.Value!, 'base64').toString()).toBe('#!/bin/bash\nshutdown -h +30\n');
    expect(lines[0]).toMatch(
      /^open a database shell host for staging \(123456789012, ca-central-1\) until 2026-12-01T02:30:00.000Z, as arn:aws:sts::123456789012:.*: "INC-42: check locks", read-only$/,
    );
    expect(lines).toContain('  0. once: curl -fsSo rds-ca-ca-central-1.pem https://truststore.pki.rds.amazonaws.com/ca-central-1/ca-central-1-bundle.pem');
    expect(lines).toContain(
      `  1. in one terminal (keeps the tunnel open): aws ssm start-session --region ca-central-1 --target ${host.InstanceId} --document-name AWS-StartPortForwardingSessionToRemoteHost --parameters '{"host":["webapp-staging.abc.ca-central-1.rds.amazonaws.com"],"portNumber":["5432"],"localPortNumber":["15432"]}'`,
    );
    expect(lines.find((l) => l.startsWith('  2.'))).toBe(
      // Through the tunnel, the certificate still checked against the endpoint's name (hostaddr is where libpq connects).
      `  2. in another: PGPASSWORD="$(aws rds generate-db-auth-token --region ca-central-1 --hostname webapp-staging.abc.ca-central-1.rds.amazonaws.com --port 5432 --username webapp_oncall)" psql "host=webapp-staging.abc.ca-central-1.rds.amazonaws.com hostaddr=127.0.0.1 port=15432 dbname=app user=webapp_oncall sslmode=verify-full sslrootcert=rds-ca-ca-central-1.pem"`,
    );
  });

  test('--write logs in as the migration role, says so on the host and prints no read-only option', async () => {
    const lines: string[] = [];
    expect(await runShell(parseArgs(['--stage', 'staging', ...AT, '--reason', 'INC-43: fix a row', '--write', '--yes']), clients, config(), NOW, (l) => lines.push(l))).toBe(0);
    const hosts = await running();
    expect(hosts.map((h) => (h.Tags ?? []).find((t) => t.Key === 'webapp:access')?.Value).sort()).toEqual(['read-only', 'write']);
    const second = lines.find((l) => l.startsWith('  2.'))!;
    expect(second).toContain('--username webapp_migrator');
    expect(second).toContain('user=webapp_migrator');
  });

  test('--stop terminates every shell host of the stage; without --yes it only says so', async () => {
    const lines: string[] = [];
    expect(await runShell(parseArgs(['--stage', 'staging', ...AT, '--stop']), clients, config(), NOW, (l) => lines.push(l))).toBe(0);
    expect(await running()).toHaveLength(2);
    expect(await runShell(parseArgs(['--stage', 'staging', ...AT, '--stop', '--yes']), clients, config(), NOW, (l) => lines.push(l))).toBe(0);
    expect(await running()).toHaveLength(0);
    expect(lines[0]).toMatch(/^would terminate the staging database shell host\(s\) i-/);
    expect(await runShell(parseArgs(['--stage', 'staging', ...AT, '--stop', '--yes']), clients, config(), NOW, (l) => lines.push(l))).toBe(0);
    expect(lines.at(-1)).toBe('no database shell host of staging is running.');
  });

  test('without --yes nothing starts', async () => {
    const lines: string[] = [];
    expect(await runShell(parseArgs(['--stage', 'staging', ...AT, '--reason', 'look']), clients, config(), NOW, (l) => lines.push(l))).toBe(0);
    expect(lines.at(-1)).toBe('dry run: nothing started. Run again with --yes.');
    expect(await running()).toHaveLength(0);
  });

  test.each([
    [['--stage', 'prod', '--reason', 'x'], /prod data needs --prod/],
    [['--stage', 'staging'], /--reason is required/],
    [['--stage', 'staging', '--reason', 'x', '--minutes', '500'], /--minutes takes whole minutes from 5 to 240/],
    [['--stage', 'staging', '--reason', 'x'.repeat(201)], /--reason is at most 200 characters/],
  ])('refuses %j', (argv, message) => {
    expect(() => parseArgs(argv)).toThrow(UsageError);
    expect(() => parseArgs(argv)).toThrow(message);
  });

  test('refuses credentials of another account, and a stage whose data stack has no shell', async () => {
    const staging = loadStages({ stages: 'staging', 'staging.region': REGION }).selected[0];
    await expect(runShell(parseArgs(['--stage', 'staging', '--reason', 'x']), clients, staging, NOW, () => {})).rejects.toThrow(/credentials are for account 123456789012/);
    const dev = loadStages({ stages: 'dev', 'dev.account': ACCOUNT, 'dev.region': REGION }).selected[0];
    await expect(runShell(parseArgs(['--stage', 'dev', '--reason', 'x', '--yes']), clients, dev, NOW, () => {})).rejects.toThrow(/dev-Data has no DatabaseShellLaunchTemplateId/);
    expect(await main(['--stage', 'prod', '--reason', 'x'], {}, () => clients)).toBe(2);
  });

  test('as the on-call role: a read-only shell passes the role check, --write is refused (exit 2) naming the break-glass role, and starts nothing', async () => {
    const cfg = { ...moto.clientConfig(REGION), credentials: await roleCredentials(moto.endpoint, 'webapp-staging-on-call') };
    const onCall = { ...clients, sts: new STSClient(cfg) };
    const running = async () => ((await ec2.send(new DescribeInstancesCommand({}))).Reservations ?? []).flatMap((r) => r.Instances ?? []).length;
    const before = await running();
    const write = await printed(() => main(['--stage', 'staging', ...AT, '--reason', 'INC-45', '--write', '--yes'], {}, () => onCall));
    expect(write.result).toBe(2);
    expect(write.stderr).toMatch(
      /^db-shell: db-shell needs the break-glass role of staging \(webapp-break-glass\), and the credentials are arn:aws:sts::123456789012:assumed-role\/webapp-staging-on-call\/test\. Get it: aws sts assume-role --role-arn arn:aws:iam::<account>:role\/webapp-break-glass /,
    );
    expect(await running()).toBe(before);
    const read = await printed(() => main(['--stage', 'staging', ...AT, '--reason', 'INC-45'], {}, () => onCall));
    expect(read.result).toBe(0);
  });

  test('a dry run prints the plan on stdout and exits 0', async () => {
    const run = await printed(() => main(['--stage', 'staging', ...AT, '--reason', 'INC-44'], {}, () => clients));
    expect(run.stdout).toMatch(/^open a database shell host for staging \(123456789012, ca-central-1\)/);
    expect(run.stdout).toContain('dry run: nothing started. Run again with --yes.');
    expect(run.stderr).toBe('');
    expect(run.result).toBe(0);
  });

  test('with credentials of another account from the environment, as a shell gives them: exit 2, the reason on stderr', async () => {
    for (const [key, value] of Object.entries({ AWS_ENDPOINT_URL: moto.endpoint, AWS_ACCESS_KEY_ID: 'testing', AWS_SECRET_ACCESS_KEY: 'testing', AWS_REGION: REGION }))
      vi.stubEnv(key, value);
    try {
      const run = await printed(() => main(['--stage', 'staging', '-c', `staging.region=${REGION}`, '--reason', 'INC-44'], {}));
      expect(run.stderr).toMatch(/^db-shell: the credentials are for account 123456789012 .*, but staging is in 222222222222\./);
      expect(run.stdout).toBe('');
      expect(run.result).toBe(2);
    } finally {
      vi.unstubAllEnvs();
    }
  });
});
