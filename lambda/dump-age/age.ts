import { type CloudWatchClient, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import type { S3Client } from '@aws-sdk/client-s3';
import { DUMP_METRICS, DUMP_METRICS_NAMESPACE, DUMP_PREFIX } from '../../lib/data/logical-backup-names';
import { newestUnder } from '../logical-backup/objects';

/** What the age check watches: the prefix whose newest key it reads, and the metric it publishes. */
export const WATCHED = {
  dump: { prefix: DUMP_PREFIX.raw, metric: DUMP_METRICS.hoursSinceDump },
  check: { prefix: DUMP_PREFIX.checks, metric: DUMP_METRICS.hoursSinceCheck },
  anonymised: { prefix: DUMP_PREFIX.anonymised, metric: DUMP_METRICS.hoursSinceAnonymised },
} as const;
export type Watched = keyof typeof WATCHED;
export const WATCHED_NAMES = Object.keys(WATCHED) as Watched[];

const HOUR_MS = 3_600_000;

export interface DumpAgeDeps {
  readonly s3: Pick<S3Client, 'send'>;
  readonly cloudwatch: Pick<CloudWatchClient, 'send'>;
  readonly now: () => Date;
}

export interface DumpAgeSettings {
  readonly stage: string;
  /** The stage's dump bucket in this region (dumpBucketName). */
  readonly bucket: string;
  /** What the stage runs: always the dump; the check and the anonymised copy where configured. */
  readonly watched: readonly Watched[];
}

export interface DumpAge {
  readonly stage: string;
  /** Hours since the newest object of each watched prefix (to 0.01); absent where there is none yet. */
  readonly hours: Partial<Record<Watched, number>>;
}

/**
 * Publishes, for each watched prefix of the stage's dump bucket, the hours since the newest object
 * the job wrote there, read from the time in its key. A prefix with no such object yet publishes
 * nothing: a new stage does not page before its first run (its failure alarms catch a first run
 * that fails). Keys the job does not write are left out, with a warning. Any failure to list or
 * publish throws: the function's errors alarm reports it.
 */
export async function reportDumpAge(deps: DumpAgeDeps, settings: DumpAgeSettings): Promise<DumpAge> {
  const now = deps.now();
  const { stage, bucket } = settings;
  const hours: Partial<Record<Watched, number>> = {};
  for (const watched of settings.watched) {
    const { prefix, metric } = WATCHED[watched];
    const newest = await newestUnder(deps.s3, bucket, prefix, { now });
    if (newest.ignored.length > 0) {
      console.warn(
        JSON.stringify({
          message: `s3://${bucket}/${prefix} holds keys the dump job does not write (no time, or one ahead of ${now.toISOString()}); their age is not read. Fix: remove them, the job names its objects like ${prefix}2026-12-07T02-00-04Z`,
          stage,
          ignored: newest.ignored.slice(0, 10),
        }),
      );
    }
    if (!newest.time) {
      console.log(JSON.stringify({ message: `no object under s3://${bucket}/${prefix} yet: ${metric} not published`, stage }));
      continue;
    }
    hours[watched] = Math.max(0, Math.round(((now.getTime() - newest.time.getTime()) / HOUR_MS) * 100) / 100);
    console.log(JSON.stringify({ message: 'dump age', stage, metric, key: newest.key, hours: hours[watched] }));
  }

  const data = WATCHED_NAMES.filter((w) => hours[w] !== undefined).map((w) => ({
    MetricName: WATCHED[w].metric,
    Dimensions: [{ Name: 'Stage', Value: stage }],
    Value: hours[w],
    Unit: 'None' as const,
    Timestamp: now,
  }));
  if (data.length > 0) await deps.cloudwatch.send(new PutMetricDataCommand({ Namespace: DUMP_METRICS_NAMESPACE, MetricData: data }));
  return { stage, hours };
}
