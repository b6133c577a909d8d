import * as vm from 'node:vm';
import { Match, type Template } from 'aws-cdk-lib/assertions';
import { describe, expect, test } from 'vitest';
import { HSTS_MAX_AGE_SECONDS } from '../../lib/app/load-balancer';
import { parseStageConfig, STAGES, type StageName } from '../../lib/config';
import { ACCESS_LOG_FIELDS } from '../../lib/edge/distribution-logs';
import { EDGE_REGION } from '../../lib/edge/edge-stack';
import { allowListCode } from '../../lib/edge/viewer-allow-list';
import { type Json, only, resources, stageTemplates } from '../support/template';

const synthesized = stageTemplates();
/** The blocks of a stage's private subnets, as its network stack writes them. */
const privateBlocks = (name: StageName): string[] =>
  Object.values(synthesized[name].network.findResources('AWS::EC2::Subnet', { Properties: { Tags: Match.arrayWith([{ Key: 'aws-cdk:subnet-name', Value: 'Private' }]) } })).map(
    (subnet) => subnet.Properties.CidrBlock,
  );
const EDGE_STAGES = ['staging', 'prod'] as const satisfies readonly StageName[];
const edge = (name: StageName): Template => synthesized[name].edge!;

/** CloudFront's managed policies, by the ids AWS publishes. */
const CACHING_DISABLED = '4135ea2d-6df8-44a3-9df3-4b5a84be39ad';
const ALL_VIEWER_AND_CLOUDFRONT = '33f36d7e-f396-46d9-90e0-52428a34d9dc';
const HOST_HEADER_ONLY = 'bf0718e1-ba1e-49d1-88b1-f726733018ae';

const distributionConfig = (name: StageName): Json => only(edge(name), 'AWS::CloudFront::Distribution').resource.Properties.DistributionConfig;
const logicalId = (t: Template, type: string) => only(t, type).id;

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
    expect(only(edge('dev'), 'AWS::CloudFront::VpcOrigin').resource.Properties.VpcOriginEndpointConfig).toMatchObject({ OriginProtocolPolicy: 'http-only', HTTPPort: 80 });
    for (const type of ['AWS::CertificateManager::Certificate', 'AWS::Route53::RecordSet', 'AWS::WAFv2::WebACL']) edge('dev').resourceCountIs(type, 0);
    expect(edge('dev').findOutputs('SiteUrl').SiteUrl.Value).toEqual({
      'Fn::Join': ['', ['https://', { 'Fn::GetAtt': [logicalId(edge('dev'), 'AWS::CloudFront::Distribution'), 'DomainName'] }]],
    });
  });

  test('every behaviour runs the allow-list at viewer request', () => {
    const fn = only(edge('dev'), 'AWS::CloudFront::Function');
    expect(fn.resource.Properties.FunctionConfig.Runtime).toBe('cloudfront-js-2.0');
    expect(fn.resource.Properties.FunctionCode).toBe(allowListCode(config.app.httpAllowedCidrs!));
    const dc = distributionConfig('dev');
    for (const behavior of [dc.DefaultCacheBehavior, ...dc.CacheBehaviors]) {
      expect(behavior.FunctionAssociations).toEqual([{ EventType: 'viewer-request', FunctionARN: { 'Fn::GetAtt': [fn.id, 'FunctionARN'] } }]);
    }
    // Staging and prod serve everyone (their WAF decides).
    for (const name of EDGE_STAGES) edge(name).resourceCountIs('AWS::CloudFront::Function', 0);
  });
});

