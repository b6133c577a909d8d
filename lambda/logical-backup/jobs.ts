/**
 * The dump job's commands (the container's first argument): `dump`, `check`, `anonymise`,
 * `restore` and `refresh`. Each reads its settings from the environment the task definition (or
 * the operator command's override) sets, and takes its clients and programs injected, so tests run
 * it against moto and a local PostgreSQL. A command that refuses throws `Refusal` (exit 2); any
 * other failure throws an Error (exit 1). Nothing is uploaded unless the command succeeded.
 */
import { createReadStream, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { ClientConfig } from 'pg';
import { ANONYMISATION_RULES, checkKey, DUMP_ENV, DUMP_METADATA, DUMP_METRICS, DUMP_PREFIX, type DumpCommand, dumpKey } from '../../lib/data/logical-backup-names';
import type { Session } from '../database-setup/custom-resource';
import { ensureVector } from '../database-setup/ensure-vector';
import { ensureRoles, IAM_AUTH_ROLE } from '../database-setup/roles';
import { checkDatabase, type Expectations } from '../restore-verifier/checks';
import { type AnonymisationRules, applyAnonymisation, planAnonymisation, refusalMessage, verifyAnonymised } from './anonymise';
import { type LocalServer, startLocalServer } from './local-server';
import { download, dumpMetadata, newestKey, publish, uploadStream } from './objects';
import { finished, run, start } from './processes';

/** A refusal: the command found something it must not go on with (exit code 2). */
export class Refusal extends Error {
  readonly exitCode = 2;
}

export interface JobDeps {
  readonly s3: Pick<S3Client, 'send'>;
  readonly cloudwatch: Pick<CloudWatchClient, 'send'>;
  /** Reads the master secret a restore and a refresh log in with. */
  readonly secrets: Pick<SecretsManagerClient, 'send'>;
  readonly now: () => Date;
  readonly log: (entry: Record<string, unknown>) => void;
  /** Ephemeral storage: downloaded dumps and the local server's data. */
  readonly workDir: string;
  /** Where pg_dump, pg_restore, initdb and pg_ctl are (`postgresBinDir()`). */
  readonly binDir: string;
  /** An IAM authentication token for a role of the stage database (rds-signer). */
  readonly iamToken: (target: { host: string; port: number; user: string }) => Promise<string>;
  /** TLS to the stage database: pg's setting, and libpq's environment (sslmode, sslrootcert) for pg_dump and pg_restore. */
  readonly tls: { readonly ssl: ClientConfig['ssl']; readonly libpqEnv: Record<string, string> };
  readonly connect: (config: ClientConfig) => Promise<Session>;
}

type Env = Record<string, string | undefined>;

/** The named variables, or an error listing every missing one. */
function required<K extends keyof typeof DUMP_ENV>(env: Env, keys: readonly K[], command: string): Record<K, string> {
  const missing = keys.filter((k) => !env[DUMP_ENV[k]]).map((k) => DUMP_ENV[k]);
  if (missing.length > 0) {
    throw new Error(
      `The ${command} command's environment lacks ${missing.join(', ')}. Fix: the task definition sets them (deploy the stage's data stack again); restore and refresh get theirs from npm run restore / npm run refresh-staging.`,
    );
  }
  return Object.fromEntries(keys.map((k) => [k, env[DUMP_ENV[k]]!])) as Record<K, string>;
}

function json<T>(env: Env, name: string, check: (value: unknown) => string | undefined): T {
  let value: unknown;
  try {
    value = JSON.parse(env[name] ?? '');
  } catch (error) {
    throw new Error(`${name} is not JSON (${(error as Error).message}). Fix: deploy the stage's data stack again, which writes it.`);
  }
  const problem = check(value);
  if (problem) throw new Error(`${name} ${problem}. Fix: deploy the stage's data stack again, which writes it.`);
  return value as T;
}

/** The dump's deadline in minutes (DUMP_DEADLINE_MINUTES), 120 where unset. */
function deadlineMinutes(env: Env): number {
  const raw = env[DUMP_ENV.deadlineMinutes];
  if (raw === undefined) return 120;
  const value = Number(raw);
  if (!(value > 0)) throw new Error(`${DUMP_ENV.deadlineMinutes} is not a number of minutes above 0: "${raw}"`);
  return value;
}

function port(env: Env): number {
  const value = Number(env[DUMP_ENV.databasePort] ?? '5432');
  if (!Number.isInteger(value) || value < 1 || value > 65535) throw new Error(`${DUMP_ENV.databasePort} is not a port: "${env[DUMP_ENV.databasePort]}"`);
  return value;
}

function expectations(env: Env): Expectations {
  return json<Expectations>(env, DUMP_ENV.expectations, (v) => {
    const e = v as Partial<Expectations> | null;
    if (typeof e?.minVectorVersion !== 'string') return 'lacks minVectorVersion (a version such as "0.8.0")';
    if (!Array.isArray(e.tables)) return 'lacks tables (a list of { name, minRows })';
    return undefined;
  });
}

function rules(env: Env): AnonymisationRules {
  return json<AnonymisationRules>(env, DUMP_ENV.rules, (v) => {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return 'is not an object of "schema.table" to { column: rule }';
    for (const [table, columns] of Object.entries(v)) {
      if (typeof columns !== 'object' || columns === null) return `names ${table} without an object of columns`;
      for (const [column, rule] of Object.entries(columns)) {
        if (!(ANONYMISATION_RULES as readonly unknown[]).includes(rule))
          return `gives ${table}.${column} the rule ${JSON.stringify(rule)}, not one of ${ANONYMISATION_RULES.join(', ')}`;
      }
    }
    return undefined;
  });
}

async function serverVersion(db: Session): Promise<{ major: string; version: string }> {
  const { rows } = await db.query<{ num: string; version: string }>("SELECT current_setting('server_version_num') AS num, current_setting('server_version') AS version");
  return { major: String(Math.floor(Number(rows[0].num) / 10000)), version: rows[0].version.split(' ')[0] };
}

/**
 * `dump`: logs in as the dump role with an IAM token and streams `pg_dump -Fc` to
 * `raw/<time>Z.dump` (multipart; the bucket's default key encrypts it), with the server's version
 * and the time in its metadata. Publishes DumpSeconds and DumpBytes only when it succeeded: a failed
 * dump uploads nothing. Publishes DumpSucceeded 1, or 0 on any failure (which it then throws).
 */
export async function runDump(env: Env, deps: JobDeps): Promise<{ key: string; bytes: number }> {
  const s = required(env, ['stage', 'bucket', 'databaseHost', 'databaseName', 'databaseUser'], 'dump');
  let succeeded = false;
  try {
    const result = await dumpToBucket(s, env, deps);
    succeeded = true;
    return result;
  } finally {
    // Every run says whether it succeeded: the age alarm sees nothing before the first dump, so a
    // stage whose dumps never succeed is caught by this one.
    await publish(deps.cloudwatch, s.stage, deps.now(), [{ name: DUMP_METRICS.dumpSucceeded, value: succeeded ? 1 : 0, unit: 'Count' }]);
  }
}

async function dumpToBucket(
  s: Record<'stage' | 'bucket' | 'databaseHost' | 'databaseName' | 'databaseUser', string>,
  env: Env,
  deps: JobDeps,
): Promise<{ key: string; bytes: number }> {
  const target = { host: s.databaseHost, port: port(env), user: s.databaseUser };
  const minutes = deadlineMinutes(env);
  const where = `${target.host}:${target.port}/${s.databaseName} as ${target.user}`;
  const password = await deps.iamToken(target);
  let version: { major: string; version: string };
  try {
    const session = await deps.connect({ ...target, password, database: s.databaseName, ssl: deps.tls.ssl, connectionTimeoutMillis: 10_000 });
    try {
      version = await serverVersion(session);
    } finally {
      await session.end();
    }
  } catch (error) {
    throw new Error(`Could not connect to ${where}: ${(error as Error).message}. Check the task's security group and its rds-db:connect policy.`);
  }
  const started = deps.now();
  const key = dumpKey(DUMP_PREFIX.raw, started);
  const metadata = {
    [DUMP_METADATA.serverMajor]: version.major,
    [DUMP_METADATA.serverVersion]: version.version,
    [DUMP_METADATA.sourceTime]: started.toISOString(),
    [DUMP_METADATA.database]: s.databaseName,
  };
  const pgDump = join(deps.binDir, 'pg_dump');
  const child = start(pgDump, ['-Fc', '--no-password', '-h', target.host, '-p', String(target.port), '-U', target.user, '-d', s.databaseName], {
    env: { PGPASSWORD: password, ...deps.tls.libpqEnv },
  });
  const exit = finished(child, pgDump);
  exit.catch(() => undefined);
  let overran = false;
  const deadline = setTimeout(() => {
    overran = true;
    child.kill('SIGTERM');
  }, minutes * 60_000);
  let bytes: number;
  try {
    bytes = await uploadStream(deps.s3, { bucket: s.bucket, key, metadata }, child.stdout, async () => {
      await exit;
    });
  } catch (error) {
    child.kill();
    const why = overran
      ? `it ran longer than ${minutes} minutes (${DUMP_ENV.deadlineMinutes}) and was stopped, so that it does not overlap the next night's dump`
      : (error as Error).message;
    throw new Error(`The dump of ${where} failed; nothing was uploaded: ${why}`);
  } finally {
    clearTimeout(deadline);
  }
  const seconds = (deps.now().getTime() - started.getTime()) / 1000;
  await publish(deps.cloudwatch, s.stage, deps.now(), [
    { name: DUMP_METRICS.seconds, value: seconds, unit: 'Seconds' },
    { name: DUMP_METRICS.bytes, value: bytes, unit: 'Bytes' },
  ]);
  deps.log({ message: 'dump uploaded', bucket: s.bucket, key, bytes, seconds, server: version.version });
  return { key, bytes };
}

/**
 * Makes the local server take a dump of the stage database: RDS has the role rds_iam (IAM
 * authentication) and a plain PostgreSQL does not, so a NOLOGIN stand-in is created first; then the
 * database setup's own roles, which own the dump's objects and hold its grants.
 */
async function prepareLocal(server: LocalServer): Promise<void> {
  const admin = await server.connect('postgres');
  try {
    await admin.query(`DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = '${IAM_AUTH_ROLE}') THEN CREATE ROLE ${IAM_AUTH_ROLE} NOLOGIN; END IF; END $$`);
    await ensureRoles(admin, 'postgres', 'the local server');
  } finally {
    await admin.end();
  }
}

/** Restores a dump file into a new database of the local server; stops at the first error. */
async function restoreLocal(deps: JobDeps, server: LocalServer, database: string, file: string): Promise<void> {
  await server.createDatabase(database);
  await run(join(deps.binDir, 'pg_restore'), ['--exit-on-error', '--no-password', '-d', database, file], { env: server.libpqEnv() });
}

/** Runs `work` against a fresh local server, and always stops it and removes its data. */
async function withLocalServer<T>(deps: JobDeps, work: (server: LocalServer) => Promise<T>): Promise<T> {
  const server = await startLocalServer({ binDir: deps.binDir, root: deps.workDir });
  try {
    return await work(server);
  } finally {
    await server.stop();
  }
}

/**
 * Records a restore check that passed at `at`: a small object `checks/<time>Z.json` naming the dump
 * it restored. The hourly age check (lambda/dump-age) reads the newest marker's time, so the
 * check's staleness is judged from the bucket, which holds it from one week to the next, not from
 * a metric that CloudWatch can look back on for at most 7 days.
 */
export async function writeCheckMarker(s3: JobDeps['s3'], bucket: string, at: Date, checked: { key: string; passed: readonly string[] }): Promise<string> {
  const key = checkKey(at);
  const body = JSON.stringify({ checkedAt: at.toISOString(), dump: checked.key, passed: checked.passed });
  try {
    // A checksum, named here rather than left to the client's defaults: a bucket under Object Lock
    // refuses a PutObject without one.
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentType: 'application/json', ChecksumAlgorithm: 'SHA256' }));
  } catch (error) {
    throw new Error(
      `The restore check passed, but its marker s3://${bucket}/${key} could not be written: ${(error as Error).name} ${(error as Error).message}. Check the task role's s3:PutObject on ${DUMP_PREFIX.checks}*.`,
    );
  }
  return key;
}

