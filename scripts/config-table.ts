/**
 * Writes the configuration table of README.md from lib/config/reference.ts and the schema
 * (`npm run docs:config`). test/config/reference.test.ts fails when the README's table differs.
 */
import { configTable, TABLE_END, TABLE_START } from '../lib/config/reference';
import { readFlags } from './lib/args';
import { writeReadmeSection } from './lib/readme-section';

const USAGE = 'usage: docs:config (no arguments)';

/** The command line: it takes no argument, so a mistyped one rewrites nothing. */
export function parseArgs(argv: readonly string[]): void {
  readFlags(argv, { values: [], usage: USAGE });
}

if (require.main === module) {
  process.exitCode = writeReadmeSection(() => parseArgs(process.argv.slice(2)), {
    command: 'config-table',
    start: TABLE_START,
    end: TABLE_END,
    // The table between its markers (configTable() includes them).
    body: () => configTable().split('\n').slice(1, -1).join('\n'),
    what: 'configuration table',
  });
}
