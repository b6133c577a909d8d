import { BackupClient, DescribeRestoreJobCommand, GetRestoreTestingPlanCommand, ListRestoreJobsCommand, PutRestoreValidationResultCommand } from '@aws-sdk/client-backup';
import { CloudWatchClient, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { CreateDBInstanceCommand, DescribeDBInstancesCommand, RDSClient } from '@aws-sdk/client-rds';
import { mockClient } from 'aws-sdk-client-mock';
import { Client, type ClientConfig } from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { checkDatabase, type Expectations, quoteIdentifier } from '../../lambda/restore-verifier/checks';
import { checkFreshness, METRIC_NAMESPACE, type VerifierDeps, type VerifierSettings, verifyRestoreJob } from '../../lambda/restore-verifier/verifier';
import { RESTORE_METRICS_NAMESPACE } from '../../lib/shared/stage-metrics';
import { type Moto, startMoto } from '../support/moto';
import { type LocalPostgres, startPostgres } from '../support/pglite';

let pg: LocalPostgres;
let moto: Moto;

async function session(server: LocalPostgres) {
  const client = new Client({ host: server.host, port: server.port, user: 'postgres', database: 'postgres', ssl: false });
  await client.connect();
  return client;
}

beforeAll(async () => {
  [pg, moto] = await Promise.all([startPostgres(), startMoto()]);
  await pg.db.exec(`
    CREATE EXTENSION vector;
    CREATE TABLE documents (id serial PRIMARY KEY, body text, embedding vector(3));
    INSERT INTO documents (body, embedding) VALUES ('a', '[1,0,0]'), ('b', '[0,1,0]'), ('c', '[0,0,1]');
    CREATE TABLE users (id serial PRIMARY KEY, email text);
    INSERT INTO users (email) VALUES ('a@example.com');
    CREATE TABLE audit_log (id serial PRIMARY KEY);
    CREATE ROLE rds_iam;
    CREATE ROLE webapp_app LOGIN IN ROLE rds_iam;
    CREATE ROLE webapp_nologin NOLOGIN IN ROLE rds_iam;
    CREATE ROLE webapp_password LOGIN;
  `);
}, 60_000);
afterAll(async () => {
  await Promise.all([pg?.stop(), moto?.stop()]);
});

const healthy: Expectations = {
  minVectorVersion: '0.5.0',
  tables: [
    { name: 'documents', minRows: 3 },
    { name: 'public.users', minRows: 1 },
  ],
  vectorQuery: { table: 'documents', column: 'embedding' },
};

describe('checks on a restored database (PostgreSQL with pgvector, through pg)', () => {
  test('a healthy database passes every check', async () => {
    const db = await session(pg);
    try {
      const result = await checkDatabase(db, healthy);
      expect(result).toEqual({
        ok: true,
        failures: [],
        passed: ['catalog', 'vector >= 0.5.0', 'documents >= 3 rows', 'public.users >= 1 rows', 'nearest-neighbour query on documents.embedding'],
      });
    } finally {
      await db.end();
    }
  });

  test('a missing table, an empty one and a version below the minimum are each named', async () => {
    const db = await session(pg);
    try {
      const result = await checkDatabase(db, {
        minVectorVersion: '99.0',
        tables: [
          { name: 'documents', minRows: 1 },
          { name: 'orders', minRows: 1 },
          { name: 'audit_log', minRows: 1 },
        ],
      });
      expect(result.ok).toBe(false);
      expect(result.failures).toEqual([
        expect.stringMatching(/^vector 0\.\d+\.\d+ is installed, below the minimum 99\.0$/),
        'table orders is missing',
        'table audit_log has 0 rows, expected at least 1',
      ]);
    } finally {
      await db.end();
    }
  });

  test('the app role must exist in the restored data and log in through IAM', async () => {
    const db = await session(pg);
    try {
      const result = await checkDatabase(db, { minVectorVersion: '0.5.0', tables: [], roles: ['webapp_app', 'webapp_missing', 'webapp_nologin', 'webapp_password'] });
      expect(result.passed).toContain('role webapp_app logs in through IAM');
      expect(result.failures).toEqual(['role webapp_missing is missing', 'role webapp_nologin cannot log in', 'role webapp_password is not a member of rds_iam (no IAM login)']);
    } finally {
      await db.end();
    }
  });

  test('a database without the vector extension fails on it and on the vector query', async () => {
    const db = await session(pg);
    try {
      // DDL is transactional in PostgreSQL: drop the extension for this check only.
      await db.query('BEGIN');
      await db.query('DROP EXTENSION vector CASCADE');
      const result = await checkDatabase(db, { minVectorVersion: '0.8.0', tables: [{ name: 'users', minRows: 0 }], vectorQuery: { table: 'documents', column: 'embedding' } });
      expect(result.failures[0]).toBe('the vector extension is not installed');
      expect(result.failures[1]).toMatch(/^nearest-neighbour query on documents\.embedding: /);
      expect(result.passed).toEqual(['catalog', 'users >= 0 rows']);
    } finally {
      await db.query('ROLLBACK');
      await db.end();
    }
  });

  test('identifiers from config are quoted, and anything but plain names is refused', () => {
    expect(quoteIdentifier('public.users')).toBe('"public"."users"');
    for (const bad of ['users; DROP TABLE users', 'Users', 'a.b.c', '"x"']) expect(() => quoteIdentifier(bad)).toThrow(/not a plain lower-case identifier/);
  });
});

describe('verifying a restore job (RDS on moto, SQL on PGlite, AWS Backup and CloudWatch mocked)', () => {
  const backup = new BackupClient({ region: 'eu-west-1' });
  const cloudwatch = new CloudWatchClient({ region: 'eu-west-1' });
  const backupMock = mockClient(backup);
  const cloudwatchMock = mockClient(cloudwatch);
  const PLAN = 'arn:aws:backup:eu-west-1:123456789012:restore-testing-plan:webapp_prod_database-abc';
  const INSTANCE = 'awsbackup-restore-test-4f2a';
  const settings: VerifierSettings = { stage: 'prod', restoreTestingPlanArn: PLAN, databaseName: 'app', expectations: healthy, passwordWaitMinutes: 10 };
  let rds: RDSClient;
  let connected: ClientConfig[];

  const deps = (overrides: Partial<VerifierDeps> = {}): VerifierDeps => ({
    backup,
    rds,
    cloudwatch,
    ssl: { rejectUnauthorized: true },
    // The driver gets what the verifier would use in AWS; the socket goes to the local server.
    connect: async (config) => {
      connected.push(config);
      return session(pg);
    },
    password: () => 'FreshPassword123',
    sleep: async () => {},
    now: () => new Date('2026-11-22T06:00:00Z'),
    ...overrides,
  });
  const job = (overrides: Record<string, unknown> = {}) =>
    backupMock.on(DescribeRestoreJobCommand).resolves({
      RestoreJobId: 'job-1',
      Status: 'COMPLETED',
      CreatedResourceArn: `arn:aws:rds:eu-west-1:123456789012:db:${INSTANCE}`,
      CreationDate: new Date('2026-11-22T05:00:00Z'),
      CompletionDate: new Date('2026-11-22T05:30:00Z'),
      CreatedBy: { RestoreTestingPlanArn: PLAN },
      ...overrides,
    });

  beforeAll(async () => {
    rds = new RDSClient(moto.clientConfig('eu-west-1'));
    await rds.send(
      new CreateDBInstanceCommand({
        DBInstanceIdentifier: INSTANCE,
        DBInstanceClass: 'db.m7g.large',
        Engine: 'postgres',
        MasterUsername: 'postgres',
        MasterUserPassword: 'snapshot-time-pw',
        AllocatedStorage: 100,
      }),
    );
  });
  beforeEach(() => {
    backupMock.reset();
    cloudwatchMock.reset();
    connected = [];
  });
  afterAll(() => {
    backupMock.restore();
    cloudwatchMock.restore();
  });

  test('a good restore: new password, verified TLS, SUCCESSFUL to AWS Backup, success and RTO to CloudWatch', async () => {
    job();
    const result = await verifyRestoreJob('job-1', deps(), settings);
    expect(result).toMatchObject({ status: 'SUCCESSFUL', restoreSeconds: 1800, instance: INSTANCE });
    const endpoint = (await rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: INSTANCE }))).DBInstances![0].Endpoint!;
    expect(connected).toEqual([
      expect.objectContaining({ host: endpoint.Address, port: endpoint.Port, user: 'postgres', password: 'FreshPassword123', database: 'app', ssl: { rejectUnauthorized: true } }),
    ]);
    expect(backupMock.commandCalls(PutRestoreValidationResultCommand)[0].args[0].input).toEqual({
      RestoreJobId: 'job-1',
      ValidationStatus: 'SUCCESSFUL',
      ValidationStatusMessage: `${INSTANCE}: catalog; vector >= 0.5.0; documents >= 3 rows; public.users >= 1 rows; nearest-neighbour query on documents.embedding`,
    });
    const metrics = cloudwatchMock.commandCalls(PutMetricDataCommand)[0].args[0].input;
    expect(metrics.Namespace).toBe(METRIC_NAMESPACE);
    // The function's bundle cannot import CDK code: the alarms' and the IAM condition's namespace is kept in step here.
    expect(METRIC_NAMESPACE).toBe(RESTORE_METRICS_NAMESPACE);
    expect(metrics.MetricData!.map((m) => [m.MetricName, m.Value, m.Dimensions])).toEqual([
      ['VerificationSucceeded', 1, [{ Name: 'Stage', Value: 'prod' }]],
      ['RestoreDurationSeconds', 1800, [{ Name: 'Stage', Value: 'prod' }]],
    ]);
  });

  test('a restore missing data is reported FAILED with the reason, and the metric is 0', async () => {
    job();
    const result = await verifyRestoreJob('job-1', deps(), { ...settings, expectations: { ...healthy, tables: [{ name: 'orders', minRows: 10 }] } });
    expect(result.status).toBe('FAILED');
    expect(backupMock.commandCalls(PutRestoreValidationResultCommand)[0].args[0].input).toMatchObject({
      ValidationStatus: 'FAILED',
      ValidationStatusMessage: `${INSTANCE}: table orders is missing`,
    });
    expect(cloudwatchMock.commandCalls(PutMetricDataCommand)[0].args[0].input.MetricData![0]).toMatchObject({ MetricName: 'VerificationSucceeded', Value: 0 });
  });

  test('a refused connection is reported FAILED with the address', async () => {
    job();
    const closed = async (config: ClientConfig) => {
      const client = new Client({ ...config, host: '127.0.0.1', port: 1, ssl: false });
      await client.connect();
      return client;
    };
    const result = await verifyRestoreJob('job-1', deps({ connect: closed }), settings);
    expect(result.status).toBe('FAILED');
    expect(result.message).toMatch(new RegExp(`^${INSTANCE}: could not connect to .+:\\d+/app: .*ECONNREFUSED`));
    expect(backupMock.commandCalls(PutRestoreValidationResultCommand)).toHaveLength(1);
  });

  test('a password that never applies fails after the wait', async () => {
    job();
    const rdsMock = mockClient(new RDSClient({ region: 'eu-west-1' }));
    rdsMock
      .on(DescribeDBInstancesCommand)
      .resolves({ DBInstances: [{ DBInstanceIdentifier: INSTANCE, DBInstanceStatus: 'resetting-master-credentials', PendingModifiedValues: { MasterUserPassword: '****' } }] });
    let clock = Date.parse('2026-11-22T06:00:00Z');
    const result = await verifyRestoreJob(
      'job-1',
      deps({
        rds: rdsMock as unknown as RDSClient,
        now: () => new Date(clock),
        sleep: async (ms) => {
          clock += ms;
        },
      }),
      settings,
    );
    expect(result).toMatchObject({ status: 'FAILED', message: `${INSTANCE}: the new master password did not apply within 10 minutes (instance is resetting-master-credentials)` });
    expect(connected).toEqual([]);
  });

  test('a failed restore job is reported FAILED without touching any instance', async () => {
    job({ Status: 'FAILED', StatusMessage: 'Subnet group not found', CreatedResourceArn: undefined });
    const result = await verifyRestoreJob('job-1', deps(), settings);
    expect(result).toMatchObject({ status: 'FAILED', message: 'restore job job-1 is FAILED (Subnet group not found) and created no DB instance' });
    expect(connected).toEqual([]);
  });

  test('restores of other plans are left alone', async () => {
    job({ CreatedBy: { RestoreTestingPlanArn: 'arn:aws:backup:eu-west-1:123456789012:restore-testing-plan:other' } });
    expect((await verifyRestoreJob('job-1', deps(), settings)).status).toBe('SKIPPED');
    expect(backupMock.commandCalls(PutRestoreValidationResultCommand)).toHaveLength(0);
    expect(cloudwatchMock.commandCalls(PutMetricDataCommand)).toHaveLength(0);
  });

  test('the watchdog reports fresh only with a SUCCESSFUL verification of this plan within the interval', async () => {
    const now = new Date('2026-11-22T06:00:00Z');
    backupMock
      .on(ListRestoreJobsCommand)
      .resolvesOnce({ RestoreJobs: [{ RestoreJobId: 'old-failed', ValidationStatus: 'FAILED', CreationDate: new Date('2026-11-20T05:00:00Z') }], NextToken: 'page-2' })
      .resolves({ RestoreJobs: [{ RestoreJobId: 'good', ValidationStatus: 'SUCCESSFUL', CreationDate: new Date('2026-11-16T05:00:00Z') }] });
    const fresh = await checkFreshness(
      { backup, cloudwatch, now: () => now },
      { stage: 'prod', restoreTestingPlanArn: PLAN, restoreTestingPlanName: 'webapp_prod_database', maxAgeDays: 8 },
    );
    expect(fresh).toEqual({ fresh: true, lastVerified: '2026-11-16T05:00:00.000Z', maxAgeDays: 8 });
    const [first, second] = backupMock.commandCalls(ListRestoreJobsCommand).map((c) => c.args[0].input);
    expect(first).toEqual({ ByRestoreTestingPlanArn: PLAN, ByCreatedAfter: new Date('2026-11-14T06:00:00Z'), NextToken: undefined });
    expect(second.NextToken).toBe('page-2');
    expect(cloudwatchMock.commandCalls(PutMetricDataCommand)[0].args[0].input.MetricData![0]).toMatchObject({ MetricName: 'VerifiedWithinInterval', Value: 1 });

    backupMock.reset();
    cloudwatchMock.reset();
    backupMock.on(ListRestoreJobsCommand).resolves({ RestoreJobs: [{ RestoreJobId: 'failed', ValidationStatus: 'FAILED', CreationDate: new Date('2026-11-21T05:00:00Z') }] });
    backupMock.on(GetRestoreTestingPlanCommand).resolves({ RestoreTestingPlan: { CreationTime: new Date('2026-01-05T00:00:00Z') } as never });
    expect(
      (await checkFreshness({ backup, cloudwatch, now: () => now }, { stage: 'prod', restoreTestingPlanArn: PLAN, restoreTestingPlanName: 'webapp_prod_database', maxAgeDays: 8 }))
        .fresh,
    ).toBe(false);
    expect(cloudwatchMock.commandCalls(PutMetricDataCommand)[0].args[0].input.MetricData![0]).toMatchObject({ MetricName: 'VerifiedWithinInterval', Value: 0 });
  });

  test('a plan younger than the interval counts as fresh until its first test was due; then stale', async () => {
    const created = new Date('2026-11-01T10:00:00Z');
    const monthly = { stage: 'staging', restoreTestingPlanArn: PLAN, restoreTestingPlanName: 'webapp_staging_database', maxAgeDays: 32 };
    backupMock.on(ListRestoreJobsCommand).resolves({ RestoreJobs: [] });
    backupMock.on(GetRestoreTestingPlanCommand).resolves({ RestoreTestingPlan: { CreationTime: created } as never });
    const published = () => cloudwatchMock.commandCalls(PutMetricDataCommand).map((c) => c.args[0].input.MetricData![0].Value);

    const day1 = await checkFreshness({ backup, cloudwatch, now: () => new Date('2026-11-02T07:00:00Z') }, monthly);
    expect(day1).toEqual({ fresh: false, lastVerified: undefined, maxAgeDays: 32, graceUntil: '2026-12-03T10:00:00.000Z' });
    expect(backupMock.commandCalls(GetRestoreTestingPlanCommand)[0].args[0].input).toEqual({ RestoreTestingPlanName: 'webapp_staging_database' });
    const lastGraceDay = await checkFreshness({ backup, cloudwatch, now: () => new Date('2026-12-03T07:00:00Z') }, monthly);
    expect(lastGraceDay.graceUntil).toBe('2026-12-03T10:00:00.000Z');
    const after = await checkFreshness({ backup, cloudwatch, now: () => new Date('2026-12-04T07:00:00Z') }, monthly);
    expect(after).toEqual({ fresh: false, lastVerified: undefined, maxAgeDays: 32 });
    expect(published()).toEqual([1, 1, 0]);

    // A plan whose age cannot be read gets no grace.
    cloudwatchMock.reset();
    backupMock.on(GetRestoreTestingPlanCommand).rejects(Object.assign(new Error('denied'), { name: 'AccessDeniedException' }));
    expect((await checkFreshness({ backup, cloudwatch, now: () => new Date('2026-11-02T07:00:00Z') }, monthly)).graceUntil).toBeUndefined();
    expect(published()).toEqual([0]);
  });

  test('a drill restore gets the same checks, reported only to the drill', async () => {
    const drill = 'restore-drill-prod-202611220900';
    await rds.send(
      new CreateDBInstanceCommand({
        DBInstanceIdentifier: drill,
        DBInstanceClass: 'db.m7g.large',
        Engine: 'postgres',
        MasterUsername: 'postgres',
        MasterUserPassword: 'snapshot-time-pw',
        AllocatedStorage: 100,
      }),
    );
    job({ CreatedResourceArn: `arn:aws:rds:eu-west-1:123456789012:db:${drill}`, CreatedBy: {} });
    const result = await verifyRestoreJob('job-1', deps(), settings, { drill: true });
    expect(result).toMatchObject({ status: 'SUCCESSFUL', instance: drill });
    expect(connected).toHaveLength(1);
    expect(backupMock.commandCalls(PutRestoreValidationResultCommand)).toHaveLength(0);
    expect(cloudwatchMock.commandCalls(PutMetricDataCommand)).toHaveLength(0);

    job({ CreatedBy: {} }); // a restore-test instance is no drill
    expect((await verifyRestoreJob('job-1', deps(), settings, { drill: true })).status).toBe('SKIPPED');
  });
});
