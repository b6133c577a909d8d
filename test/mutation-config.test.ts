import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import base from '../vitest.config.mjs';
import mutation from '../vitest.mutation.config.mjs';

const ROOT = join(__dirname, '..');

test("the mutation suite runs Stryker's instrumented sources, never modules vitest kept on disk, and its files exist", () => {
  // The main suite keeps transformed modules between runs; the mutation suite must not, or every mutant survives.
  expect(base.test?.experimental?.fsModuleCache).toBe(true);
  expect(mutation.test?.experimental?.fsModuleCache).toBeFalsy();
  // A pattern's folder (test/config/**/*.test.ts), or the file itself.
  for (const pattern of mutation.test?.include ?? []) expect(existsSync(join(ROOT, pattern.split('*')[0])), pattern).toBe(true);
  const stryker = JSON.parse(readFileSync(join(ROOT, 'stryker.config.json'), 'utf8')) as { vitest: { configFile: string }; mutate: string[] };
  expect(stryker.vitest.configFile).toBe('vitest.mutation.config.mts');
  for (const file of stryker.mutate)
    expect(file.endsWith('/*.ts') ? readdirSync(join(ROOT, file.slice(0, -5))).some((f) => f.endsWith('.ts')) : existsSync(join(ROOT, file)), file).toBe(true);
});
