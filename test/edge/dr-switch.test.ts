import { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as route53 from 'aws-cdk-lib/aws-route53';
import { beforeAll, describe, expect, test } from 'vitest';
import { parseStageConfig, STAGES } from '../../lib/config';
import { SERVING_FROM_OUTPUT } from '../../lib/dr/pilot-light-names';
import { EDGE_REGION, EdgeStack } from '../../lib/edge/edge-stack';
import type { ServeFrom } from '../../lib/edge/site-distribution';
import { TEST_CONTEXT, testApp } from '../support/synth';
import { type Json, only, stageTemplates, type TemplateJson } from '../support/template';

// The edge stack with a DR load balancer, built here until a stage hands it the pilot light's:
// staging's configuration, load balancers imported by their attributes (a primary in the stage's
// region, one in its DR region), the stack alone in an app of its own.
const DR_ARN = 'arn:aws:elasticloadbalancing:eu-central-1:222222222222:loadbalancer/app/pilot-light/0123456789abcdef';

function edgeTemplate(serveFrom: ServeFrom, withDr: boolean): TemplateJson {
  const config = parseStageConfig({ ...STAGES.staging, dr: { ...STAGES.staging.dr, serveFrom, appTier: serveFrom === 'dr' } });
  const app = testApp({ context: TEST_CONTEXT });
  const imports = new Stack(app, 'Imports', { env: { account: config.account, region: config.region } });
  const loadBalancer = (id: string, arn: string) =>
    elbv2.ApplicationLoadBalancer.fromApplicationLoadBalancerAttributes(imports, id, {
      loadBalancerArn: arn,
      securityGroupId: 'sg-0123456789abcdef0',
      loadBalancerDnsName: `internal-${id}.${arn.split(':')[3]}.elb.amazonaws.com`,
    });
  const zone = route53.PublicHostedZone.fromPublicHostedZoneAttributes(imports, 'Zone', { hostedZoneId: 'Z0123456789ABCDEFGHIJ', zoneName: config.domain!.zoneName });
  const stack = new EdgeStack(app, 'Edge', {
    config,
    env: { account: config.account, region: EDGE_REGION },
    domain: { zone, recordName: config.domain!.recordName },
    loadBalancer: loadBalancer('primary', `arn:aws:elasticloadbalancing:${config.region}:${config.account}:loadbalancer/app/primary/0123456789abcdef`),
    drLoadBalancer: withDr ? loadBalancer('dr', DR_ARN) : undefined,
    originIdleTimeoutSeconds: 60,
  });
  return Template.fromStack(stack).toJSON();
}

const distributionOf = (t: TemplateJson): Json =>
  Object.values(t.Resources as Record<string, Json>).find((r) => r.Type === 'AWS::CloudFront::Distribution').Properties.DistributionConfig;
const vpcOriginsOf = (t: TemplateJson): [string, Json][] => Object.entries(t.Resources as Record<string, Json>).filter(([, r]) => r.Type === 'AWS::CloudFront::VpcOrigin');
/** The origin whose VPC origin is the given resource. */
const originOf = (t: TemplateJson, vpcOriginId: string): Json => distributionOf(t).Origins.find((o: Json) => o.VpcOriginConfig?.VpcOriginId['Fn::GetAtt'][0] === vpcOriginId);
/** The behaviours that go to the app: the default and the immutable assets' (not the maintenance page's). */
const appBehaviors = (t: TemplateJson): Json[] => [
  distributionOf(t).DefaultCacheBehavior,
  ...distributionOf(t).CacheBehaviors.filter((b: Json) => b.PathPattern !== '/_maintenance/*'),
];

describe('a stage with a DR load balancer: both VPC origins up front, the app served from the one dr.serveFrom names', () => {
  let without: TemplateJson;
  let primary: TemplateJson;
  let dr: TemplateJson;
  beforeAll(() => {
    without = edgeTemplate('primary', false);
    primary = edgeTemplate('primary', true);
    dr = edgeTemplate('dr', true);
  });
  /** The DR load balancer's VPC origin (by its ARN) and the primary's. */
  const split = (t: TemplateJson) => {
    const all = vpcOriginsOf(t);
    const isDr = ([, r]: [string, Json]) => r.Properties.VpcOriginEndpointConfig.Arn === DR_ARN;
    return { dr: all.filter(isDr), primary: all.filter((o) => !isDr(o)) };
  };

  test('the stack says which region serves, for the failover and failback to read', () => {
    const servingFrom = (t: TemplateJson) => (t.Outputs as Record<string, { Value: unknown }>)[SERVING_FROM_OUTPUT].Value;
    expect([servingFrom(primary), servingFrom(dr)]).toEqual([STAGES.staging.region, STAGES.staging.drRegion]);
  });

  test('two VPC origins, one per region, built alike: protocol, ports, TLS; their origins alike: timeouts, headers, shield', () => {
    for (const t of [primary, dr]) {
      const { dr: [[drId, drOrigin]] = [], primary: [[primaryId, primaryOrigin]] = [] } = split(t);
      expect(vpcOriginsOf(t)).toHaveLength(2);
      expect(drOrigin.Properties.VpcOriginEndpointConfig).toEqual({ ...primaryOrigin.Properties.VpcOriginEndpointConfig, Arn: DR_ARN, Name: 'Edge-dr-load-balancer' });
      expect(primaryOrigin.Properties.VpcOriginEndpointConfig).toMatchObject({ OriginProtocolPolicy: 'https-only', HTTPSPort: 443, OriginSSLProtocols: ['TLSv1.2'] });
      const [drEntry, primaryEntry] = [originOf(t, drId), originOf(t, primaryId)];
      expect(drEntry).toEqual({
        ...primaryEntry,
        Id: drEntry.Id,
        DomainName: drEntry.DomainName,
        VpcOriginConfig: { ...primaryEntry.VpcOriginConfig, VpcOriginId: { 'Fn::GetAtt': [drId, 'Id'] } },
      });
      expect(drEntry.Id).not.toBe(primaryEntry.Id);
      expect(primaryEntry.VpcOriginConfig.OriginReadTimeout).toBe(60);
      // No origin group: its failover would retry only GET, HEAD and OPTIONS in the other region.
      expect(distributionOf(t).OriginGroups).toBeUndefined();
    }
  });

  test.each([
    ['primary', () => primary],
    ['dr', () => dr],
  ] as const)('serveFrom %s: the default and every app behaviour go to its load balancer; the maintenance page stays on S3', (serveFrom, template) => {
    const t = template();
    const { dr: [[drId]] = [], primary: [[primaryId]] = [] } = split(t);
    const serving = originOf(t, serveFrom === 'dr' ? drId : primaryId).Id;
    expect(appBehaviors(t).length).toBeGreaterThanOrEqual(2);
    for (const behavior of appBehaviors(t)) expect(behavior.TargetOriginId, behavior.PathPattern ?? 'default').toBe(serving);
    const page = distributionOf(t).CacheBehaviors.find((b: Json) => b.PathPattern === '/_maintenance/*');
    expect(distributionOf(t).Origins.find((o: Json) => o.Id === page.TargetOriginId).S3OriginConfig).toBeDefined();
  });

  test('a DR load balancer adds its VPC origin and origin, and changes nothing else while the primary serves', () => {
    const [[drId]] = split(primary).dr;
    // CDKMetadata counts the constructs used (one VPC origin more): CDK's telemetry, not the stack's.
    const { [drId]: added, CDKMetadata: _, ...rest } = primary.Resources;
    expect(added.Type).toBe('AWS::CloudFront::VpcOrigin');
    const origins = distributionOf(primary).Origins;
    const withoutDr = structuredClone({ ...primary, Resources: rest });
    distributionOf(withoutDr).Origins = origins.filter((o: Json) => o !== originOf(primary, drId));
    const { CDKMetadata: __, ...withoutResources } = without.Resources;
    expect(withoutDr).toEqual({ ...without, Resources: withoutResources });
  });

  test('the switch changes only the target of the app behaviours: VPC origins and origins stay as they are, nothing waits for one to be created', () => {
    const { dr: [[drId]] = [], primary: [[primaryId]] = [] } = split(dr);
    const [drOrigin, primaryOrigin] = [originOf(dr, drId).Id, originOf(dr, primaryId).Id];
    const switchedBack = JSON.parse(JSON.stringify(dr).replaceAll(`"TargetOriginId":"${drOrigin}"`, `"TargetOriginId":"${primaryOrigin}"`));
    // And the output that says which region serves.
    switchedBack.Outputs[SERVING_FROM_OUTPUT] = primary.Outputs[SERVING_FROM_OUTPUT];
    expect(switchedBack).toEqual(primary);
    expect(JSON.stringify(dr)).not.toEqual(JSON.stringify(primary));
  });

  test('serving from the DR region without its load balancer is refused, naming stage, field, value and fix', () => {
    expect(() => edgeTemplate('dr', false)).toThrow(
      /^stage "staging", field "dr.serveFrom", value "dr": the edge stack has no load balancer in the DR region .*Fix: deploy the pilot light \(dr.pilotLight\) and give its load balancer to the edge stack/,
    );
  });
});

describe('a stage without a DR load balancer (dev)', () => {
  const synthesized = stageTemplates(['dev']);

  test('keeps its one VPC origin under the logical id it has always had (a new one would take minutes to create), first of its origins', () => {
    const t = synthesized.dev.edge!;
    const vpcOrigin = only(t, 'AWS::CloudFront::VpcOrigin');
    expect(vpcOrigin.id).toBe('SiteDistributionOrigin1VpcOrigin7A3E9FEC');
    const dc = only(t, 'AWS::CloudFront::Distribution').resource.Properties.DistributionConfig;
    expect(dc.Origins.map((o: Json) => Object.keys(o).sort())).toEqual([
      ['DomainName', 'Id', 'VpcOriginConfig'],
      ['DomainName', 'Id', 'OriginAccessControlId', 'S3OriginConfig'],
    ]);
    expect(dc.Origins[0].VpcOriginConfig.VpcOriginId).toEqual({ 'Fn::GetAtt': [vpcOrigin.id, 'Id'] });
    expect(dc.Origins[0].Id).toMatch(/^devEdgeSiteDistributionOrigin1/);
  });

  test('its edge holds what it held before, plus the maintenance page, the paging route and the saved log queries', () => {
    // Less the alarm subscriptions, whose ids follow the recipients of the config.
    const ids = Object.entries(synthesized.dev.edge!.toJSON().Resources as Record<string, Json>)
      .filter(([, r]) => r.Type !== 'AWS::SNS::Subscription')
      .map(([id]) => id)
      .sort();
    const before = [
      'AccessLogs91DD3DD0',
      'AccessLogsDeliveryMayWriteResourcePolicy3C774B2D',
      'AccessLogsDelivery8A413772',
      'AccessLogsDestinationC398EAEE',
      'AccessLogsSource093D5EC0',
      'AlarmsKey7F5A268D',
      'AlarmsTopic3A2DFEBA',
      'AlarmsTopicPolicyED3A875E',
      'CDKMetadata',
      'EdgeAlarmsEdge5xxRate7012458F',
      'LogsKeyFE4C4A83',
      'SiteDistribution390DED28',
      'SiteDistributionOrigin1VpcOrigin7A3E9FEC',
      'SiteImmutableAssetsD89913B4',
      'SiteSecurityHeaders2B88159C',
      'ViewerRequestFunction272348D7',
    ];
    const maintenance = [
      'AWS679f53fac002430cb0da5b7982bd22872D164C4C',
      'AWS679f53fac002430cb0da5b7982bd2287ServiceRoleC1EA0FF2',
      'MaintenanceBucketC52ACE66',
      'MaintenanceBucketPolicyC9CE0417',
      'MaintenancePage212A79A1',
      'MaintenancePageCustomResourcePolicyA604909A',
      'MaintenanceWriterLogsC62D1E45',
      'SiteDistributionOrigin2S3OriginAccessControlD62333BA',
    ];
    const pagingAndQueries = ['AccessLogsedge5xx5B8DD2EC', 'AccessLogsedge5xxrequests220E5749', 'PageAlarmsTopic6720B199', 'PageAlarmsTopicPolicyDD6C0B1F'];
    expect(ids).toEqual([...before, ...maintenance, ...pagingAndQueries].sort());
  });
});
