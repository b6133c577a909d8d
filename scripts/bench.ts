/**
 * Prints the figures the project keeps an eye on: CLI synth seconds per stage and for all stages
 * together (cdk-nag on, as `npm run synth` runs), resources per
 * stage, the diff guard's and the cost script's run time on that assembly, and the test suite's
 * wall time.
 *
 *   npm run bench                 # everything
 *   npm run bench -- --no-tests   # synth figures only
 *
 * Timings belong here, not in tests: they depend on the machine.
 */

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { STAGE_NAMES } from '../lib/config';
import { readFlags } from './lib/args';
import { readAssembly, UsageError } from './lib/assembly';
import { estimateAssembly } from './lib/cost';

const USAGE = 'usage: bench [--no-tests]';

/** The command line: only --no-tests, so a typo (or --help) cannot start the several minutes of a full run. */
export function parseArgs(argv: readonly string[]): { withTests: boolean } {
  return { withTests: readFlags(argv, { values: [], switches: ['--no-tests'], usage: USAGE }).length === 0 };
}

const ROOT = join(__dirname, '..');
const BIN = join(ROOT, 'node_modules', '.bin');

interface Timed {
  readonly seconds: number;
  readonly ok: boolean;
  readonly output: string;
}

function timed(command: string, args: string[]): Timed {
  const start = process.hrtime.bigint();
  const run = spawnSync(command, args, {
    cwd: ROOT,
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
    // The CLI asks the EC2 metadata service for a region when none is set; stage envs are explicit anyway.
    env: { ...process.env, AWS_REGION: process.env.AWS_REGION ?? 'eu-west-1' },
  });
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  return { seconds, ok: run.status === 0, output: `${run.stdout}${run.stderr}` };
}

/** Resources per stage in an assembly folder (each stage writes `assembly-<stage>/`). */
function resourceCounts(outdir: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const entry of readdirSync(outdir, { withFileTypes: true })) {
    const match = /^assembly-(.+)$/.exec(entry.name);
    if (!entry.isDirectory() || !match) continue;
    const dir = join(outdir, entry.name);
    let total = 0;
    for (const file of readdirSync(dir).filter((f) => f.endsWith('.template.json'))) {
      total += Object.keys(JSON.parse(readFileSync(join(dir, file), 'utf8')).Resources ?? {}).length;
    }
    counts.set(match[1], total);
  }
  return counts;
}

/** Synthesizes into a fresh folder, which the caller removes. */
function synth(stages?: string): { result: Timed; counts: Map<string, number>; outdir: string } {
  const outdir = mkdtempSync(join(tmpdir(), 'bench-'));
  const args = ['synth', '--quiet', '--no-notices', '**', '-o', outdir];
  if (stages) args.push('-c', `stages=${stages}`);
  const result = timed(join(BIN, 'cdk'), args);
  if (!result.ok) throw new Error(`cdk synth ${stages ?? '(all stages)'} failed:\n${result.output}`);
  return { result, counts: resourceCounts(outdir), outdir };
}

/** Monthly targets per stage: dev for a team starting out, staging and prod no higher than before the edge and baseline work. */
const COST_TARGETS_USD: Readonly<Record<string, number>> = { dev: 80, staging: 478, prod: 648 };

function main(withTests: boolean): void {
  const rows: [string, string, string][] = [];

  for (const stage of STAGE_NAMES) {
    const { result, counts, outdir } = synth(stage);
    rmSync(outdir, { recursive: true, force: true });
    rows.push([`synth ${stage}`, result.seconds.toFixed(1), String(counts.get(stage) ?? 0)]);
  }
  const all = synth();
  const total = [...all.counts.values()].reduce((a, b) => a + b, 0);
  rows.push(['synth all stages', all.result.seconds.toFixed(1), String(total)]);

  // The PR tools on the full assembly, as the pull-request workflow runs them (tsx start-up included).
  const guard = timed(join(BIN, 'tsx'), ['scripts/diff-guard.ts', '--base', all.outdir, '--head', all.outdir]);
  rows.push([`diff-guard, full assembly${guard.ok ? '' : ' FAILED'}`, guard.seconds.toFixed(1), String(total)]);
  const cost = timed(join(BIN, 'tsx'), ['scripts/cost.ts', '--assembly', all.outdir, '--base', all.outdir]);
  rows.push([`cost --base, full assembly${cost.ok ? '' : ' FAILED'}`, cost.seconds.toFixed(1), String(total)]);
  const costs = estimateAssembly(readAssembly(all.outdir));
  rmSync(all.outdir, { recursive: true, force: true });

  if (withTests) {
    const typecheck = timed(join(BIN, 'tsc'), ['--noEmit']);
    rows.push(['type-check (tsc --noEmit)', typecheck.seconds.toFixed(1), '']);
    const tests = timed(join(BIN, 'vitest'), ['run']);
    rows.push([`test suite (vitest run)${tests.ok ? '' : ' FAILED'}`, tests.seconds.toFixed(1), '']);
  }

  const width = Math.max(...rows.map((r) => r[0].length));
  console.log(`${'figure'.padEnd(width)}  seconds  resources`);
  for (const [name, seconds, resources] of rows) console.log(`${name.padEnd(width)}  ${seconds.padStart(7)}  ${resources.padStart(9)}`);
  // The monthly estimate per stage against the targets the cost work set (the account baselines apart).
  console.log('\nstage      estimate  target');
  for (const c of costs) {
    const target = COST_TARGETS_USD[c.stage];
    const mark = target === undefined ? '' : c.totalUsd <= target ? '  within' : '  OVER';
    console.log(`${c.stage.padEnd(9)} ${`$${c.totalUsd.toFixed(2)}`.padStart(9)}  ${target === undefined ? '(account baseline)' : `$${target}${mark}`}`);
  }
  console.log(
    '\nTargets on a 2-core machine: all stages synthesized in at most 16 s; diff-guard and cost each under 5 s; test suite under 45 s warm (a second run: clean cfn-lint results are remembered by template bytes).',
  );
}

if (require.main === module) {
  let withTests: boolean;
  try {
    ({ withTests } = parseArgs(process.argv.slice(2)));
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`bench: ${error.message}`);
    process.exit(2);
  }
  main(withTests);
}
