/**
 * `npm run repair-sql`: what it prints, run by psql against Debian's PostgreSQL 15 with its
 * postgres_fdw, two databases of one server standing for the stage database (`damaged`) and its
 * repair copy (`app`), each with the setup's roles.
 *
 * What this proves: lost column values and deleted rows come back from the copy, in one
 * transaction (ROLLBACK leaves the table as it was), without touching a row the damage did not
 * (rows written, changed or deleted since the restore point stay as they are); postgres_fdw runs as
 * a role that is not a superuser, as RDS's master is not, so the copy must ask for a password,
 * which the user mapping gives; the password stays out of the statement log although DDL is
 * logged, as on the stage database; the clean-up leaves nothing behind; the docs show this SQL.
 *
 * Stand-ins for RDS: the stage database's master is a plain role, a member of webapp_migrator as
 * on RDS, granted SET on log_statement (RDS lets rds_superuser set it); postgres_fdw is not a
 * trusted extension, so the local superuser creates it and grants its use, where RDS's
 * rds_superuser runs the script's own CREATE EXTENSION. The copy is reached over the server's
 * socket, without TLS (libpq ignores sslmode on a socket); RDS forces TLS and the script asks for it.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { DATABASE_ROLES, ensureRoles } from '../../lambda/database-setup/roles';
import { type LocalServer, startLocalServer } from '../../lambda/logical-backup/local-server';
import { postgresBinDir } from '../../lambda/logical-backup/processes';
import { PROJECT_ROOT } from '../../lib/shared/paths';
import { UsageError } from '../../scripts/lib/assembly';
import { CLEANUP, repairSql } from '../../scripts/lib/repair-sql';
import { main, parseArgs } from '../../scripts/repair-sql';
import { printed } from '../support/console';

const binDir = postgresBinDir();
// In memory where the machine has it; the server runs as the postgres user, which must reach the folder.
const workDir = mkdtempSync(existsSync('/dev/shm') ? '/dev/shm/repair-sql-' : '/tmp/repair-sql-');
chmodSync(workDir, 0o711);
const COPY_PASSWORD = 'copy-master-password-4f9a';
let db: LocalServer;

/** Runs SQL as `user` on `database` with psql, the copy's variables set as the header says; returns what psql printed, or throws with its error. */
function psql(database: string, user: string, sql: string): string {
  const vars = { copy_host: db.socketDir, copy_database: 'app', copy_user: 'copy_master', copy_password: COPY_PASSWORD };
  const args = ['-X', '-h', db.socketDir, '-p', String(db.port), '-U', user, '-d', database, ...Object.entries(vars).flatMap(([k, v]) => ['-v', `${k}=${v}`]), '-f', '-'];
  const out = spawnSync(join(binDir, 'psql'), args, { input: sql, encoding: 'utf8' });
  if (out.status !== 0 || /ERROR/.test(out.stderr)) throw new Error(`psql failed (${out.status}): ${out.stderr}`);
  return out.stdout;
}

async function rows(sql: string): Promise<unknown[]> {
  const client = await db.connect('damaged');
  try {
    return (await client.query(sql)).rows;
  } finally {
    await client.end();
  }
}

const users = () => rows('SELECT id::int, email, plan FROM app.users ORDER BY id');
const orders = () => rows('SELECT id::int, user_id::int, total_cents FROM app.orders ORDER BY id');

