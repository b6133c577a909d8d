import { fmt, type PricingModule } from './module';

/**
 * CloudFront, global and priced from the table that has its prices (us-east-1's): a distribution's
 * data out and HTTPS requests, a function's invocations, each beyond the account's always-free
 * allowance.
 */
export const cloudFront: PricingModule = {
  resourceTypes: ['AWS::CloudFront::Distribution', 'AWS::CloudFront::Function'],
  price({ id, type }, { prices, usage }) {
    const cf = prices.cloudFront;
    if (!cf) return { notPriced: 'no CloudFront prices in this table' };
    const requests = usage.cloudFrontRequests;
    if (type === 'AWS::CloudFront::Function') {
      // A viewer-request function runs on every request the distribution serves.
      const invocations = Math.max(0, requests - cf.freeFunctionInvocations);
      return {
        lines: [
          {
            category: 'CloudFront',
            item: `CloudFront function ${id}`,
            quantity: `${fmt(requests)} invocations (free up to ${fmt(cf.freeFunctionInvocations)})`,
            monthlyUsd: (invocations / 1e6) * cf.functionInvocationsPerMillion,
          },
        ],
      };
    }
    const gb = Math.max(0, usage.cloudFrontGbOut - cf.freeGbMonth);
    const billed = Math.max(0, requests - cf.freeRequestsMonth);
    return {
      lines: [
        {
          category: 'CloudFront',
          item: `CloudFront ${id}`,
          quantity: `${usage.cloudFrontGbOut} GB out, ${fmt(requests)} requests (free up to ${cf.freeGbMonth} GB, ${fmt(cf.freeRequestsMonth)})`,
          monthlyUsd: gb * cf.dataOutGb + (billed / 10_000) * cf.httpsRequestsPer10k,
        },
      ],
    };
  },
};
