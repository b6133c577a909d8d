import { Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type { IConstruct } from 'constructs';
import { servicePrincipalOfThisAccount } from './service-trust';

/**
 * Acknowledges cdk-nag's AwsSolutions-IAM4 on `role` for one AWS-managed policy
 * (`service-role/AWSBackupServiceRolePolicyForRestores`, as IAM names it), with the reason.
 */
export function acknowledgeAwsManagedPolicy(role: IConstruct, policyName: string, reason: string): void {
  Validations.of(role).acknowledge({ id: `AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/${policyName}]`, reason });
}

export interface AwsManagedRoleProps {
  /** The service that assumes the role ("ecs.amazonaws.com"). */
  readonly service: string;
  readonly description: string;
  /** The AWS-managed policy the role carries, as IAM names it. */
  readonly policyName: string;
  /** Why AWS's policy is the right one here (cdk-nag flags every AWS-managed policy). */
  readonly reason: string;
  /**
   * The service documents `aws:SourceAccount` in its request to assume the role: the trust admits
   * it for this account's resources only (service-trust.ts).
   * @default false - the trust names the service alone
   */
  readonly thisAccountOnly?: boolean;
}

/**
 * A role a service assumes that carries one policy AWS maintains for that service's job (it
 * follows the service as it needs new actions), acknowledged for that policy alone.
 */
export function awsManagedRole(scope: IConstruct, id: string, props: AwsManagedRoleProps): iam.Role {
  const role = new iam.Role(scope, id, {
    assumedBy: props.thisAccountOnly ? servicePrincipalOfThisAccount(scope, props.service) : new iam.ServicePrincipal(props.service),
    description: props.description,
    managedPolicies: [iam.ManagedPolicy.fromAwsManagedPolicyName(props.policyName)],
  });
  acknowledgeAwsManagedPolicy(role, props.policyName, props.reason);
  return role;
}
