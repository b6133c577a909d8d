import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { S3Client } from '@aws-sdk/client-s3';
import { type DumpAge, type DumpAgeDeps, type DumpAgeSettings, reportDumpAge, WATCHED_NAMES, type Watched } from './age';

/** The settings the construct (lib/ops/dump-age.ts) passes in the environment. */
export function settingsFromEnv(env: NodeJS.ProcessEnv = process.env): DumpAgeSettings {
  const { STAGE: stage, DUMP_BUCKET: bucket, WATCHED: list } = env;
  const watched = (list ?? '').split(',').filter((w) => w !== '');
  const unknown = watched.filter((w) => !(WATCHED_NAMES as string[]).includes(w));
  if (!stage || !bucket || watched.length === 0 || unknown.length > 0) {
    throw new Error(`STAGE, DUMP_BUCKET and WATCHED (comma-separated, of ${WATCHED_NAMES.join(', ')}) must be set; have ${JSON.stringify({ stage, bucket, watched: list })}`);
  }
  return { stage, bucket, watched: watched as Watched[] };
}

/** The handler over given clients (the tests pass moto's). */
export function dumpAgeHandler(deps: DumpAgeDeps): () => Promise<DumpAge> {
  return async () => reportDumpAge(deps, settingsFromEnv());
}

const retry = { maxAttempts: 8, retryMode: 'adaptive' as const };

/** Invoked every hour by an EventBridge schedule (the event carries nothing it needs). */
export const handler = dumpAgeHandler({ s3: new S3Client(retry), cloudwatch: new CloudWatchClient(retry), now: () => new Date() });
