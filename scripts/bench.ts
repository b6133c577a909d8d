/**
 * Measures the figures the project holds itself to and prints them with their targets: the CLI
 * synth of one stage and of all (warm: run once first), the pull-request tools on the full
 * assembly, the type check, `npm test` warm (the second of two runs) with its peak memory and its
 * slowest files, and, on request, CI on a fresh clone. Then each stage's monthly cost estimate
 * against its target.
 *
 *   npm run bench                        # everything but the fresh clone
 *   npm run bench -- --fresh             # also `CI=true bash .ci/run` on a fresh clone of HEAD
 *   npm run bench -- --no-tests          # synth and tools only
 *   npm run bench -- --markdown          # the table as Markdown
 *
 * Timings belong here, not in tests: they depend on the machine (docs/architecture.md, "Speed").
 */

import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { STAGE_NAMES } from '../lib/config';
import { readFlags } from './lib/args';
import { readAssembly, UsageError } from './lib/assembly';
import { type Figure, formatFigures, slowestFiles, TARGETS } from './lib/bench';
import { estimateAssembly } from './lib/cost';

const USAGE = 'usage: bench [--no-tests] [--fresh] [--markdown]';

export interface BenchOptions {
  readonly withTests: boolean;
  readonly fresh: boolean;
  readonly format: 'text' | 'markdown';
}

/** The command line: switches only, so a typo (or --help) cannot start the minutes of a full run. */
export function parseArgs(argv: readonly string[]): BenchOptions {
  const given = new Set(readFlags(argv, { values: [], switches: ['--no-tests', '--fresh', '--markdown'], usage: USAGE }).map(([flag]) => flag));
  return { withTests: !given.has('--no-tests'), fresh: given.has('--fresh'), format: given.has('--markdown') ? 'markdown' : 'text' };
}

const ROOT = join(__dirname, '..');

/** `npm test` as the bench runs it: the suite's JSON report written to `report` (scripts/test.ts reads --report). */
export const npmTestArgs = (report: string): string[] => ['test', '--', '--report', report];
const BIN = join(ROOT, 'node_modules', '.bin');

interface Timed {
  readonly seconds: number;
  readonly ok: boolean;
  readonly output: string;
  /** The largest resident memory of the command's process tree, summed over its processes, in MB (Linux). */
  readonly peakMb?: number;
}

/** The CLI asks the EC2 metadata service for a region when none is set; stage envs are explicit anyway. */
const ENV = { ...process.env, AWS_REGION: process.env.AWS_REGION ?? 'eu-west-1' };

function timed(command: string, args: string[], cwd = ROOT, env: NodeJS.ProcessEnv = ENV): Timed {
  const start = process.hrtime.bigint();
  const run = spawnSync(command, args, { cwd, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024, env });
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  return { seconds, ok: run.status === 0, output: `${run.stdout}${run.stderr}` };
}

/** Resident memory of a process and all its descendants, in kB, from /proc (0 where /proc is not there). */
function treeRssKb(root: number): number {
  if (!existsSync('/proc')) return 0;
  const parents = new Map<number, number>();
  const rss = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const status = readFileSync(`/proc/${entry}/status`, 'utf8');
      parents.set(Number(entry), Number(/^PPid:\s+(\d+)/m.exec(status)?.[1]));
      rss.set(Number(entry), Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1] ?? 0));
    } catch {
      // The process ended while being read.
    }
  }
  const inTree = (pid: number): boolean => pid === root || (parents.has(pid) && pid !== parents.get(pid) && parents.get(pid)! > 1 && inTree(parents.get(pid)!));
  return [...rss].filter(([pid]) => inTree(pid)).reduce((sum, [, kb]) => sum + kb, 0);
}

/** Runs a command, sampling its process tree's memory every 200 ms. */
function timedWithMemory(command: string, args: string[], cwd = ROOT, env: NodeJS.ProcessEnv = ENV): Promise<Timed> {
  return new Promise((resolve) => {
    const start = process.hrtime.bigint();
    const child = spawn(command, args, { cwd, env });
    let output = '';
    let peakKb = 0;
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    const sampler = setInterval(() => {
      if (child.pid) peakKb = Math.max(peakKb, treeRssKb(child.pid));
    }, 200);
    child.once('close', (status) => {
      clearInterval(sampler);
      resolve({ seconds: Number(process.hrtime.bigint() - start) / 1e9, ok: status === 0, output, peakMb: peakKb > 0 ? peakKb / 1024 : undefined });
    });
  });
}

