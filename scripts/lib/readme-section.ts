import { readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { PROJECT_ROOT } from '../../lib/shared/paths';
import { UsageError } from './assembly';

/** A generated section of a Markdown file (README.md unless given), between two markers that stay in place. */
export interface ReadmeSection {
  /** The command's name in its messages ("config-table"). */
  readonly command: string;
  readonly start: string;
  readonly end: string;
  /** What goes between the markers; called only once the arguments and the README are read. */
  readonly body: () => string;
  /** What was written, said on success ("configuration table"). */
  readonly what: string;
}

/**
 * Rewrites the section in `file` once `parse` accepts the command line; the exit code (2: a bad
 * argument, or the file lost its markers; nothing is written then).
 */
export function writeReadmeSection(parse: () => void, section: ReadmeSection, file = join(PROJECT_ROOT, 'README.md')): number {
  try {
    parse();
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`${section.command}: ${error.message}`);
    return 2;
  }
  const text = readFileSync(file, 'utf8');
  const start = text.indexOf(section.start);
  const end = text.indexOf(section.end);
  if (start < 0 || end < start) {
    console.error(`${section.command}: ${basename(file)} has no ${section.start} ... ${section.end} section. Nothing was changed.`);
    return 2;
  }
  writeFileSync(file, `${text.slice(0, start)}${section.start}\n${section.body()}\n${text.slice(end)}`);
  console.log(`${basename(file)}: ${section.what} written`);
  return 0;
}
