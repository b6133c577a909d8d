import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import type { Construct } from 'constructs';
import { acknowledgeControl } from '../shared/control-tower-checks';
import { type LogSettings, logSettings } from '../shared/log-group';
import { ExecSessions } from './exec-sessions';

export interface AppClusterProps extends LogSettings {
  readonly vpc: ec2.IVpc;
  readonly stage: string;
  /** Allow ECS Exec shells into the tasks, each session recorded (ExecSessions). */
  readonly enableExecuteCommand: boolean;
}

/**
 * The stage's ECS cluster: the Fargate and Fargate Spot capacity providers, Container Insights
 * with enhanced observability and, where shells into tasks are allowed, every session encrypted
 * with its own key and its commands and output written to an encrypted log group (who ran what,
 * for audits).
 *
 * A function, not a construct: it builds the cluster and the exec sessions into the given scope
 * (the app stack), where they have their logical ids.
 */
export function appCluster(scope: Construct, props: AppClusterProps): { cluster: ecs.Cluster; exec?: ExecSessions } {
  const exec = props.enableExecuteCommand ? new ExecSessions(scope, 'Exec', { stage: props.stage, ...logSettings(props) }) : undefined;
  const cluster = new ecs.Cluster(scope, 'Cluster', {
    vpc: props.vpc,
    containerInsightsV2: ecs.ContainerInsights.ENHANCED,
    enableFargateCapacityProviders: true,
    ...(exec ? { executeCommandConfiguration: exec.configuration } : {}),
  });
  acknowledgeControl(
    cluster,
    'ecs_container_insights_enabled_check',
    'Container Insights is on with enhanced observability ("enhanced"); the rule accepts only the value "enabled", the older level.',
  );
  return { cluster, exec };
}
