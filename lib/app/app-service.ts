import * as ecs from 'aws-cdk-lib/aws-ecs';
import type { Construct } from 'constructs';
import { httpsOnlySecurityGroup } from '../shared/https-only-group';
import type { AppTask } from './app-task';

/** What the web and the worker service have in common. */
export interface AppServiceBase {
  readonly cluster: ecs.ICluster;
  readonly task: AppTask;
  readonly desiredCount: number;
  /** Run on Fargate Spot (interruptible, about 70% cheaper). */
  readonly useSpot: boolean;
  /** With `useSpot`, tasks kept on regular Fargate before any runs on Spot. @default 0 */
  readonly onDemandBase?: number;
  /** Allow ECS Exec shells into the tasks. */
  readonly enableExecuteCommand: boolean;
}

/**
 * Service settings both app services share: Fargate (Spot where configured, after an on-demand base) in the private
 * subnets without public IPs, rolling deploys that keep every task until its replacement is healthy
 * (100%/200%), the circuit breaker rolling back a release that cannot start, tags propagated to
 * tasks, and a task security group that admits nothing and lets out only HTTPS (AWS APIs and the
 * image registry); database, cache and load-balancer paths are granted where they are needed.
 */
export function appServiceProps(scope: Construct, props: AppServiceBase, securityGroupDescription: string): ecs.FargateServiceProps {
  const vpc = props.cluster.vpc;
  const securityGroup = httpsOnlySecurityGroup(scope, 'SecurityGroup', { vpc, description: securityGroupDescription, httpsTo: 'HTTPS to AWS APIs and the image registry' });
  return {
    cluster: props.cluster,
    taskDefinition: props.task.taskDefinition,
    desiredCount: props.desiredCount,
    capacityProviderStrategies: capacityProviders(props),
    minHealthyPercent: 100,
    maxHealthyPercent: 200,
    circuitBreaker: { enable: true, rollback: true },
    enableExecuteCommand: props.enableExecuteCommand,
    vpcSubnets: { subnets: vpc.privateSubnets },
    securityGroups: [securityGroup],
    assignPublicIp: false,
    propagateTags: ecs.PropagatedTagSource.SERVICE,
  };
}

/**
 * Where the tasks run: all on Fargate, all on Spot, or (`onDemandBase`) that many on Fargate first
 * and every further task on Spot, so a Spot reclaim never takes the last ones.
 */
function capacityProviders(props: AppServiceBase): ecs.CapacityProviderStrategy[] {
  if (!props.useSpot) return [{ capacityProvider: 'FARGATE', weight: 1 }];
  const base = props.onDemandBase ?? 0;
  return base > 0
    ? [
        { capacityProvider: 'FARGATE', base, weight: 0 },
        { capacityProvider: 'FARGATE_SPOT', weight: 1 },
      ]
    : [{ capacityProvider: 'FARGATE_SPOT', weight: 1 }];
}