/**
 * `check`: restores the newest raw dump into a local server and runs the restore verifier's
 * checks on it; when they pass, writes its marker (`writeCheckMarker`). Publishes
 * RestoreCheckSucceeded 1, or 0 on any failure (which it then throws).
 */
export async function runCheck(env: Env, deps: JobDeps): Promise<{ key: string; passed: string[] }> {
  const s = required(env, ['stage', 'bucket', 'expectations'], 'check');
  let succeeded = false;
  try {
    const expect = expectations(env);
    const key = await newestKey(deps.s3, s.bucket, DUMP_PREFIX.raw);
    const file = join(deps.workDir, 'check.dump');
    await download(deps.s3, s.bucket, key, file);
    const result = await withLocalServer(deps, async (server) => {
      await prepareLocal(server);
      await restoreLocal(deps, server, 'restored', file);
      const session = await server.connect('restored');
      try {
        return await checkDatabase(session, expect);
      } finally {
        await session.end();
      }
    });
    rmSync(file, { force: true });
    if (!result.ok) throw new Error(`The restore check of s3://${s.bucket}/${key} failed: ${result.failures.join('; ')}`);
    const marker = await writeCheckMarker(deps.s3, s.bucket, deps.now(), { key, passed: result.passed });
    succeeded = true;
    deps.log({ message: 'restore check passed', key, marker, passed: result.passed });
    return { key, passed: result.passed };
  } finally {
    await publish(deps.cloudwatch, s.stage, deps.now(), [{ name: DUMP_METRICS.checkSucceeded, value: succeeded ? 1 : 0, unit: 'Count' }]);
  }
}

