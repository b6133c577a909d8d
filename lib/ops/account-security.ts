import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as events from 'aws-cdk-lib/aws-events';
import type * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { ACCOUNT_ACTIVITY_NAMESPACE, TRAIL_ACTIVITIES } from '../baseline/account-activity';
import { GUARDDUTY_FINDINGS, SECURITY_HUB_FINDINGS } from '../baseline/findings';
import type { AlarmSet } from '../shared/alarm-set';
import { notifyingRule } from './ops-events';

export interface AccountSecurityProps {
  readonly alarms: AlarmSet;
  /** The stage's alarm topic (its policy and key admit EventBridge of this account). */
  readonly topic: sns.ITopic;
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
 * findings as one-line notifications on the alarm topic (the baseline stacks of other regions
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
    const route = (ruleId: string, description: string, eventPattern: events.EventPattern, message: string) =>
      this.rules.push(notifyingRule(this, ruleId, props.topic, { description, eventPattern, message }));
    if (props.enableGuardDutyFindings) {
      route(
        'GuardDutyFindings',
        'GuardDuty findings of medium severity and above in the account (this region and those forwarded here)',
        GUARDDUTY_FINDINGS,
        `GuardDuty finding (severity ${field('$.detail.severity')}) in ${field('$.region')}: ${field('$.detail.title')} [${field('$.detail.type')}, ${field('$.detail.resource.resourceType')}]. Runbook: docs/alarms.md#guardduty-finding`,
      );
    }
    if (props.enableSecurityHubFindings) {
      route(
        'SecurityHubFindings',
        'New Security Hub findings rated high or critical in the account (this region and those forwarded here)',
        SECURITY_HUB_FINDINGS,
        `Security Hub ${field('$.detail.findings[0].Severity.Label')} in ${field('$.region')}: ${field('$.detail.findings[0].Title')} on ${field('$.detail.findings[0].Resources[0].Id')}. Runbook: docs/alarms.md#security-hub-finding`,
      );
    }
  }
}
