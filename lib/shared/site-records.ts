import * as route53 from 'aws-cdk-lib/aws-route53';
import type { Construct } from 'constructs';

/** Where the stage serves HTTPS for its own name: the name and the stage zone it lives in. */
export interface SiteName {
  readonly zone: route53.IPublicHostedZone;
  readonly recordName: string;
}

/**
 * The site's A and AAAA records (ids `Alias` and `AliasV6` in `scope`), aliasing `target`: the
 * load balancer, or the distribution in front of it.
 */
export function siteAliasRecords(scope: Construct, site: SiteName, target: route53.IAliasRecordTarget): void {
  for (const [id, Record] of [
    ['Alias', route53.ARecord],
    ['AliasV6', route53.AaaaRecord],
  ] as const) {
    new Record(scope, id, { zone: site.zone, recordName: site.recordName, target: route53.RecordTarget.fromAlias(target) });
  }
}
