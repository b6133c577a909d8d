import { CfnOutput, Duration, Validations } from 'aws-cdk-lib';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as iam from 'aws-cdk-lib/aws-iam';
import type { Construct } from 'constructs';
import { awsManagedRole } from '../shared/aws-managed-policy';
import { type LogSettings, logSettings } from '../shared/log-group';
import { httpsListenerProps, type LoadBalancer } from './load-balancer';
import { SmokeTest, smokeTestPaths } from './smoke-test';

/**
 * Port of the test listener, where a traffic-shifting release sends its smoke test to the new
 * revision before production traffic moves. Reachable from the smoke-test function only.
 */
export const TEST_LISTENER_PORT = 8443;

/** How a release reaches the web tasks: `rolling` replaces them in place; the others shift traffic (TrafficShift). */
export type WebDeploymentStrategy = 'rolling' | TrafficShiftStrategy;

/** The strategies ECS shifts traffic with: all at once, a canary share first, or in equal steps. */
export type TrafficShiftStrategy = keyof typeof STRATEGIES;

const STRATEGIES = {
  blueGreen: ecs.DeploymentStrategy.BLUE_GREEN,
  canary: ecs.DeploymentStrategy.CANARY,
  linear: ecs.DeploymentStrategy.LINEAR,
} as const;

export interface TrafficShiftProps extends LogSettings {
  readonly vpc: ec2.IVpc;
  readonly stage: string;
  /** The load balancer: it gets the test listener, which serves the site's certificate. */
  readonly loadBalancer: LoadBalancer;
  readonly strategy: TrafficShiftStrategy;
  /** canary: the share the new revision gets first; linear: the share each step adds. Unused by blueGreen. */
  readonly stepPercent: number;
  /** Minutes between steps (canary, linear). */
  readonly stepMinutes: number;
  /** Minutes the deployment alarms can still roll the release back once all traffic has moved. */
  readonly bakeMinutes: number;
  /** The path the load balancer checks: the smoke test requests it first. */
  readonly readinessPath: string;
  /** Further paths the smoke test requests; each must answer 2xx within `smokeLatencyMs`. */
  readonly smokePaths: readonly string[];
  readonly smokeLatencyMs: number;
}

/**
 * How a release reaches the web tasks (app.deployment.strategy): rolling needs nothing here (ECS
 * replaces the tasks in place, and the web service attaches its one target group); the other
 * strategies shift traffic behind a smoke test (TrafficShift, built in `scope`).
 */
export function trafficShiftFor(scope: Construct, props: Omit<TrafficShiftProps, 'strategy'> & { readonly strategy: WebDeploymentStrategy }): TrafficShift | undefined {
  const { strategy } = props;
  return strategy === 'rolling' ? undefined : new TrafficShift(scope, { ...props, strategy });
}

/** The web service's second target group and the test listener, which a shifting service attaches with. */
export interface ShiftTargets {
  readonly alternate: elbv2.ApplicationTargetGroup;
  readonly testListener: elbv2.ApplicationListener;
}

/**
 * A web release that moves traffic with ECS's own blue/green machinery instead of rolling: the
 * smoke test ECS calls at POST_TEST_TRAFFIC_SHIFT (the readiness path, then the configured paths,
 * through the test listener), and the web service's side of the shift: a second target group, the
 * test listener, the strategy with its steps and bake, and the listener rules ECS rewrites. The
 * web service (WebService, `trafficShift`) calls it as it builds itself; without one it rolls.
 *
 * Not a construct: it builds into the scopes it is given (the stack for the smoke test, the web
 * service for its target group, rules and roles), where these resources have their logical ids;
 * a construct of its own would put them under a new path and replace them.
 */
export class TrafficShift {
  readonly smokeTest: SmokeTest;

  /** Builds the smoke test in `scope` (the stack). */
  constructor(
    private readonly scope: Construct,
    private readonly props: TrafficShiftProps,
  ) {
    const hostName = props.loadBalancer.hostName;
    if (!hostName) throw new Error(`${props.stage}: app.deployment.strategy "${props.strategy}" needs HTTPS (the config schema rejects this).`);
    const { readinessPath } = props;
    this.smokeTest = new SmokeTest(scope, 'SmokeTest', {
      vpc: props.vpc,
      stage: props.stage,
      loadBalancerFullName: props.loadBalancer.alb.loadBalancerFullName,
      testListenerPort: TEST_LISTENER_PORT,
      hostName,
      paths: smokeTestPaths(readinessPath, props.smokePaths),
      latencyMs: props.smokeLatencyMs,
      ...logSettings(props),
    });
  }

  /** The smoke test's log group, by name (CloudFormation generates it); called where the stack lists its outputs. */
  addOutputs(): void {
    new CfnOutput(this.scope, 'SmokeTestLogGroup', { value: this.smokeTest.function.logGroup.logGroupName, description: 'Logs of the release smoke tests' });
  }

