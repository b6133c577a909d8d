import { type RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';
import type { AlarmRoutes } from '../shared/alarm-set';
import { stageResourceName } from '../shared/naming';
import { ServiceKey } from '../shared/service-key';
import { ofThisAccount } from '../shared/service-trust';
import { ChatChannels, type ChatChannelsProps } from './chat-channels';

export interface AlarmTopicProps {
  /**
   * Topic name. Fixed rather than generated, so the ARN an AWS Chatbot channel or a pager
   * integration is configured with is readable and known before the first deploy.
   */
  readonly topicName: string;
  /** People and pagers: email addresses and https:// endpoints (PagerDuty, Opsgenie, ...). */
  readonly emails: readonly string[];
  readonly httpsEndpoints: readonly string[];
  /**
   * The key to encrypt with: the paging topic shares the ticket topic's, so a second route costs
   * no second key ($1 a month each).
   * @default a key of its own
   */
  readonly masterKey?: kms.IKey;
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * Name of a stage's ticket topic (everything is written there; people read it the same working
 * day). It keeps the name the stage's single alarm topic had, so the email subscriptions
 * confirmed on it and the ARN a channel was given stay valid.
 */
export function alarmTopicName(stage: string): string {
  return stageResourceName(stage, 'alarms');
}

/** Name of a stage's paging topic: only what must wake somebody (the pagers and the paging Slack channel listen). */
export function pagingTopicName(stage: string): string {
  return stageResourceName(stage, 'page');
}

/**
 * The stage's routes in the scope's account and region, by their fixed ARNs. Adding rule targets
 * or alarm actions to imported topics writes nothing into the owning stack's topic policy, which
 * already admits this account's alarms, rules and budgets.
 */
export function importedRoutes(scope: Construct, stage: string, suffix = '', chat = false): AlarmRoutes {
  const arn = (name: string) => Stack.of(scope).formatArn({ service: 'sns', resource: `${name}${suffix}` });
  return {
    page: sns.Topic.fromTopicArn(scope, 'PagingTopic', arn(pagingTopicName(stage))),
    ticket: sns.Topic.fromTopicArn(scope, 'AlarmTopic', arn(alarmTopicName(stage))),
    chat,
  };
}

/** Services that publish to the topic: CloudWatch alarms, EventBridge rules, AWS Budgets. */
export const PUBLISHERS = ['cloudwatch.amazonaws.com', 'events.amazonaws.com', 'budgets.amazonaws.com'];

/**
 * Defines one route's topic: encrypted with its own key (or the other route's), TLS-only,
 * subscribed by the given emails and HTTPS endpoints. CloudWatch alarms, EventBridge rules and AWS
 * Budgets of this account may publish to it (they need the key too). Slack channels subscribe
 * through chat-channels.ts.
 */
export class AlarmTopic extends Construct {
  readonly topic: sns.Topic;
  readonly key: kms.IKey;

  constructor(scope: Construct, id: string, props: AlarmTopicProps) {
    super(scope, id);
    this.key = props.masterKey ?? this.ownKey(props.removalPolicy);
    const key = this.key;
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

  /** A key of the topic's own, usable by the services that publish to it. */
  private ownKey(removalPolicy?: RemovalPolicy): kms.IKey {
    const key = new ServiceKey(this, 'Key', { description: 'Stage alarm notifications', services: ['sns'], removalPolicy }).key;
    // Alarms, rules and budgets publish as their service and need the key to do it. CloudWatch
    // carries aws:SourceAccount into the key request; EventBridge does not (AWS documents the
    // condition as unsupported there: every notification would be dropped), nor is it documented
    // for AWS Budgets. The topics' policies hold all three to this account.
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
    return key;
  }
}

export interface StageRoutesProps {
  readonly stage: string;
  /** After each topic's name: "-dr" in the DR app tier, whose topics come and go with it. @default none */
  readonly suffix?: string;
  /** The ticket route's subscribers (alarms.emails). */
  readonly emails: readonly string[];
  /** The paging route's subscribers (alarms.httpsEndpoints). */
  readonly httpsEndpoints: readonly string[];
  /**
   * The routes' Slack channels (alarms.slack), with their log retention: in the stage region's
   * routes only, since AWS allows one configuration per Slack channel in an account. @default no channels
   */
  readonly slack?: ChatChannelsProps['slack'];
  readonly logRetention?: logs.RetentionDays;
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * Defines both routes of a region in `scope`: the ticket topic as construct `Alarms` (the id and
 * name the stage's single alarm topic had: its key, its confirmed email subscriptions and the ARN
 * people configured stay), and the paging topic as `PageAlarms`, encrypted with the same key.
 */
export function defineRoutes(scope: Construct, props: StageRoutesProps): AlarmRoutes {
  const suffix = props.suffix ?? '';
  const ticket = new AlarmTopic(scope, 'Alarms', {
    topicName: `${alarmTopicName(props.stage)}${suffix}`,
    emails: props.emails,
    httpsEndpoints: [],
    removalPolicy: props.removalPolicy,
  });
  const page = new AlarmTopic(scope, 'PageAlarms', {
    topicName: `${pagingTopicName(props.stage)}${suffix}`,
    emails: [],
    httpsEndpoints: props.httpsEndpoints,
    masterKey: ticket.key,
    removalPolicy: props.removalPolicy,
  });
  const routes = { page: page.topic, ticket: ticket.topic, chat: props.slack !== undefined };
  if (props.slack) {
    const names = { page: `${pagingTopicName(props.stage)}${suffix}`, ticket: `${alarmTopicName(props.stage)}${suffix}` };
    new ChatChannels(scope, 'ChatChannels', { slack: props.slack, routes, names, logRetention: props.logRetention ?? logs.RetentionDays.ONE_MONTH });
  }
  return routes;
}