/**
 * `anonymise`: the newest raw dump into database `source` of a local server; refuses (nothing
 * written) while a personal-looking column has no rule; copies `source` to `anon` and applies the
 * rules there; dumps `anon`, restores that file into `check` and verifies it against `source`; only
 * then uploads it to `anonymised/<time>Z.dump`, with the raw dump's source time. Publishes
 * AnonymisedSucceeded 1, or 0 on a refusal or failure.
 */
export async function runAnonymise(env: Env, deps: JobDeps): Promise<{ key: string; warnings: readonly string[] }> {
  const s = required(env, ['stage', 'bucket', 'rules', 'reservedDomain', 'salt', 'anonymisedKey'], 'anonymise');
  let succeeded = false;
  try {
    const ruled = rules(env);
    const rawKey = await newestKey(deps.s3, s.bucket, DUMP_PREFIX.raw);
    const rawFile = join(deps.workDir, 'raw.dump');
    const anonFile = join(deps.workDir, 'anonymised.dump');
    const raw = await download(deps.s3, s.bucket, rawKey, rawFile);
    const { plan, version } = await withLocalServer(deps, async (server) => {
      await prepareLocal(server);
      await restoreLocal(deps, server, 'source', rawFile);
      const source = await server.connect('source');
      const plan = await (async () => {
        try {
          return await planAnonymisation(source, ruled, s.reservedDomain);
        } finally {
          await source.end();
        }
      })();
      for (const warning of plan.warnings) deps.log({ message: 'anonymisation rule unused', warning });
      if (plan.refusals.length > 0) throw new Refusal(refusalMessage(plan.refusals));
      await server.createDatabase('anon', 'source');
      const anon = await server.connect('anon');
      try {
        await applyAnonymisation(anon, plan, { salt: s.salt, reservedDomain: s.reservedDomain });
        // An index or a dead row version could still hold an original value in the files; the
        // dump holds only the live rows, which is what leaves the task.
      } finally {
        await anon.end();
      }
      await run(join(deps.binDir, 'pg_dump'), ['-Fc', '--no-password', '-f', anonFile, '-d', 'anon'], { env: server.libpqEnv() });
      await restoreLocal(deps, server, 'check', anonFile);
      const [sourceAgain, check] = [await server.connect('source'), await server.connect('check')];
      try {
        const failures = await verifyAnonymised(sourceAgain, check, plan, s.reservedDomain);
        if (failures.length > 0) throw new Error(`The anonymised copy of s3://${s.bucket}/${rawKey} failed its checks; nothing was uploaded: ${failures.join('; ')}`);
        return { plan, version: await serverVersion(check) };
      } finally {
        await Promise.all([sourceAgain.end(), check.end()]);
      }
    });
    const key = dumpKey(DUMP_PREFIX.anonymised, deps.now());
    await uploadStream(
      deps.s3,
      {
        bucket: s.bucket,
        key,
        metadata: {
          [DUMP_METADATA.serverMajor]: version.major,
          [DUMP_METADATA.serverVersion]: version.version,
          [DUMP_METADATA.sourceTime]: raw[DUMP_METADATA.sourceTime] ?? '',
          [DUMP_METADATA.database]: raw[DUMP_METADATA.database] ?? '',
        },
        kmsKeyId: s.anonymisedKey,
      },
      createReadStream(anonFile),
    );
    for (const file of [rawFile, anonFile]) rmSync(file, { force: true });
    succeeded = true;
    deps.log({ message: 'anonymised copy uploaded', key, from: rawKey, changedColumns: plan.changed.length });
    return { key, warnings: plan.warnings };
  } finally {
    await publish(deps.cloudwatch, s.stage, deps.now(), [{ name: DUMP_METRICS.anonymisedSucceeded, value: succeeded ? 1 : 0, unit: 'Count' }]);
  }
}

