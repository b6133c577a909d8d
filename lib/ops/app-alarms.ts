import { Duration, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import { Construct } from 'constructs';
import type { AppTier } from '../app/app-stack';
import type { AlarmSet, Severity } from '../shared/alarm-set';
import { MIN_REQUESTS_FOR_RATE, requestErrorRate, serviceInsightMetric, sesMetric, wafMetric } from '../shared/stage-metrics';

export interface AppAlarmsProps {
  readonly alarms: AlarmSet;
  /** The app tier: load balancer, services, WAF and email, as it hands them to operations. */
  readonly app: AppTier;
  /** Alarm (page) when more than this % of requests in 5 minutes got a 5xx from the load balancer, or from the web app. */
  readonly http5xxRatePercent: number;
  /** Alarm (ticket) when the slowest 1% of web requests take longer than this for 10 minutes. */
  readonly p99LatencySeconds: number;
  /**
   * Also alarm when requests or the p99 latency leave the band CloudWatch learns from their history.
   * @default false
   */
  readonly enableAnomalyAlarms?: boolean;
  /** Alarm when a service's tasks average more than this % of their CPU for 5 minutes. */
  readonly ecsCpuPercent: number;
  /** Alarm when a service's tasks average more than this % of their memory for 5 minutes. */
  readonly ecsMemoryPercent: number;
  /** Alarm when the load balancer's web ACL blocks more requests than this in 5 minutes. */
  readonly wafBlockedPer5Min: number;
  /** Alarm when the account's SES bounce rate is above this %. */
  readonly sesBounceRatePercent: number;
  /** Alarm when the account's SES complaint rate is above this %. */
  readonly sesComplaintRatePercent: number;
}

const FIVE_MINUTES = Duration.minutes(5);
const ABOVE = cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD;
const { NOT_BREACHING, MISSING, BREACHING, IGNORE } = cloudwatch.TreatMissingData;

/**
 * The WAF's blocked-request surge, a ticket: `blocked` is the web ACL's BlockedRequests sum over 5
 * minutes, wherever the web ACL lives (on the load balancer, or on the distribution in us-east-1).
 */
export function addWafBlockedSurge(scope: Construct, alarms: AlarmSet, blocked: cloudwatch.IMetric, threshold: number): cloudwatch.Alarm {
  return alarms.add(scope, 'WafBlockedSurge', {
    name: 'waf-blocked-surge',
    description: `The WAF blocked more than ${threshold} requests in 5 minutes: an attack, a scraper, or a rule blocking real users.`,
    metric: blocked,
    threshold,
    evaluationPeriods: 1,
    comparisonOperator: ABOVE,
    treatMissingData: NOT_BREACHING,
    severity: 'ticket',
    tier: 'waf',
  });
}

/**
 * Defines the alarms of the stage's front door and app tier: load-balancer and app 5xx rates, p99
 * latency and rejected connections; CPU, memory and running-below-desired for each ECS service;
 * the WAF's blocked-request surge; SES bounce and complaint rates. Unhealthy hosts is watched by
 * the web service's own deployment alarm, which the app stack already connects to its route.
 */
export class AppAlarms extends Construct {
  constructor(scope: Construct, id: string, props: AppAlarmsProps) {
    super(scope, id);
    const { alarms, app } = props;
    const { loadBalancer } = app;
    const targetMetric = (metricName: string, options?: cloudwatch.MetricOptions) => app.targetMetric(metricName, options);

    const rate = (errors: cloudwatch.IMetric, requests: cloudwatch.IMetric, label: string) =>
      requestErrorRate({ failed: { count: errors }, requests, minRequests: MIN_REQUESTS_FOR_RATE, period: FIVE_MINUTES, label });
    const sum = { statistic: 'Sum', period: FIVE_MINUTES };

    // Traffic-derived alarms: no requests, nothing wrong (missing data is not breaching).
    alarms.add(this, 'Elb5xxRate', {
      name: 'alb-5xx-rate',
      description: `More than ${props.http5xxRatePercent}% of requests in 5 minutes got a 5xx from the load balancer itself (no healthy target, target timeout, TLS or capacity trouble).`,
      metric: rate(loadBalancer.metrics.httpCodeElb(elbv2.HttpCodeElb.ELB_5XX_COUNT, sum), loadBalancer.metrics.requestCount(sum), 'Load balancer 5xx (%)'),
      threshold: props.http5xxRatePercent,
      evaluationPeriods: 1,
      comparisonOperator: ABOVE,
      treatMissingData: NOT_BREACHING,
      severity: 'page',
      tier: 'load balancer',
    });
    alarms.add(this, 'Target5xxRate', {
      name: 'web-5xx-rate',
      description: `More than ${props.http5xxRatePercent}% of requests in 5 minutes got a 5xx from the web app.`,
      metric: rate(targetMetric('HTTPCode_Target_5XX_Count', sum), targetMetric('RequestCount', sum), 'Web app 5xx (%)'),
      threshold: props.http5xxRatePercent,
      evaluationPeriods: 1,
      comparisonOperator: ABOVE,
      treatMissingData: NOT_BREACHING,
      severity: 'page',
      tier: 'web',
    });
    alarms.add(this, 'P99Latency', {
      name: 'web-p99-latency',
      description: `The slowest 1% of web requests took more than ${props.p99LatencySeconds} s for 10 minutes.`,
      metric: targetMetric('TargetResponseTime', { statistic: 'p99', period: FIVE_MINUTES }),
      threshold: props.p99LatencySeconds,
      evaluationPeriods: 2,
      comparisonOperator: ABOVE,
      treatMissingData: NOT_BREACHING,
      severity: 'ticket',
      tier: 'web',
    });
    if (props.enableAnomalyAlarms) {
      // Against what the stage usually does at this hour and weekday (CloudWatch learns the band
      // from two weeks of history; until then the band is wide and the alarms quiet).
      alarms.addAnomaly(this, 'RequestsAnomaly', {
        name: 'alb-requests-anomaly',
        description: 'Requests to the load balancer left their usual band (3 standard deviations) for 15 minutes: a surge, or traffic that stopped arriving.',
        metric: loadBalancer.metrics.requestCount(sum),
        stdDevs: 3,
        evaluationPeriods: 3,
        comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_LOWER_OR_GREATER_THAN_UPPER_THRESHOLD,
        // No requests at all is the anomaly this alarm exists for.
        treatMissingData: BREACHING,
        severity: 'ticket',
        tier: 'load balancer',
      });
      alarms.addAnomaly(this, 'P99LatencyAnomaly', {
        name: 'web-p99-latency-anomaly',
        description: 'The p99 response time rose above its usual band (3 standard deviations) for 15 minutes.',
        metric: loadBalancer.metrics.targetResponseTime({ statistic: 'p99', period: FIVE_MINUTES }),
        stdDevs: 3,
        evaluationPeriods: 3,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_UPPER_THRESHOLD,
        treatMissingData: NOT_BREACHING,
        severity: 'ticket',
        tier: 'web',
      });
    }
    alarms.add(this, 'RejectedConnections', {
      name: 'alb-rejected-connections',
      description: 'The load balancer turned connections away in the last 5 minutes (it reached its connection limit).',
      metric: loadBalancer.metrics.rejectedConnectionCount(sum),
      threshold: 0,
      evaluationPeriods: 1,
      comparisonOperator: ABOVE,
      treatMissingData: NOT_BREACHING,
      severity: 'ticket',
      tier: 'load balancer',
    });

    // A service below its desired count or out of CPU or memory is an outage in the making: both page.
    const severity: Severity = 'page';
    for (const { name, service } of app.services) {
      const scope = new Construct(this, name === 'web' ? 'Web' : 'Worker');
      // Gauges of a running service: missing data means the service is gone, shown as insufficient data.
      alarms.add(scope, 'Cpu', {
        name: `${name}-cpu`,
        description: `The ${name} tasks averaged more than ${props.ecsCpuPercent}% CPU for 5 minutes.`,
        metric: service.metricCpuUtilization({ period: FIVE_MINUTES }),
        threshold: props.ecsCpuPercent,
        evaluationPeriods: 1,
        comparisonOperator: ABOVE,
        treatMissingData: MISSING,
        severity: 'ticket',
        tier: name,
      });
      alarms.add(scope, 'Memory', {
        name: `${name}-memory`,
        description: `The ${name} tasks averaged more than ${props.ecsMemoryPercent}% of their memory for 5 minutes (a task that reaches 100% is killed).`,
        metric: service.metricMemoryUtilization({ period: FIVE_MINUTES }),
        threshold: props.ecsMemoryPercent,
        evaluationPeriods: 1,
        comparisonOperator: ABOVE,
        treatMissingData: MISSING,
        severity: 'ticket',
        tier: name,
      });
      const insight = (metricName: string) => serviceInsightMetric(service, metricName, { statistic: 'Average', period: FIVE_MINUTES });
      // Container Insights reports every service it sees, even at zero tasks: no data at all
      // means nothing reports the service, which is treated as down.
      alarms.add(scope, 'TasksBelowDesired', {
        name: `${name}-tasks-below-desired`,
        description: `Fewer ${name} tasks ran than ECS wants for 15 minutes (tasks crash, fail health checks or cannot be placed).`,
        metric: new cloudwatch.MathExpression({
          expression: 'desired - running',
          usingMetrics: { desired: insight('DesiredTaskCount'), running: insight('RunningTaskCount') },
          period: FIVE_MINUTES,
          label: `${name} tasks missing`,
        }),
        threshold: 0,
        evaluationPeriods: 3,
        comparisonOperator: ABOVE,
        treatMissingData: BREACHING,
        severity,
        tier: name,
      });
    }

    if (app.webAclMetricName) addWafBlockedSurge(this, alarms, wafMetric(app.webAclMetricName, Stack.of(this).region, 'BlockedRequests', sum), props.wafBlockedPer5Min);

    if (app.sendsEmail) {
      // SES publishes reputation only while the account sends: without new data the last state holds.
      const reputationAlarm = { evaluationPeriods: 1, comparisonOperator: ABOVE, treatMissingData: IGNORE, severity: 'ticket', tier: 'email' } as const;
      const reputation = (metricName: string) => sesMetric(metricName, { statistic: 'Maximum' });
      alarms.add(this, 'SesBounceRate', {
        name: 'ses-bounce-rate',
        description: `The account's SES bounce rate is above ${props.sesBounceRatePercent}%; SES reviews accounts above 5% and may pause sending at 10%.`,
        metric: reputation('Reputation.BounceRate'),
        threshold: props.sesBounceRatePercent / 100,
        ...reputationAlarm,
      });
      alarms.add(this, 'SesComplaintRate', {
        name: 'ses-complaint-rate',
        description: `The account's SES complaint rate is above ${props.sesComplaintRatePercent}%; SES reviews accounts above 0.1% and may pause sending at 0.5%.`,
        metric: reputation('Reputation.ComplaintRate'),
        threshold: props.sesComplaintRatePercent / 100,
        ...reputationAlarm,
      });
    }
  }
}
