import { Stack, Validations } from 'aws-cdk-lib';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';
import { httpsOnlySecurityGroup } from '../shared/https-only-group';
import { type LogSettings, logSettings } from '../shared/log-group';
import { handlerEntry } from '../shared/paths';
import { ProjectFunction } from '../shared/project-function';

export interface CacheEventsProps extends LogSettings {
  readonly vpc: ec2.IVpc;
  readonly stage: string;
  /** Where the forwarded events go: the stage's ticket topic (a failover heals itself; what it breaks pages on its own alarms). */
  readonly alarmTopic: sns.ITopic;
}

/**
 * Defines where the cache's failovers, node replacements and maintenance become visible.
 * ElastiCache sends those only to the replication group's SNS notification topic (EventBridge gets
 * create/update/delete, snapshot and limit events), and that topic must be unencrypted and allow
 * publishing by `AWS:SourceOwner` (ElastiCache marks a topic that conditions on aws:SourceAccount
 * inactive). So the topic here is the one unencrypted topic of the project, carrying event names
 * and node ids only, and a function forwards each event that matters to the encrypted ticket topic
 * as one line with its runbook. lambda/cache-events/ has the logic.
 */
export class CacheEvents extends Construct {
  readonly topic: sns.Topic;
  readonly function: ProjectFunction;

  constructor(scope: Construct, id: string, props: CacheEventsProps) {
    super(scope, id);
    const { account } = Stack.of(this);
    // TLS only: the deny matches a request whose aws:SecureTransport is false, never one without
    // the key, so ElastiCache's own publishing (a service call over TLS) is not affected.
    this.topic = new sns.Topic(this, 'Topic', { displayName: `Cache events of ${Stack.of(this).stackName}`, enforceSSL: true });
    // The statement ElastiCache documents for its notification topics: publishing by resources this account owns.
    this.topic.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'ElastiCacheOfThisAccountPublishes',
        principals: [new iam.AnyPrincipal()],
        actions: ['sns:Publish'],
        resources: [this.topic.topicArn],
        conditions: { StringEquals: { 'AWS:SourceOwner': account } },
      }),
    );
    const unencrypted =
      'ElastiCache cannot publish to an encrypted topic (its console shows such a topic inactive and drops the notifications). The topic carries event names and node ids, no data; the forwarder sends them on to the encrypted alarm topic.';
    for (const finding of ['AwsSolutions-SNS2', 'NIST.800.53.R5-SNSEncryptedKMS']) Validations.of(this.topic.node.defaultChild!).acknowledge({ id: finding, reason: unencrypted });

    const securityGroup = httpsOnlySecurityGroup(this, 'SecurityGroup', {
      vpc: props.vpc,
      description: 'Cache event forwarder: HTTPS to the SNS API only',
      httpsTo: 'HTTPS to the SNS API',
    });
    this.function = new ProjectFunction(this, 'Forwarder', {
      entry: handlerEntry('cache-events'),
      handler: 'onNotification',
      description: `Forwards the ${props.stage} cache's failover and maintenance events to the alarm topic`,
      vpc: props.vpc,
      securityGroups: [securityGroup],
      environment: { ALARM_TOPIC_ARN: props.alarmTopic.topicArn, STAGE: props.stage },
      ...logSettings(props),
    });
    props.alarmTopic.grantPublish(this.function.fn);
    Validations.of(this.function.fn.role!.node.findChild('DefaultPolicy')).acknowledge({
      id: 'AwsSolutions-IAM5[Action::kms:GenerateDataKey*]',
      reason: "Publishing to the encrypted alarm topic needs its key's data-key actions (CDK's grantPublish); the statement names that one key.",
    });
    this.topic.addSubscription(new subscriptions.LambdaSubscription(this.function.fn));
  }
}