interface MasterSecret {
  readonly username: string;
  readonly password: string;
}

/** The RDS-managed master secret `MASTER_SECRET` names (its ARN), read at run time. */
async function masterSecret(deps: JobDeps, arn: string): Promise<MasterSecret> {
  let raw: string | undefined;
  try {
    raw = (await deps.secrets.send(new GetSecretValueCommand({ SecretId: arn }))).SecretString;
  } catch (error) {
    throw new Error(
      `Could not read the master secret ${arn} (${DUMP_ENV.masterSecret}): ${(error as Error).name} ${(error as Error).message}. Fix: pass the ARN of the instance's RDS-managed secret.`,
    );
  }
  let secret: Partial<MasterSecret> | undefined;
  try {
    secret = JSON.parse(raw ?? '') as Partial<MasterSecret>;
  } catch {
    secret = undefined;
  }
  if (typeof secret?.username !== 'string' || typeof secret.password !== 'string') {
    throw new Error(`The master secret ${arn} is not JSON with username and password; it should be the secret RDS manages for the instance.`);
  }
  return secret as MasterSecret;
}

/**
 * `restore` (a dump into the new, empty database of an instance alongside the stage's) and
 * `refresh` (the source stage's anonymised copy over the stage's own database): logs in as the
 * master, refuses a dump of a newer major than the server, sets up the database's roles (the
 * dump's owners and grants name them), `pg_restore --clean --if-exists` (the setup's empty app
 * schema is replaced by the dump's), then the database setup again (pgvector, roles: grants on the
 * restored objects) and the restore verifier's checks.
 */
