/**
 * The dump job's own commands end to end, with Debian's PostgreSQL 15 programs (initdb, pg_ctl,
 * pg_dump, pg_restore) and moto's S3 and CloudWatch: dump -> upload -> check -> anonymise ->
 * refresh into another database. The "stage database" is a local server the job's own module
 * starts (as root here and in CI it runs as the unprivileged postgres user, as in the image).
 *
 * What this proves: the dump role's grants suffice for pg_dump and a table with row-level security
 * stops it; the multipart upload, its metadata and the metrics; a custom-format dump restores with
 * its owners and grants after the setup's roles (and the rds_iam stand-in); the anonymisation's
 * refusal, its copy, and that the copy restores over an existing database with --clean.
 *
 * What it cannot prove: the version match against RDS (client and server are both 15 here; the
 * image's tools are the engine's exact version); pgvector in a custom-format dump (Debian's
 * PostgreSQL has no pgvector, so the check's and the refresh's pgvector steps fail here, and the
 * tests say so; test/lambda/logical-backup-anonymise.test.ts covers vector columns on PGlite); what
 * the RDS master may grant (the local superuser may do anything; roles.ts is written for RDS);
 * IAM tokens and TLS (the local server trusts its socket).
 */
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CloudWatchClient, GetMetricStatisticsCommand } from '@aws-sdk/client-cloudwatch';
import { CreateKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { CreateBucketCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { DATABASE_ROLES, ensureRoles } from '../../lambda/database-setup/roles';
import { type JobDeps, Refusal, runAnonymise, runCheck, runDump, runRestore } from '../../lambda/logical-backup/jobs';
import { type LocalServer, startLocalServer } from '../../lambda/logical-backup/local-server';
import { postgresBinDir } from '../../lambda/logical-backup/processes';
import { DUMP_METRICS, DUMP_METRICS_NAMESPACE } from '../../lib/data/logical-backup-names';
import { type Moto, startMoto } from '../support/moto';

const binDir = postgresBinDir();
const stage = `rt${Date.now()}`;
const bucket = `webapp-${stage}-dumps`;
const sourceBucket = `webapp-${stage}-source-dumps`;
const began = new Date(Date.now() - 60_000);
const SALT = 'round-trip-salt-0123456789abcdef';
// The task's ephemeral storage: in memory where the machine has it (initdb and pg_restore write
// thousands of small files, about three times faster on tmpfs here, and each command starts a
// server of its own), else under /tmp itself. Not the test runner's own temporary folder, which is
// private to root: the server runs as the postgres user, which must reach its folder.
const workDir = mkdtempSync(existsSync('/dev/shm') ? '/dev/shm/logical-backup-' : '/tmp/logical-backup-');
chmodSync(workDir, 0o711);

let moto: Moto;
let s3: S3Client;
let cloudwatch: CloudWatchClient;
let secrets: SecretsManagerClient;
let masterSecretArn: string;
let anonymisedKeyId: string;
let db: LocalServer;
let deps: JobDeps;
const logged: Record<string, unknown>[] = [];
const tokens: unknown[] = [];

/** The stage database: the setup's roles and an app schema the migration role owns, with a little data. */
async function stageDatabase(server: LocalServer) {
  await server.createDatabase('webapp');
  const admin = await server.connect('webapp');
  try {
    // RDS has rds_iam; this plain PostgreSQL plays the stage database, so a stand-in.
    await admin.query('CREATE ROLE rds_iam NOLOGIN');
    await ensureRoles(admin, 'webapp', 'local');
    await admin.query(`SET ROLE ${DATABASE_ROLES.migrator}`);
    await admin.query(`
      CREATE TABLE app.users (id bigserial PRIMARY KEY, email text NOT NULL UNIQUE, full_name text, created_at timestamptz NOT NULL DEFAULT now());
      CREATE TABLE app.orders (id bigserial PRIMARY KEY, user_id bigint NOT NULL REFERENCES app.users (id), total_cents int NOT NULL);
      INSERT INTO app.users (email, full_name) VALUES ('ada@example.com', 'Ada Lovelace'), ('grace@example.org', 'Grace Hopper');
      INSERT INTO app.orders (user_id, total_cents) VALUES (1, 1200), (2, 800), (2, 50);
    `);
  } finally {
    await admin.end();
  }
}

const env = (extra: Record<string, string> = {}) => ({ STAGE: stage, DUMP_BUCKET: bucket, ...extra });
const expectations = JSON.stringify({
  minVectorVersion: '0.8.0',
  tables: [
    { name: 'app.users', minRows: 2 },
    { name: 'app.orders', minRows: 3 },
  ],
  roles: [DATABASE_ROLES.app, DATABASE_ROLES.migrator],
});

async function keys(Bucket: string, Prefix: string): Promise<string[]> {
  return ((await s3.send(new ListObjectsV2Command({ Bucket, Prefix }))).Contents ?? []).map((o) => o.Key!).sort();
}

/** Every value published for a metric of this file's stage. */
async function published(name: string, ofStage = stage): Promise<number[]> {
  const { Datapoints } = await cloudwatch.send(
    new GetMetricStatisticsCommand({
      Namespace: DUMP_METRICS_NAMESPACE,
      MetricName: name,
      Dimensions: [{ Name: 'Stage', Value: ofStage }],
      StartTime: began,
      EndTime: new Date(Date.now() + 3_600_000),
      Period: 60,
      Statistics: ['Minimum', 'Maximum', 'SampleCount'],
    }),
  );
  return (Datapoints ?? []).flatMap((d) => (d.SampleCount === 1 ? [d.Maximum!] : [d.Minimum!, d.Maximum!]));
}

beforeAll(async () => {
  moto = await startMoto();
  s3 = new S3Client({ ...moto.clientConfig(), forcePathStyle: true });
  cloudwatch = new CloudWatchClient(moto.clientConfig());
  secrets = new SecretsManagerClient(moto.clientConfig());
  const kms = new KMSClient(moto.clientConfig());
  // The local server trusts its socket: the password is not checked, the secret's shape is.
  [masterSecretArn, anonymisedKeyId] = await Promise.all([
    secrets.send(new CreateSecretCommand({ Name: `rds!db-${stage}`, SecretString: JSON.stringify({ username: 'postgres', password: 'unused' }) })).then((r) => r.ARN!),
    kms.send(new CreateKeyCommand({ Description: `${stage} anonymised copies` })).then((r) => r.KeyMetadata!.Arn!),
  ]);
  kms.destroy();
  db = await startLocalServer({ binDir, root: workDir });
  await Promise.all([
    stageDatabase(db),
    s3.send(new CreateBucketCommand({ Bucket: bucket, CreateBucketConfiguration: { LocationConstraint: 'eu-west-1' } })),
    s3.send(new CreateBucketCommand({ Bucket: sourceBucket, CreateBucketConfiguration: { LocationConstraint: 'eu-west-1' } })),
  ]);
  deps = {
    s3,
    cloudwatch,
    secrets,
    now: () => new Date(),
    log: (entry) => logged.push(entry),
    workDir,
    binDir,
    iamToken: async (target) => {
      tokens.push(target);
      return 'iam-token';
    },
    tls: { ssl: false, libpqEnv: {} },
    connect: async (config) => {
      const { Client } = await import('pg');
      const client = new Client(config);
      await client.connect();
      return client;
    },
  };
});
afterAll(async () => {
  s3?.destroy();
  cloudwatch?.destroy();
  secrets?.destroy();
  await db?.stop();
  rmSync(workDir, { recursive: true, force: true });
});

const dumpEnv = () => env({ DATABASE_HOST: db.socketDir, DATABASE_PORT: String(db.port), DATABASE_NAME: 'webapp', DATABASE_USER: DATABASE_ROLES.dump });

describe('the dump job on PostgreSQL 15 with moto', () => {
  let rawKey: string;

  test('dump: a table with row-level security stops pg_dump as the dump role; nothing is uploaded, DumpSucceeded 0', async () => {
    const admin = await db.connect('webapp');
    try {
      await admin.query(`SET ROLE ${DATABASE_ROLES.migrator}`);
      await admin.query('CREATE TABLE app.private (id int); ALTER TABLE app.private ENABLE ROW LEVEL SECURITY');
      await expect(runDump(dumpEnv(), deps)).rejects.toThrow(
        /^The dump of .+\/webapp as webapp_dump failed; nothing was uploaded: pg_dump failed \(exit code 1\): .*row-level security/s,
      );
      expect(await keys(bucket, 'raw/')).toEqual([]);
      expect(await published(DUMP_METRICS.bytes)).toEqual([]);
      expect(await published(DUMP_METRICS.dumpSucceeded)).toEqual([0]);
    } finally {
      await admin.query('DROP TABLE app.private');
      await admin.end();
    }
  });

  test('dump: as the dump role with its IAM token, streamed to raw/<time>Z.dump with the server version and time, then DumpBytes, DumpSeconds and DumpSucceeded 1', async () => {
    const before = new Date();
    const { key, bytes } = await runDump(dumpEnv(), deps);
    rawKey = key;
    expect(key).toMatch(/^raw\/\d{4}-\d\d-\d\dT\d\d-\d\d-\d\dZ\.dump$/);
    expect(tokens.at(-1)).toEqual({ host: db.socketDir, port: db.port, user: DATABASE_ROLES.dump });
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    expect(head.ContentLength).toBe(bytes);
    expect(head.Metadata).toMatchObject({ 'server-major': '15', database: 'webapp' });
    expect(head.Metadata?.['server-version']).toMatch(/^15\.\d+$/);
    expect(new Date(head.Metadata!['source-time']).getTime()).toBeGreaterThanOrEqual(before.getTime() - 1000);
    expect(await published(DUMP_METRICS.bytes)).toEqual([bytes]);
    expect(await published(DUMP_METRICS.seconds)).toHaveLength(1);
    expect((await published(DUMP_METRICS.dumpSucceeded)).sort()).toEqual([0, 1]);
  });

  test('check: restores the newest raw dump with its owners and grants, runs the verifier; PostgreSQL 15 here lacks pgvector, so it fails on that alone and publishes 0', async () => {
    const error = await runCheck(env({ VERIFY_EXPECTATIONS: expectations }), deps).catch((e: Error) => e);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toBe(`The restore check of s3://${bucket}/${rawKey} failed: the vector extension is not installed`);
    expect(await published(DUMP_METRICS.checkSucceeded)).toEqual([0]);
    // A check that did not pass leaves no marker: its age keeps growing.
    expect(await keys(bucket, 'checks/')).toEqual([]);
  });

  test('anonymise: without rules it refuses (exit 2), naming each personal column; nothing is written and 0 is published', async () => {
    const anonEnv = env({ ANONYMISE_RULES: '{}', RESERVED_DOMAIN: 'example.invalid', ANONYMISE_SALT: SALT, ANONYMISED_KEY_ID: anonymisedKeyId });
    const error = await runAnonymise(anonEnv, deps).catch((e: Error) => e);
    expect(error).toBeInstanceOf(Refusal);
    expect((error as Refusal).exitCode).toBe(2);
    expect((error as Error).message).toMatch(
      /^Refusing to anonymise: 2 problems with dumps\.anonymised\.rules in lib\/config\/stages\.ts; no anonymised copy was written\.\n {2}- app\.users\.email \(text\) looks personal: .*\n {2}- app\.users\.full_name \(text\) looks personal: /,
    );
    expect(await keys(bucket, 'anonymised/')).toEqual([]);
    expect(await published(DUMP_METRICS.anonymisedSucceeded)).toEqual([0]);
  });

  let anonymisedKey: string;
  test('anonymise: with rules, the verified copy goes to anonymised/ with the raw dump’s source time, and 1 is published', async () => {
    const rules = JSON.stringify({ 'app.users': { email: 'email', full_name: 'name' } });
    const { key } = await runAnonymise(env({ ANONYMISE_RULES: rules, RESERVED_DOMAIN: 'example.invalid', ANONYMISE_SALT: SALT, ANONYMISED_KEY_ID: anonymisedKeyId }), deps);
    anonymisedKey = key;
    expect(await keys(bucket, 'anonymised/')).toEqual([key]);
    const [raw, copy] = await Promise.all([rawKey, key].map((Key) => s3.send(new HeadObjectCommand({ Bucket: bucket, Key }))));
    // Written with the anonymised copies' own key, not the bucket's default (the raw dumps' key).
    expect(copy).toMatchObject({ ServerSideEncryption: 'aws:kms', SSEKMSKeyId: anonymisedKeyId });
    expect(copy.Metadata).toMatchObject({ 'server-major': '15', 'source-time': raw.Metadata!['source-time'], database: 'webapp' });
    expect(await published(DUMP_METRICS.anonymisedSucceeded)).toEqual(expect.arrayContaining([0, 1]));
  });

  test('refresh: the copy goes over an existing database with --clean, owners and grants intact; without pgvector here the setup step fails, naming it', async () => {
    // Another stage's bucket holds the copy; another database with old data plays the stage database.
    const copied = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: anonymisedKey }));
    const { GetObjectCommand } = await import('@aws-sdk/client-s3');
    const body = await (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: anonymisedKey }))).Body!.transformToByteArray();
    await s3.send(new PutObjectCommand({ Bucket: sourceBucket, Key: anonymisedKey, Body: body, Metadata: copied.Metadata }));
    await db.createDatabase('staging');
    const staging = await db.connect('staging');
    try {
      await ensureRoles(staging, 'staging', 'local');
      await staging.query(`SET ROLE ${DATABASE_ROLES.migrator}`);
      await staging.query("CREATE TABLE app.users (id bigserial PRIMARY KEY, email text); INSERT INTO app.users (email) VALUES ('old@staging.example')");
      await staging.query('RESET ROLE');
      const refreshEnv = {
        STAGE: 'staging',
        SOURCE_BUCKET: sourceBucket,
        DUMP_KEY: anonymisedKey,
        DATABASE_HOST: db.socketDir,
        DATABASE_PORT: String(db.port),
        DATABASE_NAME: 'staging',
        MASTER_SECRET: masterSecretArn,
        VERIFY_EXPECTATIONS: expectations,
      };
      await expect(runRestore('refresh', refreshEnv, deps)).rejects.toThrow(
        `pgvector is not available on ${db.socketDir}:${db.port}/staging: the engine offers no "vector" extension.`,
      );
      const users = await staging.query('SELECT email, full_name FROM app.users ORDER BY id');
      expect(users.rows.map((r) => r.email)).toEqual([
        expect.stringMatching(/^user-[0-9a-f]{12}@example\.invalid$/),
        expect.stringMatching(/^user-[0-9a-f]{12}@example\.invalid$/),
      ]);
      expect(users.rows.map((r) => r.full_name)).toEqual([expect.stringMatching(/^Person [0-9a-f]{8}$/), expect.stringMatching(/^Person [0-9a-f]{8}$/)]);
      const owner = await staging.query("SELECT tableowner FROM pg_tables WHERE schemaname = 'app' ORDER BY tablename");
      expect(owner.rows).toEqual([{ tableowner: DATABASE_ROLES.migrator }, { tableowner: DATABASE_ROLES.migrator }]);
      const app = await staging.query("SELECT has_table_privilege($1, 'app.orders', 'INSERT') AS can", [DATABASE_ROLES.app]);
      expect(app.rows[0].can).toBe(true);
    } finally {
      await staging.end();
    }
  });

  test('restore: a dump of a newer major than the server is refused (exit 2) before anything is downloaded or changed', async () => {
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'raw/2099-01-01T00-00-00Z.dump', Body: 'not read', Metadata: { 'server-major': '17', 'server-version': '17.6' } }));
    const restoreEnv = env({
      DUMP_KEY: 'raw/2099-01-01T00-00-00Z.dump',
      DATABASE_HOST: db.socketDir,
      DATABASE_PORT: String(db.port),
      DATABASE_NAME: 'webapp',
      MASTER_SECRET: masterSecretArn,
      VERIFY_EXPECTATIONS: expectations,
    });
    const error = await runRestore('restore', restoreEnv, deps).catch((e: Error) => e);
    expect(error).toBeInstanceOf(Refusal);
    expect((error as Error).message).toMatch(
      new RegExp(
        `^s3://${bucket}/raw/2099-01-01T00-00-00Z\\.dump was dumped from PostgreSQL 17\\.6; .+/webapp runs 15\\.\\d+, an older major, which pg_restore cannot restore onto\\. Fix: restore onto PostgreSQL 17 or newer \\(--engine-version\\)\\.$`,
      ),
    );
  });

  test('dump: a pg_dump that hangs is stopped at DUMP_DEADLINE_MINUTES; nothing is uploaded and the dump fails', async () => {
    // A stand-in pg_dump that never ends: the deadline, not the program, must end the dump.
    const hangingBin = mkdtempSync(join(tmpdir(), 'hanging-pg-dump-'));
    writeFileSync(join(hangingBin, 'pg_dump'), '#!/bin/sh\nexec sleep 60\n', { mode: 0o755 });
    try {
      const before = (await keys(bucket, 'raw/')).length;
      // A stage of its own, so its one DumpSucceeded value is told apart from the dumps' above.
      const error = await runDump({ ...dumpEnv(), STAGE: 'hanging', DUMP_DEADLINE_MINUTES: '0.002' }, { ...deps, binDir: hangingBin }).catch((e: Error) => e);
      expect((error as Error).message).toMatch(/^The dump of .+ failed; nothing was uploaded: it ran longer than 0\.002 minutes \(DUMP_DEADLINE_MINUTES\) and was stopped/);
      expect((await keys(bucket, 'raw/')).length).toBe(before);
      expect(await published(DUMP_METRICS.dumpSucceeded, 'hanging')).toEqual([0]);
    } finally {
      rmSync(hangingBin, { recursive: true, force: true });
    }
  });
});
