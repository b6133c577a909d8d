import type { StageConfig } from './schema';

/**
 * The region of every edge stack: CloudFront takes certificates, CLOUDFRONT-scope web ACLs and
 * the delivery sources of its logs only from there, and publishes its metrics there.
 */
export const EDGE_REGION = 'us-east-1';

/** The stage's own regions: its primary region and, where it has a DR stack, the DR region. */
export function stageRegions(config: StageConfig): string[] {
  return [config.region, ...(config.backup.drCopies || config.uploads.replicateToDr ? [config.drRegion] : [])];
}

/**
 * Every region a stage's stacks deploy to, each needing the CDK bootstrap and the CI roles'
 * reach: its own, and us-east-1 where it has an edge stack (edge.enabled).
 */
export function deployRegions(config: StageConfig): string[] {
  return [...new Set([...stageRegions(config), ...(config.edge.enabled ? [EDGE_REGION] : [])])];
}
