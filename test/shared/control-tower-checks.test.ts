import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sns from 'aws-cdk-lib/aws-sns';
import type { IConstruct } from 'constructs';
import { afterAll, describe, expect, test } from 'vitest';
import { createApp } from '../../lib/app';
import { acknowledgeControl, CONTROL_TOWER_PLUGIN, ControlTowerChecks, type ControlTowerChecksProps } from '../../lib/shared/control-tower-checks';
import { TEST_CONTEXT } from '../support/synth';

const cacheDir = mkdtempSync(join(tmpdir(), 'control-tower-'));
afterAll(() => rmSync(cacheDir, { recursive: true, force: true }));

/** A stack with two buckets that have no access logging (one control finding each). */
function twoBuckets(props: ControlTowerChecksProps = { cacheDir }) {
  const app = new App({ builtinCloudFormationValidation: false, outdir: mkdtempSync(join(cacheDir, 'out-')) });
  Validations.of(app).addPlugins(new ControlTowerChecks(props));
  const stack = new Stack(app, 'Checked', { env: { account: '123456789012', region: 'eu-west-1' } });
  const bucket = (id: string) =>
    new s3.Bucket(stack, id, { enforceSSL: true, versioned: true, blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL, removalPolicy: RemovalPolicy.DESTROY });
  return { app, first: bucket('First'), second: bucket('Second') };
}

/** What else the pack finds on such a bucket. */
const OTHER_BUCKET_RULES = [
  's3_bucket_object_lock_enabled_check',
  's3_event_notifications_enabled_check',
  's3_bucket_default_encryption_kms_check',
  's3_lifecycle_policy_check',
  's3_version_lifecycle_policy_check',
];

const synthError = (app: App): string => {
  try {
    app.synth();
  } catch (error) {
    return (error as Error).message;
  }
  return '';
};

