import * as guardduty from 'aws-cdk-lib/aws-guardduty';
import { Construct } from 'constructs';
import { acknowledgeControl } from '../shared/control-tower-checks';

export interface ThreatDetectionProps {
  /** Runtime Monitoring of Fargate tasks, with GuardDuty managing its agent (a sidecar it adds to new tasks). */
  readonly runtimeMonitoring: boolean;
}

/**
 * The GuardDuty detector of one region, with the protections that match this stack: S3 data
 * events (the uploads and log buckets), RDS login activity (PostgreSQL), Lambda network activity,
 * malware scans of EBS volumes (the on-demand database shell host; scans run only on a finding),
 * and Runtime Monitoring of the ECS Fargate tasks. EKS is not used, so its protections stay off.
 *
 * Runtime Monitoring on Fargate: GuardDuty creates a `guardduty-data` VPC endpoint and a security
 * group (both tagged `GuardDutyManaged: true`) in every VPC that runs a cluster, outside
 * CloudFormation. They stay when the stage's network stack is deleted and block the VPC's
 * deletion: docs/runbooks.md, "Tear down a stage", removes them first.
 */
export class ThreatDetection extends Construct {
  readonly detector: guardduty.CfnDetector;

  constructor(scope: Construct, id: string, props: ThreatDetectionProps) {
    super(scope, id);
    const on = (enabled: boolean) => (enabled ? 'ENABLED' : 'DISABLED');
    this.detector = new guardduty.CfnDetector(this, 'Detector', {
      enable: true,
      findingPublishingFrequency: 'FIFTEEN_MINUTES',
      features: [
        { name: 'S3_DATA_EVENTS', status: 'ENABLED' },
        { name: 'RDS_LOGIN_EVENTS', status: 'ENABLED' },
        { name: 'LAMBDA_NETWORK_LOGS', status: 'ENABLED' },
        { name: 'EBS_MALWARE_PROTECTION', status: 'ENABLED' },
        { name: 'EKS_AUDIT_LOGS', status: 'DISABLED' },
        {
          name: 'RUNTIME_MONITORING',
          status: on(props.runtimeMonitoring),
          additionalConfiguration: [
            { name: 'ECS_FARGATE_AGENT_MANAGEMENT', status: on(props.runtimeMonitoring) },
            { name: 'EKS_ADDON_MANAGEMENT', status: 'DISABLED' },
            { name: 'EC2_AGENT_MANAGEMENT', status: 'DISABLED' },
          ],
        },
      ],
    });
    acknowledgeControl(
      this.detector,
      'guardduty_s3_protection_enabled_check',
      'S3 protection is on as the S3_DATA_EVENTS feature; the rule reads the older DataSources property, which CloudFormation refuses next to Features.',
    );
  }
}
