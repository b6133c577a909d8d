import type { CostLine, PricingModule, Resources } from './module';
import { publicIpv4Line } from './network';

/**
 * Whether a load balancer of the template forwards anything: a listener of it, or a rule on one,
 * with a forward action. One that only answers fixed responses (the pilot light's, until a
 * failover attaches the DR app in another stack) serves no traffic and uses no LCUs.
 */
function forwards(id: string, resources: Resources): boolean {
  const refersTo = (value: unknown, target: string) => JSON.stringify(value ?? null).includes(`"Ref":"${target}"`);
  const listeners = Object.entries(resources).filter(([, r]) => r.Type === 'AWS::ElasticLoadBalancingV2::Listener' && refersTo(r.Properties?.LoadBalancerArn, id));
  const forwarding = (actions: unknown) => Array.isArray(actions) && actions.some((a) => (a as { Type?: string }).Type === 'forward');
  return listeners.some(
    ([listenerId, listener]) =>
      forwarding(listener.Properties?.DefaultActions) ||
      Object.values(resources).some(
        (r) => r.Type === 'AWS::ElasticLoadBalancingV2::ListenerRule' && refersTo(r.Properties?.ListenerArn, listenerId) && forwarding(r.Properties?.Actions),
      ),
  );
}

/** Application load balancers: the hour, the assumed LCUs (none where it forwards nothing) and, facing the internet, an address per AZ. Network and gateway load balancers have no price here. */
export const loadBalancer: PricingModule = {
  resourceTypes: ['AWS::ElasticLoadBalancingV2::LoadBalancer'],
  price({ id, props: p }, { prices, usage, resources }) {
    if (p.Type === 'network' || p.Type === 'gateway') return { notPriced: String(p.Type) };
    const h = prices.hoursPerMonth;
    const lcus = forwards(id, resources) ? usage.albLcus : 0;
    const lines: CostLine[] = [
      {
        category: 'Load balancers',
        item: `Load balancer ${id}`,
        quantity: lcus > 0 ? `1 ALB + ${lcus} LCU` : '1 ALB, idle (forwards nothing)',
        monthlyUsd: (prices.alb.hour + prices.alb.lcuHour * lcus) * h,
      },
    ];
    // An internet-facing load balancer holds a public IPv4 address in each of its subnets (AZs).
    const azs = Array.isArray(p.Subnets) ? p.Subnets.length : 0;
    if (p.Scheme !== 'internal' && azs > 0) lines.push(publicIpv4Line(id, `${azs} addresses (one per AZ)`, azs * prices.publicIpv4Hour * h));
    return { lines };
  },
};
