import { Duration } from 'aws-cdk-lib';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import { Construct } from 'constructs';
import { type AppServiceBase, appServiceProps } from './app-service';

export interface WorkerServiceProps extends AppServiceBase {
  readonly minCapacity: number;
  readonly maxCapacity: number;
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
    this.service = new ecs.FargateService(this, 'Service', appServiceProps(this, props, 'Worker tasks: no ingress'));
    const scaling = this.service.autoScaleTaskCount({ minCapacity: props.minCapacity, maxCapacity: props.maxCapacity });
    scaling.scaleOnCpuUtilization('Cpu', { targetUtilizationPercent: 60, scaleOutCooldown: Duration.seconds(60), scaleInCooldown: Duration.minutes(5) });
  }
}
