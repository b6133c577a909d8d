import { CfnOutput, CfnResource, Stack } from 'aws-cdk-lib';
import { describe, expect, test } from 'vitest';
import { crossStackReads, MARKER, markCrossStackReads, readKey, referencedIds } from '../../lib/shared/cross-stack-reads';
import { testApp } from '../support/synth';
import type { Json } from '../support/template';

/**
 * The read marking on a two-stack app small enough to synthesize in milliseconds (the stage-level
 * behaviour is in cross-stack-reads.test.ts): a producer with a group, a consumer reading its id.
 */
function twoStacks(groupProps: Record<string, unknown>, otherProps: Record<string, unknown> = { Description: 'x' }) {
  const app = testApp({ context: { '@aws-cdk/core:defaultCrossStackReferences': 'weak' } });
  const producer = new Stack(app, 'Producer', { env: { account: '111111111111', region: 'eu-west-1' } });
  const group = new CfnResource(producer, 'Group', { type: 'AWS::EC2::SecurityGroup', properties: groupProps });
  new CfnResource(producer, 'Other', { type: 'Custom::Thing', properties: otherProps });
  new CfnOutput(producer, 'GroupIdOut', { value: group.getAtt('GroupId').toString() });
  const consumer = new Stack(app, 'Consumer', { env: { account: '111111111111', region: 'eu-west-1' } });
  new CfnResource(consumer, 'Rule', { type: 'AWS::EC2::SecurityGroupIngress', properties: { GroupId: group.getAtt('GroupId'), CidrIp: '10.0.0.0/8' } });
  app.synth();
  const template = (s: Stack) => (s as unknown as { _toCloudFormation(): Json })._toCloudFormation();
  return { producer, consumer, template };
}

const readOf = (marked: Json) => marked.Resources.Rule.Properties.GroupId;

