/**
 * What the commands that restore a logical backup share (`npm run restore -- --from-dump`,
 * `npm run refresh-staging`): finding a dump object and what its metadata says, reading where the
 * restore task runs from a stack's outputs, and running that task to its exit code. A task is
 * started with the name of what it restores as `startedBy`, so a rerun finds one still running and
 * waits for it instead of starting a second one.
 */
import { DescribeTasksCommand, type ECSClient, ListTasksCommand, RunTaskCommand, type Task } from '@aws-sdk/client-ecs';
import { HeadObjectCommand, type HeadObjectCommandOutput, type S3Client } from '@aws-sdk/client-s3';
import { newestUnder } from '../../lambda/logical-backup/objects';
import { DUMP_CONTAINER, DUMP_METADATA, DUMP_OUTPUTS, type DumpCommand, keyTime } from '../../lib/data/logical-backup-names';
import type { Waiting } from './restore';

type Send<T extends { send: unknown }> = Pick<T, 'send'>;

/** A dump object and what the job wrote on it. */
export interface DumpObject {
  readonly bucket: string;
  readonly key: string;
  readonly bytes: number;
  /** The PostgreSQL major the dump was taken from ("17"), where the metadata says. */
  readonly serverMajor?: number;
  readonly serverVersion?: string;
  /** When the dump (or the raw dump it was anonymised from) started. */
  readonly sourceTime?: Date;
  readonly database?: string;
}

/** A dump key's own time (`raw/2026-12-07T02-00-04Z.dump`), or undefined when the job did not name it. */
export function dumpKeyTime(key: string): Date | undefined {
  return keyTime(key.slice(0, key.lastIndexOf('/') + 1), key);
}

/** The newest dump under `prefix`, or undefined when there is none (the job's own reader: lambda/logical-backup/objects.ts). */
export async function newestDumpKey(s3: Send<S3Client>, bucket: string, prefix: string): Promise<string | undefined> {
  return (await newestUnder(s3, bucket, prefix, { extension: '.dump' })).key;
}

/** The object and its metadata, or undefined when the bucket has no such key. */
export async function dumpObject(s3: Send<S3Client>, bucket: string, key: string): Promise<DumpObject | undefined> {
  let head: HeadObjectCommandOutput;
  try {
    head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
  } catch (error) {
    if (['NotFound', 'NoSuchKey'].includes((error as Error).name)) return undefined;
    throw error;
  }
  const meta = head.Metadata ?? {};
  const major = Number(meta[DUMP_METADATA.serverMajor]);
  const time = meta[DUMP_METADATA.sourceTime] ? new Date(meta[DUMP_METADATA.sourceTime]) : undefined;
  return {
    bucket,
    key,
    bytes: head.ContentLength ?? 0,
    serverMajor: Number.isInteger(major) && major > 0 ? major : undefined,
    serverVersion: meta[DUMP_METADATA.serverVersion],
    sourceTime: time && !Number.isNaN(time.getTime()) ? time : dumpKeyTime(key),
    database: meta[DUMP_METADATA.database],
  };
}

/** The dump in words: `s3://bucket/key (12.3 MiB), taken ... from PostgreSQL 17.6 (database app)`. */
export function describeDump(dump: DumpObject): string {
  const [unit, power] = dump.bytes >= 1024 ** 3 ? ['GiB', 3] : dump.bytes >= 1024 ** 2 ? ['MiB', 2] : ['KiB', 1];
  const size = `${(dump.bytes / 1024 ** power).toFixed(1)} ${unit}`;
  const from = dump.serverVersion ? `PostgreSQL ${dump.serverVersion}` : dump.serverMajor ? `PostgreSQL ${dump.serverMajor}` : 'a server its metadata does not name';
  return `s3://${dump.bucket}/${dump.key} (${size}), taken ${dump.sourceTime?.toISOString() ?? 'at a time its metadata does not say'} from ${from}${dump.database ? ` (database ${dump.database})` : ''}`;
}

/** Why a dump cannot go onto PostgreSQL `engineVersion`, or undefined when it can (the same major or a newer one). */
export function versionProblem(dump: DumpObject, engineVersion: string, fix: string): string | undefined {
  if (dump.serverMajor === undefined)
    return `s3://${dump.bucket}/${dump.key} has no ${DUMP_METADATA.serverMajor} metadata, so which PostgreSQL it needs is unknown: it was not written by the dump job. Fix: pick a dump the job wrote`;
  const major = Number(engineVersion.split('.')[0]);
  if (major < dump.serverMajor)
    return `the dump is of PostgreSQL ${dump.serverVersion ?? dump.serverMajor}, and pg_restore does not go onto an older major (${engineVersion}). Fix: ${fix}`;
  return undefined;
}

/** Where the restore task runs, from a stack's DUMP_OUTPUTS. */
export interface TaskPlace {
  readonly stackName: string;
  readonly bucket: string;
  readonly cluster: string;
  readonly taskDefinition: string;
  readonly subnets: string[];
  readonly securityGroup: string;
  readonly publicIp: 'ENABLED' | 'DISABLED';
}

