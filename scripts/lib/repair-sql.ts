/**
 * The SQL that copies what a stage database lost back from a repair copy
 * (docs/disaster-recovery.md, "Copying rows back"): postgres_fdw from the stage database to the
 * copy, then one transaction per table that writes only the rows the damage touched. Pure: it
 * prints, it never connects; test/scripts/repair-sql.test.ts runs what it prints with psql on
 * Debian's PostgreSQL 15.
 *
 * Why postgres_fdw over a dump of the copy's rows: the rows never leave the two instances (no
 * file on a laptop with users' data), and the fix is one statement in one transaction. Why the
 * copy's master password in the user mapping: RDS accepts an IAM token as a password, but it
 * expires after 15 minutes and postgres_fdw reconnects with the mapping's password whenever
 * its connection drops, so a repair that outlasts the token would fail halfway; the copy's
 * managed secret lives as long as the copy (a day at most) and the mapping is dropped with it.
 */
import { APP_SCHEMA, ident } from '../../lambda/database-setup/roles';
import { STAGE_NAMES } from '../../lib/config';
import { DATABASE_NAME, DATABASE_PORT, MASTER_USERNAME } from '../../lib/data/database';
import { PROJECT } from '../../lib/shared/naming';
import { UsageError } from './assembly';

/** What to bring back from the copy. */
export const REPAIRS = {
  /** Values that are NULL now and not in the copy (a dropped column added again, a bug that cleared them): only NULLs are filled. */
  'lost-values': 'values the stage database lost (NULL now)',
  /** Values a bug overwrote: set to the copy's where they differ, for the rows `--where` names only. */
  'changed-values': "values that differ from the copy's, where",
  /** Rows in the copy whose key the stage database no longer has. */
  'deleted-rows': 'rows the stage database no longer has',
} as const;
export type Repair = keyof typeof REPAIRS;

export interface RepairArgs {
  /** `schema.table` in the stage database, and in the copy. */
  readonly table: string;
  readonly columns: readonly string[];
  /** The columns that identify a row in both (the primary key). */
  readonly key: readonly string[];
  readonly repair: Repair;
  /** The copy: `webapp-<stage>-repair` or `webapp-<stage>-dump-*`. */
  readonly fromInstance: string;
  /** A condition on the stage database's row `t` and the copy's row `c` that limits what is written. */
  readonly where?: string;
}

/** The psql variables the script reads, set before it runs (the header says how). */
export const COPY_VARIABLES = ['copy_host', 'copy_database', 'copy_user', 'copy_password'] as const;

/** The schema the copy's tables are imported into, and the foreign server's name: neither exists in the app's database. */
export const REPAIR_SCHEMA = 'repair_copy';

const NAME = /^[a-z_][a-z0-9_]*$/;
const COPY = new RegExp(`^${PROJECT}-(${STAGE_NAMES.join('|')})-[a-z0-9-]+$`);

/** The arguments, checked: plain lower-case names (quoted all the same), a key, and a copy of a stage. */
export function checkRepair(args: RepairArgs, usage: string): RepairArgs {
  const parts = args.table.split('.');
  if (parts.length !== 2 || !parts.every((p) => NAME.test(p))) {
    throw new UsageError(`--table takes schema.table in lower case (${APP_SCHEMA}.users), not "${args.table}". ${usage}`);
  }
  for (const [flag, names] of [
    ['--columns', args.columns],
    ['--key', args.key],
  ] as const) {
    if (names.length === 0) throw new UsageError(`${flag} is required: column names separated by commas. ${usage}`);
    const bad = names.find((n) => !NAME.test(n));
    if (bad !== undefined) throw new UsageError(`${flag} takes column names in lower case separated by commas, not "${bad}". ${usage}`);
  }
  const both = args.columns.find((c) => args.key.includes(c));
  if (both) throw new UsageError(`--columns names the key column ${both}: the key finds the row and is never written. Fix: leave it out of --columns. ${usage}`);
  if (!COPY.test(args.fromInstance)) {
    throw new UsageError(
      `--from-instance takes a copy of a stage (${PROJECT}-<stage>-repair, ${PROJECT}-<stage>-dump-<time>), not "${args.fromInstance}". Fix: the name npm run restore printed. ${usage}`,
    );
  }
  if (args.repair === 'changed-values' && !args.where?.trim()) {
    throw new UsageError(
      `--restore changed-values needs --where: without it every value changed since the restore point, by users too, would go back to the copy's. Fix: name the damaged rows (--where "t.updated_at >= '2026-12-01T02:10:00Z'"). ${usage}`,
    );
  }
  return args;
}

