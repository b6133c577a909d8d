import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { PROD_RULES } from '../../lib/config';
import { fieldPaths, schemaFields } from '../../lib/config/context-keys';
import { CONFIG_DOC, configTable, TABLE_END, TABLE_START, writeConfigTable } from '../../scripts/config-table';
import { printed } from '../support/console';

const fields = [...schemaFields().values()];
const paths = fieldPaths();
/** Fields with no fields under them: what a stage actually sets. */
const leaves = paths.filter((p) => !paths.some((q) => q.startsWith(`${p}.`)));
/** The rows of the table: the fields that describe themselves. */
const rows = fields.filter((field) => field.description !== undefined);
/** The row that documents a field: its own, or the nearest object's above it. */
const rowOf = (path: string) => rows.filter((row) => path === row.path || path.startsWith(`${row.path}.`)).sort((a, b) => b.path.length - a.path.length)[0];

describe('the configuration reference (docs/configuration.md)', () => {
  test('documents every field of the schema, in a row of its own or of the object above it', () => {
    expect(leaves.length).toBeGreaterThan(80);
    expect(leaves.filter((p) => rowOf(p) === undefined)).toEqual([]);
    // Rules without a description would be left out of the table.
    expect(fields.filter((field) => field.rules !== undefined && field.description === undefined).map((field) => field.path)).toEqual([]);
  });

  test("states prod's rule of every field a prod rule names", () => {
    const undocumented = PROD_RULES.map((rule) => rule.path.join('.')).filter(
      (path) => !rows.some((row) => (row.path === path || row.path.startsWith(`${path}.`) || path.startsWith(`${row.path}.`)) && /\bprod\b/.test(row.rules ?? '')),
    );
    expect(undocumented).toEqual([]);
  });

  test('takes its defaults from the schema, and says which fields every stage must set', () => {
    const table = configTable();
    expect(table).toContain(
      "| `app.containerPort` | port the server listens on | >= 1024 (the container runs as a non-root user); not 13133, 4317, 4318 (the tracing collector's) | `3000` |",
    );
    expect(table).toMatch(/\| `account` \| AWS account id \| 12 digits \| required \|/);
    expect(table).toMatch(/\| `domain.hostedZoneId` \| .* \| optional \|/);
  });

  test('is the table in docs/configuration.md (regenerate it with npm run docs:config)', () => {
    const doc = readFileSync(CONFIG_DOC, 'utf8');
    const start = doc.indexOf(TABLE_START);
    expect(start, 'docs/configuration.md lost its config-table markers').toBeGreaterThanOrEqual(0);
    expect(doc.slice(start, doc.indexOf(TABLE_END) + TABLE_END.length)).toBe(configTable());
  });

  test('npm run docs:config rewrites the table of the file it names, and refuses an argument without writing', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'config-doc-')), 'configuration.md');
    copyFileSync(CONFIG_DOC, file);
    const doc = readFileSync(file, 'utf8');
    const stale = doc.replace(/^\| `account` .*$/m, '| `account` | stale | | required |');
    writeFileSync(file, stale);
    const refused = await printed(() => writeConfigTable(['--check'], file));
    expect(refused).toMatchObject({ result: 2, stderr: expect.stringMatching(/^config-table: .*"--check".*usage: docs:config \(no arguments\)\n$/) });
    expect(readFileSync(file, 'utf8')).toBe(stale);
    const run = await printed(() => writeConfigTable([], file));
    expect(run).toMatchObject({ result: 0, stdout: 'configuration.md: configuration table written\n' });
    expect(readFileSync(file, 'utf8')).toBe(doc);
  });
});
