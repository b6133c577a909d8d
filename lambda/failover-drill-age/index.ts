import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { SSMClient } from '@aws-sdk/client-ssm';
import { type DrillAge, type DrillAgeDeps, type DrillAgeSettings, reportDrillAge } from './age';

/** The settings the construct (lib/ops/failover-drill-age.ts) passes in the environment. */
export function settingsFromEnv(env: NodeJS.ProcessEnv = process.env): DrillAgeSettings {
  const { STAGE: stage, PARAMETER_NAME: parameterName, DRILL_INTERVAL_DAYS: days } = env;
  const drillIntervalDays = Number(days);
  if (!stage || !parameterName || !Number.isInteger(drillIntervalDays) || drillIntervalDays < 1) {
    throw new Error(`STAGE, PARAMETER_NAME and DRILL_INTERVAL_DAYS (whole days) must be set; have ${JSON.stringify({ stage, parameterName, days })}`);
  }
  return { stage, parameterName, drillIntervalDays };
}

/** The handler over given clients (the tests pass moto's). */
export function drillAgeHandler(deps: DrillAgeDeps): () => Promise<DrillAge> {
  return async () => reportDrillAge(deps, settingsFromEnv());
}

const retry = { maxAttempts: 8, retryMode: 'adaptive' as const };

/** Invoked once a day by an EventBridge schedule (the event carries nothing it needs). */
export const handler = drillAgeHandler({ ssm: new SSMClient(retry), cloudwatch: new CloudWatchClient(retry), now: () => new Date() });
