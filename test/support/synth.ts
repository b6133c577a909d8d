import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { App, type AppProps, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { expect } from 'vitest';
import { createApp } from '../../lib/app';
import type { StageConfig, StageName } from '../../lib/config';
import type { AppStage } from '../../lib/stages/app-stage';
import { cachedFixture, fixtureDir, keyOf } from './fixture-cache';

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
 * Context for the tests' own synths: no stack traces captured for construct metadata and
 * annotations. They go into the assembly's metadata for error reports, never into a template,
 * and took a fifth of every synth's time; the full synth in test/synth.test.ts keeps them, as
 * the CLI does.
 */
const TEST_SYNTH_CONTEXT: Record<string, unknown> = { 'aws:cdk:bundling-stacks': [], 'aws:cdk:disable-stack-trace': true, 'aws:cdk:disable-creation-stack-traces': true };

/**
 * An App as a test builds one: CDK's built-in CloudFormation validation off, as lib/app.ts has it
 * (cfn-lint checks every template of the full synth, test/synth.test.ts); on, it loads a WASM
 * engine for about a second and validates each template again.
 */
export function testApp(props: AppProps = {}): App {
  return new App({ builtinCloudFormationValidation: false, ...props });
}

/** The CLI's context with the tests' (above): for an App a test builds itself. */
export const TEST_CONTEXT: Record<string, unknown> = { ...CLI_CONTEXT, ...TEST_SYNTH_CONTEXT };

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
    context: { ...CLI_CONTEXT, ...TEST_SYNTH_CONTEXT, ...context, stages: name },
  });
  return stages[0];
}

/** What the tests read of a synthesized stack besides its template. */
export interface StackInfo {
  readonly stackName: string;
  readonly account: string;
  readonly region: string;
  readonly terminationProtection: boolean;
  /** The stacks it deploys after. */
  readonly dependencies: readonly { readonly stackName: string }[];
  /** The warnings its constructs gave at synth (Annotations). */
  readonly warnings: readonly string[];
}

/** A synthesized stage: its configuration and its stacks, by role. */
export interface StageInfo {
  readonly config: StageConfig;
  readonly network: StackInfo;
  readonly data: StackInfo;
  readonly app: StackInfo;
  readonly ops: StackInfo;
  readonly dr?: StackInfo;
  readonly pilotLight?: StackInfo;
  readonly drApp?: StackInfo;
  readonly edge?: StackInfo;
  /** The stacks outside the stage that its synth brings (image registries, CI access, the account baselines). */
  readonly shared: readonly StackInfo[];
}

/** The templates of one stage's stacks, synthesized once. */
export interface StageTemplates {
  readonly stage: StageInfo;
  readonly network: Template;
  readonly data: Template;
  readonly app: Template;
  readonly ops: Template;
  /** The DR-region stack, when the stage has one. */
  readonly dr?: Template;
  /** The pilot light in the DR region, where the stage has one (dr.pilotLight). */
  readonly pilotLight?: Template;
  /** The data, app and operations tiers in the DR region, where the stage has them (dr.appTier: a failover, or its drill). */
  readonly drApp?: Template;
  /** The us-east-1 edge stack, when the stage serves through CloudFront. */
  readonly edge?: Template;
  /** The stacks outside the stage that its synth brings (image registries, CI access), by stack name. */
  readonly shared: ReadonlyMap<string, Template>;
}

/** The stage's own templates, in deploy order (the DR, pilot-light and edge stacks where the stage has them). */
export function ownTemplates(t: StageTemplates): Template[] {
  return [t.network, ...(t.dr ? [t.dr] : []), ...(t.pilotLight ? [t.pilotLight] : []), ...(t.drApp ? [t.drApp] : []), t.data, t.app, ...(t.edge ? [t.edge] : []), t.ops];
}

/** The stage's own stacks, in ownTemplates' order. */
export function ownStacks(t: StageTemplates): StackInfo[] {
  const { network, dr, pilotLight, drApp, data, app, edge, ops } = t.stage;
  return [network, dr, pilotLight, drApp, data, app, edge, ops].filter((s): s is StackInfo => s !== undefined);
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
};

/**
 * The context of a stage as the failover and its drill deploy it, with its DR app tier
 * (`-c <stage>.dr.appTier=true`): one variant, shared by the files that read that stack, so a
 * worker synthesizes it once.
 */
export function drAppTier(name: StageName): Record<string, unknown> {
  return { [`${name}.dr.appTier`]: 'true' };
}

const ROLES = ['network', 'data', 'app', 'ops', 'dr', 'pilotLight', 'drApp', 'edge'] as const;
type Role = (typeof ROLES)[number];

/** A synthesized stage as it is kept on disk: plain JSON. */
interface StageFixture {
  readonly config: StageConfig;
  readonly stacks: Partial<Record<Role, { readonly info: StackInfo; readonly template: TemplateJson }>>;
  readonly shared: readonly { readonly info: StackInfo; readonly template: TemplateJson }[];
}
type TemplateJson = ReturnType<Template['toJSON']>;

