import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { UsageError } from '../../scripts/lib/assembly';
import { writeReadmeSection } from '../../scripts/lib/readme-section';
import { printed } from '../support/console';

const section = { command: 'config-table', start: '<!-- s -->', end: '<!-- e -->', body: () => 'new\nrows', what: 'configuration table' };

describe('a generated README section (docs:config, docs:diagram)', () => {
  const readme = (text: string) => {
    const file = join(mkdtempSync(join(tmpdir(), 'readme-')), 'README.md');
    writeFileSync(file, text);
    return file;
  };

  test('is replaced between its markers, which stay', async () => {
    const file = readme('# Title\n<!-- s -->\nold\n<!-- e -->\nafter\n');
    const run = await printed(() => writeReadmeSection(() => {}, section, file));
    expect(run).toMatchObject({ result: 0, stdout: 'README.md: configuration table written\n' });
    expect(readFileSync(file, 'utf8')).toBe('# Title\n<!-- s -->\nnew\nrows\n<!-- e -->\nafter\n');
  });

  test('a README without its markers, or a bad argument, changes nothing (exit 2)', async () => {
    const text = '# Title\n<!-- e -->\n<!-- s -->\n';
    const file = readme(text);
    const lost = await printed(() => writeReadmeSection(() => {}, section, file));
    expect(lost).toMatchObject({ result: 2, stderr: 'config-table: README.md has no <!-- s --> ... <!-- e --> section. Nothing was changed.\n' });
    const refused = await printed(() =>
      writeReadmeSection(
        () => {
          throw new UsageError('unknown argument "--x". usage: docs:config (no arguments)');
        },
        section,
        file,
      ),
    );
    expect(refused).toMatchObject({ result: 2, stderr: 'config-table: unknown argument "--x". usage: docs:config (no arguments)\n' });
    expect(readFileSync(file, 'utf8')).toBe(text);
  });
});