  /**
   * The second target group (made by the web service, like its first) and the test listener:
   * HTTPS on TEST_LISTENER_PORT with the site's certificate and TLS policy, admitting the smoke
   * test only. Its default action forwards to `targets`, as the production listener's does: ECS
   * moves the test traffic with a rule, and keeps a listener's actions all forwards.
   */
  addTargets(targets: elbv2.ApplicationTargetGroup, newTargetGroup: (id: string) => elbv2.ApplicationTargetGroup): ShiftTargets {
    const alternate = newTargetGroup('AlternateTargets');
    const { certificate, alb } = this.props.loadBalancer;
    if (!certificate) {
      throw new Error('A test listener serves the stage certificate, and this stage has no domain (the config schema requires https for traffic-shifting deployments).');
    }
    const testListener = alb.addListener('Test', { ...httpsListenerProps(certificate), port: TEST_LISTENER_PORT, open: false, defaultTargetGroups: [targets] });
    testListener.connections.allowDefaultPortFrom(this.smokeTest.securityGroup, 'The release smoke test');
    return { alternate, testListener };
  }

  /** The deployment settings of the service: strategy, steps, bake and the smoke-test hook (its role in `web`). */
  serviceProps(web: Construct): Partial<ecs.FargateServiceProps> {
    const { strategy } = this.props;
    const step = { stepPercent: this.props.stepPercent, stepBakeTime: Duration.minutes(this.props.stepMinutes) };
    const fn = this.smokeTest.function.fn;
    // ECS assumes this role to call the hook: it may invoke this function and nothing else.
    const hookRole = new iam.Role(web, 'SmokeTestInvoker', {
      assumedBy: new iam.ServicePrincipal('ecs.amazonaws.com'),
      description: 'ECS calls the release smoke test with this role',
      inlinePolicies: { invoke: new iam.PolicyDocument({ statements: [new iam.PolicyStatement({ actions: ['lambda:InvokeFunction'], resources: [fn.functionArn] })] }) },
    });
    Validations.of(hookRole).acknowledge({
      id: 'NIST.800.53.R5-IAMNoInlinePolicy',
      reason: 'The role exists for one grant (invoke the smoke-test function), written as its inline policy so it lives and dies with the role.',
    });
    return {
      deploymentStrategy: STRATEGIES[strategy],
      bakeTime: Duration.minutes(this.props.bakeMinutes),
      ...(strategy === 'canary' ? { canaryConfiguration: step } : {}),
      ...(strategy === 'linear' ? { linearConfiguration: step } : {}),
      lifecycleHooks: [new ecs.DeploymentLifecycleLambdaTarget(fn, 'SmokeTest', { lifecycleStages: [ecs.DeploymentLifecycleStage.POST_TEST_TRAFFIC_SHIFT], role: hookRole })],
    };
  }

  /**
   * Attaches the service (in `web`): the production rule (every path, ahead of the default
   * action) and the test listener's rule forward to both target groups, all weight on the first;
   * ECS rewrites the weights on every release, so these rules must not change in a later deploy
   * (CloudFormation would write the template's weights back: docs/releases.md).
   */
  attach(
    web: Construct,
    service: ecs.FargateService,
    props: { readonly listener: elbv2.IApplicationListener; readonly targets: elbv2.ApplicationTargetGroup; readonly shift: ShiftTargets; readonly containerPort: number },
  ): void {
    const { alternate, testListener } = props.shift;
    const weighted = () =>
      elbv2.ListenerAction.weightedForward([
        { targetGroup: props.targets, weight: 100 },
        { targetGroup: alternate, weight: 0 },
      ]);
    const everyPath = [elbv2.ListenerCondition.pathPatterns(['/*'])];
    const productionRule = new elbv2.ApplicationListenerRule(web, 'ProductionRule', { listener: props.listener, priority: 1, conditions: everyPath, action: weighted() });
    const testRule = new elbv2.ApplicationListenerRule(web, 'TestRule', { listener: testListener, priority: 1, conditions: everyPath, action: weighted() });
    // ECS moves targets and weights with this role; the policy AWS maintains for it follows ECS.
    const infrastructureRole = awsManagedRole(web, 'TrafficShiftRole', {
      service: 'ecs.amazonaws.com',
      description: 'ECS shifts web traffic between the target groups with this role',
      policyName: 'AmazonECSInfrastructureRolePolicyForLoadBalancers',
      reason: 'The policy AWS maintains for ECS blue/green traffic shifting: it changes with the actions ECS needs on listeners, rules and target groups.',
    });
    service
      .loadBalancerTarget({
        containerName: service.taskDefinition.defaultContainer!.containerName,
        containerPort: props.containerPort,
        alternateTarget: new ecs.AlternateTarget('Alternate', {
          alternateTargetGroup: alternate,
          productionListener: ecs.ListenerRuleConfiguration.applicationListenerRule(productionRule),
          testListener: ecs.ListenerRuleConfiguration.applicationListenerRule(testRule),
          role: infrastructureRole,
        }),
      })
      .attachToApplicationTargetGroup(props.targets);
    service.node.addDependency(productionRule, testRule);
  }
}
