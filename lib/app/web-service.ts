import { Duration, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import { Construct } from 'constructs';
import type { AlarmSet, Severity } from '../shared/alarm-set';
import { requestErrorRate } from '../shared/stage-metrics';
import { type AppServiceBase, appServiceProps } from './app-service';
import type { TrafficShift } from './web-deployment';

/** The alarms that roll a web deployment back (during a traffic shift and its bake too); ECS refers to them by name. */
export interface WebDeploymentAlarms {
  /** More than 5% of requests to the web tasks failed with 5xx for 3 minutes. */
  readonly target5xxRate: cloudwatch.Alarm;
  /** A web task failed the load balancer health check for 3 minutes. */
  readonly unhealthyHosts: cloudwatch.Alarm;
  /** The slowest 1% of web requests took longer than the stage's p99 bound for 3 minutes. */
  readonly p99Latency: cloudwatch.Alarm;
}

/** How each deployment alarm routes: a web task failing its check pages; the rollback triggers are tickets (ECS acts on them). */
export const DEPLOYMENT_ALARM_SEVERITY: Readonly<Record<keyof WebDeploymentAlarms, Severity>> = { target5xxRate: 'ticket', unhealthyHosts: 'page', p99Latency: 'ticket' };

/** Sends the web service's deployment alarms to the routes of their severities. */
export function notifyDeploymentAlarms(alarms: AlarmSet, deployment: WebDeploymentAlarms): void {
  for (const key of Object.keys(DEPLOYMENT_ALARM_SEVERITY) as (keyof WebDeploymentAlarms)[]) alarms.notify(deployment[key], DEPLOYMENT_ALARM_SEVERITY[key]);
}

export interface WebServiceProps extends AppServiceBase {
  readonly containerPort: number;
  readonly minCapacity: number;
  readonly maxCapacity: number;
  /** The load balancer listener the service's target group attaches to. */
  readonly listener: elbv2.IApplicationListener;
  /** The load balancer's full name (`app/<name>/<id>`), the dimension of the target metrics. */
  readonly loadBalancerFullName: string;
  /** Path the load balancer checks; 200 means the task can serve. */
  readonly readinessPath: string;
  /** Seconds the slowest 1% of requests may take before a deployment rolls back (operations.p99LatencySeconds). */
  readonly p99LatencySeconds: number;
  /** Requests per target that scaling holds (rolling deploys only). @default 500 */
  readonly requestsPerTarget?: number;
  /** Shift traffic to each release (blue/green, canary, linear) instead of rolling. @default rolling deploys */
  readonly trafficShift?: TrafficShift;
  /**
   * Attach with a listener rule of this priority that forwards every path, made in this
   * construct's scope, instead of making the target group the listener's default action: the
   * listener keeps its own default. For a listener another stack owns (the pilot light's), whose
   * default action a deploy here must not rewrite. Rolling deploys only.
   * @default the target group is the listener's default action
   */
  readonly listenerRulePriority?: number;
}

/**
 * Defines the web service behind the load balancer: a target group checking the readiness path
 * with slow start and a short deregistration delay for a Node.js server, three named alarms (target
 * 5xx rate, unhealthy hosts, p99 latency) that roll a bad deployment back, the circuit breaker, and
 * target-tracking scaling on CPU that scales out fast and in slowly.
 *
 * Rolling (the default): zero-downtime rolling deploys (100% healthy, 200% max), the listener's
 * default action forwarding to the one target group, and scaling on requests per target too.
 *
 * Traffic shifting (`trafficShift`, lib/app/web-deployment.ts): ECS's blue/green machinery with the
 * configured strategy. A second target group takes the new revision; a production rule (every
 * path) and a test listener rule forward to both groups with weights ECS rewrites as it shifts;
 * the smoke test runs at POST_TEST_TRAFFIC_SHIFT; the deployment alarms roll back during the shift
 * and the bake. Which group serves production changes with every release, so every target-group
 * metric here sums both groups (latency comes from the load balancer as a whole), and scaling
 * follows CPU only: request-count scaling is bound to one target group and would scale in after a
 * swap.
 */
export class WebService extends Construct {
  readonly service: ecs.FargateService;
  /** The target group the service starts in (the only one of a rolling service). */
  readonly targetGroup: elbv2.ApplicationTargetGroup;
  /** The second target group a traffic-shifting release starts its new revision in. */
  readonly alternateTargetGroup?: elbv2.ApplicationTargetGroup;
  /** The test listener a traffic-shifting release is smoke-tested through. */
  readonly testListener?: elbv2.ApplicationListener;
  /** The alarms that roll a deployment back. */
  readonly deploymentAlarms: WebDeploymentAlarms;
  private readonly loadBalancerFullName: string;

  constructor(scope: Construct, id: string, props: WebServiceProps) {
    super(scope, id);
    const { stackName } = Stack.of(this);

    const targetGroup = (targetGroupId: string) =>
      new elbv2.ApplicationTargetGroup(this, targetGroupId, {
        vpc: props.cluster.vpc,
        targetType: elbv2.TargetType.IP,
        protocol: elbv2.ApplicationProtocol.HTTP,
        port: props.containerPort,
        // Node.js answers in-flight requests within seconds; 30 s is plenty and keeps deploys short.
        deregistrationDelay: Duration.seconds(30),
        // New tasks warm up (JIT, connection pools) before taking their full share.
        slowStart: Duration.seconds(60),
        healthCheck: {
          path: props.readinessPath,
          healthyHttpCodes: '200',
          interval: Duration.seconds(15),
          timeout: Duration.seconds(5),
          healthyThresholdCount: 2,
          unhealthyThresholdCount: 3,
        },
      });
    this.targetGroup = targetGroup('Targets');
    const shift = props.trafficShift;
    if (props.listenerRulePriority === undefined) {
      props.listener.addTargetGroups('Web', { targetGroups: [this.targetGroup] });
    } else {
      if (shift) throw new Error(`${stackName}: a web service that attaches by a listener rule deploys rolling; it takes no traffic shift`);
      new elbv2.ApplicationListenerRule(this, 'ListenerRule', {
        listener: props.listener,
        priority: props.listenerRulePriority,
        conditions: [elbv2.ListenerCondition.pathPatterns(['/*'])],
        action: elbv2.ListenerAction.forward([this.targetGroup]),
      });
    }
    this.loadBalancerFullName = props.loadBalancerFullName;
    const shiftTargets = shift?.addTargets(this.targetGroup, targetGroup);
    this.alternateTargetGroup = shiftTargets?.alternate;
    this.testListener = shiftTargets?.testListener;

    const period = Duration.minutes(1);
    const elbMetric = (metricName: string, statistic: string) => this.targetMetric(metricName, { statistic, period });
    const errorRate = requestErrorRate({
      failed: { count: elbMetric('HTTPCode_Target_5XX_Count', 'Sum') },
      requests: elbMetric('RequestCount', 'Sum'),
      minRequests: 1,
      period,
      label: 'Target 5xx rate (%)',
    });
    // Named explicitly: ECS deployment alarms refer to alarms by name.
    this.deploymentAlarms = {
      target5xxRate: new cloudwatch.Alarm(this, 'Target5xxRate', {
        alarmName: `${stackName}-web-target-5xx-rate`,
        alarmDescription: 'More than 5% of requests to the web tasks failed with 5xx for 3 minutes: rolls a deployment back. Runbook: docs/alarms.md#deploy-web-5xx-rate',
        metric: errorRate,
        threshold: 5,
        evaluationPeriods: 3,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
      unhealthyHosts: new cloudwatch.Alarm(this, 'UnhealthyHosts', {
        alarmName: `${stackName}-web-unhealthy-hosts`,
        alarmDescription: 'A web task failed the load balancer health check for 3 minutes: rolls a deployment back. Runbook: docs/alarms.md#web-unhealthy-hosts',
        metric: elbMetric('UnHealthyHostCount', 'Maximum'),
        threshold: 0,
        evaluationPeriods: 3,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
      p99Latency: new cloudwatch.Alarm(this, 'P99Latency', {
        alarmName: `${stackName}-web-deploy-p99-latency`,
        alarmDescription: `The slowest 1% of web requests took more than ${props.p99LatencySeconds} s for 3 minutes: rolls a deployment back. Runbook: docs/alarms.md#deploy-web-p99-latency`,
        metric: elbMetric('TargetResponseTime', 'p99'),
        threshold: props.p99LatencySeconds,
        evaluationPeriods: 3,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
    };
    const deploymentAlarms = Object.values(this.deploymentAlarms);

    this.service = new ecs.FargateService(this, 'Service', {
      ...appServiceProps(this, props, 'Web tasks: from the load balancer only'),
      deploymentAlarms: { alarmNames: deploymentAlarms.map((a) => a.alarmName), behavior: ecs.AlarmBehavior.ROLLBACK_ON_ALARM },
      healthCheckGracePeriod: Duration.seconds(60),
      ...(shift ? shift.serviceProps(this) : {}),
    });
    if (shift && shiftTargets) {
      shift.attach(this, this.service, { listener: props.listener, targets: this.targetGroup, shift: shiftTargets, containerPort: props.containerPort });
    } else {
      this.service.attachToApplicationTargetGroup(this.targetGroup);
    }
    for (const alarm of deploymentAlarms) this.service.node.addDependency(alarm);

    const scaling = this.service.autoScaleTaskCount({ minCapacity: props.minCapacity, maxCapacity: props.maxCapacity });
    const cooldowns = { scaleOutCooldown: Duration.seconds(60), scaleInCooldown: Duration.minutes(5) };
    scaling.scaleOnCpuUtilization('Cpu', { targetUtilizationPercent: 60, ...cooldowns });
    if (!shift) scaling.scaleOnRequestCount('Requests', { requestsPerTarget: props.requestsPerTarget ?? 500, targetGroup: this.targetGroup, ...cooldowns });
  }

  /**
   * A load-balancer metric of the web targets. The dimensions are the load balancer's and target
   * group's full-name attributes, which other stacks can import (the target group's own `metrics`
   * derive the load balancer's name by splitting a listener ARN, which templates cannot check).
   * With two target groups, counts are the sum of both (one is idle, and which one changes every
   * release) and TargetResponseTime is the load balancer's own (percentiles cannot be added).
   */
  targetMetric(metricName: string, options: cloudwatch.MetricOptions = {}): cloudwatch.IMetric {
    const metric = (dimensionsMap: cloudwatch.DimensionsMap, extra: cloudwatch.MetricOptions = {}) =>
      new cloudwatch.Metric({ namespace: 'AWS/ApplicationELB', metricName, dimensionsMap, ...options, ...extra });
    const of = (group: elbv2.ApplicationTargetGroup, extra?: cloudwatch.MetricOptions) =>
      metric({ LoadBalancer: this.loadBalancerFullName, TargetGroup: group.targetGroupFullName }, extra);
    if (!this.alternateTargetGroup) return of(this.targetGroup);
    if (metricName === 'TargetResponseTime') return metric({ LoadBalancer: this.loadBalancerFullName });
    // Ids unique per metric and statistic, so several of these can meet in one expression.
    const id = `${metricName}${options.statistic ?? ''}`.toLowerCase().replace(/[^a-z0-9]/g, '');
    return new cloudwatch.MathExpression({
      expression: `FILL(${id}a, 0) + FILL(${id}b, 0)`,
      usingMetrics: { [`${id}a`]: of(this.targetGroup, { label: undefined }), [`${id}b`]: of(this.alternateTargetGroup, { label: undefined }) },
      ...(options.period ? { period: options.period } : {}),
      ...(options.label ? { label: options.label } : {}),
    });
  }
}
