import { CloudWatchClient, GetMetricDataCommand, ListMetricsCommand } from '@aws-sdk/client-cloudwatch';
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterEach, beforeAll, describe, expect, test, vi } from 'vitest';
import { type DumpAgeDeps, reportDumpAge, type Watched } from '../../lambda/dump-age/age';
import { dumpAgeHandler, settingsFromEnv } from '../../lambda/dump-age/index';
import { writeCheckMarker } from '../../lambda/logical-backup/jobs';
import { checkKey, DUMP_METRICS, DUMP_METRICS_NAMESPACE, dumpKey, keyTime } from '../../lib/data/logical-backup-names';
import { type Moto, startMoto } from '../support/moto';

/**
 * The hourly age check of the dump bucket (lambda/dump-age) against moto's S3 and CloudWatch: the
 * keys the dump job writes, the hours since the newest under each watched prefix read back from
 * CloudWatch, and nothing published for a prefix without an object yet.
 */
const REGION = 'eu-west-1';
const NOW = new Date('2026-12-07T08:10:00.000Z');
const HOUR = 3_600_000;
const ago = (hours: number) => new Date(NOW.getTime() - hours * HOUR);

let moto: Moto;
let s3: S3Client;
let cloudwatch: CloudWatchClient;
let deps: DumpAgeDeps;
let run = 0;

beforeAll(async () => {
  moto = await startMoto();
  s3 = new S3Client({ ...moto.clientConfig(REGION), forcePathStyle: true });
  cloudwatch = new CloudWatchClient(moto.clientConfig(REGION));
  deps = { s3, cloudwatch, now: () => NOW };
});
afterEach(() => {
  vi.restoreAllMocks();
  vi.unstubAllEnvs();
});

/** A stage and bucket of their own per test: files share the moto server, and metrics cannot be deleted. */
async function freshStage(keys: readonly string[] = []): Promise<{ stage: string; bucket: string }> {
  const stage = `age${Date.now().toString(36)}${run++}`;
  const bucket = `webapp-${stage}-dumps`;
  await s3.send(new CreateBucketCommand({ Bucket: bucket, CreateBucketConfiguration: { LocationConstraint: REGION } }));
  for (const Key of keys) await s3.send(new PutObjectCommand({ Bucket: bucket, Key, Body: 'x' }));
  return { stage, bucket };
}

/** The values moto holds for each of the stage's dump metrics around NOW (metrics never published are absent). */
async function published(stage: string): Promise<Record<string, number[]>> {
  const { Metrics = [] } = await cloudwatch.send(new ListMetricsCommand({ Namespace: DUMP_METRICS_NAMESPACE, Dimensions: [{ Name: 'Stage', Value: stage }] }));
  const names = Metrics.map((m) => m.MetricName!).sort();
  if (names.length === 0) return {};
  const answer = await cloudwatch.send(
    new GetMetricDataCommand({
      StartTime: new Date(NOW.getTime() - HOUR),
      EndTime: new Date(NOW.getTime() + HOUR),
      MetricDataQueries: names.map((MetricName, i) => ({
        Id: `m${i}`,
        MetricStat: { Metric: { Namespace: DUMP_METRICS_NAMESPACE, MetricName, Dimensions: [{ Name: 'Stage', Value: stage }] }, Period: 60, Stat: 'Maximum' },
      })),
    }),
  );
  return Object.fromEntries(names.map((name, i) => [name, answer.MetricDataResults?.find((r) => r.Id === `m${i}`)?.Values ?? []]));
}

const quiet = () => {
  vi.spyOn(console, 'log').mockImplementation(() => undefined);
  return vi.spyOn(console, 'warn').mockImplementation(() => undefined);
};
const ALL: Watched[] = ['dump', 'check', 'anonymised'];

