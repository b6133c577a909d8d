import type { PricingModule } from './module';

/** Alarms by the metrics CloudWatch bills them for, composite alarms and dashboards, a month each. */
export const cloudWatch: PricingModule = {
  resourceTypes: ['AWS::CloudWatch::Alarm', 'AWS::CloudWatch::CompositeAlarm', 'AWS::CloudWatch::Dashboard'],
  price({ id, type, props: p }, { prices }) {
    if (type === 'AWS::CloudWatch::CompositeAlarm')
      return { lines: [{ category: 'CloudWatch alarms', item: `Alarm ${id}`, quantity: '1 composite alarm', monthlyUsd: prices.compositeAlarmMonth }] };
    if (type === 'AWS::CloudWatch::Dashboard')
      return { lines: [{ category: 'CloudWatch dashboards', item: `Dashboard ${id}`, quantity: '1 dashboard', monthlyUsd: prices.dashboardMonth }] };
    // CloudWatch bills alarm metrics: each metric a math alarm reads, three for an anomaly band.
    const metrics = p.ThresholdMetricId ? 3 : Math.max(1, ((p.Metrics ?? []) as { MetricStat?: unknown }[]).filter((m) => m.MetricStat).length);
    return {
      lines: [{ category: 'CloudWatch alarms', item: `Alarm ${id}`, quantity: `${metrics} alarm metric${metrics === 1 ? '' : 's'}`, monthlyUsd: metrics * prices.alarmMonth }],
      cloudWatch: { alarmMetrics: metrics },
    };
  },
};