beforeAll(async () => {
  db = await startLocalServer({ binDir, root: workDir });
  const admin = await db.connect('postgres');
  try {
    await admin.query(`
      CREATE ROLE rds_iam NOLOGIN;
      CREATE ROLE stage_master LOGIN;
      CREATE ROLE copy_master LOGIN PASSWORD '${COPY_PASSWORD}';
      GRANT SET ON PARAMETER log_statement TO stage_master;
    `);
    // DDL is logged, as on the stage database (databaseParameters).
    await admin.query("ALTER SYSTEM SET log_statement = 'ddl'");
    await admin.query('CREATE DATABASE app');
  } finally {
    await admin.end();
  }
  // The copy's master logs in with its password, as on RDS: a non-superuser's postgres_fdw refuses a server that asks for none.
  const hba = join(dirname(db.socketDir), 'data', 'pg_hba.conf');
  writeFileSync(hba, `local all copy_master scram-sha-256\n${readFileSync(hba, 'utf8')}`);
  const app = await db.connect('app');
  try {
    await ensureRoles(app, 'app', 'local');
    await app.query(`GRANT ${DATABASE_ROLES.migrator} TO stage_master, copy_master`);
    await app.query(`SET ROLE ${DATABASE_ROLES.migrator}`);
    // The restore point: the copy holds this.
    await app.query(`
      CREATE TABLE app.users (id bigserial PRIMARY KEY, email text NOT NULL UNIQUE, plan text);
      CREATE TABLE app.orders (id bigserial PRIMARY KEY, user_id bigint NOT NULL REFERENCES app.users (id), total_cents int NOT NULL);
      INSERT INTO app.users (email, plan) VALUES ('ada@example.com', 'pro'), ('grace@example.org', 'team'), ('linus@example.net', NULL);
      INSERT INTO app.orders (user_id, total_cents) VALUES (1, 1200), (2, 800), (2, 50), (1, 300);
    `);
  } finally {
    await app.end();
  }
  const server = await db.connect('postgres');
  try {
    await server.query('CREATE DATABASE damaged TEMPLATE app OWNER stage_master');
    await server.query('SELECT pg_reload_conf()');
  } finally {
    await server.end();
  }
  const damaged = await db.connect('damaged');
  try {
    await damaged.query('CREATE EXTENSION postgres_fdw; GRANT USAGE ON FOREIGN DATA WRAPPER postgres_fdw TO stage_master');
    await damaged.query(`SET ROLE ${DATABASE_ROLES.migrator}`);
    // The damage: a release dropped the plan column (added back empty) and deleted grace's orders.
    // Since then: a new user, ada's new email, grace chose a plan, a new order, and ada deleted an order herself.
    await damaged.query(`
      ALTER TABLE app.users DROP COLUMN plan;
      ALTER TABLE app.users ADD COLUMN plan text;
      DELETE FROM app.orders WHERE user_id = 2;
      INSERT INTO app.users (email, plan) VALUES ('new@example.com', 'free');
      UPDATE app.users SET email = 'ada@new.example' WHERE id = 1;
      UPDATE app.users SET plan = 'enterprise' WHERE id = 2;
      INSERT INTO app.orders (user_id, total_cents) VALUES (4, 999);
      DELETE FROM app.orders WHERE id = 4;
    `);
  } finally {
    await damaged.end();
  }
});

afterAll(async () => {
  await db?.stop();
  rmSync(workDir, { recursive: true, force: true });
});

/** Removes the link as the script's last line says; the extension is the local superuser's here (see above). */
async function cleanUp() {
  psql('damaged', 'stage_master', CLEANUP.filter((s) => !s.includes('EXTENSION')).join('\n'));
  expect(
    await rows(
      "SELECT (SELECT count(*) FROM pg_foreign_server)::int AS servers, (SELECT count(*) FROM pg_user_mappings)::int AS mappings, (SELECT count(*) FROM pg_namespace WHERE nspname = 'repair_copy')::int AS schemas",
    ),
  ).toEqual([{ servers: 0, mappings: 0, schemas: 0 }]);
}

const DAMAGED_USERS = [
  { id: 1, email: 'ada@new.example', plan: null },
  { id: 2, email: 'grace@example.org', plan: 'enterprise' },
  { id: 3, email: 'linus@example.net', plan: null },
  { id: 4, email: 'new@example.com', plan: 'free' },
];

