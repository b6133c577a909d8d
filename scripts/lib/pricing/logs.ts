import type { PricingModule, Props, Resources } from './module';

/**
 * A log group's assumed ingestion, stored for a month: a VPC flow log's (all traffic, or rejected
 * traffic only), a project function's, or any other group's.
 */
export const logs: PricingModule = {
  resourceTypes: ['AWS::Logs::LogGroup'],
  price({ id }, { prices, usage, resources }) {
    // A flow log's group: all traffic, or rejected traffic only (TrafficType REJECT).
    const flowLog = referencedBy(resources, 'AWS::EC2::FlowLog', (p) => p.LogGroupName).get(id);
    const gb = flowLog
      ? usage.flowLogGbIngested * (flowLog.TrafficType === 'REJECT' ? usage.rejectedFlowShare : 1)
      : referencedBy(resources, 'AWS::Lambda::Function', (p) => (p.LoggingConfig as Props | undefined)?.LogGroup).has(id)
        ? usage.functionLogGbIngested
        : usage.logGbIngestedPerGroup;
    return {
      lines: [{ category: 'CloudWatch Logs', item: `Logs ${id}`, quantity: `${gb} GB ingested`, monthlyUsd: gb * (prices.logs.ingestedGb + prices.logs.storedGbMonth) }],
      cloudWatch: { logGb: gb },
    };
  },
};

/**
 * The logical ids that resources of `type` name with `Ref` at `pick` (a function's log group, a
 * flow log's), each with the properties of the resource naming it.
 */
function referencedBy(resources: Resources, type: string, pick: (p: Props) => unknown): Map<string, Props> {
  const ids = new Map<string, Props>();
  for (const r of Object.values(resources)) {
    if (r.Type !== type) continue;
    const props = (r.Properties ?? {}) as Props;
    const ref = pick(props) as { Ref?: string } | undefined;
    if (ref?.Ref) ids.set(ref.Ref, props);
  }
  return ids;
}
