import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, test } from 'vitest';
import { PROJECT_ROOT } from '../../lib/shared/paths';
import { parseArgs as cost } from '../../scripts/cost';
import { parseArgs as dbShell } from '../../scripts/db-shell';
import { addContext, readFlags, stageArg } from '../../scripts/lib/args';
import { UsageError } from '../../scripts/lib/assembly';

const spec = { values: ['--stage', '--minutes', '-c', '--context'], switches: ['--yes'], usage: 'usage: x' };

describe('the scripts read their command lines with node:util parseArgs', () => {
  test('flags with values in both spellings, -c as the short --context, switches, in the order given', () => {
    expect(readFlags(['--stage=dev', '-c', 'a=b', '--context', 'x=y', '--yes'], spec)).toEqual([
      ['--stage', 'dev'],
      ['-c', 'a=b'],
      ['--context', 'x=y'],
      ['--yes', undefined],
    ]);
  });

  test.each([
    [['--stage'], '--stage needs a value. usage: x'],
    [['--stage', '--yes'], '--stage needs a value. usage: x'],
    [['--minutes', '-x'], '--minutes needs a value. usage: x'],
    [['-c'], '-c needs a value. usage: x'],
    [['--yes=no'], '--yes takes no value. usage: x'],
    [['--force'], 'unknown argument "--force". usage: x'],
    [['--help'], 'unknown argument "--help". usage: x'],
    [['dev'], 'unexpected argument "dev": every argument is a --flag. usage: x'],
    [['--stage', 'dev', '--stage', 'prod'], '--stage is given twice ("dev", then "prod"). Fix: give it once. usage: x'],
    [['--stage=dev', '--stage', 'dev'], '--stage is given twice ("dev", then "dev"). Fix: give it once. usage: x'],
    [['--yes', '--yes'], '--yes is given twice. Fix: give it once. usage: x'],
  ])('refuses %j: %s', (argv, message) => {
    expect(() => readFlags(argv, spec)).toThrow(message);
  });

  test('a negative number is the value of the flag before it, in both spellings, for the script to judge', () => {
    expect(readFlags(['--minutes', '-5', '-c', '-0.5', '--stage', '-.5'], spec)).toEqual([
      ['--minutes', '-5'],
      ['-c', '-0.5'],
      ['--stage', '-.5'],
    ]);
    expect(readFlags(['--minutes=-5'], spec)).toEqual([['--minutes', '-5']]);
  });

  test('-c and --context, and the flags a script names repeatable, may come more than once', () => {
    expect(readFlags(['-c', 'a=1', '--context', 'b=2', '-c', 'c=3'], spec)).toHaveLength(3);
    expect(readFlags(['--stage', 'dev', '--stage', 'prod'], { ...spec, repeatable: ['--stage'] })).toEqual([
      ['--stage', 'dev'],
      ['--stage', 'prod'],
    ]);
  });

  test("a negative number reaches the script's own range check, and a flag given twice is refused, in the scripts", () => {
    expect(() => dbShell(['--stage', 'dev', '--reason', 'INC-1', '--minutes', '-5'])).toThrow('--minutes takes whole minutes from 5 to');
    expect(() => cost(['--assembly', 'cdk.out', '--db-used-percent', '-3'])).toThrow('--db-used-percent takes a number from 0 to 100, not "-3"');
    expect(() => cost(['--assembly', 'a.out', '--assembly', 'b.out'])).toThrow('--assembly is given twice ("a.out", then "b.out"). Fix: give it once.');
  });

  test('--context is the long form of -c even where a script lists only -c; a lone -- ends the flags', () => {
    expect(readFlags(['--context', 'a=b', '-c', 'c=d'], { values: ['-c'], usage: 'usage: x' })).toEqual([
      ['--context', 'a=b'],
      ['-c', 'c=d'],
    ]);
    expect(readFlags(['--yes', '--'], spec)).toEqual([['--yes', undefined]]);
  });
});

/** Every command of package.json that runs a script of scripts/, by npm name and file. */
const COMMANDS = Object.entries(JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8')).scripts as Record<string, string>).flatMap(([name, line]) => {
  const file = /^tsx (scripts\/[\w-]+\.ts)$/.exec(line)?.[1];
  return file ? [[name, file] as const] : [];
});

