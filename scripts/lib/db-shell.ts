/**
 * What `npm run db-shell` does in the stage's account: starts a short-lived host from the data
 * stack's database-shell launch template, tagged with who opened it, why and until when, and
 * prints the lines that reach the database through it; or terminates the stage's shell hosts.
 * Every function takes its SDK clients, so the tests run them against moto.
 */
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { DescribeInstancesCommand, EC2Client, RunInstancesCommand, TerminateInstancesCommand } from '@aws-sdk/client-ec2';
import { type DBInstance, DescribeDBInstancesCommand, RDSClient } from '@aws-sdk/client-rds';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { DATABASE_ROLES } from '../../lambda/database-setup/roles';
import { DATABASE_SHELL_TAG } from '../../lib/baseline/operator-roles';
import type { StageConfig, StageName } from '../../lib/config';
import { DATABASE_NAME, DATABASE_PORT } from '../../lib/data/database';
import { projectTag, stageResourceName } from '../../lib/shared/naming';
import { UsageError } from './assembly';
import { accountProblem } from './credentials';
import { shellLine } from './release';

/** The tag every shell host carries, with its stage as the value; --stop finds them by it. */
export const SHELL_TAG = DATABASE_SHELL_TAG;
/** Local port the port-forwarding session listens on. */
export const LOCAL_PORT = 15432;

export interface ShellArgs {
  readonly stage: StageName;
  readonly reason?: string;
  readonly minutes: number;
  readonly write: boolean;
  readonly stop: boolean;
  readonly prod: boolean;
  /**
   * Another database instance of the stage to reach instead of the stage database: a repair copy
   * (`webapp-<stage>-repair`) or a copy restored from a dump (`webapp-<stage>-dump-*`).
   */
  readonly instance?: string;
  readonly account?: string;
  readonly context: Record<string, string>;
  readonly yes: boolean;
}

export interface ShellClients {
  readonly sts: Pick<STSClient, 'send'>;
  readonly cfn: Pick<CloudFormationClient, 'send'>;
  readonly ec2: Pick<EC2Client, 'send'>;
  readonly rds: Pick<RDSClient, 'send'>;
}

/** The data stack's outputs the shell needs. */
async function dataOutputs(cfn: ShellClients['cfn'], stage: StageName): Promise<{ launchTemplate: string; subnet: string; endpoint: string }> {
  let outputs: Record<string, string> = {};
  try {
    const out = await cfn.send(new DescribeStacksCommand({ StackName: `${stage}-Data` }));
    outputs = Object.fromEntries((out.Stacks?.[0]?.Outputs ?? []).map((o) => [o.OutputKey ?? '', o.OutputValue ?? '']));
  } catch (error) {
    if (!/does not exist/.test((error as Error).message)) throw error;
  }
  const { DatabaseShellLaunchTemplateId: launchTemplate, DatabaseShellSubnetId: subnet, DatabaseEndpoint: endpoint } = outputs;
  if (!launchTemplate || !subnet || !endpoint) {
    throw new UsageError(
      `${stage}-Data has no DatabaseShellLaunchTemplateId, DatabaseShellSubnetId and DatabaseEndpoint outputs: deploy the data stack first (npm run deploy -- --stage ${stage} --only Data --yes).`,
    );
  }
  return { launchTemplate, subnet, endpoint };
}

/** The stage's database instances besides the stage database itself (the copies `npm run restore` makes), by name. */
async function stageCopies(rds: ShellClients['rds'], stage: StageName): Promise<DBInstance[]> {
  const prefix = `${stageResourceName(stage)}-`;
  const copies: DBInstance[] = [];
  let Marker: string | undefined;
  do {
    const page = await rds.send(new DescribeDBInstancesCommand({ Marker }));
    copies.push(...(page.DBInstances ?? []).filter((i) => i.DBInstanceIdentifier?.startsWith(prefix)));
    Marker = page.Marker;
  } while (Marker);
  return copies.sort((a, b) => (a.DBInstanceIdentifier ?? '').localeCompare(b.DBInstanceIdentifier ?? ''));
}

