import { dirname } from 'node:path';
import { AssetHashType, DockerImage, Duration, Validations } from 'aws-cdk-lib';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { acknowledgeControl } from './control-tower-checks';
import { type BundleSettings, PROJECT_BUNDLER } from './lambda-bundle';
import { type LogSettings, stageLogGroup } from './log-group';
import { publishMetricsReason, publishMetricsStatement } from './metric-publishing';

export interface ProjectFunctionProps extends LogSettings {
  /** Path of the handler module (`handlerEntry('database-setup')`). */
  readonly entry: string;
  /** Exported handler name. */
  readonly handler: string;
  readonly description: string;
  /** VPC to run in; the function goes into its private subnets (egress through NAT). */
  readonly vpc: ec2.IVpc;
  readonly securityGroups: ec2.ISecurityGroup[];
  /** @default Duration.minutes(1) */
  readonly timeout?: Duration;
  /** @default 256 */
  readonly memorySize?: number;
  readonly environment?: Record<string, string>;
  /**
   * Modules left out of the bundle. The AWS SDK v3 clients the Lambda runtime ships are left out
   * by default; pass a list to bundle one (for example a client newer than the runtime's).
   * @default ['@aws-sdk/*']
   */
  readonly externalModules?: string[];
}

/** The Lambda runtime all project functions run on: the newest Node.js Lambda offers. */
export const PROJECT_RUNTIME = lambda.Runtime.NODEJS_24_X;

/**
 * A handler's code: bundled by esbuild in this process (lambda-bundle.ts) when the stack is
 * bundled, and, like CDK's own bundling, not at all for a stack the synth skips
 * (`cdk deploy <other stack>`, the tests' templates). Never Docker: a bundle that cannot be
 * built fails the synth with esbuild's errors.
 */
function handlerCode(settings: BundleSettings): lambda.Code {
  return lambda.Code.fromAsset(dirname(settings.entry), {
    assetHashType: AssetHashType.OUTPUT,
    bundling: {
      image: DockerImage.fromRegistry('local-bundling-only'),
      local: {
        tryBundle(outputDir: string): boolean {
          PROJECT_BUNDLER.bundle(settings, outputDir);
          return true;
        },
      },
    },
  });
}

/**
 * Defines a project Lambda function the same way everywhere: bundled from TypeScript with the
 * local esbuild (no Docker), Node.js 24 on ARM64, in the VPC's private subnets, logging as JSON to
 * its own KMS-encrypted log group with the stage's retention.
 */
export class ProjectFunction extends Construct {
  readonly fn: lambda.Function;
  readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: ProjectFunctionProps) {
    super(scope, id);
    this.logGroup = stageLogGroup(this, 'Logs', props);
    this.fn = new lambda.Function(this, 'Function', {
      code: handlerCode({ entry: props.entry, target: 'node24', external: props.externalModules ?? ['@aws-sdk/*'] }),
      handler: `index.${props.handler}`,
      description: props.description,
      runtime: PROJECT_RUNTIME,
      architecture: lambda.Architecture.ARM_64,
      timeout: props.timeout ?? Duration.minutes(1),
      memorySize: props.memorySize ?? 256,
      logGroup: this.logGroup,
      loggingFormat: lambda.LoggingFormat.JSON,
      vpc: props.vpc,
      vpcSubnets: { subnets: props.vpc.privateSubnets },
      securityGroups: props.securityGroups,
      environment: { NODE_OPTIONS: '--enable-source-maps', ...props.environment },
    });

    acknowledgeControl(
      this.fn,
      'lambda_inside_vpc_check',
      "Runs in the VPC's private subnets, whose ids come from the network stack as Fn::GetStackOutput, which the control's rule cannot resolve.",
    );
    // Findings that hold for every project function, acknowledged here, once, on the function.
    const role = this.fn.role!;
    for (const policy of ['AWSLambdaBasicExecutionRole', 'AWSLambdaVPCAccessExecutionRole']) {
      Validations.of(role.node.defaultChild!).acknowledge({
        id: `AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/${policy}]`,
        reason: `${policy} is the minimal policy AWS maintains for a function's logs and VPC network interfaces; the function's own grants are separate and scoped to named resources.`,
      });
    }
    Validations.of(role).acknowledge({
      id: 'NIST.800.53.R5-IAMNoInlinePolicy',
      reason: "CDK grant methods write the function's permissions as the role's inline default policy; each statement names this stage's resources.",
    });
    const resource = this.fn.node.defaultChild!;
    Validations.of(resource).acknowledge({
      id: 'NIST.800.53.R5-LambdaConcurrency',
      reason:
        'Project functions run on deploys, schedules or events, a few times a day. Reserved concurrency would be taken from the account pool, and accounts with the default limit of 10 cannot reserve any.',
    });
    Validations.of(resource).acknowledge({
      id: 'NIST.800.53.R5-LambdaDLQ',
      reason:
        'Callers invoke project functions synchronously (CloudFormation custom resources) or through EventBridge, which retries and has its own dead-letter queue; a function DLQ would never receive anything.',
    });
  }

  /**
   * Acknowledges the wildcard resources of the function's own grants (cdk-nag AwsSolutions-IAM5),
   * each with the reason it cannot be narrower, on the policy that holds them. Call it after the
   * grants are added.
   */
  /** Lets the function publish metrics to `namespace` only (publishMetricsStatement), with the acknowledgement that says why `*`. */
  publishesMetrics(sid: string, namespace: string): void {
    this.fn.addToRolePolicy(publishMetricsStatement(sid, namespace));
    this.acknowledgeWildcards({ '*': publishMetricsReason(namespace) });
  }

  acknowledgeWildcards(reasons: Readonly<Record<string, string>>): void {
    const policy = this.fn.role!.node.findChild('DefaultPolicy');
    for (const [resource, reason] of Object.entries(reasons)) Validations.of(policy).acknowledge({ id: `AwsSolutions-IAM5[Resource::${resource}]`, reason });
  }
}
