/**
 * The release record: once a release has reached both services, one CloudWatch metric point and
 * one EventBridge event say what runs now and since when (release id, image, pre-deploy snapshot,
 * migration duration). Pure logic over injected clients.
 */
import { type CloudWatchClient, PutMetricDataCommand, type StandardUnit } from '@aws-sdk/client-cloudwatch';
import { type EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { RELEASE_EVENT, RELEASE_METRICS_NAMESPACE } from '../../lib/shared/naming';

export interface Clients {
  readonly cloudwatch: Pick<CloudWatchClient, 'send'>;
  readonly events: Pick<EventBridgeClient, 'send'>;
}

export interface ReleaseRecord {
  readonly stage: string;
  readonly release: string;
  readonly image: string;
  readonly snapshotId: string;
  /** Seconds the migration ran ("0" when it was skipped or there is none). */
  readonly migrationSeconds: number;
  readonly migrationTask: string;
}

/**
 * Publishes the record. A release that reached its services is not rolled back because its
 * record could not be written: a failure is logged as an error and reported, never thrown.
 */
export async function publishRecord(clients: Clients, record: ReleaseRecord, now: Date): Promise<{ recorded: boolean; problems: string[] }> {
  const problems: string[] = [];
  const dimensions = [{ Name: 'Stage', Value: record.stage }];
  const metric = (MetricName: string, Value: number, Unit: StandardUnit) => ({ MetricName, Value, Unit, Timestamp: now, Dimensions: dimensions });
  try {
    await clients.cloudwatch.send(
      new PutMetricDataCommand({
        Namespace: RELEASE_METRICS_NAMESPACE,
        MetricData: [metric('Release', 1, 'Count'), metric('MigrationSeconds', record.migrationSeconds, 'Seconds')],
      }),
    );
  } catch (error) {
    problems.push(`metric: ${(error as Error).name}: ${(error as Error).message}`);
  }
  try {
    const out = await clients.events.send(
      new PutEventsCommand({
        Entries: [{ Source: RELEASE_EVENT.source, DetailType: RELEASE_EVENT.detailType, Time: now, Detail: JSON.stringify({ ...record, completedAt: now.toISOString() }) }],
      }),
    );
    if (out.FailedEntryCount) problems.push(`event: ${out.Entries?.[0]?.ErrorCode ?? 'failed'}: ${out.Entries?.[0]?.ErrorMessage ?? ''}`);
  } catch (error) {
    problems.push(`event: ${(error as Error).name}: ${(error as Error).message}`);
  }
  if (problems.length > 0) console.error(JSON.stringify({ message: 'the release record could not be written in full; the release itself is complete', ...record, problems }));
  else console.log(JSON.stringify({ message: 'release recorded', ...record }));
  return { recorded: problems.length === 0, problems };
}
