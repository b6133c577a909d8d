/**
 * Preflight's check of the alarm emails: each address subscribes to the ticket topic of every
 * region the stage alarms in (the stage's region, and us-east-1 for the edge's alarms), and SNS
 * delivers nothing to it until somebody clicks the confirmation mail. The us-east-1 one is easy to
 * miss. Read-only (sns:ListSubscriptionsByTopic, which the lookup role may call).
 */
import { ListSubscriptionsByTopicCommand, type SNSClient, type Subscription } from '@aws-sdk/client-sns';
import type { StageConfig } from '../../lib/config';
import { regionPartition } from '../../lib/config/aws-catalog';
import { EDGE_REGION } from '../../lib/config/regions';
import { alarmTopicName } from '../../lib/ops/alarm-topic';
import type { Check } from './preflight';
import { runCheck, unlessNotFound } from './preflight-check';

type Send<T extends { send: unknown }> = Pick<T, 'send'>;

/** SNS answers a subscription waiting for its confirmation with this in place of its ARN. */
export const PENDING = 'PendingConfirmation';

/** The regions whose ticket topic the stage's emails subscribe to. */
export function alarmRegions(config: StageConfig): string[] {
  return [...new Set([config.region, ...(config.edge.enabled ? [EDGE_REGION] : [])])];
}

/** One check per region: `alarm emails <region>`, a warning while a subscription waits for its confirmation. */
export function alarmSubscriptionChecks(config: StageConfig, sns: (region: string) => Send<SNSClient>): Promise<Check[]> {
  return Promise.all(alarmRegions(config).map((region) => runCheck(`alarm emails ${region}`, () => regionCheck(config, sns(region), region))));
}

async function regionCheck(config: StageConfig, sns: Send<SNSClient>, region: string): Promise<Omit<Check, 'name'>> {
  const topicArn = `arn:${regionPartition(region) ?? 'aws'}:sns:${region}:${config.account}:${alarmTopicName(config.name)}`;
  const subscriptions: Subscription[] = [];
  let token: string | undefined;
  do {
    const page = await unlessNotFound(sns.send(new ListSubscriptionsByTopicCommand({ TopicArn: topicArn, NextToken: token })), 'NotFound');
    if (!page) {
      return {
        status: 'ok',
        detail: `no topic ${alarmTopicName(config.name)} in ${region} yet: after the first deploy each address of alarms.emails gets a confirmation mail to click`,
      };
    }
    subscriptions.push(...(page.Subscriptions ?? []));
    token = page.NextToken;
  } while (token);
  const emails = subscriptions.filter((s) => s.Protocol === 'email' || s.Protocol === 'email-json');
  const pending = emails.filter((s) => s.SubscriptionArn === PENDING).map((s) => s.Endpoint ?? '?');
  if (pending.length === 0) return { status: 'ok', detail: `${emails.length} email subscription(s) of ${topicArn}, all confirmed` };
  return {
    status: 'warn',
    detail: `${pending.join(', ')} never confirmed the subscription to ${topicArn}: no alarm of ${region} reaches ${pending.length === 1 ? 'it' : 'them'}`,
    fix: `each address: click the link in the mail "AWS Notification - Subscription Confirmation"; to send it again: aws sns subscribe --region ${region} --topic-arn ${topicArn} --protocol email --notification-endpoint <address>`,
  };
}
