import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import { Construct } from 'constructs';
import type { AppTier } from '../app/app-stack';
import type { AlarmSet, Severity } from '../shared/alarm-set';
import { MIN_REQUESTS_FOR_RATE, requestErrorRate } from '../shared/stage-metrics';

/**
 * The multi-window, multi-burn-rate alerts of the SRE workbook (chapter 5, "Alerting on SLOs"),
 * for a 30-day budget: each fires when both its long and its short window burn the budget at
 * `burn` times the sustainable rate. 14.4x for an hour spends 2% of the month's budget; 6x for six
 * hours, 5%; 1x for three days, 10%.
 */
export const BURN_RATE_ALERTS = [
  { id: 'Fast', name: 'fast-burn', burn: 14.4, longSeconds: 3600, shortSeconds: 300, severity: 'page' },
  { id: 'Slow', name: 'slow-burn', burn: 6, longSeconds: 21600, shortSeconds: 1800, severity: 'page' },
  { id: 'Ticket', name: 'budget-burn', burn: 1, longSeconds: 259200, shortSeconds: 21600, severity: 'ticket' },
] as const satisfies readonly { id: string; name: string; burn: number; longSeconds: number; shortSeconds: number; severity: Severity }[];

/** The error budget's period. */
export const BUDGET_DAYS = 30;

/** The longest period a CloudWatch alarm takes: windows beyond it are that many periods, all of them over the threshold. */
const MAX_ALARM_PERIOD_SECONDS = 86400;

/**
 * The share of bad requests (in %) at which a window burns the budget `burn` times as fast as
 * the objective allows: burn x (100 - objective). 99.9% at 14.4x: 1.44% of requests failing.
 */
export function burnThresholdPercent(objectivePercent: number, burn: number): number {
  return Math.round(burn * (100 - objectivePercent) * 1e6) / 1e6;
}

/** How a window's alarm reads its metric: one period of the window, or whole days of a longer one. */
export function windowShape(seconds: number): { periodSeconds: number; evaluationPeriods: number } {
  return seconds <= MAX_ALARM_PERIOD_SECONDS
    ? { periodSeconds: seconds, evaluationPeriods: 1 }
    : { periodSeconds: MAX_ALARM_PERIOD_SECONDS, evaluationPeriods: seconds / MAX_ALARM_PERIOD_SECONDS };
}

const label = (seconds: number) => (seconds % 86400 === 0 ? `${seconds / 86400}d` : seconds % 3600 === 0 ? `${seconds / 3600}h` : `${seconds / 60}m`);

export interface SloAlarmsProps {
  readonly alarms: AlarmSet;
  readonly app: AppTier;
  /** The availability objective: this % of requests answered without a 5xx. */
  readonly availabilityPercent: number;
  /** The latency objective: this % of requests answered within `latencyThresholdMs`. */
  readonly latencyPercent: number;
  readonly latencyThresholdMs: number;
}

/** One objective: what a bad request is, as a percentage of requests over a period. */
interface Objective {
  readonly id: string;
  readonly name: string;
  readonly objectivePercent: number;
  readonly what: string;
  readonly badPercent: (period: Duration) => cloudwatch.IMetric;
}

/**
 * The stage's two service-level objectives as alarms: availability (requests not answered with a
 * 5xx by the app or the load balancer) and latency (requests the targets answered within the
 * threshold, from the load balancer's percentile rank of TargetResponseTime). For each, three
 * composite alarms (fast and slow burn page, the three-day burn opens a ticket), each of two
 * window alarms that notify nobody themselves. Both read the load balancer as a whole, so they
 * follow the traffic across a blue/green swap. Missing data (no traffic) is not breaching.
 */
export class SloAlarms extends Construct {
  readonly objectives: readonly Objective[];

