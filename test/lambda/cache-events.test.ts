import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CreateTopicCommand, PublishCommand, SNSClient, SubscribeCommand } from '@aws-sdk/client-sns';
import type { SNSEvent } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, test, vi } from 'vitest';
import { forwardEvents, parseNotification } from '../../lambda/cache-events/forward';
import { notificationHandler, onNotification } from '../../lambda/cache-events/index';
import { type Moto, startMoto } from '../support/moto';

/**
 * The forwarder against moto's SNS: the alarm topic's deliveries reach a local HTTP subscriber,
 * so the test reads what people would receive.
 */
let moto: Moto;
let sns: SNSClient;
let alarmTopic: string;
let server: Server;
const delivered: { Subject?: string; Message: string }[] = [];

beforeAll(async () => {
  moto = await startMoto();
  sns = new SNSClient(moto.clientConfig());
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => {
      body += chunk;
    });
    req.on('end', () => {
      const notification = JSON.parse(body) as { Type: string; Subject?: string; Message: string };
      if (notification.Type === 'Notification') delivered.push({ Subject: notification.Subject, Message: notification.Message });
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  alarmTopic = (await sns.send(new CreateTopicCommand({ Name: `webapp-prod-alarms-${Date.now()}` }))).TopicArn!;
  await sns.send(new SubscribeCommand({ TopicArn: alarmTopic, Protocol: 'http', Endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}/` }));
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

beforeEach(() => {
  delivered.length = 0;
  vi.spyOn(console, 'log').mockImplementation(() => {});
});

const waitForDeliveries = async (count: number) => {
  for (let i = 0; i < 50 && delivered.length < count; i++) await new Promise((r) => setTimeout(r, 20));
};

describe('ElastiCache notifications', () => {
  test('are read as ElastiCache sends them: one event name and the node or group it names', () => {
    expect(parseNotification('{"ElastiCache:FailoverComplete":"webapp-prod-cache-002"}')).toEqual([{ event: 'FailoverComplete', resource: 'webapp-prod-cache-002' }]);
    expect(parseNotification('{"ElastiCache:CacheNodeReplaceStarted":"webapp-prod-cache-001","ElastiCache:CacheNodeReplaceComplete":"webapp-prod-cache-001"}')).toHaveLength(2);
    expect(parseNotification('not json')).toEqual([{ event: 'Unrecognized', resource: 'not json' }]);
    expect(parseNotification('[]')).toEqual([{ event: 'Unrecognized', resource: '[]' }]);
    for (const odd of ['null', '"FailoverComplete"', '{}', '42']) expect(parseNotification(odd), odd).toEqual([{ event: 'Unrecognized', resource: odd }]);
    expect(parseNotification('{"NotElastiCache:X":"y"}')).toEqual([{ event: 'NotElastiCache:X', resource: 'y' }]);
    expect(parseNotification('x'.repeat(800))[0].resource).toHaveLength(500);
  });

  test('a failover reaches the alarm topic as one line with its runbook; the daily snapshot does not', async () => {
    const forwarded = await forwardEvents(sns, alarmTopic, 'prod', [
      '{"ElastiCache:FailoverComplete":"webapp-prod-cache-002"}',
      '{"ElastiCache:SnapshotComplete":"webapp-prod-cache-001"}',
      '{"ElastiCache:CacheNodeReplaceStarted":"webapp-prod-cache-001"}',
    ]);
    expect(forwarded.map((e) => e.event)).toEqual(['FailoverComplete', 'CacheNodeReplaceStarted']);
    await waitForDeliveries(2);
    expect(delivered).toEqual([
      { Subject: 'prod: cache FailoverComplete', Message: 'prod Valkey: FailoverComplete on webapp-prod-cache-002. Runbook: docs/alarms.md#cache-event' },
      { Subject: 'prod: cache CacheNodeReplaceStarted', Message: 'prod Valkey: CacheNodeReplaceStarted on webapp-prod-cache-001. Runbook: docs/alarms.md#cache-event' },
    ]);
  });

  test('the handler forwards the SNS records it is given, and fails (to be retried) when the alarm topic refuses', async () => {
    vi.stubEnv('ALARM_TOPIC_ARN', alarmTopic);
    vi.stubEnv('STAGE', 'staging');
    const record = (message: string) => ({ Sns: { Message: message } }) as SNSEvent['Records'][number];
    try {
      await notificationHandler(sns)({ Records: [record('{"ElastiCache:FailoverComplete":"webapp-staging-cache-002"}')] });
      await waitForDeliveries(1);
      expect(delivered.map((d) => d.Subject)).toEqual(['staging: cache FailoverComplete']);
      const throttled = new SNSClient(moto.clientConfig());
      const mock = mockClient(throttled);
      mock.on(PublishCommand).rejects(Object.assign(new Error('Rate exceeded'), { name: 'ThrottledException' }));
      await expect(notificationHandler(throttled)({ Records: [record('{"ElastiCache:FailoverComplete":"x"}')] })).rejects.toThrow('Rate exceeded');
      mock.restore();
    } finally {
      vi.unstubAllEnvs();
    }
  });

  test('a long event name is cut to the 100 characters an SNS subject may have', async () => {
    await forwardEvents(sns, alarmTopic, 'prod', [JSON.stringify({ [`ElastiCache:${'Long'.repeat(40)}`]: 'node' })]);
    await waitForDeliveries(1);
    expect(delivered[0].Subject).toHaveLength(100);
  });

  test('the handler refuses to run without its settings', async () => {
    await expect(onNotification({ Records: [] })).rejects.toThrow('ALARM_TOPIC_ARN and STAGE must be set');
  });
});
