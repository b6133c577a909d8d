/**
 * What `npm run evidence` and `npm run contain` do about one task of a stage that GuardDuty (or a
 * person) suspects: find it in the stage's cluster, copy what is known about it into the
 * account's evidence bucket (the task, its task definition, its log streams, the trail's events of
 * its id and of its role, the GuardDuty finding) with a manifest of SHA-256 hashes; and, to
 * contain it, revoke its role's sessions, stop it, rotate the cache token it held and start a
 * new deployment of its service. Every function takes its SDK clients, so the tests run them
 * against moto (GuardDuty's GetFindings, which moto lacks, through aws-sdk-client-mock).
 */
import { createHash } from 'node:crypto';
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { CloudWatchLogsClient, FilterLogEventsCommand, type FilterLogEventsCommandInput } from '@aws-sdk/client-cloudwatch-logs';
import { DescribeTaskDefinitionCommand, DescribeTasksCommand, ECSClient, StopTaskCommand, type Task, type TaskDefinition, UpdateServiceCommand } from '@aws-sdk/client-ecs';
import { GetFindingsCommand, GuardDutyClient } from '@aws-sdk/client-guardduty';
import { IAMClient, PutRolePolicyCommand } from '@aws-sdk/client-iam';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { RotateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { DATABASE_ROLES } from '../../lambda/database-setup/roles';
import { CACHE_TOKEN_SECRET } from '../../lib/app/release-tasks';
import { BASELINE_OUTPUTS, baselinePlans, baselineStackName } from '../../lib/baseline/baseline-stack';
import { EVIDENCE_PREFIX } from '../../lib/baseline/evidence-bucket';
import type { StageConfig, StageName } from '../../lib/config';
import { UsageError } from './assembly';
import { accountProblem } from './credentials';
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

/** One piece of evidence: where it comes from, and how to read it. */
interface Item {
  readonly name: string;
  readonly source: string;
  /** The object's text, or why it could not be read. */
  readonly read: () => Promise<string | { missing: string }>;
}

/** The account's evidence bucket and the trail's copy, from the home region's baseline stack. */
async function baselineOutputs(clients: IncidentClients, config: StageConfig, home: string) {
  const homeStack = baselineStackName({ account: config.account, region: home });
  const here = (await outputsOf(clients.home.cfn, homeStack)) ?? {};
  const bucket = here[BASELINE_OUTPUTS.evidenceBucket];
  const key = here[BASELINE_OUTPUTS.evidenceKey];
  if (!bucket || !key) {
    throw new UsageError(
      `${homeStack} has no ${BASELINE_OUTPUTS.evidenceBucket} and ${BASELINE_OUTPUTS.evidenceKey} outputs in ${home}: the evidence bucket is not deployed. Fix: deploy the baseline (npm run deploy -- --stage ${config.name} --yes), or copy the evidence by hand (docs/runbooks.md, "A GuardDuty runtime finding on a task").`,
    );
  }
  const regional = home === config.region ? here : ((await outputsOf(clients.stage.cfn, baselineStackName(config))) ?? {});
  return { bucket, key, trailLogGroup: here[BASELINE_OUTPUTS.trailLogGroup], detector: regional[BASELINE_OUTPUTS.detector], stack: homeStack };
}

/** Every event of a log group (or of its streams) that matches, oldest first, as JSON lines. */
async function logLines(logs: RegionClients['logs'], input: FilterLogEventsCommandInput): Promise<string> {
  const lines: string[] = [];
  let nextToken: string | undefined;
  do {
    const page = await logs.send(new FilterLogEventsCommand({ ...input, nextToken }));
    for (const e of page.events ?? []) lines.push(JSON.stringify({ timestamp: e.timestamp, stream: e.logStreamName, message: e.message }));
    nextToken = page.nextToken;
  } while (nextToken);
  return lines.map((l) => `${l}\n`).join('');
}

/** A read that a missing log group or stream turns into a note, not a failure. */
async function orMissing(read: () => Promise<string>, what: string): Promise<string | { missing: string }> {
  try {
    return await read();
  } catch (error) {
    if ((error as Error).name === 'ResourceNotFoundException') return { missing: `${what}: ${(error as Error).message}` };
    throw error;
  }
}

/** How far back the trail's events are read for a task whose creation time is unknown. */
const NO_START_LOOKBACK_MS = 7 * 24 * 3600_000;

const json = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`;

/** What `evidence` collects about a suspect, in the order it is written. */
function items(clients: IncidentClients, suspect: Suspect, where: { trailLogGroup?: string; detector?: string }, finding: string | undefined, now: Date): Item[] {
  const { task, definition, taskId } = suspect;
  // ECS always gives a task's creation time; without it, a week back covers any task of a service
  // deployed since.
  const start = task.createdAt?.getTime() ?? now.getTime() - NO_START_LOOKBACK_MS;
  const list: Item[] = [
    { name: 'task.json', source: `ecs DescribeTasks ${task.taskArn}`, read: async () => json(task) },
    { name: 'task-definition.json', source: `ecs DescribeTaskDefinition ${definition.taskDefinitionArn}`, read: async () => json(definition) },
  ];
  for (const container of definition.containerDefinitions ?? []) {
    const options = container.logConfiguration?.logDriver === 'awslogs' ? (container.logConfiguration.options ?? {}) : undefined;
    const group = options?.['awslogs-group'];
    const prefix = options?.['awslogs-stream-prefix'];
    if (!group || !prefix) continue;
    const stream = `${prefix}/${container.name}/${taskId}`;
    list.push({
      name: `logs/${container.name}.jsonl`,
      source: `logs ${group} ${stream}`,
      read: () => orMissing(() => logLines(clients.stage.logs, { logGroupName: group, logStreamNames: [stream] }), `${group} ${stream}`),
    });
  }
  const trail = where.trailLogGroup;
  const trailItem = (name: string, term: string, what: string): Item => ({
    name,
    source: trail ? `logs ${trail} "${term}" from ${new Date(start).toISOString()}` : 'the account trail (not in this baseline)',
    read: async () =>
      trail
        ? orMissing(() => logLines(clients.home.logs, { logGroupName: trail, filterPattern: `"${term}"`, startTime: start, endTime: now.getTime() }), trail)
        : { missing: `the trail's events ${what}: the baseline has no trail (an organisation trail records them; query it there)` },
  });
  list.push(trailItem('cloudtrail-task.jsonl', taskId, `of task ${taskId}`));
  const roleName = suspect.roleArn?.split('/').pop();
  if (roleName) list.push(trailItem('cloudtrail-role.jsonl', roleName, `of role ${roleName}`));
  if (finding) {
    list.push({
      name: `guardduty-finding-${finding}.json`,
      source: where.detector ? `guardduty GetFindings ${where.detector} ${finding}` : 'guardduty (no detector in this baseline)',
      read: async () => {
        if (!where.detector) return { missing: `finding ${finding}: the baseline has no GuardDuty detector here (an organisation's administrator account holds the finding)` };
        const out = await clients.stage.guardduty.send(new GetFindingsCommand({ DetectorId: where.detector, FindingIds: [finding] }));
        return out.Findings?.length ? json(out.Findings) : { missing: `finding ${finding}: GuardDuty has no such finding in detector ${where.detector}` };
      },
    });
  }
  return list;
}

