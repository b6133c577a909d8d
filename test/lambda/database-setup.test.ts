import { CreateDBInstanceCommand, ModifyDBInstanceCommand, RDSClient } from '@aws-sdk/client-rds';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { CdkCustomResourceEvent } from 'aws-lambda';
import { Client } from 'pg';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { type Dependencies, handleSetupEvent, type Session, type SetupTarget, targetFromEnvironment } from '../../lambda/database-setup/custom-resource';
import { compareVersions, ensureVector, type Queryable, VECTOR_STATEMENTS } from '../../lambda/database-setup/ensure-vector';
import { setupFingerprint } from '../../lambda/database-setup/fingerprint';
import { APP_SCHEMA, DATABASE_ROLES, ensureRoles, roleStatements } from '../../lambda/database-setup/roles';
import { type Moto, startMoto } from '../support/moto';
import { type LocalPostgres, startPostgres } from '../support/pglite';

let pgvector: LocalPostgres;
let plain: LocalPostgres;
let moto: Moto;
let rds: RDSClient;
let secrets: SecretsManagerClient;

beforeAll(async () => {
  [pgvector, plain, moto] = await Promise.all([startPostgres(), startPostgres({ withVector: false }), startMoto()]);
  rds = new RDSClient(moto.clientConfig());
  secrets = new SecretsManagerClient(moto.clientConfig());
  // RDS for PostgreSQL always has rds_iam; PGlite is plain PostgreSQL, so a stand-in role plays it.
  await pgvector.db.query('CREATE ROLE rds_iam');
});
afterAll(async () => {
  rds?.destroy();
  secrets?.destroy();
  await Promise.all([pgvector?.stop(), plain?.stop(), moto?.stop()]);
});

/** An instance in moto whose master password RDS manages (moto stores the secret, like RDS does). */
async function managedInstance(id: string): Promise<string> {
  await rds.send(
    new CreateDBInstanceCommand({
      DBInstanceIdentifier: id,
      Engine: 'postgres',
      EngineVersion: '17.6',
      DBInstanceClass: 'db.t4g.micro',
      MasterUsername: 'postgres',
      ManageMasterUserPassword: true,
      AllocatedStorage: 20,
    }),
  );
  return id;
}

/** Resource properties as the stack passes them (CloudFormation turns numbers into strings). */
function props(instance: string, server: { host: string; port: number }, extra: Record<string, string> = {}): Record<string, string> {
  return { DbInstanceIdentifier: instance, Host: server.host, Port: String(server.port), DatabaseName: 'postgres', MinVersion: '0.8.0', EngineVersion: '17.6', ...extra };
}

/** Every statement a session ran, for the tests that assert what SQL an event issues. */
function recording(into: string[]): Dependencies['connect'] {
  return async (config) => {
    const client = new Client(config);
    await client.connect();
    const session: Session = {
      query: (sql: string, values?: unknown[]) => {
        into.push(sql);
        return client.query(sql, values) as never;
      },
      end: () => client.end(),
    };
    return session;
  };
}

function deps(connect: Dependencies['connect'] = recording([])): Omit<Dependencies, 'target'> {
  return { rds, secrets, ssl: false, connect };
}

/** The database the function is configured for (its environment): here, what the event names. */
function targetOf(properties: Record<string, unknown>): SetupTarget {
  return { instance: String(properties.DbInstanceIdentifier), host: String(properties.Host), port: Number(properties.Port), database: String(properties.DatabaseName) };
}

/** Runs the handler configured for the database its event names, as the stack deploys it. */
function setup(ev: CdkCustomResourceEvent, d: Omit<Dependencies, 'target'> = deps()) {
  return handleSetupEvent(ev, { target: targetOf(ev.ResourceProperties), ...d });
}

