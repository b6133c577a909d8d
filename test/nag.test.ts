import * as s3 from 'aws-cdk-lib/aws-s3';
import { AwsSolutionsChecks, NIST80053R5Checks } from 'cdk-nag';
import { beforeAll, describe, expect, test } from 'vitest';
import { STAGE_NAMES, type StageName } from '../lib/config';
import type { AppStage } from '../lib/stages/app-stage';
import { buildStage, synthStage } from './support/synth';

/** Findings of both packs the app registers, as "RuleId at construct path" lines. */
function findings(stage: AppStage): string[] {
  return [new AwsSolutionsChecks(), new NIST80053R5Checks()].flatMap((pack) =>
    pack.validateScope(stage).violations.flatMap((v) => v.violatingResources.map((r) => `${v.ruleName} at ${r.constructPath}`)),
  );
}

const stages = {} as Record<StageName, AppStage>;
beforeAll(() => {
  for (const name of STAGE_NAMES) stages[name] = synthStage(name).stage;
});

describe('cdk-nag AwsSolutions and NIST 800-53 R5', () => {
  test.each(STAGE_NAMES)('%s has no unacknowledged finding', (name) => {
    expect(findings(stages[name])).toEqual([]);
  });

  test('the packs do report a finding that is not acknowledged', () => {
    const stage = buildStage('dev');
    new s3.Bucket(stage.network, 'UnloggedBucket');
    expect(findings(stage)).toContain('AwsSolutions-S1 at dev/Network/UnloggedBucket/Resource');
  });
});
