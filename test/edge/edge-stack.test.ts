import * as vm from 'node:vm';
import { Match, type Template } from 'aws-cdk-lib/assertions';
import { describe, expect, test } from 'vitest';
import { HSTS_MAX_AGE_SECONDS } from '../../lib/app/load-balancer';
import { ORIGIN_FACING } from '../../lib/app/origin-facing';
import { TEST_LISTENER_PORT } from '../../lib/app/web-deployment';
import { parseStageConfig, STAGE_NAMES, STAGES, type StageName } from '../../lib/config';
import { ACCESS_LOG_FIELDS } from '../../lib/edge/distribution-logs';
import { EDGE_REGION } from '../../lib/edge/edge-stack';
import { viewerRequestCode } from '../../lib/edge/viewer-request';
import { BODY_SIZE_LABEL, MIDDLEWARE_SUBREQUEST_HEADER } from '../../lib/edge/waf';
import { type Json, only, resources, stageTemplates } from '../support/template';
import { evaluateWebAcl, WAF_HEADER_BYTES, type WafRequest } from '../support/waf';

const synthesized = stageTemplates();
/** Every ingress rule of the internal load balancer's security group: inline, and the separate ones. */
function loadBalancerIngress(name: StageName): Json[] {
  const app = synthesized[name].app;
  const group = only(app, 'AWS::ElasticLoadBalancingV2::LoadBalancer').resource.Properties.SecurityGroups[0]['Fn::GetAtt'][0];
  return [
    ...(app.toJSON().Resources[group].Properties.SecurityGroupIngress ?? []),
    ...resources(app, 'AWS::EC2::SecurityGroupIngress')
      .map((r) => r.Properties)
      .filter((p) => JSON.stringify(p.GroupId).includes(group)),
  ];
}
/**
 * What the load balancer's group may hold: 60 inbound rules by default, a managed prefix list
 * counting as its maximum entries, 55 for CloudFront's origin-facing list (Amazon VPC user guide,
 * "Prefix list weight"), any other rule as one.
 */
const INBOUND_RULES_QUOTA = 60;
const ORIGIN_FACING_WEIGHT = 55;
const EDGE_STAGES = ['staging', 'prod'] as const satisfies readonly StageName[];
const edge = (name: StageName): Template => synthesized[name].edge!;

/** CloudFront's managed policies, by the ids AWS publishes. */
const CACHING_DISABLED = '4135ea2d-6df8-44a3-9df3-4b5a84be39ad';
const ALL_VIEWER_AND_CLOUDFRONT = '33f36d7e-f396-46d9-90e0-52428a34d9dc';
const HOST_HEADER_ONLY = 'bf0718e1-ba1e-49d1-88b1-f726733018ae';

const distributionConfig = (name: StageName): Json => only(edge(name), 'AWS::CloudFront::Distribution').resource.Properties.DistributionConfig;
const logicalId = (t: Template, type: string) => only(t, type).id;
/** The behaviours of the immutable assets (the others: the app's default, and the maintenance page's). */
const immutableBehaviors = (name: StageName): Json[] =>
  distributionConfig(name).CacheBehaviors.filter((b: Json) => parseStageConfig(STAGES[name]).edge.immutablePaths.includes(b.PathPattern));
/** The primary region's VPC origin: the first origin's (a DR load balancer's would be another). */
function primaryVpcOrigin(name: StageName): { id: string; config: Json } {
  const id = distributionConfig(name).Origins[0].VpcOriginConfig.VpcOriginId['Fn::GetAtt'][0];
  return { id, config: edge(name).toJSON().Resources[id].Properties.VpcOriginEndpointConfig };
}

