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
  /** Allow ECS Exec shells into the tasks. */
  readonly enableExecuteCommand: boolean;
}

/**
 * Service settings both app services share: Fargate (Spot where configured) in the private
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
    capacityProviderStrategies: [{ capacityProvider: props.useSpot ? 'FARGATE_SPOT' : 'FARGATE', weight: 1 }],
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
