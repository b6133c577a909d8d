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
import { CreateDBInstanceCommand, DescribeDBInstancesCommand, RDSClient } from '@aws-sdk/client-rds';
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
let databaseGroup: string;
const config = () => loadStages({ stages: 'staging', 'staging.account': ACCOUNT, 'staging.region': REGION }).selected[0];

beforeAll(async () => {
  moto = await startMoto({ as: 'webapp-break-glass' });
  const cfg = moto.clientConfig(REGION);
  ec2 = new EC2Client(cfg);
  clients = { sts: new STSClient(cfg), cfn: new CloudFormationClient(cfg), ec2, rds: new RDSClient(cfg) };
  const vpc = (await ec2.send(new CreateVpcCommand({ CidrBlock: '10.20.0.0/16' }))).Vpc!.VpcId!;
  subnet = (await ec2.send(new CreateSubnetCommand({ VpcId: vpc, CidrBlock: '10.20.16.0/20' }))).Subnet!.SubnetId!;
  const group = (await ec2.send(new CreateSecurityGroupCommand({ VpcId: vpc, GroupName: 'db-shell', Description: 'db shell' }))).GroupId!;
  databaseGroup = (await ec2.send(new CreateSecurityGroupCommand({ VpcId: vpc, GroupName: 'database', Description: 'database' }))).GroupId!;
  const other = (await ec2.send(new CreateSecurityGroupCommand({ VpcId: vpc, GroupName: 'elsewhere', Description: 'another group' }))).GroupId!;
  // The stage database, the copies npm run restore makes (in its group), one of another stage and one in another group.
  await Promise.all(
    [
      ['webapp-staging', databaseGroup],
      ['webapp-staging-repair', databaseGroup],
      ['webapp-staging-dump-202612010200', databaseGroup],
      ['webapp-staging-elsewhere', other],
      ['webapp-dev-repair', databaseGroup],
    ].map(([id, group]) =>
      clients.rds.send(
        new CreateDBInstanceCommand({ DBInstanceIdentifier: id, Engine: 'postgres', DBInstanceClass: 'db.t4g.micro', AllocatedStorage: 20, VpcSecurityGroupIds: [group] }),
      ),
    ),
  );
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
    // The stage database unless --instance: no host says another instance.
    expect(hosts.flatMap((h) => h.Tags ?? []).filter((t) => t.Key === 'webapp:instance')).toEqual([]);
    const second = lines.find((l) => l.startsWith('  2.'))!;
    expect(second).toContain('--username webapp_migrator');
    expect(second).toContain('user=webapp_migrator');
  });

  test('--instance reaches a copy of the stage instead: its endpoint in the tunnel, the token and psql, the same roles; the host says which', async () => {
    const lines: string[] = [];
    const args = parseArgs(['--stage', 'staging', ...AT, '--instance', 'webapp-staging-repair', '--reason', 'INC-45: copy rows back', '--yes']);
    expect(await runShell(args, clients, config(), NOW, (l) => lines.push(l))).toBe(0);
    const copy = (await clients.rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: 'webapp-staging-repair' }))).DBInstances![0].Endpoint!.Address!;
    expect(copy).not.toBe('webapp-staging.abc.ca-central-1.rds.amazonaws.com');
    expect(lines[0]).toMatch(/: "INC-45: copy rows back", read-only, to the copy webapp-staging-repair, not the stage database$/);
    const host = (await running()).find((h) => h.Tags?.some((t) => t.Key === 'webapp:instance'))!;
    expect(Object.fromEntries((host.Tags ?? []).map((t) => [t.Key, t.Value]))).toMatchObject({ 'webapp:instance': 'webapp-staging-repair', 'webapp:access': 'read-only' });
    expect(lines.find((l) => l.startsWith('  1.'))).toContain(`"host":["${copy}"]`);
    expect(lines.find((l) => l.startsWith('  2.'))).toBe(
      `  2. in another: PGPASSWORD="$(aws rds generate-db-auth-token --region ca-central-1 --hostname ${copy} --port 5432 --username webapp_oncall)" psql "host=${copy} hostaddr=127.0.0.1 port=15432 dbname=app user=webapp_oncall sslmode=verify-full sslrootcert=rds-ca-ca-central-1.pem"`,
    );
    const written: string[] = [];
    const dump = parseArgs(['--stage', 'staging', ...AT, '--instance', 'webapp-staging-dump-202612010200', '--reason', 'INC-45', '--write']);
    expect(await runShell(dump, clients, config(), NOW, (l) => written.push(l))).toBe(0);
    expect(written).toEqual([
      expect.stringMatching(/, WRITE access, to the copy webapp-staging-dump-202612010200, not the stage database$/),
      'dry run: nothing started. Run again with --yes.',
    ]);
  });

  test.each([
    ['webapp-dev-repair', /^--instance webapp-dev-repair is not a copy of staging \(its copies are named webapp-staging-\.\.\.\); /],
    ['webapp-staging', /^--instance webapp-staging is not a copy of staging \(its copies are named webapp-staging-\.\.\.\); /],
    ['webapp-staging-repair2', /^--instance webapp-staging-repair2 does not exist; /],
  ])('--instance %s is refused, naming the copies that exist, and nothing starts', async (instance, message) => {
    const before = (await running()).length;
    const refused = runShell(parseArgs(['--stage', 'staging', ...AT, '--instance', instance, '--reason', 'x', '--yes']), clients, config(), NOW, () => {});
    await expect(refused).rejects.toThrow(UsageError);
    await expect(refused).rejects.toThrow(message);
    await expect(refused).rejects.toThrow(
      "staging's copies here: webapp-staging-dump-202612010200 (available), webapp-staging-elsewhere (available), webapp-staging-repair (available). Fix: give one of them",
    );
    expect(await running()).toHaveLength(before);
  });

  test('--instance refuses a copy outside the stage database security group: the host could not reach it', async () => {
    const refused = runShell(parseArgs(['--stage', 'staging', ...AT, '--instance', 'webapp-staging-elsewhere', '--reason', 'x', '--yes']), clients, config(), NOW, () => {});
    await expect(refused).rejects.toThrow(new RegExp(`^--instance webapp-staging-elsewhere is in security group\\(s\\) sg-\\w+, not the stage database's \\(${databaseGroup}\\)`));
    expect(await main(['--stage', 'staging', ...AT, '--instance', 'webapp-staging-elsewhere', '--reason', 'x'], {}, () => clients)).toBe(2);
  });

  test('--stop terminates every shell host of the stage; without --yes it only says so', async () => {
    const lines: string[] = [];
    expect(await runShell(parseArgs(['--stage', 'staging', ...AT, '--stop']), clients, config(), NOW, (l) => lines.push(l))).toBe(0);
    expect(await running()).toHaveLength(3);
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
    [['--stage', 'staging', '--stop', '--instance', 'webapp-staging-repair'], /--stop ends every shell host of the stage and takes no --instance/],
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
