import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { cachedFixture, pruneFixtures, sourceHash } from './fixture-cache';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'fixtures-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('synthesized fixtures, kept by the source that decides them', () => {
  test('the source hash changes with any file of lib/, bin/, lambda/, test/support/ or the lockfile, and with nothing else', () => {
    for (const folder of ['lib', 'bin', 'lambda', 'test/support', 'scripts']) mkdirSync(join(dir, folder), { recursive: true });
    for (const file of ['lib/app.ts', 'bin/app.ts', 'lambda/index.ts', 'test/support/synth.ts', 'scripts/cost.ts', 'cdk.json', 'package-lock.json', 'tsconfig.json', 'README.md'])
      writeFileSync(join(dir, file), file);
    const first = sourceHash(dir);
    expect(sourceHash(dir)).toBe(first);
    for (const file of ['lib/app.ts', 'lambda/index.ts', 'test/support/synth.ts', 'package-lock.json']) {
      const before = sourceHash(dir);
      writeFileSync(join(dir, file), `${file} changed`);
      expect(sourceHash(dir), file).not.toBe(before);
    }
    const settled = sourceHash(dir);
    writeFileSync(join(dir, 'lib', 'new-construct.ts'), 'export {}');
    expect(sourceHash(dir)).not.toBe(settled);
    const withNew = sourceHash(dir);
    // The scripts and docs do not decide a synthesized template.
    writeFileSync(join(dir, 'scripts/cost.ts'), 'changed');
    writeFileSync(join(dir, 'README.md'), 'changed');
    expect(sourceHash(dir)).toBe(withNew);
  });

  test('made once: the second ask reads what the first made', () => {
    let made = 0;
    const produce = (into: string) => {
      made++;
      writeFileSync(into, 'fixture');
    };
    const path = join(dir, 'stage.json');
    expect(cachedFixture(path, produce)).toBe(path);
    expect(cachedFixture(path, produce)).toBe(path);
    expect(made).toBe(1);
    expect(readFileSync(path, 'utf8')).toBe('fixture');
  });

  test('a synthesis that fails leaves no fixture and no lock: the next ask makes it', () => {
    const path = join(dir, 'stage.json');
    expect(() =>
      cachedFixture(path, (into) => {
        writeFileSync(into, 'half');
        throw new Error('synth failed');
      }),
    ).toThrow('synth failed');
    expect(readdirSync(dir)).toEqual([]);
    cachedFixture(path, (into) => writeFileSync(into, 'whole'));
    expect(readFileSync(path, 'utf8')).toBe('whole');
  });

  test('a lock left by a process that died is taken over; one held by a live process is waited for, and its fixture used', async () => {
    const path = join(dir, 'stage.json');
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    writeFileSync(`${path}.lock`, dead.stdout);
    cachedFixture(path, (into) => writeFileSync(into, 'after a dead owner'));
    expect(readFileSync(path, 'utf8')).toBe('after a dead owner');

    const other = join(dir, 'other.json');
    // Another worker holds the lock while it synthesizes for 400 ms, then writes its fixture.
    const holder = spawn(
      process.execPath,
      [
        '-e',
        `const fs = require('fs');
         fs.writeFileSync(${JSON.stringify(`${other}.lock`)}, String(process.pid));
         process.stdout.write('locked');
         setTimeout(() => { fs.writeFileSync(${JSON.stringify(other)}, 'from the other worker'); fs.rmSync(${JSON.stringify(`${other}.lock`)}); }, 400);`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    await new Promise((resolve) => holder.stdout!.once('data', resolve));
    let made = false;
    cachedFixture(other, () => {
      made = true;
    });
    expect(made).toBe(false);
    expect(readFileSync(other, 'utf8')).toBe('from the other worker');
    await new Promise((resolve) => holder.once('exit', resolve));
  });

  test('pruning keeps the newest source hashes and any used within the hour, and removes the rest', () => {
    const now = 1_700_000_000_000;
    const ages = { a: 5 * 3_600_000, b: 4 * 3_600_000, recent: 30 * 60_000, c: 2 * 3_600_000, d: 60_000 };
    for (const [name, age] of Object.entries(ages)) {
      mkdirSync(join(dir, name));
      utimesSync(join(dir, name), new Date(now - age), new Date(now - age));
    }
    pruneFixtures(2, dir, now);
    // The newest two (d, recent), and none older than the hour but those.
    expect(readdirSync(dir).sort()).toEqual(['d', 'recent']);
    mkdirSync(join(dir, 'e'));
    utimesSync(join(dir, 'e'), new Date(now - 10 * 60_000), new Date(now - 10 * 60_000));
    pruneFixtures(1, dir, now);
    expect(readdirSync(dir).sort()).toEqual(['d', 'e', 'recent']);
    expect(existsSync(join(dir, 'a'))).toBe(false);
  });
});
