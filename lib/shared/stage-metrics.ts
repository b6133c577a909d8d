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
export function restoreMetric(stage: string, metricName: string, options: cloudwatch.MetricOptions): cloudwatch.Metric {
  return new cloudwatch.Metric({ namespace: RESTORE_METRICS_NAMESPACE, metricName, dimensionsMap: { Stage: stage }, ...options });
}
