import { type CfnElement, Stack, Validations } from 'aws-cdk-lib';
import type * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as cr from 'aws-cdk-lib/custom-resources';
import type { IConstruct } from 'constructs';
import { acknowledgeControl, acknowledgeControls } from './control-tower-checks';
import { trustThisAccountOnly } from './service-trust';

/**
 * Findings on the Provider framework's own functions and waiter state machine, which CDK builds
 * and the project cannot shape; acknowledged on each of them, one finding at a time. The waiter's
 * role, which the framework offers no way to pass, is held to this account's state machines.
 */
export function acknowledgeProviderFindings(provider: cr.Provider, handlers: lambda.IFunction[]): void {
  const arnOf = (c: IConstruct) => `<${Stack.of(c).getLogicalId(c.node.defaultChild as CfnElement)}.Arn>:*`;
  const invoke = (targets: IConstruct[]) =>
    Object.fromEntries(
      targets.map((t) => [
        `AwsSolutions-IAM5[Resource::${arnOf(t)}]`,
        'The framework may invoke any version or alias of the one function it fronts (CDK writes the grant as ARN:*).',
      ]),
    );
  const frameworkFunction: Record<string, string> = {
    'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]':
      'The Provider framework function CDK builds uses the AWS-maintained basic execution policy to write its logs.',
    'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole]':
      'The Provider framework function runs in the VPC; AWS maintains the policy that lets Lambda manage its network interfaces.',
    'NIST.800.53.R5-IAMNoInlinePolicy': "CDK writes the Provider framework function's grant (invoke the handlers) as an inline policy; it names only those handlers.",
    'NIST.800.53.R5-LambdaConcurrency': 'The Provider framework function runs on deploys only; reserved concurrency would only take from the account pool.',
    'NIST.800.53.R5-LambdaDLQ': 'CloudFormation invokes the Provider framework and records its failure; a DLQ would never be read.',
    ...invoke(handlers),
  };
  for (const name of ['framework-onEvent', 'framework-isComplete', 'framework-onTimeout']) {
    const framework = provider.node.tryFindChild(name);
    if (!framework) continue;
    for (const [id, reason] of Object.entries(frameworkFunction)) Validations.of(framework).acknowledge({ id, reason });
    acknowledgeControl(
      framework,
      'lambda_inside_vpc_check',
      'A CDK Provider framework function: it only invokes the handler and answers CloudFormation, and it runs in the VPC where the handler does (subnet ids from another stack, which the rule cannot resolve).',
    );
  }
  const waiter = provider.node.tryFindChild('waiter-state-machine');
  if (waiter) {
    // Step Functions documents aws:SourceAccount in the request to assume a state machine's role.
    trustThisAccountOnly(waiter.node.findChild('Role') as iam.Role);
    const frameworkFns = ['framework-isComplete', 'framework-onTimeout'].map((n) => provider.node.findChild(n));
    const reasons: Record<string, string> = {
      ...invoke(frameworkFns),
      'AwsSolutions-SF1': 'The waiter only sleeps and calls isComplete; every attempt is logged by isComplete and the framework functions in the encrypted log group.',
      'NIST.800.53.R5-IAMNoInlinePolicy': "CDK writes the waiter's grant (invoke the two framework functions) as an inline policy; it names only those functions.",
      'AwsSolutions-SF2': 'The waiter runs a few polls per deploy; the functions it calls log each attempt, which X-Ray would not add to.',
    };
    for (const [id, reason] of Object.entries(reasons)) Validations.of(waiter).acknowledge({ id, reason });
    acknowledgeControls(waiter, {
      step_functions_state_machine_logging_enabled_check: 'The Provider waiter only sleeps and calls isComplete, which logs every attempt to its encrypted log group.',
      step_functions_state_machine_tracing_enabled_check: 'The Provider waiter runs a few polls per deploy; the functions it calls log each attempt, which X-Ray would not add to.',
    });
  }
}
