import type { CdkCustomResourceEvent, CdkCustomResourceResponse } from 'aws-lambda';
import { appliedMigrations } from '../database-migration/report';
import { type Clients, isRollingBack, publishRecord } from './record';

/** Properties the app stack passes (CloudFormation turns every value into a string). */
export interface RecordResourceProperties {
  readonly Stage: string;
  readonly Release: string;
  readonly Image: string;
  /** The git commit the assembly was synthesized from (-c commit), or empty. */
  readonly Commit?: string;
  readonly SnapshotId: string;
  /** When the pre-deploy snapshot step started (its attribute StartedAt). */
  readonly StartedAt?: string;
  /** The migration's duration, task, start and the names it reported, or empty where the stage has no migration step. */
  readonly MigrationSeconds?: string;
  readonly MigrationTask?: string;
  readonly MigrationStartedAt?: string;
  /** Where the migration task logs: its stream is `<prefix>/<task id>`, with the tool's report of the migrations it applied. */
  readonly MigrationLogGroup?: string;
  readonly MigrationStreamPrefix?: string;
}

/** The pre-deploy snapshot's id when the deploy skipped it (lambda/pre-deploy-snapshot). */
export const SNAPSHOT_SKIPPED = 'skipped';

/** Create and Update record the release that just reached the services; Delete records nothing. */
export async function handleOnEvent(event: CdkCustomResourceEvent, clients: Clients, now: Date): Promise<CdkCustomResourceResponse> {
  if (event.RequestType === 'Delete') return { PhysicalResourceId: event.PhysicalResourceId };
  const p = event.ResourceProperties as unknown as RecordResourceProperties;
  const task = p.MigrationTask || 'none';
  const [streamPrefix, container] = (p.MigrationStreamPrefix ?? '').split('/');
  const applied =
    task.startsWith('arn:') && p.MigrationLogGroup && container ? await appliedMigrations(clients, { logGroup: p.MigrationLogGroup, streamPrefix, container }, task) : undefined;
  let stackRollback = false;
  try {
    stackRollback = event.RequestType === 'Update' && (await isRollingBack(clients.cloudformation, event.StackId));
  } catch (error) {
    console.error(JSON.stringify({ message: 'the stack status could not be read; recording as a release', error: (error as Error).name }));
  }
  const { recorded } = await publishRecord(
    clients,
    {
      stage: p.Stage,
      release: p.Release,
      image: p.Image,
      commit: p.Commit ?? '',
      snapshotId: p.SnapshotId,
      snapshotSkipped: p.SnapshotId === SNAPSHOT_SKIPPED,
      startedAt: p.StartedAt ?? '',
      migrationSeconds: Number(p.MigrationSeconds || 0),
      migrationTask: task,
      migrationStartedAt: p.MigrationStartedAt ?? '',
      migrationsApplied: applied ?? null,
      stackRollback,
    },
    now,
  );
  return { PhysicalResourceId: `release-record-${p.Stage}`, Data: { Recorded: String(recorded) } };
}
