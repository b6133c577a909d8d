import type { CostLine, PricingModule } from './module';
import { publicIpv4Line } from './network';

/** Application load balancers: the hour, the assumed LCUs and, facing the internet, an address per AZ. Network and gateway load balancers have no price here. */
export const loadBalancer: PricingModule = {
  resourceTypes: ['AWS::ElasticLoadBalancingV2::LoadBalancer'],
  price({ id, props: p }, { prices, usage }) {
    if (p.Type === 'network' || p.Type === 'gateway') return { notPriced: String(p.Type) };
    const h = prices.hoursPerMonth;
    const lines: CostLine[] = [
      { category: 'Load balancers', item: `Load balancer ${id}`, quantity: `1 ALB + ${usage.albLcus} LCU`, monthlyUsd: (prices.alb.hour + prices.alb.lcuHour * usage.albLcus) * h },
    ];
    // An internet-facing load balancer holds a public IPv4 address in each of its subnets (AZs).
    const azs = Array.isArray(p.Subnets) ? p.Subnets.length : 0;
    if (p.Scheme !== 'internal' && azs > 0) lines.push(publicIpv4Line(id, `${azs} addresses (one per AZ)`, azs * prices.publicIpv4Hour * h));
    return { lines };
  },
};