describe('every command parses its arguments with readFlags', () => {
  test('there are the commands of the README', () => {
    expect(COMMANDS.map(([name]) => name)).toEqual(expect.arrayContaining(['deploy', 'bench', 'cost', 'docs:config', 'docs:diagram']));
  });

  // Read before it is imported: a script that runs on import (as bench once did) must fail here, not start.
  test.each(COMMANDS)('%s (%s) exports parseArgs and runs only as a command', (_name, file) => {
    const source = readFileSync(join(PROJECT_ROOT, file), 'utf8');
    expect(source).toMatch(/export function parseArgs\(argv: readonly string\[\]\)/);
    expect(source).toMatch(/readFlags\(\s*argv\b/);
    expect(source).toContain('if (require.main === module)');
  });

  test.each(COMMANDS)('%s refuses an unknown argument and --help alike, with its usage line (exit 2)', async (_name, file) => {
    if (!/export function parseArgs/.test(readFileSync(join(PROJECT_ROOT, file), 'utf8'))) throw new Error(`${file} has no parseArgs`);
    const { parseArgs } = (await import(join(PROJECT_ROOT, file))) as { parseArgs: (argv: readonly string[]) => unknown };
    for (const arg of ['--help', '--bogus']) {
      let error: unknown;
      try {
        parseArgs([arg]);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(UsageError);
      expect((error as Error).message).toMatch(new RegExp(`^unknown argument "${arg}"\\. usage: `));
    }
  });
});

describe('the commands are thin: each parses its arguments, calls scripts/lib and prints', () => {
  const SCRIPTS = join(PROJECT_ROOT, 'scripts');
  /** Every file of scripts/ (the commands, and scripts run by path), with what it imports, requires or imports dynamically. */
  const imports = readdirSync(SCRIPTS)
    .filter((f) => f.endsWith('.ts'))
    .map((file) => {
      const source = readFileSync(join(SCRIPTS, file), 'utf8');
      const specifiers = [...source.matchAll(/(?:\bfrom\s+|\bimport\s*\(\s*|\brequire\s*\(\s*)['"]([^'"]+)['"]/g)].map((m) => m[1]);
      return { file: `scripts/${file}`, specifiers };
    });

  test('the scan reads the imports of every command', () => {
    expect(imports.map((i) => i.file)).toEqual(expect.arrayContaining(COMMANDS.map(([, file]) => file)));
    expect(imports.find((i) => i.file === 'scripts/deploy.ts')?.specifiers).toContain('./lib/args');
  });

  // A command that imports another runs the other's module code and shares its flags' meaning by accident; what two commands share belongs in scripts/lib.
  test('no file of scripts/ imports another file of scripts/', () => {
    const another = imports.flatMap(({ file, specifiers }) =>
      specifiers
        .filter((s) => s.startsWith('.'))
        .map((s) => resolve(SCRIPTS, s))
        .filter((target) => dirname(target) === SCRIPTS)
        .map((target) => `${file} imports ${relative(PROJECT_ROOT, target)}`),
    );
    expect(another).toEqual([]);
  });

  // The SDK's clients and calls sit in scripts/lib, where the tests run them against moto without the command around them.
  test('no file of scripts/ calls AWS itself', () => {
    const sdk = imports.flatMap(({ file, specifiers }) => specifiers.filter((s) => s.startsWith('@aws-sdk/')).map((s) => `${file} imports ${s}`));
    expect(sdk).toEqual([]);
  });
});

describe("every command's main decides its exit code", () => {
  /** How a command hands main's result to the shell: the two forms, each spawned once (cost, preflight). */
  const FORMS = {
    sync: 'if (require.main === module) {\n  process.exitCode = main();\n}',
    async: 'if (require.main === module) {\n  main().then((code) => process.exit(code));\n}',
  };
  const withMain = COMMANDS.filter(([, file]) => /export (async )?function main\(/.test(readFileSync(join(PROJECT_ROOT, file), 'utf8')));

  test('the commands with a main', () => {
    expect(withMain.map(([name]) => name)).toEqual(expect.arrayContaining(['deploy', 'rollback', 'preflight', 'guard', 'cost', 'restore', 'restore-drill', 'db-shell']));
  });

  test.each(withMain)('%s (%s) passes what main returns to the shell, in one of the two forms', (_name, file) => {
    const source = readFileSync(join(PROJECT_ROOT, file), 'utf8');
    const form = /export async function main\(/.test(source) ? FORMS.async : FORMS.sync;
    expect(source.trimEnd().endsWith(form), `${file} ends with:\n${form}`).toBe(true);
  });
});

describe('-c KEY=VALUE and --stage', () => {
  test('a key of any length, the value after the first =, which may be empty', () => {
    const context: Record<string, string> = {};
    addContext(context, '-c', 'a=b', 'usage: x');
    addContext(context, '-c', 'prod.domain={"zoneName":"x=y"}', 'usage: x');
    addContext(context, '--context', 'imageTag=', 'usage: x');
    expect(context).toEqual({ a: 'b', 'prod.domain': '{"zoneName":"x=y"}', imageTag: '' });
  });

  test.each(['=value', 'novalue'])('refuses "%s", naming the flag and the usage', (value) => {
    expect(() => addContext({}, '--context', value, 'usage: x')).toThrow(`--context takes KEY=VALUE, not "${value}". usage: x`);
  });

  test('--stage names one of the stages', () => {
    expect(stageArg('prod', 'usage: x')).toBe('prod');
    for (const stage of [undefined, '', 'qa', 'Prod']) expect(() => stageArg(stage, 'usage: x')).toThrow('--stage must be one of dev, staging, prod. usage: x');
  });
});