function event(type: 'Create' | 'Update' | 'Delete', props: Record<string, string>, old: Record<string, string> = props): CdkCustomResourceEvent {
  const base = {
    ServiceToken: 'arn:aws:lambda:eu-west-1:111111111111:function:provider',
    ResponseURL: 'https://example.com/response',
    StackId: 'arn:aws:cloudformation:eu-west-1:111111111111:stack/dev-Data/1',
    RequestId: 'req-1',
    LogicalResourceId: 'DatabaseSetup',
    ResourceType: 'Custom::DatabaseSetup',
    ResourceProperties: { ServiceToken: 'x', ...props },
  };
  if (type === 'Create') return { ...base, RequestType: 'Create' };
  if (type === 'Update') return { ...base, RequestType: 'Update', PhysicalResourceId: 'database-setup:x', OldResourceProperties: { ServiceToken: 'x', ...old } };
  return { ...base, RequestType: 'Delete', PhysicalResourceId: 'database-setup:x' };
}

async function connect(server: LocalPostgres): Promise<Client> {
  const client = new Client({ host: server.host, port: server.port, user: 'postgres', database: 'postgres' });
  await client.connect();
  return client;
}

/**
 * Runs `sql` as `role` would after logging in (SET ROLE does not apply the role's own settings, so
 * its search_path is set here as the login would) and returns the error message, or undefined.
 */
async function asRole(db: Queryable, role: string, sql: string): Promise<string | undefined> {
  await db.query(`SET ROLE ${role}`);
  await db.query(`SET search_path = ${APP_SCHEMA}, public`);
  try {
    await db.query(sql);
    return undefined;
  } catch (error) {
    return (error as Error).message;
  } finally {
    await db.query('RESET ROLE');
    await db.query('RESET search_path');
  }
}

describe('compareVersions', () => {
  test.each([
    ['0.8.0', '0.8.0', 0],
    ['0.8.1', '0.8.0', 1],
    ['0.10.0', '0.9.9', 1],
    ['0.7.4', '0.8', -1],
    ['1', '0.99.99', 1],
  ])('%s vs %s', (a, b, expected) => {
    expect(compareVersions(a, b)).toBe(expected);
  });
});

describe('ensureVector against PostgreSQL with pgvector', () => {
  let client: Client;
  beforeAll(async () => {
    client = await connect(pgvector);
  });
  afterAll(() => client?.end());

  test('creates the extension and reports its version', async () => {
    const status = await ensureVector(client, '0.8.0', 'local');
    expect(status.version).toMatch(/^0\.8\.\d+$/);
    const row = await client.query("SELECT extversion FROM pg_extension WHERE extname = 'vector'");
    expect(row.rows[0].extversion).toBe(status.version);
    // The extension works: a similarity query answers.
    const distance = await client.query("SELECT '[1,2,3]'::vector <-> '[1,2,4]'::vector AS d");
    expect(distance.rows[0].d).toBe(1);
  });

  test('is idempotent: a second run changes nothing', async () => {
    const first = await ensureVector(client, '0.8.0', 'local');
    const second = await ensureVector(client, '0.8.0', 'local');
    expect(second).toEqual(first);
    const count = await client.query("SELECT count(*)::int AS n FROM pg_extension WHERE extname = 'vector'");
    expect(count.rows[0].n).toBe(1);
  });

  test('fails clearly when the minimum is above what the engine offers', async () => {
    await expect(ensureVector(client, '9.0.0', 'db.example:5432/app')).rejects.toThrow(
      /pgvector 0\.8\.\d+ is installed on db\.example:5432\/app, but at least 9\.0\.0 is required \(the engine offers up to 0\.8\.\d+\)\. Fix: upgrade database\.engineVersion/,
    );
  });
});

describe('ensureVector against PostgreSQL without pgvector', () => {
  test('fails saying the engine offers no vector extension', async () => {
    const client = await connect(plain);
    try {
      await expect(ensureVector(client, '0.8.0', 'plain:5432/postgres')).rejects.toThrow(
        /pgvector is not available on plain:5432\/postgres: the engine offers no "vector" extension\. Fix: set database\.engineVersion/,
      );
    } finally {
      await client.end();
    }
  });
});

