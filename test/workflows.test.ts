import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { parse } from 'yaml';

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
  needs?: string | string[];
  environment?: string;
  concurrency?: { group: string; 'cancel-in-progress': boolean };
  steps: Step[];
}
interface Workflow {
  on: Record<string, unknown>;
  permissions: Record<string, string>;
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
      expect(step.with?.['role-to-assume']).toMatch(/^arn:aws:iam::\$\{\{ vars\.AWS_(DEV|STAGING|PROD)_ACCOUNT_ID \}\}:role\/webapp-(dev|staging|prod)-(deploy|diff|release-read)$/);
    }
  });
});

describe('pull-request workflow', () => {
  const wf = workflow('pr.yml');
  const job = wf.jobs.review;

  test('runs on pull requests, label changes included, with OIDC allowed', () => {
    expect(Object.keys(wf.on)).toEqual(['pull_request']);
    expect((wf.on.pull_request as { types: string[] }).types).toEqual(expect.arrayContaining(['opened', 'synchronize', 'labeled', 'unlabeled']));
    expect(wf.permissions).toMatchObject({ 'id-token': 'write', 'pull-requests': 'write', contents: 'read' });
  });

  test('installs, tests, synthesizes head and base, runs the guard and the cost diff', () => {
    const script = runs(job);
    expect(script).toContain('npm ci');
    expect(script).toContain('npm test');
    expect(script).toMatch(/cdk synth --quiet '\*\*' \$ACCOUNTS -o "\$RUNNER_TEMP\/head\.out"/);
    expect(script).toMatch(/cdk synth --quiet '\*\*' \$ACCOUNTS -o "\$RUNNER_TEMP\/base\.out"/);
    expect(script).toMatch(/git worktree add "\$RUNNER_TEMP\/base" "\$\{\{ github\.event\.pull_request\.base\.sha \}\}"/);
    expect(script).toMatch(/scripts\/diff-guard\.ts --base "\$RUNNER_TEMP\/base\.out" --head "\$RUNNER_TEMP\/head\.out" "\$\{allow\[@\]\}" --format markdown/);
    expect(script).toMatch(/scripts\/cost\.ts --assembly "\$RUNNER_TEMP\/head\.out" --base "\$RUNNER_TEMP\/base\.out" --format markdown/);
  });

  test('only the allow-stateful-replacement label passes resources to --allow', () => {
    const guard = job.steps.find((s) => s.name === 'Stateful-replacement guard')!;
    expect(guard.run).toContain('*",allow-stateful-replacement,"*');
    expect(guard.run).toContain('allow+=(--allow "$id")');
  });

  test('the allow line of a description typed in a browser (CRLF) yields clean ids', () => {
    const guard = job.steps.find((s) => s.name === 'Stateful-replacement guard')!;
    const extract = guard.run!.split('\n').find((l) => l.includes('ids=$('))!.trim().replace(/^ids=\$\((.*)\)$/, '$1');
    const body = 'Moves the database.\r\nallow-stateful-replacement: prod/Data/DatabaseInstanceAA8A5FDE, prod/Data/CacheReplicationGroupBFE59FF3\r\n\r\nThanks';
    const out = spawnSync('bash', ['-c', extract], { encoding: 'utf8', env: { ...process.env, PR_BODY: body } });
    expect(out.stdout).not.toContain('\r');
    expect(out.stdout.replace(/\n$/, '').split(' ').filter(Boolean)).toEqual(['prod/Data/DatabaseInstanceAA8A5FDE', 'prod/Data/CacheReplicationGroupBFE59FF3']);
  });

  test('synthesizes with the real stage accounts, taken from the same repository variables as deploy.yml', () => {
    for (const stage of ['dev', 'staging', 'prod']) {
      const variable = `AWS_${stage.toUpperCase()}_ACCOUNT_ID`;
      expect((wf as unknown as { env: Record<string, string> }).env[variable]).toBe(`\${{ vars.${variable} }}`);
      expect(runs(job)).toContain(`-c ${stage}.account=$${variable}`);
    }
  });

  test('cdk diff (template method: read-only) for staging and prod only with a configured account and not from forks', () => {
    for (const stage of ['staging', 'prod']) {
      const creds = job.steps.find((s) => s.name === `AWS credentials for ${stage}`)!;
      expect(creds.if).toBe(`vars.AWS_${stage.toUpperCase()}_ACCOUNT_ID != '' && github.event.pull_request.head.repo.full_name == github.repository`);
      const diff = job.steps.find((s) => s.name === `cdk diff ${stage}`)!;
      expect(diff.run).toContain(`cdk diff --method=template --app "$RUNNER_TEMP/head.out" '${stage}/*'`);
    }
  });

  test('posts one sticky comment and fails the check on a risky change', () => {
    const comment = job.steps.find((s) => s.uses?.startsWith('marocchino/sticky-pull-request-comment'))!;
    expect(comment.with?.header).toBe('infrastructure-review');
    const fail = job.steps.at(-1)!;
    expect(fail.if).toBe("steps.guard.outputs.exit-code == '1'");
    expect(fail.run).toContain('exit 1');
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

  test('two deploys of a stage never overlap', () => {
    for (const stage of ['dev', 'staging', 'prod']) {
      expect(wf.jobs[stage].concurrency).toEqual({ group: `deploy-${stage}`, 'cancel-in-progress': false });
      expect(wf.jobs[stage].environment).toBe(stage);
    }
  });

  test('prod deploys the digest staging runs unless one is given', () => {
    const script = runs(wf.jobs.prod);
    expect(script).toContain("tasks[0].containers[0].imageDigest");
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
