import { describe, expect, test } from 'vitest';
import { readFlags } from '../../scripts/lib/args';

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
});
