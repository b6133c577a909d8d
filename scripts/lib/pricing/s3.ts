import { dumpRetentionDays } from './dumps';
import type { CostLine, PricingModule } from './module';

/**
 * A bucket's assumed size in S3 Standard (requests not counted). A bucket of dumps holds a nightly
 * dump of `dumpGb` for each day it keeps them; where it replicates, each night's dump also crosses
 * to the DR region.
 */
export const s3: PricingModule = {
  resourceTypes: ['AWS::S3::Bucket'],
  price({ id, props }, { prices, usage }) {
    const days = dumpRetentionDays(props);
    if (days === undefined) {
      return { lines: [{ category: 'S3 storage', item: `S3 ${id}`, quantity: `${usage.s3GbPerBucket} GB`, monthlyUsd: usage.s3GbPerBucket * prices.s3.standardGbMonth }] };
    }
    const gb = days * usage.dumpGb;
    const lines: CostLine[] = [{ category: 'Dumps', item: `S3 ${id}`, quantity: `${days} dumps x ${usage.dumpGb} GB`, monthlyUsd: gb * prices.s3.standardGbMonth }];
    if (props.ReplicationConfiguration) {
      const copied = (365 / 12) * usage.dumpGb;
      lines.push({
        category: 'Dumps',
        item: `S3 replication of ${id}`,
        quantity: `${Math.round(copied)} GB to another region`,
        monthlyUsd: copied * prices.backup.interRegionTransferGb,
      });
    }
    return { lines };
  },
};
