/**
 * `npm test`: the type check and the lint run beside the suite rather than before it. The suite
 * spends its first seconds starting workers and moto, with a core to spare; the type check fits
 * there (docs/architecture.md, "Speed"). A check that fails stops the suite at once and prints
 * what it found, so a type error is still known in seconds; a check that passes prints nothing.
 *
 *   npm test                          # tsc --noEmit, biome check . and vitest run
 *   npm test -- test/config           # the same checks, and vitest on the files named
 *   npm test -- --report out.json     # vitest's JSON report written there too (npm run bench)
 *
 * Other vitest options: `npx vitest run ...` (the checks alone: `npm run typecheck`, `npm run lint`).
 * Exit codes: the suite's, 1 when a check failed, 2 an unknown argument, 130 interrupted.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { readFlags } from './lib/args';
import { UsageError } from './lib/assembly';

const USAGE = 'usage: npm test [-- [--report FILE] FILE-FILTER ...]';

/**
 * What vitest gets: the file filters, and with --report FILE its JSON report beside the usual
 * output. Other flags are refused, vitest's own included (run `npx vitest` for those).
 */
export function parseArgs(argv: readonly string[]): string[] {
  // A file filter is an argument that is neither a flag nor the value of --report.
  const isFile = (arg: string, i: number) => !arg.startsWith('-') && argv[i - 1] !== '--report';
  const report = readFlags(
    argv.filter((arg, i) => !isFile(arg, i)),
    { values: ['--report'], usage: USAGE },
  ).find(([flag]) => flag === '--report')?.[1];
  return [...(report ? ['--reporter=default', '--reporter=json', `--outputFile.json=${report}`] : []), ...argv.filter(isFile)];
}

const BIN = join(__dirname, '..', 'node_modules', '.bin');

export interface Step {
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
}

/** What runs beside the suite. */
export const CHECKS: readonly Step[] = [
  { name: 'type check', command: join(BIN, 'tsc'), args: ['--noEmit'] },
  { name: 'lint', command: join(BIN, 'biome'), args: ['check', '.'] },
];

export const suite = (args: readonly string[]): Step => ({ name: 'tests', command: join(BIN, 'vitest'), args: ['run', ...args] });

const exited = (child: ChildProcess) =>
  new Promise<number>((resolve) => {
    child.once('error', () => resolve(127));
    child.once('close', (code) => resolve(code ?? 1));
  });

/**
 * Runs `checks` and `tests` together and returns the exit code. The suite runs in a process group
 * of its own (its workers, moto and the tools it starts), which is what a failed check or an
 * interrupt stops as a whole: none of them is left running. An interrupt (Ctrl-C reaches the
 * checks from the terminal, the suite from here) exits 130 and is not reported as a failed check.
 */
export async function runTests(
  checks: readonly Step[],
  tests: Step,
  stderr: NodeJS.WritableStream = process.stderr,
  signals: Pick<NodeJS.Process, 'on' | 'off'> = process,
): Promise<number> {
  const run = spawn(tests.command, [...tests.args], { stdio: 'inherit', detached: true });
  let running = true;
  let interrupted = false;
  let failed = false;
  const stop = (signal: NodeJS.Signals) => {
    if (running && run.pid !== undefined) {
      try {
        process.kill(-run.pid, signal);
      } catch {
        // gone already
      }
    }
  };
  const interrupt = () => {
    interrupted = true;
    stop('SIGINT');
  };
  signals.on('SIGINT', interrupt);
  const suiteDone = exited(run).then((code) => {
    running = false;
    return code;
  });

  const checked = checks.map(async (check) => {
    const child = spawn(check.command, [...check.args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    const code = await exited(child);
    if (code === 0 || interrupted) return;
    failed = true;
    stop('SIGTERM');
    stderr.write(`\n${check.name} failed (${[check.command.replace(`${BIN}/`, ''), ...check.args].join(' ')}, exit ${code}); the tests were stopped:\n\n${output.trimEnd()}\n`);
  });

  const [code] = await Promise.all([suiteDone, ...checked]);
  signals.off('SIGINT', interrupt);
  if (interrupted) return 130;
  return failed ? 1 : code;
}

if (require.main === module) {
  try {
    const files = parseArgs(process.argv.slice(2));
    runTests(CHECKS, suite(files)).then((code) => {
      process.exitCode = code;
    });
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(error.message);
    process.exitCode = 2;
  }
}
