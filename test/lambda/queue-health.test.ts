/**
 * The queue-health function's reads against what it reads in production, stood in for locally:
 * - one real redis-server (Debian's, one per file, in memory, with a password so AUTH is
 *   exercised) as the Valkey replication group;
 * - real BullMQ of each major the function supports (`bullmq` 6, `bullmq-v5` 5): a Queue adds
 *   jobs and a Worker of the same major takes, completes and fails them;
 * - moto for Secrets Manager (the AUTH token) and CloudWatch (the metrics, read back).
 * aws-sdk-client-mock is used for nothing: every fault here is a real one.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CloudWatchClient, GetMetricDataCommand, ListMetricsCommand } from '@aws-sdk/client-cloudwatch';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { Queue as Queue6, Worker as Worker6 } from 'bullmq';
import { Queue as Queue5, Worker as Worker5 } from 'bullmq-v5';
import Redis from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, test, vi } from 'vitest';
import { queueHealthHandler, settingsFromEnv } from '../../lambda/queue-health/handler';
import {
  type BullmqMajor,
  CacheUnreachable,
  METRICS,
  type QueueHealthDeps,
  type QueueHealthSettings,
  type RawReader,
  type ReadOnlyQueue,
  readQueues,
  reportQueueHealth,
} from '../../lambda/queue-health/health';
import { QUEUE_METRICS_NAMESPACE } from '../../lib/shared/naming';
import { type Moto, startMoto } from '../support/moto';
import { freePort } from '../support/ports';

const REGION = 'eu-west-1';
const TOKEN = `token${'B2'.repeat(20)}`;
/** What the tests use of a major's Queue and Worker (their full types differ between majors). */
interface Producer {
  add(name: string, data: object, options?: object): Promise<unknown>;
  close(): Promise<void>;
}
interface Consumer {
  on(event: 'active', listener: (job: { name: string }) => void): unknown;
  close(): Promise<void>;
}
interface Major {
  Queue: new (name: string, options: object) => Producer;
  Worker: new (name: string, processor: (job: { name: string }) => Promise<void>, options: object) => Consumer;
}
const BULLMQ: Record<BullmqMajor, Major> = {
  5: { Queue: Queue5 as unknown as Major['Queue'], Worker: Worker5 as unknown as Major['Worker'] },
  6: { Queue: Queue6 as unknown as Major['Queue'], Worker: Worker6 as unknown as Major['Worker'] },
};

let moto: Moto;
let server: ChildProcess;
let port: number;
let dir: string;
let admin: Redis;
let cloudwatch: CloudWatchClient;
let secrets: SecretsManagerClient;
let secretArn: string;
let run = 0;

const connection = () => ({ host: '127.0.0.1', port, password: TOKEN });

