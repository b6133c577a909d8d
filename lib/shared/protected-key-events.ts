import type * as events from 'aws-cdk-lib/aws-events';
import { KEY_DESTRUCTION, KEY_POLICY_CHANGE } from './service-key';

/** The CloudTrail event names of what a protected key's policy denies to all but named roles. */
export const PROTECTED_KEY_EVENTS: readonly string[] = [...KEY_DESTRUCTION, ...KEY_POLICY_CHANGE].map((action) => action.replace(/^kms:/, ''));

/** Protected keys of one region, and the role CloudFormation deploys them with there. */
export interface RegionKeys {
  readonly keyIds: readonly string[];
  /** ARN of the deploy role (the CDK bootstrap's cfn-exec role of the region). */
  readonly deployRole: string;
}

/**
 * `requestParameters.keyId` of these keys. It holds what the caller passed, the key id or the
 * key ARN (neither call takes an alias): both end in the key id, compared without regard to case.
 */
const keyIdOf = (keyIds: readonly string[]) => ({ requestParameters: { keyId: keyIds.map((id) => ({ suffix: { 'equals-ignore-case': id } })) } });

const calls = { source: ['aws.kms'], detailType: ['AWS API Call via CloudTrail'] };
const callDetail = { eventSource: ['kms.amazonaws.com'], eventName: [...PROTECTED_KEY_EVENTS] };
const deployRoleIs = (arns: unknown[]) => ({ sessionContext: { sessionIssuer: { arn: arns } } });

/** One alternative as it stands, several as `$or`. */
const anyOf = (alternatives: Record<string, unknown>[]) => (alternatives.length === 1 ? alternatives[0] : { $or: alternatives });

/**
 * CloudTrail's record (as EventBridge delivers it, in the key's region) of a call on one of these
 * keys that would destroy it or change what protects it, allowed or refused: a refused one is an
 * attempt worth knowing about.
 */
export function protectedKeyEvents(keyIds: readonly string[]): events.EventPattern {
  return { ...calls, detail: { ...callDetail, ...keyIdOf(keyIds) } };
}

/** The same calls made by CloudFormation as the deploy role of the key's region: a deploy that changed the policy. */
export function protectedKeyEventsOfDeploys(regions: readonly RegionKeys[]): events.EventPattern {
  return { ...calls, detail: { ...callDetail, ...anyOf(regions.map((r) => ({ ...keyIdOf(r.keyIds), userIdentity: deployRoleIs([r.deployRole]) }))) } };
}

/**
 * The same calls made by anyone else: every caller that is not a role session (root, users,
 * services), and every role session but the deploy role of the key's region. With
 * protectedKeyEventsOfDeploys it covers every call exactly once.
 */
export function protectedKeyEventsOfOthers(regions: readonly RegionKeys[]): events.EventPattern {
  return {
    ...calls,
    detail: {
      ...callDetail,
      $or: regions.flatMap((r) => [
        { ...keyIdOf(r.keyIds), userIdentity: { type: [{ 'anything-but': 'AssumedRole' }] } },
        { ...keyIdOf(r.keyIds), userIdentity: deployRoleIs([{ 'anything-but': r.deployRole }]) },
      ]),
    },
  };
}
