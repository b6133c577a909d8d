/**
 * Prints the SQL that copies what the stage database lost back from a repair copy, with
 * postgres_fdw, in one transaction (docs/disaster-recovery.md, "Copying rows back"):
 *
 *   npm run repair-sql -- --table app.users --columns email,plan --key id --from-instance webapp-prod-repair
 *   npm run repair-sql -- --table app.orders --columns user_id,total_cents --key id --from-instance webapp-prod-repair --restore deleted-rows
 *   npm run repair-sql -- ... --restore changed-values --where "t.updated_at >= '2026-12-01T02:10:00Z'"
 *
 * --restore lost-values (the default) fills values that are NULL now from the copy; deleted-rows
 * inserts the copy's rows whose key the table no longer has; changed-values sets the columns to
 * the copy's where they differ, only in the rows --where names (t: the stage database's row, c:
 * the copy's). It only prints: nothing connects. The operator runs the SQL in psql as the stage
 * database's master user (break-glass: the master secret and CREATE EXTENSION), through
 * `npm run db-shell`'s tunnel, and reads the count before COMMIT.
 *
 * Exit codes: 0 printed, 2 bad arguments.
 */
import { readFlags } from './lib/args';
import { UsageError } from './lib/assembly';
import { refusal } from './lib/release';
import { checkRepair, REPAIRS, type Repair, type RepairArgs, repairSql } from './lib/repair-sql';

const USAGE = `usage: repair-sql --table SCHEMA.TABLE --columns COL[,COL...] --key COL[,COL...] --from-instance DB_INSTANCE_ID [--restore ${Object.keys(REPAIRS).join('|')}] [--where SQL]`;

export function parseArgs(argv: readonly string[]): RepairArgs {
  const given: Record<string, string> = {};
  for (const [flag, value = ''] of readFlags(argv, { values: ['--table', '--columns', '--key', '--from-instance', '--restore', '--where'], usage: USAGE })) given[flag] = value;
  for (const flag of ['--table', '--columns', '--key', '--from-instance']) if (given[flag] === undefined) throw new UsageError(`${flag} is required. ${USAGE}`);
  const repair = given['--restore'] ?? 'lost-values';
  if (!(repair in REPAIRS)) throw new UsageError(`--restore takes ${Object.keys(REPAIRS).join(', ')}, not "${repair}". ${USAGE}`);
  const list = (value: string) => value.split(',').map((v) => v.trim());
  return checkRepair(
    {
      table: given['--table'],
      columns: list(given['--columns']),
      key: list(given['--key']),
      repair: repair as Repair,
      fromInstance: given['--from-instance'],
      where: given['--where'],
    },
    USAGE,
  );
}

export function main(argv = process.argv.slice(2)): number {
  try {
    console.log(repairSql(parseArgs(argv)));
    return 0;
  } catch (error) {
    return refusal('repair-sql', error);
  }
}

if (require.main === module) {
  process.exitCode = main();
}
