import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { expect } from 'vitest';
import { createApp } from '../../lib/app';
import type { StageName } from '../../lib/config';
import type { AppStage } from '../../lib/stages/app-stage';

/**
 * The context the CDK CLI gives `bin/app.ts`: `cdk.json`'s (feature flags above all) plus the
 * CLI's own defaults for metadata. Tests pass the same, or they would assert on templates the CLI
 * never produces (cfn-lint, for one, recognizes a CDK template by its `AWS::CDK::Metadata`
 * resource and then skips checks that do not apply to CDK output, such as W3010 on AZ names).
 */
export const CLI_CONTEXT: Record<string, unknown> = {
  ...JSON.parse(readFileSync(join(__dirname, '..', '..', 'cdk.json'), 'utf8')).context,
  'aws:cdk:enable-path-metadata': true,
  'aws:cdk:enable-asset-metadata': true,
  'aws:cdk:version-reporting': true,
};

/**
 * Builds the app for one stage, as `bin/app.ts` would, without the cdk-nag plugins, CDK's
 * built-in template validation and Lambda bundling (the full-synth test in `test/synth.test.ts`
 * runs all three; `cdk deploy <stack>` skips bundling other stacks the same way). Call it once per
 * stage per file, in `beforeAll`, and reuse the result: synthesis is the slow part.
 */
export function buildStage(name: StageName, context: Record<string, unknown> = {}): AppStage {
  const { stages } = createApp({
    enableNag: false,
    builtinCloudFormationValidation: false,
    context: { ...CLI_CONTEXT, 'aws:cdk:bundling-stacks': [], ...context, stages: name },
  });
  return stages[0];
}

/** The templates of one stage's stacks, synthesized once. */
export interface StageTemplates {
  readonly stage: AppStage;
  readonly network: Template;
  readonly data: Template;
  readonly app: Template;
  readonly ops: Template;
  /** The DR-region stack, when the stage has one. */
  readonly dr?: Template;
  /** The us-east-1 edge stack, when the stage serves through CloudFront. */
  readonly edge?: Template;
  /** The stacks outside the stage that its synth brings (image registries, CI access), by stack name. */
  readonly shared: ReadonlyMap<string, Template>;
}

/** The templates of the stage's own stacks, in deploy order (the DR and edge stacks where the stage has them). */
export function ownTemplates(t: StageTemplates): Template[] {
  return [t.network, ...(t.dr ? [t.dr] : []), t.data, t.app, ...(t.edge ? [t.edge] : []), t.ops];
}

/**
 * A dev variant with different alarm settings, recipients and budget, shared by the files that
 * need such a variant so a worker synthesizes it once.
 */
export const DEV_OPERATIONS_OVERRIDES: Record<string, unknown> = {
  'dev.operations.rdsCpuPercent': 65,
  'dev.alarms.emails': '[]',
  'dev.alarms.httpsEndpoints': '["https://events.pagerduty.com/integration/abc/enqueue"]',
  'dev.monthlyBudgetUsd': 90,
  'dev.operations.queueMetrics': true,
  'dev.operations.queueOldestJobSeconds': 900,
};

const synthesized = new Map<string, StageTemplates>();

/**
 * Synthesizes one stage's stacks, once per test worker: files running in the same worker (vitest
 * runs them without isolation, see vitest.config.mts) share the result. Treat it as read-only;
 * a test that changes constructs builds its own stage with `buildStage`.
 */
export function synthStage(name: StageName, context: Record<string, unknown> = {}): StageTemplates {
  const key = JSON.stringify([name, context]);
  const cached = synthesized.get(key);
  if (cached) return cached;
  const result = synthesizeStage(name, context);
  // Shared by every file of the worker: frozen, so no test can change what another one reads.
  for (const template of [result.network, result.data, result.app, result.ops, result.dr, result.edge, ...result.shared.values()]) if (template) deepFreeze(template.toJSON());
  synthesized.set(key, result);
  return result;
}

function deepFreeze(value: unknown): void {
  if (value === null || typeof value !== 'object' || Object.isFrozen(value)) return;
  Object.freeze(value);
  for (const child of Object.values(value)) deepFreeze(child);
}

function synthesizeStage(name: StageName, context: Record<string, unknown>): StageTemplates {
  const stage = buildStage(name, context);
  return {
    stage,
    network: Template.fromStack(stage.network),
    data: Template.fromStack(stage.data),
    app: Template.fromStack(stage.app),
    ops: Template.fromStack(stage.ops),
    dr: stage.dr && Template.fromStack(stage.dr),
    edge: stage.edge && Template.fromStack(stage.edge),
    shared: new Map(stage.node.root.node.children.filter((c): c is Stack => Stack.isStack(c)).map((stack) => [stack.stackName, Template.fromStack(stack)] as const)),
  };
}

/**
 * Synthesizes the app into `outdir` like `cdk synth` would (without bundling or CloudFormation
 * validation), after `change` has edited the stages: fixtures for the operator scripts, which read
 * assemblies. `stages` narrows what is synthesized, as `-c stages=` does.
 */
export function synthAssembly(
  outdir: string,
  { stages = 'dev,staging,prod', change, context = {} }: { stages?: string; change?: (stages: AppStage[]) => void; context?: Record<string, unknown> } = {},
): string {
  const built = createApp({
    outdir,
    enableNag: false,
    builtinCloudFormationValidation: false,
    context: { ...CLI_CONTEXT, 'aws:cdk:bundling-stacks': [], ...context, stages },
  });
  change?.(built.stages);
  built.app.synth();
  return outdir;
}

/** A physical name `prefix` + the last 12 hex digits of the stack id's UUID, as StageStack.creationSuffix writes it. */
export function creationSuffixed(prefix: string): unknown {
  const uuid = { 'Fn::Select': [2, { 'Fn::Split': ['/', { Ref: 'AWS::StackId' }] }] };
  return { 'Fn::Join': ['', [prefix, { 'Fn::Select': [4, { 'Fn::Split': ['-', uuid] }] }]] };
}

/**
 * A cross-stack read as the templates carry it (lib/shared/cross-stack-reads.ts): the
 * Fn::GetStackOutput joined to its producer marker. `read` is matched with vitest's expect.
 */
export function stackOutput(read: unknown): unknown {
  return { 'Fn::Join': ['', [{ 'Fn::GetStackOutput': read }, { 'Fn::Select': [0, ['', expect.stringMatching(/^producer:/)]] }]] };
}

/** The same for CDK's Template matchers: `read` is a Match pattern. */
export function stackOutputLike(read: unknown): unknown {
  return { 'Fn::Join': ['', [{ 'Fn::GetStackOutput': read }, Match.anyValue()]] };
}
