import { type RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';
import { stageResourceName } from '../shared/naming';
import { ServiceKey } from '../shared/service-key';
import { ofThisAccount } from '../shared/service-trust';

export interface AlarmTopicProps {
  /**
   * Topic name. Fixed rather than generated, so the ARN an AWS Chatbot channel or a pager
   * integration is configured with is readable and known before the first deploy.
   */
  readonly topicName: string;
  /** People and pagers: email addresses and https:// endpoints (PagerDuty, Opsgenie, ...). */
  readonly emails: readonly string[];
  readonly httpsEndpoints: readonly string[];
  readonly removalPolicy?: RemovalPolicy;
}

/** Name of a stage's alarm topic. */
export function alarmTopicName(stage: string): string {
  return stageResourceName(stage, 'alarms');
}

/** Services that publish to the topic: CloudWatch alarms, EventBridge rules, AWS Budgets. */
export const PUBLISHERS = ['cloudwatch.amazonaws.com', 'events.amazonaws.com', 'budgets.amazonaws.com'];

/**
 * Defines the stage's alarm topic: encrypted with its own key, TLS-only, subscribed by the
 * configured emails and HTTPS endpoints. CloudWatch alarms, EventBridge rules and AWS Budgets of this
 * account may publish to it (they need the key too). Slack: subscribe an AWS Chatbot channel to it.
 */
export class AlarmTopic extends Construct {
  readonly topic: sns.Topic;

  constructor(scope: Construct, id: string, props: AlarmTopicProps) {
    super(scope, id);
    const key = new ServiceKey(this, 'Key', { description: 'Stage alarm notifications', services: ['sns'], removalPolicy: props.removalPolicy }).key;
    // Alarms, rules and budgets publish as their service and need the key to do it. CloudWatch
    // carries aws:SourceAccount into the key request; EventBridge does not (AWS documents the
    // condition as unsupported there: every notification would be dropped), nor is it documented
    // for AWS Budgets. The topic policy below holds all three to this account.
    key.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'AlarmsOfThisAccountEncrypt',
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['kms:GenerateDataKey*', 'kms:Decrypt'],
        resources: ['*'],
        conditions: ofThisAccount(this),
      }),
    );
    key.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'RulesAndBudgetsEncrypt',
        principals: [new iam.ServicePrincipal('events.amazonaws.com'), new iam.ServicePrincipal('budgets.amazonaws.com')],
        actions: ['kms:GenerateDataKey*', 'kms:Decrypt'],
        resources: ['*'],
      }),
    );
    this.topic = new sns.Topic(this, 'Topic', { topicName: props.topicName, masterKey: key, enforceSSL: true, displayName: `Alarms of ${Stack.of(this).stackName}` });
    this.topic.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'AlarmsRulesBudgetsOfThisAccount',
        principals: PUBLISHERS.map((service) => new iam.ServicePrincipal(service)),
        actions: ['sns:Publish'],
        resources: [this.topic.topicArn],
        conditions: ofThisAccount(this),
      }),
    );
    for (const email of props.emails) this.topic.addSubscription(new subscriptions.EmailSubscription(email));
    for (const url of props.httpsEndpoints) this.topic.addSubscription(new subscriptions.UrlSubscription(url, { protocol: sns.SubscriptionProtocol.HTTPS }));
  }
}
