import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { Construct } from 'constructs';
import { addWafBlockedSurge } from '../ops/app-alarms';
import type { AlarmSet } from '../shared/alarm-set';
import { cloudFrontMetric, MIN_REQUESTS_FOR_RATE, requestErrorRate, wafMetric } from '../shared/stage-metrics';

export interface EdgeAlarmsProps {
  /** The stage's alarms in us-east-1, where CloudFront's and the web ACL's metrics are. */
  readonly alarms: AlarmSet;
  readonly distributionId: string;
  /** Metric name of the distribution's web ACL, where there is one. */
  readonly webAclMetricName?: string;
  /** Alarm when more than this % of requests end in a 5xx (operations.http5xxRatePercent). */
  readonly http5xxRatePercent: number;
  readonly wafBlockedPer5Min: number;
}

const FIVE_MINUTES = Duration.minutes(5);

/**
 * Defines the alarms of the edge, in us-east-1 (CloudWatch alarms only watch metrics of their own
 * region): the share of viewer requests CloudFront answered with a 5xx, which includes what the
 * load balancer never sees (the origin unreachable through the VPC origin, a TLS failure to it,
 * an origin timeout), and the web ACL's blocked-request surge.
 */
export class EdgeAlarms extends Construct {
  constructor(scope: Construct, id: string, props: EdgeAlarmsProps) {
    super(scope, id);
    const metric = (metricName: string, statistic: string) => cloudFrontMetric(props.distributionId, metricName, { statistic, period: FIVE_MINUTES });
    props.alarms.add(this, 'Edge5xxRate', {
      name: 'edge-5xx-rate',
      description: `More than ${props.http5xxRatePercent}% of viewer requests in 5 minutes got a 5xx from CloudFront (from the app, or CloudFront could not reach it).`,
      metric: requestErrorRate({
        failed: { percent: metric('5xxErrorRate', 'Average') },
        requests: metric('Requests', 'Sum'),
        minRequests: MIN_REQUESTS_FOR_RATE,
        period: FIVE_MINUTES,
        label: 'CloudFront 5xx (%)',
      }),
      threshold: props.http5xxRatePercent,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      severity: 'page',
      tier: 'edge',
    });
    if (props.webAclMetricName) {
      addWafBlockedSurge(
        this,
        props.alarms,
        wafMetric(props.webAclMetricName, 'cloudfront', 'BlockedRequests', { statistic: 'Sum', period: FIVE_MINUTES }),
        props.wafBlockedPer5Min,
      );
    }
  }
}
