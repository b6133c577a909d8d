import { describe, expect, test } from 'vitest';
import { LOG_QUERIES } from '../../lib/app/log-queries';
import { parseStageConfig, STAGE_NAMES, STAGES, type StageName } from '../../lib/config';
import { BURN_RATE_ALERTS, burnThresholdPercent, windowShape } from '../../lib/ops/slo-alarms';
import { type Json, resources, stageTemplates } from '../support/template';

const stages = stageTemplates();
const alarmsOf = (name: StageName) => Object.fromEntries(resources(stages[name].ops, 'AWS::CloudWatch::Alarm').map((a) => [a.Properties.AlarmName as string, a.Properties]));

describe('burn-rate arithmetic, by hand', () => {
  test.each([
    // burn x (100 - objective): the share of bad requests at which a window spends the budget that fast
    [99.9, 14.4, 1.44],
    [99.9, 6, 0.6],
    [99.9, 1, 0.1],
    [95, 14.4, 72],
    [95, 6, 30],
    [99.5, 6, 3],
    [99.99, 14.4, 0.144],
  ])('objective %s%% at %sx: more than %s%% bad', (objective, burn, expected) => {
    expect(burnThresholdPercent(objective, burn)).toBe(expected);
  });

  test('the SRE workbook pairs: 14.4x over 1 h with 5 min, 6x over 6 h with 30 min (page), 1x over 3 days with 6 h (ticket)', () => {
    expect(BURN_RATE_ALERTS.map((a) => [a.burn, a.longSeconds / 3600, a.shortSeconds / 60, a.severity])).toEqual([
      [14.4, 1, 5, 'page'],
      [6, 6, 30, 'page'],
      [1, 72, 360, 'ticket'],
    ]);
  });

  test('a window longer than a day is read as whole days, all of them over the threshold', () => {
    expect(windowShape(300)).toEqual({ periodSeconds: 300, evaluationPeriods: 1 });
    expect(windowShape(21600)).toEqual({ periodSeconds: 21600, evaluationPeriods: 1 });
    expect(windowShape(259200)).toEqual({ periodSeconds: 86400, evaluationPeriods: 3 });
  });
});

const withObjectives = STAGE_NAMES.filter((name) => parseStageConfig(STAGES[name]).operations.slo.enabled);

test('the stages without objectives (dev as shipped) have no burn-rate alarms and no budget widgets; prod has them', () => {
  expect(withObjectives).toContain('prod');
  for (const name of STAGE_NAMES.filter((n) => !withObjectives.includes(n))) {
    expect(Object.keys(alarmsOf(name)).filter((n) => n.includes('-slo-'))).toEqual([]);
    expect(resources(stages[name].ops, 'AWS::CloudWatch::CompositeAlarm').map((c) => c.Properties.AlarmName)).toEqual([`${name}-stage-unhealthy`]);
    expect(JSON.stringify(resources(stages[name].ops, 'AWS::CloudWatch::Dashboard')[0].Properties.DashboardBody)).not.toContain('budget left');
  }
});

describe.each(withObjectives)('%s service-level objectives', (name) => {
  test('each objective has three composites of two windows each, with the thresholds of its config', () => {
    const { slo } = stages[name].stage.config.operations;
    const alarms = alarmsOf(name);
    const composites = resources(stages[name].ops, 'AWS::CloudWatch::CompositeAlarm');
    for (const [objective, percent] of [
      ['availability', slo.availabilityPercent],
      ['latency', slo.latencyPercent],
    ] as const) {
      for (const alert of BURN_RATE_ALERTS) {
        const composite = composites.find((c) => c.Properties.AlarmName === `${name}-slo-${objective}-${alert.name}`);
        expect(composite, alert.name).toBeDefined();
        const windows = Object.entries(alarms).filter(([n]) => n.startsWith(`${name}-slo-${objective}-${alert.name}-`));
        expect(windows, alert.name).toHaveLength(2);
        for (const [windowName, p] of windows) {
          expect(p.Threshold, windowName).toBe(burnThresholdPercent(percent, alert.burn));
          expect(p.ComparisonOperator).toBe('GreaterThanThreshold');
          expect(p.TreatMissingData).toBe('notBreaching');
          expect(p.ActionsEnabled).toBe(false);
          expect(p.DatapointsToAlarm).toBe(p.EvaluationPeriods);
          const periods = (p.Metrics as Json[]).filter((m) => m.MetricStat).map((m) => m.MetricStat.Period * p.EvaluationPeriods);
          expect(new Set(periods).size).toBe(1);
          expect([alert.longSeconds, alert.shortSeconds]).toContain(periods[0]);
        }
      }
    }
  });

  test('availability counts app and load-balancer 5xx over all requests; latency is the percentile rank of the threshold', () => {
    const { slo } = stages[name].stage.config.operations;
    const alarms = alarmsOf(name);
    const availability = alarms[`${name}-slo-availability-fast-burn-5m`].Metrics as Json[];
    expect(availability[0].Expression).toBe('IF(requests >= 20, 100 * (FILL(app5xx, 0) + FILL(lb5xx, 0)) / requests, 0)');
    expect(
      availability
        .filter((m) => m.MetricStat)
        .map((m) => m.MetricStat.Metric.MetricName)
        .sort(),
    ).toEqual(['HTTPCode_ELB_5XX_Count', 'HTTPCode_Target_5XX_Count', 'RequestCount']);
    // The load balancer as a whole (no target group): the objective follows traffic across a blue/green swap.
    for (const m of availability.filter((x) => x.MetricStat)) expect(m.MetricStat.Metric.Dimensions.map((d: Json) => d.Name)).toEqual(['LoadBalancer']);
    const latency = alarms[`${name}-slo-latency-fast-burn-5m`].Metrics as Json[];
    expect(latency[0].Expression).toBe('100 - within');
    expect(latency[1].MetricStat).toMatchObject({ Stat: `PR(0:${slo.latencyThresholdMs / 1000})`, Metric: { MetricName: 'TargetResponseTime' } });
  });

  test('the dashboard shows the burn rates and the budgets left', () => {
    const body = JSON.stringify(resources(stages[name].ops, 'AWS::CloudWatch::Dashboard')[0].Properties.DashboardBody);
    expect(body).toContain('burn rate (1 h windows)');
    expect(body).toContain('budget left (30 days, %)');
    for (const a of BURN_RATE_ALERTS) expect(body).toContain(`${a.burn}x (${a.name})`);
  });

  test('anomaly alarms on request count and p99 latency in prod only', () => {
    const anomalies = resources(stages[name].ops, 'AWS::CloudWatch::Alarm').filter((a) => a.Properties.ThresholdMetricId);
    expect(anomalies.map((a) => a.Properties.AlarmName).sort()).toEqual(name === 'prod' ? ['prod-alb-requests-anomaly', 'prod-web-p99-latency-anomaly'] : []);
    for (const a of anomalies) expect(JSON.stringify(a.Properties.Metrics)).toContain('ANOMALY_DETECTION_BAND(m0, 3)');
  });

  test('saved Logs Insights queries on the web and worker logs, in the stage folder', () => {
    const queries = resources(stages[name].app, 'AWS::Logs::QueryDefinition').map((q) => q.Properties);
    expect(queries.map((q) => q.Name).sort()).toEqual(
      Object.keys(LOG_QUERIES)
        .map((q) => `webapp-${name}/${q}`)
        .sort(),
    );
    for (const q of queries) {
      expect(q.LogGroupNames.length).toBeGreaterThan(0);
      for (const g of q.LogGroupNames) expect(g.Ref).toMatch(/^(Web|Worker)TaskLogs/);
    }
  });
});
