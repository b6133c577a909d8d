import type { Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, test } from 'vitest';
import { TEST_LISTENER_PORT } from '../../lib/app/web-deployment';
import { parseStageConfig, STAGES, type StageName } from '../../lib/config';
import { synthStage } from '../support/synth';
import { byPrefix, type Json, policyStatements, resources, stageTemplates } from '../support/template';

const stages = stageTemplates();
const webService = (t: Template) => byPrefix(t, 'AWS::ECS::Service', 'WebService');
const idOf = (t: Template, type: string, prefix: string) => Object.keys(t.findResources(type)).find((id) => id.startsWith(prefix))!;

/** Every CloudWatch metric an alarm reads, with its dimensions as a map. */
function alarmMetrics(alarm: Json): { name: string; dimensions: Record<string, unknown> }[] {
  const dims = (list: { Name: string; Value: unknown }[] = []) => Object.fromEntries(list.map((d) => [d.Name, d.Value]));
  const p = alarm.Properties;
  if (p.MetricName) return [{ name: p.MetricName, dimensions: dims(p.Dimensions) }];
  return (p.Metrics as Json[]).filter((m) => m.MetricStat).map((m) => ({ name: m.MetricStat.Metric.MetricName, dimensions: dims(m.MetricStat.Metric.Dimensions) }));
}