/**
 * The endpoint of `--instance`: a copy of this stage (named `webapp-<stage>-...`) that exists, is
 * available and sits in the stage database's security group, the one group the shell host may
 * reach. Anything else is refused, naming the stage's copies.
 */
async function copyEndpoint(rds: ShellClients['rds'], stage: StageName, instance: string): Promise<string> {
  const copies = await stageCopies(rds, stage);
  const known = copies.length > 0 ? `${stage}'s copies here: ${copies.map((c) => `${c.DBInstanceIdentifier} (${c.DBInstanceStatus})`).join(', ')}` : `${stage} has no copy here`;
  const copy = copies.find((c) => c.DBInstanceIdentifier === instance);
  if (!copy) {
    const why = instance.startsWith(`${stageResourceName(stage)}-`) ? 'does not exist' : `is not a copy of ${stage} (its copies are named ${stageResourceName(stage)}-...)`;
    throw new UsageError(
      `--instance ${instance} ${why}; ${known}. Fix: give one of them, or make one (npm run restore -- --stage ${stage} --to-time ..., docs/disaster-recovery.md).`,
    );
  }
  const stageGroups = ((await rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: stageResourceName(stage) }))).DBInstances?.[0]?.VpcSecurityGroups ?? []).map(
    (g) => g.VpcSecurityGroupId,
  );
  const groups = (copy.VpcSecurityGroups ?? []).map((g) => g.VpcSecurityGroupId);
  if (!groups.some((g) => stageGroups.includes(g))) {
    throw new UsageError(
      `--instance ${instance} is in security group(s) ${groups.join(', ') || 'none'}, not the stage database's (${stageGroups.join(', ')}), which is all the shell host may reach. Fix: restore the copy with npm run restore (it keeps the stage database's group), or add that group to it.`,
    );
  }
  if (copy.DBInstanceStatus !== 'available' || !copy.Endpoint?.Address) {
    throw new UsageError(
      `--instance ${instance} is ${copy.DBInstanceStatus ?? 'not ready'}, not available. Fix: wait until it is (aws rds wait db-instance-available --db-instance-identifier ${instance}).`,
    );
  }
  return copy.Endpoint.Address;
}

/** The certificate authorities RDS signs its certificates with in a region (RDS user guide, "Certificate bundles by AWS Region"). */
export function rdsCaBundle(region: string): { file: string; url: string } {
  return { file: `rds-ca-${region}.pem`, url: `https://truststore.pki.rds.amazonaws.com/${region}/${region}-bundle.pem` };
}

/** The lines that reach the database through a running host. */
export function connectLines(config: StageConfig, instanceId: string, endpoint: string, write: boolean): string[] {
  const user = write ? DATABASE_ROLES.migrator : DATABASE_ROLES.oncall;
  const forward = shellLine([
    'aws',
    'ssm',
    'start-session',
    '--region',
    config.region,
    '--target',
    instanceId,
    '--document-name',
    'AWS-StartPortForwardingSessionToRemoteHost',
    '--parameters',
    JSON.stringify({ host: [endpoint], portNumber: [String(DATABASE_PORT)], localPortNumber: [String(LOCAL_PORT)] }),
  ]);
  const token = `PGPASSWORD="$(aws rds generate-db-auth-token --region ${config.region} --hostname ${endpoint} --port ${DATABASE_PORT} --username ${user})"`;
  // The tunnel ends on 127.0.0.1, but the certificate names the endpoint: libpq connects to
  // hostaddr and checks the certificate against host (libpq, "Parameter Key Words"), so
  // verify-full holds through the tunnel, against the region's RDS certificate authorities.
  const bundle = rdsCaBundle(config.region);
  return [
    `  0. once: curl -fsSo ${bundle.file} ${bundle.url}`,
    `  1. in one terminal (keeps the tunnel open): ${forward}`,
    `  2. in another: ${token} psql "host=${endpoint} hostaddr=127.0.0.1 port=${LOCAL_PORT} dbname=${DATABASE_NAME} user=${user} sslmode=verify-full sslrootcert=${bundle.file}"`,
    write
      ? `  as ${user}, who owns the app schema: every statement writes; prefer a transaction (BEGIN ... COMMIT).`
      : `  as ${user}, who may only read the app's tables, in read-only transactions (--write logs in as ${DATABASE_ROLES.migrator} instead, and says so on the host).`,
  ];
}

