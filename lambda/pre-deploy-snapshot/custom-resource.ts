import type { CdkCustomResourceEvent, CdkCustomResourceIsCompleteEvent, CdkCustomResourceIsCompleteResponse, CdkCustomResourceResponse } from 'aws-lambda';
import { begin, type Clients, poll, type SnapshotSettings } from './snapshot';

/** Properties the app stack passes (CloudFormation turns every value into a string). */
export interface SnapshotResourceProperties {
  readonly Stage: string;
  readonly DbInstanceIdentifier: string;
  readonly Release: string;
  readonly Image: string;
  readonly StackName: string;
  readonly Cluster: string;
  readonly WebTaskFamily: string;
  readonly Keep: string;
  readonly DbWaitMinutes: string;
  readonly DrRegion?: string;
  readonly DrKmsKeyArn?: string;
  /** "true" when the deploy was run with -c skipPreDeploySnapshot=true. */
  readonly Skip?: string;
}

export function settingsFrom(props: SnapshotResourceProperties): SnapshotSettings {
  return {
    stage: props.Stage,
    dbInstanceIdentifier: props.DbInstanceIdentifier,
    release: props.Release,
    image: props.Image,
    stackName: props.StackName,
    cluster: props.Cluster,
    webTaskFamily: props.WebTaskFamily,
    keep: Number(props.Keep),
    dbWaitMinutes: Number(props.DbWaitMinutes),
    dr: props.DrRegion && props.DrKmsKeyArn ? { region: props.DrRegion, kmsKeyArn: props.DrKmsKeyArn } : undefined,
  };
}

const SKIPPED = 'skipped';

/**
 * Create and Update take (or find) the release's snapshot; Delete does nothing, because
 * snapshots are kept whatever happens to the stack.
 */
export async function handleOnEvent(event: CdkCustomResourceEvent, clients: Clients, now: Date): Promise<CdkCustomResourceResponse> {
  if (event.RequestType === 'Delete') return { PhysicalResourceId: event.PhysicalResourceId };
  const props = event.ResourceProperties as unknown as SnapshotResourceProperties;
  if (props.Skip === 'true') {
    console.warn(JSON.stringify({ message: 'pre-deploy snapshot skipped by -c skipPreDeploySnapshot=true', release: props.Release }));
    return { PhysicalResourceId: `${SKIPPED}-${props.Stage}`, Data: { SnapshotId: SKIPPED, StartedAt: now.toISOString() } };
  }
  const { progress } = await begin(clients, settingsFrom(props), now);
  return { PhysicalResourceId: progress.snapshotId, Data: { SnapshotId: progress.snapshotId, StartedAt: progress.startedAt } };
}

export async function handleIsComplete(event: CdkCustomResourceIsCompleteEvent, clients: Clients, now: Date): Promise<CdkCustomResourceIsCompleteResponse> {
  if (event.RequestType === 'Delete') return { IsComplete: true };
  const props = event.ResourceProperties as unknown as SnapshotResourceProperties;
  const data = (event as { Data?: Record<string, string> }).Data ?? {};
  if (props.Skip === 'true') return { IsComplete: true, Data: { SnapshotId: SKIPPED, DrCopy: SKIPPED } };
  const outcome = await poll(clients, settingsFrom(props), { snapshotId: event.PhysicalResourceId!, startedAt: data.StartedAt ?? now.toISOString() }, now);
  if (!outcome.complete) return { IsComplete: false };
  console.log(JSON.stringify({ message: 'pre-deploy snapshot ready', ...outcome }));
  return {
    IsComplete: true,
    Data: {
      SnapshotId: outcome.snapshotId,
      SnapshotArn: outcome.snapshotArn ?? '',
      DrCopy: outcome.drCopy ?? '',
      Pruned: (outcome.pruned ?? []).join(' '),
      Warnings: (outcome.warnings ?? []).join(' | ').slice(0, 1000),
    },
  };
}
