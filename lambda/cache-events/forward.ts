/**
 * ElastiCache sends a replication group's failovers, node replacements and maintenance only to
 * its SNS notification topic, which must be unencrypted; the stage's alarm topic is encrypted and
 * is where people listen. This forwards each notification that matters to the alarm topic as
 * one line with its runbook, and drops the routine ones (the daily snapshot). Pure logic over an
 * injected SNS client.
 */
import { PublishCommand, type SNSClient } from '@aws-sdk/client-sns';

/** One ElastiCache event: its name without the "ElastiCache:" prefix, and the node or group it names. */
export interface CacheEvent {
  readonly event: string;
  readonly resource: string;
}

/** The heading of docs/alarms.md the forwarded events link to. */
export const CACHE_EVENT_RUNBOOK = 'cache-event';

/** Routine events nobody acts on: forwarding them would teach people to ignore the alarm topic. */
export const ROUTINE_EVENTS: ReadonlySet<string> = new Set(['SnapshotComplete', 'CacheClusterProvisioningComplete']);

/** The events of one notification (`{"ElastiCache:FailoverComplete": "webapp-prod-cache-002"}`); anything else is reported as it came. */
export function parseNotification(message: string): CacheEvent[] {
  try {
    const body = JSON.parse(message) as unknown;
    if (body && typeof body === 'object' && !Array.isArray(body)) {
      const events = Object.entries(body as Record<string, unknown>).map(([key, value]) => ({ event: key.replace(/^ElastiCache:/, ''), resource: String(value) }));
      if (events.length > 0) return events;
    }
  } catch {
    // not JSON: reported whole below
  }
  return [{ event: 'Unrecognized', resource: message.slice(0, 500) }];
}

/** Publishes each non-routine event to the alarm topic; returns what was forwarded. A failed publish throws (the invocation is retried). */
export async function forwardEvents(sns: Pick<SNSClient, 'send'>, alarmTopicArn: string, stage: string, messages: readonly string[]): Promise<CacheEvent[]> {
  const forwarded: CacheEvent[] = [];
  for (const message of messages) {
    for (const event of parseNotification(message)) {
      if (ROUTINE_EVENTS.has(event.event)) continue;
      await sns.send(
        new PublishCommand({
          TopicArn: alarmTopicArn,
          Subject: `${stage}: cache ${event.event}`.slice(0, 100),
          Message: `${stage} Valkey: ${event.event} on ${event.resource}. Runbook: docs/alarms.md#${CACHE_EVENT_RUNBOOK}`,
        }),
      );
      forwarded.push(event);
    }
  }
  console.log(JSON.stringify({ message: `forwarded ${forwarded.length} cache event(s)`, forwarded }));
  return forwarded;
}
