import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { Readable } from 'node:stream';

/** Who a spawned PostgreSQL program runs as: the current user, or (when that is root) another. */
export interface RunAs {
  readonly uid: number;
  readonly gid: number;
}

export interface RunOptions {
  readonly env?: Record<string, string>;
  readonly runAs?: RunAs;
}

/** The last characters of a program's error output, for a message. */
const tail = (text: string) => (text.length > 2000 ? `...${text.slice(-2000)}` : text).trim();

/** Starts a program; its standard output is the caller's to read. */
export function start(command: string, args: readonly string[], options: RunOptions = {}): ChildProcess & { stdout: Readable } {
  return spawn(command, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...options.env },
    ...(options.runAs ? { uid: options.runAs.uid, gid: options.runAs.gid } : {}),
  }) as ChildProcess & { stdout: Readable };
}

/**
 * Waits for a started program to exit; rejects, naming the program, its exit code and the end of
 * its error output, unless it exited 0.
 */
export function finished(child: ChildProcess, command: string): Promise<{ stderr: string }> {
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  return new Promise((resolve, reject) => {
    child.once('error', (error) => reject(new Error(`${basename(command)} could not start: ${error.message}`)));
    child.once('close', (code, signal) => {
      if (code === 0) resolve({ stderr });
      else reject(new Error(`${basename(command)} failed (${signal ? `signal ${signal}` : `exit code ${code}`}): ${tail(stderr) || 'no error output'}`));
    });
  });
}

/** Runs a program to its end, its output discarded; rejects as `finished` does. */
export async function run(command: string, args: readonly string[], options: RunOptions = {}): Promise<{ stderr: string }> {
  const child = start(command, args, options);
  child.stdout.resume();
  return finished(child, command);
}

/**
 * The folder of PostgreSQL's programs (initdb, pg_ctl, pg_dump, pg_restore): Debian and the
 * official image keep them in /usr/lib/postgresql/<major>/bin, off the PATH. The newest major
 * there, as the image holds only the engine's.
 */
export function postgresBinDir(root = '/usr/lib/postgresql'): string {
  const majors = existsSync(root)
    ? readdirSync(root)
        .filter((v) => /^\d+$/.test(v) && existsSync(join(root, v, 'bin', 'pg_dump')))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  if (majors.length === 0) {
    throw new Error(`No PostgreSQL programs under ${root}/<major>/bin. Fix: install Debian's postgresql (bash scripts/prerequisites.sh), or run in the job's image.`);
  }
  return join(root, majors[0], 'bin');
}
