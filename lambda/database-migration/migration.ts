/**
 * The release's schema migration: one ECS task of the release image running the configured
 * command as the migration database role, started before the services update and waited for.
 * Pure logic over injected clients; the custom resource (custom-resource.ts) calls it.
 */
import { type CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { type CloudWatchLogsClient, GetLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { DescribeTasksCommand, type ECSClient, RunTaskCommand, StopTaskCommand, type Task } from '@aws-sdk/client-ecs';
import { DescribeDBInstancesCommand, type RDSClient } from '@aws-sdk/client-rds';
import { GetParameterCommand, PutParameterCommand, type SSMClient } from '@aws-sdk/client-ssm';

export interface Clients {
  readonly ecs: Pick<ECSClient, 'send'>;
  readonly logs: Pick<CloudWatchLogsClient, 'send'>;
  readonly ssm: Pick<SSMClient, 'send'>;
  readonly rds: Pick<RDSClient, 'send'>;
  readonly cloudformation: Pick<CloudFormationClient, 'send'>;
}

export interface MigrationSettings {
  readonly stage: string;
  /** The release id (image tag and a hash of the task settings), as the pre-deploy snapshot has it. */
  readonly release: string;
  readonly cluster: string;
  readonly taskDefinition: string;
  readonly subnets: readonly string[];
  readonly securityGroups: readonly string[];
  /** The container the migration runs in, and the log group and stream prefix it writes to. */
  readonly container: string;
  readonly logGroup: string;
  readonly streamPrefix: string;
  readonly timeoutMinutes: number;
  /** The stage database the migration runs against. */
  readonly dbInstanceIdentifier: string;
  /**
   * Where the releases migrated are recorded (newest first): one SSM parameter per database,
   * `<recordPrefix>/<DbiResourceId>`. A restore makes a new instance with a new resource id, so the
   * restored database starts with an empty record and the next release migrates it again.
   */
  readonly recordPrefix: string;
}

/** Where a migration is while the custom resource waits for it. */
export interface MigrationState {
  /** The task ARN, or "skipped" when the release was migrated before. */
  readonly taskArn: string;
  readonly startedAt: string;
  /** The record of the database the migration runs against (its SSM parameter name). */
  readonly record: string;
}

export type Outcome = { readonly complete: false } | { readonly complete: true; readonly taskArn: string; readonly durationSeconds: number; readonly skipped?: string };

/** Releases remembered as migrated: enough for every rollback and re-run within months of releases. */
export const RECORD_KEPT = 30;
/** Log lines a failure message carries. */
export const LOG_LINES = 20;
export const SKIPPED = 'skipped';

/** A failed migration; the message names the task, the exit code, the stop reason and the last log lines. */
export class MigrationError extends Error {}

const fix = (stage: string) =>
  `The services were not updated (CloudFormation rolls the release back). If the migration applied part of its changes, restore the pre-deploy snapshot (docs/releases.md, "A migration that failed halfway") before deploying ${stage} again.`;

/** The record of the database as it is now: the SSM parameter named after its resource id. */
async function recordOf(clients: Clients, settings: MigrationSettings): Promise<string> {
  const db = (await clients.rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: settings.dbInstanceIdentifier }))).DBInstances?.[0];
  if (!db?.DbiResourceId) {
    throw new MigrationError(
      `Migration of release ${settings.release} (stage ${settings.stage}) could not identify the database ${settings.dbInstanceIdentifier}. ${fix(settings.stage)}`,
    );
  }
  return `${settings.recordPrefix}/${db.DbiResourceId}`;
}

async function migratedReleases(clients: Clients, record: string): Promise<string[]> {
  try {
    const out = await clients.ssm.send(new GetParameterCommand({ Name: record }));
    return (out.Parameter?.Value ?? '').split(',').filter(Boolean);
  } catch (error) {
    if ((error as { name?: string }).name === 'ParameterNotFound') return [];
    throw error;
  }
}

/**
 * Starts the release's migration, unless this release was migrated before (a re-run, or a
 * rollback to it) or the stack is rolling back (the schema stays migrated: migrations are
 * backward compatible, docs/releases.md).
 */
