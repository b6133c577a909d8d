/**
 * What `npm run evidence` and `npm run contain` do about one task of a stage that GuardDuty (or a
 * person) suspects: find it in the stage's cluster, copy what is known about it into the
 * account's evidence bucket (scripts/lib/evidence.ts); and, to contain it, revoke its role's
 * sessions, stop it, start a new deployment of its service and rotate the cache token it held. Every function takes its SDK clients, so the tests run them
 * against moto (GuardDuty's GetFindings, which moto lacks, through aws-sdk-client-mock).
 */
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import { DescribeTaskDefinitionCommand, DescribeTasksCommand, ECSClient, StopTaskCommand, type Task, type TaskDefinition, UpdateServiceCommand } from '@aws-sdk/client-ecs';
import { GuardDutyClient } from '@aws-sdk/client-guardduty';
import { IAMClient, PutRolePolicyCommand } from '@aws-sdk/client-iam';
import { S3Client } from '@aws-sdk/client-s3';
import { RotateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { STSClient } from '@aws-sdk/client-sts';
import { DATABASE_ROLES } from '../../lambda/database-setup/roles';
import { CACHE_TOKEN_SECRET } from '../../lib/app/release-tasks';
import { baselinePlans } from '../../lib/baseline/baseline-stack';
import type { StageConfig, StageName } from '../../lib/config';
import { UsageError } from './assembly';
import { accountProblem } from './credentials';
import { baselineOutputs, collect, evidencePrefix } from './evidence';
import { outputsOf } from './release';

/** The inline policy that revokes a role's older sessions: IAM's console ("Revoke active sessions") writes the same name and statement. */
export const REVOKE_POLICY_NAME = 'AWSRevokeOlderSessions';

export interface IncidentArgs {
  readonly stage: StageName;
  /** The task's id or ARN. */
  readonly task: string;
  /** The GuardDuty finding's id. */
  readonly finding?: string;
  readonly account?: string;
  readonly context: Record<string, string>;
  readonly yes: boolean;
}

export interface RegionClients {
  readonly sts: Pick<STSClient, 'send'>;
  readonly cfn: Pick<CloudFormationClient, 'send'>;
  readonly ecs: Pick<ECSClient, 'send'>;
  readonly logs: Pick<CloudWatchLogsClient, 'send'>;
  readonly guardduty: Pick<GuardDutyClient, 'send'>;
  readonly s3: Pick<S3Client, 'send'>;
  readonly iam: Pick<IAMClient, 'send'>;
  readonly secrets: Pick<SecretsManagerClient, 'send'>;
}

/** The clients of the stage's region (the task, its logs, GuardDuty) and of the account's home region (the evidence bucket, the trail's copy). */
export interface IncidentClients {
  readonly stage: RegionClients;
  readonly home: RegionClients;
}

export function regionClients(region: string): RegionClients {
  return {
    sts: new STSClient({ region }),
    cfn: new CloudFormationClient({ region }),
    ecs: new ECSClient({ region }),
    logs: new CloudWatchLogsClient({ region }),
    guardduty: new GuardDutyClient({ region }),
    s3: new S3Client({ region }),
    iam: new IAMClient({ region }),
    secrets: new SecretsManagerClient({ region }),
  };
}

/** The account's home region: where its baseline keeps the trail's copy and the evidence bucket. */
export function homeRegion(config: StageConfig, all: readonly StageConfig[]): string {
  const stages = [config, ...all.filter((c) => c.name !== config.name)];
  return baselinePlans(stages).find((p) => p.account === config.account)?.homeRegion ?? config.region;
}

/** A task's id or ARN, as `--task` takes it: the id, and the cluster where the ARN names one. */
export function taskRef(value: string, usage: string): { id: string; arn?: string } {
  const arn = /^arn:aws[a-z-]*:ecs:[a-z0-9-]+:\d{12}:task\/(?:[A-Za-z0-9_-]+\/)?([A-Za-z0-9-]{1,64})$/.exec(value);
  if (arn) return { id: arn[1], arn: value };
  if (/^[A-Za-z0-9-]{1,64}$/.test(value)) return { id: value };
  throw new UsageError(
    `--task takes a task id (the 32 hex digits after the last "/" of its ARN) or its ARN, not "${value}". Fix: copy it from the finding (resource.ecsClusterDetails.taskDetails.arn). ${usage}`,
  );
}

/** The task and what the commands read about it. */
export interface Suspect {
  readonly cluster: string;
  readonly task: Task;
  readonly taskId: string;
  readonly definition: TaskDefinition;
  /** The service that started it (`service:<name>` in its group), if any. */
  readonly service?: string;
  readonly roleArn?: string;
  /** The cache token's secret, as the task received it. */
  readonly tokenSecret?: string;
}

/** Finds the task in the stage's cluster; refuses one that is not there (another stage's, or gone). */
export async function findSuspect(clients: RegionClients, config: StageConfig, ref: { id: string; arn?: string }): Promise<Suspect> {
  const outputs = await outputsOf(clients.cfn, `${config.name}-App`);
  const cluster = outputs?.ClusterName;
  if (!cluster) {
    throw new UsageError(`${config.name}-App has no ClusterName output in ${config.region}: the stage has no cluster to find the task in. Fix: check --stage (and the account).`);
  }
  if (ref.arn && !ref.arn.includes(`:${config.region}:${config.account}:task/`)) {
    throw new UsageError(`the task ${ref.arn} is not in ${config.name}'s account ${config.account} and region ${config.region}. Fix: run with the stage that runs it.`);
  }
  const out = await clients.ecs.send(new DescribeTasksCommand({ cluster, tasks: [ref.arn ?? ref.id], include: ['TAGS'] }));
  const task = out.tasks?.find((t) => t.taskArn?.endsWith(`/${ref.id}`));
  if (!task) {
    throw new UsageError(
      `no task ${ref.id} in ${config.name}'s cluster ${cluster} (${config.region}). ECS describes a stopped task for about an hour after it stops. Fix: check --stage and the id in the finding (resource.ecsClusterDetails.taskDetails.arn); for a task ECS no longer describes, copy its logs and trail events by hand (docs/runbooks.md, "A GuardDuty runtime finding on a task").`,
    );
  }
  const definition = (await clients.ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: task.taskDefinitionArn, include: ['TAGS'] }))).taskDefinition!;
  const group = task.group ?? '';
  const tokenSecret = definition.containerDefinitions?.flatMap((c) => c.secrets ?? []).find((s) => s.name === CACHE_TOKEN_SECRET)?.valueFrom;
  return {
    cluster,
    task,
    taskId: ref.id,
    definition,
    service: group.startsWith('service:') ? group.slice('service:'.length) : undefined,
    roleArn: definition.taskRoleArn,
    tokenSecret,
  };
}