describe('dev: CloudFront on its own name (no domain), held to the client blocks at the edge', () => {
  const config = parseStageConfig(STAGES.dev);

  test('an internal load balancer behind the VPC origin, over HTTP inside the VPC; no certificate, no records, no IPv6', () => {
    expect(config.domain).toBeUndefined();
    expect(only(synthesized.dev.app, 'AWS::ElasticLoadBalancingV2::LoadBalancer').resource.Properties.Scheme).toBe('internal');
    const dc = distributionConfig('dev');
    expect(dc.Aliases).toBeUndefined();
    // No certificate named: CloudFront's own, for *.cloudfront.net.
    expect(dc.ViewerCertificate).toBeUndefined();
    // The allow-list holds IPv4 blocks: viewers come over IPv4.
    expect(dc.IPV6Enabled).toBe(false);
    expect(primaryVpcOrigin('dev').config).toMatchObject({ OriginProtocolPolicy: 'http-only', HTTPPort: 80 });
    for (const type of ['AWS::CertificateManager::Certificate', 'AWS::Route53::RecordSet', 'AWS::WAFv2::WebACL']) edge('dev').resourceCountIs(type, 0);
    expect(edge('dev').findOutputs('SiteUrl').SiteUrl.Value).toEqual({
      'Fn::Join': ['', ['https://', { 'Fn::GetAtt': [logicalId(edge('dev'), 'AWS::CloudFront::Distribution'), 'DomainName'] }]],
    });
  });

  test('every behaviour runs the viewer-request function, which holds viewers to the client blocks', () => {
    const fn = only(edge('dev'), 'AWS::CloudFront::Function');
    expect(fn.resource.Properties.FunctionConfig.Runtime).toBe('cloudfront-js-2.0');
    expect(fn.resource.Properties.FunctionCode).toBe(viewerRequestCode({ allowedCidrs: config.app.httpAllowedCidrs! }));
    const dc = distributionConfig('dev');
    for (const behavior of [dc.DefaultCacheBehavior, ...dc.CacheBehaviors]) {
      expect(behavior.FunctionAssociations).toEqual([{ EventType: 'viewer-request', FunctionARN: { 'Fn::GetAtt': [fn.id, 'FunctionARN'] } }]);
    }
  });
});

test.each(STAGE_NAMES)("%s: the internal load balancer's group holds the prefix list and at most the smoke test's rule, under the inbound-rule quota", (name) => {
  expect(parseStageConfig(STAGES[name]).edge.enabled).toBe(true);
  const ingress = loadBalancerIngress(name);
  expect(ingress.filter((r: Json) => r.SourcePrefixListId !== undefined)).toHaveLength(1);
  expect(ingress.length).toBeLessThanOrEqual(2);
  const weight = ingress.reduce((sum: number, r: Json) => sum + (r.SourcePrefixListId !== undefined ? ORIGIN_FACING_WEIGHT : 1), 0);
  expect(weight).toBeLessThanOrEqual(INBOUND_RULES_QUOTA);
});

/** Runs viewer-request code as CloudFront does: the request it passes on, or the response it answers with. */
function runViewerRequest(code: string, ip: string, headers: Record<string, { value: string; multiValue?: { value: string }[] }> = {}) {
  const context: { handler?: (event: unknown) => unknown } = {};
  vm.runInNewContext(`${code}\nthis.handler = handler;`, context);
  const request = { method: 'GET', uri: '/', querystring: {}, headers, cookies: {} };
  const answer = context.handler!({ version: '1.0', context: { eventType: 'viewer-request' }, viewer: { ip }, request }) as { statusCode?: number; headers?: object };
  return answer === request ? { passed: true as const, headers: request.headers } : { passed: false as const, statusCode: answer.statusCode };
}

describe('the allow-list, run as CloudFront runs it', () => {
  const run = (cidrs: string[], ip: string) => {
    const answer = runViewerRequest(viewerRequestCode({ allowedCidrs: cidrs }), ip);
    return answer.passed ? 'pass' : answer.statusCode;
  };

  test.each([
    [['198.51.100.0/24'], '198.51.100.7', 'pass'],
    [['198.51.100.0/24'], '198.51.100.255', 'pass'],
    [['198.51.100.0/24'], '198.51.101.1', 403],
    [['198.51.100.0/24'], '198.51.99.255', 403],
    [['203.0.113.8/29', '198.51.100.0/24'], '203.0.113.15', 'pass'],
    [['203.0.113.8/29'], '203.0.113.16', 403],
    [['203.0.113.9/32'], '203.0.113.9', 'pass'],
    [['203.0.113.9/32'], '203.0.113.8', 403],
    [['0.0.0.0/0'], '255.255.255.255', 'pass'],
    [['10.0.0.0/8'], '10.255.255.255', 'pass'],
    [['10.0.0.0/8'], '11.0.0.0', 403],
    // An IPv6 viewer matches no IPv4 block.
    [['198.51.100.0/24'], '2001:db8::1', 403],
  ])('%j and a viewer at %s: %s', (cidrs, ip, expected) => {
    expect(run(cidrs, ip)).toBe(expected);
  });

  test('an allow-list without blocks is refused rather than shutting every viewer out', () => {
    expect(() => viewerRequestCode({ allowedCidrs: [] })).toThrow(/refuse every viewer: list app\.httpAllowedCidrs/);
  });
});

