import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Match, type Template } from 'aws-cdk-lib/assertions';
import { describe, expect, test } from 'vitest';
import { UNKNOWN_AGE_DAYS } from '../../lambda/failover-drill-age/age';
import { ACCOUNT_ACTIVITY_NAMESPACE, TRAIL_ACTIVITIES } from '../../lib/baseline/account-activity';
import { BREAK_GLASS_ASSUMED_METRIC } from '../../lib/baseline/audit-trail';
import { STAGE_NAMES, type StageConfig, type StageName } from '../../lib/config';
import { rdsMaxConnections } from '../../lib/config/instance-class';
import { DEV_OPERATIONS_OVERRIDES, synthStage } from '../support/synth';
import { type Json, resources, stageTemplates } from '../support/template';

const stages = stageTemplates();
const config = (name: StageName): StageConfig => stages[name].stage.config;

/** The ops stack's metric alarms by name. */
function alarms(name: StageName): Map<string, Json> {
  return new Map(resources(stages[name].ops, 'AWS::CloudWatch::Alarm').map((r) => [r.Properties.AlarmName as string, r.Properties]));
}

function alarm(stage: StageName, shortName: string): Json {
  const found = alarms(stage).get(`${stage}-${shortName}`);
  if (!found) throw new Error(`no alarm ${stage}-${shortName}; have ${[...alarms(stage).keys()].join(', ')}`);
  return found;
}

/** The metrics an alarm reads: its single metric, or every metric of its math expression. */
function metricsOf(props: Json): { namespace: string; name: string; dimensions: Record<string, unknown>; period: number }[] {
  const dims = (list: { Name: string; Value: unknown }[] = []) => Object.fromEntries(list.map((d) => [d.Name, d.Value]));
  if (props.MetricName) return [{ namespace: props.Namespace, name: props.MetricName, dimensions: dims(props.Dimensions), period: props.Period }];
  return (props.Metrics as Json[])
    .filter((m) => m.MetricStat)
    .map((m) => ({
      namespace: m.MetricStat.Metric.Namespace,
      name: m.MetricStat.Metric.MetricName,
      dimensions: dims(m.MetricStat.Metric.Dimensions),
      period: m.MetricStat.Period,
    }));
}

/** A route's topic in the stage's region: `alarms` the ticket topic, `page` the paging topic. */
function topicArn(name: StageName, route: 'alarms' | 'page' = 'alarms'): string {
  const { account, region } = config(name);
  return `arn:aws:sns:${region}:${account}:webapp-${name}-${route}`;
}

/** The actions of each severity (lib/shared/alarm-set.ts routeTopics): a page is recorded on the ticket route too. */
const routeActions = (name: StageName) => ({ page: [topicArn(name, 'page'), topicArn(name)], ticket: [topicArn(name)] });

