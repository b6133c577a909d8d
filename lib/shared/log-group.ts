import { CfnResource, RemovalPolicy, Stack } from 'aws-cdk-lib';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { acknowledgeControl } from './control-tower-checks';

/** How a stage keeps its logs; constructs that log take these three together. */
export interface LogSettings {
  /** The stage's CloudWatch Logs key. */
  readonly logsKey: kms.IKey;
  readonly logRetention: logs.RetentionDays;
  /**
   * What happens to the log group when it leaves the stack.
   * @default RemovalPolicy.RETAIN
   */
  readonly logRemovalPolicy?: RemovalPolicy;
}

/** Defines a log group the project way: encrypted with the logs key, kept for the stage retention. */
export function stageLogGroup(scope: Construct, id: string, settings: LogSettings, logGroupName?: string): logs.LogGroup {
  const group = new logs.LogGroup(scope, id, {
    logGroupName,
    encryptionKey: settings.logsKey,
    retention: settings.logRetention,
    removalPolicy: settings.logRemovalPolicy ?? RemovalPolicy.RETAIN,
  });
  acknowledgeLogGroupControls(group, settings.logsKey, settings.logRetention);
  return group;
}

/**
 * The Control Tower log-group controls that do not apply: a key from another stack (the network
 * stack's, or the pilot light's in the DR region, imported by its ARN) reaches the group as
 * Fn::GetStackOutput, which the encryption rule cannot resolve (the group is encrypted all the
 * same; tests assert the key on every group), and a stage that keeps its logs less than a year
 * does so by its config (prod keeps 365 days).
 */
export function acknowledgeLogGroupControls(group: logs.LogGroup, key: kms.IKey, retentionDays: number): void {
  const keyInTemplate = Stack.of(key) === Stack.of(group) && CfnResource.isCfnResource(key.node.defaultChild);
  if (!keyInTemplate) {
    acknowledgeControl(
      group,
      'cloudwatch_log_group_encrypted_check',
      "Encrypted with the stage's logs key, which another stack owns and this stack reads as Fn::GetStackOutput: the control's rule accepts only a key ARN string or a reference inside the template.",
    );
  }
  if (retentionDays < 365) {
    acknowledgeControl(
      group,
      'cloudwatch_log_group_retention_period_check',
      `Kept ${retentionDays} days by the stage config (logRetentionDays, or a fixed period for a copy whose record is elsewhere); prod keeps its logs 365 days.`,
    );
  }
}

/** Just the log settings of a larger props object, to pass on. */
export function logSettings({ logsKey, logRetention, logRemovalPolicy }: LogSettings): LogSettings {
  return { logsKey, logRetention, logRemovalPolicy };
}
