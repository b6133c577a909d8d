import { type CloudWatchClient, type MetricDatum, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { QUEUE_METRICS_NAMESPACE } from '../../lib/shared/naming';

/** The BullMQ majors the function bundles a reader of (config `operations.queues.bullmqMajor`). */
export const BULLMQ_MAJORS = [5, 6] as const;
export type BullmqMajor = (typeof BULLMQ_MAJORS)[number];

/** The metrics published per queue, with dimensions `Stage` and `Queue`. */
export const METRICS = {
  waiting: 'Waiting',
  active: 'Active',
  failed: 'Failed',
  oldestWaitingSeconds: 'OldestWaitingSeconds',
  finished: 'Finished',
} as const;

/** The window `Finished` counts over: one schedule period. */
export const FINISHED_WINDOW_MS = 60_000;

/**
 * BullMQ scores a delayed job `due-time-ms * 0x1000 + counter` (its Lua include getDelayedScore,
 * the same in 5 and 6): a job is due once its score is below `(now + 1) * 0x1000`.
 */
const DELAY_SCORE_FACTOR = 0x1000;

/** What the function uses of a BullMQ job: when it was added and for how long it was delayed. */
export interface JobTimes {
  readonly timestamp: number;
  readonly delay?: number;
}

/**
 * What the function uses of a BullMQ `Queue`, the same in majors 5 and 6: only reads. The queue is
 * built with `skipMetasUpdate`, so its constructor does not write the `meta` hash it otherwise
 * sets (both majors do, unless told not to).
 */
export interface ReadOnlyQueue {
  readonly keys: Readonly<Record<string, string>>;
  getJobCounts(...types: string[]): Promise<Record<string, number>>;
  getJobs(types: string[], start?: number, end?: number, asc?: boolean): Promise<(JobTimes | undefined)[]>;
  waitUntilReady(): Promise<unknown>;
  on(event: 'error', listener: (error: Error) => void): unknown;
  close(): Promise<void>;
}

/** How a queue of the configured major is built (the handler passes BullMQ's `Queue`). */
export type QueueFactory = (name: string, options: { readonly connection: ConnectionOptions; readonly prefix: string; readonly skipMetasUpdate: true }) => ReadOnlyQueue;

/**
 * The few reads BullMQ's API has no call for (the delayed jobs already due, and the jobs finished
 * in the last minute), as plain read-only commands on a connection of their own.
 */
export interface RawReader {
  ping(): Promise<string>;
  zcount(key: string, min: string | number, max: string | number): Promise<number>;
  zrangebyscore(key: string, min: string | number, max: string | number, withScores: 'WITHSCORES', limit: 'LIMIT', offset: number, count: number): Promise<string[]>;
  xrange(key: string, start: string, end: string, count: 'COUNT', n: number): Promise<[string, string[]][]>;
  quit(): Promise<unknown>;
  disconnect(): void;
  on(event: 'error', listener: (error: Error) => void): unknown;
}

/** ioredis' options, as both majors of BullMQ and the raw reader take them. */
export interface ConnectionOptions {
  readonly host: string;
  readonly port: number;
  readonly password: string;
  readonly tls?: { readonly servername: string };
  readonly connectTimeout: number;
  readonly maxRetriesPerRequest: number;
  readonly retryStrategy: () => null;
  readonly lazyConnect?: boolean;
}

export interface QueueHealthDeps {
  readonly cloudwatch: Pick<CloudWatchClient, 'send'>;
  readonly secrets: Pick<SecretsManagerClient, 'send'>;
  readonly queue: QueueFactory;
  readonly raw: (options: ConnectionOptions) => RawReader;
  /** The major the bundled BullMQ belongs to, checked against the configured one. */
  readonly bullmqMajor: BullmqMajor;
  readonly now: () => Date;
}

export interface QueueHealthSettings {
  readonly stage: string;
  readonly host: string;
  readonly port: number;
  /** TLS to the cache (ElastiCache requires it); off only for a local server. @default true */
  readonly tls?: boolean;
  /** The data stack's AUTH token secret. */
  readonly secretArn: string;
  readonly queues: readonly string[];
  readonly prefix: string;
  /** The major the app uses (config `operations.queues.bullmqMajor`). */
  readonly bullmqMajor: BullmqMajor;
  /** How long a connection may take. @default 5000 */
  readonly connectTimeoutMs?: number;
}

export interface QueueReading {
  readonly queue: string;
  /** Jobs a worker could take now: waiting, prioritized, and delayed jobs already due (only a worker promotes those). */
  readonly waiting: number;
  readonly active: number;
  /** Failed jobs BullMQ keeps (the app's `removeOnFail` decides how many). */
  readonly failed: number;
  /** Delayed jobs already due, counted in `waiting`. */
  readonly delayedDue: number;
  /** Seconds since the first job in line became available (a due delayed job from its due time); 0 when none waits. */
  readonly oldestWaitingSeconds: number;
  /** Jobs completed or failed in the last minute, from the queue's event stream: the progress signal. */
  readonly finished: number;
}

/** The cache did not answer: nothing is published, the function fails, the age alarm sees no data (breaching). */
export class CacheUnreachable extends Error {
  override readonly name = 'CacheUnreachable';
}

/** The types BullMQ counts as waiting for a worker, per major: 5 still keeps a paused queue's jobs in their own list. */
const WAITING_TYPES: Record<BullmqMajor, readonly string[]> = { 5: ['wait', 'paused', 'prioritized'], 6: ['wait', 'prioritized'] };

/** The events whose entries in the stream mean a job left `active` for good. */
const FINISHED_EVENTS = new Set(['completed', 'failed']);
/** Stream entries read per call, and the most counted (BullMQ trims the stream near 10 000 by default). */
const STREAM_PAGE = 1000;
const STREAM_MAX = 10_000;

function ageSeconds(nowMs: number, availableMs: number): number {
  return Math.max(0, Math.round((nowMs - availableMs) / 1000));
}

/** The AUTH token, as the data stack generated it (the secret's plain string). */
async function authToken(deps: QueueHealthDeps, settings: QueueHealthSettings): Promise<string> {
  const value = await deps.secrets.send(new GetSecretValueCommand({ SecretId: settings.secretArn }));
  if (!value.SecretString) throw new Error(`${settings.secretArn} holds no string: the cache AUTH token is a generated string (lib/data/cache.ts)`);
  return value.SecretString;
}

async function finishedSince(raw: RawReader, key: string, sinceMs: number): Promise<number> {
  let start = `${sinceMs}-0`;
  let finished = 0;
  for (let read = 0; read < STREAM_MAX; read += STREAM_PAGE) {
    const entries = await raw.xrange(key, start, '+', 'COUNT', STREAM_PAGE);
    for (const [, fields] of entries) {
      for (let i = 0; i < fields.length; i += 2) if (fields[i] === 'event' && FINISHED_EVENTS.has(fields[i + 1])) finished++;
    }
    if (entries.length < STREAM_PAGE) break;
    start = `(${entries[entries.length - 1][0]}`;
  }
  return finished;
}

/** Reads one queue: BullMQ's counts and first jobs in line, and the due delayed jobs and finished events directly. */
async function readQueue(queue: ReadOnlyQueue, raw: RawReader, name: string, major: BullmqMajor, nowMs: number): Promise<QueueReading> {
  const waitingTypes = WAITING_TYPES[major];
  const counts = await queue.getJobCounts(...waitingTypes, 'active', 'failed');
  const dueMax = (nowMs + 1) * DELAY_SCORE_FACTOR - 1;
  const [delayedDue, firstDue] = await Promise.all([
    raw.zcount(queue.keys.delayed, '-inf', dueMax),
    raw.zrangebyscore(queue.keys.delayed, '-inf', dueMax, 'WITHSCORES', 'LIMIT', 0, 1),
  ]);
  // The first job in line of each list: the oldest of a list (asc), the next one of the priorities.
  const heads = await Promise.all(waitingTypes.map((type) => queue.getJobs([type], 0, 0, true)));
  const available = heads.flat().flatMap((job) => (job ? [job.timestamp + (job.delay ?? 0)] : []));
  if (firstDue.length === 2) available.push(Math.floor(Number(firstDue[1]) / DELAY_SCORE_FACTOR));
  const waiting = waitingTypes.reduce((sum, type) => sum + (counts[type] ?? 0), 0) + delayedDue;
  return {
    queue: name,
    waiting,
    active: counts.active ?? 0,
    failed: counts.failed ?? 0,
    delayedDue,
    oldestWaitingSeconds: available.length > 0 ? ageSeconds(nowMs, Math.min(...available)) : 0,
    finished: await finishedSince(raw, queue.keys.events, nowMs - FINISHED_WINDOW_MS),
  };
}

/**
 * Reads each configured queue from the cache, with the app's major of BullMQ and only reads:
 * counts and the first job in line through BullMQ's API, the delayed jobs already due and the jobs
 * finished in the last minute with plain ZCOUNT, ZRANGEBYSCORE and XRANGE (the API has no call for
 * them). Fails closed: a cache it cannot reach or authenticate to throws CacheUnreachable before
 * any queue is read.
 */
export async function readQueues(deps: QueueHealthDeps, settings: QueueHealthSettings): Promise<QueueReading[]> {
  if (settings.bullmqMajor !== deps.bullmqMajor) {
    throw new Error(
      `${settings.stage}: the app uses BullMQ ${settings.bullmqMajor} but this bundle reads with BullMQ ${deps.bullmqMajor}. Fix: deploy the ops stack again (it picks the bundle from operations.queues.bullmqMajor)`,
    );
  }
  const where = `${settings.host}:${settings.port}${(settings.tls ?? true) ? ' (TLS)' : ''}`;
  const connection: ConnectionOptions = {
    host: settings.host,
    port: settings.port,
    password: await authToken(deps, settings),
    ...((settings.tls ?? true) ? { tls: { servername: settings.host } } : {}),
    connectTimeout: settings.connectTimeoutMs ?? 5000,
    // One attempt: a cache that does not answer is reported, not waited for.
    maxRetriesPerRequest: 1,
    retryStrategy: () => null,
  };
  const errors: Error[] = [];
  const raw = deps.raw({ ...connection, lazyConnect: true });
  raw.on('error', (error) => errors.push(error));
  const queues: ReadOnlyQueue[] = [];
  try {
    try {
      await raw.ping();
    } catch (error) {
      throw new CacheUnreachable(`the ${settings.stage} cache at ${where} did not answer: ${(errors[0] ?? (error as Error)).message}`);
    }
    const nowMs = deps.now().getTime();
    const readings: QueueReading[] = [];
    for (const name of settings.queues) {
      const queue = deps.queue(name, { connection, prefix: settings.prefix, skipMetasUpdate: true });
      queue.on('error', (error) => errors.push(error));
      queues.push(queue);
      readings.push(await readQueue(queue, raw, name, settings.bullmqMajor, nowMs));
    }
    return readings;
  } finally {
    await Promise.allSettled(queues.map((q) => q.close()));
    raw.disconnect();
  }
}

/** The metric data of the readings: five per queue. */
export function metricData(stage: string, readings: readonly QueueReading[], timestamp: Date): MetricDatum[] {
  return readings.flatMap((r) => {
    const Dimensions = [
      { Name: 'Stage', Value: stage },
      { Name: 'Queue', Value: r.queue },
    ];
    const datum = (MetricName: string, Value: number, Unit: 'Count' | 'Seconds'): MetricDatum => ({ MetricName, Dimensions, Value, Unit, Timestamp: timestamp });
    return [
      datum(METRICS.waiting, r.waiting, 'Count'),
      datum(METRICS.active, r.active, 'Count'),
      datum(METRICS.failed, r.failed, 'Count'),
      datum(METRICS.oldestWaitingSeconds, r.oldestWaitingSeconds, 'Seconds'),
      datum(METRICS.finished, r.finished, 'Count'),
    ];
  });
}

/** Reads the queues and publishes what it read; publishes nothing when it cannot read them all. */
export async function reportQueueHealth(deps: QueueHealthDeps, settings: QueueHealthSettings): Promise<QueueReading[]> {
  const readings = await readQueues(deps, settings);
  await deps.cloudwatch.send(new PutMetricDataCommand({ Namespace: QUEUE_METRICS_NAMESPACE, MetricData: metricData(settings.stage, readings, deps.now()) }));
  console.log(JSON.stringify({ message: 'queue health', stage: settings.stage, readings }));
  return readings;
}
