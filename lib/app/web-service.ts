import { Duration, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import { Construct } from 'constructs';
import { type AppServiceBase, appServiceProps } from './app-service';

/** The alarms that roll a web deployment back; ECS refers to them by name. */
export interface WebDeploymentAlarms {
  /** More than 5% of requests to the web tasks failed with 5xx for 3 minutes. */
  readonly target5xxRate: cloudwatch.Alarm;
  /** A web task failed the load balancer health check for 3 minutes. */
  readonly unhealthyHosts: cloudwatch.Alarm;
}

export interface WebServiceProps extends AppServiceBase {
  readonly containerPort: number;
  readonly minCapacity: number;
  readonly maxCapacity: number;
  /** The load balancer listener the service's target group attaches to. */
  readonly listener: elbv2.ApplicationListener;
  readonly loadBalancer: elbv2.ApplicationLoadBalancer;
  /** Path the load balancer checks; 200 means the task can serve. */
  readonly readinessPath: string;
  /** Requests per target that scaling holds. @default 500 */
  readonly requestsPerTarget?: number;
}

/**
 * Defines the web service behind the load balancer: zero-downtime rolling deploys (100% healthy,
 * 200% max), the circuit breaker and two named alarms (target 5xx rate, unhealthy hosts) that roll
 * a bad deployment back, a target group checking the readiness path with slow start and a short
 * deregistration delay for a Node.js server, and target-tracking scaling on CPU and on requests
 * per target that scales out fast and in slowly.
 */
export class WebService extends Construct {
  readonly service: ecs.FargateService;
  readonly targetGroup: elbv2.ApplicationTargetGroup;
  /** The alarms that roll a deployment back. */
  readonly deploymentAlarms: WebDeploymentAlarms;
  private readonly targetDimensions: cloudwatch.DimensionsMap;

  constructor(scope: Construct, id: string, props: WebServiceProps) {
    super(scope, id);
    const { stackName } = Stack.of(this);

    this.targetGroup = new elbv2.ApplicationTargetGroup(this, 'Targets', {
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
    props.listener.addTargetGroups('Web', { targetGroups: [this.targetGroup] });

    this.targetDimensions = { LoadBalancer: props.loadBalancer.loadBalancerFullName, TargetGroup: this.targetGroup.targetGroupFullName };
    const period = Duration.minutes(1);
    const elbMetric = (metricName: string, statistic: string) => this.targetMetric(metricName, { statistic, period });
    const errorRate = new cloudwatch.MathExpression({
      expression: 'IF(requests > 0, 100 * errors / requests, 0)',
      usingMetrics: { errors: elbMetric('HTTPCode_Target_5XX_Count', 'Sum'), requests: elbMetric('RequestCount', 'Sum') },
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
    };
    const deploymentAlarms = Object.values(this.deploymentAlarms);

    this.service = new ecs.FargateService(this, 'Service', {
      ...appServiceProps(this, props, 'Web tasks: from the load balancer only'),
      deploymentAlarms: { alarmNames: deploymentAlarms.map((a) => a.alarmName), behavior: ecs.AlarmBehavior.ROLLBACK_ON_ALARM },
      healthCheckGracePeriod: Duration.seconds(60),
    });
    this.service.attachToApplicationTargetGroup(this.targetGroup);
    for (const alarm of deploymentAlarms) this.service.node.addDependency(alarm);

    const scaling = this.service.autoScaleTaskCount({ minCapacity: props.minCapacity, maxCapacity: props.maxCapacity });
    const cooldowns = { scaleOutCooldown: Duration.seconds(60), scaleInCooldown: Duration.minutes(5) };
    scaling.scaleOnCpuUtilization('Cpu', { targetUtilizationPercent: 60, ...cooldowns });
    scaling.scaleOnRequestCount('Requests', { requestsPerTarget: props.requestsPerTarget ?? 500, targetGroup: this.targetGroup, ...cooldowns });
  }

  /**
   * A load-balancer metric of the web targets. The dimensions are the load balancer's and target
   * group's full-name attributes, which other stacks can import (the target group's own `metrics`
   * derive the load balancer's name by splitting a listener ARN, which templates cannot check).
   */
  targetMetric(metricName: string, options: cloudwatch.MetricOptions = {}): cloudwatch.Metric {
    return new cloudwatch.Metric({ namespace: 'AWS/ApplicationELB', metricName, dimensionsMap: this.targetDimensions, ...options });
  }
}
