import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { PROJECT_ROOT } from '../lib/shared/paths';

/**
 * The shape CONTRIBUTING.md asks of lib/ ("Adding a construct"), read from the sources: stacks
 * compose, constructs take what they build on. lib/config is the configuration itself (one zod
 * schema with its rules), outside both rules.
 */
const LIB = join(PROJECT_ROOT, 'lib');
const sources = readdirSync(LIB, { recursive: true, encoding: 'utf8' })
  .filter((file) => file.endsWith('.ts') && !file.startsWith('config/'))
  .map((file) => ({ file: `lib/${file.split('\\').join('/')}`, text: readFileSync(join(LIB, file), 'utf8') }));

/** Where the stage config may be read: the stacks (their plan functions with them), the stage, and the app that builds the stages. */
const READS_THE_CONFIG = (file: string) => file.endsWith('-stack.ts') || file === 'lib/stages/app-stage.ts' || file === 'lib/app.ts';

describe('lib/', () => {
  test('is read whole', () => {
    expect(sources.map((s) => s.file)).toEqual(expect.arrayContaining(['lib/app/app-stack.ts', 'lib/app/web-service.ts', 'lib/stages/app-stage.ts']));
  });

  test('constructs take props, not the stage config: only stacks, the stage and the app name StageConfig', () => {
    const readers = sources.filter((s) => /\bStageConfig\b/.test(s.text)).map((s) => s.file);
    expect(readers.length).toBeGreaterThan(0);
    expect(readers.filter((file) => !READS_THE_CONFIG(file))).toEqual([]);
  });

  test('no file of lib/ or scripts/ is over 400 lines: a longer one holds more than one concern', () => {
    const code = ['lib', 'scripts'].flatMap((dir) =>
      readdirSync(join(PROJECT_ROOT, dir), { recursive: true, encoding: 'utf8' })
        .filter((file) => file.endsWith('.ts'))
        .map((file) => `${dir}/${file.split('\\').join('/')}`),
    );
    expect(code).toEqual(expect.arrayContaining(['lib/config/schema.ts', 'scripts/lib/cost.ts']));
    const long = code.map((file) => ({ file, lines: readFileSync(join(PROJECT_ROOT, file), 'utf8').split('\n').length - 1 })).filter((s) => s.lines > 400);
    expect(long).toEqual([]);
  });
});
