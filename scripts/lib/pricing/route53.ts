import type { PricingModule } from './module';

/** A hosted zone a month (its queries are usage, not counted). */
export const route53: PricingModule = {
  resourceTypes: ['AWS::Route53::HostedZone'],
  price({ id }, { prices }) {
    return { lines: [{ category: 'Route 53', item: `Hosted zone ${id}`, quantity: '1 zone (queries not counted)', monthlyUsd: prices.route53HostedZoneMonth }] };
  },
};
