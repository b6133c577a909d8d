import type { PricingModule } from './module';

/** A bucket's assumed size in S3 Standard (requests and transfer not counted). */
export const s3: PricingModule = {
  resourceTypes: ['AWS::S3::Bucket'],
  price({ id }, { prices, usage }) {
    return { lines: [{ category: 'S3 storage', item: `S3 ${id}`, quantity: `${usage.s3GbPerBucket} GB`, monthlyUsd: usage.s3GbPerBucket * prices.s3.standardGbMonth }] };
  },
};
