import { CloudWatchClient, ListMetricsCommand, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import type { CdkCustomResourceEvent } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeAll, describe, expect, test, vi } from 'vitest';
import { handleOnEvent, type RecordResourceProperties } from '../../lambda/release-record/custom-resource';
import type { Clients } from '../../lambda/release-record/record';
import { RELEASE_EVENT, RELEASE_METRICS_NAMESPACE } from '../../lib/shared/naming';
import { type Moto, startMoto } from '../support/moto';

let moto: Moto;
let clients: Clients;
const NOW = new Date('2026-12-01T10:30:00Z');
let stage: string;
let run = 0;

const props = (overrides: Partial<RecordResourceProperties> = {}): RecordResourceProperties => ({
  Stage: stage,
  Release: 'v1.4.2-3f9a1c2e',
  Image: 'webapp:v1.4.2',
  SnapshotId: 'predeploy-prod-v1-4-2-3f9a1c2e-202612011020',
  MigrationSeconds: '42',
  MigrationTask: 'arn:aws:ecs:eu-west-1:123456789012:task/prod-App-Cluster/0123',
  ...overrides,
});
const event = (type: 'Create' | 'Update' | 'Delete', p = props()): CdkCustomResourceEvent =>
  ({
    RequestType: type,
    ServiceToken: 'x',
    ResponseURL: 'x',
    StackId: 'arn:aws:cloudformation:eu-west-1:123456789012:stack/prod-App/1',
    RequestId: 'r',
    LogicalResourceId: 'ReleaseRecord',
    ResourceType: 'Custom::ReleaseRecord',
    ResourceProperties: { ServiceToken: 'x', ...p },
    ...(type === 'Create' ? {} : { PhysicalResourceId: `release-record-${p.Stage}`, OldResourceProperties: { ServiceToken: 'x' } }),
  }) as CdkCustomResourceEvent;

beforeAll(async () => {
  moto = await startMoto();
  const config = moto.clientConfig('eu-west-1');
  clients = { cloudwatch: new CloudWatchClient(config), events: new EventBridgeClient(config) };
});
afterEach(() => {
  vi.restoreAllMocks();
  stage = `s${Date.now()}${run++}`;
});
stage = `s${Date.now()}`;

describe('the release record', () => {
  test('a release that reached its services is one metric point per figure and one event', async () => {
    const sent: unknown[] = [];
    const events = new EventBridgeClient(moto.clientConfig('eu-west-1'));
    const original = events.send.bind(events);
    // moto accepts the event; the entry it was given is kept to read it back.
    vi.spyOn(events, 'send').mockImplementation(async (command: unknown) => {
      sent.push((command as PutEventsCommand).input);
      return original(command as PutEventsCommand);
    });
    const answer = await handleOnEvent(event('Create'), { ...clients, events }, NOW);
    expect(answer).toEqual({ PhysicalResourceId: `release-record-${stage}`, Data: { Recorded: 'true' } });
    const metrics = await clients.cloudwatch.send(new ListMetricsCommand({ Namespace: RELEASE_METRICS_NAMESPACE, Dimensions: [{ Name: 'Stage', Value: stage }] }));
    expect((metrics.Metrics ?? []).map((m) => m.MetricName).sort()).toEqual(['MigrationSeconds', 'Release']);
    expect(sent).toEqual([
      {
        Entries: [
          {
            Source: RELEASE_EVENT.source,
            DetailType: RELEASE_EVENT.detailType,
            Time: NOW,
            Detail: JSON.stringify({
              ...{ stage, release: 'v1.4.2-3f9a1c2e', image: 'webapp:v1.4.2', snapshotId: props().SnapshotId, migrationSeconds: 42, migrationTask: props().MigrationTask },
              completedAt: NOW.toISOString(),
            }),
          },
        ],
      },
    ]);
  });

  test('a stage without a migration step records 0 seconds and no task', async () => {
    const { MigrationSeconds: _s, MigrationTask: _t, ...withoutMigration } = props();
    const log = vi.spyOn(console, 'log').mockImplementation(() => undefined);
    await handleOnEvent(event('Update', withoutMigration as RecordResourceProperties), clients, NOW);
    expect(JSON.parse(log.mock.calls.at(-1)![0] as string)).toMatchObject({ message: 'release recorded', migrationSeconds: 0, migrationTask: 'none' });
  });

  test('a record that cannot be written is logged as an error and never fails the release', async () => {
    const cloudwatch = new CloudWatchClient(moto.clientConfig('eu-west-1'));
    const events = new EventBridgeClient(moto.clientConfig('eu-west-1'));
    const cw = mockClient(cloudwatch);
    const eb = mockClient(events);
    // Faults moto cannot produce: throttling, and an entry EventBridge refuses.
    cw.on(PutMetricDataCommand).rejects(Object.assign(new Error('Rate exceeded'), { name: 'Throttling' }));
    eb.on(PutEventsCommand).resolves({ FailedEntryCount: 1, Entries: [{ ErrorCode: 'InternalFailure', ErrorMessage: 'try again' }] });
    const error = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      expect(await handleOnEvent(event('Create'), { cloudwatch, events }, NOW)).toEqual({ PhysicalResourceId: `release-record-${stage}`, Data: { Recorded: 'false' } });
      expect(JSON.parse(error.mock.calls[0][0] as string)).toMatchObject({
        message: 'the release record could not be written in full; the release itself is complete',
        release: 'v1.4.2-3f9a1c2e',
        problems: ['metric: Throttling: Rate exceeded', 'event: InternalFailure: try again'],
      });
    } finally {
      cw.restore();
      eb.restore();
    }
  });

  test('delete records nothing', async () => {
    const send = vi.spyOn(clients.cloudwatch, 'send');
    expect(await handleOnEvent(event('Delete'), clients, NOW)).toEqual({ PhysicalResourceId: `release-record-${stage}` });
    expect(send).not.toHaveBeenCalled();
  });
});
