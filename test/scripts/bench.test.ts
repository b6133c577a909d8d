import { describe, expect, test } from 'vitest';
import { parseArgs } from '../../scripts/bench';
import { UsageError } from '../../scripts/lib/assembly';
import { formatFigures, slowestFiles, TARGETS, verdict } from '../../scripts/lib/bench';

describe('npm run bench: the figures against their targets', () => {
  test('the targets are the ones the project holds itself to', () => {
    expect(TARGETS).toEqual({ testWarm: 45, freshCi: 120, synthDev: 5, synthAll: 12, reviewTool: 5 });
  });

  test('a figure meets its target at or below it; a failed run is never a measurement', () => {
    expect(verdict({ name: 'x', value: 45, target: 45 })).toBe('met');
    expect(verdict({ name: 'x', value: 45.1, target: 45 })).toBe('OVER');
    expect(verdict({ name: 'x', value: 1, target: 45, failed: true })).toBe('FAILED');
    expect(verdict({ name: 'x', value: 1 })).toBeUndefined();
    expect(verdict({ name: 'x', target: 45, skipped: 'skipped' })).toBeUndefined();
  });

  test('prints a table, or Markdown to paste, with units, targets and verdicts', () => {
    const figures = [
      { name: 'cdk synth -c stages=dev, warm', value: 4.26, target: TARGETS.synthDev, resources: 412 },
      { name: 'npm test, warm (second run)', value: 51.04, target: TARGETS.testWarm },
      { name: 'npm test, peak memory of its processes', value: 1843.6, unit: 'MB' as const },
      { name: 'CI=true bash .ci/run, fresh clone of HEAD', target: TARGETS.freshCi, skipped: 'not run (--fresh)' },
      { name: 'monthly cost estimate, prod', value: 612.349, target: 675, unit: 'USD' as const },
    ];
    expect(formatFigures(figures, 'markdown').split('\n')).toEqual([
      '| figure | measured | target |  | resources |',
      '| --- | --- | --- | --- | --- |',
      '| cdk synth -c stages=dev, warm | 4.3 s | ≤ 5.0 s | met | 412 |',
      '| npm test, warm (second run) | 51.0 s | ≤ 45.0 s | OVER |  |',
      '| npm test, peak memory of its processes | 1844 MB |  |  |  |',
      '| CI=true bash .ci/run, fresh clone of HEAD | not run (--fresh) | ≤ 120.0 s |  |  |',
      '| monthly cost estimate, prod | $612.35 | ≤ $675.00 | met |  |',
    ]);
    const text = formatFigures(figures, 'text').split('\n');
    expect(text[0]).toMatch(/^figure {2,}measured {2}target {2,}resources$/);
    expect(text[1]).toMatch(/^cdk synth -c stages=dev, warm {2,}4\.3 s {2}≤ 5\.0 s {2,}met {2,}412$/);
    // Columns line up: every row's target starts where the header's does.
    const at = text[0].indexOf('target');
    expect(
      text
        .slice(1)
        .filter((l) => l.includes('≤'))
        .every((l) => l.indexOf('≤') === at),
    ).toBe(true);
  });

  test('the slowest files of the run, by their own wall time, relative to the repository', () => {
    const report = {
      testResults: [
        { name: '/repo/test/a.test.ts', startTime: 1000, endTime: 3500 },
        { name: '/repo/test/b.test.ts', startTime: 0, endTime: 9000 },
        { name: '/repo/test/c.test.ts', startTime: 0, endTime: 100 },
      ],
    };
    expect(slowestFiles(report, '/repo', 2)).toEqual([
      { name: '  test/b.test.ts', value: 9 },
      { name: '  test/a.test.ts', value: 2.5 },
    ]);
  });

  test('reads switches only: a typo or --help cannot start a run of several minutes', () => {
    expect(parseArgs([])).toEqual({ withTests: true, fresh: false, format: 'text' });
    expect(parseArgs(['--no-tests', '--markdown', '--fresh'])).toEqual({ withTests: false, fresh: true, format: 'markdown' });
    for (const argv of [['--help'], ['--frsh'], ['--fresh', '--fresh']]) expect(() => parseArgs(argv)).toThrow(UsageError);
  });
});
