import * as iam from 'aws-cdk-lib/aws-iam';

/**
 * A resource-policy statement denying `actions` to every principal but the roles named (by ARN):
 * for the protections (vault, key and bucket policies) that an administrator of the account must
 * not be able to lift. `aws:PrincipalArn` is the role's ARN for its sessions; a request without a
 * principal ARN (an AWS service acting as itself) is denied too, unless its service is among
 * `services`: those are excepted by `aws:PrincipalServiceName`, which only a service principal's
 * request carries. A negated operator holds where its key is missing (IAM, "Condition operators"),
 * so a role's request, which has no service name, stays denied, and a service's, which has no
 * principal ARN, is excepted by its name alone.
 * `resources`: "*" (the key or vault the policy belongs to) unless named, as a bucket policy must.
 */
export function denyAllBut(
  sid: string,
  actions: readonly string[],
  exempt: readonly string[],
  resources: readonly string[] = ['*'],
  services: readonly string[] = [],
): iam.PolicyStatement {
  const one = (values: readonly string[]) => (values.length === 1 ? values[0] : [...values]);
  return new iam.PolicyStatement({
    sid,
    effect: iam.Effect.DENY,
    principals: [new iam.AnyPrincipal()],
    actions: [...actions],
    resources: [...resources],
    conditions: {
      ArnNotEquals: { 'aws:PrincipalArn': one(exempt) },
      ...(services.length > 0 ? { StringNotEquals: { 'aws:PrincipalServiceName': one(services) } } : {}),
    },
  });
}