describe.each(STAGE_NAMES)('%s operations', (name) => {
  test('every alarm, metric or composite, sends ALARM and OK to the route of its severity and says what missing data means', () => {
    const t = stages[name].ops;
    const composites = resources(t, 'AWS::CloudWatch::CompositeAlarm');
    const all = [...resources(t, 'AWS::CloudWatch::Alarm'), ...composites];
    expect(all.length).toBeGreaterThan(20);
    const ids = Object.fromEntries(Object.entries(t.findResources('AWS::CloudWatch::Alarm')).map(([id, r]) => [r.Properties.AlarmName, id]));
    for (const { Type, Properties: p } of all) {
      expect(p.AlarmName).toMatch(new RegExp(`^${name}-[a-z0-9-]+$`));
      expect(p.AlarmDescription).toMatch(/Runbook: docs\/alarms\.md#[a-z0-9-]+$/);
      const routes = Object.values(routeActions(name));
      if (p.ActionsEnabled === false) {
        expect(p.AlarmActions ?? [], p.AlarmName).toEqual([]);
        // The stage summary: each alarm it reads pages on its own (test below).
        if (p.AlarmName === `${name}-stage-unhealthy`) continue;
        // A window of a burn-rate pair: no actions, and a composite that notifies reads it.
        const readers = composites.filter((c) => JSON.stringify(c.Properties.AlarmRule).includes(`"${ids[p.AlarmName]}"`));
        expect(readers.length, p.AlarmName).toBeGreaterThan(0);
        for (const c of readers) expect(routes, p.AlarmName).toContainEqual(c.Properties.AlarmActions);
        continue;
      }
      expect(p.ActionsEnabled, p.AlarmName).toBe(true);
      expect(routes, p.AlarmName).toContainEqual(p.AlarmActions);
      expect(p.OKActions, p.AlarmName).toEqual(p.AlarmActions);
      if (Type === 'AWS::CloudWatch::Alarm') expect(p.TreatMissingData, p.AlarmName).toMatch(/^(breaching|notBreaching|ignore|missing)$/);
    }
  });

  test('the deployment alarms of the web service notify their routes too: unhealthy hosts page, the rollback triggers are tickets', () => {
    const deploymentAlarms = resources(stages[name].app, 'AWS::CloudWatch::Alarm');
    expect(deploymentAlarms.map((a) => a.Properties.AlarmName)).toEqual([
      `${name}-App-web-target-5xx-rate`,
      `${name}-App-web-unhealthy-hosts`,
      `${name}-App-web-deploy-p99-latency`,
    ]);
    for (const { Properties: p } of deploymentAlarms) {
      expect(p.OKActions).toEqual(p.AlarmActions);
      const topics = JSON.stringify(p.AlarmActions);
      expect(topics).toContain('AlarmsTopic');
      expect(topics.includes('PageAlarmsTopic'), p.AlarmName).toBe(p.AlarmName.endsWith('unhealthy-hosts'));
    }
  });

  // A flipped comparison turns an alarm into one that fires all the time or never. Only these
  // watch for a value falling: everything else alarms above its threshold.
  const FALLING = new Set(['db-freeable-memory', 'db-free-storage', 'restore-verification-failed', 'restore-verification-stale', 'dump-check-failed', 'anonymise-failed']);
  test('every alarm compares in the direction of trouble', () => {
    const all = [...resources(stages[name].ops, 'AWS::CloudWatch::Alarm'), ...resources(stages[name].app, 'AWS::CloudWatch::Alarm')].map((a) => a.Properties);
    expect(all.length).toBeGreaterThan(25);
    for (const a of all) {
      const short = (a.AlarmName as string).replace(new RegExp(`^${name}-(App-)?`), '');
      // Anomaly bands: traffic is trouble either way (a surge, or requests that stopped), latency only upwards.
      const expected =
        short === 'alb-requests-anomaly'
          ? 'LessThanLowerOrGreaterThanUpperThreshold'
          : short.endsWith('-anomaly')
            ? 'GreaterThanUpperThreshold'
            : FALLING.has(short)
              ? 'LessThanThreshold'
              : 'GreaterThanThreshold';
      expect(a.ComparisonOperator, a.AlarmName).toBe(expected);
    }
    const optional = /^(restore-|dump-check|anonymise)/;
    expect([...FALLING].filter((short) => !all.some((a) => a.AlarmName === `${name}-${short}`) && !optional.test(short))).toEqual([]);
  });

  test('thresholds, periods and evaluation periods follow the stage config', () => {
    const { operations: o, database, cache } = config(name);
    const expectAlarm = (shortName: string, threshold: number, evaluationPeriods: number, period = 300) => {
      const a = alarm(name, shortName);
      expect(a.Threshold, shortName).toBe(threshold);
      expect(a.EvaluationPeriods, shortName).toBe(evaluationPeriods);
      for (const m of metricsOf(a)) expect(m.period, shortName).toBe(period);
    };
    expectAlarm('alb-5xx-rate', o.http5xxRatePercent, 1);
    expectAlarm('web-5xx-rate', o.http5xxRatePercent, 1);
    expectAlarm('web-p99-latency', o.p99LatencySeconds, 2);
    expectAlarm('alb-rejected-connections', 0, 1);
    for (const service of ['web', 'worker']) {
      expectAlarm(`${service}-cpu`, o.ecsCpuPercent, 1);
      expectAlarm(`${service}-memory`, o.ecsMemoryPercent, 1);
      expectAlarm(`${service}-tasks-below-desired`, 0, 3);
    }
    expectAlarm('db-cpu', o.rdsCpuPercent, 2);
    expectAlarm('db-freeable-memory', o.rdsFreeableMemoryMiB * 1024 * 1024, 3);
    expectAlarm('db-free-storage', Math.round(database.allocatedStorageGiB * 1024 ** 3 * (o.rdsFreeStoragePercent / 100)), 2);
    expectAlarm('db-connections', Math.floor((rdsMaxConnections(database.instanceClass) * o.rdsConnectionsPercent) / 100), 2);
    expectAlarm('db-read-latency', o.rdsLatencySeconds, 3);
    expectAlarm('db-write-latency', o.rdsLatencySeconds, 3);
    for (let n = 1; n <= 1 + cache.replicas; n++) {
      const node = String(n).padStart(3, '0');
      expectAlarm(`cache-cpu-${node}`, o.cacheCpuPercent, 3);
      expectAlarm(`cache-memory-${node}`, o.cacheMemoryPercent, 1);
      expectAlarm(`cache-evictions-${node}`, 0, 1);
      expectAlarm(`cache-connections-${node}`, o.cacheConnections, 2);
    }
    // Behind CloudFront the web ACL's alarm is the edge stack's (test/edge).
    if (config(name).app.waf && !config(name).edge.enabled) expectAlarm('waf-blocked-surge', o.wafBlockedPer5Min, 1);
    if (config(name).backup.restoreTesting !== 'off') {
      expectAlarm('restore-verification-failed', 1, 1, 86400);
      expectAlarm('restore-verification-stale', 1, 1, 86400);
      expect(alarm(name, 'restore-verification-failed')).toMatchObject({ ComparisonOperator: 'LessThanThreshold', TreatMissingData: 'notBreaching', Statistic: 'Minimum' });
      // The watchdog publishes daily: silence means it stopped, which must alarm too.
      expect(alarm(name, 'restore-verification-stale')).toMatchObject({
        ComparisonOperator: 'LessThanThreshold',
        TreatMissingData: 'breaching',
        Dimensions: [{ Name: 'Stage', Value: name }],
      });
    } else {
      expect(alarms(name).has(`${name}-restore-verification-stale`)).toBe(false);
    }
    if (config(name).dr.pilotLight) {
      expectAlarm('failover-drill-stale', config(name).dr.drillIntervalDays, 2, 86400);
      // Two daily readings above the interval, or two days without one (the check stopped, filled
      // as the unknown age): a ticket. FILL, not treatMissingData: CloudWatch judges a daily
      // metric's missing data over a wider range than the two periods.
      const stale = alarm(name, 'failover-drill-stale');
      expect(stale).toMatchObject({ ComparisonOperator: 'GreaterThanThreshold', DatapointsToAlarm: 2 });
      const [filled, age] = stale.Metrics as { Id: string; Expression?: string; ReturnData?: boolean; MetricStat?: Record<string, unknown> }[];
      expect(filled).toMatchObject({ Expression: `FILL(age, ${UNKNOWN_AGE_DAYS})` });
      expect(age).toMatchObject({
        Id: 'age',
        ReturnData: false,
        MetricStat: { Metric: { Namespace: 'webapp/Failover', MetricName: 'DaysSinceDrill', Dimensions: [{ Name: 'Stage', Value: name }] }, Period: 86400, Stat: 'Maximum' },
      });
    } else {
      // Nothing to fail over to, so nothing to drill.
      expect([...alarms(name).keys()].filter((n) => n.includes('failover'))).toEqual([]);
    }
    if (config(name).domain) {
      expectAlarm('ses-bounce-rate', o.sesBounceRatePercent / 100, 1, 900);
      expectAlarm('ses-complaint-rate', o.sesComplaintRatePercent / 100, 1, 900);
    }
  });

  test('the alarmed metrics cover every tier', () => {
    const covered = new Set([...alarms(name).values()].flatMap((a) => metricsOf(a).map((m) => `${m.namespace} ${m.name}`)));
    const expected = [
      'AWS/ApplicationELB HTTPCode_ELB_5XX_Count',
      'AWS/ApplicationELB HTTPCode_Target_5XX_Count',
      'AWS/ApplicationELB RequestCount',
      'AWS/ApplicationELB TargetResponseTime',
      'AWS/ApplicationELB RejectedConnectionCount',
      'AWS/ECS CPUUtilization',
      'AWS/ECS MemoryUtilization',
      'ECS/ContainerInsights RunningTaskCount',
      'ECS/ContainerInsights DesiredTaskCount',
      'AWS/RDS CPUUtilization',
      'AWS/RDS FreeableMemory',
      'AWS/RDS FreeStorageSpace',
      'AWS/RDS DatabaseConnections',
      'AWS/RDS ReadLatency',
      'AWS/RDS WriteLatency',
      'AWS/ElastiCache EngineCPUUtilization',
      'AWS/ElastiCache DatabaseMemoryUsagePercentage',
      'AWS/ElastiCache Evictions',
      'AWS/ElastiCache CurrConnections',
      'AWS/Lambda Errors',
      'AWS/Lambda Throttles',
      ...(config(name).app.waf && !config(name).edge.enabled ? ['AWS/WAFV2 BlockedRequests'] : []),
      ...(config(name).domain ? ['AWS/SES Reputation.BounceRate', 'AWS/SES Reputation.ComplaintRate'] : []),
      ...(config(name).backup.restoreTesting !== 'off' ? ['webapp/RestoreTesting VerificationSucceeded', 'webapp/RestoreTesting VerifiedWithinInterval'] : []),
      ...(config(name).dr.pilotLight ? ['webapp/Failover DaysSinceDrill'] : []),
      ...(config(name).operations.queues.enabled ? ['webapp/Queues OldestWaitingSeconds', 'webapp/Queues Waiting', 'webapp/Queues Finished'] : []),
      'webapp/Dumps DumpSeconds',
      'webapp/Dumps HoursSinceDump',
      ...(config(name).dumps.restoreCheck !== 'off' ? ['webapp/Dumps HoursSinceCheck', 'webapp/Dumps RestoreCheckSucceeded'] : []),
      ...(config(name).dumps.anonymised ? ['webapp/Dumps HoursSinceAnonymised', 'webapp/Dumps AnonymisedSucceeded'] : []),
      ...(config(name).baseline.trail.enabled ? TRAIL_ACTIVITIES.map((a) => `${ACCOUNT_ACTIVITY_NAMESPACE} ${a.metric}`) : []),
      ...(config(name).baseline.trail.enabled && config(name).access.pageOnUse ? [`${ACCOUNT_ACTIVITY_NAMESPACE} ${BREAK_GLASS_ASSUMED_METRIC}`] : []),
      'AWS/Events TriggeredRules',
    ];
    expect([...covered].sort()).toEqual([...expected].sort());
    // Unhealthy hosts is the web service's deployment alarm, in the app stack.
    const deployment = resources(stages[name].app, 'AWS::CloudWatch::Alarm').flatMap((a) => metricsOf(a.Properties).map((m) => m.name));
    expect(deployment).toContain('UnHealthyHostCount');
  });

  test("the alarms watch this stage's resources", () => {
    const ecs = metricsOf(alarm(name, 'worker-cpu'))[0];
    expect(JSON.stringify(ecs.dimensions.ClusterName)).toContain(`${name}-App`);
    expect(JSON.stringify(ecs.dimensions.ServiceName)).toMatch(/WorkerService/);
    const db = metricsOf(alarm(name, 'db-cpu'))[0];
    expect(JSON.stringify(db.dimensions.DBInstanceIdentifier)).toMatch(new RegExp(`"StackName":"${name}-Data".*DatabaseInstance`));
    const cache = metricsOf(alarm(name, 'cache-memory-001'))[0];
    expect(JSON.stringify(cache.dimensions.CacheClusterId)).toMatch(/CacheReplicationGroup.*-001/);
    const lambdas = [...alarms(name).keys()].filter((n) => n.startsWith(`${name}-lambda-`));
    expect(lambdas.sort()).toEqual(
      [
        'database-setup',
        'cache-events-forwarder',
        ...(config(name).backup.restoreTesting !== 'off' ? ['restore-testing'] : []),
        'pre-deploy-snapshot',
        'pre-deploy-snapshot-is-complete',
        'migration',
        'migration-is-complete',
        'release-record',
        'cache-token-rotation',
        ...(config(name).app.deployment.strategy !== 'rolling' ? ['smoke-test'] : []),
        // The ops stack's own functions, watched like the other stacks'.
        'dump-age',
        ...(config(name).dr.pilotLight ? ['failover-drill-age'] : []),
        ...(config(name).operations.queues.enabled ? ['queue-health'] : []),
      ]
        .map((fn) => `${name}-lambda-${fn}-errors`)
        .concat(`${name}-lambda-throttles`)
        .sort(),
    );
    if (config(name).app.waf && !config(name).edge.enabled)
      expect(metricsOf(alarm(name, 'waf-blocked-surge'))[0].dimensions).toEqual({ WebACL: `${name}-App-web-acl`, Region: config(name).region, Rule: 'ALL' });
  });

  test('a composite "stage unhealthy" alarm sums up the paging alarms for the dashboard, and pages nobody itself', () => {
    const t = stages[name].ops;
    const composite = resources(t, 'AWS::CloudWatch::CompositeAlarm').find((c) => c.Properties.AlarmName === `${name}-stage-unhealthy`)!;
    expect(composite).toBeDefined();
    // Each alarm it reads pages on its own: actions here would page twice for one cause.
    expect(composite.Properties.ActionsEnabled).toBe(false);
    expect(composite.Properties.AlarmActions ?? []).toEqual([]);
    expect(composite.Properties.OKActions ?? []).toEqual([]);
    const rule = JSON.stringify(composite.Properties.AlarmRule);
    const logicalId = (shortName: string) => Object.entries(t.findResources('AWS::CloudWatch::Alarm')).find(([, r]) => r.Properties.AlarmName === `${name}-${shortName}`)![0];
    const inRule = (shortName: string) => rule.includes(`{"Fn::GetAtt":["${logicalId(shortName)}","Arn"]}`);
    for (const paging of [
      'alb-5xx-rate',
      'web-5xx-rate',
      'web-tasks-below-desired',
      'worker-tasks-below-desired',
      'db-free-storage',
      'db-connections',
      'cache-memory-001',
      'cache-evictions-001',
    ]) {
      expect(inRule(paging), paging).toBe(true);
    }
    const tickets = ['db-cpu', 'web-p99-latency', 'cache-cpu-001', 'lambda-database-setup-errors', ...(config(name).dr.pilotLight ? ['failover-drill-stale'] : [])];
    for (const ticket of tickets) expect(inRule(ticket), ticket).toBe(false);
    // The account's checks page or not by their severity; what deploys change is a ticket.
    for (const activity of config(name).baseline.trail.enabled ? TRAIL_ACTIVITIES : []) expect(inRule(activity.alarm), activity.alarm).toBe(activity.severity === 'page');
    expect(TRAIL_ACTIVITIES.filter((a) => a.deploys === 'only').map((a) => a.severity)).toEqual(['ticket', 'ticket', 'ticket']);
    // The burn-rate pairs that page are in it, as composites; the budget burn (a ticket) is not.
    const compositeId = (shortName: string) =>
      Object.entries(t.findResources('AWS::CloudWatch::CompositeAlarm')).find(([, r]) => r.Properties.AlarmName === `${name}-${shortName}`)![0];
    for (const slo of config(name).operations.slo.enabled ? ['availability', 'latency'] : []) {
      expect(rule, slo).toContain(`"${compositeId(`slo-${slo}-fast-burn`)}"`);
      expect(rule, slo).toContain(`"${compositeId(`slo-${slo}-slow-burn`)}"`);
      expect(rule, slo).not.toContain(`"${compositeId(`slo-${slo}-budget-burn`)}"`);
    }
    // The web service's unhealthy-hosts alarm lives in the app stack.
    expect(rule).toMatch(/"StackName":"[a-z]+-App","Region":"[a-z0-9-]+","OutputName":"[A-Za-z0-9]*WebUnhealthyHosts/);
    expect(rule.match(/ALARM\(/g)?.length).toBe(rule.match(/Fn::GetAtt|Fn::GetStackOutput/g)?.length);
  });

  test('EventBridge rules send ECS, RDS and AWS Backup failures to the ticket route as readable text, and high GuardDuty findings to the paging route too', () => {
    const t = stages[name].ops;
    const { baseline } = config(name);
    // Rules on a schedule run a function (test/ops/failover-drill-age.test.ts, test/data/dumps.test.ts); these tell people.
    const rules = resources(t, 'AWS::Events::Rule').filter((r) => !r.Properties.ScheduleExpression);
    // Seven of the stage's own, two on its protected keys (test/ops/protected-key-changes.test.ts), the
    // uses of the people's roles (test/ops/operator-role-use.test.ts), and the account's GuardDuty
    // (medium, high) and Security Hub findings where those run.
    const roleRules = 1 + (config(name).access.onCall.principals.length > 0 ? 1 : 0);
    expect(rules).toHaveLength(9 + roleRules + (baseline.guardDuty.enabled ? 2 : 0) + (baseline.securityHub ? 1 : 0));
    for (const r of rules) {
      const template = r.Properties.Targets[0].InputTransformer.InputTemplate as string;
      const pages = template.includes('#guardduty-high-finding');
      expect(r.Properties.Targets).toEqual(
        (pages ? routeActions(name).page : routeActions(name).ticket).map((Arn) =>
          expect.objectContaining({ Arn, InputTransformer: expect.objectContaining({ InputTemplate: expect.stringContaining('Runbook: docs/alarms.md#') }) }),
        ),
      );
    }
    if (baseline.guardDuty.enabled) {
      t.hasResourceProperties('AWS::Events::Rule', { EventPattern: { source: ['aws.guardduty'], detail: { severity: [{ numeric: ['>=', 7] }] } } });
      t.hasResourceProperties('AWS::Events::Rule', { EventPattern: { source: ['aws.guardduty'], detail: { severity: [{ numeric: ['>=', 4, '<', 7] }] } } });
    }
    t.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['aws.ecs'],
        'detail-type': ['ECS Deployment State Change'],
        detail: { eventName: ['SERVICE_DEPLOYMENT_FAILED'] },
        resources: [Match.anyValue(), Match.anyValue()],
      },
    });
    t.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: { detail: { lastStatus: ['STOPPED'], stopCode: ['EssentialContainerExited', 'TaskFailedToStart'], group: [{ prefix: 'service:' }] } },
    });
    // The jobs' tasks end by themselves: only a non-zero exit or a failed start is news. EventBridge
    // matches `containers.exitCode` against each container of the array; moto's matcher does not
    // look inside arrays of objects, so the pattern is pinned here rather than run.
    t.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        detail: {
          clusterArn: [`arn:aws:ecs:${config(name).region}:${config(name).account}:cluster/webapp-${name}-jobs`],
          lastStatus: ['STOPPED'],
          $or: [{ stopCode: ['TaskFailedToStart'] }, { containers: { exitCode: [{ 'anything-but': 0 }] } }],
        },
      },
    });
    t.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: { source: ['aws.rds'], detail: { EventCategories: Match.arrayWith(['failover', 'low storage', 'maintenance']), SourceIdentifier: [Match.anyValue()] } },
    });
    t.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: { source: ['aws.backup'], detail: { $or: [{ state: ['FAILED', 'ABORTED', 'EXPIRED'] }, { status: ['FAILED', 'ABORTED', 'EXPIRED'] }] } },
    });
    // A release recorded without its pre-deploy snapshot is a ticket (lambda/release-record's event).
    t.hasResourceProperties('AWS::Events::Rule', {
      Description: Match.stringLikeRegexp('without its pre-deploy snapshot.*severity ticket$'),
      EventPattern: { source: ['webapp.release'], 'detail-type': ['Release Completed'], detail: { stage: [name], snapshotSkipped: [true] } },
    });
  });

  test("the dashboard shows the alarms and the golden signals of this stage's resources", () => {
    const [dashboard] = resources(stages[name].ops, 'AWS::CloudWatch::Dashboard');
    expect(dashboard.Properties.DashboardName).toBe(`webapp-${name}`);
    const body = JSON.stringify(dashboard.Properties.DashboardBody);
    for (const text of ['alarm', 'Requests', 'Latency', 'ECS/ContainerInsights', 'AWS/RDS', 'AWS/ElastiCache', 'AWS/Lambda', 'max_connections']) {
      expect(body, text).toContain(text);
    }
    for (const output of [`"StackName":"${name}-App"`, `"StackName":"${name}-Data"`]) expect(body).toContain(output);
    expect(body).toMatch(/"Fn::GetAtt":\["StageUnhealthy[0-9A-F]+","Arn"\]/);
  });

  test('the monthly budget mails the ticket route at 80% actual, and pages at 100% actual and 100% forecast', () => {
    const { monthlyBudgetUsd, alarms: recipients } = config(name);
    const emails = recipients.emails.map((Address) => ({ SubscriptionType: 'EMAIL', Address }));
    const pager = { SubscriptionType: 'SNS', Address: topicArn(name, 'page') };
    const notification = (NotificationType: string, Threshold: number) => ({ NotificationType, ComparisonOperator: 'GREATER_THAN', Threshold, ThresholdType: 'PERCENTAGE' });
    stages[name].ops.hasResourceProperties('AWS::Budgets::Budget', {
      Budget: { BudgetName: `webapp-${name}-monthly`, BudgetType: 'COST', TimeUnit: 'MONTHLY', BudgetLimit: { Amount: monthlyBudgetUsd, Unit: 'USD' } },
      NotificationsWithSubscribers: [
        { Notification: notification('ACTUAL', 80), Subscribers: emails },
        { Notification: notification('ACTUAL', 100), Subscribers: [...emails, pager] },
        { Notification: notification('FORECASTED', 100), Subscribers: [...emails, pager] },
      ],
    });
  });

  test("the two route topics share one key of their own, are TLS-only, and admit only this account's alarms, rules and budgets", () => {
    const t = stages[name].network;
    for (const route of ['alarms', 'page']) {
      t.hasResourceProperties('AWS::SNS::Topic', { TopicName: `webapp-${name}-${route}`, KmsMasterKeyId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^AlarmsKey'), 'Arn'] } });
    }
    const policies = resources(t, 'AWS::SNS::TopicPolicy');
    expect(policies).toHaveLength(2);
    for (const policy of policies) {
      const statements = policy.Properties.PolicyDocument.Statement as Json[];
      expect(statements).toContainEqual(expect.objectContaining({ Effect: 'Deny', Principal: '*', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }));
      const publish = statements.find((s) => s.Sid === 'AlarmsRulesBudgetsOfThisAccount');
      expect(publish).toMatchObject({
        Effect: 'Allow',
        Action: 'sns:Publish',
        Principal: { Service: ['budgets.amazonaws.com', 'cloudwatch.amazonaws.com', 'events.amazonaws.com'] },
        Condition: { StringEquals: { 'aws:SourceAccount': config(name).account } },
      });
    }
    expect(Object.keys(t.findResources('AWS::KMS::Key')).filter((id) => id.startsWith('AlarmsKey') || id.startsWith('PageAlarms'))).toHaveLength(1);
    const [key] = Object.entries(t.findResources('AWS::KMS::Key'))
      .filter(([id]) => id.startsWith('AlarmsKey'))
      .map(([, r]) => r);
    expect(key.Properties.EnableKeyRotation).toBe(true);
    const keyStatements = key.Properties.KeyPolicy.Statement as Json[];
    expect(keyStatements.find((s) => s.Sid === 'AlarmsOfThisAccountEncrypt')).toMatchObject({
      Principal: { Service: 'cloudwatch.amazonaws.com' },
      Condition: { StringEquals: { 'aws:SourceAccount': config(name).account } },
    });
    const rulesAndBudgets = keyStatements.find((s) => s.Sid === 'RulesAndBudgetsEncrypt');
    expect([...rulesAndBudgets.Principal.Service].sort()).toEqual(['budgets.amazonaws.com', 'events.amazonaws.com']);
    expect(rulesAndBudgets.Condition).toBeUndefined();
    // Emails on the ticket topic (where they were confirmed), pagers on the paging topic.
    const topicIds = Object.fromEntries(Object.entries(t.findResources('AWS::SNS::Topic')).map(([id, r]) => [id, r.Properties.TopicName]));
    const subscriptions = resources(t, 'AWS::SNS::Subscription').map((s) => `${topicIds[s.Properties.TopicArn.Ref]} ${s.Properties.Protocol} ${s.Properties.Endpoint}`);
    expect(subscriptions.sort()).toEqual(
      [...config(name).alarms.emails.map((e) => `webapp-${name}-alarms email ${e}`), ...config(name).alarms.httpsEndpoints.map((u) => `webapp-${name}-page https ${u}`)].sort(),
    );
  });

  test("the database's max_connections is written out, so the connections alarm knows the limit", () => {
    stages[name].data.hasResourceProperties('AWS::RDS::DBParameterGroup', {
      Parameters: Match.objectLike({ max_connections: String(rdsMaxConnections(config(name).database.instanceClass)) }),
    });
  });
});

