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
  /** The CloudWatch Logs filter pattern (CIS 4.x / Security Hub CloudWatch.x), before `deploys` narrows it. */
  readonly pattern: string;
  /**
   * Which changes count. "excluded": those CloudFormation makes while deploying a stack (as the
   * CDK deploy role of the account) are left out, so the alarm means a change made by hand or by
   * something else; its twin in DEPLOY_ACTIVITIES counts them ("only") on an alarm of its own.
   * "all": every matching event.
   */
  readonly deploys: 'all' | 'excluded' | 'only';
}

const any = (field: string, names: readonly string[]) => names.map((n) => `($.${field} = "${n}")`).join(' || ');

export const ACCOUNT_ACTIVITIES: readonly AccountActivity[] = [
  {
    metric: 'RootAccountUsage',
    alarm: 'account-root-usage',
    description: 'Someone used the root user of the account (CIS 1.7).',
    severity: 'page',
    pattern: '$.userIdentity.type = "Root" && $.userIdentity.invokedBy NOT EXISTS && $.eventType != "AwsServiceEvent"',
    deploys: 'all',
  },
  {
    metric: 'ConsoleSignInWithoutMfa',
    alarm: 'account-console-sign-in-without-mfa',
    description: 'An IAM user signed in to the console without MFA (CIS 4.2).',
    severity: 'ticket',
    pattern: '($.eventName = "ConsoleLogin") && ($.additionalEventData.MFAUsed != "Yes") && ($.userIdentity.type = "IAMUser") && ($.responseElements.ConsoleLogin = "Success")',
    deploys: 'all',
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
    deploys: 'excluded',
  },
  {
    metric: 'CloudTrailChanges',
    alarm: 'account-cloudtrail-changes',
    description: 'A CloudTrail trail was created, changed, deleted, started or stopped (CIS 4.5).',
    severity: 'page',
    pattern: `(${any('eventName', ['CreateTrail', 'UpdateTrail', 'DeleteTrail', 'StartLogging', 'StopLogging'])})`,
    deploys: 'all',
  },
  {
    metric: 'KmsKeyDisabledOrScheduledForDeletion',
    alarm: 'account-kms-key-disabled-or-deleted',
    description: 'A KMS key was disabled or scheduled for deletion: data or backups it encrypts become unreadable (CIS 4.7).',
    severity: 'page',
    pattern: `($.eventSource = "kms.amazonaws.com") && (${any('eventName', ['DisableKey', 'ScheduleKeyDeletion'])})`,
    deploys: 'all',
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
    deploys: 'excluded',
  },
  {
    metric: 'NetworkAclChanges',
    alarm: 'account-network-acl-changes',
    description: 'A network ACL or its entries changed outside a CloudFormation deploy (CIS 4.11).',
    severity: 'ticket',
    pattern: `(${any('eventName', ['CreateNetworkAcl', 'CreateNetworkAclEntry', 'DeleteNetworkAcl', 'DeleteNetworkAclEntry', 'ReplaceNetworkAclEntry', 'ReplaceNetworkAclAssociation'])})`,
    deploys: 'excluded',
  },
];

/**
 * What the deploy role changes, counted apart from the checks that leave it out: the deploy role
 * can do anything CloudFormation can, so a grant, an open port or a network ACL it writes outside
 * a reviewed deploy (someone passing the role to CloudFormation by hand) would otherwise go
 * unseen. A ticket each, to match to a deploy of the stacks.
 */
export const DEPLOY_ACTIVITIES: readonly AccountActivity[] = (
  [
    ['IamPolicyChanges', 'An IAM policy was created, changed, attached or detached'],
    ['SecurityGroupChanges', 'A security group or its rules changed'],
    ['NetworkAclChanges', 'A network ACL or its entries changed'],
  ] as const
).map(([metric, what]) => {
  const check = ACCOUNT_ACTIVITIES.find((a) => a.metric === metric && a.deploys === 'excluded');
  if (!check) throw new Error(`${metric} is not a check that leaves the deploys out`);
  return {
    metric: `${metric}ByDeploys`,
    alarm: `${check.alarm}-by-deploys`,
    description: `${what} by CloudFormation's deploy role: match it to a reviewed deploy.`,
    severity: 'ticket',
    pattern: check.pattern,
    deploys: 'only',
  };
});

/** Every count on the trail's CloudWatch Logs copy: one metric filter in the baseline, one alarm in each stage of the account. */
export const TRAIL_ACTIVITIES: readonly AccountActivity[] = [...ACCOUNT_ACTIVITIES, ...DEPLOY_ACTIVITIES];

/** CloudWatch Logs rejects longer filter patterns. */
export const MAX_FILTER_PATTERN_LENGTH = 1024;

/** The issuer of an assumed-role session: the role's name (its account is the trail's). */
const ISSUER = '$.userIdentity.sessionContext.sessionIssuer.userName';

/**
 * The filter pattern of one check. `deployRoles` are the exact names of the roles CloudFormation
 * deploys with in the account: the CDK bootstrap's cfn-exec role of each region the account's
 * stacks deploy to. Exact, not a prefix: a role anyone with iam:CreateRole names
 * "cdk-hnb659fds-cfn-exec-role-<account>-x" must stay in the paging count.
 */
export function activityPattern(activity: AccountActivity, deployRoles: readonly string[]): string {
  if (activity.deploys !== 'all' && deployRoles.length === 0) throw new Error(`${activity.metric}: no deploy role to tell apart`);
  switch (activity.deploys) {
    case 'all':
      return `{ ${activity.pattern} }`;
    case 'excluded':
      // Only assumed-role sessions have a session issuer; a comparison on a field an event lacks
      // does not match, so users and root are kept by the first alternative.
      return `{ ${activity.pattern} && (($.userIdentity.type != "AssumedRole") || (${deployRoles.map((r) => `(${ISSUER} != "${r}")`).join(' && ')})) }`;
    case 'only':
      // The complement of "excluded": together the two count every matching event once.
      return `{ ${activity.pattern} && ($.userIdentity.type = "AssumedRole") && (${deployRoles.map((r) => `(${ISSUER} = "${r}")`).join(' || ')}) }`;
  }
}
