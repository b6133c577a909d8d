import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import { denyAllBut, protectionRoles } from './deny-all-but';

export interface ServiceKeyProps {
  /** What the key protects, for the console and audits. */
  readonly description: string;
  /**
   * AWS services (endpoint prefixes such as "rds", "secretsmanager") through which principals of
   * this account may use the key. Direct use of the key, outside those services, is not allowed.
   */
  readonly services: readonly string[];
  /**
   * What happens to the key when it leaves the stack.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * For keys backups depend on: only this role (name) may schedule the key's deletion or disable
   * it; only this role and CloudFormation's deploy role of the key's account and region may change
   * its policy or turn its rotation off; a scheduled deletion waits the longest KMS allows (30 days).
   * @default - the account administers the key without restriction
   */
  readonly breakGlassRoleName?: string;
}

/** What makes a backup key's data unreadable: denied to all but the break-glass role. */
export const KEY_DESTRUCTION = ['kms:ScheduleKeyDeletion', 'kms:DisableKey'] as const;

/**
 * What would lift that protection, or weaken the key, without destroying it: rewriting the key
 * policy (then anyone the new policy admits may disable the key) and turning rotation off. Denied
 * to all but the break-glass role and CloudFormation's deploy role (the CDK bootstrap's cfn-exec
 * role of the key's account and region), which writes the policy on every deploy that changes it
 * and must keep the right: KMS refuses a policy that would lock out the principal setting it.
 * The keys are single-Region, so the multi-Region actions (ReplicateKey, UpdatePrimaryRegion)
 * cannot apply to them; grants are limited by kms-grants.ts.
 */
export const KEY_POLICY_CHANGE = ['kms:PutKeyPolicy', 'kms:DisableKeyRotation'] as const;

/** The statement ids of the two protections, in every protected key's policy. */
const KEY_PROTECTION_SIDS = { destruction: 'OnlyBreakGlassDestroysTheKey', policyChange: 'OnlyDeploysAndBreakGlassChangeThePolicy' } as const;

/**
 * Defines a customer-managed KMS key, rotated yearly, whose key policy lets the account administer
 * it but use it only through the named services (the shape of AWS-managed keys such as aws/rds).
 * A principal still needs an IAM grant too; CDK's `grant*` methods add it.
 */
export class ServiceKey extends Construct {
  readonly key: kms.Key;

  constructor(scope: Construct, id: string, props: ServiceKeyProps) {
    super(scope, id);
    const { account, region } = Stack.of(this);
    const root = new iam.AccountRootPrincipal();
    const { breakGlass, deployer } = protectionRoles(this);
    const protection = props.breakGlassRoleName
      ? [
          denyAllBut(KEY_PROTECTION_SIDS.destruction, KEY_DESTRUCTION, [breakGlass(props.breakGlassRoleName)]),
          denyAllBut(KEY_PROTECTION_SIDS.policyChange, KEY_POLICY_CHANGE, [breakGlass(props.breakGlassRoleName), deployer]),
        ]
      : [];
    this.key = new kms.Key(this, 'Key', {
      description: props.description,
      enableKeyRotation: true,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
      ...(props.breakGlassRoleName ? { pendingWindow: Duration.days(30) } : {}),
      policy: new iam.PolicyDocument({
        statements: [
          new iam.PolicyStatement({
            sid: 'AccountAdministersTheKey',
            principals: [root],
            actions: [
              'kms:Create*',
              'kms:Describe*',
              'kms:Enable*',
              'kms:List*',
              'kms:Put*',
              'kms:Update*',
              'kms:Revoke*',
              'kms:Disable*',
              'kms:Get*',
              'kms:Delete*',
              'kms:TagResource',
              'kms:UntagResource',
              'kms:ScheduleKeyDeletion',
              'kms:CancelKeyDeletion',
              'kms:RotateKeyOnDemand',
            ],
            resources: ['*'],
          }),
          new iam.PolicyStatement({
            sid: 'AccountUsesTheKeyThroughItsServices',
            principals: [root],
            actions: ['kms:Encrypt', 'kms:Decrypt', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:CreateGrant', 'kms:DescribeKey'],
            resources: ['*'],
            conditions: {
              StringEquals: {
                'kms:CallerAccount': account,
                'kms:ViaService': props.services.map((service) => `${service}.${region}.amazonaws.com`),
              },
            },
          }),
          ...protection,
        ],
      }),
    });
  }
}