describe.each(['staging', 'prod'] as const satisfies readonly StageName[])('%s shifts traffic to each release', (name) => {
  const config = parseStageConfig(STAGES[name]);
  const { deployment } = config.app;
  let t: Template;
  beforeAll(() => {
    t = stages[name].app;
  });

  test(`the web service deploys ${deployment.strategy} with a bake, the smoke test and the three rollback alarms`, () => {
    const strategy = { blueGreen: 'BLUE_GREEN', canary: 'CANARY', linear: 'LINEAR' }[deployment.strategy as 'blueGreen' | 'canary' | 'linear'];
    const dc = webService(t).Properties.DeploymentConfiguration;
    expect(dc).toMatchObject({ Strategy: strategy, BakeTimeInMinutes: deployment.bakeMinutes, Alarms: { Enable: true, Rollback: true } });
    expect(dc.AlarmNames ?? dc.Alarms.AlarmNames).toHaveLength(3);
    if (deployment.strategy === 'canary') expect(dc.CanaryConfiguration).toEqual({ CanaryPercent: deployment.stepPercent, CanaryBakeTimeInMinutes: deployment.stepMinutes });
    else expect(dc.CanaryConfiguration).toBeUndefined();
    expect(dc.LifecycleHooks).toEqual([
      {
        HookTargetArn: { 'Fn::GetAtt': [idOf(t, 'AWS::Lambda::Function', 'SmokeTestHandlerFunction'), 'Arn'] },
        LifecycleStages: ['POST_TEST_TRAFFIC_SHIFT'],
        RoleArn: { 'Fn::GetAtt': [idOf(t, 'AWS::IAM::Role', 'WebSmokeTestInvoker'), 'Arn'] },
      },
    ]);
    // The prod canary share must move the combined 5xx rate past the 5% rollback threshold when the new revision fails outright.
    if (name === 'prod') expect(deployment.stepPercent).toBeGreaterThan(5);
  });

  test('a second target group like the first, and rules ECS re-weights on the production and test listeners', () => {
    const [first, second] = ['WebTargets', 'WebAlternateTargets'].map((prefix) => byPrefix(t, 'AWS::ElasticLoadBalancingV2::TargetGroup', prefix).Properties);
    expect(second).toEqual(first);
    const [firstId, secondId] = ['WebTargets', 'WebAlternateTargets'].map((prefix) => idOf(t, 'AWS::ElasticLoadBalancingV2::TargetGroup', prefix));
    const listener = (prefix: string) => idOf(t, 'AWS::ElasticLoadBalancingV2::Listener', prefix);
    for (const [rule, on] of [
      ['WebProductionRule', listener('LoadBalancerAlbHttps')],
      ['WebTestRule', listener('LoadBalancerAlbTest')],
    ]) {
      expect(byPrefix(t, 'AWS::ElasticLoadBalancingV2::ListenerRule', rule).Properties).toEqual({
        ListenerArn: { Ref: on },
        Priority: 1,
        Conditions: [{ Field: 'path-pattern', PathPatternConfig: { Values: ['/*'] } }],
        Actions: [
          {
            Type: 'forward',
            ForwardConfig: {
              TargetGroups: [
                { TargetGroupArn: { Ref: firstId }, Weight: 100 },
                { TargetGroupArn: { Ref: secondId }, Weight: 0 },
              ],
            },
          },
        ],
      });
    }
    expect(webService(t).Properties.LoadBalancers).toEqual([
      {
        ContainerName: 'app',
        ContainerPort: config.app.containerPort,
        TargetGroupArn: { Ref: firstId },
        AdvancedConfiguration: {
          AlternateTargetGroupArn: { Ref: secondId },
          ProductionListenerRule: { Ref: idOf(t, 'AWS::ElasticLoadBalancingV2::ListenerRule', 'WebProductionRule') },
          TestListenerRule: { Ref: idOf(t, 'AWS::ElasticLoadBalancingV2::ListenerRule', 'WebTestRule') },
          RoleArn: { 'Fn::GetAtt': [idOf(t, 'AWS::IAM::Role', 'WebTrafficShiftRole'), 'Arn'] },
        },
      },
    ]);
    expect(webService(t).DependsOn).toEqual(expect.arrayContaining([idOf(t, 'AWS::ElasticLoadBalancingV2::ListenerRule', 'WebProductionRule')]));
  });

  test('the test listener serves the site certificate on its own port, to the smoke test only', () => {
    const https = byPrefix(t, 'AWS::ElasticLoadBalancingV2::Listener', 'LoadBalancerAlbHttps').Properties;
    const testListener = byPrefix(t, 'AWS::ElasticLoadBalancingV2::Listener', 'LoadBalancerAlbTest').Properties;
    expect(testListener).toMatchObject({ Port: TEST_LISTENER_PORT, Protocol: 'HTTPS', Certificates: https.Certificates, SslPolicy: https.SslPolicy });
    const albGroup = byPrefix(t, 'AWS::EC2::SecurityGroup', 'LoadBalancerSecurityGroup').Properties;
    // Behind CloudFront the group has no inline rule: the prefix list's and the smoke test's are separate.
    expect(((albGroup.SecurityGroupIngress ?? []) as Json[]).map((r) => r.FromPort)).not.toContain(TEST_LISTENER_PORT);
    const testIngress = resources(t, 'AWS::EC2::SecurityGroupIngress').filter((r) => r.Properties.FromPort === TEST_LISTENER_PORT);
    expect(testIngress.map((r) => r.Properties.SourceSecurityGroupId)).toEqual([{ 'Fn::GetAtt': [idOf(t, 'AWS::EC2::SecurityGroup', 'SmokeTestSecurityGroup'), 'GroupId'] }]);
  });

  test('the smoke test requests the readiness path and the configured paths of the site, and may only read network interfaces', () => {
    const fn = byPrefix(t, 'AWS::Lambda::Function', 'SmokeTestHandlerFunction').Properties;
    const env = fn.Environment.Variables;
    expect(JSON.parse(env.SMOKE_PATHS)).toEqual([config.app.readinessPath, ...deployment.smokePaths]);
    expect(env).toMatchObject({ TEST_LISTENER_PORT: String(TEST_LISTENER_PORT), SITE_HOST_NAME: config.domain!.recordName, SMOKE_LATENCY_MS: String(deployment.smokeLatencyMs) });
    expect(env.LOAD_BALANCER_FULL_NAME).toEqual({ 'Fn::GetAtt': [idOf(t, 'AWS::ElasticLoadBalancingV2::LoadBalancer', 'LoadBalancerAlb'), 'LoadBalancerFullName'] });
    // Every path once within its bound, with room for the EC2 call.
    expect(fn.Timeout).toBeGreaterThan((JSON.parse(env.SMOKE_PATHS).length * deployment.smokeLatencyMs) / 1000);
    expect(policyStatements(t, /^SmokeTestHandlerFunction/).filter((s) => s.Sid)).toEqual([
      { Sid: 'FindTheLoadBalancerAddresses', Effect: 'Allow', Action: 'ec2:DescribeNetworkInterfaces', Resource: '*' },
    ]);
    const invoker = byPrefix(t, 'AWS::IAM::Role', 'WebSmokeTestInvoker').Properties;
    expect(invoker.AssumeRolePolicyDocument.Statement).toEqual([expect.objectContaining({ Principal: { Service: 'ecs.amazonaws.com' } })]);
    expect(invoker.Policies).toEqual([
      {
        PolicyName: 'invoke',
        PolicyDocument: {
          Version: '2012-10-17',
          Statement: [{ Effect: 'Allow', Action: 'lambda:InvokeFunction', Resource: { 'Fn::GetAtt': [idOf(t, 'AWS::Lambda::Function', 'SmokeTestHandlerFunction'), 'Arn'] } }],
        },
      },
    ]);
  });

  test('every alarm on a target-group metric watches both target groups; latency comes from the whole load balancer', () => {
    const groups = ['WebTargets', 'WebAlternateTargets'].map((prefix) => ({ 'Fn::GetAtt': [idOf(t, 'AWS::ElasticLoadBalancingV2::TargetGroup', prefix), 'TargetGroupFullName'] }));
    const opsAlarms = resources(stages[name].ops, 'AWS::CloudWatch::Alarm');
    const all = [...resources(t, 'AWS::CloudWatch::Alarm'), ...opsAlarms].filter((a) => alarmMetrics(a).some((m) => m.dimensions.TargetGroup || m.name === 'TargetResponseTime'));
    // The latency objective's windows and the p99 anomaly alarm read TargetResponseTime of the whole load balancer too.
    const latencyReaders = opsAlarms.map((a) => a.Properties.AlarmName as string).filter((n) => n.startsWith(`${name}-slo-latency-`) || n.endsWith('-web-p99-latency-anomaly'));
    expect(latencyReaders.length).toBeGreaterThanOrEqual(6);
    expect(all.map((a) => a.Properties.AlarmName).sort()).toEqual(
      [
        `${name}-App-web-deploy-p99-latency`,
        `${name}-App-web-target-5xx-rate`,
        `${name}-App-web-unhealthy-hosts`,
        `${name}-web-5xx-rate`,
        `${name}-web-p99-latency`,
        ...latencyReaders,
      ].sort(),
    );
    for (const alarm of all) {
      const metrics = alarmMetrics(alarm);
      for (const metricName of new Set(metrics.map((m) => m.name))) {
        const list = metrics.filter((m) => m.name === metricName);
        if (metricName === 'TargetResponseTime') {
          expect(
            list.map((m) => Object.keys(m.dimensions)),
            alarm.Properties.AlarmName,
          ).toEqual([['LoadBalancer']]);
          continue;
        }
        // Both groups, in this stack by attribute or imported from it by the ops stack.
        const tgs = list.map((m) => JSON.stringify(m.dimensions.TargetGroup));
        expect(tgs, `${alarm.Properties.AlarmName} ${metricName}`).toHaveLength(2);
        expect(
          tgs.some((g) => g.includes('WebAlternateTargets')),
          `${alarm.Properties.AlarmName} ${metricName}`,
        ).toBe(true);
        expect(
          tgs.some((g) => g.includes('WebTargets') && !g.includes('Alternate')),
          `${alarm.Properties.AlarmName} ${metricName}`,
        ).toBe(true);
      }
    }
    expect(JSON.stringify(resources(t, 'AWS::CloudWatch::Alarm'))).toContain(JSON.stringify(groups[1]));
  });
});

