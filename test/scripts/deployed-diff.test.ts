import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CloudFormationClient, CreateStackCommand } from '@aws-sdk/client-cloudformation';
import { beforeAll, describe, expect, test, vi } from 'vitest';
import { main, parseArgs } from '../../scripts/deployed-diff';
import type { Template } from '../../scripts/lib/assembly';
import { deployedDiff } from '../../scripts/lib/deployed-diff';
import { inAccount, type Moto, startMoto } from '../support/moto';

/**
 * The review's diff against what CloudFormation holds (moto, in an account of this file's own),
 * on hand-written assemblies: the base is the default branch, the head the pull request, whose
 * manifest is data.
 */
const ACCOUNT = '210987654323';
let moto: Moto;
const cfnFor = (region: string) => inAccount(new CloudFormationClient(moto.clientConfig(region)), ACCOUNT);

const topic = { Type: 'AWS::SNS::Topic', Properties: { DisplayName: 'alarms' } };
const queue = { Type: 'AWS::SQS::Queue', Properties: { VisibilityTimeout: 60 } };

/** A cloud assembly folder with one nested stage assembly, as `cdk synth` writes it. */
function assembly(stage: string, stacks: { name: string; environment: string; template: Template }[]): string {
  const dir = mkdtempSync(join(tmpdir(), 'deployed-diff-'));
  const nested = join(dir, `assembly-${stage}`);
  mkdirSync(nested);
  const artifacts: Record<string, unknown> = {};
  for (const s of stacks) {
    writeFileSync(join(nested, `${s.name}.template.json`), JSON.stringify(s.template));
    artifacts[s.name] = {
      type: 'aws:cloudformation:stack',
      environment: s.environment,
      displayName: s.name.replace('-', '/'),
      properties: { templateFile: `${s.name}.template.json`, stackName: s.name },
    };
  }
  writeFileSync(join(nested, 'manifest.json'), JSON.stringify({ artifacts }));
  writeFileSync(
    join(dir, 'manifest.json'),
    JSON.stringify({ artifacts: { [`assembly-${stage}`]: { type: 'cdk:cloud-assembly', properties: { directoryName: `assembly-${stage}` } } } }),
  );
  return dir;
}

const home = `aws://${ACCOUNT}/eu-west-3`;
const base = () =>
  assembly('staging', [
    { name: 'staging-Data', environment: home, template: { Resources: { Topic: topic } } },
    { name: 'staging-Ops', environment: home, template: { Resources: { Topic: topic } } },
  ]);

beforeAll(async () => {
  moto = await startMoto();
  await cfnFor('eu-west-3').send(new CreateStackCommand({ StackName: 'staging-Data', TemplateBody: JSON.stringify({ Resources: { Topic: topic } }) }));
});

describe('npm run deployed-diff', () => {
  test('each stack of the stage against its deployed template, a new stack and a removed one said as such', async () => {
    const head = assembly('staging', [
      { name: 'staging-Data', environment: home, template: { Resources: { Topic: topic, Queue: queue } } },
      { name: 'staging-Edge', environment: `aws://${ACCOUNT}/us-east-1`, template: { Resources: { Topic: topic } } },
    ]);
    const { text, failed } = await deployedDiff({ stage: 'staging', base: base(), head }, cfnFor);
    expect(failed).toBe(0);
    expect(text).toContain('Stack staging-Data (eu-west-3)');
    expect(text).toMatch(/\[\+\] AWS::SQS::Queue Queue/);
    expect(text).toContain('Stack staging-Edge (us-east-1)\nnot deployed yet: the deploy creates it with 1 resources');
    expect(text).toContain('Stack staging-Ops: no longer in the head assembly');
  });

  test('no difference is said so', async () => {
    const head = assembly('staging', [{ name: 'staging-Data', environment: home, template: { Resources: { Topic: topic } } }]);
    expect((await deployedDiff({ stage: 'staging', base: base(), head }, cfnFor)).text).toContain('Stack staging-Data (eu-west-3)\nThere were no differences');
  });

  test.each([
    ['a stack in another account', { name: 'staging-Data', environment: 'aws://999999999999/eu-west-3' }, /staging-Data in aws:\/\/999999999999\/eu-west-3/],
    ['a stack named outside the stage', { name: 'staging-Data.evil', environment: home }, /staging-Data\.evil in/],
  ])('the head may not point the credentials elsewhere: %s is refused, exit 2', async (_what, stack, message) => {
    const head = assembly('staging', [{ ...stack, template: { Resources: { Topic: topic } } }]);
    await expect(deployedDiff({ stage: 'staging', base: base(), head }, cfnFor)).rejects.toThrow(message);
    vi.spyOn(console, 'error').mockImplementation(() => {});
    expect(await main(['--stage', 'staging', '--base', base(), '--head', head], cfnFor)).toBe(2);
    vi.restoreAllMocks();
  });

  test('a stack that cannot be read makes the diff incomplete: exit 2', async () => {
    const head = assembly('staging', [{ name: 'staging-Data', environment: home, template: { Resources: { Topic: topic } } }]);
    const denied = () => ({ send: async () => Promise.reject(Object.assign(new Error('not authorized to perform cloudformation:GetTemplate'), { name: 'AccessDenied' })) });
    vi.spyOn(console, 'log').mockImplementation(() => {});
    vi.spyOn(console, 'error').mockImplementation(() => {});
    expect(await main(['--stage', 'staging', '--base', base(), '--head', head], denied)).toBe(2);
    vi.restoreAllMocks();
  });

  test('bad arguments', () => {
    expect(() => parseArgs(['--stage', 'staging', '--base', 'a'])).toThrow(/--base and --head name the two synthesized assemblies/);
  });
});
