import { type CfnElement, CfnOutput, CustomResource, Duration, Stack, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as cr from 'aws-cdk-lib/custom-resources';
import { Construct, type IConstruct } from 'constructs';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { join } from 'node:path';
import { type LogSettings, logSettings } from './log-group';
import { ProjectFunction } from './project-function';

export interface PgvectorExtensionProps extends LogSettings {
  readonly vpc: ec2.IVpc;
  /** Connections of the database, to admit the function on its port. */
  readonly database: ec2.IConnectable;
  /** Master-user secret (JSON with username and password). */
  readonly masterSecret: secretsmanager.ISecret;
  /** Where the database listens. */
  readonly host: string;
  readonly port: number;
  readonly databaseName: string;
  /** Lowest acceptable pgvector version. */
  readonly minVersion: string;
}

/**
 * Defines a custom resource that guarantees the pgvector extension: on every create and update of
 * the stack it connects as the master user over verified TLS, runs CREATE EXTENSION IF NOT EXISTS
 * and ALTER EXTENSION UPDATE, and fails the deployment when the version is below `minVersion`.
 * `version` is the installed version. Delete does nothing.
 *
 * The function reaches Secrets Manager through the NAT gateways every stage already has: it runs
 * a few seconds per deploy, which does not justify an interface endpoint's hourly cost in each AZ.
 */
export class PgvectorExtension extends Construct {
  /** Installed pgvector version, e.g. "0.8.0". */
  readonly version: string;

  constructor(scope: Construct, id: string, props: PgvectorExtensionProps) {
    super(scope, id);
    const securityGroup = new ec2.SecurityGroup(this, 'SecurityGroup', {
      vpc: props.vpc,
      description: 'pgvector custom resource: reaches the database and Secrets Manager',
      allowAllOutbound: true,
    });
    props.database.connections.allowDefaultPortFrom(securityGroup, 'pgvector custom resource');

    const handler = new ProjectFunction(this, 'Handler', {
      entry: join(__dirname, '..', '..', 'lambda', 'pgvector', 'index.ts'),
      handler: 'onEvent',
      description: 'Ensures the pgvector extension on the stage database',
      vpc: props.vpc,
      securityGroups: [securityGroup],
      timeout: Duration.minutes(2),
      ...logSettings(props),
      // The Lambda runtime ships the Amazon RDS CA bundle; Node trusts it only when told to.
      environment: { NODE_EXTRA_CA_CERTS: '/var/runtime/ca-cert.pem' },
    });
    // Read access to the secret; CDK also admits the role in the database key's policy to decrypt
    // it, only through Secrets Manager.
    props.masterSecret.grantRead(handler.fn);

    const provider = new cr.Provider(this, 'Provider', {
      onEventHandler: handler.fn,
      vpc: props.vpc,
      vpcSubnets: { subnets: props.vpc.privateSubnets },
      securityGroups: [securityGroup],
      logGroup: handler.logGroup,
    });

    const resource = new CustomResource(this, 'Resource', {
      serviceToken: provider.serviceToken,
      resourceType: 'Custom::Pgvector',
      properties: {
        SecretArn: props.masterSecret.secretArn,
        Host: props.host,
        Port: String(props.port),
        DatabaseName: props.databaseName,
        MinVersion: props.minVersion,
      },
    });
    this.version = resource.getAttString('Version');
    new CfnOutput(this, 'Version', { value: this.version, description: 'pgvector version installed in the stage database' });

    acknowledgeProviderFindings(provider, [handler.fn]);
  }
}

/**
 * Findings on the Provider framework's own functions and waiter state machine, which CDK builds
 * and the project cannot shape; acknowledged on each of them, one finding at a time.
 */
export function acknowledgeProviderFindings(provider: cr.Provider, handlers: lambda.IFunction[]): void {
  const arnOf = (c: IConstruct) => `<${Stack.of(c).getLogicalId(c.node.defaultChild as CfnElement)}.Arn>:*`;
  const invoke = (targets: IConstruct[]) =>
    Object.fromEntries(
      targets.map((t) => [`AwsSolutions-IAM5[Resource::${arnOf(t)}]`, 'The framework may invoke any version or alias of the one function it fronts (CDK writes the grant as ARN:*).']),
    );
  const frameworkFunction: Record<string, string> = {
    'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]':
      'The Provider framework function CDK builds uses the AWS-maintained basic execution policy to write its logs.',
    'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole]':
      'The Provider framework function runs in the VPC; AWS maintains the policy that lets Lambda manage its network interfaces.',
    'NIST.800.53.R5-IAMNoInlinePolicy': 'CDK writes the Provider framework function\'s grant (invoke the handlers) as an inline policy; it names only those handlers.',
    'NIST.800.53.R5-LambdaConcurrency': 'The Provider framework function runs on deploys only; reserved concurrency would only take from the account pool.',
    'NIST.800.53.R5-LambdaDLQ': 'CloudFormation invokes the Provider framework and records its failure; a DLQ would never be read.',
    ...invoke(handlers),
  };
  for (const name of ['framework-onEvent', 'framework-isComplete', 'framework-onTimeout']) {
    const framework = provider.node.tryFindChild(name);
    if (!framework) continue;
    for (const [id, reason] of Object.entries(frameworkFunction)) Validations.of(framework).acknowledge({ id, reason });
  }
  const waiter = provider.node.tryFindChild('waiter-state-machine');
  if (waiter) {
    const frameworkFns = ['framework-isComplete', 'framework-onTimeout'].map((n) => provider.node.findChild(n));
    const reasons: Record<string, string> = {
      ...invoke(frameworkFns),
      'AwsSolutions-SF1': 'The waiter only sleeps and calls isComplete; every attempt is logged by isComplete and the framework functions in the encrypted log group.',
      'NIST.800.53.R5-IAMNoInlinePolicy': 'CDK writes the waiter\'s grant (invoke the two framework functions) as an inline policy; it names only those functions.',
      'AwsSolutions-SF2': 'The waiter runs a few polls per deploy; the functions it calls log each attempt, which X-Ray would not add to.',
    };
    for (const [id, reason] of Object.entries(reasons)) Validations.of(waiter).acknowledge({ id, reason });
  }
}
