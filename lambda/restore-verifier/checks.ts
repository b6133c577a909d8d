import { compareVersions, type Queryable } from '../database-setup/ensure-vector';

/** What a restored database must contain; from the stage config. */
export interface Expectations {
  /** Lowest acceptable pgvector version. */
  readonly minVectorVersion: string;
  /** Tables that must exist with at least this many rows ("schema.table" or "table"). */
  readonly tables: readonly { readonly name: string; readonly minRows: number }[];
  /** A table and vector column to run one nearest-neighbour query on. */
  readonly vectorQuery?: { readonly table: string; readonly column: string };
  /**
   * Roles that must exist in the restored data and log in through IAM (members of rds_iam): the
   * app's, so a restored database takes the app's connections without a stack edit.
   */
  readonly roles?: readonly string[];
}

export interface CheckResult {
  readonly ok: boolean;
  /** Each failed check, in words. */
  readonly failures: string[];
  /** What was checked and found, for the validation message. */
  readonly passed: string[];
}

const IDENTIFIER = /^[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*)?$/;

/** Quotes a (schema-qualified) lower-case identifier the config supplied; anything else is refused. */
export function quoteIdentifier(name: string): string {
  if (!IDENTIFIER.test(name)) throw new Error(`"${name}" is not a plain lower-case identifier (letters, digits, _; optionally schema.table)`);
  return name
    .split('.')
    .map((part) => `"${part}"`)
    .join('.');
}

/**
 * Checks a restored database: the catalog answers, the vector extension is installed at or above
 * the minimum, each expected table exists with its minimum rows, and a nearest-neighbour query
 * runs. Every check runs, so one report names every problem.
 */
export async function checkDatabase(db: Queryable, expect: Expectations): Promise<CheckResult> {
  const failures: string[] = [];
  const passed: string[] = [];
  const attempt = async (what: string, check: () => Promise<string | undefined>) => {
    try {
      const problem = await check();
      if (problem) failures.push(problem);
      else passed.push(what);
    } catch (error) {
      failures.push(`${what}: ${(error as Error).message}`);
    }
  };

  await attempt('catalog', async () => {
    const { rows } = await db.query<{ tables: string }>("SELECT count(*)::text AS tables FROM pg_catalog.pg_class WHERE relkind = 'r'");
    return Number(rows[0]?.tables ?? 0) > 0 ? undefined : 'catalog: pg_class lists no tables';
  });
  await attempt(`vector >= ${expect.minVectorVersion}`, async () => {
    const { rows } = await db.query<{ extversion: string }>("SELECT extversion FROM pg_extension WHERE extname = 'vector'");
    const version = rows[0]?.extversion;
    if (!version) return 'the vector extension is not installed';
    if (compareVersions(version, expect.minVectorVersion) < 0) return `vector ${version} is installed, below the minimum ${expect.minVectorVersion}`;
    return undefined;
  });
  for (const table of expect.tables) {
    await attempt(`${table.name} >= ${table.minRows} rows`, async () => {
      const { rows: found } = await db.query<{ oid: string | null }>('SELECT to_regclass($1)::text AS oid', [table.name]);
      if (!found[0]?.oid) return `table ${table.name} is missing`;
      const { rows } = await db.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${quoteIdentifier(table.name)}`);
      const n = Number(rows[0]?.n ?? 0);
      return n < table.minRows ? `table ${table.name} has ${n} rows, expected at least ${table.minRows}` : undefined;
    });
  }
  for (const role of expect.roles ?? []) {
    await attempt(`role ${role} logs in through IAM`, async () => {
      const { rows } = await db.query<{ rolcanlogin: boolean; iam: boolean }>(
        "SELECT rolcanlogin, pg_has_role(rolname, 'rds_iam', 'MEMBER') AS iam FROM pg_catalog.pg_roles WHERE rolname = $1",
        [role],
      );
      if (rows.length === 0) return `role ${role} is missing`;
      if (!rows[0].rolcanlogin) return `role ${role} cannot log in`;
      return rows[0].iam ? undefined : `role ${role} is not a member of rds_iam (no IAM login)`;
    });
  }
  if (expect.vectorQuery) {
    const { table, column } = expect.vectorQuery;
    await attempt(`nearest-neighbour query on ${table}.${column}`, async () => {
      const t = quoteIdentifier(table);
      const c = quoteIdentifier(column);
      const { rows } = await db.query(`SELECT 1 AS hit FROM ${t} ORDER BY ${c} <-> (SELECT ${c} FROM ${t} LIMIT 1) LIMIT 1`);
      return rows.length === 1 ? undefined : `nearest-neighbour query on ${table}.${column} returned no row`;
    });
  }
  return { ok: failures.length === 0, failures, passed };
}
