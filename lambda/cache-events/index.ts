import { SNSClient } from '@aws-sdk/client-sns';
import type { SNSEvent } from 'aws-lambda';
import { forwardEvents } from './forward';

/** The handler over a given SNS client (the tests pass moto's). */
export function notificationHandler(sns: Pick<SNSClient, 'send'>): (event: SNSEvent) => Promise<void> {
  return async (event) => {
    const topic = process.env.ALARM_TOPIC_ARN;
    const stage = process.env.STAGE;
    if (!topic || !stage) throw new Error('ALARM_TOPIC_ARN and STAGE must be set');
    await forwardEvents(
      sns,
      topic,
      stage,
      event.Records.map((r) => r.Sns.Message),
    );
  };
}

/** Subscribed to the replication group's notification topic: forwards its events to the alarm topic. */
export const onNotification = notificationHandler(new SNSClient({ maxAttempts: 5, retryMode: 'adaptive' }));