/** The psql lines that set the script's variables from the copy's endpoint and managed master secret. */
export function copyVariableLines(instance: string): string[] {
  const describe = (query: string) => `aws rds describe-db-instances --db-instance-identifier ${instance} --query '${query}' --output text`;
  return [
    `\\set copy_host \`${describe('DBInstances[0].Endpoint.Address')}\``,
    `\\set copy_database ${DATABASE_NAME}`,
    `\\set copy_user ${MASTER_USERNAME}`,
    `\\set copy_password \`aws secretsmanager get-secret-value --secret-id "$(${describe('DBInstances[0].MasterUserSecret.SecretArn')})" --query SecretString --output text | jq -r .password\``,
  ];
}

/** The statements that remove the link afterwards: the server with its user mapping (the password), the imported tables and the extension. */
export const CLEANUP = [`DROP SCHEMA ${REPAIR_SCHEMA} CASCADE;`, `DROP SERVER ${REPAIR_SCHEMA} CASCADE;`, 'DROP EXTENSION postgres_fdw;'];

/**
 * The script: psql's header (the variables to set, run as whom), the link to the copy, and the
 * repair in a transaction left open, so the count it prints is read before COMMIT.
 */
export function repairSql(args: RepairArgs): string {
  const [schema, table] = args.table.split('.');
  const local = `${ident(schema)}.${ident(table)}`;
  const remote = `${REPAIR_SCHEMA}.${ident(table)}`;
  const cols = args.columns.map(ident);
  const keys = args.key.map(ident);
  const matched = keys.map((k) => `t.${k} = c.${k}`).join(' AND ');
  const where = args.where?.trim() ? [`(${args.where.trim()})`] : [];
  const what = `${args.table} (${args.columns.join(', ')}) from ${args.fromInstance}: ${REPAIRS[args.repair]}${args.repair === 'changed-values' ? ` ${args.where!.trim()}` : ''}, matched on ${args.key.join(', ')}`;
  let repair: string[];
  if (args.repair === 'deleted-rows') {
    const all = [...keys, ...cols];
    repair = [
      `INSERT INTO ${local} (${all.join(', ')})`,
      `SELECT ${all.map((c) => `c.${c}`).join(', ')} FROM ${remote} AS c`,
      ` WHERE ${[`NOT EXISTS (SELECT FROM ${local} AS t WHERE ${matched})`, ...where].join(' AND ')};`,
    ];
  } else {
    const lost = args.repair === 'lost-values';
    const set = cols.map((c) => (lost ? `${c} = COALESCE(t.${c}, c.${c})` : `${c} = c.${c}`)).join(', ');
    const row = (alias: string) => (cols.length === 1 ? `${alias}.${cols[0]}` : `(${cols.map((c) => `${alias}.${c}`).join(', ')})`);
    const differs = lost ? `(${cols.map((c) => `t.${c} IS NULL AND c.${c} IS NOT NULL`).join(' OR ')})` : `${row('t')} IS DISTINCT FROM ${row('c')}`;
    repair = [`UPDATE ${local} AS t SET ${set}`, `  FROM ${remote} AS c`, ` WHERE ${[matched, differs, ...where].join(' AND ')};`];
  }
  return [
    `-- Copy back ${what}.`,
    '-- In psql as the stage database\'s master user (docs/disaster-recovery.md, "Copying rows back"), set first:',
    ...copyVariableLines(args.fromInstance).map((l) => `--   ${l}`),
    '\\set ON_ERROR_STOP on',
    '-- The user mapping holds the copy\'s password: keep it out of the statement log (log_statement is "ddl").',
    "SET log_statement = 'none';",
    'CREATE EXTENSION IF NOT EXISTS postgres_fdw;',
    `CREATE SERVER ${REPAIR_SCHEMA} FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host :'copy_host', port '${DATABASE_PORT}', dbname :'copy_database', sslmode 'require');`,
    `CREATE USER MAPPING FOR CURRENT_USER SERVER ${REPAIR_SCHEMA} OPTIONS (user :'copy_user', password :'copy_password');`,
    'RESET log_statement;',
    `CREATE SCHEMA ${REPAIR_SCHEMA};`,
    `IMPORT FOREIGN SCHEMA ${ident(schema)} LIMIT TO (${ident(table)}) FROM SERVER ${REPAIR_SCHEMA} INTO ${REPAIR_SCHEMA};`,
    'BEGIN;',
    ...repair,
    '-- Read the count above: COMMIT; keeps the repair, ROLLBACK; leaves the table as it was. Then remove the link:',
    `--   ${CLEANUP.join(' ')}`,
  ].join('\n');
}
