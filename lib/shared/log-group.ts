import { RemovalPolicy } from 'aws-cdk-lib';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';

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
  return new logs.LogGroup(scope, id, {
    logGroupName,
    encryptionKey: settings.logsKey,
    retention: settings.logRetention,
    removalPolicy: settings.logRemovalPolicy ?? RemovalPolicy.RETAIN,
  });
}

/** Just the log settings of a larger props object, to pass on. */
export function logSettings({ logsKey, logRetention, logRemovalPolicy }: LogSettings): LogSettings {
  return { logsKey, logRetention, logRemovalPolicy };
}
