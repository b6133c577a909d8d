/**
 * The release record: once a release has reached both services, the stage's SSM parameter
 * `/webapp/<stage>/releases/current` (stored.ts) says what runs now, from which commit and image
 * digest, with which migration and snapshot, since when, and what ran before; its parameter
 * history is the stage's release history, which rollback and restore read. One CloudWatch metric
 * point (the dashboard's "Releases" graph) and one EventBridge event (whatever the team routes it
 * to, and the ticket for a release without a snapshot) say the same. Pure logic over injected clients.
 */

import { type CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { type CloudWatchClient, PutMetricDataCommand, type StandardUnit } from '@aws-sdk/client-cloudwatch';
import type { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import { DescribeImagesCommand, type ECRClient } from '@aws-sdk/client-ecr';
import { type EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { GetParameterCommand, PutParameterCommand, type SSMClient } from '@aws-sdk/client-ssm';
import { RELEASE_EVENT, RELEASE_METRICS_NAMESPACE } from '../../lib/shared/naming';
import { releaseHistory } from './history';
import { parseStoredRelease, releaseParameter, type StoredRelease, storedValue } from './stored';

export interface Clients {
  readonly cloudwatch: Pick<CloudWatchClient, 'send'>;
  readonly events: Pick<EventBridgeClient, 'send'>;
  readonly ssm: Pick<SSMClient, 'send'>;
  readonly ecr: Pick<ECRClient, 'send'>;
  /** Reads the migration tool's report from the migration task's log. */
  readonly logs: Pick<CloudWatchLogsClient, 'send'>;
  /** Sees whether the App stack is rolling back. */
  readonly cloudformation: Pick<CloudFormationClient, 'send'>;
}

/** Whether the stack is rolling back (CloudFormation then updates the record back to the release that ran before). */
export async function isRollingBack(cloudformation: Clients['cloudformation'], stackId: string): Promise<boolean> {
  const stack = (await cloudformation.send(new DescribeStacksCommand({ StackName: stackId }))).Stacks?.[0];
  return stack?.StackStatus?.includes('ROLLBACK') ?? false;
}

/** What the custom resource knows of the release; the function adds the digest, the previous release and the completion time. */
export type ReleaseRecord = Omit<StoredRelease, 'digest' | 'previous' | 'completedAt'>;

/** `webapp@sha256:...` carries its digest; `webapp:v1.4.2` is looked up in the stage's registry. */
async function digestOf(ecr: Clients['ecr'], image: string): Promise<string> {
  const at = image.indexOf('@');
  if (at >= 0) return image.slice(at + 1);
  const colon = image.lastIndexOf(':');
  const repositoryName = image.slice(image.lastIndexOf('/') + 1, colon);
  const out = await ecr.send(new DescribeImagesCommand({ repositoryName, imageIds: [{ imageTag: image.slice(colon + 1) }] }));
  return out.imageDetails?.[0]?.imageDigest ?? '';
}

/**
 * The release that ran before this one: what the record says runs now, unless it is this release
 * again (then what ran before it). During a stack rollback the record's current release is the one
 * that failed: what ran before this release is the previous of its own last version.
 */
async function previousOf(ssm: Clients['ssm'], stage: string, release: string, stackRollback: boolean): Promise<string> {
  try {
    const current = parseStoredRelease((await ssm.send(new GetParameterCommand({ Name: releaseParameter(stage) }))).Parameter?.Value);
    if (!current) return '';
    if (current.release === release) return current.previous;
    if (!stackRollback) return current.release;
    const own = (await releaseHistory(ssm, stage)).reverse().find((r) => r.release === release);
    return own ? own.previous : current.previous;
  } catch (error) {
    if ((error as Error).name === 'ParameterNotFound') return '';
    throw error;
  }
}

/**
 * Publishes the record. A release that reached its services is not rolled back because its
 * record could not be written: a failure is logged as an error and reported, never thrown.
 */
export async function publishRecord(clients: Clients, record: ReleaseRecord, now: Date): Promise<{ recorded: boolean; problems: string[]; stored?: StoredRelease }> {
  const problems: string[] = [];
  const failed = (what: string, error: unknown) => problems.push(`${what}: ${(error as Error).name}: ${(error as Error).message}`);
  let digest = '';
  try {
    digest = await digestOf(clients.ecr, record.image);
  } catch (error) {
    failed('digest', error);
  }
  let stored: StoredRelease | undefined;
  try {
    stored = { ...record, digest, completedAt: now.toISOString(), previous: await previousOf(clients.ssm, record.stage, record.release, record.stackRollback) };
    await clients.ssm.send(
      new PutParameterCommand({
        Name: releaseParameter(record.stage),
        Value: storedValue(stored),
        Type: 'String',
        Tier: 'Standard',
        Overwrite: true,
        Description: `The release ${record.stage} runs; its history is the release history (docs/releases.md)`,
      }),
    );
  } catch (error) {
    failed('record', error);
  }
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
    failed('metric', error);
  }
  const detail = stored ?? { ...record, digest, completedAt: now.toISOString() };
  try {
    const out = await clients.events.send(
      new PutEventsCommand({ Entries: [{ Source: RELEASE_EVENT.source, DetailType: RELEASE_EVENT.detailType, Time: now, Detail: storedValue(detail as StoredRelease) }] }),
    );
    if (out.FailedEntryCount) problems.push(`event: ${out.Entries?.[0]?.ErrorCode ?? 'failed'}: ${out.Entries?.[0]?.ErrorMessage ?? ''}`);
  } catch (error) {
    failed('event', error);
  }
  if (problems.length > 0) console.error(JSON.stringify({ message: 'the release record could not be written in full; the release itself is complete', ...detail, problems }));
  else console.log(JSON.stringify({ message: 'release recorded', ...detail }));
  return { recorded: problems.length === 0, problems, stored };
}
