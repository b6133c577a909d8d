import { App, CfnOutput, CfnResource, Stack } from 'aws-cdk-lib';
import { describe, expect, test } from 'vitest';
import { MARKER, markCrossStackReads, referencedIds } from '../../lib/stacks/cross-stack-reads';

// biome-ignore lint: template JSON is free-form
type Json = any;

/**
 * The read marking on a two-stack app small enough to synthesize in milliseconds (the stage-level
 * behaviour is in cross-stack-reads.test.ts): a producer with a group, a consumer reading its id.
 */
function twoStacks(groupProps: Record<string, unknown>, otherProps: Record<string, unknown> = { Description: 'x' }) {
  const app = new App({ context: { '@aws-cdk/core:defaultCrossStackReferences': 'weak' } });
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
    const foreign = { Resources: { R: { Type: 'X', Properties: { P: { 'Fn::GetStackOutput': { StackName: 'Elsewhere', OutputName: 'Out' } }, Q: { 'Fn::GetStackOutput': { StackName: 'Producer', OutputName: 'NoSuchOutput' } } } } } };
    expect(markCrossStackReads(consumer, foreign)).toEqual(foreign);
  });

  test('referencedIds finds Ref and Fn::GetAtt targets, not pseudo parameters', () => {
    expect([...referencedIds({ 'Fn::Join': ['', [{ Ref: 'A' }, { 'Fn::GetAtt': ['B', 'Arn'] }, { Ref: 'AWS::Region' }, ['x', { Ref: 'C' }]]] })].sort()).toEqual(['A', 'B', 'C']);
  });
});
