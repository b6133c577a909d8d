import { describe, expect, test } from 'vitest';
import { addContext, readFlags, stageArg } from '../../scripts/lib/args';

const spec = { values: ['--stage', '-c', '--context'], switches: ['--yes'], usage: 'usage: x' };

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
    [['-c'], '-c needs a value. usage: x'],
    [['--yes=no'], '--yes takes no value. usage: x'],
    [['--force'], 'unknown argument "--force". usage: x'],
    [['dev'], 'unexpected argument "dev": every argument is a --flag. usage: x'],
  ])('refuses %j: %s', (argv, message) => {
    expect(() => readFlags(argv, spec)).toThrow(message);
  });

  test('--context is the long form of -c even where a script lists only -c; a lone -- ends the flags', () => {
    expect(readFlags(['--context', 'a=b', '-c', 'c=d'], { values: ['-c'], usage: 'usage: x' })).toEqual([
      ['--context', 'a=b'],
      ['-c', 'c=d'],
    ]);
    expect(readFlags(['--yes', '--'], spec)).toEqual([['--yes', undefined]]);
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