/** One staging variant for the tests below, synthesized once. */
const STAGING_VARIANT = { 'staging.cache.replicas': 2, 'staging.dr.drillIntervalDays': 30 };

describe('operations config reaches the template', () => {
  test('thresholds, recipients and budget are overridable per stage', () => {
    const { ops, network } = synthStage('dev', DEV_OPERATIONS_OVERRIDES);
    expect(alarmIn(ops, 'dev-db-cpu').Threshold).toBe(65);
    network.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'https', Endpoint: 'https://events.pagerduty.com/integration/abc/enqueue' });
    // No emails: the budget's ticket goes to the ticket topic (its Slack channel), its pages to the pager.
    ops.hasResourceProperties('AWS::Budgets::Budget', {
      Budget: Match.objectLike({ BudgetLimit: { Amount: 90, Unit: 'USD' } }),
      NotificationsWithSubscribers: [
        Match.objectLike({ Subscribers: [{ SubscriptionType: 'SNS', Address: 'arn:aws:sns:eu-west-1:111111111111:webapp-dev-alarms' }] }),
        Match.objectLike({ Subscribers: [{ SubscriptionType: 'SNS', Address: 'arn:aws:sns:eu-west-1:111111111111:webapp-dev-page' }] }),
        Match.objectLike({ Subscribers: [{ SubscriptionType: 'SNS', Address: 'arn:aws:sns:eu-west-1:111111111111:webapp-dev-page' }] }),
      ],
    });
  });

  test('a bigger cache gets alarms on every node', () => {
    const { ops } = synthStage('staging', STAGING_VARIANT);
    const names = Object.values(ops.findResources('AWS::CloudWatch::Alarm')).map((r) => r.Properties.AlarmName as string);
    expect(names.filter((n) => n.startsWith('staging-cache-memory-'))).toEqual(['staging-cache-memory-001', 'staging-cache-memory-002', 'staging-cache-memory-003']);
  });

  test('the failover drill may age dr.drillIntervalDays before its alarm', () => {
    const { ops } = synthStage('staging', STAGING_VARIANT);
    expect(alarmIn(ops, 'staging-failover-drill-stale').Threshold).toBe(30);
    expect(alarmIn(stages.staging.ops, 'staging-failover-drill-stale').Threshold).toBe(90);
  });
});

