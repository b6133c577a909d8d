import { Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type { IConstruct } from 'constructs';
import { cdkBootstrapRoleArn } from '../ci/ci-access-stack';

/**
 * The roles the protections except, in the account and region of `scope`'s stack: a break-glass
 * role by its name (at path /, which the ARN assumes), and CloudFormation's deploy role there
 * (the CDK bootstrap's cfn-exec role), which must keep the right to write what it deploys.
 */
export function protectionRoles(scope: IConstruct): { breakGlass: (name: string) => string; deployer: string } {
  const { account, region, partition } = Stack.of(scope);
  return { breakGlass: (name) => `arn:${partition}:iam::${account}:role/${name}`, deployer: cdkBootstrapRoleArn('cfn-exec', account, region, partition) };
}

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
