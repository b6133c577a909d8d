import type { PricingModule } from './module';

/** Valkey replication groups: each node by the hour. */
export const elastiCache: PricingModule = {
  resourceTypes: ['AWS::ElastiCache::ReplicationGroup'],
  price({ id, props: p }, { prices }) {
    const node = String(p.CacheNodeType);
    const hour = prices.elasticache.valkeyNodeHour[node];
    if (hour === undefined || p.Engine !== 'valkey') return { notPriced: `${p.Engine} ${node}` };
    const nodes = Number(p.NumCacheClusters ?? 1);
    return { lines: [{ category: 'ElastiCache nodes', item: `Valkey ${id}`, quantity: `${nodes} x ${node}`, monthlyUsd: nodes * hour * prices.hoursPerMonth }] };
  },
};
