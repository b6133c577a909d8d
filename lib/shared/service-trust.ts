import { Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type { IConstruct } from 'constructs';

/**
 * The confused-deputy condition for a service acting for this account: `aws:SourceAccount`, which
 * the service puts in its request when it assumes a role or uses a resource on behalf of one of
 * the account's resources. Only for services that document the key in that request: a condition
 * a service does not send stops it at run time (docs/security.md, "Known gaps, not closed", names
 * those that do not).
 */
export function ofThisAccount(scope: IConstruct): { StringEquals: { 'aws:SourceAccount': string } } {
  return { StringEquals: { 'aws:SourceAccount': Stack.of(scope).account } };
}

/** A service principal that acts for this account's resources only (see ofThisAccount). */
export function servicePrincipalOfThisAccount(scope: IConstruct, service: string): iam.ServicePrincipal {
  return new iam.ServicePrincipal(service, { conditions: ofThisAccount(scope) });
}

/**
 * Holds the trust of a role that a CDK construct creates for a service (which offers no way to
 * pass one's own) to this account (see ofThisAccount). The role's trust must be the one statement
 * CDK writes for one service; anything else is refused, since the condition would then land on
 * the wrong statement.
 */
export function trustThisAccountOnly(role: iam.Role): void {
  const cfn = role.node.defaultChild as iam.CfnRole;
  const statements = Stack.of(role).resolve(cfn.assumeRolePolicyDocument)?.Statement ?? [];
  const [only] = statements;
  if (statements.length !== 1 || typeof only.Principal?.Service !== 'string' || only.Condition !== undefined) {
    throw new Error(`${role.node.path}: expected a trust of one service without conditions, found ${JSON.stringify(statements)}`);
  }
  cfn.addPropertyOverride('AssumeRolePolicyDocument.Statement.0.Condition', ofThisAccount(role));
}
