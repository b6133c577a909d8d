import type { PricingModule } from './module';

/** A customer-managed key a month (its requests are usage, not counted). */
export const kms: PricingModule = {
  resourceTypes: ['AWS::KMS::Key'],
  price({ id }, { prices }) {
    return { lines: [{ category: 'KMS keys', item: `KMS key ${id}`, quantity: '1 key', monthlyUsd: prices.kmsKeyMonth }] };
  },
};
