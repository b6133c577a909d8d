/**
 * What every pricing module implements: the resource types it prices and, for one resource of
 * them, its monthly cost lines or why it has no price. The registry (registry.ts) dispatches each
 * resource of a template to the module of its type; cost.ts sums the lines per stage.
 */
import type { Template } from '../assembly';
import type { PriceTable } from './table';
import type { Usage } from './usage';

export type Resources = NonNullable<Template['Resources']>;
export type Props = Record<string, unknown>;

export interface CostLine {
  /** What kind of cost, for the summary: "Fargate tasks", "RDS instances", "NAT gateways", ... */
  readonly category: string;
  readonly item: string;
  readonly quantity: string;
  readonly monthlyUsd: number;
}

/** One resource of a template, as a module prices it. */
export interface PricedResource {
  /** Its logical id. */
  readonly id: string;
  readonly type: string;
  readonly props: Props;
}

/** What a module prices with: the region's table, the stage's usage and the whole template (a resource's cost can depend on another, as a service's on its task definition). */
export interface PricingContext {
  readonly prices: PriceTable;
  readonly usage: Usage;
  readonly resources: Resources;
}

/**
 * A resource's price: its lines (none where it is free in that form, as a gateway endpoint) and
 * what it takes of CloudWatch's free tier, which the estimate gives once per account and region;
 * or why it has no price, said as "<type> (<why>)" and never counted as $0.
 */
export type Priced = { readonly lines: readonly CostLine[]; readonly cloudWatch?: { readonly alarmMetrics?: number; readonly logGb?: number } } | { readonly notPriced: string };

export interface PricingModule {
  /** The CloudFormation types it prices; each type has one module. */
  readonly resourceTypes: readonly string[];
  price(resource: PricedResource, context: PricingContext): Priced;
}

/** A count as the estimate prints it: 1,000,000. */
export const fmt = (n: number) => n.toLocaleString('en-US');
