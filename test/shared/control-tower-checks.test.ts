import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import type { IConstruct } from 'constructs';
import { afterAll, describe, expect, test } from 'vitest';
import { createApp } from '../../lib/app';
import { acknowledgeControl, CONTROL_TOWER_PLUGIN, ControlTowerChecks, type ControlTowerChecksProps } from '../../lib/shared/control-tower-checks';
import { CLI_CONTEXT } from '../support/synth';

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

  test('an acknowledgement without a reason is refused', () => {
    const { first } = twoBuckets();
    expect(() => acknowledgeControl(first, 's3_bucket_logging_enabled_check', '')).toThrow(/give the reason it does not apply/);
    expect(() => acknowledgeControl(first, 's3_bucket_logging_enabled_check', 'n/a')).toThrow(/not "n\/a"/);
  });

  test('knows the rule ids of the pack', () => {
    const ids = new ControlTowerChecks({ cacheDir }).ruleIds;
    expect(ids.length).toBeGreaterThan(150);
    expect(ids).toContain('kms_create_grant_aws_service_check');
  });
});

test('every Control Tower acknowledgement in the app gives its reason', () => {
  const { app } = createApp({ enableNag: false, context: { ...CLI_CONTEXT, 'aws:cdk:bundling-stacks': [] } });
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
