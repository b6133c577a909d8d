import { CloudFormationClient, CreateStackCommand, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { CloudWatchLogsClient, CreateLogGroupCommand, CreateLogStreamCommand, PutLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { DescribeTasksCommand, ECSClient, RunTaskCommand, StopTaskCommand } from '@aws-sdk/client-ecs';
import { CreateDBInstanceCommand, DescribeDBInstancesCommand, RDSClient } from '@aws-sdk/client-rds';
import { GetParameterCommand, PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import type { CdkCustomResourceEvent, CdkCustomResourceIsCompleteEvent } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { handleIsComplete, handleOnEvent, type MigrationResourceProperties } from '../../lambda/database-migration/custom-resource';
import { type Clients, LOG_LINES, RECORD_KEPT } from '../../lambda/database-migration/migration';
import { type Moto, startMoto } from '../support/moto';

// moto 5.2.1's RunTask with awsvpc networking crashes and its tasks have no exit codes, so ECS is
// mocked; SSM (the record of migrated releases), CloudWatch Logs (the failure message's lines) and
// CloudFormation (the stack status) are moto's.
const ecs = mockClient(ECSClient);
let moto: Moto;
let clients: Clients;
let stackId: string;
let ssm: SSMClient;
let logs: CloudWatchLogsClient;

const LOG_GROUP = '/webapp/prod/app/migration';
const TASK = 'arn:aws:ecs:eu-west-1:123456789012:task/prod-App-Cluster/0123456789abcdef';
const T0 = new Date('2026-12-01T10:00:00Z');
const minutes = (m: number) => new Date(T0.getTime() + m * 60_000);

/** Per test (moto is shared by the run): the record prefix, and the record of the stage database under it. */
let recordPrefix: string;
let recordName: string;
let databaseResourceId: string;
const DB = `webapp-prod-migration-${Date.now()}`;
const props = (overrides: Partial<MigrationResourceProperties> = {}): MigrationResourceProperties => ({
  Stage: 'prod',
  Release: 'v1.4.2-3f9a1c2e',
  Cluster: 'prod-App-Cluster',
  TaskDefinition: 'arn:aws:ecs:eu-west-1:123456789012:task-definition/prodAppMigrationTask:7',
  Subnets: 'subnet-a,subnet-b',
  SecurityGroups: 'sg-migration',
  Container: 'app',
  LogGroup: LOG_GROUP,
  StreamPrefix: 'migrationtask',
  TimeoutMinutes: '30',
  DbInstanceIdentifier: DB,
  RecordPrefix: recordPrefix,
  ...overrides,
});

function event(type: 'Create' | 'Update' | 'Delete', p: MigrationResourceProperties = props()): CdkCustomResourceEvent {
  const base = {
    ServiceToken: 'x',
    ResponseURL: 'x',
    StackId: stackId,
    RequestId: 'r',
    LogicalResourceId: 'Migration',
    ResourceType: 'Custom::DatabaseMigration',
    ResourceProperties: { ServiceToken: 'x', ...p },
  };
  if (type === 'Create') return { ...base, RequestType: 'Create' };
  return {
    ...base,
    RequestType: type,
    PhysicalResourceId: 'migration-prod',
    OldResourceProperties: { ServiceToken: 'x', ...props({ Release: 'v1.4.1-00000000' }) },
  } as CdkCustomResourceEvent;
}

/** The isComplete event for what onEvent answered. */
function polled(onEvent: CdkCustomResourceEvent, data: Record<string, string>): CdkCustomResourceIsCompleteEvent {
  return { ...onEvent, PhysicalResourceId: 'migration-prod', Data: data } as CdkCustomResourceIsCompleteEvent;
}

function stopped(exitCode: number | undefined, extra: Record<string, string> = {}) {
  ecs.on(DescribeTasksCommand).resolves({ tasks: [{ taskArn: TASK, lastStatus: 'STOPPED', containers: [{ name: 'app', exitCode }], ...extra }] });
}

async function logLines(lines: string[]) {
  const stream = `migrationtask/app/${TASK.split('/').at(-1)}`;
  await logs.send(new CreateLogStreamCommand({ logGroupName: LOG_GROUP, logStreamName: stream })).catch(() => undefined);
  await logs.send(new PutLogEventsCommand({ logGroupName: LOG_GROUP, logStreamName: stream, logEvents: lines.map((message, i) => ({ message, timestamp: T0.getTime() + i })) }));
}

beforeAll(async () => {
  moto = await startMoto();
  const config = moto.clientConfig('eu-west-1');
  ssm = new SSMClient(config);
  logs = new CloudWatchLogsClient(config);
  const cloudformation = new CloudFormationClient(config);
  const rds = new RDSClient(config);
  clients = { ecs: new ECSClient(config), logs, ssm, rds, cloudformation };
  databaseResourceId = (
    await rds.send(
      new CreateDBInstanceCommand({
        DBInstanceIdentifier: DB,
        Engine: 'postgres',
        DBInstanceClass: 'db.t4g.micro',
        AllocatedStorage: 20,
        MasterUsername: 'postgres',
        MasterUserPassword: 'not-a-secret-1',
      }),
    )
  ).DBInstance!.DbiResourceId!;
  stackId = (
    await cloudformation.send(new CreateStackCommand({ StackName: `prod-App-${Date.now()}`, TemplateBody: JSON.stringify({ Resources: { Topic: { Type: 'AWS::SNS::Topic' } } }) }))
  ).StackId!;
  await logs.send(new CreateLogGroupCommand({ logGroupName: LOG_GROUP }));
});
afterAll(() => ecs.restore());

let run = 0;
beforeEach(() => {
  ecs.reset();
  ecs.on(RunTaskCommand).resolves({ tasks: [{ taskArn: TASK, lastStatus: 'PROVISIONING' }], failures: [] });
  ecs.on(StopTaskCommand).resolves({});
  // A record of its own per test: moto is shared by the run.
  recordPrefix = `/webapp/prod/migrated-releases-${Date.now()}-${run++}`;
  recordName = `${recordPrefix}/${databaseResourceId}`;
});

describe('the release migration custom resource', () => {
  test('starts one task of the migration task definition in the private subnets, without a public IP', async () => {
    const created = event('Create');
    const answer = await handleOnEvent(created, clients, T0);
    expect(answer).toEqual({ PhysicalResourceId: 'migration-prod', Data: { TaskArn: TASK, StartedAt: T0.toISOString(), Record: recordName } });
    const [call] = ecs.commandCalls(RunTaskCommand);
    expect(call.args[0].input).toMatchObject({
      cluster: 'prod-App-Cluster',
      taskDefinition: props().TaskDefinition,
      count: 1,
      capacityProviderStrategy: [{ capacityProvider: 'FARGATE', weight: 1 }],
      networkConfiguration: { awsvpcConfiguration: { subnets: ['subnet-a', 'subnet-b'], securityGroups: ['sg-migration'], assignPublicIp: 'DISABLED' } },
      tags: [{ key: 'release', value: 'v1.4.2-3f9a1c2e' }],
    });
  });

  test('exit 0 completes the release, records it and reports the duration', async () => {
    const created = event('Create');
    const { Data } = await handleOnEvent(created, clients, T0);
    ecs.on(DescribeTasksCommand).resolves({ tasks: [{ taskArn: TASK, lastStatus: 'RUNNING', containers: [{ name: 'app' }] }] });
    expect(await handleIsComplete(polled(created, Data as Record<string, string>), clients, minutes(1))).toEqual({ IsComplete: false });
    stopped(0);
    expect(await handleIsComplete(polled(created, Data as Record<string, string>), clients, minutes(3))).toEqual({
      IsComplete: true,
      Data: { TaskArn: TASK, DurationSeconds: '180' },
    });
    expect((await ssm.send(new GetParameterCommand({ Name: recordName }))).Parameter?.Value).toBe('v1.4.2-3f9a1c2e');
  });

  test('a re-run of a release already migrated (or a rollback to it) starts no task', async () => {
    await ssm.send(new PutParameterCommand({ Name: recordName, Value: 'v1.4.3-11111111,v1.4.2-3f9a1c2e', Type: 'String' }));
    const updated = event('Update');
    const { Data } = await handleOnEvent(updated, clients, T0);
    expect(Data).toEqual({ TaskArn: 'skipped', StartedAt: T0.toISOString(), Record: recordName });
    expect(ecs.commandCalls(RunTaskCommand)).toHaveLength(0);
    expect(await handleIsComplete(polled(updated, Data as Record<string, string>), clients, T0)).toEqual({ IsComplete: true, Data: { TaskArn: 'skipped', DurationSeconds: '0' } });
  });

  test('while the stack rolls back, the old release is not migrated again (the schema stays migrated)', async () => {
    // moto cannot put a stack into UPDATE_ROLLBACK_IN_PROGRESS: that one answer is mocked.
    const rollingBack = new CloudFormationClient(moto.clientConfig('eu-west-1'));
    const cf = mockClient(rollingBack);
    cf.on(DescribeStacksCommand).resolves({ Stacks: [{ StackName: 'prod-App', StackStatus: 'UPDATE_ROLLBACK_IN_PROGRESS', CreationTime: T0 }] });
    try {
      // Even for a database that cannot be identified: a rollback must not fail on it.
      const { Data } = await handleOnEvent(
        event('Update', props({ Release: 'v1.4.1-00000000', DbInstanceIdentifier: 'webapp-prod-missing' })),
        { ...clients, cloudformation: rollingBack },
        T0,
      );
      expect(Data).toEqual({ TaskArn: 'skipped', StartedAt: T0.toISOString(), Record: '' });
      expect(ecs.commandCalls(RunTaskCommand)).toHaveLength(0);
    } finally {
      cf.restore();
    }
  });

  test('a restored database (a new instance, a new resource id) is migrated again, whatever the record of the old one says', async () => {
    // The record of the instance the database was restored over: it had this release.
    await ssm.send(new PutParameterCommand({ Name: `${recordPrefix}/db-OLDRESOURCEID`, Value: 'v1.4.2-3f9a1c2e', Type: 'String' }));
    const created = event('Create');
    const { Data } = await handleOnEvent(created, clients, T0);
    expect(Data).toMatchObject({ TaskArn: TASK, Record: recordName });
    expect(ecs.commandCalls(RunTaskCommand)).toHaveLength(1);
    stopped(0);
    await handleIsComplete(polled(created, Data as Record<string, string>), clients, minutes(2));
    expect((await ssm.send(new GetParameterCommand({ Name: recordName }))).Parameter?.Value).toBe('v1.4.2-3f9a1c2e');
  });

  test('a database that cannot be identified fails the deploy before anything runs', async () => {
    await expect(handleOnEvent(event('Create', props({ DbInstanceIdentifier: 'webapp-prod-missing' })), clients, T0)).rejects.toThrow(/DBInstance webapp-prod-missing not found/);
    // An answer without the instance (moto cannot give one): the message says what is missing.
    const rds = new RDSClient(moto.clientConfig('eu-west-1'));
    const rdsMock = mockClient(rds);
    rdsMock.on(DescribeDBInstancesCommand).resolves({ DBInstances: [] });
    try {
      await expect(handleOnEvent(event('Create'), { ...clients, rds }, T0)).rejects.toThrow(
        `Migration of release v1.4.2-3f9a1c2e (stage prod) could not identify the database ${DB}. The services were not updated`,
      );
    } finally {
      rdsMock.restore();
    }
    expect(ecs.commandCalls(RunTaskCommand)).toHaveLength(0);
  });

  test('the record keeps the newest releases first, each once, and no more than it needs', async () => {
    const older = Array.from({ length: RECORD_KEPT + 5 }, (_, i) => `v0.${i}-aaaaaaaa`);
    await ssm.send(new PutParameterCommand({ Name: recordName, Value: older.join(','), Type: 'String' }));
    const created = event('Create');
    const { Data } = await handleOnEvent(created, clients, T0);
    stopped(0);
    await handleIsComplete(polled(created, Data as Record<string, string>), clients, minutes(2));
    const kept = (await ssm.send(new GetParameterCommand({ Name: recordName }))).Parameter!.Value!.split(',');
    expect(kept).toHaveLength(RECORD_KEPT);
    expect(kept.slice(0, 2)).toEqual(['v1.4.2-3f9a1c2e', 'v0.0-aaaaaaaa']);
  });

  test('exit 1 fails the deploy with the task, the exit code, the stop reason and the last log lines', async () => {
    await logLines(['migrating 0007_add_embeddings', ...Array.from({ length: 30 }, (_, i) => `step ${i}`), 'error: column "embedding" already exists']);
    const created = event('Create');
    const { Data } = await handleOnEvent(created, clients, T0);
    stopped(1, { stopCode: 'EssentialContainerExited', stoppedReason: 'Essential container in task exited' });
    const failure = handleIsComplete(polled(created, Data as Record<string, string>), clients, minutes(2));
    await expect(failure).rejects.toThrow(
      `Migration task ${TASK} of release v1.4.2-3f9a1c2e (stage prod) failed: exit code 1, stopped: EssentialContainerExited; Essential container in task exited.`,
    );
    const message = await failure.then(
      () => '',
      (e: Error) => e.message,
    );
    const lines = message.split('\n');
    expect(lines).toContain('error: column "embedding" already exists');
    expect(lines.filter((l) => l.startsWith('step '))).toHaveLength(LOG_LINES - 1);
    expect(message).toContain('restore the pre-deploy snapshot (docs/releases.md');
    await expect(ssm.send(new GetParameterCommand({ Name: recordName }))).rejects.toThrow();
  });

  test("a task that cannot start fails the deploy at once, with ECS's reason", async () => {
    ecs.on(RunTaskCommand).resolves({ tasks: [], failures: [{ reason: 'RESOURCE:ENI', detail: 'no free IP addresses in subnet-a' }] });
    await expect(handleOnEvent(event('Create'), clients, T0)).rejects.toThrow(
      'Migration of release v1.4.2-3f9a1c2e (stage prod) could not start: RESOURCE:ENI (no free IP addresses in subnet-a). The services were not updated',
    );
  });

  test('a task that stopped without running (image pull) fails with its stop reason', async () => {
    const created = event('Create');
    const { Data } = await handleOnEvent(created, clients, T0);
    stopped(undefined, { stopCode: 'TaskFailedToStart', stoppedReason: 'CannotPullContainerError: pull image manifest has been retried 5 time(s)' });
    await expect(handleIsComplete(polled(created, Data as Record<string, string>), clients, minutes(1))).rejects.toThrow(
      /failed: no exit code \(the container never ran\), stopped: TaskFailedToStart; CannotPullContainerError/,
    );
  });

  test('a migration past its timeout is stopped and fails the deploy', async () => {
    const created = event('Create', props({ TimeoutMinutes: '10' }));
    const { Data } = await handleOnEvent(created, clients, T0);
    ecs.on(DescribeTasksCommand).resolves({ tasks: [{ taskArn: TASK, lastStatus: 'RUNNING', containers: [{ name: 'app' }] }] });
    expect(await handleIsComplete(polled(created, Data as Record<string, string>), clients, minutes(10))).toEqual({ IsComplete: false });
    await expect(handleIsComplete(polled(created, Data as Record<string, string>), clients, minutes(10.5))).rejects.toThrow(
      /did not finish within app\.migrationTimeoutMinutes \(10\); it was stopped\./,
    );
    expect(ecs.commandCalls(StopTaskCommand)[0].args[0].input).toEqual({ cluster: 'prod-App-Cluster', task: TASK, reason: 'migration exceeded 10 minutes' });
  });

  test('a record that cannot be read fails the deploy instead of migrating again', async () => {
    const denied = new SSMClient(moto.clientConfig('eu-west-1'));
    const ssmMock = mockClient(denied);
    ssmMock.on(GetParameterCommand).rejects(Object.assign(new Error('not authorized to perform ssm:GetParameter'), { name: 'AccessDeniedException' }));
    try {
      await expect(handleOnEvent(event('Create'), { ...clients, ssm: denied }, T0)).rejects.toThrow('not authorized to perform ssm:GetParameter');
      expect(ecs.commandCalls(RunTaskCommand)).toHaveLength(0);
    } finally {
      ssmMock.restore();
    }
  });

  test('ECS answering with neither a task nor a reason still fails, saying so', async () => {
    ecs.on(RunTaskCommand).resolves({});
    await expect(handleOnEvent(event('Create'), clients, T0)).rejects.toThrow('could not start: ECS returned no task.');
  });

  test('a failure whose log stream is gone still names the task and the exit code', async () => {
    const created = event('Create', props({ LogGroup: '/webapp/prod/app/no-such-group' }));
    const { Data } = await handleOnEvent(created, clients, T0);
    stopped(2);
    await expect(handleIsComplete(polled(created, Data as Record<string, string>), clients, minutes(1))).rejects.toThrow(
      /failed: exit code 2\. Its log stream \/webapp\/prod\/app\/no-such-group migrationtask\/app\/0123456789abcdef could not be read \(ResourceNotFoundException\)\. The services were not updated/,
    );
  });

  test('delete never migrates', async () => {
    expect(await handleOnEvent(event('Delete'), clients, T0)).toEqual({ PhysicalResourceId: 'migration-prod' });
    expect(await handleIsComplete(polled(event('Delete'), {}), clients, T0)).toEqual({ IsComplete: true });
    expect(ecs.commandCalls(RunTaskCommand)).toHaveLength(0);
  });

  test('throttled ECS fails closed: the deploy does not go on without its migration', async () => {
    ecs.on(RunTaskCommand).rejects(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' }));
    await expect(handleOnEvent(event('Create'), clients, T0)).rejects.toThrow('Rate exceeded');
  });
});
