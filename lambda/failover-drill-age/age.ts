import { type CloudWatchClient, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { GetParameterCommand, type SSMClient } from '@aws-sdk/client-ssm';
import { FAILOVER_METRICS_NAMESPACE } from '../../lib/shared/naming';

/** The metric the stale alarm reads: days since the last completed failover drill. */
export const METRIC_NAME = 'DaysSinceDrill';

/**
 * What is published when no drill age can be read (never drilled, or a value that is not a
 * completion time): far above the longest interval the config admits (365 days), so it breaches
 * every stage's alarm, and far from any real age, so a graph tells it apart at a glance.
 */
export const UNKNOWN_AGE_DAYS = 9999;

/**
 * How far ahead of this function's clock a completion time may be and still count as now: the
 * drill stamps it with the clock of the machine it ran on. Further ahead, the value was written
 * wrong, and trusting it would keep the alarm quiet until that future date plus the interval.
 */
export const CLOCK_SKEW_MS = 5 * 60_000;

const DAY_MS = 86_400_000;

export interface DrillAgeDeps {
  readonly ssm: Pick<SSMClient, 'send'>;
  readonly cloudwatch: Pick<CloudWatchClient, 'send'>;
  readonly now: () => Date;
}

export interface DrillAgeSettings {
  readonly stage: string;
  /** The SSM parameter the drill writes its completion time to (pilotLightNames(stage).lastDrillParameter). */
  readonly parameterName: string;
  /** Days a drill may age (config dr.drillIntervalDays); only for the log line, the alarm holds the threshold. */
  readonly drillIntervalDays: number;
}

export interface DrillAge {
  readonly stage: string;
  /** Days since the last drill (to 0.01), or UNKNOWN_AGE_DAYS. */
  readonly daysSinceDrill: number;
  readonly state: 'drilled' | 'never-drilled' | 'unreadable';
  /** The parameter's value, as read. */
  readonly lastDrill?: string;
  readonly stale: boolean;
}

// A complete ISO 8601 UTC or offset time, as Date#toISOString writes it. Without an offset
// JavaScript would read the time in the function's own zone; a bare date is not a completion.
const ISO_TIME = /^(\d{4})-(\d{2})-(\d{2})T([01]\d|2[0-3]):([0-5]\d):([0-5]\d)(\.\d{1,9})?(Z|[+-]([01]\d|2[0-3]):[0-5]\d)$/;

/** The completion time a value names, or why it names none. */
export function parseDrillTime(value: string): Date | string {
  const match = ISO_TIME.exec(value.trim());
  if (!match) return 'it is not an ISO 8601 time with a zone, like 2026-12-07T05:00:00.000Z';
  const [year, month, day] = [Number(match[1]), Number(match[2]), Number(match[3])];
  // Date rolls a day the calendar lacks into another month (2026-02-30 into March, month 13 into
  // next January, day 00 into the month before): refused.
  if (new Date(Date.UTC(year, month - 1, day)).getUTCMonth() !== month - 1) return `${match[1]}-${match[2]}-${match[3]} is not a day of the calendar`;
  return new Date(value.trim());
}

/** Days from a completion time to now, to 0.01 (a few minutes ahead count as 0), or why the value is none. */
export function ageInDays(value: string, now: Date): number | string {
  const time = parseDrillTime(value);
  if (typeof time === 'string') return time;
  const ms = now.getTime() - time.getTime();
  if (ms < -CLOCK_SKEW_MS) return `it is after now (${now.toISOString()})`;
  return Math.max(0, Math.round((ms / DAY_MS) * 100) / 100);
}

/**
 * Reads when the stage's last failover drill completed and publishes its age in days. A stage
 * never drilled (no parameter), or a value that names no past completion time (unparsable, or
 * further in the future than clock skew explains), publishes UNKNOWN_AGE_DAYS, which breaches the
 * alarm, and says why in a warning line. Any other failure to read or publish throws: the
 * function's errors alarm reports it, and the stale alarm treats the missing value as breaching.
 */
export async function reportDrillAge(deps: DrillAgeDeps, settings: DrillAgeSettings): Promise<DrillAge> {
  const now = deps.now();
  const { stage, parameterName, drillIntervalDays } = settings;
  const fix = `Fix: run npm run failover-drill -- --stage ${stage}, which writes its completion time there (docs/alarms.md#failover-drill-stale)`;
  let lastDrill: string | undefined;
  try {
    lastDrill = (await deps.ssm.send(new GetParameterCommand({ Name: parameterName }))).Parameter?.Value;
  } catch (error) {
    if ((error as Error).name !== 'ParameterNotFound') throw error;
  }

  let result: DrillAge;
  if (lastDrill === undefined) {
    result = { stage, daysSinceDrill: UNKNOWN_AGE_DAYS, state: 'never-drilled', stale: true };
    console.warn(JSON.stringify({ message: `${stage} has no failover drill on record: ${parameterName} does not exist. ${fix}.`, ...result }));
  } else {
    const age = ageInDays(lastDrill, now);
    if (typeof age === 'string') {
      result = { stage, daysSinceDrill: UNKNOWN_AGE_DAYS, state: 'unreadable', lastDrill, stale: true };
      console.warn(JSON.stringify({ message: `${parameterName} of ${stage} holds ${JSON.stringify(lastDrill)}, not the completion time of a drill: ${age}. ${fix}.`, ...result }));
    } else {
      result = { stage, daysSinceDrill: age, state: 'drilled', lastDrill, stale: age > drillIntervalDays };
      console.log(JSON.stringify({ message: 'failover drill age', drillIntervalDays, ...result }));
    }
  }

  await deps.cloudwatch.send(
    new PutMetricDataCommand({
      Namespace: FAILOVER_METRICS_NAMESPACE,
      MetricData: [{ MetricName: METRIC_NAME, Dimensions: [{ Name: 'Stage', Value: stage }], Value: result.daysSinceDrill, Unit: 'None', Timestamp: now }],
    }),
  );
  return result;
}