beforeAll(async () => {
  moto = await startMoto();
  cloudwatch = new CloudWatchClient(moto.clientConfig(REGION));
  secrets = new SecretsManagerClient(moto.clientConfig(REGION));
  secretArn = (await secrets.send(new CreateSecretCommand({ Name: `queue-health-token-${Date.now()}`, SecretString: TOKEN }))).ARN!;
  port = await freePort();
  dir = mkdtempSync(existsSync('/dev/shm') ? '/dev/shm/queue-health-' : join(tmpdir(), 'queue-health-'));
  server = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no', '--requirepass', TOKEN, '--enable-debug-command', 'local'],
    { stdio: 'ignore' },
  );
  const failed = new Promise<never>((_, reject) =>
    server.once('error', (e: NodeJS.ErrnoException) => reject(e.code === 'ENOENT' ? new Error('redis-server is not installed: bash scripts/prerequisites.sh') : e)),
  );
  admin = new Redis({ ...connection(), lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
  admin.on('error', () => undefined);
  for (let i = 0; ; i++) {
    const up = await Promise.race([
      admin
        .connect()
        .then(() => admin.ping())
        .catch(() => false),
      failed,
    ]);
    if (up === 'PONG') break;
    if (i > 100) throw new Error('redis-server did not answer within 5 s');
    await new Promise((r) => setTimeout(r, 50));
    admin.disconnect();
  }
});

afterAll(async () => {
  admin?.disconnect();
  server?.kill();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

beforeEach(() => {
  vi.spyOn(console, 'log').mockImplementation(() => undefined);
});

function deps(major: BullmqMajor): QueueHealthDeps {
  const { Queue } = BULLMQ[major];
  return {
    cloudwatch,
    secrets,
    queue: (name, options) => new Queue(name, options) as unknown as ReadOnlyQueue,
    raw: (options) => new Redis(options) as unknown as RawReader,
    bullmqMajor: major,
    now: () => new Date(),
  };
}

/** A prefix and stage of their own per test: the file shares one server, and moto's metrics cannot be deleted. */
function fresh(major: BullmqMajor, queues: string[]): QueueHealthSettings {
  const id = `q${major}x${Date.now().toString(36)}${run++}`;
  return { stage: id, host: '127.0.0.1', port, tls: false, secretArn, queues, prefix: id, bullmqMajor: major, connectTimeoutMs: 1000 };
}

async function published(stage: string, queue: string): Promise<Record<string, number[]>> {
  const now = Date.now();
  const names = Object.values(METRICS);
  const answer = await cloudwatch.send(
    new GetMetricDataCommand({
      StartTime: new Date(now - 600_000),
      EndTime: new Date(now + 600_000),
      MetricDataQueries: names.map((MetricName, i) => ({
        Id: `m${i}`,
        MetricStat: {
          Metric: {
            Namespace: QUEUE_METRICS_NAMESPACE,
            MetricName,
            Dimensions: [
              { Name: 'Stage', Value: stage },
              { Name: 'Queue', Value: queue },
            ],
          },
          Period: 60,
          Stat: 'Maximum',
        },
      })),
    }),
  );
  return Object.fromEntries(names.map((name, i) => [name, answer.MetricDataResults?.find((r) => r.Id === `m${i}`)?.Values ?? []]));
}

describe.each([5, 6] as const)('BullMQ %i', (major) => {
  const { Queue, Worker } = BULLMQ[major];

  test('counts waiting, prioritized and due delayed jobs as waiting, and ages the first in line from when it became available', async () => {
    const settings = fresh(major, ['email', 'digest']);
    const now = Date.now();
    const email = new Queue('email', { connection: connection(), prefix: settings.prefix });
    // Added oldest first: BullMQ pushes to the head of the list, so the oldest is at its tail.
    await email.add('welcome', {}, { timestamp: now - 300_000 });
    await email.add('welcome', {}, { timestamp: now - 100_000 });
    await email.add('receipt', {}, { timestamp: now - 200_000, priority: 5 });
    const digest = new Queue('digest', { connection: connection(), prefix: settings.prefix });
    // Added 1000 s ago, due 500 s ago: it has waited 500 s for a worker to promote it.
    await digest.add('weekly', {}, { timestamp: now - 1_000_000, delay: 500_000 });
    await digest.add('weekly', {}, { delay: 3_600_000 });
    await Promise.all([email.close(), digest.close()]);

    const readings = await readQueues(deps(major), settings);
    expect(readings).toEqual([
      { queue: 'email', waiting: 3, active: 0, failed: 0, delayedDue: 0, oldestWaitingSeconds: expect.closeTo(300, -0.5), finished: 0 },
      { queue: 'digest', waiting: 1, active: 0, failed: 0, delayedDue: 1, oldestWaitingSeconds: expect.closeTo(500, -0.5), finished: 0 },
    ]);
  });

  test('counts active and failed jobs, and the jobs finished in the last minute as progress', async () => {
    const settings = fresh(major, ['default']);
    const queue = new Queue('default', { connection: connection(), prefix: settings.prefix });
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const worker = new Worker(
      'default',
      async (job) => {
        if (job.name === 'broken') throw new Error('no such template');
        if (job.name === 'slow') await held;
      },
      { connection: { ...connection(), maxRetriesPerRequest: null }, prefix: settings.prefix, concurrency: 1 },
    );
    const slowActive = new Promise<void>((resolve) => worker.on('active', (job) => job.name === 'slow' && resolve()));
    await queue.add('ok', {}, { removeOnComplete: true });
    await queue.add('broken', {}, { attempts: 1 });
    await queue.add('slow', {});
    await slowActive;

    try {
      const [reading] = await readQueues(deps(major), settings);
      // The completed job was removed at once (removeOnComplete): the event stream still counts it.
      expect(reading).toEqual({ queue: 'default', waiting: 0, active: 1, failed: 1, delayedDue: 0, oldestWaitingSeconds: 0, finished: 2 });
    } finally {
      release();
      await worker.close();
      await queue.close();
    }
  });

  test('only reads: the data set is the same after a reading, and no meta hash is written', async () => {
    const settings = fresh(major, ['email']);
    const queue = new Queue('email', { connection: connection(), prefix: settings.prefix });
    await queue.add('welcome', {});
    await queue.add('later', {}, { delay: 60_000 });
    await queue.close();
    // The producer wrote the meta hash; a reader built without skipMetasUpdate would write it again.
    await admin.del(`${settings.prefix}:email:meta`);
    const before = await admin.call('DEBUG', 'DIGEST');
    await readQueues(deps(major), settings);
    expect(await admin.exists(`${settings.prefix}:email:meta`)).toBe(0);
    expect(await admin.call('DEBUG', 'DIGEST')).toBe(before);
  });

  test('publishes five metrics per queue to CloudWatch, by stage and queue', async () => {
    const settings = fresh(major, ['email']);
    const queue = new Queue('email', { connection: connection(), prefix: settings.prefix });
    await queue.add('welcome', {}, { timestamp: Date.now() - 90_000 });
    await queue.close();
    await reportQueueHealth(deps(major), settings);
    expect(await published(settings.stage, 'email')).toEqual({
      Waiting: [1],
      Active: [0],
      Failed: [0],
      OldestWaitingSeconds: [expect.closeTo(90, -0.5)],
      Finished: [0],
    });
  });
});

describe('fails closed', () => {
  test('an unreachable cache publishes nothing and names where it looked', async () => {
    const closed = await freePort();
    const settings = { ...fresh(6, ['email']), port: closed };
    await expect(reportQueueHealth(deps(6), settings)).rejects.toThrow(CacheUnreachable);
    await expect(reportQueueHealth(deps(6), settings)).rejects.toThrow(`the ${settings.stage} cache at 127.0.0.1:${closed} did not answer`);
    const listed = await cloudwatch.send(new ListMetricsCommand({ Namespace: QUEUE_METRICS_NAMESPACE, Dimensions: [{ Name: 'Stage', Value: settings.stage }] }));
    expect(listed.Metrics ?? []).toEqual([]);
  });

  test('a token the cache refuses publishes nothing', async () => {
    const wrong = (await secrets.send(new CreateSecretCommand({ Name: `queue-health-wrong-${Date.now()}`, SecretString: 'not-the-token-0123456789' }))).ARN!;
    const settings = { ...fresh(5, ['email']), secretArn: wrong };
    await expect(reportQueueHealth(deps(5), settings)).rejects.toThrow(/did not answer: WRONGPASS/);
  });

  test('connects over TLS unless told otherwise, with the token from the secret, one attempt only', async () => {
    const seen: object[] = [];
    const closed = await freePort();
    const settings = { ...fresh(6, ['email']), tls: undefined, host: 'master.cache.example.internal' };
    const refusing = {
      ...deps(6),
      raw: (options: object) => {
        seen.push(options);
        return new Redis({ ...options, host: '127.0.0.1', port: closed }) as unknown as RawReader;
      },
    };
    await expect(readQueues(refusing, settings)).rejects.toThrow(`the ${settings.stage} cache at master.cache.example.internal:${port} (TLS) did not answer`);
    expect(seen).toEqual([
      expect.objectContaining({ host: 'master.cache.example.internal', port, password: TOKEN, tls: { servername: 'master.cache.example.internal' }, maxRetriesPerRequest: 1 }),
    ]);
  });

  test('a bundle of another BullMQ major than the app uses refuses to read', async () => {
    const settings = fresh(6, ['email']);
    await expect(readQueues(deps(5), settings)).rejects.toThrow(
      `${settings.stage}: the app uses BullMQ 6 but this bundle reads with BullMQ 5. Fix: deploy the ops stack again (it picks the bundle from operations.queues.bullmqMajor)`,
    );
  });
});

describe('the handler', () => {
  test('reads its settings from the environment', async () => {
    const settings = fresh(5, ['email', 'default']);
    const env = {
      STAGE: settings.stage,
      CACHE_HOST: '127.0.0.1',
      CACHE_PORT: String(port),
      SECRET_ARN: secretArn,
      QUEUES: 'email,default',
      PREFIX: settings.prefix,
      BULLMQ_MAJOR: '5',
    };
    expect(settingsFromEnv(env)).toEqual({ stage: settings.stage, host: '127.0.0.1', port, secretArn, queues: ['email', 'default'], prefix: settings.prefix, bullmqMajor: 5 });
    const readings = await queueHealthHandler(deps(5), () => ({ ...settingsFromEnv(env), tls: false }))();
    expect(readings.map((r) => r.queue)).toEqual(['email', 'default']);
  });

  test('refuses to run without its settings, naming them', () => {
    expect(() => settingsFromEnv({ STAGE: 'prod', CACHE_HOST: 'h', CACHE_PORT: '6379', SECRET_ARN: 'arn', QUEUES: 'email', PREFIX: 'bull', BULLMQ_MAJOR: '4' })).toThrow(
      'STAGE, CACHE_HOST, CACHE_PORT, SECRET_ARN, QUEUES (comma-separated), PREFIX and BULLMQ_MAJOR (5 or 6) must be set; have {"stage":"prod","host":"h","port":"6379","secretArn":"arn","queues":"email","prefix":"bull","major":"4"}',
    );
    expect(() => settingsFromEnv({ STAGE: 'prod', CACHE_HOST: 'h', CACHE_PORT: '6379', SECRET_ARN: 'arn', QUEUES: '', PREFIX: 'bull', BULLMQ_MAJOR: '6' })).toThrow('"queues":""');
  });
});