/** Resources per stage in an assembly folder (each stage writes `assembly-<stage>/`). */
function resourceCount(outdir: string): number {
  let total = 0;
  for (const file of readdirSync(outdir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.template.json'))) {
    total += Object.keys(JSON.parse(readFileSync(join(outdir, file), 'utf8')).Resources ?? {}).length;
  }
  return total;
}

/** `cdk synth` into a fresh folder, which the caller removes; stops the bench when it fails. */
function synth(stages?: string): { result: Timed; outdir: string } {
  const outdir = mkdtempSync(join(tmpdir(), 'bench-'));
  const args = ['synth', '--quiet', '--no-notices', '**', '-o', outdir, ...(stages ? ['-c', `stages=${stages}`] : [])];
  const result = timed(join(BIN, 'cdk'), args);
  if (!result.ok) throw new Error(`cdk synth ${stages ?? '(all stages)'} failed:\n${result.output}`);
  return { result, outdir };
}

/** Monthly targets per stage: dev for a team starting out, staging and prod no higher than before the edge and baseline work. */
const COST_TARGETS_USD: Readonly<Record<string, number>> = { dev: 80, staging: 450, prod: 675 };

async function main({ withTests, fresh, format }: BenchOptions): Promise<void> {
  const figures: Figure[] = [];
  // Warm: the bundles and the Control Tower results are kept between synths, as on a developer's machine.
  rmSync(synth('dev').outdir, { recursive: true, force: true });
  for (const stage of STAGE_NAMES) {
    const { result, outdir } = synth(stage);
    figures.push({ name: `cdk synth -c stages=${stage}, warm`, value: result.seconds, target: stage === 'dev' ? TARGETS.synthDev : undefined, resources: resourceCount(outdir) });
    rmSync(outdir, { recursive: true, force: true });
  }
  const all = synth();
  figures.push({ name: 'cdk synth, every stage, warm', value: all.result.seconds, target: TARGETS.synthAll, resources: resourceCount(all.outdir) });

  // The pull-request tools on the full assembly, as the review workflow runs them (tsx start-up included).
  const guard = timed(join(BIN, 'tsx'), ['scripts/diff-guard.ts', '--base', all.outdir, '--head', all.outdir]);
  figures.push({ name: 'diff-guard, full assembly', value: guard.seconds, target: TARGETS.reviewTool, failed: !guard.ok });
  const cost = timed(join(BIN, 'tsx'), ['scripts/cost.ts', '--assembly', all.outdir, '--base', all.outdir]);
  figures.push({ name: 'cost --base, full assembly', value: cost.seconds, target: TARGETS.reviewTool, failed: !cost.ok });
  const costs = estimateAssembly(readAssembly(all.outdir));
  rmSync(all.outdir, { recursive: true, force: true });

  const typecheck = timed(join(BIN, 'tsc'), ['--noEmit']);
  figures.push({ name: 'type check (tsc --noEmit)', value: typecheck.seconds, failed: !typecheck.ok });

  if (withTests) {
    // The first run warms what a developer's second run finds: vitest's cache, the synthesized
    // fixtures, the cfn-lint and Control Tower results. The second is the figure.
    await timedWithMemory('npm', ['test']);
    const reportDir = mkdtempSync(join(tmpdir(), 'bench-report-'));
    const report = join(reportDir, 'vitest.json');
    const tests = await timedWithMemory('npm', npmTestArgs(report));
    figures.push({ name: 'npm test, warm (second run)', value: tests.seconds, target: TARGETS.testWarm, failed: !tests.ok });
    figures.push({ name: 'npm test, peak memory of its processes', value: tests.peakMb, unit: 'MB', skipped: 'no /proc here' });
    if (existsSync(report)) {
      figures.push({ name: 'slowest test files of the warm run:' }, ...slowestFiles(JSON.parse(readFileSync(report, 'utf8')), ROOT));
    }
    rmSync(reportDir, { recursive: true, force: true });
  } else {
    figures.push({ name: 'npm test, warm (second run)', target: TARGETS.testWarm, skipped: 'skipped (--no-tests)' });
  }

  if (fresh) {
    // A clone of the committed HEAD: what CI checks out. Its caches start empty.
    const clone = mkdtempSync(join(tmpdir(), 'bench-clone-'));
    const cloned = timed('git', ['clone', '--quiet', ROOT, clone]);
    const ci = cloned.ok ? await timedWithMemory('bash', ['.ci/run'], clone, { ...ENV, CI: 'true' }) : cloned;
    figures.push({ name: 'CI=true bash .ci/run, fresh clone of HEAD', value: ci.seconds, target: TARGETS.freshCi, failed: !ci.ok });
    if (!ci.ok) console.error(ci.output.slice(-4000));
    rmSync(clone, { recursive: true, force: true });
  } else {
    figures.push({ name: 'CI=true bash .ci/run, fresh clone of HEAD', target: TARGETS.freshCi, skipped: 'not run (--fresh)' });
  }

  console.log(formatFigures(figures, format));
  // The monthly estimate per stage against the targets the cost work set (the account baselines apart).
  console.log('');
  console.log(
    formatFigures(
      costs.map((c) => ({ name: `monthly cost estimate, ${c.stage}`, value: c.totalUsd, target: COST_TARGETS_USD[c.stage], unit: 'USD' as const })),
      format,
    ),
  );
}

if (require.main === module) {
  let options: BenchOptions;
  try {
    options = parseArgs(process.argv.slice(2));
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`bench: ${error.message}`);
    process.exit(2);
  }
  main(options).catch((error) => {
    console.error(`bench: ${(error as Error).message}`);
    process.exit(1);
  });
}