describe('the Control Tower plugin at synth', () => {
  test('reports each finding with its construct and fails synth', () => {
    const message = synthError(twoBuckets().app);
    expect(message).toMatch(/^ERROR \[CT\./m);
    expect(message).toMatch(/\[CT\.S3\.PR\.2\].*\n\s+Checked\/First\/Resource/);
    expect(message).toMatch(/Checked\/Second\/Resource/);
    expect(message).toContain(`Acknowledge with '${CONTROL_TOWER_PLUGIN}::s3_bucket_logging_enabled_check'`);
  });

  test('an acknowledgement on one bucket covers that bucket only: the other still fails synth', () => {
    const { app, first } = twoBuckets();
    acknowledgeControl(first, 's3_bucket_logging_enabled_check', 'A test bucket whose access is logged elsewhere, for this test.');
    for (const rule of OTHER_BUCKET_RULES) {
      acknowledgeControl(first, rule, 'Not what this test is about; acknowledged so only logging is left.');
    }
    const message = synthError(app);
    expect(message).toMatch(/^ERROR \[CT\./m);
    expect(message).not.toMatch(/Checked\/First\/Resource/);
    expect(message).toMatch(/Checked\/Second\/Resource/);
  });

  test('with every finding acknowledged on its construct, synth passes', () => {
    const { app, first, second } = twoBuckets();
    for (const bucket of [first, second] as IConstruct[]) {
      for (const rule of ['s3_bucket_logging_enabled_check', ...OTHER_BUCKET_RULES]) {
        acknowledgeControl(bucket, rule, 'Not what this test is about; acknowledged on purpose.');
      }
    }
    expect(synthError(app)).toBe('');
  });

  test('checks that cannot run fail synth instead of passing in silence', () => {
    const { app } = twoBuckets({
      cacheDir: mkdtempSync(join(cacheDir, 'broken-')),
      runGuard: () => {
        throw new Error('cfn-guard output it cannot read');
      },
    });
    const message = synthError(app);
    expect(message).toMatch(/^ERROR The Control Tower checks could not run on this template: cfn-guard output it cannot read/m);
    expect(message).toContain(`Acknowledge with '${CONTROL_TOWER_PLUGIN}::control-tower-checks-failed'`);
  });

  test('results are kept by what decides them: an unchanged template is not checked again', () => {
    const dir = mkdtempSync(join(cacheDir, 'cache-'));
    let runs = 0;
    const counting: ControlTowerChecksProps = {
      cacheDir: dir,
      runGuard: () => {
        runs += 1;
        return [];
      },
    };
    expect(synthError(twoBuckets(counting).app)).toBe('');
    expect(synthError(twoBuckets(counting).app)).toBe('');
    expect(runs).toBe(1);
    expect(readdirSync(dir).filter((f) => f.endsWith('.template.json'))).toHaveLength(1);
  });

  test('checks a template only with the rules that read its types, against only those resources, without CDK metadata', () => {
    const calls: { rules: readonly string[]; template: { Resources: Record<string, { Type: string; Metadata?: unknown }> } }[] = [];
    const spying: ControlTowerChecksProps = {
      cacheDir: mkdtempSync(join(cacheDir, 'spy-')),
      runGuard: (rules, templatePath) => {
        calls.push({ rules, template: JSON.parse(readFileSync(templatePath, 'utf8')) });
        return [];
      },
    };
    const { app } = twoBuckets(spying);
    const stack = app.node.findChild('Checked') as Stack;
    new sns.Topic(stack, 'Topic');
    expect(synthError(app)).toBe('');
    expect(calls).toHaveLength(1);
    const [{ rules, template }] = calls;
    expect(rules.some((r) => r.includes('/s3/'))).toBe(true);
    expect(rules.some((r) => r.includes('/rds/'))).toBe(false);
    // The buckets and their policies; the topic no rule reads stays out; no resource keeps its metadata.
    expect(
      Object.values(template.Resources)
        .map((r) => r.Type)
        .sort(),
    ).toEqual(['AWS::S3::Bucket', 'AWS::S3::Bucket', 'AWS::S3::BucketPolicy', 'AWS::S3::BucketPolicy']);
    for (const r of Object.values(template.Resources)) expect(r.Metadata).toBeUndefined();
  });

  test('a template no rule reads is not checked at all', () => {
    let runs = 0;
    const app = new App({ builtinCloudFormationValidation: false, outdir: mkdtempSync(join(cacheDir, 'out-')) });
    Validations.of(app).addPlugins(
      new ControlTowerChecks({
        cacheDir: mkdtempSync(join(cacheDir, 'none-')),
        runGuard: () => {
          runs += 1;
          return [];
        },
      }),
    );
    new sns.Topic(new Stack(app, 'TopicOnly'), 'Topic');
    expect(synthError(app)).toBe('');
    expect(runs).toBe(0);
  });

  test('what a kept resource references stays in the checked template, as its type alone (rules look such references up)', () => {
    // A function permission whose source is a topic: the public-access rule accepts a Ref only to a
    // resource of the template. Without the topic's stub it would report the permission.
    const app = new App({ builtinCloudFormationValidation: false, outdir: mkdtempSync(join(cacheDir, 'out-')) });
    Validations.of(app).addPlugins(new ControlTowerChecks({ cacheDir }));
    const stack = new Stack(app, 'Permission', { env: { account: '123456789012', region: 'eu-west-1' } });
    const topic = new sns.Topic(stack, 'Topic');
    new lambda.CfnPermission(stack, 'Invoke', { action: 'lambda:InvokeFunction', functionName: 'some-function', principal: 'sns.amazonaws.com', sourceArn: topic.topicArn });
    expect(synthError(app)).toBe('');
  });

  test('the report fails with any finding and passes without', () => {
    const dir = mkdtempSync(join(cacheDir, 'direct-'));
    const template = join(dir, 'stack.template.json');
    writeFileSync(template, JSON.stringify({ Resources: { Bucket: { Type: 'AWS::S3::Bucket', Properties: {} } } }));
    const finding = { ruleName: 'r', description: 'd', violatingResources: [{ resourceLogicalId: 'Bucket', templatePath: '', locations: [] }] };
    const context = { templatePaths: [template] } as never;
    expect(new ControlTowerChecks({ cacheDir: dir, runGuard: () => [finding] }).validate(context)).toMatchObject({
      success: false,
      violations: [{ ruleName: 'r', severity: 'error' }],
    });
    expect(new ControlTowerChecks({ cacheDir: mkdtempSync(join(cacheDir, 'direct-')), runGuard: () => [] }).validate(context)).toEqual({ success: true, violations: [] });
  });

  test('an acknowledgement without a reason is refused', () => {
    const { first } = twoBuckets();
    expect(() => acknowledgeControl(first, 's3_bucket_logging_enabled_check', '')).toThrow(/give the reason it does not apply/);
    expect(() => acknowledgeControl(first, 's3_bucket_logging_enabled_check', 'n/a')).toThrow(/not "n\/a"/);
    expect(() => acknowledgeControl(first, 's3_bucket_logging_enabled_check', `  ${'x'.repeat(19)}  `)).toThrow(/give the reason/);
    expect(() => acknowledgeControl(first, 's3_bucket_logging_enabled_check', 'x'.repeat(20))).not.toThrow();
  });

  test('knows the rule ids of the pack', () => {
    const ids = new ControlTowerChecks({ cacheDir }).ruleIds;
    expect(ids.length).toBeGreaterThan(150);
    expect(ids).toContain('kms_create_grant_aws_service_check');
  });
});

test('every Control Tower acknowledgement in the app gives its reason', () => {
  const { app } = createApp({ enableNag: false, context: TEST_CONTEXT });
  const acknowledged: { path: string; rule: string; reason: string }[] = [];
  for (const c of app.node.findAll()) {
    for (const entry of c.node.metadata) {
      if (entry.type !== Validations.ACKNOWLEDGED_RULES_METADATA_KEY) continue;
      for (const [rule, reason] of Object.entries(entry.data as Record<string, string>)) {
        if (rule.startsWith(`${CONTROL_TOWER_PLUGIN}::`)) acknowledged.push({ path: c.node.path, rule, reason });
      }
    }
  }
  expect(acknowledged.length).toBeGreaterThan(100);
  for (const a of acknowledged) expect(a.reason.trim().length, `${a.path} ${a.rule}`).toBeGreaterThanOrEqual(40);
});
