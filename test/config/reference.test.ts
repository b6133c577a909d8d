import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { fieldPaths } from '../../lib/config/context-keys';
import { CONFIG_REFERENCE, configTable, expandField, TABLE_END, TABLE_START } from '../../lib/config/reference';
import { PROJECT_ROOT } from '../../lib/shared/paths';

const paths = fieldPaths();
/** Fields with no fields under them: what a stage actually sets. */
const leaves = paths.filter((p) => !paths.some((q) => q.startsWith(`${p}.`)));
const covers = (path: string) => CONFIG_REFERENCE.filter((row) => row.fields.some((f) => expandField(f, paths).some((e) => path === e || path.startsWith(`${e}.`))));

describe('the configuration reference', () => {
  test('documents every field of the schema in exactly one row', () => {
    expect(leaves.length).toBeGreaterThan(80);
    expect(leaves.filter((p) => covers(p).length === 0)).toEqual([]);
    expect(leaves.filter((p) => covers(p).length > 1)).toEqual([]);
  });

  test('names no field the schema lacks', () => {
    expect(CONFIG_REFERENCE.flatMap((row) => row.fields).filter((f) => expandField(f, paths).length === 0)).toEqual([]);
  });

  test('takes its defaults from the schema, and says which fields every stage must set', () => {
    const table = configTable();
    expect(table).toContain(
      "| `app.containerPort` | port the server listens on | >= 1024 (the container runs as a non-root user); not 13133, 4317, 4318 (the tracing collector's) | `3000` |",
    );
    expect(table).toMatch(/\| `account` \| AWS account id \| 12 digits \| required \|/);
    expect(table).toMatch(/\| `domain.hostedZoneId` \| .* \| optional \|/);
  });

  test('is the table in README.md (regenerate it with npm run docs:config)', () => {
    const readme = readFileSync(join(PROJECT_ROOT, 'README.md'), 'utf8');
    const start = readme.indexOf(TABLE_START);
    expect(start, 'README.md lost its config-table markers').toBeGreaterThanOrEqual(0);
    expect(readme.slice(start, readme.indexOf(TABLE_END) + TABLE_END.length)).toBe(configTable());
  });
});
