/**
 * Writes the architecture diagram of README.md from the synthesized prod stage and its account's
 * stacks (`npm run docs:diagram`). test/docs.test.ts fails when the README's copy is stale.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../lib/shared/paths';
import { readFlags } from './lib/args';
import { UsageError } from './lib/assembly';
import { DIAGRAM_END, DIAGRAM_START } from './lib/diagram';

const USAGE = 'usage: docs:diagram (no arguments)';

/** The command line: it takes no argument, so a mistyped one rewrites nothing. */
export function parseArgs(argv: readonly string[]): void {
  readFlags(argv, { values: [], usage: USAGE });
}

function main(): number {
  try {
    parseArgs(process.argv.slice(2));
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`diagram: ${error.message}`);
    return 2;
  }
  const file = join(PROJECT_ROOT, 'README.md');
  const text = readFileSync(file, 'utf8');
  const start = text.indexOf(DIAGRAM_START);
  const end = text.indexOf(DIAGRAM_END);
  if (start < 0 || end < start) {
    console.error(`diagram: README.md has no ${DIAGRAM_START} ... ${DIAGRAM_END} section. Nothing was changed.`);
    return 2;
  }
  // Loaded here, not above: it builds the whole app, which reading the arguments does not need.
  const { appDiagram } = require('./lib/app-diagram') as typeof import('./lib/app-diagram');
  writeFileSync(file, `${text.slice(0, start)}${DIAGRAM_START}\n${appDiagram()}\n${text.slice(end)}`);
  console.log('README.md: architecture diagram written');
  return 0;
}

if (require.main === module) process.exitCode = main();
