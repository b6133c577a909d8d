import { CreateTopicCommand, ListSubscriptionsByTopicCommand, SNSClient, SubscribeCommand } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeAll, describe, expect, test } from 'vitest';
import { loadStages, type StageConfig } from '../../lib/config';
import { alarmSubscriptionChecks, PENDING } from '../../scripts/lib/preflight-alarms';
import { inAccount, type Moto, startMoto } from '../support/moto';

/**
 * Preflight's check of the alarm emails, against moto in an account of this file's own. moto
 * confirms every subscription as it makes it, so the one waiting for its confirmation (SNS then
 * answers "PendingConfirmation" in place of its ARN) comes from a client mock.
 */
const ACCOUNT = '313131313131';
const HOME = 'eu-west-3';
let moto: Moto;
const sns = (region: string) => inAccount(new SNSClient(moto.clientConfig(region)), ACCOUNT);
const config = (context: Record<string, string> = {}): StageConfig => loadStages({ stages: 'staging', 'staging.account': ACCOUNT, 'staging.region': HOME, ...context }).selected[0];
const topicArn = (region: string) => `arn:aws:sns:${region}:${ACCOUNT}:webapp-staging-alarms`;

beforeAll(async () => {
  moto = await startMoto();
});

describe('preflight: the alarm emails of every region the stage alarms in', () => {
  test('before the first deploy: no topic yet, nothing to confirm', async () => {
    const checks = await alarmSubscriptionChecks(config(), sns);
    expect(checks.map((c) => [c.name, c.status])).toEqual([
      [`alarm emails ${HOME}`, 'ok'],
      // The edge's alarms notify the topic of the same name in us-east-1.
      ['alarm emails us-east-1', 'ok'],
    ]);
    expect(checks[0].detail).toMatch(/^no topic webapp-staging-alarms in eu-west-3 yet: after the first deploy each address/);
    expect(
      (await alarmSubscriptionChecks(config({ 'staging.edge.enabled': 'false', 'staging.dr.pilotLight': 'false', 'staging.dr.appTier': 'false' }), sns)).map((c) => c.name),
    ).toEqual([`alarm emails ${HOME}`]);
  });

  test('confirmed subscriptions: ok, counted', async () => {
    for (const region of [HOME, 'us-east-1']) {
      await sns(region).send(new CreateTopicCommand({ Name: 'webapp-staging-alarms' }));
      await sns(region).send(new SubscribeCommand({ TopicArn: topicArn(region), Protocol: 'email', Endpoint: 'oncall@example.com' }));
    }
    const checks = await alarmSubscriptionChecks(config(), sns);
    expect(checks).toEqual([
      { name: `alarm emails ${HOME}`, status: 'ok', detail: `1 email subscription(s) of ${topicArn(HOME)}, all confirmed` },
      { name: 'alarm emails us-east-1', status: 'ok', detail: `1 email subscription(s) of ${topicArn('us-east-1')}, all confirmed` },
    ]);
  });

  test('an address that never confirmed: a warning naming it, the topic and how to send the mail again', async () => {
    const client = new SNSClient({ region: 'us-east-1' });
    const mock = mockClient(client);
    mock.on(ListSubscriptionsByTopicCommand).resolves({
      Subscriptions: [
        { SubscriptionArn: `${topicArn('us-east-1')}:1`, Protocol: 'email', Endpoint: 'oncall@example.com', TopicArn: topicArn('us-east-1') },
        { SubscriptionArn: PENDING, Protocol: 'email', Endpoint: 'late@example.com', TopicArn: topicArn('us-east-1') },
      ],
    });
    try {
      const checks = await alarmSubscriptionChecks(config(), (region) => (region === 'us-east-1' ? client : sns(region)));
      expect(checks[1]).toEqual({
        name: 'alarm emails us-east-1',
        status: 'warn',
        detail: `late@example.com never confirmed the subscription to ${topicArn('us-east-1')}: no alarm of us-east-1 reaches it`,
        fix: `each address: click the link in the mail "AWS Notification - Subscription Confirmation"; to send it again: aws sns subscribe --region us-east-1 --topic-arn ${topicArn('us-east-1')} --protocol email --notification-endpoint <address>`,
      });
    } finally {
      mock.restore();
    }
  });
});
