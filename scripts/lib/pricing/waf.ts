import { fmt, type PricingModule } from './module';

/** A web ACL and its rules a month; behind CloudFront, the body inspection past the free 16 KB. */
export const waf: PricingModule = {
  resourceTypes: ['AWS::WAFv2::WebACL'],
  price({ id, props: p }, { prices, usage }) {
    const rules = Array.isArray(p.Rules) ? p.Rules.length : 0;
    const lines = [{ category: 'WAF', item: `WAF ${id}`, quantity: `1 web ACL + ${rules} rules`, monthlyUsd: prices.waf.webAclMonth + rules * prices.waf.ruleMonth }];
    // Behind CloudFront: the KB of a body the web ACL inspects; beyond the free 16 KB AWS charges
    // per request with a body that large, per further 16 KB (a load balancer's 8 KB is fixed).
    const limit = String(
      (p.AssociationConfig as { RequestBody?: Record<string, { DefaultSizeInspectionLimit?: string }> } | undefined)?.RequestBody?.CLOUDFRONT?.DefaultSizeInspectionLimit ??
        'KB_16',
    );
    const steps = Number(limit.replace('KB_', '')) / 16 - 1;
    if (steps > 0) {
      const large = usage.cloudFrontRequests * usage.wafLargeBodyShare;
      lines.push({
        category: 'WAF',
        item: `WAF body inspection ${id}`,
        quantity: `${limit.replace('KB_', '')} KB: ${fmt(large)} requests over 16 KB x ${steps} further 16 KB`,
        monthlyUsd: (large / 1e6) * steps * prices.waf.bodyInspectionPer16KbPerMillion,
      });
    }
    return { lines };
  },
};
