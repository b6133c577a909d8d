import { PROJECT } from '../shared/naming';

/**
 * Where the trail's metric filters publish (one count per matching event, no dimensions: the
 * metrics are the account's) and the stage alarms read.
 */
export const ACCOUNT_ACTIVITY_NAMESPACE = `${PROJECT}/CloudTrail`;

/** One CIS AWS Foundations check on the trail's CloudWatch Logs copy: a metric filter here, an alarm in each stage of the account. */
export interface AccountActivity {
  /** Metric name in ACCOUNT_ACTIVITY_NAMESPACE, and the metric filter's id. */
  readonly metric: string;
  /** Alarm name after the stage prefix, and its docs/alarms.md heading. */
  readonly alarm: string;
  readonly description: string;
  readonly severity: 'page' | 'ticket';
  /** The CloudWatch Logs filter pattern (CIS 4.x / Security Hub CloudWatch.x), before `excludeDeploys`. */
  readonly pattern: string;
  /**
   * Changes CloudFormation makes while deploying a stack (as the CDK deploy role of the account)
   * are expected: they are left out, so the alarm means a change made by hand or by something
   * else. The deploys themselves are in the trail.
   */
  readonly excludeDeploys: boolean;
}

const any = (field: string, names: readonly string[]) => names.map((n) => `($.${field} = "${n}")`).join(' || ');

export const ACCOUNT_ACTIVITIES: readonly AccountActivity[] = [
  {
    metric: 'RootAccountUsage',
    alarm: 'account-root-usage',
    description: 'Someone used the root user of the account (CIS 1.7).',
    severity: 'page',
    pattern: '$.userIdentity.type = "Root" && $.userIdentity.invokedBy NOT EXISTS && $.eventType != "AwsServiceEvent"',
    excludeDeploys: false,
  },
  {
    metric: 'ConsoleSignInWithoutMfa',
    alarm: 'account-console-sign-in-without-mfa',
    description: 'An IAM user signed in to the console without MFA (CIS 4.2).',
    severity: 'ticket',
    pattern: '($.eventName = "ConsoleLogin") && ($.additionalEventData.MFAUsed != "Yes") && ($.userIdentity.type = "IAMUser") && ($.responseElements.ConsoleLogin = "Success")',
    excludeDeploys: false,
  },
  {
    metric: 'IamPolicyChanges',
    alarm: 'account-iam-policy-changes',
    description: 'An IAM policy was created, changed, attached or detached outside a CloudFormation deploy (CIS 4.4).',
    severity: 'ticket',
    pattern: `(${any('eventName', [
      'DeleteGroupPolicy',
      'DeleteRolePolicy',
      'DeleteUserPolicy',
      'PutGroupPolicy',
      'PutRolePolicy',
      'PutUserPolicy',
      'CreatePolicy',
      'DeletePolicy',
      'CreatePolicyVersion',
      'DeletePolicyVersion',
      'AttachRolePolicy',
      'DetachRolePolicy',
      'AttachUserPolicy',
      'DetachUserPolicy',
      'AttachGroupPolicy',
      'DetachGroupPolicy',
    ])})`,
    excludeDeploys: true,
  },
  {
    metric: 'CloudTrailChanges',
    alarm: 'account-cloudtrail-changes',
    description: 'A CloudTrail trail was created, changed, deleted, started or stopped (CIS 4.5).',
    severity: 'page',
    pattern: `(${any('eventName', ['CreateTrail', 'UpdateTrail', 'DeleteTrail', 'StartLogging', 'StopLogging'])})`,
    excludeDeploys: false,
  },
  {
    metric: 'KmsKeyDisabledOrScheduledForDeletion',
    alarm: 'account-kms-key-disabled-or-deleted',
    description: 'A KMS key was disabled or scheduled for deletion: data or backups it encrypts become unreadable (CIS 4.7).',
    severity: 'page',
    pattern: `($.eventSource = "kms.amazonaws.com") && (${any('eventName', ['DisableKey', 'ScheduleKeyDeletion'])})`,
    excludeDeploys: false,
  },
  {
    metric: 'SecurityGroupChanges',
    alarm: 'account-security-group-changes',
    description: 'A security group or its rules changed outside a CloudFormation deploy (CIS 4.10).',
    severity: 'ticket',
    pattern: `(${any('eventName', [
      'AuthorizeSecurityGroupIngress',
      'AuthorizeSecurityGroupEgress',
      'RevokeSecurityGroupIngress',
      'RevokeSecurityGroupEgress',
      'CreateSecurityGroup',
      'DeleteSecurityGroup',
    ])})`,
    excludeDeploys: true,
  },
  {
    metric: 'NetworkAclChanges',
    alarm: 'account-network-acl-changes',
    description: 'A network ACL or its entries changed outside a CloudFormation deploy (CIS 4.11).',
    severity: 'ticket',
    pattern: `(${any('eventName', ['CreateNetworkAcl', 'CreateNetworkAclEntry', 'DeleteNetworkAcl', 'DeleteNetworkAclEntry', 'ReplaceNetworkAclEntry', 'ReplaceNetworkAclAssociation'])})`,
    excludeDeploys: true,
  },
];

/** CloudWatch Logs rejects longer filter patterns. */
export const MAX_FILTER_PATTERN_LENGTH = 1024;

/**
 * The filter pattern of one check. `deployRole` matches the roles CloudFormation deploys with in
 * the account: the CDK bootstrap's cfn-exec role of every region ("cdk-hnb659fds-cfn-exec-role-
 * <account>-*"; filter patterns take `*` as a wildcard in string values).
 */
export function activityPattern(activity: AccountActivity, deployRole: string): string {
  if (!activity.excludeDeploys) return `{ ${activity.pattern} }`;
  // Only assumed-role sessions have a session issuer; a comparison on a field an event lacks does
  // not match, so users and root are kept by the first alternative.
  return `{ ${activity.pattern} && (($.userIdentity.type != "AssumedRole") || ($.userIdentity.sessionContext.sessionIssuer.userName != "${deployRole}")) }`;
}
