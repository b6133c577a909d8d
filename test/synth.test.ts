import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createApp } from '../lib/app';
import { STAGE_NAMES, STAGES } from '../lib/config';
import { MIN_BOOTSTRAP_VERSION } from '../scripts/lib/preflight';
import { CLI_CONTEXT, drAppTier } from './support/synth';

const ROOT = join(__dirname, '..');
/** The stages with a pilot light, where a failover can turn the DR app tier on. */
const DR_APP_STAGES = STAGE_NAMES.filter((name) => STAGES[name].dr?.pilotLight);

interface Artifact {
  type: string;
  environment?: string;
  properties?: { stackName?: string; templateFile?: string; requiresBootstrapStackVersion?: number; lookupRole?: { requiresBootstrapStackVersion?: number } };
}

/** The stack artifacts of every manifest under an assembly folder (nested stage assemblies included). */
function stacksUnder(dir: string): { dir: string; artifact: Artifact }[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name === 'manifest.json')
    .flatMap((e) => {
      const manifest = JSON.parse(readFileSync(join(e.parentPath, e.name), 'utf8'));
      return Object.values(manifest.artifacts as Record<string, Artifact>)
        .filter((a) => a.type === 'aws:cloudformation:stack')
        .map((artifact) => ({ dir: e.parentPath, artifact }));
    });
}

/** Template paths grouped by the region their stack deploys to (aws://account/region). */
function templatesByRegion(dir: string): Map<string, string[]> {
  const byRegion = new Map<string, string[]>();
  for (const { dir: assemblyDir, artifact } of stacksUnder(dir)) {
    const region = artifact.environment!.split('/').pop()!;
    byRegion.set(region, [...(byRegion.get(region) ?? []), join(assemblyDir, artifact.properties!.templateFile!)]);
  }
  return byRegion;
}

interface CfnLintMatch {
  Rule: { Id: string };
  Level: string;
  Message: string;
  Filename: string;
  Location: { Path: (string | number)[] };
}

function cfnLint(region: string, files: string[]): Promise<{ region: string; status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('cfn-lint', ['--config-file', join(ROOT, '.cfnlintrc.yaml'), '--format', 'json', '--regions', region, '--', ...files]);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.once('error', (error: NodeJS.ErrnoException) =>
      reject(
        error.code === 'ENOENT'
          ? new Error('cfn-lint is not installed or not on PATH. Install it with: pip install -r requirements-dev.txt (then check: cfn-lint --version)')
          : error,
      ),
    );
    child.once('close', (status) => resolve({ region, status, stdout, stderr }));
  });
}

/**
 * cfn-lint's findings for a template, remembered by what decides them: the cfn-lint version,
 * .cfnlintrc.yaml, the region and the template's bytes. A template that changed in any byte (an
 * asset hash included) is linted again; an unchanged one is not linted twice on one machine.
 * CI starts from a fresh clone, so it lints everything.
 */
const LINT_CACHE = join(ROOT, 'node_modules', '.cache', 'cfn-lint');

/** `cfn-lint --version`, started at once: it runs while the app synthesizes. */
function cfnLintVersion(): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('cfn-lint', ['--version']);
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
    });
    child.once('error', () => reject(new Error('cfn-lint is not installed or not on PATH. Install it with: pip install -r requirements-dev.txt (then check: cfn-lint --version)')));
    child.once('close', () => resolve(out.trim()));
  });
}

const LINT_CONFIG = readFileSync(join(ROOT, '.cfnlintrc.yaml'));

function lintKey(version: string, region: string, file: string): string {
  return createHash('sha256').update(version).update('\0').update(LINT_CONFIG).update('\0').update(region).update('\0').update(readFileSync(file)).digest('hex');
}

