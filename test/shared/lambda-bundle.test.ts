import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { type BundleSettings, LambdaBundler } from '../../lib/shared/lambda-bundle';

/** A handler in a folder of its own, bundled by esbuild for real; the folder stands in for the repository. */
let root: string;
let settings: BundleSettings;

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'bundle-'));
  writeFileSync(join(root, 'greeting.ts'), "export const greeting = (name: string): string => 'hello ' + name;\n");
  writeFileSync(join(root, 'index.ts'), "import { greeting } from './greeting';\nexport const handler = async (event: { name: string }) => greeting(event.name);\n");
  settings = { entry: join(root, 'index.ts'), target: 'node24', external: ['@aws-sdk/*'] };
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

/** A bundler over the test's folder; esbuild's errors are in what it throws, not printed. */
const bundler = (dir: string) => new LambdaBundler(dir, undefined, 'silent');

/** What the bundle in `dir` answers, run by node as Lambda would load it. */
function invoke(dir: string, name: string): string {
  const script = `require(${JSON.stringify(join(dir, 'index.js'))}).handler({ name: ${JSON.stringify(name)} }).then((r) => process.stdout.write(r))`;
  return execFileSync(process.execPath, ['-e', script], { encoding: 'utf8' });
}

describe('project functions are bundled in process, once per change', () => {
  test('the bundle runs, with its source map, and is the same bytes wherever it is written', () => {
    const b = bundler(root);
    const [first, second] = [join(root, 'out-1'), join(root, 'elsewhere', 'deeper', 'out-2')];
    b.bundle(settings, first);
    b.bundle(settings, second);
    expect(invoke(first, 'dev')).toBe('hello dev');
    for (const file of ['index.js', 'index.js.map']) expect(readFileSync(join(second, file))).toEqual(readFileSync(join(first, file)));
    expect(JSON.parse(readFileSync(join(first, 'index.js.map'), 'utf8')).sources).toEqual(['../../index.ts', '../../greeting.ts']);
    // Three stages, one build.
    expect(b.builds).toBe(1);
  });

  test('a later synth takes the cached bundle until one of its source files changes', () => {
    bundler(root).bundle(settings, join(root, 'out-1'));
    const later = bundler(root);
    later.bundle(settings, join(root, 'out-2'));
    expect(later.builds).toBe(0);

    writeFileSync(join(root, 'greeting.ts'), "export const greeting = (name: string): string => 'hi ' + name;\n");
    const afterEdit = bundler(root);
    afterEdit.bundle(settings, join(root, 'out-3'));
    expect(afterEdit.builds).toBe(1);
    expect(invoke(join(root, 'out-3'), 'prod')).toBe('hi prod');
  });

  test('other settings are another bundle: a module taken out of the bundle is left to the runtime', () => {
    writeFileSync(join(root, 'index.ts'), "import { greeting } from 'greeting-lib';\nexport const handler = async (event: { name: string }) => greeting(event.name);\n");
    const b = bundler(root);
    expect(() => b.bundle(settings, join(root, 'out-1'))).toThrow(/Could not resolve "greeting-lib"/);
    b.bundle({ ...settings, external: ['greeting-lib'] }, join(root, 'out-2'));
    expect(readFileSync(join(root, 'out-2', 'index.js'), 'utf8')).toContain('require("greeting-lib")');
  });

  test("a handler that does not compile fails the synth with esbuild's error and leaves no bundle behind", () => {
    writeFileSync(join(root, 'greeting.ts'), 'export const greeting = (name: string => name;\n');
    const b = bundler(root);
    expect(() => b.bundle(settings, join(root, 'out-1'))).toThrow(/greeting\.ts:1:\d+: ERROR/);
    writeFileSync(join(root, 'greeting.ts'), "export const greeting = (name: string) => 'fixed ' + name;\n");
    b.bundle(settings, join(root, 'out-2'));
    expect(invoke(join(root, 'out-2'), 'staging')).toBe('fixed staging');
  });
});
