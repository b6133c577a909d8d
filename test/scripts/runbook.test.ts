import { expect, test } from 'vitest';
import { dryRunEnd, minutesLine, printPlan, refuseProblems, runSteps, type Step } from '../../scripts/lib/runbook';

/** A clock the steps move, and the lines said. */
function clock() {
  const lines: string[] = [];
  let now = Date.parse('2026-12-07T03:00:00Z');
  return {
    lines,
    advance: (minutes: number) => {
      now += minutes * 60_000;
    },
    wait: {
      now: () => new Date(now),
      sleep: async (ms: number) => {
        now += ms;
      },
      log: (line: string) => lines.push(line),
    },
  };
}

const step = (key: string, expectedMinutes: number, takes: number, state: { done: Set<string>; fail?: string; advance: (m: number) => void }): Step<unknown> => ({
  key,
  title: `do ${key}`,
  expectedMinutes,
  basis: `${key}'s budget`,
  async done() {
    return state.done.has(key) ? `${key} is there` : undefined;
  },
  async run() {
    state.advance(takes);
    if (state.fail === key) throw new Error(`${key} broke`);
    state.done.add(key);
  },
});

test('each step not done runs and is timed to a tenth of a minute; the line sums them', async () => {
  const c = clock();
  const state = { done: new Set(['survey']), advance: c.advance };
  const steps = [step('survey', 1, 1, state), step('restore', 30, 27.25, state), step('deploy', 20, 12.5, state)];
  const result = await runSteps('npm run x', steps, undefined, c.wait);
  expect(result).toEqual({ completed: true, minutes: { restore: 27.3, deploy: 12.5 } });
  expect(c.lines).toEqual([
    '1/3 do survey: done already (survey is there)',
    '2/3 do restore (expected 30 min)',
    '    took 27.3 min',
    '3/3 do deploy (expected 20 min)',
    '    took 12.5 min',
  ]);
  expect(minutesLine(result.minutes)).toBe('restore 27.3, deploy 12.5 (total 39.8 min)');
});

test('the first failure stops the run, names its step and the command that continues', async () => {
  const c = clock();
  const state = { done: new Set<string>(), fail: 'deploy', advance: c.advance };
  const result = await runSteps('npm run x --yes', [step('restore', 30, 2, state), step('deploy', 20, 3.5, state), step('edge', 5, 1, state)], undefined, c.wait);
  expect(result).toEqual({ completed: false, minutes: { restore: 2 }, failedAt: 'deploy' });
  expect(c.lines.slice(-2)).toEqual([
    'STOPPED at step 2 (deploy) after 3.5 min: deploy broke',
    'Nothing after it ran. Fix the cause, then run the same command again: npm run x --yes (it continues from step 2).',
  ]);
  expect(state.done.has('edge')).toBe(false);
});

test('the plan counts the minutes of the steps left, says which are done, and what stops one', async () => {
  const c = clock();
  const state = { done: new Set(['restore']), advance: c.advance };
  const blocked: Step<unknown> = { ...step('edge', 5, 0, state), done: async () => Promise.reject(new Error('a drill is in the way')) };
  const plan = await printPlan([step('restore', 30, 0, state), step('deploy', 20, 0, state), blocked], undefined, c.wait);
  expect(plan).toEqual({ minutes: 25, blocked: ['step 3 (edge): a drill is in the way'] });
  expect(c.lines).toEqual([
    '  1. do restore',
    '     done already: restore is there',
    '  2. do deploy',
    "     expected 20 min (deploy's budget)",
    '  3. do edge',
    "     expected 5 min (edge's budget)",
  ]);
  expect(dryRunEnd(c.wait, plan.blocked, 'To run: x')).toBe(1);
  expect(dryRunEnd(c.wait, [], 'To run: x')).toBe(0);
  expect(c.lines.slice(-3)).toEqual(['CANNOT START:', '  - step 3 (edge): a drill is in the way', 'Dry run: nothing changed. To run: x']);
  expect(refuseProblems(c.wait, [])).toBeUndefined();
  expect(refuseProblems(c.wait, ['no image'])).toBe(2);
  expect(c.lines.slice(-2)).toEqual(['REFUSED: no image', 'Nothing was changed.']);
});