/** cfn-lint on the templates of one region, from the cache where it has linted the same bytes before. */
async function cachedCfnLint(version: string, region: string, files: string[]): Promise<{ region: string; status: number | null; stdout: string; stderr: string }> {
  mkdirSync(LINT_CACHE, { recursive: true });
  const keys = new Map(files.map((f) => [f, lintKey(version, region, f)]));
  const known = new Map<string, CfnLintMatch[]>();
  for (const [file, key] of keys) {
    const entry = join(LINT_CACHE, `${key}.json`);
    if (existsSync(entry)) known.set(file, JSON.parse(readFileSync(entry, 'utf8')) as CfnLintMatch[]);
  }
  const fresh = files.filter((f) => !known.has(f));
  if (fresh.length === 0) return { region, status: 0, stdout: JSON.stringify([...known.values()].flat()), stderr: '' };
  const run = await cfnLint(region, fresh);
  const matches = JSON.parse(run.stdout || '[]') as CfnLintMatch[];
  // Only a clean, complete run is remembered; findings are reported and linted again next time.
  if (run.status === 0 && run.stderr === '' && matches.length === 0) {
    for (const file of fresh) writeFileSync(join(LINT_CACHE, `${keys.get(file)}.json`), '[]');
  }
  return { ...run, stdout: JSON.stringify([...[...known.values()].flat(), ...matches]) };
}

/**
 * The CLI's context, with the DR app tier of every stage that has a pilot light turned on as the
 * failover and its drill turn it on (`-c <stage>.dr.appTier=true`): the checks below then cover
 * that stack too, which no shipped config synthesizes (it changes no other stack: test/dr/dr-app-stack.test.ts).
 * Staging gets Slack channels on both alarm routes too (no shipped config has them): their
 * configurations, role and CDK's log-retention function, in every stack that owns alarm topics.
 */
const SLACK_CHANNELS = { 'staging.alarms.slack.workspaceId': 'T0123ABCD', 'staging.alarms.slack.pageChannelId': 'C0123ABCD', 'staging.alarms.slack.ticketChannelId': 'C0456EFGH' };
const FULL_SYNTH_CONTEXT = { ...CLI_CONTEXT, ...Object.assign({}, ...DR_APP_STAGES.map((name) => drAppTier(name))), ...SLACK_CHANNELS };

/**
 * The real synth of every stage, as `npm run synth` does it: cdk-nag packs registered and CDK's
 * no CloudFormation validation of its own (cfn-lint below does that). It throws on any unacknowledged finding.
 */
