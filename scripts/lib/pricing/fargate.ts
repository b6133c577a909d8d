import type { CostLine, PricingModule, Props, Resources } from './module';

/** ECS services on Fargate: each task's vCPU and memory by the hour, Spot tasks at Spot's discount. */
export const fargate: PricingModule = {
  resourceTypes: ['AWS::ECS::Service'],
  price({ id, props: p }, { prices, resources }) {
    const task = taskDefinitionOf(p, resources);
    if (!task) return { notPriced: 'task definition not in this stack' };
    const h = prices.hoursPerMonth;
    const count = Number(p.DesiredCount ?? 1);
    const vcpu = Number(task.Cpu) / 1024;
    const gb = Number(task.Memory) / 1024;
    const arm = (task.RuntimePlatform as Props | undefined)?.CpuArchitecture === 'ARM64';
    const rate = arm ? prices.fargate.arm64VcpuHour * vcpu + prices.fargate.arm64GbHour * gb : prices.fargate.x86VcpuHour * vcpu + prices.fargate.x86GbHour * gb;
    const spot = spotTasks(p, count);
    const size = `${vcpu} vCPU / ${gb} GB ${arm ? 'ARM' : 'x86'}`;
    const lines: CostLine[] = [];
    if (spot < count) lines.push({ category: 'Fargate tasks', item: `Fargate ${id}`, quantity: `${count - spot} x ${size}`, monthlyUsd: (count - spot) * rate * h });
    if (spot > 0)
      lines.push({ category: 'Fargate tasks', item: `Fargate ${id} (Spot)`, quantity: `${spot} x ${size}`, monthlyUsd: spot * rate * h * (1 - prices.fargate.spotDiscount) });
    return { lines };
  },
};

function taskDefinitionOf(service: Props, resources: Resources): Props | undefined {
  const ref = service.TaskDefinition as { Ref?: string } | undefined;
  const def = ref?.Ref ? resources[ref.Ref] : undefined;
  return def?.Type === 'AWS::ECS::TaskDefinition' ? (def.Properties as Props) : undefined;
}

/**
 * How many of a service's `count` tasks run on Fargate Spot, as ECS places them: each provider's
 * base first, in order, then the rest split by weight.
 */
export function spotTasks(service: Props, count: number): number {
  const strategy = (service.CapacityProviderStrategy ?? []) as { CapacityProvider?: string; Weight?: number; Base?: number }[];
  if (!Array.isArray(strategy) || strategy.length === 0) return 0;
  let left = count;
  let spot = 0;
  for (const s of strategy) {
    const base = Math.min(left, Number(s.Base ?? 0));
    if (s.CapacityProvider === 'FARGATE_SPOT') spot += base;
    left -= base;
  }
  const weights = strategy.reduce((sum, s) => sum + Number(s.Weight ?? 0), 0);
  const spotWeight = strategy.filter((s) => s.CapacityProvider === 'FARGATE_SPOT').reduce((sum, s) => sum + Number(s.Weight ?? 0), 0);
  return spot + (weights > 0 ? Math.round((left * spotWeight) / weights) : 0);
}
