import {
  CreateClusterCommand,
  CreateServiceCommand,
  DescribeServicesCommand,
  DescribeTaskDefinitionCommand,
  ECSClient,
  ListServicesCommand,
  RegisterTaskDefinitionCommand,
} from '@aws-sdk/client-ecs';
import { CreateKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import {
  CopyDBSnapshotCommand,
  CreateDBInstanceCommand,
  CreateDBSnapshotCommand,
  DBSnapshotAlreadyExistsFault,
  DeleteDBSnapshotCommand,
  DescribeDBInstancesCommand,
  DescribeDBSnapshotsCommand,
  InvalidDBInstanceStateFault,
  RDSClient,
  type RDSServiceException,
  SnapshotQuotaExceededFault,
} from '@aws-sdk/client-rds';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { handleIsComplete, handleOnEvent, settingsFrom } from '../../lambda/pre-deploy-snapshot/custom-resource';
import { begin, type Clients, poll, type SnapshotSettings, snapshotId, TAGS, TOOL_TAG } from '../../lambda/pre-deploy-snapshot/snapshot';
import { type Moto, startMoto } from '../support/moto';

const PRIMARY = 'eu-west-1';
const DR = 'eu-central-1';
const DB = 'webapp-prod';

let moto: Moto;
let clients: Clients & { rdsDr: RDSClient; rds: RDSClient };
let drKeyArn: string;

function settings(overrides: Partial<SnapshotSettings> = {}): SnapshotSettings {
  return {
    stage: 'prod',
    dbInstanceIdentifier: DB,
    release: 'v1.4.2-3f9a1c2e',
    image: '123456789012.dkr.ecr.eu-west-1.amazonaws.com/webapp:v1.4.2',
    stackName: 'prod-App',
    cluster: 'prod-cluster',
    webTaskFamily: 'prod-web',
    keep: 3,
    dbWaitMinutes: 15,
    dr: { region: DR, kmsKeyArn: drKeyArn },
    ...overrides,
  };
}

/** Runs a release to the end as the Provider framework would: begin, then poll until complete. */
async function release(s: SnapshotSettings, at: Date) {
  const { progress, outcome } = await begin(clients, s, at);
  if (outcome) return outcome;
  for (let i = 0; i < 5; i++) {
    const polled = await poll(clients, s, progress, at);
    if (polled.complete) return polled;
  }
  throw new Error('never completed');
}

async function snapshots(rds: RDSClient, instance = DB) {
  const out = await rds.send(new DescribeDBSnapshotsCommand({ DBInstanceIdentifier: instance, SnapshotType: 'manual' }));
  return out.DBSnapshots ?? [];
}
const tag = (s: { TagList?: { Key?: string; Value?: string }[] }, key: string) => s.TagList?.find((t) => t.Key === key)?.Value;

beforeAll(async () => {
  moto = await startMoto();
  clients = {
    rds: new RDSClient(moto.clientConfig(PRIMARY)),
    rdsDr: new RDSClient(moto.clientConfig(DR)),
    ecs: new ECSClient(moto.clientConfig(PRIMARY)),
  };
  drKeyArn = (await new KMSClient(moto.clientConfig(DR)).send(new CreateKeyCommand({ Description: 'DR snapshots' }))).KeyMetadata!.Arn!;
  await clients.rds.send(
    new CreateDBInstanceCommand({
      DBInstanceIdentifier: DB,
      DBInstanceClass: 'db.m7g.large',
      Engine: 'postgres',
      MasterUsername: 'postgres',
      MasterUserPassword: 'not-a-real-password',
      AllocatedStorage: 100,
    }),
  );
  const ecs = clients.ecs as ECSClient;
  await ecs.send(new CreateClusterCommand({ clusterName: 'prod-cluster' }));
  const td = await ecs.send(
    new RegisterTaskDefinitionCommand({
      family: 'prod-web',
      containerDefinitions: [{ name: 'web', image: '123456789012.dkr.ecr.eu-west-1.amazonaws.com/webapp:v1.4.1', memory: 512 }],
    }),
  );
  await ecs.send(new CreateServiceCommand({ cluster: 'prod-cluster', serviceName: 'web', taskDefinition: td.taskDefinition!.taskDefinitionArn, desiredCount: 1 }));
  const worker = await ecs.send(
    new RegisterTaskDefinitionCommand({
      family: 'prod-worker',
      containerDefinitions: [{ name: 'worker', image: '123456789012.dkr.ecr.eu-west-1.amazonaws.com/webapp:worker-only', memory: 512 }],
    }),
  );
  await ecs.send(new CreateServiceCommand({ cluster: 'prod-cluster', serviceName: 'a-worker', taskDefinition: worker.taskDefinition!.taskDefinitionArn, desiredCount: 1 }));
}, 60_000);
afterAll(async () => moto?.stop());

describe('snapshot ids', () => {
  test('are readable, unique per minute and valid RDS identifiers', () => {
    const at = new Date('2026-11-22T14:07:31Z');
    expect(snapshotId('prod', 'v1.4.2-3f9a1c2e', at)).toBe('predeploy-prod-v1-4-2-3f9a1c2e-202611221407');
    const digest = snapshotId('staging', `sha256:${'ab'.repeat(32)}-0c1d2e3f`, at);
    expect(digest).toMatch(/^predeploy-staging-sha256-(ab){32}-0c1d2e3f-202611221407$/);
    for (const id of [digest, snapshotId('dev', '--Weird__tag..', at), snapshotId('prod', 'x'.repeat(400), at)]) {
      expect(id).toMatch(/^[a-z][a-z0-9-]{0,254}$/);
      expect(id).not.toMatch(/--|-$/);
    }
  });
});

describe('pre-deploy snapshot against moto (RDS, ECS, KMS in two regions)', () => {
  let first: Awaited<ReturnType<typeof release>>;
  const firstAt = new Date('2026-11-22T10:00:00Z');

  beforeAll(async () => {
    first = await release(settings(), firstAt);
  });

  test('takes the snapshot with the release id and tags naming stage, release, both images and the stack', async () => {
    expect(first).toMatchObject({ complete: true, snapshotId: 'predeploy-prod-v1-4-2-3f9a1c2e-202611221000' });
    const [snap] = (await snapshots(clients.rds)).filter((s) => s.DBSnapshotIdentifier === first.snapshotId);
    expect(snap.Status).toBe('available');
    expect(first.snapshotArn).toBe(snap.DBSnapshotArn);
    expect(tag(snap, TOOL_TAG)).toBe('true');
    expect(tag(snap, TAGS.stage)).toBe('prod');
    expect(tag(snap, TAGS.release)).toBe('v1.4.2-3f9a1c2e');
    expect(tag(snap, TAGS.image)).toBe('123456789012.dkr.ecr.eu-west-1.amazonaws.com/webapp:v1.4.2');
    expect(tag(snap, TAGS.previousImage)).toBe('123456789012.dkr.ecr.eu-west-1.amazonaws.com/webapp:v1.4.1');
    expect(tag(snap, TAGS.stack)).toBe('prod-App');
  });

  test('copies it to the DR region with the DR key and its tags', async () => {
    expect(first.drCopy).toBe(`started ${first.snapshotId} in ${DR}`);
    const [copy] = (await snapshots(clients.rdsDr)).filter((s) => s.DBSnapshotIdentifier === first.snapshotId);
    expect(copy.KmsKeyId).toBe(drKeyArn);
    expect(tag(copy, TAGS.release)).toBe('v1.4.2-3f9a1c2e');
    expect(tag(copy, TOOL_TAG)).toBe('true');
  });

  test('a re-run of the same release (a retry or a rollback) returns the same snapshot at once', async () => {
    const before = (await snapshots(clients.rds)).length;
    const { outcome } = await begin(clients, settings(), new Date('2026-11-22T10:30:00Z'));
    expect(outcome).toMatchObject({ complete: true, snapshotId: first.snapshotId });
    expect(await snapshots(clients.rds)).toHaveLength(before);
  });

  test('pruning keeps the newest N of its own snapshots in both regions and never touches others, not even one tagged for the stage by hand', async () => {
    await clients.rds.send(new CreateDBSnapshotCommand({ DBInstanceIdentifier: DB, DBSnapshotIdentifier: 'manual-before-migration' }));
    // Taken by a person and tagged for the stage, older than the newest N: the stage tag alone does
    // not make a snapshot the tool's (only the tool tag does), so it is kept.
    await clients.rds.send(new CreateDBSnapshotCommand({ DBInstanceIdentifier: DB, DBSnapshotIdentifier: 'manual-stage-tagged', Tags: [{ Key: TAGS.stage, Value: 'prod' }] }));
    await clients.rds.send(
      new CreateDBSnapshotCommand({
        DBInstanceIdentifier: DB,
        DBSnapshotIdentifier: 'other-stage-tool-snapshot',
        Tags: [
          { Key: TOOL_TAG, Value: 'true' },
          { Key: TAGS.stage, Value: 'staging' },
        ],
      }),
    );
    const ids: string[] = [first.snapshotId];
    for (const [i, version] of ['v1.4.3', 'v1.4.4', 'v1.5.0'].entries()) {
      await new Promise((r) => setTimeout(r, 20)); // distinct creation times
      const outcome = await release(settings({ release: `${version}-3f9a1c2e`, image: `webapp:${version}` }), new Date(Date.UTC(2026, 10, 22, 11 + i)));
      ids.push(outcome.snapshotId);
      if (version === 'v1.5.0') expect(outcome.pruned).toEqual([`primary:${first.snapshotId}`, `${DR}:${first.snapshotId}`]);
    }
    const primary = (await snapshots(clients.rds)).map((s) => s.DBSnapshotIdentifier).sort();
    expect(primary).toEqual([...ids.slice(1), 'manual-before-migration', 'manual-stage-tagged', 'other-stage-tool-snapshot'].sort());
    const dr = (await snapshots(clients.rdsDr)).map((s) => s.DBSnapshotIdentifier).sort();
    expect(dr).toEqual(ids.slice(1).sort());
  });

  test('the first release records that nothing ran before', async () => {
    const outcome = await release(settings({ release: 'v0.1.0-00000000', webTaskFamily: 'not-deployed-yet', dr: undefined }), new Date('2026-11-22T15:00:00Z'));
    const [snap] = (await snapshots(clients.rds)).filter((s) => s.DBSnapshotIdentifier === outcome.snapshotId);
    expect(tag(snap, TAGS.previousImage)).toBe('none (first release)');
    expect(outcome.drCopy).toBe('not configured');
  });

  test('the custom resource: Create runs the release, Delete keeps every snapshot, skip does nothing', async () => {
    const props = {
      ServiceToken: 'arn:aws:lambda:eu-west-1:123456789012:function:provider',
      Stage: 'prod',
      DbInstanceIdentifier: DB,
      Release: 'v2.0.0-aaaaaaaa',
      Image: 'webapp:v2.0.0',
      StackName: 'prod-App',
      Cluster: 'prod-cluster',
      WebTaskFamily: 'prod-web',
      Keep: '10',
      DbWaitMinutes: '15',
      DrRegion: DR,
      DrKmsKeyArn: drKeyArn,
    };
    const base = {
      ServiceToken: props.ServiceToken,
      ResponseURL: 'https://example.com',
      StackId: 'stack',
      RequestId: 'req',
      LogicalResourceId: 'PreDeploySnapshot',
      ResourceType: 'Custom::PreDeploySnapshot',
    };
    const now = new Date('2026-11-22T16:00:00Z');
    const created = await handleOnEvent({ ...base, RequestType: 'Create', ResourceProperties: props }, clients, now);
    expect(created.PhysicalResourceId).toBe('predeploy-prod-v2-0-0-aaaaaaaa-202611221600');
    const done = await handleIsComplete(
      { ...base, RequestType: 'Create', ResourceProperties: props, PhysicalResourceId: created.PhysicalResourceId!, Data: created.Data } as never,
      clients,
      now,
    );
    expect(done).toMatchObject({ IsComplete: true, Data: { SnapshotId: created.PhysicalResourceId, DrCopy: `started ${created.PhysicalResourceId} in ${DR}` } });

    const before = (await snapshots(clients.rds)).length;
    const deleted = await handleOnEvent({ ...base, RequestType: 'Delete', ResourceProperties: props, PhysicalResourceId: created.PhysicalResourceId! }, clients, now);
    expect(deleted).toEqual({ PhysicalResourceId: created.PhysicalResourceId });
    expect(await snapshots(clients.rds)).toHaveLength(before);

    const skipped = await handleOnEvent(
      {
        ...base,
        RequestType: 'Update',
        ResourceProperties: { ...props, Release: 'v2.0.1-aaaaaaaa', Skip: 'true' },
        OldResourceProperties: props,
        PhysicalResourceId: created.PhysicalResourceId!,
      },
      clients,
      now,
    );
    expect(skipped.Data).toMatchObject({ SnapshotId: 'skipped' });
    expect(await snapshots(clients.rds)).toHaveLength(before);
  });
});

describe("the custom resource's isComplete", () => {
  const props = { Stage: 'prod', DbInstanceIdentifier: DB, Release: 'r', Image: 'i', StackName: 'prod-App', Cluster: 'c', WebTaskFamily: 'w', Keep: '3', DbWaitMinutes: '15' };
  const event = (RequestType: string, extra: Record<string, unknown> = {}) =>
    ({ RequestType, ResourceProperties: { ServiceToken: 'x', ...props, ...extra }, PhysicalResourceId: 'predeploy-x', Data: { StartedAt: '2026-11-22T12:00:00.000Z' } }) as never;
  const untouchable = {
    rds: {
      send: async () => {
        throw new Error('must not call AWS');
      },
    },
    ecs: {
      send: async () => {
        throw new Error('must not call AWS');
      },
    },
  } as never;

  test('Delete and a skipped release complete at once, calling nothing', async () => {
    expect(await handleIsComplete(event('Delete'), untouchable, new Date())).toEqual({ IsComplete: true });
    expect(await handleIsComplete(event('Update', { Skip: 'true' }), untouchable, new Date())).toEqual({ IsComplete: true, Data: { SnapshotId: 'skipped', DrCopy: 'skipped' } });
  });

  test('a snapshot still being created is not complete', async () => {
    const creating = { rds: { send: async () => ({ DBSnapshots: [{ DBSnapshotIdentifier: 'predeploy-x', Status: 'creating' }] }) }, ecs: untouchable } as never;
    expect(await handleIsComplete(event('Create'), creating, new Date())).toEqual({ IsComplete: false });
  });

  test('the DR copy is configured only with both its region and its key', () => {
    const base = { ...props } as never;
    expect(settingsFrom({ ...(base as object), DrRegion: DR, DrKmsKeyArn: 'k' } as never).dr).toEqual({ region: DR, kmsKeyArn: 'k' });
    expect(settingsFrom({ ...(base as object), DrRegion: DR } as never).dr).toBeUndefined();
    expect(settingsFrom({ ...(base as object), DrKmsKeyArn: 'k' } as never).dr).toBeUndefined();
    expect(settingsFrom(base)).toMatchObject({ keep: 3, dbWaitMinutes: 15 });
  });
});

describe('failures the stand-in cannot produce fail closed, with the database, the reason and what to do', () => {
  // Mocks on these instances only: the moto clients above stay real.
  const mocked = { rds: new RDSClient({ region: PRIMARY }), rdsDr: new RDSClient({ region: DR }), ecs: new ECSClient({ region: PRIMARY }) };
  const rdsMock = mockClient(mocked.rds);
  const drMock = mockClient(mocked.rdsDr);
  const ecsMock = mockClient(mocked.ecs);
  const faulty = (): Clients => mocked;
  const s = () => settings({ dr: { region: DR, kmsKeyArn: 'arn:aws:kms:eu-central-1:123456789012:key/dr' } });
  const at = new Date('2026-11-22T12:00:00Z');
  const fault = <T extends RDSServiceException>(Fault: new (o: { message: string; $metadata: object }) => T, message: string) => new Fault({ message, $metadata: { attempts: 1 } });
  const healthy = () => {
    rdsMock.reset();
    drMock.reset();
    ecsMock.reset();
    rdsMock.on(DescribeDBSnapshotsCommand).resolves({ DBSnapshots: [] });
    drMock.on(DescribeDBSnapshotsCommand).resolves({ DBSnapshots: [] });
    rdsMock.on(DescribeDBInstancesCommand).resolves({ DBInstances: [{ DBInstanceIdentifier: DB, DBInstanceStatus: 'available' }] });
    ecsMock.on(ListServicesCommand).resolves({ serviceArns: [] });
  };
  afterAll(() => {
    for (const m of [rdsMock, drMock, ecsMock]) m.restore();
  });
  const common = (message: string) => {
    expect(message).toContain(`database ${DB} (stage prod, release v1.4.2-3f9a1c2e)`);
    expect(message).toContain('The release has not reached the services');
    expect(message).toContain('-c skipPreDeploySnapshot=true');
  };

  test('snapshot quota exceeded', async () => {
    healthy();
    rdsMock.on(CreateDBSnapshotCommand).rejects(fault(SnapshotQuotaExceededFault, 'Cannot create more than 100 manual snapshots'));
    const error = await begin(faulty(), s(), at).catch((e: Error) => e);
    expect((error as Error).message).toMatch(
      /manual DB snapshot quota is used up \(Cannot create more than 100 manual snapshots\)\. Delete manual snapshots that are no longer needed or ask AWS for a higher quota/,
    );
    common((error as Error).message);
  });

  test("a snapshot of that name exists and is not this release's", async () => {
    healthy();
    rdsMock.on(CreateDBSnapshotCommand).rejects(fault(DBSnapshotAlreadyExistsFault, 'exists'));
    rdsMock
      .on(DescribeDBSnapshotsCommand, { DBSnapshotIdentifier: 'predeploy-prod-v1-4-2-3f9a1c2e-202611221200' })
      .resolves({ DBSnapshots: [{ DBSnapshotIdentifier: 'predeploy-prod-v1-4-2-3f9a1c2e-202611221200', TagList: [] }] });
    const error = (await begin(faulty(), s(), at).catch((e: Error) => e)) as Error;
    expect(error.message).toMatch(/a snapshot named predeploy-prod-v1-4-2-3f9a1c2e-202611221200 already exists and is not this release's\. Rename or delete that snapshot/);
    common(error.message);
  });

  test.each(['modifying', 'backing-up'])('database "%s": waits, then fails after the configured minutes', async (status) => {
    healthy();
    rdsMock.on(DescribeDBInstancesCommand).resolves({ DBInstances: [{ DBInstanceIdentifier: DB, DBInstanceStatus: status }] });
    const clients = faulty();
    const { progress } = await begin(clients, s(), at);
    expect(rdsMock.commandCalls(CreateDBSnapshotCommand)).toHaveLength(0);
    rdsMock.on(DescribeDBSnapshotsCommand, { DBSnapshotIdentifier: progress.snapshotId }).rejects(Object.assign(new Error('not found'), { name: 'DBSnapshotNotFoundFault' }));
    expect(await poll(clients, s(), progress, new Date(at.getTime() + 5 * 60_000))).toEqual({ complete: false, snapshotId: progress.snapshotId });
    const error = (await poll(clients, s(), progress, new Date(at.getTime() + 16 * 60_000)).catch((e: Error) => e)) as Error;
    expect(error.message).toMatch(new RegExp(`the database was still "${status}" after waiting 16 minutes\\. Wait until the instance shows "available"`));
    common(error.message);
  });

  test('a database in storage-optimization (hours after any storage change) is snapshotted at once, without waiting', async () => {
    healthy();
    rdsMock.on(DescribeDBInstancesCommand).resolves({ DBInstances: [{ DBInstanceIdentifier: DB, DBInstanceStatus: 'storage-optimization' }] });
    rdsMock.on(CreateDBSnapshotCommand).resolves({});
    const { progress } = await begin(faulty(), s(), at);
    expect(rdsMock.commandCalls(CreateDBSnapshotCommand).map((c) => c.args[0].input.DBSnapshotIdentifier)).toEqual([progress.snapshotId]);
  });

  test('a stopped database fails at once', async () => {
    healthy();
    rdsMock.on(DescribeDBInstancesCommand).resolves({ DBInstances: [{ DBInstanceIdentifier: DB, DBInstanceStatus: 'stopped' }] });
    const error = (await begin(faulty(), s(), at).catch((e: Error) => e)) as Error;
    expect(error.message).toMatch(/the database is "stopped", a state that does not pass on its own\. Bring the instance back to "available"/);
  });

  test('the database changes state between the check and the snapshot', async () => {
    healthy();
    rdsMock.on(CreateDBSnapshotCommand).rejects(fault(InvalidDBInstanceStateFault, 'Instance is not in available state'));
    const error = (await begin(faulty(), s(), at).catch((e: Error) => e)) as Error;
    expect(error.message).toMatch(/the database is not in a state that allows a snapshot \(Instance is not in available state\)/);
  });

  test('throttling that outlasts the retries', async () => {
    healthy();
    rdsMock.on(DescribeDBSnapshotsCommand).rejects(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException', $metadata: { attempts: 8 } }));
    const error = (await begin(faulty(), s(), at).catch((e: Error) => e)) as Error;
    expect(error.message).toMatch(/the RDS API is throttling requests and kept doing so after 8 attempts\. Deploy again in a few minutes/);
    common(error.message);
  });

  test('a snapshot that ends failed', async () => {
    healthy();
    rdsMock.on(DescribeDBSnapshotsCommand, { DBSnapshotIdentifier: 'predeploy-x' }).resolves({ DBSnapshots: [{ DBSnapshotIdentifier: 'predeploy-x', Status: 'failed' }] });
    const error = (await poll(faulty(), s(), { snapshotId: 'predeploy-x', startedAt: at.toISOString() }, at).catch((e: Error) => e)) as Error;
    expect(error.message).toMatch(/snapshot predeploy-x ended in status "failed"/);
  });

  const own = (id: string, minutesAgo: number, status = 'available', stage = 'prod', release = 'older') => ({
    DBSnapshotIdentifier: id,
    Status: status,
    DBSnapshotArn: `arn:aws:rds:eu-west-1:123456789012:snapshot:${id}`,
    SnapshotCreateTime: new Date(at.getTime() - minutesAgo * 60_000),
    TagList: [
      { Key: TOOL_TAG, Value: 'true' },
      { Key: TAGS.stage, Value: stage },
      { Key: TAGS.release, Value: release },
    ],
  });

  test.each(['creating', 'pending'])('a snapshot still "%s" keeps the deploy waiting, and completes once available', async (status) => {
    healthy();
    const id = 'predeploy-wait';
    rdsMock
      .on(DescribeDBSnapshotsCommand, { DBSnapshotIdentifier: id })
      .resolvesOnce({ DBSnapshots: [own(id, 0, status)] })
      .resolves({ DBSnapshots: [own(id, 0)] });
    const progress = { snapshotId: id, startedAt: at.toISOString() };
    expect(await poll(faulty(), s(), progress, at)).toEqual({ complete: false, snapshotId: id });
    expect(drMock.commandCalls(CopyDBSnapshotCommand)).toHaveLength(0);
    expect(rdsMock.commandCalls(DeleteDBSnapshotCommand)).toHaveLength(0);
    expect(await poll(faulty(), s(), progress, at)).toMatchObject({ complete: true, snapshotId: id });
  });

  test('a busy database is waited for up to the configured minutes, not one minute more', async () => {
    healthy();
    rdsMock.on(DescribeDBInstancesCommand).resolves({ DBInstances: [{ DBInstanceIdentifier: DB, DBInstanceStatus: 'modifying' }] });
    rdsMock.on(DescribeDBSnapshotsCommand, { DBSnapshotIdentifier: 'predeploy-busy' }).rejects(Object.assign(new Error('not found'), { name: 'DBSnapshotNotFoundFault' }));
    const progress = { snapshotId: 'predeploy-busy', startedAt: at.toISOString() };
    const atMinutes = (minutes: number) => poll(faulty(), s(), progress, new Date(at.getTime() + minutes * 60_000));
    expect(await atMinutes(14.9)).toEqual({ complete: false, snapshotId: 'predeploy-busy' });
    await expect(atMinutes(15)).rejects.toThrow(/still "modifying" after waiting 15 minutes/);
    expect(rdsMock.commandCalls(CreateDBSnapshotCommand)).toHaveLength(0);
  });

  test('a database that becomes available while waited for is snapshotted by the next poll', async () => {
    healthy();
    rdsMock.on(DescribeDBSnapshotsCommand, { DBSnapshotIdentifier: 'predeploy-late' }).rejects(Object.assign(new Error('not found'), { name: 'DBSnapshotNotFoundFault' }));
    rdsMock.on(CreateDBSnapshotCommand).resolves({});
    const outcome = await poll(faulty(), s(), { snapshotId: 'predeploy-late', startedAt: at.toISOString() }, at);
    expect(outcome).toEqual({ complete: false, snapshotId: 'predeploy-late' });
    expect(rdsMock.commandCalls(CreateDBSnapshotCommand).map((c) => c.args[0].input.DBSnapshotIdentifier)).toEqual(['predeploy-late']);
  });

  test('an error looking the snapshot up that is not "not found" fails closed', async () => {
    healthy();
    rdsMock.on(DescribeDBSnapshotsCommand, { DBSnapshotIdentifier: 'predeploy-x' }).rejects(Object.assign(new Error('User is not authorized'), { name: 'AccessDenied' }));
    await expect(poll(faulty(), s(), { snapshotId: 'predeploy-x', startedAt: at.toISOString() }, at)).rejects.toThrow(/waiting for snapshot predeploy-x/);
    expect(rdsMock.commandCalls(CreateDBSnapshotCommand)).toHaveLength(0);
  });

  test("this release's snapshot still being created is waited for, not taken twice; a failed one is taken again", async () => {
    healthy();
    rdsMock.on(DescribeDBSnapshotsCommand).resolves({ DBSnapshots: [own('predeploy-mine', 1, 'creating', 'prod', 'v1.4.2-3f9a1c2e')] });
    const waiting = await begin(faulty(), s(), at);
    expect(waiting).toEqual({ progress: { snapshotId: 'predeploy-mine', startedAt: at.toISOString() } });
    expect(rdsMock.commandCalls(CreateDBSnapshotCommand)).toHaveLength(0);

    healthy();
    rdsMock
      .on(DescribeDBSnapshotsCommand)
      .resolves({ DBSnapshots: [own('predeploy-mine', 1, 'failed', 'prod', 'v1.4.2-3f9a1c2e'), own('predeploy-staging', 1, 'available', 'staging', 'v1.4.2-3f9a1c2e')] });
    rdsMock.on(CreateDBSnapshotCommand).resolves({});
    const again = await begin(faulty(), s(), at);
    expect(again.outcome).toBeUndefined();
    expect(rdsMock.commandCalls(CreateDBSnapshotCommand).map((c) => c.args[0].input.DBSnapshotIdentifier)).toEqual([again.progress.snapshotId]);
    expect(again.progress.snapshotId).toBe('predeploy-prod-v1-4-2-3f9a1c2e-202611221200');
  });

  test("a name clash with this release's own snapshot (an earlier poll of the same run) is not an error", async () => {
    healthy();
    rdsMock.on(CreateDBSnapshotCommand).rejects(fault(DBSnapshotAlreadyExistsFault, 'exists'));
    const id = 'predeploy-prod-v1-4-2-3f9a1c2e-202611221200';
    rdsMock.on(DescribeDBSnapshotsCommand, { DBSnapshotIdentifier: id }).resolves({ DBSnapshots: [own(id, 0, 'creating', 'prod', 'v1.4.2-3f9a1c2e')] });
    await expect(begin(faulty(), s(), at)).resolves.toEqual({ progress: { snapshotId: id, startedAt: at.toISOString() } });
  });

  test('pruning keeps the newest N by creation time, and never deletes the current snapshot or one not yet available', async () => {
    healthy();
    const list = [
      own('p-3', 30),
      own('p-current', 50),
      own('p-1', 10),
      own('p-creating', 60, 'creating'),
      own('p-2', 20),
      own('p-old', 40),
      { ...own('p-notime', 5), SnapshotCreateTime: undefined },
      own('other-stage', 70, 'available', 'staging'),
      // The stage's tag without the tool's: a snapshot a person made (or tagged), never pruned.
      { ...own('manual-prod', 80), TagList: [{ Key: TAGS.stage, Value: 'prod' }] },
      {
        ...own('manual-tool-false', 90),
        TagList: [
          { Key: TOOL_TAG, Value: 'false' },
          { Key: TAGS.stage, Value: 'prod' },
        ],
      },
    ];
    rdsMock.on(DescribeDBSnapshotsCommand, { DBInstanceIdentifier: DB, SnapshotType: 'manual', Marker: undefined }).resolves({ DBSnapshots: list.slice(0, 4), Marker: 'page-2' });
    rdsMock.on(DescribeDBSnapshotsCommand, { DBInstanceIdentifier: DB, SnapshotType: 'manual', Marker: 'page-2' }).resolves({ DBSnapshots: list.slice(4) });
    rdsMock.on(DescribeDBSnapshotsCommand, { DBSnapshotIdentifier: 'p-current' }).resolves({ DBSnapshots: [own('p-current', 50)] });
    drMock.on(CopyDBSnapshotCommand).rejects(Object.assign(new Error('exists'), { name: 'DBSnapshotAlreadyExistsFault' }));
    const outcome = await poll(
      faulty(),
      settings({ keep: 3, dr: { region: DR, kmsKeyArn: 'arn:aws:kms:eu-central-1:123456789012:key/dr' } }),
      { snapshotId: 'p-current', startedAt: at.toISOString() },
      at,
    );
    // Newest first: p-1 (10), p-2 (20), p-3 (30) are kept; p-old (40) and the one without a time
    // (sorted last) go; p-current, p-creating, the other stage's and the hand-made ones are not touched.
    expect(outcome.pruned).toEqual(['primary:p-old', 'primary:p-notime']);
    expect(rdsMock.commandCalls(DeleteDBSnapshotCommand).map((c) => c.args[0].input.DBSnapshotIdentifier)).toEqual(['p-old', 'p-notime']);
    // A copy that already exists in the DR region is fine.
    expect(outcome.drCopy).toBe('exists');
    expect(outcome.warnings).toEqual([]);
  });

  test("the previous image is that of the web service's primary deployment, past inactive services and across pages", async () => {
    healthy();
    const arns = Array.from({ length: 12 }, (_, i) => `arn:aws:ecs:eu-west-1:123456789012:service/prod-cluster/svc-${i}`);
    ecsMock.on(ListServicesCommand, { cluster: 'prod-cluster', nextToken: undefined }).resolves({ serviceArns: arns.slice(0, 7), nextToken: 't' });
    ecsMock.on(ListServicesCommand, { cluster: 'prod-cluster', nextToken: 't' }).resolves({ serviceArns: arns.slice(7) });
    const td = (family: string, revision: number) => `arn:aws:ecs:eu-west-1:123456789012:task-definition/${family}:${revision}`;
    ecsMock.on(DescribeServicesCommand, { cluster: 'prod-cluster', services: arns.slice(0, 10) }).resolves({
      services: [
        { serviceName: 'old-web', status: 'INACTIVE', taskDefinition: td('prod-web', 1) },
        { serviceName: 'worker', status: 'ACTIVE', taskDefinition: td('prod-worker', 4) },
      ],
    });
    ecsMock.on(DescribeServicesCommand, { cluster: 'prod-cluster', services: arns.slice(10) }).resolves({
      services: [
        {
          serviceName: 'web',
          status: 'ACTIVE',
          taskDefinition: td('prod-web', 9),
          deployments: [
            { status: 'ACTIVE', taskDefinition: td('prod-web', 8) },
            { status: 'PRIMARY', taskDefinition: td('prod-web', 7) },
          ],
        },
      ],
    });
    ecsMock
      .on(DescribeTaskDefinitionCommand, { taskDefinition: td('prod-web', 7) })
      .resolves({ taskDefinition: { containerDefinitions: [{ name: 'web', image: 'webapp:v1.4.0' }] } });
    rdsMock.on(CreateDBSnapshotCommand).resolves({});
    await begin(faulty(), s(), at);
    const tags = rdsMock.commandCalls(CreateDBSnapshotCommand)[0].args[0].input.Tags!;
    expect(tags.find((t) => t.Key === TAGS.previousImage)?.Value).toBe('webapp:v1.4.0');
    expect(ecsMock.commandCalls(DescribeTaskDefinitionCommand)).toHaveLength(1);
  });

  test('a failed DR copy is reported, and the snapshot still returned', async () => {
    healthy();
    const arn = 'arn:aws:rds:eu-west-1:123456789012:snapshot:predeploy-x';
    rdsMock
      .on(DescribeDBSnapshotsCommand, { DBSnapshotIdentifier: 'predeploy-x' })
      .resolves({ DBSnapshots: [{ DBSnapshotIdentifier: 'predeploy-x', Status: 'available', DBSnapshotArn: arn }] });
    drMock.on(CopyDBSnapshotCommand).rejects(Object.assign(new Error('Cannot copy more than 20 snapshots at once'), { name: 'SnapshotQuotaExceededFault' }));
    const outcome = await poll(faulty(), s(), { snapshotId: 'predeploy-x', startedAt: at.toISOString() }, at);
    expect(outcome).toMatchObject({ complete: true, snapshotId: 'predeploy-x', snapshotArn: arn });
    expect(outcome.drCopy).toMatch(
      /^failed: copy of predeploy-x to eu-central-1 failed \(SnapshotQuotaExceededFault: Cannot copy more than 20 snapshots at once\); copy it by hand/,
    );
    expect(outcome.warnings).toHaveLength(1);
    expect(rdsMock.commandCalls(DeleteDBSnapshotCommand)).toHaveLength(0);
    expect(drMock.commandCalls(DeleteDBSnapshotCommand)).toHaveLength(0);
  });
});
