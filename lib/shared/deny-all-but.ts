import * as iam from 'aws-cdk-lib/aws-iam';

/**
 * A resource-policy statement denying `actions` to every principal but the roles named (by ARN):
 * for the protections (vault, key and bucket policies) that an administrator of the account must
 * not be able to lift. `aws:PrincipalArn` is the role's ARN for its sessions; a request without a
 * principal ARN (an AWS service acting as itself) is denied too.
 * `resources`: "*" (the key or vault the policy belongs to) unless named, as a bucket policy must.
 */
export function denyAllBut(sid: string, actions: readonly string[], exempt: readonly string[], resources: readonly string[] = ['*']): iam.PolicyStatement {
  return new iam.PolicyStatement({
    sid,
    effect: iam.Effect.DENY,
    principals: [new iam.AnyPrincipal()],
    actions: [...actions],
    resources: [...resources],
    conditions: { ArnNotEquals: { 'aws:PrincipalArn': exempt.length === 1 ? exempt[0] : [...exempt] } },
  });
}