describe('ensureRoles on PostgreSQL with pgvector', () => {
  const { app, migrator } = DATABASE_ROLES;
  let client: Client;
  beforeAll(async () => {
    client = await connect(pgvector);
    await ensureVector(client, '0.8.0', 'local');
    await ensureRoles(client, 'postgres', 'local');
  });
  afterAll(() => client?.end());

  test('both roles log in through IAM only and hold no superuser-like right', async () => {
    const { rows } = await client.query(
      `SELECT rolname, rolcanlogin, rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls, rolpassword IS NULL AS nopassword,
              pg_has_role(rolname, 'rds_iam', 'MEMBER') AS iam
         FROM pg_authid WHERE rolname IN ('${app}', '${migrator}') ORDER BY rolname`,
    );
    expect(rows).toEqual(
      [app, migrator].map((rolname) => ({
        rolname,
        rolcanlogin: true,
        rolsuper: false,
        rolcreatedb: false,
        rolcreaterole: false,
        rolreplication: false,
        rolbypassrls: false,
        nopassword: true,
        iam: true,
      })),
    );
  });

  test('both roles resolve unqualified names in the app schema first, then public (where the vector type lives)', async () => {
    const { rows } = await client.query(
      `SELECT r.rolname, s.setconfig FROM pg_db_role_setting s JOIN pg_roles r ON r.oid = s.setrole WHERE r.rolname IN ('${app}', '${migrator}') ORDER BY 1`,
    );
    expect(rows).toEqual([app, migrator].map((rolname) => ({ rolname, setconfig: [`search_path=${APP_SCHEMA}, public`] })));
  });

  test('the migration role owns the app schema and can create tables there', async () => {
    const { rows } = await client.query('SELECT nspowner::regrole::text AS owner FROM pg_namespace WHERE nspname = $1', [APP_SCHEMA]);
    expect(rows[0].owner).toBe(migrator);
    expect(await asRole(client, migrator, 'CREATE TABLE IF NOT EXISTS documents (id bigserial PRIMARY KEY, body text, embedding vector(3))')).toBeUndefined();
    const table = await client.query("SELECT schemaname, tableowner FROM pg_tables WHERE tablename = 'documents'");
    expect(table.rows).toEqual([{ schemaname: APP_SCHEMA, tableowner: migrator }]);
  });

  test('the app role reads and writes what migrations create (default privileges), vector queries included', async () => {
    expect(await asRole(client, migrator, 'CREATE TABLE IF NOT EXISTS documents (id bigserial PRIMARY KEY, body text, embedding vector(3))')).toBeUndefined();
    expect(await asRole(client, app, "INSERT INTO documents (body, embedding) VALUES ('a', '[1,2,3]'), ('b', '[1,2,4]')")).toBeUndefined();
    expect(await asRole(client, app, "UPDATE documents SET body = 'c' WHERE body = 'b'")).toBeUndefined();
    expect(await asRole(client, app, "SELECT body FROM documents ORDER BY embedding <-> '[1,2,4]' LIMIT 1")).toBeUndefined();
    expect(await asRole(client, app, "DELETE FROM documents WHERE body = 'c'")).toBeUndefined();
  });

  test('the app role cannot change the schema, create schemas or drop what it does not own', async () => {
    expect(await asRole(client, app, 'CREATE TABLE app.mine (id int)')).toMatch(/permission denied for schema app/);
    expect(await asRole(client, app, 'CREATE TABLE public.mine (id int)')).toMatch(/permission denied for schema public/);
    expect(await asRole(client, app, 'CREATE SCHEMA mine')).toMatch(/permission denied for database/);
    expect(await asRole(client, app, 'DROP SCHEMA app CASCADE')).toMatch(/must be owner of schema app/);
    expect(await asRole(client, app, 'DROP TABLE documents')).toMatch(/must be owner of table documents/);
    expect(await asRole(client, app, 'ALTER TABLE documents ADD COLUMN extra int')).toMatch(/must be owner of table documents/);
    expect(await asRole(client, app, 'DROP EXTENSION vector')).toMatch(/must be owner of extension vector/);
  });

  test('the on-call role reads what migrations create and can change nothing, not even by turning read-only off', async () => {
    const { oncall } = DATABASE_ROLES;
    expect(await asRole(client, migrator, 'CREATE TABLE IF NOT EXISTS incidents (id bigserial PRIMARY KEY, note text)')).toBeUndefined();
    expect(await asRole(client, app, "INSERT INTO incidents (note) VALUES ('seen')")).toBeUndefined();
    expect(await asRole(client, oncall, 'SELECT note FROM incidents')).toBeUndefined();
    const { rows } = await client.query('SELECT setconfig FROM pg_db_role_setting s JOIN pg_roles r ON r.oid = s.setrole WHERE r.rolname = $1', [oncall]);
    expect(rows[0].setconfig).toEqual(expect.arrayContaining(['default_transaction_read_only=on']));
    expect(await asRole(client, oncall, "SET transaction_read_only = off; INSERT INTO incidents (note) VALUES ('x')")).toMatch(/permission denied for table incidents/);
    expect(await asRole(client, oncall, 'SET transaction_read_only = off; DELETE FROM incidents')).toMatch(/permission denied for table incidents/);
    expect(await asRole(client, oncall, 'CREATE TABLE app.mine (id int)')).toMatch(/permission denied for schema app/);
    const role = await client.query('SELECT rolcanlogin, rolpassword IS NULL AS nopassword, pg_has_role(rolname, $2, $3) AS iam FROM pg_authid WHERE rolname = $1', [
      oncall,
      'rds_iam',
      'MEMBER',
    ]);
    expect(role.rows).toEqual([{ rolcanlogin: true, nopassword: true, iam: true }]);
  });

  test('the dump role reads every table and sequence migrations create, through IAM only, and can change nothing', async () => {
    const { dump } = DATABASE_ROLES;
    expect(await asRole(client, migrator, 'CREATE TABLE IF NOT EXISTS ledger (id bigserial PRIMARY KEY, note text)')).toBeUndefined();
    expect(await asRole(client, app, "INSERT INTO ledger (note) VALUES ('kept')")).toBeUndefined();
    // What pg_dump reads: the rows, and each sequence's state.
    expect(await asRole(client, dump, 'SELECT note FROM ledger')).toBeUndefined();
    expect(await asRole(client, dump, 'SELECT last_value FROM ledger_id_seq')).toBeUndefined();
    const { rows } = await client.query('SELECT setconfig FROM pg_db_role_setting s JOIN pg_roles r ON r.oid = s.setrole WHERE r.rolname = $1', [dump]);
    expect(rows[0].setconfig).toEqual(expect.arrayContaining(['default_transaction_read_only=on']));
    expect(await asRole(client, dump, "SET transaction_read_only = off; INSERT INTO ledger (note) VALUES ('x')")).toMatch(/permission denied for table ledger/);
    expect(await asRole(client, dump, "SET transaction_read_only = off; SELECT nextval('ledger_id_seq')")).toMatch(/permission denied for sequence ledger_id_seq/);
    expect(await asRole(client, dump, 'CREATE TABLE app.mine (id int)')).toMatch(/permission denied for schema app/);
    const role = await client.query(
      `SELECT rolcanlogin, rolbypassrls, rolpassword IS NULL AS nopassword, pg_has_role(rolname, 'rds_iam', 'MEMBER') AS iam,
              pg_has_role(rolname, 'pg_read_all_data', 'MEMBER') AS readall, has_database_privilege(rolname, 'postgres', 'CONNECT') AS connect
         FROM pg_authid WHERE rolname = $1`,
      [dump],
    );
    expect(role.rows).toEqual([{ rolcanlogin: true, rolbypassrls: false, nopassword: true, iam: true, readall: false, connect: true }]);
  });

  test('neither role can create extensions', async () => {
    // vector is installed; to try CREATE EXTENSION it is dropped inside a transaction that is rolled back.
    await client.query('BEGIN');
    try {
      await client.query('DROP EXTENSION vector CASCADE');
      for (const role of [app, migrator]) {
        await client.query('SAVEPOINT attempt');
        await client.query(`SET LOCAL ROLE ${role}`);
        await expect(client.query('CREATE EXTENSION vector')).rejects.toThrow(/permission denied to create extension "vector"/);
        await client.query('ROLLBACK TO SAVEPOINT attempt');
      }
    } finally {
      await client.query('ROLLBACK');
    }
    const { rows } = await client.query("SELECT count(*)::int AS n FROM pg_extension WHERE extname = 'vector'");
    expect(rows[0].n).toBe(1);
  });

  test('is idempotent: running it again changes nothing and keeps the data', async () => {
    const snapshot = () =>
      client.query(
        `SELECT r.rolname, r.rolcanlogin, n.nspname, n.nspowner::regrole::text AS owner, n.nspacl::text AS acl,
                (SELECT setconfig::text FROM pg_db_role_setting s WHERE s.setrole = r.oid) AS settings
           FROM pg_roles r CROSS JOIN pg_namespace n
          WHERE r.rolname IN ('${app}', '${migrator}') AND n.nspname IN ('app', 'public') ORDER BY 1, 3`,
      );
    const before = await snapshot();
    const rows = await client.query('SELECT count(*)::int AS n FROM app.documents');
    const second = await ensureRoles(client, 'postgres', 'local');
    expect(second).toEqual([
      { role: app, canLogin: true, iamAuth: true },
      { role: DATABASE_ROLES.dump, canLogin: true, iamAuth: true },
      { role: migrator, canLogin: true, iamAuth: true },
      { role: DATABASE_ROLES.oncall, canLogin: true, iamAuth: true },
    ]);
    expect((await snapshot()).rows).toEqual(before.rows);
    expect((await client.query('SELECT count(*)::int AS n FROM app.documents')).rows).toEqual(rows.rows);
  });

  test('rights the master may take away are taken away again when a role gained them', async () => {
    await client.query(`ALTER ROLE ${app} CREATEDB CREATEROLE`);
    await client.query(`ALTER ROLE ${migrator} PASSWORD 'set-by-hand'`);
    await ensureRoles(client, 'postgres', 'local');
    const { rows } = await client.query(
      `SELECT rolname, rolcreatedb, rolcreaterole, rolpassword IS NULL AS nopassword FROM pg_authid WHERE rolname IN ('${app}', '${migrator}') ORDER BY 1`,
    );
    expect(rows).toEqual([app, migrator].map((rolname) => ({ rolname, rolcreatedb: false, rolcreaterole: false, nopassword: true })));
  });

  test('a role that gained a right only a superuser can take away fails the setup, naming role and right', async () => {
    await client.query(`ALTER ROLE ${app} BYPASSRLS`);
    try {
      await expect(ensureRoles(client, 'postgres', 'db.example:5432/app')).rejects.toThrow(
        new RegExp(`Database roles on db\\.example:5432/app hold rights they must not: ${app} has bypassrls\\. Fix: as the master user, ALTER ROLE`),
      );
    } finally {
      await client.query(`ALTER ROLE ${app} NOBYPASSRLS`);
    }
  });

  test('without rds_iam (not an RDS engine) it fails before changing anything', async () => {
    const other = await connect(plain);
    try {
      await expect(ensureRoles(other, 'postgres', 'plain:5432/postgres')).rejects.toThrow(/The role rds_iam does not exist on plain:5432\/postgres/);
      const { rows } = await other.query(`SELECT count(*)::int AS n FROM pg_roles WHERE rolname IN ('${app}', '${migrator}')`);
      expect(rows[0].n).toBe(0);
    } finally {
      await other.end();
    }
  });

  test('a statement that fails rolls the whole setup back', async () => {
    const other = await connect(plain);
    try {
      await other.query('CREATE ROLE rds_iam');
      // The database name is wrong, so GRANT ... ON DATABASE fails after the roles were created.
      await expect(ensureRoles(other, 'no_such_database', 'plain:5432/postgres')).rejects.toThrow(
        /Setting up the database roles on plain:5432\/postgres failed, nothing was changed: database "no_such_database" does not exist/,
      );
      const { rows } = await other.query(`SELECT count(*)::int AS n FROM pg_roles WHERE rolname IN ('${app}', '${migrator}')`);
      expect(rows[0].n).toBe(0);
    } finally {
      await other.query('DROP ROLE rds_iam');
      await other.end();
    }
  });
});

