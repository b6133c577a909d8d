import { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import { describe, expect, test } from 'vitest';
import { Waf, type WafProps } from '../../lib/edge/waf';
import { testApp } from '../support/synth';
import type { Json } from '../support/template';
import { evaluateWebAcl, type WafRequest } from '../support/waf';

/** One small stack per web ACL: the construct alone, no stage synth. */
function webAcl(props: Partial<WafProps> & Pick<WafProps, 'scope'>): Json {
  const stack = new Stack(testApp(), 'Waf', { env: { account: '111111111111', region: 'us-east-1' } });
  new Waf(stack, 'Waf', {
    name: 'test',
    loadBalancerArn: props.scope === 'REGIONAL' ? 'arn:aws:elasticloadbalancing:us-east-1:111111111111:loadbalancer/app/test/1' : undefined,
    rateLimitPer5Min: 2000,
    authPaths: ['/login'],
    authRateLimitPer5Min: 100,
    largeBodyPaths: ['/api/uploads'],
    inspectServerActions: true,
    redactedHeaders: [],
    logsKey: new kms.Key(stack, 'Key'),
    logRetention: logs.RetentionDays.ONE_MONTH,
    ...props,
  });
  return Object.values(Template.fromStack(stack).findResources('AWS::WAFv2::WebACL'))[0].Properties;
}

const KB = 1024;
const ACTION_ID = '7fc18c215a6b7cdc64bf709f3a714ffdef1bf9651d';
const post = (r: Partial<WafRequest>): WafRequest => ({ method: 'POST', path: '/dashboard', headers: [], bodyBytes: 0, ...r });

describe('the body-size exemptions where the web ACL sits', () => {
  test('on a load balancer (8 KB inspected, fixed): Server Actions keep the 8 KB limit, uploads only on their exact path', () => {
    const acl = webAcl({ scope: 'REGIONAL', bodyInspectionLimitKb: 64 });
    expect(acl.AssociationConfig).toBeUndefined();
    expect(evaluateWebAcl(acl, post({ headers: [['next-action', ACTION_ID]], bodyBytes: 8 * KB }))).toEqual({ action: 'ALLOW' });
    expect(evaluateWebAcl(acl, post({ headers: [['next-action', ACTION_ID]], bodyBytes: 8 * KB + 1 }))).toEqual({ action: 'BLOCK', rule: 'large-bodies-only-where-allowed' });
    expect(evaluateWebAcl(acl, post({ path: '/api/uploads', bodyBytes: 1024 * KB }))).toEqual({ action: 'ALLOW' });
    expect(evaluateWebAcl(acl, post({ path: '/api/uploads-evil', bodyBytes: 1024 * KB }))).toEqual({ action: 'BLOCK', rule: 'large-bodies-only-where-allowed' });
  });

  test('behind CloudFront without a limit set: the free 16 KB, and Server Actions held to it', () => {
    const acl = webAcl({ scope: 'CLOUDFRONT' });
    expect(acl.AssociationConfig).toEqual({ RequestBody: { CLOUDFRONT: { DefaultSizeInspectionLimit: 'KB_16' } } });
    expect(evaluateWebAcl(acl, post({ headers: [['next-action', ACTION_ID]], bodyBytes: 16 * KB }))).toEqual({ action: 'ALLOW' });
    expect(evaluateWebAcl(acl, post({ headers: [['next-action', ACTION_ID]], bodyBytes: 16 * KB + 1 }))).toEqual({ action: 'BLOCK', rule: 'large-bodies-only-where-allowed' });
  });

  test('without Server Actions, a valid id earns nothing', () => {
    const acl = webAcl({ scope: 'CLOUDFRONT', inspectServerActions: false, bodyInspectionLimitKb: 64 });
    expect(evaluateWebAcl(acl, post({ headers: [['next-action', ACTION_ID]], bodyBytes: 9 * KB }))).toEqual({ action: 'BLOCK', rule: 'large-bodies-only-where-allowed' });
  });
});

describe('the evaluator refuses what it does not model', () => {
  test('an unknown statement or transformation throws instead of passing', () => {
    const acl = webAcl({ scope: 'CLOUDFRONT' });
    const rules = acl.Rules.map((r: Json) =>
      r.Name === 'block-middleware-subrequest' ? { ...r, Statement: { XssMatchStatement: { FieldToMatch: { Body: {} }, TextTransformations: [] } } } : r,
    );
    expect(() => evaluateWebAcl({ ...acl, Rules: rules }, post({}))).toThrow(/statement XssMatchStatement is not modelled/);
    const decoded = acl.Rules.map((r: Json) =>
      r.Name === 'block-middleware-subrequest'
        ? { ...r, Statement: { ByteMatchStatement: { ...r.Statement.ByteMatchStatement, TextTransformations: [{ Priority: 0, Type: 'URL_DECODE' }] } } }
        : r,
    );
    expect(() => evaluateWebAcl({ ...acl, Rules: decoded }, post({ headers: [['x-middleware-subrequest', '1']] }))).toThrow(/URL_DECODE is not modelled/);
  });
});
