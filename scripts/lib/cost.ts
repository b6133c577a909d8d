/**
 * The monthly cost estimate of an assembly, per stage: each resource priced by the module of its
 * type (scripts/lib/pricing/, at the price tables of scripts/pricing/), the usage each stage is
 * assumed to have, CloudWatch's free tier once per account and region, and the stage's backups.
 */
import type { AssemblyStack, Template } from './assembly';
import { BACKUP_ASSUMPTIONS, type BackupAssumptions, estimateBackups } from './pricing/backups';
import { type CostLine, fmt, type PricingContext, type Props } from './pricing/module';
import { treatmentOf } from './pricing/registry';
import { loadPrices, type PriceTable } from './pricing/table';
import { ASSUMPTIONS, type Usage } from './pricing/usage';

/**
 * Where a stage's usage differs from the defaults. dev has no users: its load balancer sees a
 * developer's requests (a quarter of an LCU is still about 6 new connections a second all month),
 * its services log a quarter as much, and its flow log sees a fraction of the traffic.
 */
export const USAGE_BY_STAGE: Readonly<Record<string, Partial<Usage>>> = {
  dev: { albLcus: 0.25, logGbIngestedPerGroup: 0.25, flowLogGbIngested: 2, natGbProcessedPerGateway: 10, cloudFrontGbOut: 5, cloudFrontRequests: 200_000 },
};

/** The usage profile of a stage (the defaults for stages and accounts without one). */
export function usageFor(stage: string): Usage {
  return { ...ASSUMPTIONS, ...USAGE_BY_STAGE[stage] };
}

export function assumptionLines(): string[] {
  const a = ASSUMPTIONS;
  const profiles = Object.entries(USAGE_BY_STAGE).map(
    ([stage, u]) =>
      `${stage} differs: ${Object.entries(u)
        .map(([k, v]) => `${k} ${typeof v === 'number' ? fmt(v) : JSON.stringify(v)}`)
        .join(', ')} (USAGE_BY_STAGE in scripts/lib/cost.ts)`,
  );
  return [
    `load balancers average ${a.albLcus} LCU`,
    `each NAT gateway processes ${a.natGbProcessedPerGateway} GB a month`,
    `each log group ingests ${a.logGbIngestedPerGroup} GB a month, a project function's ${a.functionLogGbIngested} GB, the VPC flow-log group ${a.flowLogGbIngested} GB (${a.rejectedFlowShare * 100}% of that where it records rejected traffic only); stored for one month`,
    `each bucket holds ${a.s3GbPerBucket} GB in S3 Standard (requests and transfer not counted); a bucket of dumps one ${a.dumpGb} GB dump a night for as long as it keeps them, each copied to the DR region where it replicates`,
    `each scheduled dump task (dump, check, anonymisation) runs ${a.dumpTaskMinutes} minutes on Fargate`,
    `each CloudFront distribution serves ${a.cloudFrontGbOut} GB and ${fmt(a.cloudFrontRequests)} HTTPS requests a month, beyond its account's always-free 1 TB and 10 million requests; ${a.wafLargeBodyShare * 100}% of them carry a body over 16 KB, which its web ACL inspects beyond the free 16 KB`,
    'Fargate services run at their desired count all month; Lambda, Step Functions, restore tests, data transfer other than the backup copies, request charges and X-Ray traces ($5 per million recorded) are usage-based and not counted',
    "a month is 730 hours; on-demand list prices, no savings plans or reservations; CloudWatch's free tier (10 alarm metrics, 5 GB of logs) once per account and region",
    ...profiles,
    `account baseline, per account and region: ${fmt(a.baseline.managementEvents)} management events and ${fmt(a.baseline.s3DataEvents)} S3 object operations a month (the trail's first copy of management events is free; GuardDuty analyses both), ${a.baseline.flowAndDnsLogGb} GB of flow and DNS logs, ${a.baseline.monitoredVcpus} Fargate vCPUs under Runtime Monitoring, ${fmt(a.baseline.securityHubChecks)} Security Hub checks, ${fmt(a.baseline.configurationItems)} AWS Config items and ${fmt(a.baseline.configRuleEvaluations)} rule evaluations`,
  ];
}

/**
 * CloudWatch's always-free tier, per account and region: 10 alarm metrics and 5 GB of log data
 * (ingestion, storage and Logs Insights scans) a month (aws.amazon.com/cloudwatch/pricing, "Free
 * tier"). Its 3 free dashboards hold at most 50 metrics each, fewer than the stage dashboard
 * shows: not counted.
 */
export const CLOUDWATCH_FREE_TIER = { alarmMetrics: 10, logGb: 5 } as const;

export interface StageCost {
  readonly stage: string;
  readonly lines: CostLine[];
  /** Monthly USD per category, largest first. */
  readonly byCategory: [string, number][];
  readonly totalUsd: number;
  /** "Type (count) in stack": resources with no price, never counted as 0. */
  readonly notPriced: string[];
  /** Types counted at 0 because they are billed by use (listed so nothing hides). */
  readonly usageBased: string[];
  readonly priceDates: string[];
}

const round = (n: number) => Math.round(n * 100) / 100;

