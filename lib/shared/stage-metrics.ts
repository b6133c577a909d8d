import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as ecs from 'aws-cdk-lib/aws-ecs';
import type * as elasticache from 'aws-cdk-lib/aws-elasticache';
import { PROJECT, RELEASE_METRICS_NAMESPACE } from './naming';

/**
 * The CloudWatch metrics of the stage that CDK's constructs do not offer, defined once for the
 * alarms and the dashboard so both always look at the same series.
 */

/** Namespace the restore verifier publishes to (lambda/restore-verifier/verifier.ts, METRIC_NAMESPACE). */
export const RESTORE_METRICS_NAMESPACE = `${PROJECT}/RestoreTesting`;

/** The nodes of a replication group as ElastiCache names them: `<group>-001`, `-002`, ... */
export function cacheNodes(count: number): string[] {
  return Array.from({ length: count }, (_, i) => String(i + 1).padStart(3, '0'));
}

/** An engine or host metric of one node (`node` from `cacheNodes`). */
export function cacheNodeMetric(group: elasticache.CfnReplicationGroup, node: string, metricName: string, options: cloudwatch.MetricOptions): cloudwatch.Metric {
  return new cloudwatch.Metric({ namespace: 'AWS/ElastiCache', metricName, dimensionsMap: { CacheClusterId: `${group.ref}-${node}` }, ...options });
}

/** The release record of a stage (lambda/release-record): `Release` (one per release) and `MigrationSeconds`. */
export function releaseMetric(stage: string, metricName: 'Release' | 'MigrationSeconds', options: cloudwatch.MetricOptions): cloudwatch.Metric {
  return new cloudwatch.Metric({ namespace: RELEASE_METRICS_NAMESPACE, metricName, dimensionsMap: { Stage: stage }, ...options });
}

/** A Container Insights metric of an ECS service (task counts: Desired, Running, Pending). */
export function serviceInsightMetric(service: ecs.FargateService, metricName: string, options: cloudwatch.MetricOptions): cloudwatch.Metric {
  return new cloudwatch.Metric({
    namespace: 'ECS/ContainerInsights',
    metricName,
    dimensionsMap: { ClusterName: service.cluster.clusterName, ServiceName: service.serviceName },
    ...options,
  });
}

/**
 * A metric of every rule of a web ACL. A regional web ACL's metrics carry its Region; a
 * CloudFront one's (`region: "cloudfront"`) are published in us-east-1 without a Region dimension.
 */
export function wafMetric(webAclMetricName: string, region: string, metricName: string, options: cloudwatch.MetricOptions): cloudwatch.Metric {
  const cloudFront = region === 'cloudfront';
  const dimensionsMap: cloudwatch.DimensionsMap = cloudFront ? { WebACL: webAclMetricName, Rule: 'ALL' } : { WebACL: webAclMetricName, Region: region, Rule: 'ALL' };
  return new cloudwatch.Metric({ namespace: 'AWS/WAFV2', metricName, dimensionsMap, ...(cloudFront ? { region: CLOUDFRONT_METRICS_REGION } : {}), ...options });
}

/** Where CloudFront and CLOUDFRONT-scope WAF publish their metrics (and where alarms on them must live). */
export const CLOUDFRONT_METRICS_REGION = 'us-east-1';

/** A metric of the distribution, as CloudFront publishes it (in us-east-1, Region "Global"). */
export function cloudFrontMetric(distributionId: string, metricName: string, options: cloudwatch.MetricOptions): cloudwatch.Metric {
  return new cloudwatch.Metric({
    namespace: 'AWS/CloudFront',
    metricName,
    dimensionsMap: { DistributionId: distributionId, Region: 'Global' },
    region: CLOUDFRONT_METRICS_REGION,
    ...options,
  });
}

/** An account-level SES metric; SES publishes reputation in 15-minute steps at best. */
export function sesMetric(metricName: string, options: cloudwatch.MetricOptions): cloudwatch.Metric {
  return new cloudwatch.Metric({ namespace: 'AWS/SES', metricName, period: Duration.minutes(15), ...options });
}