/** The task's place from `stackName`'s outputs, or why it cannot be read (the stack, or outputs, missing). */
export function taskPlace(stackName: string, outputs: Readonly<Record<string, string>> | undefined, deploy: string): TaskPlace | string {
  if (!outputs) return `${stackName} does not exist in this region, so there is no restore task to run. Fix: ${deploy}`;
  const missing = Object.values(DUMP_OUTPUTS).filter((o) => !outputs[o]);
  if (missing.length > 0) return `${stackName} has no output ${missing.join(', ')}: it was deployed before the logical backups. Fix: ${deploy}`;
  return {
    stackName,
    bucket: outputs[DUMP_OUTPUTS.bucket],
    cluster: outputs[DUMP_OUTPUTS.cluster],
    taskDefinition: outputs[DUMP_OUTPUTS.restoreTask],
    subnets: outputs[DUMP_OUTPUTS.subnets].split(',').map((s) => s.trim()),
    securityGroup: outputs[DUMP_OUTPUTS.securityGroup],
    publicIp: outputs[DUMP_OUTPUTS.publicIp] === 'ENABLED' ? 'ENABLED' : 'DISABLED',
  };
}

/** The task's place in words, for a plan. */
export function describePlace(place: TaskPlace): string {
  const family = place.taskDefinition.split('/').pop()?.split(':')[0] ?? place.taskDefinition;
  return `${family} in cluster ${place.cluster} (${place.stackName}), subnets ${place.subnets.join(' ')}, security group ${place.securityGroup}, ${place.publicIp === 'ENABLED' ? 'a public IP (no NAT there)' : 'no public IP'}`;
}

export interface TaskRun {
  readonly command: Extract<DumpCommand, 'restore' | 'refresh'>;
  readonly environment: Readonly<Record<string, string>>;
  /** What the task restores: ECS keeps it as startedBy (36 characters at most), so a rerun finds the task. */
  readonly startedBy: string;
}

/** The container's exit code, or why the task stopped without one. */
function outcome(task: Task): { code?: number; reason: string } {
  const container = task.containers?.find((c) => c.name === DUMP_CONTAINER) ?? task.containers?.[0];
  return { code: container?.exitCode, reason: container?.reason ?? task.stoppedReason ?? 'no reason given' };
}

/**
 * Runs the job's `run.command` as the restore task of `place` (or waits for the one a previous run
 * started and which is still running) until it stops; throws unless its container exited 0.
 */
export async function runDumpTask(ecs: Send<ECSClient>, place: TaskPlace, run: TaskRun, wait: Waiting, { minutes = 720 } = {}): Promise<void> {
  if (run.startedBy.length > 36) throw new Error(`startedBy "${run.startedBy}" is longer than the 36 characters ECS keeps`);
  const running = await ecs.send(new ListTasksCommand({ cluster: place.cluster, startedBy: run.startedBy, desiredStatus: 'RUNNING' }));
  let arn = running.taskArns?.[0];
  if (arn) wait.log(`    a task started for ${run.startedBy} is still running (${arn}): waiting for it instead of starting another`);
  else {
    const started = await ecs.send(
      new RunTaskCommand({
        cluster: place.cluster,
        taskDefinition: place.taskDefinition,
        launchType: 'FARGATE',
        startedBy: run.startedBy,
        networkConfiguration: { awsvpcConfiguration: { subnets: place.subnets, securityGroups: [place.securityGroup], assignPublicIp: place.publicIp } },
        overrides: {
          containerOverrides: [{ name: DUMP_CONTAINER, command: [run.command], environment: Object.entries(run.environment).map(([name, value]) => ({ name, value })) }],
        },
      }),
    );
    arn = started.tasks?.[0]?.taskArn;
    if (!arn) throw new Error(`ECS did not start the ${run.command} task: ${started.failures?.map((f) => `${f.arn ?? ''} ${f.reason}`).join('; ') || 'no reason given'}`);
    wait.log(`    started ${arn}`);
  }
  const deadline = wait.now().getTime() + minutes * 60_000;
  for (;;) {
    const task = (await ecs.send(new DescribeTasksCommand({ cluster: place.cluster, tasks: [arn] }))).tasks?.[0];
    if (task?.lastStatus === 'STOPPED') {
      const { code, reason } = outcome(task);
      if (code === 0) return;
      throw new Error(
        `the ${run.command} task ${arn} stopped with ${code === undefined ? 'no exit code' : `exit code ${code}`} (${reason}): its log (the task definition's log group, task id ${arn.split('/').pop()}) says why`,
      );
    }
    if (wait.now().getTime() >= deadline) throw new Error(`the ${run.command} task ${arn} is still ${task?.lastStatus ?? 'unknown'} after ${minutes} minutes`);
    wait.log(`    ${run.command} task: ${task?.lastStatus ?? 'not described yet'}`);
    await wait.sleep(30_000);
  }
}