export async function runRestore(command: 'restore' | 'refresh', env: Env, deps: JobDeps): Promise<{ key: string; passed: string[] }> {
  const s = required(env, [command === 'refresh' ? 'sourceBucket' : 'bucket', 'key', 'databaseHost', 'databaseName', 'masterSecret', 'expectations'], command);
  const bucket = command === 'refresh' ? s.sourceBucket! : s.bucket!;
  const expect = expectations(env);
  const master = await masterSecret(deps, s.masterSecret);
  const target = { host: s.databaseHost, port: port(env), database: s.databaseName };
  const where = `${target.host}:${target.port}/${target.database}`;
  const metadata = await dumpMetadata(deps.s3, bucket, s.key);
  let session: Session;
  try {
    session = await deps.connect({ ...target, user: master.username, password: master.password, ssl: deps.tls.ssl, connectionTimeoutMillis: 10_000 });
  } catch (error) {
    throw new Error(`Could not connect to ${where} as ${master.username}: ${(error as Error).message}. Check the task's security group.`);
  }
  try {
    const server = await serverVersion(session);
    const dumped = metadata[DUMP_METADATA.serverMajor];
    if (!dumped)
      throw new Refusal(`s3://${bucket}/${s.key} has no ${DUMP_METADATA.serverMajor} metadata: it was not written by the dump job. Fix: pick a dump under raw/ or anonymised/.`);
    if (Number(dumped) > Number(server.major)) {
      throw new Refusal(
        `s3://${bucket}/${s.key} was dumped from PostgreSQL ${metadata[DUMP_METADATA.serverVersion] ?? dumped}; ${where} runs ${server.version}, an older major, which pg_restore cannot restore onto. Fix: restore onto PostgreSQL ${dumped} or newer (--engine-version).`,
      );
    }
    const file = join(deps.workDir, `${command}.dump`);
    await download(deps.s3, bucket, s.key, file);
    await ensureRoles(session, target.database, where);
    const pgRestore = join(deps.binDir, 'pg_restore');
    try {
      await run(
        pgRestore,
        ['--clean', '--if-exists', '--exit-on-error', '--no-password', '-h', target.host, '-p', String(target.port), '-U', master.username, '-d', target.database, file],
        { env: { PGPASSWORD: master.password, ...deps.tls.libpqEnv } },
      );
    } catch (error) {
      throw new Error(`Restoring s3://${bucket}/${s.key} into ${where} failed: ${(error as Error).message}`);
    }
    rmSync(file, { force: true });
    await ensureVector(session, expect.minVectorVersion, where);
    await ensureRoles(session, target.database, where);
    const result = await checkDatabase(session, expect);
    if (!result.ok) throw new Error(`s3://${bucket}/${s.key} was restored into ${where}, but it fails the checks: ${result.failures.join('; ')}`);
    deps.log({ message: `${command} done`, key: s.key, where, sourceTime: metadata[DUMP_METADATA.sourceTime], passed: result.passed });
    return { key: s.key, passed: result.passed };
  } finally {
    await session.end();
  }
}

/** Runs one command; the container's entrypoint passes its first argument. */
export async function runCommand(command: string | undefined, env: Env, deps: JobDeps): Promise<unknown> {
  switch (command as DumpCommand) {
    case 'dump':
      return runDump(env, deps);
    case 'check':
      return runCheck(env, deps);
    case 'anonymise':
      return runAnonymise(env, deps);
    case 'restore':
    case 'refresh':
      return runRestore(command as 'restore' | 'refresh', env, deps);
    default:
      throw new Refusal(`Unknown command "${command ?? ''}". Fix: pass one of dump, check, anonymise, restore, refresh as the container's first argument.`);
  }
}
