import type { StageConfig } from './schema';

/**
 * The region of every edge stack: CloudFront takes certificates, CLOUDFRONT-scope web ACLs and
 * the delivery sources of its logs only from there, and publishes its metrics there.
 */
export const EDGE_REGION = 'us-east-1';

/** The stacks of a stage, as `cdk deploy <stage>/<stack>` and `--only` name them, in the order they deploy. */
export const STAGE_STACKS = ['Network', 'Dr', 'PilotLight', 'DrApp', 'Data', 'App', 'Edge', 'Ops'] as const;
export type StageStack = (typeof STAGE_STACKS)[number];

/** Whether the stage has a stack in its DR region (an uploads replica or backup copies to receive). */
export function hasDrStack(config: StageConfig): boolean {
  return config.uploads.replicateToDr || config.backup.drCopies;
}

/** The stage's own regions: its primary region and, where it has a DR stack or a pilot light, the DR region. */
export function stageRegions(config: StageConfig): string[] {
  return [config.region, ...(hasDrStack(config) || config.dr.pilotLight ? [config.drRegion] : [])];
}

/**
 * Every region a stage's stacks deploy to, each needing the CDK bootstrap and the CI roles'
 * reach: its own, and us-east-1 where it has an edge stack (edge.enabled).
 */
export function deployRegions(config: StageConfig): string[] {
  return [...new Set([...stageRegions(config), ...(config.edge.enabled ? [EDGE_REGION] : [])])];
}

/** The stacks the stage has, each with the region it deploys to, in deploy order. */
export function stageStacks(config: StageConfig): { readonly stack: StageStack; readonly region: string }[] {
  const region: Record<StageStack, string | undefined> = {
    Network: config.region,
    Dr: hasDrStack(config) ? config.drRegion : undefined,
    PilotLight: config.dr.pilotLight ? config.drRegion : undefined,
    DrApp: config.dr.appTier ? config.drRegion : undefined,
    Data: config.region,
    App: config.region,
    Edge: config.edge.enabled ? EDGE_REGION : undefined,
    Ops: config.region,
  };
  return STAGE_STACKS.flatMap((stack) => (region[stack] ? [{ stack, region: region[stack] }] : []));
}
