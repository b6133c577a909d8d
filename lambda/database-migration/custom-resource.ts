import type { CdkCustomResourceEvent, CdkCustomResourceIsCompleteEvent, CdkCustomResourceIsCompleteResponse, CdkCustomResourceResponse } from 'aws-lambda';
import { type Clients, type MigrationSettings, pollMigration, SKIPPED, startMigration } from './migration';

/** Properties the app stack passes (CloudFormation turns every value into a string). */
export interface MigrationResourceProperties {
  readonly Stage: string;
  readonly Release: string;
  readonly Cluster: string;
  readonly TaskDefinition: string;
  /** Comma-separated. */
  readonly Subnets: string;
  readonly SecurityGroups: string;
  readonly Container: string;
  readonly LogGroup: string;
  readonly StreamPrefix: string;
  readonly TimeoutMinutes: string;
  readonly DbInstanceIdentifier: string;
  /** Prefix of the per-database record parameter (`<prefix>/<DbiResourceId>`). */
  readonly RecordPrefix: string;
}

export function settingsFrom(props: MigrationResourceProperties): MigrationSettings {
  return {
    stage: props.Stage,
    release: props.Release,
    cluster: props.Cluster,
    taskDefinition: props.TaskDefinition,
    subnets: props.Subnets.split(',').filter(Boolean),
    securityGroups: props.SecurityGroups.split(',').filter(Boolean),
    container: props.Container,
    logGroup: props.LogGroup,
    streamPrefix: props.StreamPrefix,
    timeoutMinutes: Number(props.TimeoutMinutes),
    dbInstanceIdentifier: props.DbInstanceIdentifier,
    recordPrefix: props.RecordPrefix,
  };
}

/** Create and Update start the release's migration (or skip it, saying why); Delete never migrates. */
export async function handleOnEvent(event: CdkCustomResourceEvent, clients: Clients, now: Date): Promise<CdkCustomResourceResponse> {
  if (event.RequestType === 'Delete') return { PhysicalResourceId: event.PhysicalResourceId };
  const props = event.ResourceProperties as unknown as MigrationResourceProperties;
  const state = await startMigration(clients, settingsFrom(props), event.StackId, now);
  console.log(JSON.stringify({ message: state.skipped ? `migration skipped: ${state.skipped}` : 'migration started', release: props.Release, taskArn: state.taskArn }));
  return { PhysicalResourceId: `migration-${props.Stage}`, Data: { TaskArn: state.taskArn, StartedAt: state.startedAt, Record: state.record } };
}

export async function handleIsComplete(event: CdkCustomResourceIsCompleteEvent, clients: Clients, now: Date): Promise<CdkCustomResourceIsCompleteResponse> {
  if (event.RequestType === 'Delete') return { IsComplete: true };
  const props = event.ResourceProperties as unknown as MigrationResourceProperties;
  const data = (event as { Data?: Record<string, string> }).Data ?? {};
  const outcome = await pollMigration(
    clients,
    settingsFrom(props),
    { taskArn: data.TaskArn ?? SKIPPED, startedAt: data.StartedAt ?? now.toISOString(), record: data.Record ?? '' },
    now,
  );
  if (!outcome.complete) return { IsComplete: false };
  // One line per release: the release record the dashboard and an operator read (docs/releases.md).
  console.log(JSON.stringify({ message: 'migration complete', release: props.Release, taskArn: outcome.taskArn, durationSeconds: outcome.durationSeconds }));
  return { IsComplete: true, Data: { TaskArn: outcome.taskArn, DurationSeconds: String(outcome.durationSeconds) } };
}
