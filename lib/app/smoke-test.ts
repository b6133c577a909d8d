import { Duration } from 'aws-cdk-lib';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { httpsOnlySecurityGroup } from '../shared/https-only-group';
import { type LogSettings, logSettings } from '../shared/log-group';
import { handlerEntry } from '../shared/paths';
import { ProjectFunction } from '../shared/project-function';

export interface SmokeTestProps extends LogSettings {
  readonly vpc: ec2.IVpc;
  readonly stage: string;
  /** The load balancer's full name (`app/<name>/<id>`), to find its private addresses. */
  readonly loadBalancerFullName: string;
  readonly testListenerPort: number;
  /** The site's name on the certificate. */
  readonly hostName: string;
  /** Paths to request, the readiness path first. */
  readonly paths: readonly string[];
  readonly latencyMs: number;
  /** What the function is for, in its description. @default the release smoke test's */
  readonly description?: string;
}

/** What a smoke test requests: the readiness path, then the further paths configured (app.deployment.smokePaths). */
export function smokeTestPaths(readinessPath: string, smokePaths: readonly string[]): string[] {
  return [readinessPath, ...smokePaths.filter((p) => p !== readinessPath)];
}

/**
 * Defines the smoke-test function a traffic-shifting web service calls at
 * POST_TEST_TRAFFIC_SHIFT: it requests each path from the new revision through the test listener
 * (the load balancer's private addresses, the site's name for TLS) and answers FAILED, which
 * rolls the release back, unless every path answers 2xx within the latency bound. Its security
 * group lets out HTTPS to the EC2 API (through NAT) and, once the test listener admits it, the
 * test port to the load balancer. lambda/smoke-test/ has the logic.
 */
export class SmokeTest extends Construct {
  readonly function: ProjectFunction;
  readonly securityGroup: ec2.SecurityGroup;

  constructor(scope: Construct, id: string, props: SmokeTestProps) {
    super(scope, id);
    this.securityGroup = httpsOnlySecurityGroup(this, 'SecurityGroup', {
      vpc: props.vpc,
      description: 'Release smoke test: HTTPS to the EC2 API, the test listener port to the load balancer',
      httpsTo: 'HTTPS to the EC2 API (the load balancer network interfaces)',
    });
    // Every path once, one after another, each within the bound, plus the EC2 call and a margin.
    const timeout = Duration.seconds(Math.ceil((props.paths.length * props.latencyMs) / 1000) + 20);
    this.function = new ProjectFunction(this, 'Handler', {
      entry: handlerEntry('smoke-test'),
      handler: 'onHook',
      description: props.description ?? `Smoke-tests each new ${props.stage} web revision through the test listener before production traffic moves`,
      vpc: props.vpc,
      securityGroups: [this.securityGroup],
      timeout,
      environment: {
        LOAD_BALANCER_FULL_NAME: props.loadBalancerFullName,
        TEST_LISTENER_PORT: String(props.testListenerPort),
        SITE_HOST_NAME: props.hostName,
        SMOKE_PATHS: JSON.stringify(props.paths),
        SMOKE_LATENCY_MS: String(props.latencyMs),
      },
      ...logSettings(props),
    });
    this.function.fn.addToRolePolicy(new iam.PolicyStatement({ sid: 'FindTheLoadBalancerAddresses', actions: ['ec2:DescribeNetworkInterfaces'], resources: ['*'] }));
    this.function.acknowledgeWildcards({
      '*': 'ec2:DescribeNetworkInterfaces has no resource-level permissions (it is a read of the account network interfaces); the function reads the load balancer private addresses with it.',
    });
  }
}
