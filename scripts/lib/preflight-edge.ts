/**
 * Preflight's checks of two AWS-managed things the stage leans on and cannot create: CloudFront's
 * origin-facing prefix list, which the internal load balancer admits its VPC origin from by a
 * pinned id (lib/app/origin-facing.ts), and the account's Session Manager preferences, which the
 * database shell's sessions follow (lib/data/database-shell.ts).
 */
import { DescribeManagedPrefixListsCommand } from '@aws-sdk/client-ec2';
import { GetDocumentCommand } from '@aws-sdk/client-ssm';
import { ORIGIN_FACING, ORIGIN_FACING_FILE, originFacingPrefixList } from '../../lib/app/origin-facing';
import type { StageConfig } from '../../lib/config';
import type { Check, PreflightClients } from './preflight';
import { runCheck } from './preflight-check';

export interface EdgeOptions {
  /**
   * The ids to compare the region's prefix list with (a test stand-in names its own).
   * @default the ids pinned in lib/app/origin-facing-prefix-lists.json
   */
  readonly originFacingPrefixLists?: Readonly<Record<string, string>>;
}

/** The account's Session Manager preferences (one document per account and region). */
export const SESSION_PREFERENCES = 'SSM-SessionManagerRunShell';

/** The two checks, together (they ask different APIs), reported in order. */
export function edgeChecks(config: StageConfig, clients: Pick<PreflightClients, 'ec2' | 'ssm'>, options: EdgeOptions = {}): Promise<Check[]> {
  return Promise.all([
    ...(config.edge.enabled ? [runCheck('cloudfront prefix list', () => prefixListCheck(config, clients, options))] : []),
    runCheck('session manager preferences', () => sessionPreferencesCheck(config, clients)),
  ]);
}

/**
 * The pinned id of CloudFront's origin-facing prefix list is the region's: a wrong one fails the
 * App deploy (the ingress rule names a list that is not there) or, were it another list, admits
 * the wrong sources.
 */
async function prefixListCheck(config: StageConfig, clients: Pick<PreflightClients, 'ec2'>, options: EdgeOptions): Promise<Omit<Check, 'name'>> {
  const { region } = config;
  const pinned = options.originFacingPrefixLists ? { prefixListId: options.originFacingPrefixLists[region] } : originFacingPrefixList(region);
  if ('problem' in pinned || !pinned.prefixListId) {
    const problem = 'problem' in pinned ? pinned.problem : `no id is pinned for ${region}`;
    return { status: 'missing', detail: problem, fix: `pin the id in ${ORIGIN_FACING_FILE}` };
  }
  const out = await clients.ec2.send(new DescribeManagedPrefixListsCommand({ Filters: [{ Name: 'prefix-list-name', Values: [ORIGIN_FACING.prefixListName] }] }));
  const found = (out.PrefixLists ?? []).map((p) => p.PrefixListId).filter((id): id is string => id !== undefined);
  if (found.length === 0) {
    return {
      status: 'missing',
      detail: `${region} has no prefix list named ${ORIGIN_FACING.prefixListName}, which the load balancer behind CloudFront admits its VPC origin from`,
      fix: `deploy the stage to a region that has it (${ORIGIN_FACING_FILE} lists those known)`,
    };
  }
  if (!found.includes(pinned.prefixListId)) {
    return {
      status: 'missing',
      detail: `CloudFront's origin-facing prefix list in ${region} is ${found.join(', ')}, but ${ORIGIN_FACING_FILE} pins ${pinned.prefixListId}: the load balancer's rule would name the wrong list`,
      fix: `set "${region}": "${found[0]}" in ${ORIGIN_FACING_FILE}, then deploy ${config.name}/App`,
    };
  }
  return { status: 'ok', detail: `${ORIGIN_FACING.prefixListName} in ${region} is ${pinned.prefixListId}, as pinned` };
}

/**
 * Session Manager preferences that encrypt sessions with a KMS key make every session need
 * kms:Decrypt on that key from the instance's role ("Adding Session Manager permissions to an
 * existing IAM role", Systems Manager user guide), which the database shell's role does not hold:
 * its sessions would fail. The preferences are the account's (often the organisation's), not the
 * stacks', so this warns and says what to change.
 */
async function sessionPreferencesCheck(config: StageConfig, clients: Pick<PreflightClients, 'ssm'>): Promise<Omit<Check, 'name'>> {
  const { region } = config;
  let content: string | undefined;
  try {
    content = (await clients.ssm(region).send(new GetDocumentCommand({ Name: SESSION_PREFERENCES, DocumentFormat: 'JSON' }))).Content;
  } catch (error) {
    if ((error as { name?: string }).name !== 'InvalidDocument') throw error;
    return { status: 'ok', detail: `no Session Manager preferences in ${region} (${SESSION_PREFERENCES}): sessions are not encrypted with a KMS key of the account` };
  }
  const kmsKeyId = (JSON.parse(content ?? '{}') as { inputs?: { kmsKeyId?: string } }).inputs?.kmsKeyId;
  if (!kmsKeyId) return { status: 'ok', detail: `the Session Manager preferences in ${region} set no KMS key` };
  return {
    status: 'warn',
    detail: `the Session Manager preferences in ${region} (${SESSION_PREFERENCES}) encrypt sessions with the KMS key ${kmsKeyId}: the database shell's host needs kms:Decrypt on it, which its role does not hold, so npm run db-shell's sessions would fail`,
    fix: `allow kms:Decrypt on ${kmsKeyId} to the database shell's instance role (DatabaseShell/Role of ${config.name}-Data) in that key's policy, or clear the KMS key in the Session Manager preferences`,
  };
}
