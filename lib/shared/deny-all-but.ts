import * as iam from 'aws-cdk-lib/aws-iam';

/**
 * A resource-policy statement denying `actions` to every principal but the roles named (by ARN):
 * for the protections (vault policies, key policies) that an administrator of the account must
 * not be able to lift. `aws:PrincipalArn` is the role's ARN for its sessions.
 */
export function denyAllBut(sid: string, actions: readonly string[], exempt: readonly string[]): iam.PolicyStatement {
  return new iam.PolicyStatement({
    sid,
    effect: iam.Effect.DENY,
    principals: [new iam.AnyPrincipal()],
    actions: [...actions],
    resources: ['*'],
    conditions: { ArnNotEquals: { 'aws:PrincipalArn': exempt.length === 1 ? exempt[0] : [...exempt] } },
  });
}
