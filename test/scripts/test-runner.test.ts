import { EventEmitter } from 'node:events';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, test } from 'vitest';
import { npmTestArgs } from '../../scripts/bench';
import { CHECKS, parseArgs, runTests, type Step, suite } from '../../scripts/test';

/** A step that runs `code` in a fresh Node. */
const node = (name: string, code: string): Step => ({ name, command: process.execPath, args: ['-e', code] });

/** Running, not a zombie (a process whose parent died is reaped by init, maybe later). */
const alive = (pid: number) => {
  try {
    if (!existsSync('/proc/self/stat')) return process.kill(pid, 0);
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
};

async function collect(checks: readonly Step[], tests: Step): Promise<{ code: number; stderr: string }> {
  const stream = new PassThrough();
  let stderr = '';
  stream.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const code = await runTests(checks, tests, stream);
  return { code, stderr };
}

/**
 * A suite standing in for vitest: it starts a server of its own (as vitest starts moto), writes
 * its pid and the server's into `pids`, and runs on until stopped.
 */
function suiteWithServer() {
  const pids = join(mkdtempSync(join(tmpdir(), 'test-runner-')), 'pids');
  const tests = node(
    'tests',
    `const { spawn } = require('node:child_process'); const s = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
     require('node:fs').writeFileSync(${JSON.stringify(pids)}, process.pid + ' ' + s.pid); setInterval(() => {}, 1000);`,
  );
  return { tests, pids };
}

describe('npm test (scripts/test.ts)', () => {
  test('runs the type check and the lint beside vitest, with the arguments given passed to vitest', () => {
    expect(CHECKS.map((c) => [c.command.split('/').pop(), ...c.args])).toEqual([
      ['tsc', '--noEmit'],
      ['biome', 'check', '.'],
    ]);
    expect(suite(parseArgs(['test/config', 'test/scripts/cost.test.ts']))).toMatchObject({ args: ['run', 'test/config', 'test/scripts/cost.test.ts'] });
    // The bench's run: the JSON report beside the usual output.
    expect(parseArgs(npmTestArgs('/tmp/r.json').slice(2))).toEqual(['--reporter=default', '--reporter=json', '--outputFile.json=/tmp/r.json']);
    expect(parseArgs(['--report=r.json', 'test/config'])).toEqual(['--reporter=default', '--reporter=json', '--outputFile.json=r.json', 'test/config']);
    expect(() => parseArgs(['--report'])).toThrow(/--report/);
    expect(() => parseArgs(['test/config', '--reporter=json'])).toThrow(/^unknown argument "--reporter"\. usage: npm test \[-- \[--report FILE\] FILE-FILTER \.\.\.\]$/);
    expect(JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8')).scripts.test).toBe('tsx scripts/test.ts');
  });

  test("checks that pass say nothing, and the exit code is the suite's", async () => {
    const result = await collect([node('type check', 'console.log("all fine")'), node('lint', 'console.error("checked 3 files")')], node('tests', 'process.exit(3)'));
    expect(result).toEqual({ code: 3, stderr: '' });
  });

  test('a failed check stops the suite and everything it started, prints what the check found, and exits 1', async () => {
    const { tests, pids } = suiteWithServer();
    const failing = node('type check', `setTimeout(() => { console.log("lib/app.ts(3,1): error TS2304: Cannot find name 'x'."); process.exit(2); }, 300);`);
    const result = await collect([failing, node('lint', '')], tests);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`type check failed (${process.execPath} -e`);
    expect(result.stderr).toContain("exit 2); the tests were stopped:\n\nlib/app.ts(3,1): error TS2304: Cannot find name 'x'.\n");
    expect(result.stderr).not.toContain('lint');
    expect(existsSync(pids)).toBe(true);
    const [suitePid, serverPid] = readFileSync(pids, 'utf8').split(' ').map(Number);
    await new Promise((r) => setTimeout(r, 200));
    expect({ suite: alive(suitePid), server: alive(serverPid) }).toEqual({ suite: false, server: false });
  });

  test('an interrupt stops the suite and its server, exits 130, and reports no check as failed', async () => {
    const { tests, pids } = suiteWithServer();
    // The terminal's Ctrl-C reaches the check itself, which exits 130; the runner hears it as SIGINT.
    const check = node('type check', 'setTimeout(() => process.exit(130), 400);');
    const signals = new EventEmitter();
    const stream = new PassThrough();
    let stderr = '';
    stream.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const running = runTests([check], tests, stream, signals as never);
    while (!existsSync(pids)) await new Promise((r) => setTimeout(r, 20));
    signals.emit('SIGINT');
    expect(await running).toBe(130);
    expect(stderr).toBe('');
    expect(signals.listenerCount('SIGINT')).toBe(0);
    const [suitePid, serverPid] = readFileSync(pids, 'utf8').split(' ').map(Number);
    await new Promise((r) => setTimeout(r, 200));
    expect({ suite: alive(suitePid), server: alive(serverPid) }).toEqual({ suite: false, server: false });
  });

  test('a check that cannot start counts as failed', async () => {
    const result = await collect([{ name: 'type check', command: '/nonexistent/tsc', args: ['--noEmit'] }], node('tests', ''));
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('type check failed (/nonexistent/tsc --noEmit, exit 127)');
  });
});
