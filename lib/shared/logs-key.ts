import { RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';

export interface LogsKeyProps {
  /**
   * What happens to the key when it leaves the stack.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * Defines a customer-managed KMS key (rotated yearly) that CloudWatch Logs uses to encrypt the
 * stage's log groups. The key policy admits the regional Logs service only for log groups of this
 * account and region, which is what CloudWatch Logs documents for associating a key.
 */
export class LogsKey extends Construct {
  readonly key: kms.IKey;

  constructor(scope: Construct, id: string, props: LogsKeyProps = {}) {
    super(scope, id);
    const { region, account, partition } = Stack.of(this);
    const key = new kms.Key(this, 'Key', {
      description: `CloudWatch Logs encryption for ${Stack.of(this).stackName}`,
      enableKeyRotation: true,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    });
    key.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'AllowCloudWatchLogsOfThisAccountAndRegion',
        principals: [new iam.ServicePrincipal(`logs.${region}.amazonaws.com`)],
        actions: ['kms:Encrypt*', 'kms:Decrypt*', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:Describe*'],
        resources: ['*'],
        conditions: {
          ArnLike: { 'kms:EncryptionContext:aws:logs:arn': `arn:${partition}:logs:${region}:${account}:log-group:*` },
        },
      }),
    );
    this.key = key;
  }
}
