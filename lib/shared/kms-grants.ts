import type { IAspect } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import type { IConstruct } from 'constructs';

/** The statement's id in every key policy. */
export const GRANTS_FOR_AWS_RESOURCES_ONLY = 'GrantsOnlyForAwsResources';

/**
 * Adds to every KMS key of the app a key-policy statement that denies creating grants except on
 * behalf of an AWS service (RDS, Secrets Manager, AWS Backup, ElastiCache create theirs with
 * `kms:GrantIsForAWSResource`) or by one (`aws:PrincipalIsAWSService`): a principal with key
 * access cannot hand it on with a grant of its own. AWS Control Tower's CT.KMS.PR.3 asks for
 * exactly this statement.
 */
export class GrantsForAwsResourcesOnly implements IAspect {
  visit(node: IConstruct): void {
    if (!(node instanceof kms.Key)) return;
    node.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: GRANTS_FOR_AWS_RESOURCES_ONLY,
        effect: iam.Effect.DENY,
        principals: [new iam.AnyPrincipal()],
        actions: ['kms:CreateGrant'],
        resources: ['*'],
        conditions: { BoolIfExists: { 'kms:GrantIsForAWSResource': 'false', 'aws:PrincipalIsAWSService': 'false' } },
      }),
    );
  }
}