/** A result the restore verifier publishes for the stage. */
/** How often an EventBridge rule matched in five minutes: an alarm above 0 on it pages for each event the rule tells of. */
export function ruleMatches(ruleName: string): cloudwatch.Metric {
  return new cloudwatch.Metric({ namespace: 'AWS/Events', metricName: 'TriggeredRules', dimensionsMap: { RuleName: ruleName }, statistic: 'Sum', period: Duration.minutes(5) });
}

export function restoreMetric(stage: string, metricName: string, options: cloudwatch.MetricOptions): cloudwatch.Metric {
  return new cloudwatch.Metric({ namespace: RESTORE_METRICS_NAMESPACE, metricName, dimensionsMap: { Stage: stage }, ...options });
}

/**
 * Requests a 5-minute period needs before its 5xx rate counts (requestErrorRate says why).
 */
export const MIN_REQUESTS_FOR_RATE = 20;

/** What failed, in the shape the metrics come in. */
export type FailedRequests =
  /** One count of failed requests (`errors` in the expression). */
  | { readonly count: cloudwatch.IMetric }
  /**
   * Counts added up (the app's 5xx and the load balancer's own), by their ids in the expression;
   * each is FILLed with 0, as a count has no data point in a period where nothing failed.
   */
  | { readonly counts: Readonly<Record<string, cloudwatch.IMetric>> }
  /** The share in % the service publishes itself (CloudFront's 5xxErrorRate, `rate` in the expression). */
  | { readonly percent: cloudwatch.IMetric };

export interface RequestErrorRateProps {
  /** The requests of the period (`requests` in the expression). */
  readonly requests: cloudwatch.IMetric;
  readonly failed: FailedRequests;
  /** Requests a period needs before its rate counts: MIN_REQUESTS_FOR_RATE, or 1 (see requestErrorRate). */
  readonly minRequests: number;
  readonly period: Duration;
  readonly label: string;
}

/**
 * The share of requests (%) that failed in each period, as the 5xx-rate alarms read it. A period
 * with fewer than `minRequests` requests reads 0: no traffic is no failure (and no division by
 * zero), and a rate of a handful of requests is noise. The floor follows what the alarm decides:
 * - MIN_REQUESTS_FOR_RATE (20) for the alarms over 5-minute periods that page or spend an error
 *   budget (load balancer, web app, edge, SLO availability): one failure of 3 requests would read
 *   33% and wake someone for a single error.
 * - 1 (written `requests > 0`) for the web service's deployment alarm, which rolls a release back:
 *   it reads 1-minute periods while a release takes traffic, when a canary share or a quiet stage
 *   brings a few requests a minute, and a floor would hide a failing revision until the bake had
 *   passed; it fires only after 3 such minutes in a row.
 * The ids are listed in the order each shape has always had: the order of an alarm's metrics in
 * the template, which a change would rewrite on every alarm.
 */
export function requestErrorRate(props: RequestErrorRateProps): cloudwatch.MathExpression {
  const { failed, requests } = props;
  const floor = props.minRequests <= 1 ? 'requests > 0' : `requests >= ${props.minRequests}`;
  const [share, usingMetrics]: [string, Record<string, cloudwatch.IMetric>] =
    'count' in failed
      ? ['100 * errors / requests', { errors: failed.count, requests }]
      : 'counts' in failed
        ? [
            `100 * (${Object.keys(failed.counts)
              .map((id) => `FILL(${id}, 0)`)
              .join(' + ')}) / requests`,
            { requests, ...failed.counts },
          ]
        : ['rate', { rate: failed.percent, requests }];
  return new cloudwatch.MathExpression({ expression: `IF(${floor}, ${share}, 0)`, usingMetrics, period: props.period, label: props.label });
}

/**
 * 1 for each period in which a queue had jobs waiting (`waiting` above 0) and none finished
 * (`finished` 0), else 0: the stalled-worker signal of lib/ops/queue-health.ts. Written here,
 * beside the rate floor, as this project's other metric-math IF.
 */
export function waitingWithoutProgress(props: {
  readonly waiting: cloudwatch.IMetric;
  readonly finished: cloudwatch.IMetric;
  readonly period: Duration;
  readonly label: string;
}): cloudwatch.MathExpression {
  return new cloudwatch.MathExpression({
    expression: 'IF(waiting > 0 AND finished == 0, 1, 0)',
    usingMetrics: { waiting: props.waiting, finished: props.finished },
    period: props.period,
    label: props.label,
  });
}
