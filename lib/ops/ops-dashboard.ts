import { Duration, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as ecs from 'aws-cdk-lib/aws-ecs';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import { Construct } from 'constructs';
import { METRICS } from '../../lambda/queue-health/health';
import type { AppTier } from '../app/app-stack';
import type { DataTier } from '../data/data-stack';
import type { EdgeTier } from '../edge/edge-stack';
import type { AlarmSet } from '../shared/alarm-set';
import { cacheNodeMetric, cacheNodes, cloudFrontMetric, releaseMetric, serviceInsightMetric, sesMetric, wafMetric } from '../shared/stage-metrics';
import type { WatchedFunction } from './function-alarms';
import { queueMetric } from './queue-health';

export interface OpsDashboardProps {
  readonly name: string;
  /** The stage (the release record's dimension). */
  readonly stage: string;
  readonly alarms: AlarmSet;
  /** The composite alarm, shown first. */
  readonly stageAlarm: cloudwatch.IAlarm;
  readonly app: AppTier;
  readonly data: DataTier;
  /** The CloudFront distribution in front, where the stage has one (its graphs read us-east-1). */
  readonly edge?: EdgeTier;
  /** Nodes of the cache's replication group: the primary plus its replicas. */
  readonly cacheNodes: number;
  readonly functions: readonly WatchedFunction[];
  /** The queues the queue-health function reads (operations.queues), where it runs. */
  readonly queues?: readonly string[];
  /** The service-level objectives' burn rates and budgets (SloAlarms.widgets). */
  readonly sloWidgets?: readonly cloudwatch.IWidget[];
}

const PERIOD = Duration.minutes(1);
const FULL = 24;

/**
 * Defines the stage's dashboard, read top to bottom: alarm status first, then the golden signals
 * of the front door (traffic, errors, latency), the saturation of the web and worker services,
 * the database, the cache, and the project functions, WAF and email at the bottom.
 */
export class OpsDashboard extends Construct {
  readonly dashboard: cloudwatch.Dashboard;

  constructor(scope: Construct, id: string, props: OpsDashboardProps) {
    super(scope, id);
    const { app, data } = props;
    const alb = app.loadBalancer;
    const tg = (metricName: string, options?: cloudwatch.MetricOptions) => app.targetMetric(metricName, options);
    const db = data.database.instance;
    const { maxConnections } = data.database;
    const sum = { statistic: 'Sum', period: PERIOD };
    const graph = (title: string, left: cloudwatch.IMetric[], extra: Partial<cloudwatch.GraphWidgetProps> = {}) =>
      new cloudwatch.GraphWidget({ title, left, width: 6, height: 6, period: PERIOD, ...extra });
    const percentAxis = { leftYAxis: { min: 0, max: 100, showUnits: false } };
    const heading = (markdown: string) => new cloudwatch.TextWidget({ markdown, width: FULL, height: 1, background: cloudwatch.TextWidgetBackground.TRANSPARENT });

    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      dashboardName: props.name,
      defaultInterval: Duration.hours(3),
      periodOverride: cloudwatch.PeriodOverride.AUTO,
    });

    this.dashboard.addWidgets(
      new cloudwatch.AlarmStatusWidget({
        title: `Alarms of ${props.name} (runbooks: docs/alarms.md)`,
        alarms: [props.stageAlarm, ...props.alarms.watched.map((w) => w.alarm)],
        width: FULL,
        height: 5,
        sortBy: cloudwatch.AlarmStatusWidgetSortBy.STATE_UPDATED_TIMESTAMP,
      }),
    );

    // When each release reached the services, and how long its migration took (the release record).
    this.dashboard.addWidgets(
      graph('Releases', [releaseMetric(props.stage, 'Release', { statistic: 'Sum', period: Duration.minutes(5), label: 'releases' })], {
        right: [releaseMetric(props.stage, 'MigrationSeconds', { statistic: 'Maximum', period: Duration.minutes(5), label: 'migration (s)' })],
        width: FULL,
        height: 4,
      }),
    );

    const ecsMetric = (service: ecs.FargateService, metricName: string) =>
      serviceInsightMetric(service, metricName, { statistic: 'Average', period: PERIOD, label: metricName.replace('TaskCount', '') });
    if (props.sloWidgets?.length) {
      this.dashboard.addWidgets(heading('### Service-level objectives: burn rate (1 = spending the 30-day budget exactly) and budget left'));
      this.dashboard.addWidgets(...props.sloWidgets);
    }
    this.dashboard.addWidgets(heading('### Front door: traffic, errors, latency'));
    this.dashboard.addWidgets(
      graph('Requests', [alb.metrics.requestCount({ ...sum, label: 'requests' })]),
      graph('Errors', [
        alb.metrics.httpCodeElb(elbv2.HttpCodeElb.ELB_5XX_COUNT, { ...sum, label: 'load balancer 5xx' }),
        tg('HTTPCode_Target_5XX_Count', { ...sum, label: 'app 5xx' }),
        tg('HTTPCode_Target_4XX_Count', { ...sum, label: 'app 4xx' }),
        alb.metrics.rejectedConnectionCount({ ...sum, label: 'rejected connections' }),
      ]),
      graph(
        'Latency (s)',
        ['p50', 'p90', 'p99'].map((p) => tg('TargetResponseTime', { statistic: p, period: PERIOD, label: p })),
      ),
      graph('Web targets', [
        tg('HealthyHostCount', { statistic: 'Minimum', period: PERIOD, label: 'healthy' }),
        tg('UnHealthyHostCount', { statistic: 'Maximum', period: PERIOD, label: 'unhealthy' }),
      ]),
    );

    this.dashboard.addWidgets(heading('### Services: saturation'));
    this.dashboard.addWidgets(
      ...app.services.flatMap(({ name, service }) => [
        graph(
          `${name}: CPU and memory (%)`,
          [service.metricCpuUtilization({ period: PERIOD, label: 'CPU' }), service.metricMemoryUtilization({ period: PERIOD, label: 'memory' })],
          percentAxis,
        ),
        graph(`${name}: tasks`, [ecsMetric(service, 'DesiredTaskCount'), ecsMetric(service, 'RunningTaskCount'), ecsMetric(service, 'PendingTaskCount')]),
      ]),
    );

    this.dashboard.addWidgets(heading('### Database (PostgreSQL)'));
    const dbGauge = (metricName: string, label: string, statistic = 'Average') => db.metric(metricName, { statistic, period: PERIOD, label });
    this.dashboard.addWidgets(
      graph('DB CPU (%)', [dbGauge('CPUUtilization', 'CPU')], percentAxis),
      graph('DB connections', [dbGauge('DatabaseConnections', 'connections', 'Maximum')], {
        leftAnnotations: [{ value: maxConnections, label: 'max_connections', color: cloudwatch.Color.RED }],
      }),
      graph('DB memory and storage (bytes)', [dbGauge('FreeableMemory', 'freeable memory'), dbGauge('FreeStorageSpace', 'free storage', 'Minimum')]),
      graph('DB disk latency (s)', [dbGauge('ReadLatency', 'read'), dbGauge('WriteLatency', 'write')]),
    );

    this.dashboard.addWidgets(heading('### Cache (Valkey, BullMQ queues)'));
    const perNode = (metricName: string, statistic: string) =>
      cacheNodes(props.cacheNodes).map((node) => cacheNodeMetric(data.cache.replicationGroup, node, metricName, { statistic, period: PERIOD, label: `node ${node}` }));
    this.dashboard.addWidgets(
      graph('Cache engine CPU (%)', perNode('EngineCPUUtilization', 'Average'), percentAxis),
      graph('Cache memory used (%)', perNode('DatabaseMemoryUsagePercentage', 'Maximum'), percentAxis),
      graph('Cache connections', perNode('CurrConnections', 'Maximum')),
      graph('Cache evictions (must stay 0)', perNode('Evictions', 'Sum')),
    );
    if (props.queues) {
      const queues = props.queues;
      const perQueue = (metricName: string, statistic = 'Maximum') =>
        queues.map((queue) => queueMetric(props.stage, queue, metricName, { statistic, period: PERIOD, label: queue }));
      this.dashboard.addWidgets(
        graph('Queues: jobs waiting (with due delayed)', perQueue(METRICS.waiting)),
        graph('Queues: oldest waiting job (s)', perQueue(METRICS.oldestWaitingSeconds)),
        graph('Queues: jobs finished a minute', perQueue(METRICS.finished, 'Sum')),
        graph('Queues: active and failed jobs', [
          ...perQueue(METRICS.active),
          ...queues.map((queue) => queueMetric(props.stage, queue, METRICS.failed, { period: PERIOD, label: `${queue} failed` })),
        ]),
      );
    }

    this.dashboard.addWidgets(heading(props.edge ? '### Functions, edge, WAF, email' : '### Functions, WAF, email'));
    const bottom: cloudwatch.IWidget[] = [
      graph(
        'Functions: invocations and errors',
        props.functions.flatMap(({ name, fn }) => [fn.metricInvocations({ ...sum, label: `${name} invocations` }), fn.metricErrors({ ...sum, label: `${name} errors` })]),
      ),
      graph(
        'Functions: duration p99 (ms)',
        props.functions.map(({ name, fn }) => fn.metricDuration({ statistic: 'p99', period: PERIOD, label: name })),
      ),
    ];
    const { edge } = props;
    if (edge) {
      const cf = (metricName: string, statistic: string) => cloudFrontMetric(edge.distributionId, metricName, { statistic, period: PERIOD, label: metricName });
      bottom.push(graph('Edge: requests (CloudFront)', [cf('Requests', 'Sum')], { right: [cf('4xxErrorRate', 'Average'), cf('5xxErrorRate', 'Average')] }));
    }
    // The web ACL is the distribution's where there is one (metrics in us-east-1), else the load balancer's.
    const webAcl = edge?.webAclMetricName
      ? { name: edge.webAclMetricName, region: 'cloudfront' }
      : app.webAclMetricName
        ? { name: app.webAclMetricName, region: Stack.of(this).region }
        : undefined;
    if (webAcl) {
      const waf = (metricName: string) => wafMetric(webAcl.name, webAcl.region, metricName, { ...sum, label: metricName });
      bottom.push(graph('WAF requests', [waf('AllowedRequests'), waf('BlockedRequests')]));
    }
    if (app.sendsEmail) {
      const ses = (metricName: string, statistic: string) => sesMetric(metricName, { statistic, label: metricName });
      bottom.push(
        graph('Email (SES, account)', [ses('Send', 'Sum'), ses('Bounce', 'Sum'), ses('Complaint', 'Sum')], {
          right: [ses('Reputation.BounceRate', 'Maximum'), ses('Reputation.ComplaintRate', 'Maximum')],
        }),
      );
    }
    this.dashboard.addWidgets(...bottom);
  }
}