function alarmIn(t: Template, alarmName: string): Json {
  const found = Object.values(t.findResources('AWS::CloudWatch::Alarm')).find((r) => r.Properties.AlarmName === alarmName);
  if (!found) throw new Error(`no alarm ${alarmName}`);
  return found.Properties;
}

describe('docs/alarms.md', () => {
  const doc = readFileSync(join(__dirname, '..', '..', 'docs', 'alarms.md'), 'utf8');
  // GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens.
  const anchors = new Set(
    [...doc.matchAll(/^#{2,4} (.+)$/gm)].map((m) =>
      m[1]
        .trim()
        .toLowerCase()
        .replace(/[^a-z0-9 -]/g, '')
        .replace(/ /g, '-'),
    ),
  );

  test.each(STAGE_NAMES)('has a runbook line for every alarm and event rule of %s', (name) => {
    const texts = [stages[name].ops, stages[name].app, ...(stages[name].edge ? [stages[name].edge] : [])].flatMap((t) => [
      ...resources(t, 'AWS::CloudWatch::Alarm').map((r) => r.Properties.AlarmDescription as string),
      ...resources(t, 'AWS::CloudWatch::CompositeAlarm').map((r) => r.Properties.AlarmDescription as string),
      // Rules on a schedule run a function (the cache token's settle step); the others tell people.
      ...resources(t, 'AWS::Events::Rule')
        .filter((r) => !r.Properties.ScheduleExpression)
        .map((r) => r.Properties.Targets[0].InputTransformer.InputTemplate as string),
    ]);
    for (const text of texts) {
      const anchor = /docs\/alarms\.md#([a-z0-9-]+)/.exec(text)?.[1];
      expect(anchor, text).toBeDefined();
      expect(anchors.has(anchor!), `docs/alarms.md has no heading for #${anchor}`).toBe(true);
    }
  });
});

/**
 * Every alarm watches a metric its resource really publishes: the dimensions name that resource
 * the way the service does (the web ACL's metric name, not its name; the full names of the load
 * balancer and target group; the cluster and service names; each cache node's id).
 */
describe.each(STAGE_NAMES)('%s alarms watch metrics that exist', (name) => {
  const templates = (): Record<string, Template> => {
    const t = stages[name];
    return { [`${name}-Network`]: t.network, [`${name}-Data`]: t.data, [`${name}-App`]: t.app, [`${name}-Ops`]: t.ops, ...(t.edge ? { [`${name}-Edge`]: t.edge } : {}) };
  };
  /** A dimension value as [stack, CloudFormation expression]: cross-stack reads followed to the producer's output. */
  const resolve = (value: Json, inStack: string): [string, Json] => {
    const read = value?.['Fn::Join']?.[1]?.[0]?.['Fn::GetStackOutput'];
    if (!read) return [inStack, value];
    const producer = templates()[read.StackName];
    return [read.StackName, producer.toJSON().Outputs[read.OutputName].Value];
  };
  const typeOf = (stack: string, logicalId: string) => templates()[stack].toJSON().Resources[logicalId]?.Type;
  const attOf = (expr: Json, stack: string, type: string, attribute: string) => {
    expect(expr?.['Fn::GetAtt']?.[1], JSON.stringify(expr)).toBe(attribute);
    expect(typeOf(stack, expr['Fn::GetAtt'][0])).toBe(type);
  };
  const refOf = (expr: Json, stack: string, type: string) => {
    expect(typeof expr?.Ref, JSON.stringify(expr)).toBe('string');
    expect(typeOf(stack, expr.Ref)).toBe(type);
  };

  test('each dimension names its resource as the service publishes it', () => {
    const cfg = config(name);
    // The web ACL is the load balancer's, or the distribution's in the edge stack (metrics in us-east-1, no Region).
    const aclStack = stages[name].edge ?? stages[name].app;
    const webAclMetric = Object.values(aclStack.findResources('AWS::WAFv2::WebACL')).map((w) => w.Properties.VisibilityConfig.MetricName);
    const checked = new Set<string>();
    for (const [stack, template] of [
      [`${name}-App`, stages[name].app],
      [`${name}-Ops`, stages[name].ops],
      ...(stages[name].edge ? [[`${name}-Edge`, stages[name].edge] as const] : []),
    ] as const) {
      for (const a of resources(template, 'AWS::CloudWatch::Alarm')) {
        for (const m of metricsOf(a.Properties)) {
          const dim = (key: string) => resolve(m.dimensions[key], stack);
          const where = `${a.Properties.AlarmName} ${m.namespace} ${m.name}`;
          switch (m.namespace) {
            case 'AWS/ApplicationELB': {
              const [lbStack, lb] = dim('LoadBalancer');
              attOf(lb, lbStack, 'AWS::ElasticLoadBalancingV2::LoadBalancer', 'LoadBalancerFullName');
              if ('TargetGroup' in m.dimensions) {
                const [tgStack, tg] = dim('TargetGroup');
                attOf(tg, tgStack, 'AWS::ElasticLoadBalancingV2::TargetGroup', 'TargetGroupFullName');
              }
              break;
            }
            case 'AWS/WAFV2':
              expect(m.dimensions, where).toEqual(cfg.edge.enabled ? { WebACL: webAclMetric[0], Rule: 'ALL' } : { WebACL: webAclMetric[0], Region: cfg.region, Rule: 'ALL' });
              break;
            case 'AWS/CloudFront':
              expect(stack, where).toBe(`${name}-Edge`);
              expect(m.dimensions.Region, where).toBe('Global');
              refOf(m.dimensions.DistributionId, stack, 'AWS::CloudFront::Distribution');
              break;
            case 'ECS/ContainerInsights':
            case 'AWS/ECS': {
              const [clusterStack, cluster] = dim('ClusterName');
              refOf(cluster, clusterStack, 'AWS::ECS::Cluster');
              const [serviceStack, service] = dim('ServiceName');
              attOf(service, serviceStack, 'AWS::ECS::Service', 'Name');
              break;
            }
            case 'AWS/RDS': {
              const [dbStack, db] = dim('DBInstanceIdentifier');
              refOf(db, dbStack, 'AWS::RDS::DBInstance');
              break;
            }
            case 'AWS/ElastiCache': {
              const [, node] = resolve(m.dimensions.CacheClusterId, stack);
              const [group, suffix] = node['Fn::Join'][1];
              const [groupStack, groupRef] = resolve(group, stack);
              refOf(groupRef, groupStack, 'AWS::ElastiCache::ReplicationGroup');
              const nodes = Array.from({ length: 1 + cfg.cache.replicas }, (_, i) => `-00${i + 1}`);
              expect(nodes, where).toContain(suffix);
              break;
            }
            case 'AWS/Lambda': {
              // Throttles across all functions of the region (the account's concurrency) has none.
              if (m.name === 'Throttles') {
                expect(m.dimensions, where).toEqual({});
                break;
              }
              const [fnStack, fn] = dim('FunctionName');
              refOf(fn, fnStack, 'AWS::Lambda::Function');
              break;
            }
            case 'AWS/SES':
              expect(m.dimensions, where).toEqual({});
              break;
            case 'AWS/Events':
              // A rule of this stack on the default bus (no EventBusName dimension).
              expect(Object.keys(m.dimensions), where).toEqual(['RuleName']);
              refOf(m.dimensions.RuleName, stack, 'AWS::Events::Rule');
              break;
            case 'webapp/RestoreTesting':
            // lambda/logical-backup publishes them under the stage's name (DUMP_METRICS).
            case 'webapp/Dumps':
              expect(m.dimensions, where).toEqual({ Stage: name });
              break;
            case 'webapp/Queues':
              // lambda/queue-health publishes them per queue of operations.queues.names, in the ops stack's region.
              expect(stack, where).toBe(`${name}-Ops`);
              expect(cfg.operations.queues.names, where).toContain(m.dimensions.Queue);
              expect(m.dimensions, where).toEqual({ Stage: name, Queue: m.dimensions.Queue });
              break;
            case 'webapp/Failover':
              // lambda/failover-drill-age publishes it under the stage's name, in the ops stack's region.
              expect(stack, where).toBe(`${name}-Ops`);
              expect(m.dimensions, where).toEqual({ Stage: name });
              break;
            case ACCOUNT_ACTIVITY_NAMESPACE: {
              // The account's metrics: counted by a metric filter on the trail's log group in the
              // baseline stack of the stage's account and region.
              expect(m.dimensions, where).toEqual({});
              const baseline = stages[name].shared.get(`Baseline-${cfg.account}-${cfg.region}`);
              expect(baseline, where).toBeDefined();
              const filters = resources(baseline!, 'AWS::Logs::MetricFilter').map((f) => f.Properties.MetricTransformations[0]);
              expect(filters, where).toContainEqual(expect.objectContaining({ MetricNamespace: m.namespace, MetricName: m.name, MetricValue: '1' }));
              break;
            }
            default:
              throw new Error(`${where}: no check for namespace ${m.namespace}; add one here`);
          }
          checked.add(m.namespace);
        }
      }
    }
    expect([...checked].sort()).toEqual(
      [
        'AWS/ApplicationELB',
        'AWS/ECS',
        'AWS/ElastiCache',
        'AWS/Lambda',
        'AWS/RDS',
        'AWS/Events',
        'ECS/ContainerInsights',
        ...(cfg.domain ? ['AWS/SES'] : []),
        ...(cfg.app.waf ? ['AWS/WAFV2'] : []),
        ...(cfg.edge.enabled ? ['AWS/CloudFront'] : []),
        ...(cfg.backup.restoreTesting !== 'off' ? ['webapp/RestoreTesting'] : []),
        ...(cfg.dr.pilotLight ? ['webapp/Failover'] : []),
        ...(cfg.operations.queues.enabled ? ['webapp/Queues'] : []),
        'webapp/Dumps',
        ...(cfg.baseline.trail.enabled ? [ACCOUNT_ACTIVITY_NAMESPACE] : []),
      ].sort(),
    );
  });
});
