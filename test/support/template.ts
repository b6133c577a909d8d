import type { Template } from 'aws-cdk-lib/assertions';
import { beforeAll, expect } from 'vitest';
import { STAGE_NAMES, type StageName } from '../../lib/config';
import { type StageTemplates, synthStage } from './synth';

/**
 * Template JSON as aws-cdk-lib/assertions types it (`Template.toJSON()`): free-form, so a test can
 * walk `Properties.ContainerDefinitions[0].Image` and compare the leaf with `Match` or `expect`.
 */
export type TemplateJson = ReturnType<Template['toJSON']>;
/** One value anywhere in a template. */
export type Json = TemplateJson[string];
/** One resource of a template: Type, Properties, DependsOn, the policies. */
export type Resource = ReturnType<Template['findResources']>[string];

/**
 * The given stages' templates, read in `beforeAll` of the calling file (synthStage synthesizes
 * each stage once for the run, and keeps it until the source changes). Read them inside tests,
 * not at collection time.
 */
export function stageTemplates(names: readonly StageName[] = STAGE_NAMES): Record<StageName, StageTemplates> {
  const templates = {} as Record<StageName, StageTemplates>;
  beforeAll(() => {
    for (const name of names) templates[name] = synthStage(name);
  });
  return templates;
}

/** Every resource of a type. */
export function resources(t: Template, type: string): Resource[] {
  return Object.values(t.findResources(type));
}

/** The one resource of a type, with its logical id; fails when there are none or several. */
export function only(t: Template, type: string): { id: string; resource: Resource } {
  const found = Object.entries(t.findResources(type));
  expect(found, type).toHaveLength(1);
  return { id: found[0][0], resource: found[0][1] };
}

/** The one resource of a type whose logical id starts with `prefix` (CDK appends a hash). */
export function byPrefix(t: Template, type: string, prefix: string): Resource {
  const found = Object.entries(t.findResources(type)).filter(([id]) => id.startsWith(prefix));
  expect(found, `${type} ${prefix}`).toHaveLength(1);
  return found[0][1];
}

/** The statements of every IAM policy in a template whose logical id matches `id`. */
export function policyStatements(t: Template, id: RegExp): Json[] {
  return Object.entries(t.findResources('AWS::IAM::Policy'))
    .filter(([logicalId]) => id.test(logicalId))
    .flatMap(([, p]) => p.Properties.PolicyDocument.Statement);
}