/** The inline policy that denies every session of a role issued before `at` (IAM user guide, "Revoke IAM role temporary security credentials"). */
export function revokePolicy(at: Date): string {
  return JSON.stringify({
    Version: '2012-10-17',
    Statement: [{ Effect: 'Deny', Action: ['*'], Resource: ['*'], Condition: { DateLessThan: { 'aws:TokenIssueTime': at.toISOString() } } }],
  });
}

/** Starts `npm run evidence`: finds the task and collects. */
export async function runEvidence(args: IncidentArgs, clients: IncidentClients, config: StageConfig, home: string, now: Date, say: (line: string) => void): Promise<number> {
  const problem = await accountProblem(clients.stage.sts, config.account, args.stage, { command: 'evidence', acting: args.yes, config });
  if (problem) throw new UsageError(problem);
  const suspect = await findSuspect(clients.stage, config, taskRef(args.task, ''));
  await collect(args, clients, config, home, suspect, now, say);
  if (!args.yes) say('dry run: nothing collected. Run again with --yes.');
  return 0;
}

/**
 * `npm run contain`: revokes the task role's sessions, collects the evidence, stops the task,
 * rotates the cache token it held and starts a new deployment of its service (each new task gets
 * credentials issued after the revocation, and the token once the rotation settles).
 */
