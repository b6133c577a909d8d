import PINNED from './origin-facing-prefix-lists.json';

/**
 * CloudFront's origin-facing managed prefix list, by region: the source the internal load
 * balancer admits behind a VPC origin. The CloudFront developer guide ("Restrict access with VPC
 * origins", private-content-vpc-origins.html) names two ways to let VPC origin traffic in: this
 * list, or the group CloudFront creates with the first VPC origin (CloudFront-VPCOrigins-Service-SG),
 * which does not exist before the edge stack's first deploy. Nothing else is documented: a rule on
 * the VPC's own blocks does not admit it.
 *
 * The list is AWS-managed and its id differs per region and never changes; synth runs without
 * credentials, so the ids are pinned here rather than looked up. Preflight compares the stage
 * region's id with DescribeManagedPrefixLists (scripts/lib/preflight-edge.ts). To add a region:
 * aws ec2 describe-managed-prefix-lists --region REGION --filters Name=prefix-list-name,Values=com.amazonaws.global.cloudfront.origin-facing --query "PrefixLists[0].PrefixListId" --output text
 */
export const ORIGIN_FACING: { readonly prefixListName: string; readonly prefixLists: Readonly<Record<string, string>> } = PINNED;

/** Where the pinned ids live, for messages. */
export const ORIGIN_FACING_FILE = 'lib/app/origin-facing-prefix-lists.json';

/** The command that reads a region's id, for messages. */
export const originFacingLookup = (region: string) =>
  `aws ec2 describe-managed-prefix-lists --region ${region} --filters Name=prefix-list-name,Values=${ORIGIN_FACING.prefixListName} --query "PrefixLists[0].PrefixListId" --output text`;

/** The id pinned for `region`, or what is missing and how to pin it. */
export function originFacingPrefixList(region: string): { prefixListId: string } | { problem: string } {
  const prefixListId = ORIGIN_FACING.prefixLists[region];
  if (prefixListId) return { prefixListId };
  return {
    problem: `no id of CloudFront's origin-facing prefix list (${ORIGIN_FACING.prefixListName}) is pinned for ${region} in ${ORIGIN_FACING_FILE}, and the internal load balancer behind CloudFront admits its VPC origin from that list. Fix: add "${region}" with the id ${originFacingLookup(region)} prints (credentials of any account), or use a region listed there`,
  };
}