describe('the dump age', () => {
  test('is the hours since the newest key of each watched prefix, from the time in its name, to 0.01', async () => {
    quiet();
    const s = await freshStage([
      dumpKey('raw/', ago(72)),
      dumpKey('raw/', ago(30.25)),
      dumpKey('raw/', ago(6.125)),
      dumpKey('raw/', ago(54)),
      checkKey(ago(200)),
      checkKey(ago(36)),
      dumpKey('anonymised/', ago(170)),
      dumpKey('anonymised/', ago(2)),
    ]);
    expect(await reportDumpAge(deps, { ...s, watched: ALL })).toEqual({ stage: s.stage, hours: { dump: 6.13, check: 36, anonymised: 2 } });
    expect(await published(s.stage)).toEqual({
      [DUMP_METRICS.hoursSinceAnonymised]: [2],
      [DUMP_METRICS.hoursSinceCheck]: [36],
      [DUMP_METRICS.hoursSinceDump]: [6.13],
    });
  });

  test('reads every page of a long listing', async () => {
    quiet();
    const s = await freshStage([30, 29, 28, 3.5, 27, 26].map((h) => dumpKey('raw/', ago(h))));
    // moto's real pages, two keys each: the newest is on the second.
    const paged = { ...deps, s3: { send: (command: ListObjectsV2Command) => s3.send(new ListObjectsV2Command({ ...command.input, MaxKeys: 2 })) } } as DumpAgeDeps;
    expect(await reportDumpAge(paged, { ...s, watched: ['dump'] })).toEqual({ stage: s.stage, hours: { dump: 3.5 } });
  });

  test('a prefix without an object yet publishes nothing for it, and a stage with none publishes nothing', async () => {
    quiet();
    const some = await freshStage([dumpKey('raw/', ago(5))]);
    expect(await reportDumpAge(deps, { ...some, watched: ALL })).toEqual({ stage: some.stage, hours: { dump: 5 } });
    expect(await published(some.stage)).toEqual({ [DUMP_METRICS.hoursSinceDump]: [5] });

    const none = await freshStage();
    expect(await reportDumpAge(deps, { ...none, watched: ALL })).toEqual({ stage: none.stage, hours: {} });
    expect(await published(none.stage)).toEqual({});
  });

  test('only the watched prefixes are read and published', async () => {
    quiet();
    const s = await freshStage([dumpKey('raw/', ago(1)), checkKey(ago(2)), dumpKey('anonymised/', ago(3))]);
    expect(await reportDumpAge(deps, { ...s, watched: ['dump', 'check'] })).toEqual({ stage: s.stage, hours: { dump: 1, check: 2 } });
    expect(await published(s.stage)).toEqual({ [DUMP_METRICS.hoursSinceCheck]: [2], [DUMP_METRICS.hoursSinceDump]: [1] });
  });

  test('keys the job does not write are left out with a warning; a key a few minutes ahead counts as now', async () => {
    const warn = quiet();
    const s = await freshStage([
      dumpKey('raw/', ago(40)),
      'raw/latest.dump',
      'raw/2026-13-01T00-00-00Z.dump',
      dumpKey('raw/', new Date(NOW.getTime() + 24 * HOUR)),
      checkKey(new Date(NOW.getTime() + 4 * 60_000)),
    ]);
    expect(await reportDumpAge(deps, { ...s, watched: ['dump', 'check'] })).toEqual({ stage: s.stage, hours: { dump: 40, check: 0 } });
    const [line] = warn.mock.calls.map((c) => JSON.parse(c[0] as string));
    expect(warn).toHaveBeenCalledTimes(1);
    expect(line.message).toContain(`s3://${s.bucket}/raw/ holds keys the dump job does not write`);
    expect(line.ignored.sort()).toEqual(['raw/2026-12-08T08-10-00Z.dump', 'raw/2026-13-01T00-00-00Z.dump', 'raw/latest.dump']);
  });

  test('a passed check writes the marker the age is read from', async () => {
    quiet();
    const s = await freshStage();
    const at = ago(49.5);
    const key = await writeCheckMarker(s3, s.bucket, at, { key: 'raw/2026-12-05T02-00-00Z.dump', passed: ['tables', 'roles'] });
    expect(key).toBe('checks/2026-12-05T06-40-00Z.json');
    const body = await (await s3.send(new GetObjectCommand({ Bucket: s.bucket, Key: key }))).Body!.transformToString();
    expect(JSON.parse(body)).toEqual({ checkedAt: at.toISOString(), dump: 'raw/2026-12-05T02-00-00Z.dump', passed: ['tables', 'roles'] });
    expect(await reportDumpAge(deps, { ...s, watched: ['check'] })).toEqual({ stage: s.stage, hours: { check: 49.5 } });
  });

  test('a marker that cannot be written fails the check, naming the object and the permission', async () => {
    const error = await writeCheckMarker(s3, 'webapp-nobody-dumps', NOW, { key: 'raw/x.dump', passed: [] }).catch((e: Error) => e);
    expect((error as Error).message).toMatch(
      /^The restore check passed, but its marker s3:\/\/webapp-nobody-dumps\/checks\/2026-12-07T08-10-00Z\.json could not be written: NoSuchBucket .*Check the task role's s3:PutObject on checks\/\*\.$/,
    );
  });
});

describe('the key times', () => {
  test('read back what dumpKey and checkKey write, and nothing else', () => {
    const at = new Date('2026-02-28T23:59:07.456Z');
    expect(keyTime('raw/', dumpKey('raw/', at))).toEqual(new Date('2026-02-28T23:59:07Z'));
    expect(keyTime('checks/', checkKey(at))).toEqual(new Date('2026-02-28T23:59:07Z'));
    for (const key of [
      'raw/2026-02-30T00-00-00Z.dump',
      'raw/2026-02-28T24-00-00Z.dump',
      'raw/2026-02-28T23:59:07Z.dump',
      'raw/2026-02-28T23-59-07Z',
      'raw/x/2026-02-28T23-59-07Z.dump',
    ])
      expect(keyTime('raw/', key), key).toBeUndefined();
    expect(keyTime('anonymised/', dumpKey('raw/', at))).toBeUndefined();
  });
});

describe('the handler', () => {
  test('reads the stage, bucket and watched prefixes from its environment', async () => {
    quiet();
    const s = await freshStage([dumpKey('raw/', ago(1)), dumpKey('anonymised/', ago(2))]);
    vi.stubEnv('STAGE', s.stage);
    vi.stubEnv('DUMP_BUCKET', s.bucket);
    vi.stubEnv('WATCHED', 'dump,anonymised');
    expect(await dumpAgeHandler(deps)()).toEqual({ stage: s.stage, hours: { dump: 1, anonymised: 2 } });
  });

  test.each([
    [{ DUMP_BUCKET: 'b', WATCHED: 'dump' }, /STAGE, DUMP_BUCKET and WATCHED/],
    [{ STAGE: 'dev', WATCHED: 'dump' }, /STAGE, DUMP_BUCKET and WATCHED/],
    [{ STAGE: 'dev', DUMP_BUCKET: 'b' }, /STAGE, DUMP_BUCKET and WATCHED \(comma-separated, of dump, check, anonymised\)/],
    [{ STAGE: 'dev', DUMP_BUCKET: 'b', WATCHED: 'dump,backups' }, /"watched":"dump,backups"/],
  ])('refuses an incomplete environment (%j)', (env, message) => {
    expect(() => settingsFromEnv(env)).toThrow(message);
  });
});