describe('full synth of all stages', () => {
  let outdir: string;
  let templates: Map<string, string[]>;

  let version: Promise<string>;
  let broken: Promise<{ file: string; ids: string[] }>;

  beforeAll(() => {
    // cfn-lint's own start-up runs beside the synth: its version, and a broken template (below).
    version = cfnLintVersion();
    broken = version.then(async (v) => {
      const file = join(mkdtempSync(join(tmpdir(), 'lint-bad-')), 'broken.template.json');
      writeFileSync(file, JSON.stringify({ Resources: { Bucket: { Type: 'AWS::S3::Bucket', Properties: { BucketNam: 'typo' } } } }));
      const run = await cachedCfnLint(v, 'eu-west-1', [file]);
      return { file, ids: (JSON.parse(run.stdout) as CfnLintMatch[]).map((m) => m.Rule.Id) };
    });
    outdir = mkdtempSync(join(tmpdir(), 'synth-'));
    // CDK announces each asset it bundles (while it builds the app) on stderr; shown only if the synth fails.
    const said: string[] = [];
    const write = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((chunk: string | Uint8Array) => said.push(String(chunk)) > 0) as typeof process.stderr.write;
    try {
      const { app } = createApp({ outdir, context: FULL_SYNTH_CONTEXT });
      app.synth();
    } catch (error) {
      write(said.join(''));
      throw error;
    } finally {
      process.stderr.write = write;
    }
    templates = templatesByRegion(outdir);
  });
  afterAll(() => rmSync(outdir, { recursive: true, force: true }));

  test('writes one assembly per stage with the stage stacks, the DR app tier of each stage with a pilot light among them', () => {
    for (const name of STAGE_NAMES) {
      const stacks = stacksUnder(join(outdir, `assembly-${name}`)).map(({ artifact }) => [artifact.properties?.stackName, artifact.environment]);
      expect(stacks).toContainEqual([`${name}-Network`, `aws://${STAGES[name].account}/${STAGES[name].region}`]);
      if (DR_APP_STAGES.includes(name)) expect(stacks).toContainEqual([`${name}-DrApp`, `aws://${STAGES[name].account}/${STAGES[name].drRegion}`]);
    }
    expect(DR_APP_STAGES).toEqual(['staging', 'prod']);
    // The Slack channels are in the synth the checks below read: two, in the stage region's network
    // stack only (AWS allows one configuration per Slack channel in an account).
    const channels = stacksUnder(join(outdir, 'assembly-staging')).map(({ dir, artifact }) => {
      const template = JSON.parse(readFileSync(join(dir, artifact.properties!.templateFile!), 'utf8')) as { Resources: Record<string, { Type: string }> };
      return [artifact.properties?.stackName, Object.values(template.Resources).filter((r) => r.Type === 'AWS::Chatbot::SlackChannelConfiguration').length];
    });
    expect(channels.filter(([, count]) => count !== 0)).toEqual([['staging-Network', 2]]);
  });

  // Each project function's bundle (ProjectFunction: `index.<export>`; CDK's own framework
  // functions are CDK's to test), as Lambda would load it: its handler module required with the
  // function's environment (values CloudFormation fills in at deploy stand in as placeholders),
  // the named export a function. A bundle that misses a module, or a handler name that names
  // nothing, fails here rather than on the first invoke after a deploy.
  test("every project function's bundle loads and exports the handler its function names", () => {
    const functions = stacksUnder(outdir).flatMap(({ dir, artifact }) => {
      const template = JSON.parse(readFileSync(join(dir, artifact.properties!.templateFile!), 'utf8')) as {
        Resources: Record<string, { Type: string; Metadata?: Record<string, string>; Properties: Record<string, unknown> }>;
      };
      return Object.entries(template.Resources)
        .filter(([, r]) => r.Type === 'AWS::Lambda::Function' && r.Metadata?.['aws:asset:path'] && /^index\./.test(r.Properties.Handler as string))
        .map(([id, r]) => {
          const handler = r.Properties.Handler as string;
          const variables = ((r.Properties.Environment as { Variables?: Record<string, unknown> } | undefined)?.Variables ?? {}) as Record<string, unknown>;
          return {
            id: `${artifact.properties!.stackName} ${id}`,
            file: join(dir, r.Metadata!['aws:asset:path'], `${handler.slice(0, handler.lastIndexOf('.'))}.js`),
            exported: handler.slice(handler.lastIndexOf('.') + 1),
            env: Object.fromEntries(Object.entries(variables).map(([k, v]) => [k, typeof v === 'string' ? v : `deploy-time-${k}`])),
          };
        });
    });
    expect(new Set(functions.map((f) => f.exported))).toEqual(new Set(['onEvent', 'isComplete', 'onNotification', 'handler', 'onHook']));
    const unique = [...new Map(functions.map((f) => [`${f.file} ${f.exported}`, f])).values()];
    const check = `
      const results = [];
      for (const f of JSON.parse(require('fs').readFileSync(0, 'utf8'))) {
        const saved = { ...process.env };
        Object.assign(process.env, f.env);
        try { results.push([f.id, typeof require(f.file)[f.exported]]); } catch (e) { results.push([f.id, 'fails to load: ' + e.message.split(String.fromCharCode(10))[0]]); }
        process.env = saved;
      }
      process.stdout.write(JSON.stringify(results));`;
    // Lambda's Node.js runtime provides the AWS SDK v3 the bundles leave out; here, the project's copy.
    const run = spawnSync(process.execPath, ['-e', check], {
      input: JSON.stringify(unique),
      encoding: 'utf8',
      cwd: tmpdir(),
      env: { ...process.env, NODE_PATH: join(ROOT, 'node_modules') },
    });
    expect(run.stderr).toBe('');
    const loaded = JSON.parse(run.stdout) as [string, string][];
    expect(loaded.filter(([, type]) => type !== 'function')).toEqual([]);
    expect(loaded).toHaveLength(unique.length);
  });

  test('the CDK bootstrap version preflight asks for covers every stack of every stage, its lookup role included', () => {
    const stacks = stacksUnder(outdir).map(({ artifact }) => artifact.properties ?? {});
    const needed = stacks.flatMap((p) => [p.requiresBootstrapStackVersion ?? 0, p.lookupRole?.requiresBootstrapStackVersion ?? 0]);
    expect(stacks.every((p) => (p.requiresBootstrapStackVersion ?? 0) > 0 && (p.lookupRole?.requiresBootstrapStackVersion ?? 0) > 0)).toBe(true);
    expect(Math.max(...needed)).toBeLessThanOrEqual(MIN_BOOTSTRAP_VERSION);
  });

  // Each template is linted against the region it deploys to, so region-specific checks mean
  // something; the regions run in parallel. On a fresh clone nothing is cached and cfn-lint reads
  // every template (a minute of CPU on a loaded 2-core machine): the limit leaves that run room.
  test('cfn-lint finds nothing beyond the checks ignored in .cfnlintrc.yaml', { timeout: 300_000 }, async () => {
    expect(templates.size).toBeGreaterThan(0);
    const v = await version;
    const runs = await Promise.all([...templates].map(([region, files]) => cachedCfnLint(v, region, files)));
    for (const run of runs) {
      const matches = JSON.parse(run.stdout || '[]') as CfnLintMatch[];
      const lines = matches.map((m) => `${m.Rule.Id} ${m.Level} ${m.Filename}: ${m.Location.Path.join('/')}: ${m.Message}`);
      expect(lines, `cfn-lint in ${run.region}`).toEqual([]);
      expect(run.stderr).toBe('');
      expect(run.status).toBe(0);
    }
  });

  test('cfn-lint does report a broken template, and one with findings is never remembered as clean', async () => {
    const { file, ids } = await broken;
    try {
      expect(ids).toContain('E3002');
      expect(existsSync(join(LINT_CACHE, `${lintKey(await version, 'eu-west-1', file)}.json`))).toBe(false);
    } finally {
      rmSync(join(file, '..'), { recursive: true, force: true });
    }
  });
});

