import type * as events from 'aws-cdk-lib/aws-events';

/**
 * The findings worth a person's attention, as EventBridge patterns (the stage's ops stack sends
 * them to its alarm routes; baseline stacks in other regions forward them to the stage's region).
 * GuardDuty: medium (4.0) and above. Security Hub: new, active findings rated high or critical,
 * except GuardDuty's own (imported into Security Hub too, they would arrive twice).
 */
export const GUARDDUTY_FINDINGS: events.EventPattern = {
  source: ['aws.guardduty'],
  detailType: ['GuardDuty Finding'],
  detail: { severity: [{ numeric: ['>=', 4] }] },
};

export const SECURITY_HUB_FINDINGS: events.EventPattern = {
  source: ['aws.securityhub'],
  detailType: ['Security Hub Findings - Imported'],
  detail: {
    findings: {
      Severity: { Label: ['HIGH', 'CRITICAL'] },
      Workflow: { Status: ['NEW'] },
      RecordState: ['ACTIVE'],
      ProductName: [{ 'anything-but': 'GuardDuty' }],
    },
  },
};