describe('dev keeps the fast rolling deploy', () => {
  let t: Template;
  beforeAll(() => {
    t = stages.dev.app;
  });

  test('rolling web service with the one target group, no rules, no test listener, no hooks', () => {
    const dc = webService(t).Properties.DeploymentConfiguration;
    expect(dc.Strategy ?? 'ROLLING').toBe('ROLLING');
    expect([dc.LifecycleHooks, dc.BakeTimeInMinutes, dc.CanaryConfiguration]).toEqual([undefined, undefined, undefined]);
    expect(Object.keys(t.findResources('AWS::ElasticLoadBalancingV2::TargetGroup'))).toHaveLength(1);
    expect(t.findResources('AWS::ElasticLoadBalancingV2::ListenerRule')).toEqual({});
    expect(resources(t, 'AWS::ElasticLoadBalancingV2::Listener').map((l) => l.Properties.Port)).toEqual([80]);
    expect(webService(t).Properties.LoadBalancers[0].AdvancedConfiguration).toBeUndefined();
    expect(Object.keys(t.findResources('AWS::Lambda::Function')).filter((id) => id.startsWith('SmokeTest'))).toEqual([]);
  });

  test('the worker always rolls, with the circuit breaker, in every stage', () => {
    for (const name of ['dev', 'staging', 'prod'] as const) {
      const dc = byPrefix(stages[name].app, 'AWS::ECS::Service', 'WorkerService').Properties.DeploymentConfiguration;
      expect(dc.Strategy ?? 'ROLLING', name).toBe('ROLLING');
      expect(dc.DeploymentCircuitBreaker, name).toEqual({ Enable: true, Rollback: true });
    }
  });
});

test('a linear strategy steps the configured share every configured minutes', () => {
  const t = synthStage('staging', { 'staging.app.deployment.strategy': 'linear', 'staging.app.deployment.stepPercent': '25', 'staging.app.deployment.stepMinutes': '6' }).app;
  const dc = webService(t).Properties.DeploymentConfiguration;
  expect(dc).toMatchObject({ Strategy: 'LINEAR', LinearConfiguration: { StepPercent: 25, StepBakeTimeInMinutes: 6 } });
  expect(dc.CanaryConfiguration).toBeUndefined();
});
