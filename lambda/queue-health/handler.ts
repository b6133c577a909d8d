import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import Redis from 'ioredis';
import { BULLMQ_MAJORS, type BullmqMajor, type QueueFactory, type QueueHealthDeps, type QueueHealthSettings, type QueueReading, type RawReader, reportQueueHealth } from './health';

/** The settings the construct (lib/ops/queue-health.ts) passes in the environment. */
export function settingsFromEnv(env: NodeJS.ProcessEnv = process.env): QueueHealthSettings {
  const { STAGE: stage, CACHE_HOST: host, CACHE_PORT: port, SECRET_ARN: secretArn, QUEUES: list, PREFIX: prefix, BULLMQ_MAJOR: major } = env;
  const queues = (list ?? '').split(',').filter((q) => q !== '');
  const bullmqMajor = Number(major) as BullmqMajor;
  if (!stage || !host || !Number.isInteger(Number(port)) || !secretArn || queues.length === 0 || !prefix || !BULLMQ_MAJORS.includes(bullmqMajor)) {
    throw new Error(
      `STAGE, CACHE_HOST, CACHE_PORT, SECRET_ARN, QUEUES (comma-separated), PREFIX and BULLMQ_MAJOR (${BULLMQ_MAJORS.join(' or ')}) must be set; have ${JSON.stringify({ stage, host, port, secretArn, queues: list, prefix, major })}`,
    );
  }
  return { stage, host, port: Number(port), secretArn, queues, prefix, bullmqMajor };
}

/** The handler over given clients and a BullMQ major's Queue (the tests pass moto's clients and a local server's settings). */
export function queueHealthHandler(deps: QueueHealthDeps, settings: () => QueueHealthSettings = settingsFromEnv): () => Promise<QueueReading[]> {
  return async () => reportQueueHealth(deps, settings());
}

const retry = { maxAttempts: 3, retryMode: 'adaptive' as const };

/** The deps of the deployed function, for the Queue class of the BullMQ major it bundles. */
export function deployedDeps(bullmqMajor: BullmqMajor, queue: QueueFactory): QueueHealthDeps {
  return {
    cloudwatch: new CloudWatchClient(retry),
    secrets: new SecretsManagerClient(retry),
    queue,
    raw: (options) => new Redis(options) as unknown as RawReader,
    bullmqMajor,
    now: () => new Date(),
  };
}