describe('npm run repair-sql on PostgreSQL 15 with postgres_fdw', () => {
  const lostPlans = parseArgs(['--table', 'app.users', '--columns', 'plan', '--key', 'id', '--from-instance', 'webapp-staging-repair']);

  test('lost values: ROLLBACK leaves the table as it was; COMMIT fills only the NULLs the copy has, every other row and value as it is now', async () => {
    expect(await users()).toEqual(DAMAGED_USERS);
    expect(psql('damaged', 'stage_master', `${repairSql(lostPlans)}\nROLLBACK;\n`)).toContain('UPDATE 1');
    expect(await users()).toEqual(DAMAGED_USERS);
    await cleanUp();
    // ada's plan comes back; her new email, grace's new plan, linus's NULL (the copy's too) and the new user stay.
    expect(psql('damaged', 'stage_master', `${repairSql(lostPlans)}\nCOMMIT;\n`)).toContain('UPDATE 1');
    expect(await users()).toEqual([{ ...DAMAGED_USERS[0], plan: 'pro' }, ...DAMAGED_USERS.slice(1)]);
    await cleanUp();
  });

  test('deleted rows: the copy rows --where names come back with their keys; a row deleted since (and one added) stays as it is', async () => {
    const args = parseArgs([
      '--table',
      'app.orders',
      '--columns',
      'user_id,total_cents',
      '--key',
      'id',
      '--from-instance',
      'webapp-staging-repair',
      '--restore',
      'deleted-rows',
      '--where',
      'c.user_id = 2',
    ]);
    expect(await orders()).toEqual([
      { id: 1, user_id: 1, total_cents: 1200 },
      { id: 5, user_id: 4, total_cents: 999 },
    ]);
    expect(psql('damaged', 'stage_master', `${repairSql(args)}\nCOMMIT;\n`)).toContain('INSERT 0 2');
    expect(await orders()).toEqual([
      { id: 1, user_id: 1, total_cents: 1200 },
      { id: 2, user_id: 2, total_cents: 800 },
      { id: 3, user_id: 2, total_cents: 50 },
      { id: 5, user_id: 4, total_cents: 999 },
    ]);
    await cleanUp();
  });

  test("the copy's password never reaches the statement log, which logs the script's other DDL", () => {
    const log = readFileSync(join(dirname(db.socketDir), 'server.log'), 'utf8');
    expect(log).toContain('CREATE SCHEMA repair_copy');
    expect(log).not.toContain(COPY_PASSWORD);
  });

  test('docs/disaster-recovery.md shows the SQL it prints for its example', () => {
    const docs = readFileSync(join(PROJECT_ROOT, 'docs', 'disaster-recovery.md'), 'utf8');
    const example = parseArgs(['--table', 'app.users', '--columns', 'email,plan', '--key', 'id', '--from-instance', 'webapp-prod-repair']);
    expect(docs).toContain('npm run repair-sql -- --table app.users --columns email,plan --key id --from-instance webapp-prod-repair');
    expect(docs).toContain(`\`\`\`sql\n${repairSql(example)}\n\`\`\``);
  });
});

describe('npm run repair-sql refuses', () => {
  const base = ['--table', 'app.users', '--columns', 'plan', '--key', 'id', '--from-instance', 'webapp-prod-repair'];
  test.each([
    [['--table', 'users', ...base.slice(2)], /^--table takes schema\.table in lower case \(app\.users\), not "users"/],
    [[...base.slice(0, 2), '--columns', 'plan;drop', ...base.slice(4)], /^--columns takes column names in lower case separated by commas, not "plan;drop"/],
    [[...base.slice(0, 2), '--columns', 'id,plan', ...base.slice(4)], /^--columns names the key column id: .* Fix: leave it out of --columns/],
    [[...base.slice(0, 6), '--from-instance', 'webapp-prod'], /^--from-instance takes a copy of a stage \(webapp-<stage>-repair, webapp-<stage>-dump-<time>\), not "webapp-prod"/],
    [[...base, '--restore', 'changed-values'], /^--restore changed-values needs --where: .* Fix: name the damaged rows/],
    [[...base, '--restore', 'everything'], /^--restore takes lost-values, changed-values, deleted-rows, not "everything"/],
    [base.slice(0, 6), /^--from-instance is required/],
  ])('%j', (argv, message) => {
    expect(() => parseArgs(argv)).toThrow(UsageError);
    expect(() => parseArgs(argv)).toThrow(message);
  });

  test('with exit 2 and the reason on stderr; a good one prints the SQL and exits 0', async () => {
    const bad = await printed(async () => main(['--table', 'users']));
    expect(bad.result).toBe(2);
    expect(bad.stderr).toMatch(/^repair-sql: /);
    const good = await printed(async () => main([...base, '--restore', 'changed-values', '--where', "t.updated_at >= '2026-12-01T02:10:00Z'"]));
    expect(good.result).toBe(0);
    expect(good.stdout).toContain(`WHERE t."id" = c."id" AND t."plan" IS DISTINCT FROM c."plan" AND (t.updated_at >= '2026-12-01T02:10:00Z');`);
  });
});
