/**
 * Writes the configuration table of README.md from lib/config/reference.ts and the schema
 * (`npm run docs:config`). test/config/reference.test.ts fails when the README's table differs.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { configTable, TABLE_END, TABLE_START } from '../lib/config/reference';
import { PROJECT_ROOT } from '../lib/shared/paths';
import { readFlags } from './lib/args';
import { UsageError } from './lib/assembly';

const USAGE = 'usage: docs:config (no arguments)';

/** The command line: it takes no argument, so a mistyped one rewrites nothing. */
export function parseArgs(argv: readonly string[]): void {
  readFlags(argv, { values: [], usage: USAGE });
}

function main(): number {
  try {
    parseArgs(process.argv.slice(2));
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`config-table: ${error.message}`);
    return 2;
  }
  const file = join(PROJECT_ROOT, 'README.md');
  const text = readFileSync(file, 'utf8');
  const start = text.indexOf(TABLE_START);
  const end = text.indexOf(TABLE_END);
  if (start < 0 || end < start) {
    console.error(`config-table: README.md has no ${TABLE_START} ... ${TABLE_END} section. Nothing was changed.`);
    return 2;
  }
  writeFileSync(file, text.slice(0, start) + configTable() + text.slice(end + TABLE_END.length));
  console.log('README.md: configuration table written');
  return 0;
}

if (require.main === module) process.exitCode = main();
