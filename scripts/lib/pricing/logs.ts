import type { PricingModule, Props, Resources } from './module';

/**
 * A log group's assumed ingestion, stored for a month: a VPC flow log's (all traffic, or rejected
 * traffic only), a project function's or a job's (tasks no service runs: the dumps, a release's
 * migration, which run minutes a day and log a few lines, as a function does), or any other group's.
 */
export const logs: PricingModule = {
  resourceTypes: ['AWS::Logs::LogGroup'],
  price({ id }, { prices, usage, resources }) {
    // A flow log's group: all traffic, or rejected traffic only (TrafficType REJECT).
    const flowLog = referencedBy(resources, 'AWS::EC2::FlowLog', (p) => p.LogGroupName).get(id);
    const gb = flowLog
      ? usage.flowLogGbIngested * (flowLog.TrafficType === 'REJECT' ? usage.rejectedFlowShare : 1)
      : referencedBy(resources, 'AWS::Lambda::Function', (p) => (p.LoggingConfig as Props | undefined)?.LogGroup).has(id) || jobLogGroups(resources).has(id)
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

/** The log groups only task definitions no ECS service runs write to (jobs a schedule or a command starts). */
function jobLogGroups(resources: Resources): Set<string> {
  const served = new Set<string>();
  for (const r of Object.values(resources)) {
    const ref = r.Type === 'AWS::ECS::Service' ? ((r.Properties as Props | undefined)?.TaskDefinition as { Ref?: string } | undefined)?.Ref : undefined;
    if (ref) served.add(ref);
  }
  const groups = (ids: (id: string) => boolean) =>
    Object.entries(resources)
      .filter(([id, r]) => r.Type === 'AWS::ECS::TaskDefinition' && ids(id))
      .flatMap(([, r]) => ((r.Properties as Props | undefined)?.ContainerDefinitions ?? []) as Props[])
      .map((c) => (((c.LogConfiguration as Props | undefined)?.Options as Props | undefined)?.['awslogs-group'] as { Ref?: string } | undefined)?.Ref)
      .filter((ref): ref is string => ref !== undefined);
  const ofServices = new Set(groups((id) => served.has(id)));
  return new Set(groups((id) => !served.has(id)).filter((g) => !ofServices.has(g)));
}
