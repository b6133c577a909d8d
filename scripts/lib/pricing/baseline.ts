import { fmt, type PricingModule } from './module';

/**
 * The account baseline's services, billed by use at the usage assumed per account and region:
 * CloudTrail's data events (the first trail's management events are free), GuardDuty's analysis
 * and runtime monitoring, Security Hub's checks with its Config rule evaluations, AWS Config's
 * configuration items.
 */
export const accountBaseline: PricingModule = {
  resourceTypes: ['AWS::CloudTrail::Trail', 'AWS::GuardDuty::Detector', 'AWS::SecurityHub::Hub', 'AWS::Config::ConfigurationRecorder'],
  price({ id, type, props: p }, { prices, usage }) {
    const b = usage.baseline;
    const line = (item: string, quantity: string, monthlyUsd: number) => ({ lines: [{ category: 'Account baseline', item, quantity, monthlyUsd }] });
    switch (type) {
      case 'AWS::CloudTrail::Trail': {
        // The first trail's management events are free; object-level (data) events are not.
        const selectors = JSON.stringify(p.AdvancedEventSelectors ?? p.EventSelectors ?? []);
        const dataEvents = /"Data"|AWS::S3::Object/.test(selectors) ? b.s3DataEvents : 0;
        return line(
          `CloudTrail ${id}`,
          `management events (first copy, free) + ${fmt(dataEvents)} data events`,
          (dataEvents / 100_000) * prices.baseline.cloudTrailDataEventsPer100k,
        );
      }
      case 'AWS::GuardDuty::Detector': {
        const g = prices.baseline.guardDuty;
        const features = (p.Features ?? []) as { Name?: string; Status?: string }[];
        const runtime = features.some((f) => f.Name === 'RUNTIME_MONITORING' && f.Status === 'ENABLED') ? b.monitoredVcpus : 0;
        return line(
          `GuardDuty ${id}`,
          `${fmt(b.managementEvents)} events, ${fmt(b.s3DataEvents)} S3 events, ${b.flowAndDnsLogGb} GB logs, ${runtime} vCPU runtime`,
          (b.managementEvents / 1e6) * g.managementEventsPerMillion +
            (b.s3DataEvents / 1e6) * g.s3DataEventsPerMillion +
            b.flowAndDnsLogGb * g.flowAndDnsLogGb +
            runtime * g.fargateVcpuMonth,
        );
      }
      case 'AWS::SecurityHub::Hub':
        return line(
          `Security Hub ${id}`,
          `${fmt(b.securityHubChecks)} checks + ${fmt(b.configRuleEvaluations)} Config rule evaluations`,
          b.securityHubChecks * prices.baseline.securityHubCheck + b.configRuleEvaluations * prices.baseline.config.ruleEvaluation,
        );
      default:
        return line(`AWS Config ${id}`, `${fmt(b.configurationItems)} configuration items`, b.configurationItems * prices.baseline.config.configurationItem);
    }
  },
};
