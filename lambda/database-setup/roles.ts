/**
 * The database roles the app and its migrations log in as, created by the master user.
 * Takes a connected client (`Queryable`) so tests run the same SQL against a real PostgreSQL.
 */

import { DUMP_ROLE } from '../../lib/data/logical-backup-names';
import { PROJECT } from '../../lib/shared/naming';
import type { Queryable } from './ensure-vector';

/** Roles and schema of the stage database. lib/ reads these names too (IAM policy, container environment). */
export const DATABASE_ROLES = {
  /** The web app and the worker: read and write the app's tables, nothing else. */
  app: `${PROJECT}_app`,
  /** Migrations: own the app schema and everything in it. */
  migrator: `${PROJECT}_migrator`,
  /** People on call, through `npm run db-shell`: read the app's tables, nothing else, in read-only transactions. */
  oncall: `${PROJECT}_oncall`,
  /**
   * The nightly logical backup (lambda/logical-backup): reads every table and sequence of the app
   * schema, in read-only transactions. Not pg_read_all_data (AWS does not document that the RDS
   * master may grant it) and no BYPASSRLS (the master cannot set it): a table with row-level
   * security makes the dump fail, which the "newest dump" alarm reports.
   */
  dump: DUMP_ROLE,
} as const;

/** The schema the app's tables live in; the migration role owns it. */
export const APP_SCHEMA = 'app';

/** RDS's role for IAM database authentication: members log in with an IAM token, never a password. */
export const IAM_AUTH_ROLE = 'rds_iam';