describe('the allow-list function, run as CloudFront runs it', () => {
  const run = (cidrs: string[], ip: string) => {
    const context: { handler?: (event: unknown) => unknown } = {};
    vm.runInNewContext(`${allowListCode(cidrs)}\nthis.handler = handler;`, context);
    const request = { uri: '/' };
    const answer = context.handler!({ viewer: { ip }, request });
    return answer === request ? 'pass' : (answer as { statusCode: number }).statusCode;
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
    expect(dc.CacheBehaviors.map((b: Json) => b.PathPattern)).toEqual(config.edge.immutablePaths);
    for (const behavior of dc.CacheBehaviors) {
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
    // headers for the app; the Host header alone for cached assets.
    expect(dc.DefaultCacheBehavior.OriginRequestPolicyId).toBe(ALL_VIEWER_AND_CLOUDFRONT);
    for (const behavior of dc.CacheBehaviors) expect(behavior.OriginRequestPolicyId).toBe(HOST_HEADER_ONLY);
    edge(name).resourceCountIs('AWS::CloudFront::OriginRequestPolicy', 0);
  });

  test('the origin is the internal load balancer through a VPC origin, over HTTPS only: nothing reaches it around CloudFront', () => {
    const app = synthesized[name].app;
    const alb = only(app, 'AWS::ElasticLoadBalancingV2::LoadBalancer');
    expect(alb.resource.Properties.Scheme).toBe('internal');
    // In the private subnets (the network stack's private subnet outputs), none of the public ones.
    expect(JSON.stringify(alb.resource.Properties.Subnets)).toMatch(/PrivateSubnet/);
    expect(JSON.stringify(alb.resource.Properties.Subnets)).not.toMatch(/PublicSubnet/);
    const vpcOrigin = only(edge(name), 'AWS::CloudFront::VpcOrigin').resource.Properties.VpcOriginEndpointConfig;
    expect(vpcOrigin).toMatchObject({ OriginProtocolPolicy: 'https-only', OriginSSLProtocols: ['TLSv1.2'], HTTPSPort: 443 });
    expect(JSON.stringify(vpcOrigin.Arn)).toContain(`"StackName":"${name}-App"`);
    expect(JSON.stringify(vpcOrigin.Arn)).toContain(`${name}-App/PublishOutputRef${alb.id}`);
    const origin = distributionConfig(name).Origins[0];
    expect(origin.VpcOriginConfig.VpcOriginId).toMatchObject({ 'Fn::GetAtt': [logicalId(edge(name), 'AWS::CloudFront::VpcOrigin'), 'Id'] });
    // The load balancer admits its own (private) subnets' blocks on 443, where the VPC origin's
    // interfaces are: not the rest of the VPC, nobody on the internet, no other port.
    const group = alb.resource.Properties.SecurityGroups[0]['Fn::GetAtt'][0];
    const ingress = [
      ...(app.toJSON().Resources[group].Properties.SecurityGroupIngress ?? []),
      ...resources(app, 'AWS::EC2::SecurityGroupIngress')
        .map((r) => r.Properties)
        .filter((p) => JSON.stringify(p.GroupId).includes(group)),
    ];
    const fromOutside = ingress.filter((r: Json) => r.CidrIp !== undefined || r.CidrIpv6 !== undefined);
    expect(fromOutside).toEqual(privateBlocks(name).map((cidr) => expect.objectContaining({ CidrIp: cidr, FromPort: 443, ToPort: 443, IpProtocol: 'tcp' })));
    expect(fromOutside.map((r: Json) => r.CidrIp)).not.toContain(config.network.cidr);
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
  });

  test("edge alarms live here (CloudWatch alarms watch their own region's metrics) and notify a topic here with the stage's recipients", () => {
    const topic = only(edge(name), 'AWS::SNS::Topic');
    expect(topic.resource.Properties.TopicName).toBe(`webapp-${name}-alarms`);
    const emails = resources(edge(name), 'AWS::SNS::Subscription').map((s) => s.Properties.Endpoint);
    expect(emails).toEqual(config.alarms.emails);
    const alarms = resources(edge(name), 'AWS::CloudWatch::Alarm').map((a) => a.Properties);
    expect(alarms.map((a) => a.AlarmName).sort()).toEqual([`${name}-edge-5xx-rate`, `${name}-waf-blocked-surge`]);
    for (const alarm of alarms) {
      expect(alarm.AlarmActions).toEqual([{ Ref: topic.id }]);
      expect(alarm.OKActions).toEqual([{ Ref: topic.id }]);
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