export interface ManifestEntry {
  readonly key: string;
  readonly source: string;
  readonly bytes: number;
  readonly sha256: string;
}

export interface Manifest {
  readonly stage: string;
  readonly task: string;
  readonly finding?: string;
  readonly collectedAt: string;
  readonly collectedBy: string;
  readonly objects: readonly ManifestEntry[];
  readonly notCollected: readonly string[];
}

export const sha256 = (body: string | Buffer) => createHash('sha256').update(body).digest();

/** Writes one object, encrypted with the evidence key; S3 checks the body against its SHA-256. */
async function put(s3: RegionClients['s3'], bucket: string, key: string, kmsKey: string, body: string, contentType: string): Promise<void> {
  await s3.send(
    new PutObjectCommand({
      Bucket: bucket,
      Key: key,
      Body: Buffer.from(body),
      ContentType: contentType,
      ServerSideEncryption: 'aws:kms',
      SSEKMSKeyId: kmsKey,
      // Object Lock takes a body only with a checksum the request names (x-amz-sdk-checksum-algorithm).
      ChecksumAlgorithm: 'SHA256',
      ChecksumSHA256: sha256(body).toString('base64'),
    }),
  );
}

/** Where one collection goes: `incidents/<stage>/<task id>/<collected at>/`. */
export function evidencePrefix(stage: string, taskId: string, at: Date): string {
  return `${EVIDENCE_PREFIX}${stage}/${taskId}/${at.toISOString().replace(/[:.]/g, '-')}/`;
}

/**
 * Collects the evidence (with --yes; without it, says what it would collect) and returns the
 * manifest's key, or undefined on a dry run.
 */