/** Estimates one stack, each resource by the pricing module of its type; pure, so tests can check the arithmetic on a small template. */
export function estimateStack(
  template: Template,
  prices: PriceTable,
  usage: Usage = usageFor(''),
): { lines: CostLine[]; notPriced: Map<string, number>; usageBased: Map<string, number>; alarmMetrics: number; logGb: number } {
  const resources = template.Resources ?? {};
  const context: PricingContext = { prices, usage, resources };
  const lines: CostLine[] = [];
  const notPriced = new Map<string, number>();
  const usageBased = new Map<string, number>();
  const countAs = (map: Map<string, number>, type: string) => map.set(type, (map.get(type) ?? 0) + 1);
  let alarmMetrics = 0;
  let logGb = 0;
  for (const [id, resource] of Object.entries(resources)) {
    const treatment = treatmentOf(resource.Type);
    if (treatment.kind === 'usage-based') countAs(usageBased, resource.Type);
    else if (treatment.kind === 'not priced') countAs(notPriced, resource.Type);
    if (treatment.kind !== 'priced') continue;
    const priced = treatment.module.price({ id, type: resource.Type, props: (resource.Properties ?? {}) as Props }, context);
    if ('notPriced' in priced) {
      countAs(notPriced, `${resource.Type} (${priced.notPriced})`);
      continue;
    }
    lines.push(...priced.lines.map((l) => ({ ...l, monthlyUsd: round(l.monthlyUsd) })));
    alarmMetrics += priced.cloudWatch?.alarmMetrics ?? 0;
    logGb += priced.cloudWatch?.logGb ?? 0;
  }
  return { lines, notPriced, usageBased, alarmMetrics, logGb };
}

/** Estimates every stage of an assembly, each stack at its own region's prices. */
export function estimateAssembly(stacks: AssemblyStack[], pricesDir?: string, backupAssumptions: BackupAssumptions = BACKUP_ASSUMPTIONS): StageCost[] {
  const byStage = new Map<string, AssemblyStack[]>();
  // Stacks outside a stage (registry, CI access, baseline) are the account's: grouped by account.
  const groupOf = (stack: AssemblyStack) => stack.stage || `account ${stack.environment.split('/')[2] ?? '?'}`;
  for (const stack of stacks) byStage.set(groupOf(stack), [...(byStage.get(groupOf(stack)) ?? []), stack]);
  // CloudWatch's free tier is the account's: given once per account and region, to the stage there
  // (or the account's own stacks where no stage runs).
  const freeTierTaken = new Set<string>();
  return [...byStage].map(([stage, members]) => {
    const usage = new Map<string, { alarmMetrics: number; logGb: number; prices: PriceTable }>();
    const lines: CostLine[] = [];
    const notPriced: string[] = [];
    const usageBased: string[] = [];
    const dates = new Set<string>();
    for (const stack of members) {
      const region = stack.environment.split('/').pop()!;
      const prices = loadPrices(region, pricesDir);
      if (!prices) {
        const count = Object.keys(stack.template.Resources ?? {}).length;
        notPriced.push(`all ${count} resources of ${stack.stackName}: no price table for ${region} in scripts/pricing/`);
        continue;
      }
      dates.add(`${region} ${prices.date}`);
      const estimate = estimateStack(stack.template, prices, usageFor(stack.stage));
      lines.push(...estimate.lines.map((l) => ({ ...l, item: `${stack.stackName}: ${l.item}` })));
      const place = stack.environment.replace('aws://', '');
      const used = usage.get(place) ?? { alarmMetrics: 0, logGb: 0, prices };
      usage.set(place, { alarmMetrics: used.alarmMetrics + estimate.alarmMetrics, logGb: used.logGb + estimate.logGb, prices });
      for (const [type, count] of estimate.notPriced) notPriced.push(`${type} x${count} in ${stack.stackName}`);
      for (const [type, count] of estimate.usageBased) usageBased.push(`${type} x${count} in ${stack.stackName}`);
    }
    for (const [place, used] of usage) {
      const stageHere = stacks.some((st) => st.stage && st.environment.endsWith(place));
      if (freeTierTaken.has(place) || (stageHere && !members.some((m) => m.stage))) continue;
      freeTierTaken.add(place);
      const metrics = Math.min(CLOUDWATCH_FREE_TIER.alarmMetrics, used.alarmMetrics);
      const gb = Math.min(CLOUDWATCH_FREE_TIER.logGb, used.logGb);
      if (metrics + gb > 0) {
        lines.push({
          category: 'CloudWatch free tier',
          item: `${stage}: CloudWatch free tier in ${place}`,
          quantity: `${metrics} alarm metrics, ${round(gb)} GB of logs`,
          monthlyUsd: -round(metrics * used.prices.alarmMonth + gb * used.prices.logs.ingestedGb),
        });
      }
    }
    // What the stage's backups and copies hold, across its stacks and regions.
    if (members.some((m) => m.stage)) {
      const backups = estimateBackups(members, (region) => loadPrices(region, pricesDir), backupAssumptions);
      lines.push(...backups.lines.map((l) => ({ ...l, item: `${stage}: ${l.item}` })));
      notPriced.push(...backups.notPriced);
    }
    const categories = new Map<string, number>();
    for (const line of lines) categories.set(line.category, (categories.get(line.category) ?? 0) + line.monthlyUsd);
    const byCategory = [...categories].map(([c, v]) => [c, round(v)] as [string, number]).sort((a, b) => b[1] - a[1]);
    return { stage, lines, byCategory, totalUsd: round(lines.reduce((sum, l) => sum + l.monthlyUsd, 0)), notPriced, usageBased, priceDates: [...dates] };
  });
}
