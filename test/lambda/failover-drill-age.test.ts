import { CloudWatchClient, GetMetricDataCommand, ListMetricsCommand, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { GetParameterCommand, PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeAll, describe, expect, test, vi } from 'vitest';
import { type DrillAgeDeps, METRIC_NAME, reportDrillAge, UNKNOWN_AGE_DAYS } from '../../lambda/failover-drill-age/age';
import { drillAgeHandler, settingsFromEnv } from '../../lambda/failover-drill-age/index';
import { dr } from '../../lib/config/schema/dr';
import { pilotLightNames } from '../../lib/dr/pilot-light-names';
import { FAILOVER_METRICS_NAMESPACE } from '../../lib/shared/naming';
import { type Moto, startMoto } from '../support/moto';

const REGION = 'eu-west-1';
const NOW = new Date('2026-12-07T08:00:00.000Z');
const DAY = 86_400_000;

let moto: Moto;
let deps: DrillAgeDeps;
let ssm: SSMClient;
let cloudwatch: CloudWatchClient;
let run = 0;

beforeAll(async () => {
  moto = await startMoto();
  ssm = new SSMClient(moto.clientConfig(REGION));
  cloudwatch = new CloudWatchClient(moto.clientConfig(REGION));
  deps = { ssm, cloudwatch, now: () => NOW };
});
afterEach(() => {
  vi.restoreAllMocks();
  vi.unstubAllEnvs();
});

/** A stage name of its own per test: files share the moto server, and metrics cannot be deleted. */
function freshStage(): { stage: string; parameterName: string; drillIntervalDays: number } {
  const stage = `drill${Date.now().toString(36)}${run++}`;
  return { stage, parameterName: pilotLightNames(stage).lastDrillParameter, drillIntervalDays: 90 };
}

async function writeLastDrill(parameterName: string, value: string): Promise<void> {
  await ssm.send(new PutParameterCommand({ Name: parameterName, Value: value, Type: 'String', Overwrite: true }));
}

/** What moto holds for the stage's metric around NOW: the values published. */
async function published(stage: string): Promise<number[]> {
  const answer = await cloudwatch.send(
    new GetMetricDataCommand({
      StartTime: new Date(NOW.getTime() - 3_600_000),
      EndTime: new Date(NOW.getTime() + 3_600_000),
      MetricDataQueries: [
        {
          Id: 'age',
          MetricStat: { Metric: { Namespace: FAILOVER_METRICS_NAMESPACE, MetricName: METRIC_NAME, Dimensions: [{ Name: 'Stage', Value: stage }] }, Period: 60, Stat: 'Maximum' },
        },
      ],
    }),
  );
  return answer.MetricDataResults?.[0]?.Values ?? [];
}

function warnings() {
  return vi.spyOn(console, 'warn').mockImplementation(() => undefined);
}

describe('the drill age', () => {
  test('is the days since the completion time in the parameter, to 0.01, and stale above the interval', async () => {
    vi.spyOn(console, 'log').mockImplementation(() => undefined);
    const old = freshStage();
    // 97 days and 3 hours: 97.125 days.
    await writeLastDrill(old.parameterName, new Date(NOW.getTime() - 97 * DAY - 3 * 3_600_000).toISOString());
    expect(await reportDrillAge(deps, old)).toEqual({
      stage: old.stage,
      daysSinceDrill: 97.13,
      state: 'drilled',
      lastDrill: '2026-09-01T05:00:00.000Z',
      stale: true,
    });
    expect(await published(old.stage)).toEqual([97.13]);

    const recent = freshStage();
    await writeLastDrill(recent.parameterName, '2026-11-26T20:00:00.000Z');
    expect(await reportDrillAge(deps, recent)).toMatchObject({ daysSinceDrill: 10.5, state: 'drilled', stale: false });
    expect(await published(recent.stage)).toEqual([10.5]);
  });

  test('reads a time with an offset as that instant, and the interval itself as not stale', async () => {
    vi.spyOn(console, 'log').mockImplementation(() => undefined);
    const s = freshStage();
    // 09:00 at +01:00 is 08:00 UTC: exactly 90 days before NOW.
    await writeLastDrill(s.parameterName, '2026-09-08T09:00:00+01:00');
    expect(await reportDrillAge(deps, s)).toMatchObject({ daysSinceDrill: 90, stale: false });
  });

  test('a stage never drilled publishes a value above any interval and says how to drill', async () => {
    const warn = warnings();
    const s = freshStage();
    expect(await reportDrillAge(deps, s)).toEqual({ stage: s.stage, daysSinceDrill: UNKNOWN_AGE_DAYS, state: 'never-drilled', stale: true });
    expect(await published(s.stage)).toEqual([UNKNOWN_AGE_DAYS]);
    expect(JSON.parse(warn.mock.calls[0][0] as string).message).toBe(
      `${s.stage} has no failover drill on record: ${s.parameterName} does not exist. Fix: run npm run failover-drill -- --stage ${s.stage}, which writes its completion time there (docs/alarms.md#failover-drill-stale).`,
    );
  });

  test.each([
    ['last Tuesday', 'it is not an ISO 8601 time with a zone'],
    ['2026-12-01', 'it is not an ISO 8601 time with a zone'],
    // Without a zone JavaScript would read it in the function's own time zone.
    ['2026-12-01T05:00:00', 'it is not an ISO 8601 time with a zone'],
    ['2026-02-30T05:00:00.000Z', '2026-02-30 is not a day of the calendar'],
    ['2026-13-01T05:00:00.000Z', '2026-13-01 is not a day of the calendar'],
    ['2026-12-00T05:00:00.000Z', '2026-12-00 is not a day of the calendar'],
    ['2026-12-01T24:00:00Z', 'it is not an ISO 8601 time with a zone'],
  ])('a value that is no completion time (%j) breaches like no drill, naming the value and what is wrong', async (value, why) => {
    const warn = warnings();
    const s = freshStage();
    await writeLastDrill(s.parameterName, value);
    expect(await reportDrillAge(deps, s)).toEqual({ stage: s.stage, daysSinceDrill: UNKNOWN_AGE_DAYS, state: 'unreadable', lastDrill: value, stale: true });
    expect(await published(s.stage)).toEqual([UNKNOWN_AGE_DAYS]);
    const { message } = JSON.parse(warn.mock.calls[0][0] as string);
    expect(message).toContain(`${s.parameterName} of ${s.stage} holds ${JSON.stringify(value)}, not the completion time of a drill: ${why}`);
    expect(message).toContain(`Fix: run npm run failover-drill -- --stage ${s.stage}`);
  });

  test('a time in the future breaches, unless it is clock skew of a few minutes', async () => {
    const warn = warnings();
    vi.spyOn(console, 'log').mockImplementation(() => undefined);
    const ahead = freshStage();
    await writeLastDrill(ahead.parameterName, '2026-12-08T08:00:00.000Z');
    expect(await reportDrillAge(deps, ahead)).toMatchObject({ daysSinceDrill: UNKNOWN_AGE_DAYS, state: 'unreadable', stale: true });
    expect(JSON.parse(warn.mock.calls[0][0] as string).message).toContain('it is after now (2026-12-07T08:00:00.000Z)');

    const skewed = freshStage();
    await writeLastDrill(skewed.parameterName, '2026-12-07T08:02:00.000Z');
    expect(await reportDrillAge(deps, skewed)).toMatchObject({ daysSinceDrill: 0, state: 'drilled', stale: false });
    expect(await published(skewed.stage)).toEqual([0]);
  });

  test('the value published when no age can be read breaches every interval the config admits', () => {
    expect(dr.safeParse({ drillIntervalDays: 365 }).success).toBe(true);
    expect(dr.safeParse({ drillIntervalDays: UNKNOWN_AGE_DAYS - 1 }).success).toBe(false);
  });

  test('fails closed when the parameter cannot be read or the metric not published', async () => {
    const s = freshStage();
    // Faults moto cannot produce: throttling by SSM and by CloudWatch.
    const throttled = new SSMClient(moto.clientConfig(REGION));
    const ssmMock = mockClient(throttled);
    ssmMock.on(GetParameterCommand).rejects(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' }));
    await expect(reportDrillAge({ ...deps, ssm: throttled }, s)).rejects.toThrow('Rate exceeded');
    ssmMock.restore();
    const listed = await cloudwatch.send(new ListMetricsCommand({ Namespace: FAILOVER_METRICS_NAMESPACE, Dimensions: [{ Name: 'Stage', Value: s.stage }] }));
    expect(listed.Metrics ?? []).toEqual([]);

    vi.spyOn(console, 'log').mockImplementation(() => undefined);
    await writeLastDrill(s.parameterName, '2026-12-01T05:00:00.000Z');
    const refusing = new CloudWatchClient(moto.clientConfig(REGION));
    const cwMock = mockClient(refusing);
    cwMock.on(PutMetricDataCommand).rejects(Object.assign(new Error('Rate exceeded'), { name: 'Throttling' }));
    await expect(reportDrillAge({ ...deps, cloudwatch: refusing }, s)).rejects.toThrow('Rate exceeded');
    cwMock.restore();
  });
});

describe('the handler', () => {
  test('reads its settings from the environment and publishes the age to CloudWatch', async () => {
    vi.spyOn(console, 'log').mockImplementation(() => undefined);
    const s = freshStage();
    await writeLastDrill(s.parameterName, '2026-12-06T08:00:00.000Z');
    vi.stubEnv('STAGE', s.stage);
    vi.stubEnv('PARAMETER_NAME', s.parameterName);
    vi.stubEnv('DRILL_INTERVAL_DAYS', '30');
    expect(await drillAgeHandler(deps)()).toMatchObject({ stage: s.stage, daysSinceDrill: 1, stale: false });
    const listed = await cloudwatch.send(new ListMetricsCommand({ Namespace: FAILOVER_METRICS_NAMESPACE, Dimensions: [{ Name: 'Stage', Value: s.stage }] }));
    expect((listed.Metrics ?? []).map((m) => m.MetricName)).toEqual([METRIC_NAME]);
    expect(await published(s.stage)).toEqual([1]);
  });

  test('refuses to run without its settings, naming them', () => {
    expect(() => settingsFromEnv({ STAGE: 'staging', PARAMETER_NAME: '/webapp/staging/dr/last-drill' })).toThrow(
      'STAGE, PARAMETER_NAME and DRILL_INTERVAL_DAYS (whole days) must be set; have {"stage":"staging","parameterName":"/webapp/staging/dr/last-drill"}',
    );
    for (const days of ['0', '7.5', 'ninety']) {
      expect(() => settingsFromEnv({ STAGE: 'prod', PARAMETER_NAME: '/webapp/prod/dr/last-drill', DRILL_INTERVAL_DAYS: days }), days).toThrow(`"days":"${days}"`);
    }
    expect(settingsFromEnv({ STAGE: 'prod', PARAMETER_NAME: '/webapp/prod/dr/last-drill', DRILL_INTERVAL_DAYS: '90' })).toEqual({
      stage: 'prod',
      parameterName: '/webapp/prod/dr/last-drill',
      drillIntervalDays: 90,
    });
  });
});
