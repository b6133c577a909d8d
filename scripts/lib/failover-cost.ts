/**
 * What a stage's DR tiers cost per day while they run (after a failover, or during a drill), from
 * the templates a deploy with `dr.appTier` synthesizes, at the DR region's pinned prices: the DR
 * app tier's stack (its NAT gateways among it) and the restored database
 * (the data stack's instance, restored by API: priced from its template). On top of the pilot
 * light's idle cost, which `npm run cost` shows.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { StageConfig } from '../../lib/config';
import { pilotLightNames } from '../../lib/dr/pilot-light-names';
import { type AssemblyStack, readAssembly, type Template } from './assembly';
import { estimateStack, usageFor } from './cost';
import type { CostLine } from './pricing/module';
import { loadPrices } from './pricing/table';

/** Hours in the month the price tables' monthly figures assume (730), per day. */
const DAYS_PER_MONTH = 730 / 24;

/** The DR tiers' cost lines per category and per day; `stacks` is the stage synthesized with `dr.appTier` on. */
export function drTierDailyCost(stacks: readonly AssemblyStack[], config: StageConfig, pricesDir?: string): string[] {
  const prices = loadPrices(config.drRegion, pricesDir);
  if (!prices) return [`What the DR tiers cost per day: not known (no price table for ${config.drRegion} in scripts/pricing/)`];
  const names = pilotLightNames(config.name);
  const template = (name: string) => stacks.find((s) => s.stackName === name)?.template;
  const drApp = template(names.drAppStackName);
  const data = template(`${config.name}-Data`);
  if (!drApp || !data) return [`What the DR tiers cost per day: not known (the synthesized stage lacks ${names.drAppStackName} or ${config.name}-Data)`];
  const usage = usageFor(config.name);
  const database: Template = { Resources: Object.fromEntries(Object.entries(data.Resources ?? {}).filter(([, r]) => r.Type === 'AWS::RDS::DBInstance')) };
  const lines: CostLine[] = [...estimateStack(database, prices, usage).lines, ...estimateStack(drApp, prices, usage).lines];
  const byCategory = new Map<string, number>();
  for (const line of lines) byCategory.set(line.category, (byCategory.get(line.category) ?? 0) + line.monthlyUsd / DAYS_PER_MONTH);
  const total = [...byCategory.values()].reduce((a, b) => a + b, 0);
  const parts = [...byCategory].sort((a, b) => b[1] - a[1]).map(([category, usd]) => `${category} $${usd.toFixed(2)}`);
  return [
    `What the DR tiers cost while they run: about $${total.toFixed(2)} per day at ${config.drRegion} prices of ${prices.date} (${parts.join(', ')}), on top of the pilot light's idle cost (npm run cost)`,
  ];
}

/** Synthesizes the stage with its DR tiers on (`npx cdk synth`, offline) and prices them. */
export async function synthesizedDailyCost(config: StageConfig): Promise<string[]> {
  const out = mkdtempSync(join(tmpdir(), 'failover-cost-'));
  try {
    const context = { stages: config.name, [`${config.name}.account`]: config.account, [`${config.name}.dr.appTier`]: 'true' };
    const args = ['cdk', 'synth', '--quiet', `${config.name}/*`, '-o', out, ...Object.entries(context).flatMap(([k, v]) => ['-c', `${k}=${v}`])];
    const run = spawnSync('npx', args, { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
    if (run.status !== 0) return [`What the DR tiers cost per day: not known (cdk synth failed: ${run.stderr.trim().split('\n').pop()})`];
    return drTierDailyCost(readAssembly(out), config);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}