test('every App a test builds leaves the template checks to cfn-lint here, as lib/app.ts does (testApp, createApp)', () => {
  // CDK's built-in validation costs a WASM engine's start and a second pass per template.
  const testDir = __dirname;
  const offenders = readdirSync(testDir, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts'))
    .flatMap((f) =>
      readFileSync(join(testDir, f), 'utf8')
        .split('\n')
        .map((line, i) => ({ where: `test/${f}:${i + 1}`, line }))
        .filter(({ line }) => /new (cdk\.)?App\(/.test(line) && !line.includes('builtinCloudFormationValidation: false')),
    );
  expect(offenders.map((o) => o.where)).toEqual([]);
});

describe('synth fails closed', () => {
  test('an unacknowledged cdk-nag finding fails the synth', () => {
    const outdir = mkdtempSync(join(tmpdir(), 'synth-bad-'));
    try {
      // Only the nag gate is under test: no bundling, no CloudFormation validation.
      const { app, stages } = createApp({
        outdir,
        builtinCloudFormationValidation: false,
        context: { ...CLI_CONTEXT, 'aws:cdk:bundling-stacks': [], stages: 'dev' },
      });
      new s3.Bucket(stages[0].network, 'UnloggedBucket');
      expect(() => app.synth()).toThrow(/AwsSolutions-S1/);
    } finally {
      rmSync(outdir, { recursive: true, force: true });
    }
  });

  test("cdk.json's app command, as the CDK CLI runs it, prints the config problem and exits 1, without a stack trace", () => {
    const outdir = mkdtempSync(join(tmpdir(), 'synth-cfg-'));
    try {
      // The CLI runs the command in a shell, with node_modules/.bin first on PATH under npx.
      const { app } = JSON.parse(readFileSync(join(ROOT, 'cdk.json'), 'utf8')) as { app: string };
      const path = [join(ROOT, 'node_modules', '.bin'), dirname(process.execPath), process.env.PATH].join(delimiter);
      const run = spawnSync(app, {
        shell: true,
        cwd: ROOT,
        encoding: 'utf8',
        env: { ...process.env, PATH: path, CDK_OUTDIR: outdir, CDK_CONTEXT_JSON: JSON.stringify({ 'prod.database.multiAz': false }) },
      });
      expect(run.status).toBe(1);
      expect(run.stderr).toContain('stage "prod", field "database.multiAz", value false');
      expect(run.stderr).toContain('Fix: set database.multiAz: true');
      expect(run.stderr).not.toMatch(/\n\s+at /);
    } finally {
      rmSync(outdir, { recursive: true, force: true });
    }
  });
});