export async function runContain(args: IncidentArgs, clients: IncidentClients, config: StageConfig, home: string, now: Date, say: (line: string) => void): Promise<number> {
  const problem = await accountProblem(clients.stage.sts, config.account, args.stage, { command: 'contain', acting: args.yes, config });
  if (problem) throw new UsageError(problem);
  const suspect = await findSuspect(clients.stage, config, taskRef(args.task, ''));
  // Refused before anything changes when the evidence has nowhere to go.
  await baselineOutputs(clients, config, home);
  const { task, taskId, cluster, service, roleArn, tokenSecret } = suspect;
  const roleName = roleArn?.split('/').pop();
  const would = args.yes ? '' : 'would ';
  say(`contain task ${taskId} of ${config.name} (${task.lastStatus}, ${service ? `service ${service}` : 'no service'}, cluster ${cluster}, ${config.region}):`);
  say(`  1. ${would}revoke every session of its role ${roleName ?? '(none)'} issued before ${now.toISOString()} (inline policy ${REVOKE_POLICY_NAME})`);
  say(`  2. ${would}stop the task (ECS starts a replacement)`);
  say(`  3. ${would}collect the evidence (below)`);
  say(`  4. ${would}start a new deployment of ${service ?? '(no service)'}: its other tasks hold sessions of the same role`);
  say(`  5. ${would}rotate the cache AUTH token it held${tokenSecret ? ` (${tokenSecret})` : ': none in its task definition'}`);

  if (args.yes && roleName) {
    await clients.stage.iam.send(new PutRolePolicyCommand({ RoleName: roleName, PolicyName: REVOKE_POLICY_NAME, PolicyDocument: revokePolicy(now) }));
    say(`revoked the sessions of ${roleName} issued before ${now.toISOString()}.`);
  }
  // Stopped at once after the revocation: ECS refreshes a running task's credentials, and a
  // session issued after the revocation's time is not denied. What the evidence needs outlives
  // the task: its description (read above, and by ECS for an hour after it stops), its logs.
  if (args.yes && task.desiredStatus !== 'STOPPED') {
    await clients.stage.ecs.send(
      new StopTaskCommand({ cluster, task: task.taskArn, reason: `Contained (security incident); evidence ${evidencePrefix(config.name, taskId, now)}manifest.json` }),
    );
    say(`stopped ${taskId}.`);
  }
  await collect(args, clients, config, home, suspect, now, say);
  if (!args.yes) {
    say('dry run: nothing changed. Run again with --yes.');
    return 0;
  }
  // The new deployment comes before the rotation, which Secrets Manager may refuse (one already
  // running): the service's tasks must get new credentials either way.
  if (service) {
    await clients.stage.ecs.send(new UpdateServiceCommand({ cluster, service, forceNewDeployment: true }));
    say(`started a new deployment of ${service}.`);
  }
  let code = 0;
  if (tokenSecret) {
    // valueFrom is the secret's ARN, followed by `:<json key>:<stage>:<version>` where it names a part.
    const secretId = tokenSecret.split(':').slice(0, 7).join(':');
    try {
      await clients.stage.secrets.send(new RotateSecretCommand({ SecretId: secretId }));
      say('rotation of the cache AUTH token started: finish it as docs/runbooks.md, "Rotate the Valkey AUTH token", says (the settle step).');
    } catch (error) {
      say(
        `FAILED to start the rotation of the cache AUTH token (${(error as Error).name}: ${(error as Error).message}). Start it by hand: aws secretsmanager rotate-secret --secret-id ${secretId}`,
      );
      code = 1;
    }
  }
  const ip = task.attachments?.flatMap((a) => a.details ?? []).find((d) => d.name === 'privateIPv4Address')?.value;
  say(
    `database: its open connections closed with the task. To check, through npm run db-shell as the master user: SELECT pid, backend_start FROM pg_stat_activity WHERE usename = '${DATABASE_ROLES.app}'${ip ? ` AND client_addr = '${ip}'` : ''}; end any left with SELECT pg_terminate_backend(pid).`,
  );
  return code;
}