export async function collect(
  args: Pick<IncidentArgs, 'stage' | 'finding' | 'yes'>,
  clients: IncidentClients,
  config: StageConfig,
  home: string,
  suspect: Suspect,
  now: Date,
  say: (line: string) => void,
): Promise<{ key: string; manifest: Manifest; sha256: string } | undefined> {
  const where = await baselineOutputs(clients, config, home);
  const prefix = evidencePrefix(config.name, suspect.taskId, now);
  const list = items(clients, suspect, where, args.finding, now);
  say(
    `${args.yes ? 'collecting' : 'would collect'} the evidence of task ${suspect.taskId} into s3://${where.bucket}/${prefix} (${home}, the ${BASELINE_OUTPUTS.evidenceBucket} output of ${where.stack}):`,
  );
  for (const item of list) say(`  ${item.name}: ${item.source}`);
  if (!args.finding) say('  (no --finding: the GuardDuty finding is not collected)');
  if (!args.yes) return undefined;

  const objects: ManifestEntry[] = [];
  const notCollected: string[] = [];
  for (const item of list) {
    const body = await item.read();
    if (typeof body !== 'string') {
      notCollected.push(body.missing);
      say(`  not collected: ${body.missing}`);
      continue;
    }
    const key = `${prefix}${item.name}`;
    await put(clients.home.s3, where.bucket, key, where.key, body, item.name.endsWith('.jsonl') ? 'application/x-ndjson' : 'application/json');
    objects.push({ key, source: item.source, bytes: Buffer.byteLength(body), sha256: sha256(body).toString('hex') });
  }
  const collectedBy = (await clients.stage.sts.send(new GetCallerIdentityCommand({}))).Arn ?? 'unknown';
  const manifest: Manifest = {
    stage: config.name,
    task: suspect.task.taskArn ?? suspect.taskId,
    ...(args.finding ? { finding: args.finding } : {}),
    collectedAt: now.toISOString(),
    collectedBy,
    objects,
    notCollected,
  };
  const body = json(manifest);
  const key = `${prefix}manifest.json`;
  await put(clients.home.s3, where.bucket, key, where.key, body, 'application/json');
  const digest = sha256(body).toString('hex');
  say(`wrote ${objects.length} objects and s3://${where.bucket}/${key} (SHA-256 ${digest}: note it in the incident record).`);
  return { key, manifest, sha256: digest };
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
  const problem = await accountProblem(clients.stage.sts, config.account, args.stage);
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
  const problem = await accountProblem(clients.stage.sts, config.account, args.stage);
  if (problem) throw new UsageError(problem);
  const suspect = await findSuspect(clients.stage, config, taskRef(args.task, ''));
  // Refused before anything changes when the evidence has nowhere to go.
  await baselineOutputs(clients, config, home);
  const { task, taskId, cluster, service, roleArn, tokenSecret } = suspect;
  const roleName = roleArn?.split('/').pop();
  const would = args.yes ? '' : 'would ';
  say(`contain task ${taskId} of ${config.name} (${task.lastStatus}, ${service ? `service ${service}` : 'no service'}, cluster ${cluster}, ${config.region}):`);
  say(`  1. ${would}revoke every session of its role ${roleName ?? '(none)'} issued before ${now.toISOString()} (inline policy ${REVOKE_POLICY_NAME})`);
  say(`  2. ${would}collect the evidence (below)`);
  say(`  3. ${would}stop the task (ECS starts a replacement)`);
  say(`  4. ${would}rotate the cache AUTH token it held${tokenSecret ? ` (${tokenSecret})` : ': none in its task definition'}`);
  say(`  5. ${would}start a new deployment of ${service ?? '(no service)'}: its other tasks hold sessions of the same role`);

  if (args.yes && roleName) {
    await clients.stage.iam.send(new PutRolePolicyCommand({ RoleName: roleName, PolicyName: REVOKE_POLICY_NAME, PolicyDocument: revokePolicy(now) }));
    say(`revoked the sessions of ${roleName} issued before ${now.toISOString()}.`);
  }
  const evidence = await collect(args, clients, config, home, suspect, now, say);
  if (!args.yes) {
    say('dry run: nothing changed. Run again with --yes.');
    return 0;
  }
  if (task.desiredStatus !== 'STOPPED') {
    await clients.stage.ecs.send(new StopTaskCommand({ cluster, task: task.taskArn, reason: `Contained (security incident); evidence ${evidence?.key ?? 'not collected'}` }));
    say(`stopped ${taskId}.`);
  }
  if (tokenSecret) {
    // valueFrom is the secret's ARN, followed by `:<json key>:<stage>:<version>` where it names a part.
    await clients.stage.secrets.send(new RotateSecretCommand({ SecretId: tokenSecret.split(':').slice(0, 7).join(':') }));
    say(`rotation of the cache AUTH token started; it settles within about 30 minutes (docs/runbooks.md, "Rotate the Valkey AUTH token").`);
  }
  if (service) {
    await clients.stage.ecs.send(new UpdateServiceCommand({ cluster, service, forceNewDeployment: true }));
    say(`started a new deployment of ${service}.`);
  }
  const ip = task.attachments?.flatMap((a) => a.details ?? []).find((d) => d.name === 'privateIPv4Address')?.value;
  say(
    `database: its open connections closed with the task. To check, through npm run db-shell as the master user: SELECT pid, backend_start FROM pg_stat_activity WHERE usename = '${DATABASE_ROLES.app}'${ip ? ` AND client_addr = '${ip}'` : ''}; end any left with SELECT pg_terminate_backend(pid).`,
  );
  return 0;
}
