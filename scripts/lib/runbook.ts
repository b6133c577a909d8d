/**
 * The shape every recovery command shares (failover, failback, failover drill): a list of steps,
 * each with the minutes it is expected to take and where that figure comes from, each able to say
 * from AWS alone whether it has already been done. A dry run prints the plan; a run does each step
 * not yet done, timing it, and stops at the first failure, saying that the same command continues
 * from there. Nothing is remembered between runs but what AWS holds, so a rerun after a crash, a
 * lost laptop or a second operator starts from the truth.
 */
import type { Waiting } from './restore';

export interface Step<S> {
  /** Short name, as the drill records its minutes by (`restore`, `deploy`, ...). */
  readonly key: string;
  /** What it does, in the plan's words. */
  readonly title: string;
  /** The minutes it is expected to take. */
  readonly expectedMinutes: number;
  /** Where that figure comes from: AWS's documentation, this project's budget, or a drill's measurement. */
  readonly basis: string;
  /** Why there is nothing left to do (read from AWS), or undefined when it must run. */
  done(state: S): Promise<string | undefined>;
  run(state: S): Promise<void>;
}

export interface RunbookResult {
  /** Every step is done. */
  readonly completed: boolean;
  /** Minutes each step took in this run (skipped steps are absent). */
  readonly minutes: Readonly<Record<string, number>>;
  /** The step that failed, where one did. */
  readonly failedAt?: string;
}

/** The clock and the log of a run by a person: lines stamped with the time, for the incident record. */
export const realTime: Waiting = {
  now: () => new Date(),
  sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
  log: (line) => console.log(`${new Date().toISOString()} ${line}`),
};

/** A figure as the plan prints it: whole minutes below ten are rare enough to show a decimal. */
export const minutes = (ms: number) => Math.round(ms / 6_000) / 10;

/**
 * The plan: each step, its expected minutes and their basis, and whether AWS says it is done
 * already. Returns the minutes of the steps left, and what stops a step from going on (a step that
 * finds the DR region in a state it must not touch says why).
 */
export async function printPlan<S>(steps: readonly Step<S>[], state: S, wait: Waiting): Promise<{ minutes: number; blocked: string[] }> {
  let total = 0;
  const blocked: string[] = [];
  for (const [i, step] of steps.entries()) {
    let done: string | undefined;
    try {
      done = await step.done(state);
    } catch (error) {
      blocked.push(`step ${i + 1} (${step.key}): ${(error as Error).message}`);
    }
    if (!done) total += step.expectedMinutes;
    wait.log(`  ${i + 1}. ${step.title}`);
    wait.log(`     ${done ? `done already: ${done}` : `expected ${step.expectedMinutes} min (${step.basis})`}`);
  }
  return { minutes: total, blocked };
}

/**
 * Runs each step not yet done, in order, logging its actual minutes. The first failure stops the
 * run: what follows it never starts, and the log says to run the same command again.
 */
export async function runSteps<S>(command: string, steps: readonly Step<S>[], state: S, wait: Waiting): Promise<RunbookResult> {
  const took: Record<string, number> = {};
  for (const [i, step] of steps.entries()) {
    const label = `${i + 1}/${steps.length} ${step.title}`;
    const start = wait.now().getTime();
    try {
      const done = await step.done(state);
      if (done) {
        wait.log(`${label}: done already (${done})`);
        continue;
      }
      wait.log(`${label} (expected ${step.expectedMinutes} min)`);
      await step.run(state);
    } catch (error) {
      wait.log(`STOPPED at step ${i + 1} (${step.key}) after ${minutes(wait.now().getTime() - start)} min: ${(error as Error).message}`);
      wait.log(`Nothing after it ran. Fix the cause, then run the same command again: ${command} (it continues from step ${i + 1}).`);
      return { completed: false, minutes: took, failedAt: step.key };
    }
    took[step.key] = minutes(wait.now().getTime() - start);
    wait.log(`    took ${took[step.key]} min`);
  }
  return { completed: true, minutes: took };
}

/** The steps' minutes in a line: "restore 31.5, deploy 12 (total 43.5)". */
export function minutesLine(took: Readonly<Record<string, number>>): string {
  const total = Object.values(took).reduce((a, b) => a + b, 0);
  return `${Object.entries(took)
    .map(([key, m]) => `${key} ${m}`)
    .join(', ')} (total ${Math.round(total * 10) / 10} min)`;
}

/** The end of a dry run: what stops the command from starting (exit 1), or the command that runs it (exit 0). */
export function dryRunEnd(wait: Waiting, problems: readonly string[], run: string): 0 | 1 {
  if (problems.length > 0) {
    wait.log('CANNOT START:');
    for (const p of problems) wait.log(`  - ${p}`);
    return 1;
  }
  wait.log(`Dry run: nothing changed. ${run}`);
  return 0;
}

/** Refuses a run with --yes that cannot start, before it changes anything: exit 2, or undefined to go on. */
export function refuseProblems(wait: Waiting, problems: readonly string[]): 2 | undefined {
  if (problems.length === 0) return undefined;
  for (const p of problems) wait.log(`REFUSED: ${p}`);
  wait.log('Nothing was changed.');
  return 2;
}