describe.each(EDGE_STAGES)('%s edge', (name) => {
  const config = parseStageConfig(STAGES[name]);
  const recordName = config.domain!.recordName;

  test(`is the stack <stage>-Edge in ${EDGE_REGION}, deployed after the app stack it reads the origin from`, () => {
    const stack = synthesized[name].stage.edge!;
    expect(stack.stackName).toBe(`${name}-Edge`);
    expect(stack.region).toBe(EDGE_REGION);
    expect(stack.account).toBe(config.account);
    expect(stack.dependencies.map((d) => d.stackName)).toEqual(expect.arrayContaining([`${name}-App`, `${name}-Network`]));
    expect(synthesized[name].stage.ops.dependencies.map((d) => d.stackName)).toContain(`${name}-Edge`);
  });

  test("serves the site's name with a us-east-1 certificate, TLS 1.2 or later, HTTP/2 and HTTP/3, IPv6", () => {
    const certificate = logicalId(edge(name), 'AWS::CertificateManager::Certificate');
    edge(name).hasResourceProperties('AWS::CertificateManager::Certificate', {
      DomainName: recordName,
      ValidationMethod: 'DNS',
      DomainValidationOptions: [{ DomainName: recordName, HostedZoneId: Match.anyValue() }],
    });
    expect(JSON.stringify(only(edge(name), 'AWS::CertificateManager::Certificate').resource.Properties.DomainValidationOptions)).toContain(`"StackName":"${name}-Network"`);
    expect(distributionConfig(name)).toMatchObject({
      Aliases: [recordName],
      ViewerCertificate: { AcmCertificateArn: { Ref: certificate }, MinimumProtocolVersion: 'TLSv1.2_2021', SslSupportMethod: 'sni-only' },
      HttpVersion: 'http2and3',
      IPV6Enabled: true,
      Enabled: true,
      PriceClass: config.edge.priceClass,
    });
  });

  test('immutable assets are cached a year on the path alone; everything else passes uncached with every viewer header, cookie and query', () => {
    const dc = distributionConfig(name);
    expect(dc.DefaultCacheBehavior).toMatchObject({
      CachePolicyId: CACHING_DISABLED,
      OriginRequestPolicyId: ALL_VIEWER_AND_CLOUDFRONT,
      ViewerProtocolPolicy: 'redirect-to-https',
      Compress: true,
      AllowedMethods: ['GET', 'HEAD', 'OPTIONS', 'PUT', 'PATCH', 'POST', 'DELETE'],
    });
    const immutable = logicalId(edge(name), 'AWS::CloudFront::CachePolicy');
    expect(immutableBehaviors(name).map((b: Json) => b.PathPattern)).toEqual(config.edge.immutablePaths);
    for (const behavior of immutableBehaviors(name)) {
      expect(behavior).toMatchObject({ CachePolicyId: { Ref: immutable }, ViewerProtocolPolicy: 'redirect-to-https', Compress: true, AllowedMethods: ['GET', 'HEAD'] });
    }
    const year = 365 * 24 * 3600;
    expect(only(edge(name), 'AWS::CloudFront::CachePolicy').resource.Properties.CachePolicyConfig).toMatchObject({
      DefaultTTL: year,
      MaxTTL: year,
      MinTTL: 0,
      ParametersInCacheKeyAndForwardedToOrigin: {
        HeadersConfig: { HeaderBehavior: 'none' },
        CookiesConfig: { CookieBehavior: 'none' },
        QueryStringsConfig: { QueryStringBehavior: 'none' },
        EnableAcceptEncodingGzip: true,
        EnableAcceptEncodingBrotli: true,
      },
    });
  });

  test("every behaviour forwards the viewer's Host header: the origin's certificate is checked against it (else 502)", () => {
    const dc = distributionConfig(name);
    // AWS's managed policies: every viewer header (Host among them) and CloudFront's viewer
    // headers for the app; the Host header alone for cached assets. (The maintenance page's
    // behaviour goes to S3, under the bucket's own name: maintenance-page.test.ts.)
    expect(dc.DefaultCacheBehavior.OriginRequestPolicyId).toBe(ALL_VIEWER_AND_CLOUDFRONT);
    expect(immutableBehaviors(name)).not.toEqual([]);
    for (const behavior of immutableBehaviors(name)) expect(behavior.OriginRequestPolicyId).toBe(HOST_HEADER_ONLY);
    edge(name).resourceCountIs('AWS::CloudFront::OriginRequestPolicy', 0);
  });

  test('the origin is the internal load balancer through a VPC origin, over HTTPS only: nothing reaches it around CloudFront', () => {
    const app = synthesized[name].app;
    const alb = only(app, 'AWS::ElasticLoadBalancingV2::LoadBalancer');
    expect(alb.resource.Properties.Scheme).toBe('internal');
    // In the private subnets (the network stack's private subnet outputs), none of the public ones.
    expect(JSON.stringify(alb.resource.Properties.Subnets)).toMatch(/PrivateSubnet/);
    expect(JSON.stringify(alb.resource.Properties.Subnets)).not.toMatch(/PublicSubnet/);
    const vpcOrigin = primaryVpcOrigin(name).config;
    expect(vpcOrigin).toMatchObject({ OriginProtocolPolicy: 'https-only', OriginSSLProtocols: ['TLSv1.2'], HTTPSPort: 443 });
    expect(JSON.stringify(vpcOrigin.Arn)).toContain(`"StackName":"${name}-App"`);
    expect(JSON.stringify(vpcOrigin.Arn)).toContain(`${name}-App/PublishOutputRef${alb.id}`);
    const origin = distributionConfig(name).Origins[0];
    expect(origin.VpcOriginConfig.VpcOriginId).toMatchObject({ 'Fn::GetAtt': [expect.stringMatching(/^SiteDistributionOrigin1VpcOrigin/), 'Id'] });
    for (const behavior of [distributionConfig(name).DefaultCacheBehavior, ...immutableBehaviors(name)]) expect(behavior.TargetOriginId).toBe(origin.Id);
    // The load balancer admits 443 from CloudFront's origin-facing prefix list of its region, the
    // test listener from the smoke test, and nothing else: no block of the VPC, nobody on the internet.
    const ingress = loadBalancerIngress(name);
    expect(ingress).toEqual([
      expect.objectContaining({ SourcePrefixListId: ORIGIN_FACING.prefixLists[config.region], FromPort: 443, ToPort: 443, IpProtocol: 'tcp' }),
      expect.objectContaining({ SourceSecurityGroupId: expect.anything(), FromPort: TEST_LISTENER_PORT, ToPort: TEST_LISTENER_PORT, IpProtocol: 'tcp' }),
    ]);
    expect(ingress.filter((r: Json) => r.CidrIp !== undefined || r.CidrIpv6 !== undefined)).toEqual([]);
    // No port-80 redirect listener: CloudFront redirects viewers to HTTPS.
    expect(resources(app, 'AWS::ElasticLoadBalancingV2::Listener').map((l) => l.Properties.Port)).not.toContain(80);
  });

  test("the site's name points at the distribution (A and AAAA), and only the edge stack writes it", () => {
    const distribution = logicalId(edge(name), 'AWS::CloudFront::Distribution');
    const records = resources(edge(name), 'AWS::Route53::RecordSet').map((r) => r.Properties);
    expect(records.map((r) => r.Type).sort()).toEqual(['A', 'AAAA']);
    for (const record of records) {
      expect(record.Name).toBe(`${recordName}.`);
      expect(record.AliasTarget).toMatchObject({
        DNSName: { 'Fn::GetAtt': [distribution, 'DomainName'] },
        HostedZoneId: { 'Fn::FindInMap': expect.arrayContaining(['AWSCloudFrontPartitionHostedZoneIdMap']) },
      });
    }
    expect(resources(synthesized[name].app, 'AWS::Route53::RecordSet').map((r) => r.Properties.Name)).not.toContain(`${recordName}.`);
  });

  test('a response headers policy sets HSTS (a year, subdomains), nosniff, frame options and referrer policy on every behaviour', () => {
    const policy = only(edge(name), 'AWS::CloudFront::ResponseHeadersPolicy');
    expect(policy.resource.Properties.ResponseHeadersPolicyConfig.SecurityHeadersConfig).toEqual({
      StrictTransportSecurity: { AccessControlMaxAgeSec: HSTS_MAX_AGE_SECONDS, IncludeSubdomains: true, Override: true },
      ContentTypeOptions: { Override: true },
      FrameOptions: { FrameOption: 'SAMEORIGIN', Override: true },
      ReferrerPolicy: { ReferrerPolicy: 'strict-origin-when-cross-origin', Override: true },
    });
    const dc = distributionConfig(name);
    for (const behavior of [dc.DefaultCacheBehavior, ...dc.CacheBehaviors]) expect(behavior.ResponseHeadersPolicyId).toEqual({ Ref: policy.id });
  });

  test('every behaviour runs the viewer-request function, for every viewer (no allow-list), over IPv4 and IPv6', () => {
    const fn = only(edge(name), 'AWS::CloudFront::Function');
    expect(fn.resource.Properties.FunctionConfig.Runtime).toBe('cloudfront-js-2.0');
    expect(fn.resource.Properties.FunctionCode).toBe(viewerRequestCode());
    const dc = distributionConfig(name);
    for (const behavior of [dc.DefaultCacheBehavior, ...dc.CacheBehaviors]) {
      expect(behavior.FunctionAssociations).toEqual([{ EventType: 'viewer-request', FunctionARN: { 'Fn::GetAtt': [fn.id, 'FunctionARN'] } }]);
    }
    expect(dc.IPV6Enabled).toBe(true);
  });

  test('the WAF moved to the distribution: CLOUDFRONT scope here, no web ACL or association on the load balancer', () => {
    const acl = only(edge(name), 'AWS::WAFv2::WebACL');
    expect(acl.resource.Properties).toMatchObject({ Scope: 'CLOUDFRONT', Name: `webapp-${name}` });
    expect(distributionConfig(name).WebACLId).toEqual({ 'Fn::GetAtt': [acl.id, 'Arn'] });
    for (const template of [synthesized[name].app, edge(name)]) template.resourceCountIs('AWS::WAFv2::WebACLAssociation', 0);
    synthesized[name].app.resourceCountIs('AWS::WAFv2::WebACL', 0);
    edge(name).hasResourceProperties('AWS::Logs::LogGroup', { LogGroupName: `aws-waf-logs-${name}-Edge` });
  });

  test('access logs: logging v2 from the distribution into an encrypted log group, without query strings or cookies', () => {
    const distribution = logicalId(edge(name), 'AWS::CloudFront::Distribution');
    const source = only(edge(name), 'AWS::Logs::DeliverySource').resource.Properties;
    expect(source).toMatchObject({ LogType: 'ACCESS_LOGS', ResourceArn: { 'Fn::Join': expect.anything() } });
    expect(JSON.stringify(source.ResourceArn)).toContain(distribution);
    const destination = only(edge(name), 'AWS::Logs::DeliveryDestination');
    expect(destination.resource.Properties).toMatchObject({ OutputFormat: 'json' });
    const group = JSON.stringify(destination.resource.Properties.DestinationResourceArn).match(/"Ref":"(AccessLogs[A-Z0-9]+)"/)![1];
    expect(JSON.stringify(destination.resource.Properties.DestinationResourceArn)).toContain(':log-group:');
    expect(edge(name).toJSON().Resources[group].Properties.KmsKeyId).toMatchObject({ 'Fn::GetAtt': [expect.stringMatching(/^LogsKey/), 'Arn'] });
    const delivery = only(edge(name), 'AWS::Logs::Delivery').resource.Properties;
    expect(delivery.DeliveryDestinationArn).toEqual({ 'Fn::GetAtt': [destination.id, 'Arn'] });
    expect(delivery.RecordFields).toEqual([...ACCESS_LOG_FIELDS]);
    expect(delivery.RecordFields).not.toEqual(expect.arrayContaining(['cs-uri-query']));
    expect(delivery.RecordFields).not.toEqual(expect.arrayContaining(['cs-cookie']));
    // The delivery service may write into this account's log groups only, for this account's sources.
    const statement = only(edge(name), 'AWS::Logs::ResourcePolicy').resource.Properties.PolicyDocument;
    const parsed = JSON.parse(typeof statement === 'string' ? statement : JSON.stringify(statement));
    expect(JSON.stringify(parsed)).toContain('delivery.logs.amazonaws.com');
    expect(JSON.stringify(parsed)).toContain('aws:SourceAccount');
    // Where the edge runbook sends people (docs/alarms.md, "edge-5xx-rate"): the group, by output, and its saved queries.
    expect(edge(name).toJSON().Outputs.AccessLogGroup.Value).toEqual({ Ref: group });
    const queries = resources(edge(name), 'AWS::Logs::QueryDefinition').map((q) => q.Properties);
    expect(queries.map((q) => q.Name)).toEqual([`webapp-${name}/edge-5xx`, `webapp-${name}/edge-5xx-requests`]);
    for (const q of queries) {
      expect(q.LogGroupNames).toEqual([{ Ref: group }]);
      expect(q.QueryString).toContain('filter `sc-status` >= 500');
      // Every field a query names is one the delivery writes (a hyphenated field is quoted in backticks).
      for (const [, field] of (q.QueryString as string).matchAll(/`([a-z-]+(?:\([A-Za-z-]+\))?)`/g)) expect(ACCESS_LOG_FIELDS, field).toContain(field);
    }
  });

  test("edge alarms live here (CloudWatch alarms watch their own region's metrics) and notify the stage's two routes here, with the stage's recipients", () => {
    const topics = Object.fromEntries(Object.entries(edge(name).findResources('AWS::SNS::Topic')).map(([id, r]) => [r.Properties.TopicName, id]));
    expect(Object.keys(topics).sort()).toEqual([`webapp-${name}-alarms`, `webapp-${name}-page`]);
    const ticket = { Ref: topics[`webapp-${name}-alarms`] };
    const page = { Ref: topics[`webapp-${name}-page`] };
    const subscriptions = resources(edge(name), 'AWS::SNS::Subscription').map((s) => [s.Properties.TopicArn, s.Properties.Protocol, s.Properties.Endpoint]);
    expect(subscriptions).toEqual([...config.alarms.emails.map((e) => [ticket, 'email', e]), ...config.alarms.httpsEndpoints.map((u) => [page, 'https', u])]);
    const alarms = resources(edge(name), 'AWS::CloudWatch::Alarm').map((a) => a.Properties);
    expect(alarms.map((a) => a.AlarmName).sort()).toEqual([`${name}-edge-5xx-rate`, `${name}-waf-blocked-surge`]);
    for (const alarm of alarms) {
      // The edge's 5xx pages (and is recorded on the ticket route); the WAF surge is a ticket.
      const route = alarm.AlarmName.endsWith('edge-5xx-rate') ? [page, ticket] : [ticket];
      expect(alarm.AlarmActions).toEqual(route);
      expect(alarm.OKActions).toEqual(route);
      expect(alarm.TreatMissingData).toBe('notBreaching');
      expect(alarm.AlarmDescription).toMatch(/Runbook: docs\/alarms\.md#/);
    }
    const edge5xx = alarms.find((a) => a.AlarmName.endsWith('edge-5xx-rate'))!;
    const distribution = logicalId(edge(name), 'AWS::CloudFront::Distribution');
    const stats = edge5xx.Metrics.filter((m: Json) => m.MetricStat).map((m: Json) => m.MetricStat.Metric);
    expect(stats.map((m: Json) => m.MetricName).sort()).toEqual(['5xxErrorRate', 'Requests']);
    for (const metric of stats) {
      expect(metric).toMatchObject({
        Namespace: 'AWS/CloudFront',
        Dimensions: expect.arrayContaining([
          { Name: 'Region', Value: 'Global' },
          { Name: 'DistributionId', Value: { Ref: distribution } },
        ]),
      });
    }
    const waf = alarms.find((a) => a.AlarmName.endsWith('waf-blocked-surge'))!;
    // A CLOUDFRONT-scope web ACL's metrics carry no Region dimension.
    expect(waf.Dimensions).toEqual([
      { Name: 'Rule', Value: 'ALL' },
      { Name: 'WebACL', Value: `${name}-Edge-web-acl` },
    ]);
    // The ops stack no longer watches a regional web ACL that does not exist.
    const opsAlarms = resources(synthesized[name].ops, 'AWS::CloudWatch::Alarm').map((a) => a.Properties.AlarmName);
    expect(opsAlarms).not.toContain(`${name}-waf-blocked-surge`);
  });

  test('the dashboard graphs the distribution and its web ACL from us-east-1', () => {
    const body = JSON.stringify(only(synthesized[name].ops, 'AWS::CloudWatch::Dashboard').resource.Properties.DashboardBody);
    expect(body).toContain('AWS/CloudFront');
    expect(body).toContain(
      `\\"AWS/WAFV2\\",\\"AllowedRequests\\",\\"Rule\\",\\"ALL\\",\\"WebACL\\",\\"${name}-Edge-web-acl\\",{\\"label\\":\\"AllowedRequests\\",\\"region\\":\\"us-east-1\\"`,
    );
  });
});

describe.each(STAGE_NAMES)('%s: x-middleware-subrequest never reaches the app, however it is sent', (name) => {
  // The code as deployed: the template's text, run as CloudFront runs it.
  const deployed = () => only(edge(name), 'AWS::CloudFront::Function').resource.Properties.FunctionCode as string;
  const viewer = name === 'dev' ? parseStageConfig(STAGES.dev).app.httpAllowedCidrs![0].replace(/0\/\d+$/, '7') : '192.0.2.10';

  test.each([
    ['lower case, as CloudFront hands it', { 'x-middleware-subrequest': { value: 'middleware' } }],
    ['any other case', { 'X-Middleware-Subrequest': { value: 'src/middleware:src/middleware:src/middleware:src/middleware:src/middleware' } }],
    ['several values', { 'x-middleware-subrequest': { value: 'middleware', multiValue: [{ value: 'middleware' }, { value: 'pages/_middleware' }] } }],
    ['empty', { 'x-middleware-subrequest': { value: '' } }],
  ])('%s: removed, the rest of the request kept', (_, header) => {
    const cookie = { value: `session=${'a'.repeat(9000)}` };
    const action = { value: 'a'.repeat(42) };
    const answer = runViewerRequest(deployed(), viewer, { ...header, cookie, 'next-action': action, host: { value: 'example.com' } });
    expect(answer.passed).toBe(true);
    expect(answer.passed && answer.headers).toEqual({ cookie, 'next-action': action, host: { value: 'example.com' } });
  });
});

describe.each(EDGE_STAGES)('%s: padding bypasses, through the web ACL as synthesized', (name) => {
  const acl = () => only(edge(name), 'AWS::WAFv2::WebACL').resource.Properties;
  const config = parseStageConfig(STAGES[name]);
  const KB = 1024;
  const limit = config.app.wafBodyInspectionKb * KB;
  // An id as Next.js 15 generates it (a flag byte, then the SHA-1).
  const ACTION_ID = '7fc18c215a6b7cdc64bf709f3a714ffdef1bf9651d';
  const request = (r: Partial<WafRequest>): WafRequest => ({ method: 'POST', path: '/dashboard', headers: [['host', 'example.com']], bodyBytes: 0, ...r });
  const decide = (r: Partial<WafRequest>) => {
    const decision = evaluateWebAcl(acl(), request(r));
    return decision.action === 'ALLOW' ? 'ALLOW' : `BLOCK by ${decision.rule}`;
  };
  const LARGE_BODY = 'BLOCK by large-bodies-only-where-allowed';

  test(`CloudFront hands the web ACL ${config.app.wafBodyInspectionKb} KB of a body (priced in the cost estimate)`, () => {
    expect(acl().AssociationConfig).toEqual({ RequestBody: { CLOUDFRONT: { DefaultSizeInspectionLimit: `KB_${config.app.wafBodyInspectionKb}` } } });
  });

  test('the body-size label comes from the common rule set, which only counts it', () => {
    expect(decide({ bodyBytes: 8 * KB + 1, path: '/api/uploads' })).toBe('ALLOW');
    expect(decide({ bodyBytes: 8 * KB, path: '/anything' })).toBe('ALLOW');
    expect(decide({ bodyBytes: 8 * KB + 1, path: '/anything' })).toBe(LARGE_BODY);
    expect(acl().Rules.find((r: Json) => r.Name === 'large-bodies-only-where-allowed').Statement.AndStatement.Statements[0]).toEqual({
      LabelMatchStatement: { Scope: 'LABEL', Key: BODY_SIZE_LABEL },
    });
  });

  test.each([
    ['/api/uploads', 'ALLOW'],
    // Paths that merely start with the upload path, or spell another path through it.
    ['/api/uploads-evil', LARGE_BODY],
    ['/api/uploads/', LARGE_BODY],
    ['/api/uploads/x', LARGE_BODY],
    ['/api/uploads/../admin', LARGE_BODY],
    ['/api/uploads/%2e%2e/admin', LARGE_BODY],
    ['/api/uploads%2f..%2fadmin', LARGE_BODY],
    ['/api/uploads/%252e%252e/admin', LARGE_BODY],
    ['/api/%75ploads', LARGE_BODY],
    ['/api//uploads', LARGE_BODY],
    ['/api/./uploads', LARGE_BODY],
    ['/API/UPLOADS', LARGE_BODY],
    ['/api/uploads;.js', LARGE_BODY],
  ])('a padded 1 MB body to %s: %s', (path, expected) => {
    expect(decide({ path, bodyBytes: 1024 * KB })).toBe(expected);
  });

  test.each([
    ['a Server Action id (Next.js 15 and later, 42 hex)', 'POST', ACTION_ID, 'ALLOW'],
    ['a Server Action id (Next.js 14, 40 hex)', 'POST', ACTION_ID.slice(2), 'ALLOW'],
    ['junk', 'POST', 'x', LARGE_BODY],
    ['an empty value', 'POST', '', LARGE_BODY],
    ['an id in capitals', 'POST', ACTION_ID.toUpperCase(), LARGE_BODY],
    ['41 hex', 'POST', ACTION_ID.slice(1), LARGE_BODY],
    ['43 hex', 'POST', `${ACTION_ID}0`, LARGE_BODY],
    ['an id with more after it', 'POST', `${ACTION_ID},${ACTION_ID}`, LARGE_BODY],
    ['an id on a GET', 'GET', ACTION_ID, LARGE_BODY],
    ['an id on a PUT', 'PUT', ACTION_ID, LARGE_BODY],
  ])('next-action with %s, on a %s with a 20 KB body: %s', (_, method, value, expected) => {
    expect(decide({ method, headers: [['next-action', value]], bodyBytes: 20 * KB })).toBe(expected);
  });

  test(`a Server Action body is held to the ${config.app.wafBodyInspectionKb} KB the web ACL inspects whole: padding past it is blocked`, () => {
    const action = (bodyBytes: number) => decide({ headers: [['next-action', ACTION_ID]], bodyBytes });
    expect(action(limit)).toBe('ALLOW');
    expect(action(limit + 1)).toBe(LARGE_BODY);
    expect(action(1024 * KB)).toBe(LARGE_BODY);
  });

  test('a header past 8 KB of filler passes the web ACL (WAF does not see it), and the function removes it', () => {
    const header: [string, string] = [MIDDLEWARE_SUBREQUEST_HEADER, 'middleware:middleware:middleware:middleware:middleware'];
    expect(decide({ method: 'GET', headers: [header] })).toBe('BLOCK by block-middleware-subrequest');
    expect(decide({ method: 'GET', headers: [['X-Middleware-Subrequest', 'middleware']] })).toBe('BLOCK by block-middleware-subrequest');
    const filler = Array.from({ length: 9 }, (_, i): [string, string] => [`x-filler-${i}`, 'f'.repeat(1000)]);
    expect(filler.reduce((n, [k, v]) => n + k.length + v.length, 0)).toBeGreaterThan(WAF_HEADER_BYTES);
    expect(decide({ method: 'GET', headers: [...filler, header] })).toBe('ALLOW');
    // The second layer is the function, which sees every header CloudFront takes.
    const code = only(edge(name), 'AWS::CloudFront::Function').resource.Properties.FunctionCode as string;
    const answer = runViewerRequest(code, '192.0.2.10', Object.fromEntries([...filler, header].map(([k, v]) => [k, { value: v }])));
    expect(answer.passed && Object.keys(answer.headers)).toEqual(filler.map(([k]) => k));
  });

  test('large cookies alone are no reason to block (the rule would with MATCH)', () => {
    expect(decide({ method: 'GET', bodyBytes: 0, headers: [['cookie', `session=${'c'.repeat(12 * KB)}`]] })).toBe('ALLOW');
    expect(acl().Rules.find((r: Json) => r.Name === 'block-middleware-subrequest').Statement.ByteMatchStatement.FieldToMatch.Headers.OversizeHandling).toBe('CONTINUE');
  });
});