  constructor(scope: Construct, id: string, props: SloAlarmsProps) {
    super(scope, id);
    const { alarms, app, availabilityPercent, latencyPercent, latencyThresholdMs } = props;
    const alb = app.loadBalancer;
    const thresholdSeconds = latencyThresholdMs / 1000;
    this.objectives = [
      {
        id: 'Availability',
        name: 'availability',
        objectivePercent: availabilityPercent,
        what: `${availabilityPercent}% of requests without a 5xx`,
        badPercent: (period) => {
          const sum = { statistic: 'Sum', period };
          return requestErrorRate({
            requests: alb.metrics.requestCount(sum),
            failed: {
              counts: {
                app5xx: alb.metrics.httpCodeTarget(elbv2.HttpCodeTarget.TARGET_5XX_COUNT, sum),
                lb5xx: alb.metrics.httpCodeElb(elbv2.HttpCodeElb.ELB_5XX_COUNT, sum),
              },
            },
            minRequests: MIN_REQUESTS_FOR_RATE,
            period,
            label: 'Requests failed (%)',
          });
        },
      },
      {
        id: 'Latency',
        name: 'latency',
        objectivePercent: latencyPercent,
        what: `${latencyPercent}% of requests within ${latencyThresholdMs} ms`,
        badPercent: (period) =>
          new cloudwatch.MathExpression({
            expression: '100 - within',
            usingMetrics: { within: alb.metrics.targetResponseTime({ statistic: `PR(0:${thresholdSeconds})`, period }) },
            period,
            label: `Requests slower than ${latencyThresholdMs} ms (%)`,
          }),
      },
    ];

    for (const objective of this.objectives) {
      const group = new Construct(this, objective.id);
      for (const alert of BURN_RATE_ALERTS) {
        const threshold = burnThresholdPercent(objective.objectivePercent, alert.burn);
        const windowAlarm = (seconds: number) => {
          const { periodSeconds, evaluationPeriods } = windowShape(seconds);
          return alarms.signal(group, `${alert.id}${label(seconds)}`, {
            name: `slo-${objective.name}-${alert.name}-${label(seconds)}`,
            runbook: `slo-${objective.name}-${alert.name}`,
            description: `Over ${label(seconds)}, more than ${threshold}% of requests were bad (${alert.burn}x the budget of ${objective.what}).`,
            metric: objective.badPercent(Duration.seconds(periodSeconds)),
            threshold,
            evaluationPeriods,
            datapointsToAlarm: evaluationPeriods,
            comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
            severity: alert.severity,
            tier: 'slo',
          });
        };
        alarms.composite(group, alert.id, {
          name: `slo-${objective.name}-${alert.name}`,
          description: `The error budget of ${objective.what} (${BUDGET_DAYS} days) burns at ${alert.burn}x or more over both ${label(alert.longSeconds)} and ${label(alert.shortSeconds)}: more than ${threshold}% of requests bad.`,
          rule: cloudwatch.AlarmRule.allOf(windowAlarm(alert.longSeconds), windowAlarm(alert.shortSeconds)),
          severity: alert.severity,
          tier: 'slo',
        });
      }
    }
  }

  /** Dashboard widgets: each objective's burn rate over the last hour, and its budget left over 30 days. */
  widgets(): cloudwatch.IWidget[] {
    return this.objectives.flatMap((o) => {
      const budget = 100 - o.objectivePercent;
      const burn = (period: Duration, title: string) =>
        new cloudwatch.MathExpression({ expression: `bad / ${budget}`, usingMetrics: { bad: o.badPercent(period) }, period, label: title });
      return [
        new cloudwatch.GraphWidget({
          title: `SLO ${o.what}: burn rate (1 h windows)`,
          left: [burn(Duration.hours(1), 'burn rate (1 = sustainable)')],
          leftAnnotations: BURN_RATE_ALERTS.map((a) => ({ value: a.burn, label: `${a.burn}x (${a.name})` })),
          leftYAxis: { min: 0, showUnits: false },
          width: 9,
          height: 6,
        }),
        new cloudwatch.SingleValueWidget({
          title: `SLO ${o.what}: budget left (${BUDGET_DAYS} days, %)`,
          metrics: [
            new cloudwatch.MathExpression({
              expression: `100 - 100 * bad / ${budget}`,
              usingMetrics: { bad: o.badPercent(Duration.days(BUDGET_DAYS)) },
              period: Duration.days(BUDGET_DAYS),
              label: 'budget left (%)',
            }),
          ],
          width: 3,
          height: 6,
        }),
      ];
    });
  }
}