const synthesized = new Map<string, StageTemplates>();

/**
 * One stage's stacks, synthesized as `buildStage` builds them: once for the whole run, by the
 * first worker that asks, and kept between runs until the source changes (fixture-cache.ts).
 * Files share the result; treat it as read-only (it is frozen). A test that changes constructs
 * builds its own stage with `buildStage`.
 */
export function synthStage(name: StageName, context: Record<string, unknown> = {}): StageTemplates {
  const key = keyOf(['stage', name, context]);
  const known = synthesized.get(key);
  if (known) return known;
  const file = cachedFixture(join(fixtureDir(), `stage-${name}-${key}.json`), (into) => writeFileSync(into, JSON.stringify(synthesizeStage(name, context))));
  const fixture = JSON.parse(readFileSync(file, 'utf8')) as StageFixture;
  deepFreeze(fixture);
  const template = (role: Role) => fixture.stacks[role] && Template.fromJSON(fixture.stacks[role].template, { skipCyclicalDependenciesCheck: true });
  const info = (role: Role) => fixture.stacks[role]?.info;
  const result: StageTemplates = {
    stage: {
      config: fixture.config,
      network: info('network')!,
      data: info('data')!,
      app: info('app')!,
      ops: info('ops')!,
      dr: info('dr'),
      pilotLight: info('pilotLight'),
      drApp: info('drApp'),
      edge: info('edge'),
      shared: fixture.shared.map((s) => s.info),
    },
    network: template('network')!,
    data: template('data')!,
    app: template('app')!,
    ops: template('ops')!,
    dr: template('dr'),
    pilotLight: template('pilotLight'),
    drApp: template('drApp'),
    edge: template('edge'),
    shared: new Map(fixture.shared.map(({ info, template }) => [info.stackName, Template.fromJSON(template, { skipCyclicalDependenciesCheck: true })] as const)),
  };
  synthesized.set(key, result);
  return result;
}

function deepFreeze(value: unknown): void {
  if (value === null || typeof value !== 'object' || Object.isFrozen(value)) return;
  Object.freeze(value);
  for (const child of Object.values(value)) deepFreeze(child);
}

/** The warnings on a stack's constructs after synthesis (what Annotations.fromStack reads). */
function warningsOf(stack: Stack): string[] {
  return stack.node
    .findAll()
    .filter((c) => c === stack || Stack.of(c) === stack)
    .flatMap((c) => c.node.metadata.filter((m) => m.type === 'aws:cdk:warning').map((m) => String(m.data)));
}

function stackInfo(stack: Stack): StackInfo {
  return {
    stackName: stack.stackName,
    account: stack.account,
    region: stack.region,
    terminationProtection: stack.terminationProtection,
    dependencies: stack.dependencies.map((d) => ({ stackName: d.stackName })),
    warnings: warningsOf(stack),
  };
}

function synthesizeStage(name: StageName, context: Record<string, unknown>): StageFixture {
  const stage = buildStage(name, context);
  const stacks: StageFixture['stacks'] = {};
  for (const role of ROLES) {
    const stack = stage[role];
    if (!stack) continue;
    // Synthesizes the stage (the first time); the warnings are on the constructs after that.
    stacks[role] = { template: Template.fromStack(stack).toJSON(), info: stackInfo(stack) };
  }
  const shared = stage.node.root.node.children
    .filter((c): c is Stack => Stack.isStack(c))
    .map((stack) => ({ template: Template.fromStack(stack).toJSON(), info: stackInfo(stack) }));
  return { config: stage.config, stacks, shared };
}

/**
 * Synthesizes the app into `outdir` like `cdk synth` would (without bundling or CloudFormation
 * validation), after `change` has edited the stages: fixtures for the operator scripts, which read
 * assemblies. `stages` narrows what is synthesized, as `-c stages=` does.
 *
 * The assembly is kept with the run's fixtures and copied into `outdir`. A `change` is known by
 * the test file that makes it (any edit to that file synthesizes again) and its `variant` name,
 * unique within the file.
 */
export function synthAssembly(
  outdir: string,
  {
    stages = 'dev,staging,prod',
    change,
    variant,
    context = {},
  }: { stages?: string; change?: (stages: AppStage[]) => void; variant?: string; context?: Record<string, unknown> } = {},
): string {
  if (change && !variant) throw new Error('synthAssembly: a change needs a variant name, unique within its test file, to be kept by');
  const caller = expect.getState().testPath;
  const changeKey = change && [variant, caller ? keyOf(readFileSync(caller, 'utf8')) : 'no-caller'];
  const key = keyOf(['assembly', stages, context, changeKey ?? null]);
  const cached = cachedFixture(join(fixtureDir(), `assembly-${key}`), (into) => {
    const built = createApp({
      outdir: into,
      enableNag: false,
      builtinCloudFormationValidation: false,
      context: { ...CLI_CONTEXT, ...TEST_SYNTH_CONTEXT, ...context, stages },
    });
    change?.(built.stages);
    built.app.synth();
  });
  cpSync(cached, outdir, { recursive: true });
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
