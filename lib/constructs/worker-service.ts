import { Duration } from 'aws-cdk-lib';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import { Construct } from 'constructs';
import type { AppTask } from './app-task';
import { capacityFor, taskSecurityGroup } from './web-service';

export interface WorkerServiceProps {
  readonly cluster: ecs.ICluster;
  readonly task: AppTask;
  readonly desiredCount: number;
  readonly minCount: number;
  readonly maxCount: number;
  readonly spot: boolean;
  readonly ecsExec: boolean;
}

/**
 * Defines the BullMQ worker service: the same image with the worker command, no load balancer,
 * rolling deploys with the circuit breaker rolling back a worker that cannot start, and CPU
 * target tracking. The task's stop timeout gives a running job time to finish on SIGTERM.
 */
export class WorkerService extends Construct {
  readonly service: ecs.FargateService;

  constructor(scope: Construct, id: string, props: WorkerServiceProps) {
    super(scope, id);
    this.service = new ecs.FargateService(this, 'Service', {
      cluster: props.cluster,
      taskDefinition: props.task.taskDefinition,
      desiredCount: props.desiredCount,
      capacityProviderStrategies: capacityFor(props.spot),
      minHealthyPercent: 100,
      maxHealthyPercent: 200,
      circuitBreaker: { enable: true, rollback: true },
      enableExecuteCommand: props.ecsExec,
      vpcSubnets: { subnets: props.cluster.vpc.privateSubnets },
      securityGroups: [taskSecurityGroup(this, props.cluster.vpc, 'Worker tasks: no ingress')],
      assignPublicIp: false,
      propagateTags: ecs.PropagatedTagSource.SERVICE,
    });
    const scaling = this.service.autoScaleTaskCount({ minCapacity: props.minCount, maxCapacity: props.maxCount });
    scaling.scaleOnCpuUtilization('Cpu', { targetUtilizationPercent: 60, scaleOutCooldown: Duration.seconds(60), scaleInCooldown: Duration.minutes(5) });
  }
}
