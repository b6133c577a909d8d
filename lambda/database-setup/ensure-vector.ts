/**
 * Makes sure the pgvector extension is installed, up to date and at least a minimum version.
 * Takes a connected client so tests can run it against a real PostgreSQL with pgvector.
 */

/** The part of a `pg` client this module needs. */
export interface Queryable {
  query<R extends Record<string, unknown> = Record<string, unknown>>(sql: string, values?: unknown[]): Promise<{ rows: R[] }>;
}

export interface VectorStatus {
  /** Installed version after CREATE/ALTER, e.g. "0.8.0". */
  readonly version: string;
  /** Newest version the engine offers. */
  readonly newestAvailable: string;
}

/** The statements that install and update the extension, in order (their hash re-runs the custom resource when they change). */
export const VECTOR_STATEMENTS = ['CREATE EXTENSION IF NOT EXISTS vector', 'ALTER EXTENSION vector UPDATE'] as const;

/** Compares dotted versions numerically ("0.10.0" > "0.9.1"); non-numeric parts compare as 0. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map((p) => Number.parseInt(p, 10) || 0);
  const pb = b.split('.').map((p) => Number.parseInt(p, 10) || 0);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const diff = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (diff !== 0) return Math.sign(diff);
  }
  return 0;
}

/**
 * CREATE EXTENSION IF NOT EXISTS vector, ALTER EXTENSION vector UPDATE, then read the installed
 * version. Throws a message that says what to do when the engine has no pgvector or only an older one.
 * Idempotent: a second run changes nothing and reports the same version.
 */
export async function ensureVector(db: Queryable, minVersion: string, where: string): Promise<VectorStatus> {
  const offered = await db.query<{ version: string }>("SELECT version FROM pg_available_extension_versions WHERE name = 'vector'");
  if (offered.rows.length === 0) {
    throw new Error(
      `pgvector is not available on ${where}: the engine offers no "vector" extension. ` +
        `Fix: set database.engineVersion to a PostgreSQL minor version whose RDS extension list includes pgvector ${minVersion} or newer.`,
    );
  }
  const newestAvailable = offered.rows
    .map((r) => r.version)
    .sort(compareVersions)
    .at(-1)!;

  // Extension versions do not follow engine upgrades; UPDATE moves to the newest the engine offers.
  for (const statement of VECTOR_STATEMENTS) await db.query(statement);
  const installed = await db.query<{ extversion: string }>("SELECT extversion FROM pg_extension WHERE extname = 'vector'");
  const version = installed.rows[0]?.extversion;
  if (!version) throw new Error(`pgvector did not install on ${where}: CREATE EXTENSION succeeded but pg_extension has no "vector" row.`);

  if (compareVersions(version, minVersion) < 0) {
    throw new Error(
      `pgvector ${version} is installed on ${where}, but at least ${minVersion} is required (the engine offers up to ${newestAvailable}). ` +
        `Fix: upgrade database.engineVersion to a minor version that ships pgvector ${minVersion} or newer, or lower database.pgvectorMinVersion.`,
    );
  }
  return { version, newestAvailable };
}
