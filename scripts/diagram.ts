/**
 * Writes the architecture diagram of README.md from the synthesized prod stage and its account's
 * stacks (`npm run docs:diagram`). test/docs.test.ts fails when the README's copy is stale.
 */
import { readFlags } from './lib/args';
import { DIAGRAM_END, DIAGRAM_START } from './lib/diagram';
import { writeReadmeSection } from './lib/readme-section';

const USAGE = 'usage: docs:diagram (no arguments)';

/** The command line: it takes no argument, so a mistyped one rewrites nothing. */
export function parseArgs(argv: readonly string[]): void {
  readFlags(argv, { values: [], usage: USAGE });
}

if (require.main === module) {
  process.exitCode = writeReadmeSection(() => parseArgs(process.argv.slice(2)), {
    command: 'diagram',
    start: DIAGRAM_START,
    end: DIAGRAM_END,
    // Loaded here, not above: it builds the whole app, which reading the arguments does not need.
    body: () => (require('./lib/app-diagram') as typeof import('./lib/app-diagram')).appDiagram(),
    what: 'architecture diagram',
  });
}
