/**
 * The price tables: data in scripts/pricing/<region>.json (pinned from the AWS Price List API,
 * each with its date and source), read here; the modules beside this file are the logic that
 * prices a resource with them.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** A pinned price table for one region (scripts/pricing/<region>.json). */
export interface PriceTable {
  region: string;
  date: string;
  source: string;
  hoursPerMonth: number;
  fargate: { arm64VcpuHour: number; arm64GbHour: number; x86VcpuHour: number; x86GbHour: number; spotDiscount: number };
  alb: { hour: number; lcuHour: number };
  natGateway: { hour: number; gbProcessed: number };
  publicIpv4Hour: number;
  rds: { postgresInstanceHour: Record<string, number>; gp3GbMonth: number };
  elasticache: { valkeyNodeHour: Record<string, number> };
  kmsKeyMonth: number;
  secretMonth: number;
  alarmMonth: number;
  compositeAlarmMonth: number;
  dashboardMonth: number;
  route53HostedZoneMonth: number;
  /**
   * Per web ACL and rule a month; and, behind CloudFront, per million requests whose body is over
   * the free 16 KB, for each further 16 KB the web ACL inspects (AssociationConfig).
   */
  waf: { webAclMonth: number; ruleMonth: number; bodyInspectionPer16KbPerMillion: number };
  interfaceEndpointAzHour: number;
  logs: { ingestedGb: number; storedGbMonth: number };
  s3: { standardGbMonth: number };
  /** EC2 instances (the NAT instances) and their gp3 volumes. */
  ec2: { instanceHour: Record<string, number>; gp3GbMonth: number };
  /** CloudFront (global, priced once in us-east-1's table): data out and HTTPS requests, North America and Europe, with the always-free allowance per account. */
  cloudFront?: {
    dataOutGb: number;
    httpsRequestsPer10k: number;
    freeGbMonth: number;
    freeRequestsMonth: number;
    functionInvocationsPerMillion: number;
    freeFunctionInvocations: number;
  };
  /** Snapshot storage and inter-region transfer (backups.ts). */
  backup: { rdsSnapshotGbMonth: number; interRegionTransferGb: number };
  /** The account baseline's services, billed by use: the estimate applies ASSUMPTIONS.baseline. */
  baseline: {
    cloudTrailDataEventsPer100k: number;
    guardDuty: { managementEventsPerMillion: number; s3DataEventsPerMillion: number; flowAndDnsLogGb: number; fargateVcpuMonth: number };
    securityHubCheck: number;
    config: { configurationItem: number; ruleEvaluation: number };
  };
}

/** The region's table, or undefined when scripts/pricing/ has none. */
export function loadPrices(region: string, dir = join(__dirname, '..', '..', 'pricing')): PriceTable | undefined {
  const file = join(dir, `${region}.json`);
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as PriceTable) : undefined;
}
