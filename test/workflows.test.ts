import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { parse } from 'yaml';
import { REVIEW_ENVIRONMENT } from '../lib/ci/ci-access-stack';

const ROOT = join(__dirname, '..');
const DIR = join(ROOT, '.github', 'workflows');
const VALIDATOR = join(ROOT, 'node_modules', '.bin', 'action-validator');

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

describe('every workflow passes action-validator', () => {
  test.each(readdirSync(DIR).filter((f) => f.endsWith('.yml')))('%s', (file) => {
    const result = validate(join(DIR, file));
    expect(result.stdout + result.stderr).toBe('');
    expect(result.status).toBe(0);
  });

  test('the validator does reject a broken workflow', () => {
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
    }
  }
  return problems;
}

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
      'a fetch of the head',
      { on: { workflow_run: {} }, permissions: {}, jobs: { review: job([{ name: 'x', run: 'git fetch origin pull/1/head && git checkout FETCH_HEAD' }]) } },
      /fetches other code/,
    ],
  ] as [string, Workflow, RegExp][])('the check catches %s', (_name, wf, problem) => {
    expect(trustProblems(wf).join('\n')).toMatch(problem);
  });
});

describe("pull-request build (pr.yml): the pull request's code, no rights", () => {
  const wf = workflow('pr.yml');
  const job = wf.jobs.build;

  test('runs on pull requests, label and description changes included, with read access only', () => {
    expect(Object.keys(wf.on)).toEqual(['pull_request']);
    expect((wf.on.pull_request as { types: string[] }).types).toEqual(expect.arrayContaining(['opened', 'synchronize', 'labeled', 'unlabeled', 'edited']));
    expect(wf.permissions).toEqual({ contents: 'read' });
    expect(Object.values(wf.jobs).every((j) => j.permissions === undefined)).toBe(true);
    expect(job.steps.some((s) => s.uses?.startsWith('aws-actions/'))).toBe(false);
    expect(job.steps[0].with?.['persist-credentials']).toBe(false);
  });

  test('installs, tests, synthesizes the head and uploads it with the pull request number', () => {
    const script = runs(job);
    expect(script).toContain('npm ci');
    expect(script).toContain('npm test');
    expect(script).toMatch(/cdk synth --quiet '\*\*' \$ACCOUNTS -o "\$RUNNER_TEMP\/review\/head\.out"/);
    expect(script).toContain('echo "$NUMBER" > "$RUNNER_TEMP/review/pr-number"');
    const upload = job.steps.find((s) => s.uses?.startsWith('actions/upload-artifact'))!;
    expect(upload.with).toMatchObject({ name: 'pr-review', path: '${{ runner.temp }}/review', 'if-no-files-found': 'error' });
  });

  test('synthesizes with the real stage accounts, taken from the same repository variables as deploy.yml', () => {
    for (const file of ['pr.yml', 'pr-review.yml']) {
      const w = workflow(file);
      for (const stage of ['dev', 'staging', 'prod']) {
        const variable = `AWS_${stage.toUpperCase()}_ACCOUNT_ID`;
        expect((w as unknown as { env: Record<string, string> }).env[variable]).toBe(`\${{ vars.${variable} }}`);
        expect(Object.values(w.jobs).map(runs).join('\n')).toContain(`-c ${stage}.account=$${variable}`);
      }
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

  test('uses the pull request only when the API says its head is the commit the build ran on', () => {
    const identify = step('Identify the pull request');
    expect(identify.env?.HEAD_SHA).toBe('${{ github.event.workflow_run.head_sha }}');
    expect(identify.run).toContain('[[ "$number" =~ ^[0-9]+$ ]]');
    expect(identify.run).toContain('if [ "$(jq -r .head.sha "$RUNNER_TEMP/pull.json")" != "$HEAD_SHA" ]; then');
  });

  test('labels and description come from the API at review time, never from the event', () => {
    const guard = step('Stateful-replacement guard');
    expect(read('pr-review.yml')).not.toMatch(/github\.event\.(pull_request|workflow_run\.pull_requests)/);
    expect(guard.run).toContain('jq -r \'[.labels[].name] | join(",")\' "$RUNNER_TEMP/pull.json"');
    expect(guard.run).toContain('*",allow-stateful-replacement,"*');
    expect(guard.run).toContain('allow+=(--allow "$id")');
    expect(guard.run).toMatch(/scripts\/diff-guard\.ts --base "\$RUNNER_TEMP\/base\.out" --head "\$RUNNER_TEMP\/pr\/head\.out" "\$\{allow\[@\]\}" --format markdown/);
    expect(step('Cost diff').run).toMatch(/scripts\/cost\.ts --assembly "\$RUNNER_TEMP\/pr\/head\.out" --base "\$RUNNER_TEMP\/base\.out" --format markdown/);
    expect(step('Synthesize the base').run).toMatch(/cdk synth --quiet '\*\*' \$ACCOUNTS -o "\$RUNNER_TEMP\/base\.out"/);
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

  test('cdk diff (template method: read-only) for staging and prod only with a configured account and not from forks', () => {
    for (const stage of ['staging', 'prod']) {
      const creds = step(`AWS credentials for ${stage}`);
      expect(creds.if).toBe(`vars.AWS_${stage.toUpperCase()}_ACCOUNT_ID != '' && steps.pr.outputs.same-repository == 'true'`);
      expect(creds.with?.['role-to-assume']).toContain(`role/webapp-${stage}-diff`);
      expect(step(`cdk diff ${stage}`).run).toContain(`cdk diff --method=template --app "$RUNNER_TEMP/pr/head.out" '${stage}/*'`);
    }
  });

  test('posts one sticky comment on the checked pull request, reports the commit status and fails on a risky change', () => {
    const comment = job.steps.find((s) => s.uses?.startsWith('marocchino/sticky-pull-request-comment'))!;
    expect(comment.with).toMatchObject({ header: 'infrastructure-review', number: '${{ steps.pr.outputs.number }}' });
    const report = step('Report the result');
    expect(report.if).toBe("always() && steps.pr.outcome == 'success'");
    expect(report.run).toContain('context=infrastructure-review');
    expect(report.env?.HEAD_SHA).toBe('${{ github.event.workflow_run.head_sha }}');
    const fail = job.steps.at(-1)!;
    expect(fail.if).toBe("steps.guard.outputs.exit-code == '1'");
    expect(fail.run).toContain('exit 1');
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
    expect(runs(job)).toContain('gh api --method DELETE "repos/$REPO/issues/$NUMBER/labels/allow-stateful-replacement"');
  });

  test('runs no code of the pull request and holds no AWS rights', () => {
    expect(job.steps.some((s) => s.uses?.startsWith('actions/checkout'))).toBe(false);
    expect(runs(job)).not.toMatch(/npm|npx|node /);
    expect(wf.permissions).toEqual({});
    expect(job.permissions).toEqual({ issues: 'write', 'pull-requests': 'write' });
  });
});

describe('deploy workflow', () => {
  const wf = workflow('deploy.yml');

  test('main deploys dev then staging; prod only by manual dispatch through its environment', () => {
    expect(Object.keys(wf.on)).toEqual(['push', 'workflow_dispatch']);
    expect(wf.jobs.dev.if).toBe("github.event_name == 'push'");
    expect(wf.jobs.staging.needs).toBe('dev');
    expect(wf.jobs.prod.if).toBe("github.event_name == 'workflow_dispatch'");
    expect(wf.jobs.prod.environment).toBe('prod');
    for (const stage of ['dev', 'staging', 'prod']) {
      expect(runs(wf.jobs[stage])).toContain(`npx cdk deploy '${stage}/*' --require-approval never -c stages=${stage} -c "${stage}.account=$ACCOUNT"`);
    }
  });

  test('each deploy runs preflight first, with the same overrides, waiting for the image to be replicated', () => {
    for (const stage of ['dev', 'staging', 'prod']) {
      const steps = wf.jobs[stage].steps;
      const preflightAt = steps.findIndex((s) => s.run?.includes('scripts/preflight.ts'));
      const deployAt = steps.findIndex((s) => s.run?.includes('npx cdk deploy'));
      expect(preflightAt, stage).toBeGreaterThan(-1);
      expect(preflightAt).toBeLessThan(deployAt);
      expect(steps[preflightAt].run).toContain(`--stage ${stage} -c "${stage}.account=$ACCOUNT"`);
      expect(steps[preflightAt].run).toContain('--wait-for-image 900 --lookup-role');
      expect((wf.jobs[stage] as unknown as { env: Record<string, string> }).env.ACCOUNT).toBe(`\${{ vars.AWS_${stage.toUpperCase()}_ACCOUNT_ID }}`);
    }
    expect(runs(wf.jobs.prod)).toContain('--lookup-role');
    expect(wf.jobs.prod.steps.find((s) => s.name === 'Preflight prod')!.run).toContain('-c "prod.image.tag=$DIGEST"');
  });

  test('prod deploys from main only: the first step refuses any other ref', () => {
    const first = wf.jobs.prod.steps[0];
    expect(first.env).toEqual({ REF: '${{ github.ref }}' });
    const check = (ref: string) => spawnSync('bash', ['-c', first.run!], { encoding: 'utf8', env: { ...process.env, REF: ref } });
    expect(check('refs/heads/main').status).toBe(0);
    const other = check('refs/heads/feature');
    expect(other.status).toBe(1);
    expect(other.stdout).toContain('Prod deploys from main only; this run is on refs/heads/feature');
  });

  test('two deploys of a stage never overlap', () => {
    for (const stage of ['dev', 'staging', 'prod']) {
      expect(wf.jobs[stage].concurrency).toEqual({ group: `deploy-${stage}`, 'cancel-in-progress': false });
      expect(wf.jobs[stage].environment).toBe(stage);
    }
  });

  test('prod deploys the digest staging runs unless one is given', () => {
    const script = runs(wf.jobs.prod);
    expect(script).toContain('tasks[0].containers[0].imageDigest');
    expect(script).toMatch(/\^sha256:\[a-f0-9\]\{64\}\$/);
    expect(script).toContain('-c "prod.image.tag=$DIGEST"');
    expect(wf.jobs.prod.steps.find((s) => s.name === 'Deploy prod')!.env).toEqual({ DIGEST: '${{ steps.image.outputs.digest }}' });
  });
});

test('ci.yml runs the README commands', () => {
  const script = runs(workflow('ci.yml').jobs.test);
  expect(script).toContain('npm ci && npm run synth');
  expect(script).toContain('npm test');
});
