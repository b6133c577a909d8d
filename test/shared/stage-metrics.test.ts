import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { describe, expect, test } from 'vitest';
import { PROJECT_ROOT } from '../../lib/shared/paths';
import { MIN_REQUESTS_FOR_RATE, requestErrorRate } from '../../lib/shared/stage-metrics';

const count = (metricName: string) => new cloudwatch.Metric({ namespace: 'AWS/ApplicationELB', metricName, statistic: 'Sum' });
const common = { requests: count('RequestCount'), period: Duration.minutes(5), label: 'rate' };

describe('the request error rate', () => {
  test('reads 0 below the floor: any request for the deployment alarm, 20 for the 5-minute alarms', () => {
    const deploy = requestErrorRate({ ...common, failed: { count: count('HTTPCode_Target_5XX_Count') }, minRequests: 1 });
    expect(deploy.expression).toBe('IF(requests > 0, 100 * errors / requests, 0)');
    const paging = requestErrorRate({ ...common, failed: { count: count('HTTPCode_Target_5XX_Count') }, minRequests: MIN_REQUESTS_FOR_RATE });
    expect(paging.expression).toBe('IF(requests >= 20, 100 * errors / requests, 0)');
  });

  test('adds up several counts, each filled with 0, and keeps a published share as it is', () => {
    const sum = requestErrorRate({ ...common, failed: { counts: { app5xx: count('a'), lb5xx: count('b') } }, minRequests: 20 });
    expect(sum.expression).toBe('IF(requests >= 20, 100 * (FILL(app5xx, 0) + FILL(lb5xx, 0)) / requests, 0)');
    expect(Object.keys(sum.usingMetrics)).toEqual(['requests', 'app5xx', 'lb5xx']);
    const published = requestErrorRate({ ...common, failed: { percent: count('5xxErrorRate') }, minRequests: 20 });
    expect(published.expression).toBe('IF(requests >= 20, rate, 0)');
    expect(Object.keys(published.usingMetrics)).toEqual(['rate', 'requests']);
  });

  test('is written once: no other file of lib/ writes a metric-math IF (the floor of a rate)', () => {
    const lib = join(PROJECT_ROOT, 'lib');
    const writers = readdirSync(lib, { recursive: true, encoding: 'utf8' })
      .filter((file) => file.endsWith('.ts') && /['`]IF\(/.test(readFileSync(join(lib, file), 'utf8')))
      .map((file) => join('lib', file));
    expect(writers).toEqual([join('lib', 'shared', 'stage-metrics.ts')]);
  });
});
