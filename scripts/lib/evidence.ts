/**
 * What the incident commands collect about a suspect task, and how: each piece read from ECS,
 * CloudWatch Logs (the task's streams and the trail's copy) or GuardDuty, written to the account's
 * evidence bucket encrypted with its key and checked by S3 against its SHA-256, then a manifest of
 * them all. scripts/lib/incident.ts finds the task and contains it.
 */
import { createHash } from 'node:crypto';
import { FilterLogEventsCommand, type FilterLogEventsCommandInput } from '@aws-sdk/client-cloudwatch-logs';
import { GetFindingsCommand } from '@aws-sdk/client-guardduty';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { GetCallerIdentityCommand } from '@aws-sdk/client-sts';
import { BASELINE_OUTPUTS, baselineStackName } from '../../lib/baseline/baseline-stack';
import { EVIDENCE_PREFIX } from '../../lib/baseline/evidence-bucket';
import type { StageConfig } from '../../lib/config';
import { UsageError } from './assembly';
import type { IncidentArgs, IncidentClients, RegionClients, Suspect } from './incident';
import { outputsOf } from './release';

/** One piece of evidence: where it comes from, and how to read it. */
interface Item {
  readonly name: string;
  readonly source: string;
  /** The object's text, or why it could not be read. */
  readonly read: () => Promise<string | { missing: string }>;
}

/** The account's evidence bucket and the trail's copy, from the home region's baseline stack. */
export async function baselineOutputs(clients: IncidentClients, config: StageConfig, home: string) {
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
