/**
 * Writes the architecture diagram of README.md from the synthesized prod stage and its account's
 * stacks (`npm run docs:diagram`). test/docs.test.ts fails when the README's copy is stale.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../lib/shared/paths';
import { appDiagram } from './lib/app-diagram';
import { DIAGRAM_END, DIAGRAM_START } from './lib/diagram';

const file = join(PROJECT_ROOT, 'README.md');
const text = readFileSync(file, 'utf8');
const start = text.indexOf(DIAGRAM_START);
const end = text.indexOf(DIAGRAM_END);
if (start < 0 || end < start) {
  console.error(`diagram: README.md has no ${DIAGRAM_START} ... ${DIAGRAM_END} section. Nothing was changed.`);
  process.exit(2);
}
writeFileSync(file, `${text.slice(0, start)}${DIAGRAM_START}\n${appDiagram()}\n${text.slice(end)}`);
console.log('README.md: architecture diagram written');