describe('markCrossStackReads', () => {
  test('joins each read to an empty marker naming the producer output and a fingerprint', () => {
    const { consumer, template } = twoStacks({ GroupDescription: 'a', VpcId: 'vpc-1' });
    const raw = template(consumer);
    const marked = markCrossStackReads(consumer, raw);
    const [read, marker] = readOf(marked)['Fn::Join'][1];
    expect(readOf(marked)['Fn::Join'][0]).toBe('');
    expect(read).toEqual(readOf(raw));
    expect(read['Fn::GetStackOutput']).toMatchObject({ StackName: 'Producer' });
    expect(marker).toEqual({ 'Fn::Select': [0, ['', expect.stringMatching(new RegExp(`^${MARKER}Producer/${read['Fn::GetStackOutput'].OutputName}@[0-9a-f]{12}$`))]] });
    // Nothing else is touched.
    expect((marked as { Resources: Record<string, { Properties: Record<string, unknown> }> }).Resources.Rule.Properties.CidrIp).toBe('10.0.0.0/8');
    expect(markCrossStackReads(consumer, { Resources: { A: { Type: 'X', Properties: { B: 1 } } } })).toEqual({ Resources: { A: { Type: 'X', Properties: { B: 1 } } } });
  });

  test('a pinned read is written as its value, unmarked; the others stay reads', () => {
    const { consumer, template } = twoStacks({ GroupDescription: 'a', VpcId: 'vpc-1' });
    const raw = template(consumer);
    const [read] = crossStackReads(raw.Resources);
    expect(readKey(read)).toBe(`Producer/${read.OutputName}`);
    expect(readOf(markCrossStackReads(consumer, raw, new Map([[readKey(read), 'sg-0123']])))).toBe('sg-0123');
    expect(readOf(markCrossStackReads(consumer, raw, new Map([['Producer/Other', 'sg-9']])))['Fn::Join']).toBeDefined();
  });

  test('the fingerprint changes with a replacing property of the producer, not with an in-place one or another resource', () => {
    const fingerprint = (props: Record<string, unknown>, other?: Record<string, unknown>) => {
      const { consumer, template } = twoStacks(props, other);
      return readOf(markCrossStackReads(consumer, template(consumer)))['Fn::Join'][1][1]['Fn::Select'][1][1];
    };
    const base = fingerprint({ GroupDescription: 'a', VpcId: 'vpc-1' });
    expect(fingerprint({ GroupDescription: 'a', VpcId: 'vpc-1' })).toBe(base);
    expect(fingerprint({ GroupDescription: 'b', VpcId: 'vpc-1' })).not.toBe(base);
    expect(fingerprint({ GroupDescription: 'a', VpcId: 'vpc-2' })).not.toBe(base);
    // Ingress rules change in place: no new group id, no new marker.
    expect(fingerprint({ GroupDescription: 'a', VpcId: 'vpc-1', SecurityGroupIngress: [{ IpProtocol: 'tcp' }] })).toBe(base);
    expect(fingerprint({ GroupDescription: 'a', VpcId: 'vpc-1' }, { Description: 'y' })).toBe(base);
  });

  test('reads of stacks outside the app, or of outputs it does not have, are left alone', () => {
    const { consumer } = twoStacks({ GroupDescription: 'a' });
    const foreign = {
      Resources: {
        R: {
          Type: 'X',
          Properties: {
            P: { 'Fn::GetStackOutput': { StackName: 'Elsewhere', OutputName: 'Out' } },
            Q: { 'Fn::GetStackOutput': { StackName: 'Producer', OutputName: 'NoSuchOutput' } },
          },
        },
      },
    };
    expect(markCrossStackReads(consumer, foreign)).toEqual(foreign);
  });

  test('reads inside lists are marked and lists stay lists; nulls, numbers and sections left out stay as they were', () => {
    const { consumer, template } = twoStacks({ GroupDescription: 'a', VpcId: 'vpc-1' });
    const read = readOf(template(consumer));
    const input = { Resources: { F: { Type: 'X', Properties: { Groups: [read, 'sg-literal'], Nothing: null, Count: 3 } } } };
    const marked = markCrossStackReads(consumer, input) as Json;
    const groups = marked.Resources.F.Properties.Groups;
    expect(Array.isArray(groups)).toBe(true);
    expect(groups[0]['Fn::Join'][1][0]).toEqual(read);
    expect(groups[1]).toBe('sg-literal');
    expect(marked.Resources.F.Properties.Nothing).toBeNull();
    expect(marked.Resources.F.Properties.Count).toBe(3);
    // Only the sections that exist come back: no Outputs or Conditions appear from nowhere.
    expect(marked).toStrictEqual({ Resources: marked.Resources });
    expect(Object.keys(markCrossStackReads(consumer, { Outputs: { O: { Value: read } }, Parameters: { P: { Default: read } } }))).toEqual(['Outputs', 'Parameters']);
    // Parameters are not marked (CloudFormation does not allow functions there).
    expect((markCrossStackReads(consumer, { Parameters: { P: { Default: read } } }) as Json).Parameters.P.Default).toEqual(read);
    // The input is not changed in place.
    expect(input.Resources.F.Properties.Groups[0]).toBe(read);
  });

  test('only a lone, well-formed Fn::GetStackOutput is a read', () => {
    const { consumer, template } = twoStacks({ GroupDescription: 'a', VpcId: 'vpc-1' });
    const { StackName, OutputName } = readOf(template(consumer))['Fn::GetStackOutput'];
    const cases = [
      { 'Fn::GetStackOutput': { StackName, OutputName }, Extra: 1 },
      { 'Fn::GetStackOutput': { StackName } },
      { 'Fn::GetStackOutput': { OutputName } },
      { 'Fn::GetStackOutput': null },
      { 'Fn::ImportValue': { StackName, OutputName } },
    ];
    for (const value of cases) {
      const marked = markCrossStackReads(consumer, { Resources: { R: { Type: 'X', Properties: { V: value } } } }) as Json;
      expect(JSON.stringify(marked.Resources.R.Properties.V)).not.toContain(MARKER);
    }
  });

  test("the producer is looked up in the read's region, and in the consumer's when the read names none", () => {
    const app = testApp({ context: { '@aws-cdk/core:defaultCrossStackReferences': 'weak' } });
    const make = (region: string, description: string) => {
      const stack = new Stack(app, `Producer-${region}`, { stackName: 'Producer', env: { account: '111111111111', region } });
      const group = new CfnResource(stack, 'Group', { type: 'AWS::EC2::SecurityGroup', properties: { GroupDescription: description } });
      new CfnOutput(stack, 'GroupIdOut', { value: group.getAtt('GroupId').toString() });
    };
    make('eu-west-1', 'west');
    make('eu-central-1', 'central');
    const consumer = new Stack(app, 'Consumer', { env: { account: '111111111111', region: 'eu-west-1' } });
    const fingerprint = (region?: string) => {
      const read = { 'Fn::GetStackOutput': { StackName: 'Producer', OutputName: 'GroupIdOut', ...(region ? { Region: region } : {}) } };
      const marked = markCrossStackReads(consumer, { Resources: { R: { Type: 'X', Properties: { V: read } } } }) as Json;
      return marked.Resources.R.Properties.V['Fn::Join'][1][1]['Fn::Select'][1][1] as string;
    };
    expect(fingerprint()).toBe(fingerprint('eu-west-1'));
    expect(fingerprint('eu-central-1')).not.toBe(fingerprint('eu-west-1'));
    const none = markCrossStackReads(consumer, {
      Resources: { R: { Type: 'X', Properties: { V: { 'Fn::GetStackOutput': { StackName: 'Producer', OutputName: 'GroupIdOut', Region: 'eu-north-1' } } } } },
    }) as Json;
    expect(JSON.stringify(none)).not.toContain(MARKER);
  });

  test('the fingerprint covers every resource the output refers to, in a fixed order, and only those', () => {
    const fingerprint = (order: string[], descriptions: Record<string, string>) => {
      const app = testApp({ context: { '@aws-cdk/core:defaultCrossStackReferences': 'weak' } });
      const producer = new Stack(app, 'Producer', { env: { account: '111111111111', region: 'eu-west-1' } });
      const made: Record<string, CfnResource> = {};
      for (const id of order) made[id] = new CfnResource(producer, id, { type: 'AWS::EC2::SecurityGroup', properties: { GroupDescription: descriptions[id] } });
      new CfnOutput(producer, 'Both', { value: `${made.A.ref},${made.B.getAtt('GroupId').toString()}` });
      const consumer = new Stack(app, 'Consumer', { env: { account: '111111111111', region: 'eu-west-1' } });
      const read = { 'Fn::GetStackOutput': { StackName: 'Producer', OutputName: 'Both' } };
      const marked = markCrossStackReads(consumer, { Resources: { R: { Type: 'X', Properties: { V: read } } } }) as Json;
      return marked.Resources.R.Properties.V['Fn::Join'][1][1]['Fn::Select'][1][1] as string;
    };
    const base = fingerprint(['A', 'B', 'C'], { A: 'a', B: 'b', C: 'c' });
    expect(fingerprint(['C', 'B', 'A'], { A: 'a', B: 'b', C: 'c' })).toBe(base);
    expect(fingerprint(['A', 'B', 'C'], { A: 'a2', B: 'b', C: 'c' })).not.toBe(base);
    expect(fingerprint(['A', 'B', 'C'], { A: 'a', B: 'b2', C: 'c' })).not.toBe(base);
    expect(fingerprint(['A', 'B', 'C'], { A: 'a', B: 'b', C: 'c2' })).toBe(base);
  });

  test('two reads of one output carry the same marker', () => {
    const { consumer, template } = twoStacks({ GroupDescription: 'a', VpcId: 'vpc-1' });
    const read = readOf(template(consumer));
    const marked = markCrossStackReads(consumer, { Resources: { R: { Type: 'X', Properties: { V: read, W: read } } } }) as Json;
    expect(marked.Resources.R.Properties.V).toEqual(marked.Resources.R.Properties.W);
  });

  test('referencedIds finds Ref and Fn::GetAtt targets, not pseudo parameters', () => {
    expect([...referencedIds({ Ref: 1, 'Fn::GetAtt': 'B.Arn', x: { 'Fn::GetAtt': [2, 'Arn'] } })]).toEqual([]);
    expect([...referencedIds([[{ Ref: 'D' }], null, 'Ref'])]).toEqual(['D']);
    expect([...referencedIds({ 'Fn::Join': ['', [{ Ref: 'A' }, { 'Fn::GetAtt': ['B', 'Arn'] }, { Ref: 'AWS::Region' }, ['x', { Ref: 'C' }]]] })].sort()).toEqual(['A', 'B', 'C']);
  });
});