export async function startMigration(clients: Clients, settings: MigrationSettings, stackId: string, now: Date): Promise<MigrationState & { readonly skipped?: string }> {
  const startedAt = now.toISOString();
  const stack = (await clients.cloudformation.send(new DescribeStacksCommand({ StackName: stackId }))).Stacks?.[0];
  // A rollback depends on nothing else: it neither reads nor writes the record.
  if (stack?.StackStatus?.includes('ROLLBACK')) {
    return { taskArn: SKIPPED, startedAt, record: '', skipped: `the stack is rolling back (${stack.StackStatus}); the database keeps its migrated schema` };
  }
  const record = await recordOf(clients, settings);
  if ((await migratedReleases(clients, record)).includes(settings.release)) {
    return { taskArn: SKIPPED, startedAt, record, skipped: `release ${settings.release} was migrated before on this database` };
  }
  const out = await clients.ecs.send(
    new RunTaskCommand({
      cluster: settings.cluster,
      taskDefinition: settings.taskDefinition,
      count: 1,
      capacityProviderStrategy: [{ capacityProvider: 'FARGATE', weight: 1 }],
      networkConfiguration: { awsvpcConfiguration: { subnets: [...settings.subnets], securityGroups: [...settings.securityGroups], assignPublicIp: 'DISABLED' } },
      startedBy: `migration-${settings.stage}`.slice(0, 36),
      tags: [{ key: 'release', value: settings.release.slice(0, 256) }],
      propagateTags: 'TASK_DEFINITION',
    }),
  );
  const task = out.tasks?.[0];
  if (!task?.taskArn) {
    const failures = (out.failures ?? []).map((f) => `${f.reason ?? 'unknown'}${f.detail ? ` (${f.detail})` : ''}`).join('; ') || 'ECS returned no task';
    throw new MigrationError(`Migration of release ${settings.release} (stage ${settings.stage}) could not start: ${failures}. ${fix(settings.stage)}`);
  }
  return { taskArn: task.taskArn, startedAt, record };
}

/** Polls the migration task; complete when it stopped with exit code 0, a MigrationError otherwise. */
export async function pollMigration(clients: Clients, settings: MigrationSettings, state: MigrationState, now: Date): Promise<Outcome> {
  const durationSeconds = Math.round((now.getTime() - new Date(state.startedAt).getTime()) / 1000);
  if (state.taskArn === SKIPPED) return { complete: true, taskArn: SKIPPED, durationSeconds: 0 };
  const task = (await clients.ecs.send(new DescribeTasksCommand({ cluster: settings.cluster, tasks: [state.taskArn] }))).tasks?.[0];
  if (task?.lastStatus !== 'STOPPED') {
    if (durationSeconds <= settings.timeoutMinutes * 60) return { complete: false };
    await clients.ecs.send(new StopTaskCommand({ cluster: settings.cluster, task: state.taskArn, reason: `migration exceeded ${settings.timeoutMinutes} minutes` }));
    throw new MigrationError(
      `Migration task ${state.taskArn} of release ${settings.release} (stage ${settings.stage}) did not finish within app.migrationTimeoutMinutes (${settings.timeoutMinutes}); it was stopped. ${await lastLines(clients, settings, state.taskArn)}${fix(settings.stage)}`,
    );
  }
  const container = task.containers?.find((c) => c.name === settings.container);
  const exitCode = container?.exitCode;
  if (exitCode === 0) {
    await remember(clients, state.record, settings.release);
    return { complete: true, taskArn: state.taskArn, durationSeconds };
  }
  throw new MigrationError(
    `Migration task ${state.taskArn} of release ${settings.release} (stage ${settings.stage}) failed: ${describeStop(task, exitCode, container?.reason)}. ${await lastLines(clients, settings, state.taskArn)}${fix(settings.stage)}`,
  );
}

function describeStop(task: Task, exitCode: number | undefined, containerReason: string | undefined): string {
  const code = exitCode === undefined ? 'no exit code (the container never ran)' : `exit code ${exitCode}`;
  const reasons = [task.stopCode, task.stoppedReason, containerReason].filter(Boolean).join('; ');
  return `${code}${reasons ? `, stopped: ${reasons}` : ''}`;
}

/** The last lines the task wrote, for the failure message (the log group keeps them all). */
async function lastLines(clients: Clients, settings: MigrationSettings, taskArn: string): Promise<string> {
  const taskId = taskArn.split('/').at(-1);
  const stream = `${settings.streamPrefix}/${settings.container}/${taskId}`;
  try {
    const out = await clients.logs.send(new GetLogEventsCommand({ logGroupName: settings.logGroup, logStreamName: stream, limit: LOG_LINES, startFromHead: false }));
    const lines = (out.events ?? []).map((e) => e.message?.trimEnd() ?? '').filter(Boolean);
    return lines.length > 0 ? `Last log lines (${settings.logGroup} ${stream}):\n${lines.join('\n')}\n` : `No log lines in ${settings.logGroup} ${stream}. `;
  } catch (error) {
    return `Its log stream ${settings.logGroup} ${stream} could not be read (${(error as Error).name}). `;
  }
}

async function remember(clients: Clients, record: string, release: string): Promise<void> {
  const kept = [release, ...(await migratedReleases(clients, record)).filter((r) => r !== release)].slice(0, RECORD_KEPT);
  await clients.ssm.send(new PutParameterCommand({ Name: record, Value: kept.join(','), Type: 'String', Overwrite: true }));
}
