import { Template } from 'aws-cdk-lib/assertions';
import { createApp } from '../../lib/app';
import type { StageName } from '../../lib/config';
import type { AppStage } from '../../lib/stages/app-stage';

/**
 * Builds the app for one stage, as `bin/app.ts` would, without the cdk-nag plugins and CDK's
 * built-in template validation (the nag and cfn-lint tests run those). Call it once per stage per
 * file, in `beforeAll`, and reuse the result: synthesis is the slow part, assertions are cheap.
 */
export function buildStage(name: StageName, context: Record<string, unknown> = {}): AppStage {
  const { stages } = createApp({ nag: false, builtinCloudFormationValidation: false, context: { ...context, stages: name } });
  return stages[0];
}

/** The templates of one stage's stacks, synthesized once. */
export interface StageTemplates {
  readonly stage: AppStage;
  readonly network: Template;
}

export function synthStage(name: StageName, context: Record<string, unknown> = {}): StageTemplates {
  const stage = buildStage(name, context);
  return { stage, network: Template.fromStack(stage.network) };
}
