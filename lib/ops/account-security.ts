import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as events from 'aws-cdk-lib/aws-events';
import { Construct } from 'constructs';
import { ACCOUNT_ACTIVITY_NAMESPACE, TRAIL_ACTIVITIES } from '../baseline/account-activity';
import { GUARDDUTY_FINDINGS, SECURITY_HUB_FINDINGS } from '../baseline/findings';
import type { AlarmSet, Severity } from '../shared/alarm-set';
import { notifyingRule } from './ops-events';

/** GuardDuty's high band starts at 7.0: a finding there pages. */
export const GUARDDUTY_HIGH = 7;

export interface AccountSecurityProps {
  readonly alarms: AlarmSet;
  /**
   * Alarm on the CIS checks of the account trail: the trail is on, and this is the account's home
   * region, where its CloudWatch Logs copy and metric filters are.
   */
  readonly enableTrailAlarms: boolean;
  /** Notify GuardDuty's findings (GuardDuty runs in the account). */
  readonly enableGuardDutyFindings: boolean;
  /** Notify Security Hub's findings (Security Hub runs in the account). */
  readonly enableSecurityHubFindings: boolean;
}

/**
 * What the account baseline tells the stage's people: an alarm per CIS check of the trail, and
 * one per check's share made by CloudFormation's deploy role (a ticket each; any matching event
 * in 5 minutes; no events is the normal state), and GuardDuty and Security Hub
 * findings as one-line notifications (a high GuardDuty finding pages; the rest are tickets; the baseline stacks of other regions
 * forward theirs to this region's event bus). Nothing here when the baseline piece is off: an
 * alarm on a metric nothing publishes would only ever say "OK".
 */
export class AccountSecurity extends Construct {
  readonly rules: events.Rule[] = [];

  constructor(scope: Construct, id: string, props: AccountSecurityProps) {
    super(scope, id);
    if (props.enableTrailAlarms) {
      for (const activity of TRAIL_ACTIVITIES) {
        props.alarms.add(this, activity.metric, {
          name: activity.alarm,
          description: activity.description,
          metric: new cloudwatch.Metric({ namespace: ACCOUNT_ACTIVITY_NAMESPACE, metricName: activity.metric, statistic: 'Sum', period: Duration.minutes(5) }),
          threshold: 0,
          evaluationPeriods: 1,
          comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
          treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
          severity: activity.severity,
          tier: 'account',
        });
      }
    }
    const field = (path: string) => events.EventField.fromPath(path);
    const route = (ruleId: string, description: string, eventPattern: events.EventPattern, message: string, severity: Severity) =>
      this.rules.push(notifyingRule(this, ruleId, props.alarms.routes, { description, eventPattern, message, severity }));
    if (props.enableGuardDutyFindings) {
      const finding = `GuardDuty finding (severity ${field('$.detail.severity')}) in ${field('$.region')}: ${field('$.detail.title')} [${field('$.detail.type')}, ${field('$.detail.resource.resourceType')}].`;
      // Medium findings are read the same day; a high one (7.0+: a resource compromised, a
      // credential in use from a known bad address) pages.
      route(
        'GuardDutyFindings',
        'GuardDuty findings of medium severity (4.0 to 6.9) in the account (this region and those forwarded here)',
        { ...GUARDDUTY_FINDINGS, detail: { severity: [{ numeric: ['>=', 4, '<', GUARDDUTY_HIGH] }] } },
        `${finding} Runbook: docs/alarms.md#guardduty-finding`,
        'ticket',
      );
      route(
        'GuardDutyHighFindings',
        'GuardDuty findings of high severity and above (7.0+) in the account (this region and those forwarded here)',
        { ...GUARDDUTY_FINDINGS, detail: { severity: [{ numeric: ['>=', GUARDDUTY_HIGH] }] } },
        `${finding} Runbook: docs/alarms.md#guardduty-high-finding`,
        'page',
      );
    }
    if (props.enableSecurityHubFindings) {
      route(
        'SecurityHubFindings',
        'New Security Hub findings rated high or critical in the account (this region and those forwarded here)',
        SECURITY_HUB_FINDINGS,
        `Security Hub ${field('$.detail.findings[0].Severity.Label')} in ${field('$.region')}: ${field('$.detail.findings[0].Title')} on ${field('$.detail.findings[0].Resources[0].Id')}. Runbook: docs/alarms.md#security-hub-finding`,
        // A failed control is a configuration to fix, not an attack in progress.
        'ticket',
      );
    }
  }
}
