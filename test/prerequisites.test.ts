import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { PROJECT_ROOT } from '../lib/shared/paths';

const SCRIPT = join(PROJECT_ROOT, 'scripts', 'prerequisites.sh');
const read = (file: string) => readFileSync(join(PROJECT_ROOT, file), 'utf8');

/** A PATH holding only the shell tools the script itself uses, and node: every prerequisite is missing. */
function barePath(): string {
  const bin = mkdtempSync(join(tmpdir(), 'prereq-bin-'));
  for (const tool of ['bash', 'sed', 'sort', 'head', 'id', 'dirname', 'cat']) {
    const found = spawnSync('bash', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).stdout.trim();
    symlinkSync(found, join(bin, tool));
  }
  symlinkSync(process.execPath, join(bin, 'node'));
  return bin;
}

describe('the prerequisites command (scripts/prerequisites.sh)', () => {
  test('with --check names every missing tool with how to install it, installs nothing, and exits 1', () => {
    // Debian keeps initdb off the PATH, in /usr/lib/postgresql/<major>/bin: an empty folder stands in for it.
    const env = { PATH: barePath(), POSTGRES_LIB_DIR: mkdtempSync(join(tmpdir(), 'prereq-postgresql-')) };
    const run = spawnSync('bash', [SCRIPT, '--check'], { encoding: 'utf8', env });
    expect(run.status).toBe(1);
    expect(run.stdout).toContain(
      'missing: shellcheck skopeo docker-registry redis-server openssl postgresql (Debian/Ubuntu: sudo apt-get install shellcheck skopeo docker-registry redis-server openssl postgresql)',
    );
    expect(run.stdout).toContain('missing: cfn-lint 1.51.0 and moto 5.2.1 (python3 -m pip install -r requirements-dev.txt)');
    expect(run.stdout).not.toMatch(/installing/);
    expect(run.stderr).toBe('Install the above, then run this again.\n');
  });

  test('finds PostgreSQL where Debian installs it, off the PATH', () => {
    const lib = mkdtempSync(join(tmpdir(), 'prereq-postgresql-'));
    mkdirSync(join(lib, '15', 'bin'), { recursive: true });
    writeFileSync(join(lib, '15', 'bin', 'initdb'), '');
    const run = spawnSync('bash', [SCRIPT, '--check'], { encoding: 'utf8', env: { PATH: barePath(), POSTGRES_LIB_DIR: lib } });
    expect(run.stdout).toMatch(/^missing: shellcheck skopeo docker-registry redis-server openssl \(/m);
  });

  test('refuses an unknown argument with its usage (exit 2)', () => {
    const run = spawnSync('bash', [SCRIPT, '--yes'], { encoding: 'utf8' });
    expect(run).toMatchObject({ status: 2, stderr: 'usage: bash scripts/prerequisites.sh [--check]\n' });
  });

  test('checks the Node.js version package.json requires, the one the README and CONTRIBUTING name', () => {
    const engines = JSON.parse(read('package.json')).engines.node as string;
    expect(engines).toBe('>=20.19.0');
    for (const doc of ['README.md', 'CONTRIBUTING.md']) expect(read(doc), doc).toContain('Node.js 20.19 or newer');
    expect(read('package-lock.json')).toContain(`"node": "${engines}"`);
  });

  test('pins the Python tools it reads from requirements-dev.txt', () => {
    expect(read('requirements-dev.txt')).toMatch(/^cfn-lint==1\.51\.0$/m);
    expect(read('requirements-dev.txt')).toMatch(/^moto\[server\]==5\.2\.1$/m);
  });

  test('is what CI and the pull request workflow run first, as the README says', () => {
    const readme = read('README.md');
    const prerequisites = /## Prerequisites[\s\S]*?```bash\n([\s\S]*?)```/.exec(readme)![1].trim();
    const setup = /## Set up and check[^\n]*\n+```bash\n([\s\S]*?)```/.exec(readme)![1].trim();
    const ci = read('.ci/run')
      .split('\n')
      .filter((line) => line && !line.startsWith('#') && !/^(set|cd) /.test(line));
    expect(ci).toEqual([prerequisites, ...setup.split('\n')]);
    expect(read('.github/workflows/pr.yml')).toContain(`run: ${prerequisites}\n`);
  });
});
