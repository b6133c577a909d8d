import { Stack } from 'aws-cdk-lib';
import * as securityhub from 'aws-cdk-lib/aws-securityhub';
import { Construct } from 'constructs';

/**
 * Security Hub in one region with AWS Foundational Security Best Practices v1.0.0 only (the
 * default standards would add CIS on top: the trail's alarms cover CIS's monitoring section),
 * consolidated control findings (one finding per control, not one per standard), and new
 * controls of the standard enabled as AWS adds them.
 */
export class SecurityFindings extends Construct {
  readonly hub: securityhub.CfnHub;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    const { partition, region } = Stack.of(this);
    this.hub = new securityhub.CfnHub(this, 'Hub', { enableDefaultStandards: false, controlFindingGenerator: 'SECURITY_CONTROL', autoEnableControls: true });
    const standard = new securityhub.CfnStandard(this, 'FoundationalBestPractices', {
      standardsArn: `arn:${partition}:securityhub:${region}::standards/aws-foundational-security-best-practices/v/1.0.0`,
    });
    standard.addResourceDependency(this.hub);
  }
}
