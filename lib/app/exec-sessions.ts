import { RemovalPolicy } from 'aws-cdk-lib';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as kms from 'aws-cdk-lib/aws-kms';
import type * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { type LogSettings, stageLogGroup } from '../shared/log-group';

export interface ExecSessionsProps extends LogSettings {
  readonly stage: string;
}

/**
 * Where ECS Exec is allowed (app.enableExecuteCommand; never prod): each session's data channel is encrypted
 * with a key of its own, and every command and its output go to an encrypted log group, so a
 * shell into a task leaves a record of who ran what. The services' task roles get the matching
 * grants from CDK (ssmmessages, the key, the log group).
 */
export class ExecSessions extends Construct {
  readonly configuration: ecs.ExecuteCommandConfiguration;
  readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: ExecSessionsProps) {
    super(scope, id);
    const key = new kms.Key(this, 'Key', {
      description: `${props.stage}: ECS Exec session encryption`,
      enableKeyRotation: true,
      // Sessions are live only: nothing stays encrypted with it.
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.logGroup = stageLogGroup(this, 'Logs', props);
    this.configuration = {
      kmsKey: key,
      logging: ecs.ExecuteCommandLogging.OVERRIDE,
      logConfiguration: { cloudWatchLogGroup: this.logGroup, cloudWatchEncryptionEnabled: true },
    };
  }
}
