import { CloudFormationClient, CreateStackCommand, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { CloudWatchClient, ListMetricsCommand, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { CloudWatchLogsClient, CreateLogGroupCommand, CreateLogStreamCommand, PutLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { CreateRepositoryCommand, ECRClient, PutImageCommand } from '@aws-sdk/client-ecr';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { GetParameterHistoryCommand, SSMClient } from '@aws-sdk/client-ssm';
import type { CdkCustomResourceEvent } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeAll, describe, expect, test, vi } from 'vitest';
import { handleOnEvent, type RecordResourceProperties } from '../../lambda/release-record/custom-resource';
import type { Clients } from '../../lambda/release-record/record';
import { PARAMETER_MAX_BYTES, parseStoredRelease, releaseParameter, storedValue } from '../../lambda/release-record/stored';
import { RELEASE_EVENT, RELEASE_METRICS_NAMESPACE } from '../../lib/shared/naming';
import { imageManifest } from '../support/ecr';
import { type Moto, startMoto } from '../support/moto';

let moto: Moto;
let clients: Clients;
const NOW = new Date('2026-12-01T10:30:00Z');
let stage: string;
let run = 0;
let digest: string;
let stackId = '';
const TASK = 'arn:aws:ecs:eu-west-1:123456789012:task/prod-App-Cluster/0123';
const LOG_GROUP = 'prod-App-MigrationLogs';
/** Its own repository: the moto server is shared by every file, and others make a `webapp` in this region. */
const REPOSITORY = `webapp-record-${Date.now()}`;

const props = (overrides: Partial<RecordResourceProperties> = {}): RecordResourceProperties => ({
  Stage: stage,
  Release: 'v1.4.2-3f9a1c2e',
  Image: `${REPOSITORY}:v1.4.2`,
  Commit: '0123456789abcdef0123456789abcdef01234567',
  SnapshotId: 'predeploy-prod-v1-4-2-3f9a1c2e-202612011020',
  StartedAt: '2026-12-01T10:20:00.000Z',
  MigrationSeconds: '42',
  MigrationTask: TASK,
  MigrationStartedAt: '2026-12-01T10:24:00.000Z',
  MigrationLogGroup: LOG_GROUP,
  MigrationStreamPrefix: 'migrationtask/app',
  ...overrides,
});
const event = (type: 'Create' | 'Update' | 'Delete', p = props()): CdkCustomResourceEvent =>
  ({
    RequestType: type,
    ServiceToken: 'x',
    ResponseURL: 'x',
    StackId: stackId,
    RequestId: 'r',
    LogicalResourceId: 'ReleaseRecord',
    ResourceType: 'Custom::ReleaseRecord',
    ResourceProperties: { ServiceToken: 'x', ...p },
    ...(type === 'Create' ? {} : { PhysicalResourceId: `release-record-${p.Stage}`, OldResourceProperties: { ServiceToken: 'x' } }),
  }) as CdkCustomResourceEvent;

beforeAll(async () => {
  moto = await startMoto();
  const config = moto.clientConfig('eu-west-1');
  clients = {
    cloudwatch: new CloudWatchClient(config),
    events: new EventBridgeClient(config),
    ssm: new SSMClient(config),
    ecr: new ECRClient(config),
    logs: new CloudWatchLogsClient(config),
    cloudformation: new CloudFormationClient(config),
  };
  // The App stack the record belongs to, as deployed (not rolling back).
  stackId = (
    await clients.cloudformation.send(
      new CreateStackCommand({ StackName: `release-record-${Date.now()}`, TemplateBody: JSON.stringify({ Resources: { Topic: { Type: 'AWS::SNS::Topic' } } }) }),
    )
  ).StackId!;
  await clients.ecr.send(new CreateRepositoryCommand({ repositoryName: REPOSITORY }));
  digest = (await clients.ecr.send(new PutImageCommand({ repositoryName: REPOSITORY, imageManifest: imageManifest('record'), imageTag: 'v1.4.2' }))).image!.imageId!.imageDigest!;
  // The migration tool's report, as docs/app-contract.md asks for it, among its other lines.
  await clients.logs.send(new CreateLogGroupCommand({ logGroupName: LOG_GROUP }));
  await clients.logs.send(new CreateLogStreamCommand({ logGroupName: LOG_GROUP, logStreamName: 'migrationtask/app/0123' }));
  const lines = ['applying 0042_orders_index', '{"level":"info","msg":"migrationsApplied is next"}', '{"migrationsApplied":["0042_orders_index","0043_drop_legacy_sku"]}', 'done'];
  await clients.logs.send(
    new PutLogEventsCommand({
      logGroupName: LOG_GROUP,
      logStreamName: 'migrationtask/app/0123',
      logEvents: lines.map((message, i) => ({ message, timestamp: NOW.getTime() + i })),
    }),
  );
});
const stored = async () => parseStoredRelease((await clients.ssm.send(new GetParameterHistoryCommand({ Name: releaseParameter(stage) }))).Parameters?.at(-1)?.Value);
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
            Detail: expect.any(String),
          },
        ],
      },
    ]);
    const detail = JSON.parse((sent[0] as { Entries: { Detail: string }[] }).Entries[0].Detail);
    expect(detail).toEqual(await stored());
  });

  test('the stage parameter holds what runs now, and its history is the release history', async () => {
    await handleOnEvent(event('Create'), clients, NOW);
    expect(await stored()).toEqual({
      stage,
      release: 'v1.4.2-3f9a1c2e',
      image: `${REPOSITORY}:v1.4.2`,
      digest,
      commit: '0123456789abcdef0123456789abcdef01234567',
      snapshotId: props().SnapshotId,
      snapshotSkipped: false,
      startedAt: '2026-12-01T10:20:00.000Z',
      migrationTask: TASK,
      migrationStartedAt: '2026-12-01T10:24:00.000Z',
      migrationSeconds: 42,
      migrationsApplied: ['0042_orders_index', '0043_drop_legacy_sku'],
      completedAt: NOW.toISOString(),
      previous: '',
      stackRollback: false,
    });
    // The next release names this one as the one before; the same release recorded again keeps it.
    const next = props({ Release: 'v1.4.3-aaaaaaaa', Image: `${REPOSITORY}@${digest}`, SnapshotId: 'skipped', MigrationTask: 'skipped' });
    await handleOnEvent(event('Update', next), clients, NOW);
    await handleOnEvent(event('Update', next), clients, NOW);
    const history = (await clients.ssm.send(new GetParameterHistoryCommand({ Name: releaseParameter(stage) }))).Parameters!.map((p) => parseStoredRelease(p.Value));
    expect(history.map((r) => [r?.release, r?.previous])).toEqual([
      ['v1.4.2-3f9a1c2e', ''],
      ['v1.4.3-aaaaaaaa', 'v1.4.2-3f9a1c2e'],
      ['v1.4.3-aaaaaaaa', 'v1.4.2-3f9a1c2e'],
    ]);
    // A digest is its own; a skipped snapshot and a migration skipped (migrated before) say so, with no report read.
    expect(await stored()).toMatchObject({ digest, snapshotSkipped: true, migrationTask: 'skipped', migrationsApplied: null });
  });

  test('a stack rollback records the release that runs again with what ran before it, not the release that failed', async () => {
    const record = (release: string) => props({ Release: release, Image: `${REPOSITORY}@${digest}` });
    await handleOnEvent(event('Create', record('v1.4.1-aaaaaaaa')), clients, NOW);
    await handleOnEvent(event('Update', record('v1.4.2-bbbbbbbb')), clients, NOW);
    await handleOnEvent(event('Update', record('v1.4.3-cccccccc')), clients, NOW);
    // CloudFormation rolls the App stack back after v1.4.3's record was written: moto cannot put a
    // stack into UPDATE_ROLLBACK_IN_PROGRESS, so that one answer is stubbed; SSM is moto's.
    const cloudformation = new CloudFormationClient(moto.clientConfig('eu-west-1'));
    const cfn = mockClient(cloudformation);
    cfn.on(DescribeStacksCommand).resolves({ Stacks: [{ StackName: 'prod-App', StackStatus: 'UPDATE_ROLLBACK_IN_PROGRESS', CreationTime: NOW }] });
    try {
      await handleOnEvent(event('Update', record('v1.4.2-bbbbbbbb')), { ...clients, cloudformation }, NOW);
    } finally {
      cfn.restore();
    }
    expect(await stored()).toMatchObject({ release: 'v1.4.2-bbbbbbbb', previous: 'v1.4.1-aaaaaaaa', stackRollback: true });
  });

  test('a record with more migration names than 4 KB holds keeps the first ones and says how many it left out', () => {
    const names = Array.from({ length: 200 }, (_, i) => `20261201${String(i).padStart(4, '0')}_a_rather_long_migration_name`);
    const value = storedValue({ ...parseStoredRelease('{"release":"r","image":"webapp:r"}')!, migrationsApplied: names });
    expect(value.length).toBeLessThanOrEqual(PARAMETER_MAX_BYTES);
    const kept = parseStoredRelease(value)!.migrationsApplied!;
    expect(kept.slice(0, -1)).toEqual(names.slice(0, kept.length - 1));
    expect(kept.at(-1)).toBe(`... and ${names.length - kept.length + 1} more (the migration task's log has them all)`);
  });

  test('the 4 KB are bytes: names in letters of two bytes each are cut to fit as well', () => {
    const names = Array.from({ length: 100 }, (_, i) => `20261201${String(i).padStart(4, '0')}_größenänderung_überall`);
    const value = storedValue({ ...parseStoredRelease('{"release":"r","image":"webapp:r"}')!, migrationsApplied: names });
    expect(Buffer.byteLength(value)).toBeLessThanOrEqual(PARAMETER_MAX_BYTES);
    expect(parseStoredRelease(value)!.migrationsApplied!.at(-1)).toMatch(/^\.\.\. and \d+ more/);
  });

  test('a stage without a migration step records 0 seconds and no task', async () => {
    const { MigrationSeconds: _s, MigrationTask: _t, MigrationStartedAt: _a, MigrationLogGroup: _g, MigrationStreamPrefix: _p, ...withoutMigration } = props();
    const log = vi.spyOn(console, 'log').mockImplementation(() => undefined);
    await handleOnEvent(event('Update', withoutMigration as RecordResourceProperties), clients, NOW);
    expect(JSON.parse(log.mock.calls.at(-1)![0] as string)).toMatchObject({ message: 'release recorded', migrationSeconds: 0, migrationTask: 'none', migrationsApplied: null });
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
      expect(await handleOnEvent(event('Create'), { ...clients, cloudwatch, events }, NOW)).toEqual({ PhysicalResourceId: `release-record-${stage}`, Data: { Recorded: 'false' } });
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
