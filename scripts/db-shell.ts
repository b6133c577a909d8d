/**
 * Opens a short-lived, audited way to the stage database, which sits in isolated subnets:
 *
 *   npm run db-shell -- --stage staging --reason "INC-42: check locks" [--minutes 60] [--write] [--yes]
 *   npm run db-shell -- --stage prod --prod --reason "..." --yes
 *   npm run db-shell -- --stage staging --stop [--yes]
 *
 * Starts one host from the data stack's database-shell launch template in a private subnet,
 * tagged with who opened it, why and until when; it shuts itself down (and is terminated) after
 * --minutes (60, at most 240). It prints the Session Manager port-forwarding command and the psql
 * line: an IAM token for webapp_oncall, who may only read the app's tables, unless --write (then
 * as webapp_migrator, who owns the schema). CloudTrail records the start, the session and the caller.
 * Prod needs --prod. --stop terminates every shell host of the stage now.
 *
 * Without --yes it prints what it would do. Exit codes: 0 done (or printed), 1 it failed, 2 bad
 * arguments or refused (wrong account, prod without --prod, no reason, the data stack's outputs
 * missing).
 */
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { DescribeInstancesCommand, EC2Client, RunInstancesCommand, TerminateInstancesCommand } from '@aws-sdk/client-ec2';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { DATABASE_ROLES } from '../lambda/database-setup/roles';
import { STAGE_NAMES, type StageConfig, type StageName } from '../lib/config';
import { DATABASE_NAME, DATABASE_PORT } from '../lib/data/database';
import { DB_SHELL_MAX_MINUTES } from '../lib/data/database-shell';
import { projectTag } from '../lib/shared/naming';
import { addContext, readFlags, stageArg } from './lib/args';
import { UsageError } from './lib/assembly';
import { accountProblem } from './lib/credentials';
import { operatorConfig, refusal, shellLine } from './lib/release';

const USAGE = `usage: db-shell --stage ${STAGE_NAMES.join('|')} (--reason TEXT [--minutes N] [--write] | --stop) [--prod] [--account ID] [-c KEY=VALUE ...] [--yes]`;

/** The tag every shell host carries, with its stage as the value; --stop finds them by it. */
export const SHELL_TAG = projectTag('db-shell');
/** Local port the port-forwarding session listens on. */
export const LOCAL_PORT = 15432;

export interface ShellArgs {
  readonly stage: StageName;
  readonly reason?: string;
  readonly minutes: number;
  readonly write: boolean;
  readonly stop: boolean;
  readonly prod: boolean;
  readonly account?: string;
  readonly context: Record<string, string>;
  readonly yes: boolean;
}

export function parseArgs(argv: readonly string[]): ShellArgs {
  let stage: string | undefined;
  let reason: string | undefined;
  let account: string | undefined;
  let minutes = 60;
  const flags = { write: false, stop: false, prod: false, yes: false };
  const context: Record<string, string> = {};
  for (const [flag, value = ''] of readFlags(argv, {
    values: ['--stage', '--reason', '--minutes', '--account', '-c', '--context'],
    switches: ['--write', '--stop', '--prod', '--yes'],
    usage: USAGE,
  })) {
    if (flag === '--stage') stage = value;
    else if (flag === '--reason') reason = value.trim();
    else if (flag === '--account') account = value;
    else if (flag === '--minutes') {
      minutes = Number(value);
      if (!Number.isInteger(minutes) || minutes < 5 || minutes > DB_SHELL_MAX_MINUTES)
        throw new UsageError(`--minutes takes whole minutes from 5 to ${DB_SHELL_MAX_MINUTES}, not "${value}". ${USAGE}`);
    } else if (flag in { '--write': 1, '--stop': 1, '--prod': 1, '--yes': 1 }) flags[flag.slice(2) as keyof typeof flags] = true;
    else addContext(context, flag, value, USAGE);
  }
  const name = stageArg(stage, USAGE);
  if (name === 'prod' && !flags.prod) throw new UsageError(`prod data needs --prod, to say it is meant (and the reason is recorded on the host). ${USAGE}`);
  if (!flags.stop && !reason) throw new UsageError(`--reason is required (an incident or ticket id and what for): it is tagged on the host for the audit. ${USAGE}`);
  if (reason && reason.length > 200) throw new UsageError(`--reason is at most 200 characters. ${USAGE}`);
  return { stage: name, reason, minutes, account, context, ...flags };
}

export interface ShellClients {
  readonly sts: Pick<STSClient, 'send'>;
  readonly cfn: Pick<CloudFormationClient, 'send'>;
  readonly ec2: Pick<EC2Client, 'send'>;
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
  const problem = await accountProblem(clients.sts, config.account, args.stage);
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
  const { launchTemplate, subnet, endpoint } = await dataOutputs(clients.cfn, args.stage);
  const caller = (await clients.sts.send(new GetCallerIdentityCommand({}))).Arn ?? 'unknown';
  const until = new Date(now.getTime() + args.minutes * 60_000).toISOString();
  say(
    `open a database shell host for ${args.stage} (${config.account}, ${config.region}) until ${until}, as ${caller}: "${args.reason}"${args.write ? ', WRITE access' : ', read-only'}`,
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
  return { sts: new STSClient({ region }), cfn: new CloudFormationClient({ region }), ec2: new EC2Client({ region }) };
}

export async function main(argv = process.argv.slice(2), env = process.env, clientsFor = shellClients, now = new Date()): Promise<number> {
  try {
    const args = parseArgs(argv);
    const config = operatorConfig(args.stage, args, env);
    return await runShell(args, clientsFor(config.region), config, now, (line) => console.log(line));
  } catch (error) {
    return refusal('db-shell', error);
  }
}

if (require.main === module) {
  main().then((code) => process.exit(code));
}