/** Starts a host (or, with --stop, terminates the stage's hosts); `say` gets every line. */
export async function runShell(args: ShellArgs, clients: ShellClients, config: StageConfig, now: Date, say: (line: string) => void): Promise<number> {
  const problem = await accountProblem(clients.sts, config.account, args.stage, { command: 'db-shell', acting: args.yes, flags: args.write ? ['--write'] : [], config });
  if (problem) throw new UsageError(problem);
  if (args.stop) {
    const out = await clients.ec2.send(
      new DescribeInstancesCommand({
        Filters: [
          { Name: `tag:${SHELL_TAG}`, Values: [args.stage] },
          { Name: 'instance-state-name', Values: ['pending', 'running', 'stopping', 'stopped'] },
        ],
      }),
    );
    const ids = (out.Reservations ?? []).flatMap((r) => r.Instances ?? []).map((i) => i.InstanceId!);
    if (ids.length === 0) {
      say(`no database shell host of ${args.stage} is running.`);
      return 0;
    }
    say(`${args.yes ? 'terminating' : 'would terminate'} the ${args.stage} database shell host(s) ${ids.join(', ')}`);
    if (args.yes) await clients.ec2.send(new TerminateInstancesCommand({ InstanceIds: ids }));
    else say('dry run: nothing terminated. Run again with --yes.');
    return 0;
  }
  const outputs = await dataOutputs(clients.cfn, args.stage);
  const { launchTemplate, subnet } = outputs;
  const endpoint = args.instance ? await copyEndpoint(clients.rds, args.stage, args.instance) : outputs.endpoint;
  const caller = (await clients.sts.send(new GetCallerIdentityCommand({}))).Arn ?? 'unknown';
  const until = new Date(now.getTime() + args.minutes * 60_000).toISOString();
  say(
    `open a database shell host for ${args.stage} (${config.account}, ${config.region}) until ${until}, as ${caller}: "${args.reason}"${args.write ? ', WRITE access' : ', read-only'}${args.instance ? `, to the copy ${args.instance}, not the stage database` : ''}`,
  );
  if (!args.yes) {
    say('dry run: nothing started. Run again with --yes.');
    return 0;
  }
  const tags = [
    { Key: SHELL_TAG, Value: args.stage },
    { Key: projectTag('opened-by'), Value: caller.slice(0, 256) },
    { Key: projectTag('reason'), Value: args.reason!.slice(0, 256) },
    { Key: projectTag('access'), Value: args.write ? 'write' : 'read-only' },
    { Key: projectTag('until'), Value: until },
    ...(args.instance ? [{ Key: projectTag('instance'), Value: args.instance }] : []),
  ];
  const run = await clients.ec2.send(
    new RunInstancesCommand({
      LaunchTemplate: { LaunchTemplateId: launchTemplate, Version: '$Latest' },
      SubnetId: subnet,
      MinCount: 1,
      MaxCount: 1,
      UserData: Buffer.from(`#!/bin/bash\nshutdown -h +${args.minutes}\n`).toString('base64'),
      TagSpecifications: [
        { ResourceType: 'instance', Tags: tags },
        { ResourceType: 'volume', Tags: tags },
      ],
    }),
  );
  const instanceId = run.Instances?.[0]?.InstanceId;
  if (!instanceId) {
    say('FAILED: EC2 started no instance.');
    return 1;
  }
  say(`started ${instanceId}; it registers with Session Manager within about two minutes, and terminates itself at ${until}.`);
  for (const line of connectLines(config, instanceId, endpoint, args.write)) say(line);
  say(`  end it sooner: npm run db-shell -- --stage ${args.stage}${args.stage === 'prod' ? ' --prod' : ''} --stop --yes`);
  return 0;
}

export function shellClients(region: string): ShellClients {
  return { sts: new STSClient({ region }), cfn: new CloudFormationClient({ region }), ec2: new EC2Client({ region }), rds: new RDSClient({ region }) };
}