/** Quotes a PostgreSQL identifier (roles, schemas, databases are plain names here, but never trusted). */
export function ident(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/**
 * The statements, in order. Idempotent: every one may run again on a database that already has
 * the roles, and re-asserts what drifted (a privilege granted by hand is not revoked, but the
 * attribute check in `ensureRoles` refuses a role that gained superuser-like rights).
 *
 * Written for RDS, where the master user is a member of rds_superuser but not a superuser: it
 * cannot set or clear SUPERUSER, REPLICATION or BYPASSRLS (new roles lack them), and from
 * PostgreSQL 16 it must be a member of a role to create a schema owned by it.
 */
export function roleStatements(database: string): string[] {
  const { app, migrator, oncall, dump } = DATABASE_ROLES;
  const [a, m, o, d, s, db] = [ident(app), ident(migrator), ident(oncall), ident(dump), ident(APP_SCHEMA), ident(database)];
  const createRole = (role: string) =>
    `DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = '${role}') THEN CREATE ROLE ${ident(role)} LOGIN; END IF; END $$`;
  return [
    createRole(migrator),
    createRole(app),
    createRole(oncall),
    createRole(dump),
    // IAM authentication only: no password, and rds_iam makes RDS refuse password logins for them.
    ...[m, a, o, d].map((role) => `ALTER ROLE ${role} WITH LOGIN NOCREATEDB NOCREATEROLE INHERIT PASSWORD NULL`),
    `GRANT ${ident(IAM_AUTH_ROLE)} TO ${m}, ${a}, ${o}, ${d}`,
    // The master needs membership to create the schema for the migration role and to set its default privileges.
    `GRANT ${m} TO CURRENT_USER`,
    `CREATE SCHEMA IF NOT EXISTS ${s} AUTHORIZATION ${m}`,
    `ALTER SCHEMA ${s} OWNER TO ${m}`,
    `REVOKE ALL ON SCHEMA ${s} FROM PUBLIC`,
    `GRANT USAGE ON SCHEMA ${s} TO ${a}, ${o}, ${d}`,
    // Nobody but the owner creates objects in public, and nobody but these roles connects.
    'REVOKE CREATE ON SCHEMA public FROM PUBLIC',
    `REVOKE ALL ON DATABASE ${db} FROM PUBLIC`,
    `GRANT CONNECT, TEMPORARY ON DATABASE ${db} TO ${m}, ${a}`,
    `GRANT CONNECT ON DATABASE ${db} TO ${o}, ${d}`,
    // What exists now, and what the migration role creates later.
    `GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA ${s} TO ${a}`,
    `GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA ${s} TO ${a}`,
    `GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA ${s} TO ${a}`,
    `ALTER DEFAULT PRIVILEGES FOR ROLE ${m} IN SCHEMA ${s} GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO ${a}`,
    `ALTER DEFAULT PRIVILEGES FOR ROLE ${m} IN SCHEMA ${s} GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO ${a}`,
    `ALTER DEFAULT PRIVILEGES FOR ROLE ${m} IN SCHEMA ${s} GRANT EXECUTE ON FUNCTIONS TO ${a}`,
    // On call reads what exists and what migrations create, and its transactions are read-only.
    `GRANT SELECT ON ALL TABLES IN SCHEMA ${s} TO ${o}`,
    `ALTER DEFAULT PRIVILEGES FOR ROLE ${m} IN SCHEMA ${s} GRANT SELECT ON TABLES TO ${o}`,
    `ALTER ROLE ${o} SET default_transaction_read_only = on`,
    // The dump reads every table and sequence, now and after each migration, and changes nothing.
    `GRANT SELECT ON ALL TABLES IN SCHEMA ${s} TO ${d}`,
    `GRANT SELECT ON ALL SEQUENCES IN SCHEMA ${s} TO ${d}`,
    `ALTER DEFAULT PRIVILEGES FOR ROLE ${m} IN SCHEMA ${s} GRANT SELECT ON TABLES TO ${d}`,
    `ALTER DEFAULT PRIVILEGES FOR ROLE ${m} IN SCHEMA ${s} GRANT SELECT ON SEQUENCES TO ${d}`,
    `ALTER ROLE ${d} SET default_transaction_read_only = on`,
    // Unqualified names resolve in the app schema first; the vector type lives in public.
    ...[m, a, o, d].map((role) => `ALTER ROLE ${role} SET search_path = ${s}, public`),
  ];
}

export interface RoleStatus {
  readonly role: string;
  readonly canLogin: boolean;
  readonly iamAuth: boolean;
}

/**
 * Runs `roleStatements` in one transaction (all or nothing), then checks that no role holds
 * a right it must not have (superuser, create database or role, replication, bypass row security)
 * and that both log in through IAM. Throws, saying which role and right, when one does.
 */
export async function ensureRoles(db: Queryable, database: string, where: string): Promise<RoleStatus[]> {
  const missing = await db.query<{ n: string }>('SELECT count(*)::text AS n FROM pg_catalog.pg_roles WHERE rolname = $1', [IAM_AUTH_ROLE]);
  if (Number(missing.rows[0]?.n ?? 0) === 0) {
    throw new Error(`The role ${IAM_AUTH_ROLE} does not exist on ${where}: IAM database authentication needs an RDS for PostgreSQL engine, which always has it.`);
  }
  await db.query('BEGIN');
  try {
    for (const statement of roleStatements(database)) await db.query(statement);
    await db.query('COMMIT');
  } catch (error) {
    await db.query('ROLLBACK');
    throw new Error(`Setting up the database roles on ${where} failed, nothing was changed: ${(error as Error).message}`);
  }
  const names = Object.values(DATABASE_ROLES);
  const { rows } = await db.query<{
    rolname: string;
    rolsuper: boolean;
    rolcreatedb: boolean;
    rolcreaterole: boolean;
    rolreplication: boolean;
    rolbypassrls: boolean;
    rolcanlogin: boolean;
    iam: boolean;
  }>(
    `SELECT rolname, rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls, rolcanlogin,
            pg_has_role(rolname, '${IAM_AUTH_ROLE}', 'MEMBER') AS iam
       FROM pg_catalog.pg_roles WHERE rolname = ANY($1) ORDER BY rolname`,
    [names],
  );
  const problems = rows.flatMap((r) =>
    (['rolsuper', 'rolcreatedb', 'rolcreaterole', 'rolreplication', 'rolbypassrls'] as const).filter((right) => r[right]).map((right) => `${r.rolname} has ${right.slice(3)}`),
  );
  if (problems.length > 0) {
    throw new Error(
      `Database roles on ${where} hold rights they must not: ${problems.join(', ')}. Fix: as the master user, ALTER ROLE ... NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS (a superuser may be needed), then deploy again.`,
    );
  }
  return rows.map((r) => ({ role: r.rolname, canLogin: r.rolcanlogin, iamAuth: r.iam }));
}
