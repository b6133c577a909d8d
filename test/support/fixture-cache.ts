import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { PROJECT_ROOT } from '../../lib/shared/paths';

/**
 * Synthesized fixtures (stage templates, assemblies) kept between test runs and shared by the
 * run's workers, under the hash of everything that decides them: the app's source (lib/, bin/,
 * lambda/), the test support code that synthesizes, cdk.json, the lockfile and tsconfig.json.
 * Any change to one of those files is a new hash and so a fresh synthesis; an unchanged tree
 * synthesizes nothing. A fresh clone has no cache and synthesizes everything once.
 */
export const FIXTURE_ROOT = join(PROJECT_ROOT, 'node_modules', '.cache', 'webapp-tests');

const SOURCES = ['lib', 'bin', 'lambda', join('test', 'support')];
const FILES = ['cdk.json', 'package-lock.json', 'tsconfig.json'];

let memo: string | undefined;

/** The hash of the files that decide a synthesized fixture, computed once per process. */
export function sourceHash(root = PROJECT_ROOT): string {
  if (memo && root === PROJECT_ROOT) return memo;
  const hash = createHash('sha256');
  const files = [
    ...SOURCES.flatMap((dir) =>
      readdirSync(join(root, dir), { recursive: true, withFileTypes: true })
        .filter((e) => e.isFile())
        .map((e) => join(e.parentPath, e.name)),
    ),
    ...FILES.map((f) => join(root, f)),
  ].sort();
  for (const file of files) hash.update(relative(root, file)).update('\0').update(readFileSync(file)).update('\0');
  const digest = hash.digest('hex').slice(0, 24);
  if (root === PROJECT_ROOT) memo = digest;
  return digest;
}

/** The folder of the current source hash, where this run's fixtures are kept. */
export function fixtureDir(root = FIXTURE_ROOT): string {
  return join(root, sourceHash());
}

/** A short, file-name-safe key for anything JSON can say. */
export function keyOf(value: unknown): string {
  return createHash('sha256').update(JSON.stringify(value)).digest('hex').slice(0, 32);
}

const sleep = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * The fixture at `path`, made by `produce` (which writes it at the path it is given) the first
 * time any worker asks. A worker that finds another one producing it waits for it rather than
 * synthesizing the same thing twice; a lock left by a process that died is taken over. The
 * fixture is written beside and renamed into place, so a half-written one is never read.
 */
export function cachedFixture(path: string, produce: (into: string) => void): string {
  if (existsSync(path)) return path;
  mkdirSync(join(path, '..'), { recursive: true });
  const lock = `${path}.lock`;
  for (;;) {
    let fd: number | undefined;
    try {
      fd = openSync(lock, 'wx');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    if (fd !== undefined) {
      try {
        writeFileSync(fd, String(process.pid));
        closeSync(fd);
        if (!existsSync(path)) {
          const building = `${path}.${process.pid}.building`;
          rmSync(building, { recursive: true, force: true });
          try {
            produce(building);
          } catch (error) {
            rmSync(building, { recursive: true, force: true });
            throw error;
          }
          renameSync(building, path);
        }
        return path;
      } finally {
        rmSync(lock, { force: true });
      }
    }
    if (existsSync(path)) return path;
    let owner = Number.NaN;
    try {
      owner = Number(readFileSync(lock, 'utf8'));
    } catch {
      continue;
    }
    // A lock just created may not hold its pid yet; one older than a few seconds without a live owner is stale.
    const since = statSync(lock, { throwIfNoEntry: false });
    if (!since) continue;
    const stale = Number.isInteger(owner) && owner > 0 ? !alive(owner) : Date.now() - since.mtimeMs > 5_000;
    if (stale) rmSync(lock, { force: true });
    else sleep(50);
  }
}

/**
 * Removes the fixtures of earlier source hashes, keeping the newest few (a branch switch back
 * finds its own) and any used within the hour (another checkout sharing node_modules may be
 * running on one).
 */
export function pruneFixtures(keep = 3, root = FIXTURE_ROOT, now = Date.now()): void {
  if (!existsSync(root)) return;
  const dirs = readdirSync(root, { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => ({ path: join(root, e.name), mtime: statSync(join(root, e.name)).mtimeMs }))
    .sort((a, b) => b.mtime - a.mtime);
  for (const { path, mtime } of dirs.slice(keep)) if (now - mtime > 3_600_000) rmSync(path, { recursive: true, force: true });
}
