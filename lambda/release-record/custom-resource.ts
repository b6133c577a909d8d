import type { CdkCustomResourceEvent, CdkCustomResourceResponse } from 'aws-lambda';
import { type Clients, publishRecord } from './record';

/** Properties the app stack passes (CloudFormation turns every value into a string). */
export interface RecordResourceProperties {
  readonly Stage: string;
  readonly Release: string;
  readonly Image: string;
  readonly SnapshotId: string;
  /** The migration's duration and task, or empty where the stage has no migration step. */
  readonly MigrationSeconds?: string;
  readonly MigrationTask?: string;
}

/** Create and Update record the release that just reached the services; Delete records nothing. */
export async function handleOnEvent(event: CdkCustomResourceEvent, clients: Clients, now: Date): Promise<CdkCustomResourceResponse> {
  if (event.RequestType === 'Delete') return { PhysicalResourceId: event.PhysicalResourceId };
  const p = event.ResourceProperties as unknown as RecordResourceProperties;
  const { recorded } = await publishRecord(
    clients,
    { stage: p.Stage, release: p.Release, image: p.Image, snapshotId: p.SnapshotId, migrationSeconds: Number(p.MigrationSeconds || 0), migrationTask: p.MigrationTask || 'none' },
    now,
  );
  return { PhysicalResourceId: `release-record-${p.Stage}`, Data: { Recorded: String(recorded) } };
}