describe('setupFingerprint', () => {
  test('is stable, and changes with the SQL', () => {
    expect(setupFingerprint('app')).toBe(setupFingerprint('app'));
    expect(setupFingerprint('app')).toMatch(/^[0-9a-f]{16}$/);
    expect(setupFingerprint('other')).not.toBe(setupFingerprint('app'));
    expect(roleStatements('app').join('\n')).toContain('"app"');
  });
});

describe('custom resource handler (RDS and its managed secret from moto, SQL on PGlite)', () => {
  test('Create looks up the master secret, ensures the extension and the roles, and returns the version', async () => {
    const instance = await managedInstance('setup-create');
    const issued: string[] = [];
    const response = await setup(event('Create', props(instance, pgvector)), deps(recording(issued)));
    expect(response.PhysicalResourceId).toBe('database-setup:setup-create/postgres');
    expect(response.Data?.Version).toMatch(/^0\.8\.\d+$/);
    expect(response.Data?.Roles).toBe(`${DATABASE_ROLES.app},${DATABASE_ROLES.dump},${DATABASE_ROLES.migrator},${DATABASE_ROLES.oncall}`);
    expect(issued).toEqual(expect.arrayContaining([...VECTOR_STATEMENTS, ...roleStatements('postgres')]));
  });

  test('an Update for a new engine version runs ALTER EXTENSION vector UPDATE and the role setup again', async () => {
    const instance = await managedInstance('setup-upgrade');
    const issued: string[] = [];
    const upgraded = props(instance, pgvector, { EngineVersion: '17.7' });
    const response = await setup(event('Update', upgraded, props(instance, pgvector, { EngineVersion: '17.6' })), deps(recording(issued)));
    expect(response.Data?.Version).toMatch(/^0\.8\.\d+$/);
    expect(issued.indexOf('ALTER EXTENSION vector UPDATE')).toBeGreaterThan(issued.indexOf('CREATE EXTENSION IF NOT EXISTS vector'));
    expect(issued).toEqual(expect.arrayContaining(roleStatements('postgres')));
  });

  test('Update is idempotent and keeps the physical id', async () => {
    const instance = await managedInstance('setup-update');
    const first = await setup(event('Update', props(instance, pgvector)), deps());
    const second = await setup(event('Update', props(instance, pgvector)), deps());
    expect(second).toEqual(first);
  });

  test('reads the secret the instance has now: after a restore, the new managed secret', async () => {
    const instance = 'setup-restored';
    await rds.send(
      new CreateDBInstanceCommand({
        DBInstanceIdentifier: instance,
        Engine: 'postgres',
        EngineVersion: '17.6',
        DBInstanceClass: 'db.t4g.micro',
        MasterUsername: 'postgres',
        MasterUserPassword: 'from-the-snapshot',
        AllocatedStorage: 20,
      }),
    );
    await expect(setup(event('Create', props(instance, pgvector)), deps())).rejects.toThrow(
      /The database instance setup-restored has no RDS-managed master secret\. Fix: aws rds modify-db-instance --db-instance-identifier setup-restored --manage-master-user-password/,
    );
    await rds.send(new ModifyDBInstanceCommand({ DBInstanceIdentifier: instance, ManageMasterUserPassword: true, ApplyImmediately: true }));
    const response = await setup(event('Create', props(instance, pgvector)), deps());
    expect(response.Data?.Version).toMatch(/^0\.8\.\d+$/);
  });

  test('Delete does nothing and touches no database', async () => {
    const response = await setup(event('Delete', props('gone', { host: '127.0.0.1', port: 1 })), deps());
    expect(response).toEqual({ PhysicalResourceId: 'database-setup:x' });
  });

  test('a refused connection fails with the address and what to check', async () => {
    const instance = await managedInstance('setup-refused');
    await expect(setup(event('Create', props(instance, { host: '127.0.0.1', port: 1 })), deps())).rejects.toThrow(
      /Could not connect to 127\.0\.0\.1:1\/postgres as \w+: .*ECONNREFUSED.*security group admits this function/,
    );
  });

  test('a missing instance fails naming it', async () => {
    await expect(setup(event('Create', props('does-not-exist', pgvector)), deps())).rejects.toThrow(/Could not describe the database instance does-not-exist/);
  });

  test('a secret that is not a master-user secret fails saying what is missing', async () => {
    const out = await secrets.send(new CreateSecretCommand({ Name: 'dev/db/other', SecretString: JSON.stringify({ token: 'x' }) }));
    const lookalike: Omit<Dependencies, 'target'> = {
      ...deps(),
      rds: { send: async () => ({ DBInstances: [{ MasterUserSecret: { SecretArn: out.ARN } }] }) } as never,
    };
    await expect(setup(event('Create', props('lookalike', pgvector)), lookalike)).rejects.toThrow(
      /The master secret .* of lookalike lacks username, password; it should be the secret RDS manages/,
    );
  });

  test.each([
    [
      'a foreign host',
      { Host: 'db.attacker.example' },
      /Refusing to set up Host "db\.attacker\.example": this function sets up only 127\.0\.0\.1:\d+\/postgres \(instance setup-foreign\)/,
    ],
    ['a foreign port', { Port: '6543' }, /Refusing to set up Port "6543"/],
    ['another instance', { DbInstanceIdentifier: 'prod-other' }, /Refusing to set up DbInstanceIdentifier "prod-other"/],
    ['another database', { DatabaseName: 'other' }, /Refusing to set up DatabaseName "other"/],
  ])('an event naming %s is refused before the master secret is read or anything is connected to', async (_name, change, message) => {
    const configured = targetOf(props('setup-foreign', pgvector));
    const calls: string[] = [];
    const watched: Dependencies = {
      ...deps(async (config) => {
        calls.push(`connect ${config.host}`);
        throw new Error('must not connect');
      }),
      target: configured,
      secrets: { send: async () => calls.push('secret') } as never,
      rds: { send: async () => calls.push('describe') } as never,
    };
    const asked = { ...props('setup-foreign', pgvector), ...change };
    await expect(handleSetupEvent(event('Create', asked), watched)).rejects.toThrow(message);
    await expect(handleSetupEvent(event('Update', asked, props('setup-foreign', pgvector)), watched)).rejects.toThrow(message);
    expect(calls).toEqual([]);
  });

  test("the target comes from the function's environment, every value required", () => {
    expect(targetFromEnvironment({ DATABASE_INSTANCE: 'prod-db', DATABASE_HOST: 'prod-db.abc.eu-west-1.rds.amazonaws.com', DATABASE_PORT: '5432', DATABASE_NAME: 'app' })).toEqual({
      instance: 'prod-db',
      host: 'prod-db.abc.eu-west-1.rds.amazonaws.com',
      port: 5432,
      database: 'app',
    });
    expect(() => targetFromEnvironment({ DATABASE_INSTANCE: 'prod-db', DATABASE_PORT: '5432' })).toThrow(
      "The function's configuration lacks DATABASE_HOST, DATABASE_NAME; deploy the stack again.",
    );
    expect(() => targetFromEnvironment({ DATABASE_INSTANCE: 'i', DATABASE_HOST: 'h', DATABASE_PORT: '54x', DATABASE_NAME: 'd' })).toThrow('DATABASE_PORT is not a port: "54x"');
    expect(() => targetFromEnvironment({ DATABASE_INSTANCE: 'i', DATABASE_HOST: 'h', DATABASE_PORT: '70000', DATABASE_NAME: 'd' })).toThrow('DATABASE_PORT is not a port');
  });

  test('a minimum above the engine fails the deployment with the fix', async () => {
    const instance = await managedInstance('setup-min');
    await expect(setup(event('Create', props(instance, pgvector, { MinVersion: '1.0.0' })), deps())).rejects.toThrow(/at least 1\.0\.0 is required/);
  });
});
