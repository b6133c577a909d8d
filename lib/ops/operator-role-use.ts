import { Duration, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as events from 'aws-cdk-lib/aws-events';
import { Construct } from 'constructs';
import { ACCOUNT_ACTIVITY_NAMESPACE } from '../baseline/account-activity';
import { BREAK_GLASS_ASSUMED_METRIC } from '../baseline/audit-trail';
import type { AlarmRoutes, AlarmSet, Severity } from '../shared/alarm-set';
import { ruleMatches } from '../shared/stage-metrics';
import { notifyingRule } from './ops-events';

/**
 * The rule state that lets a rule see read-only management events delivered by CloudTrail:
 * EventBridge counts STS AssumeRole among them, and a rule in the plain ENABLED state never
 * receives one (EventBridge User Guide, "Receiving read-only management events from AWS services").
 */
export const WITH_READ_ONLY_MANAGEMENT_EVENTS = 'ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS';

/**
 * The calls that assume a role: from a session or user (on-call and break-glass by their trust
 * policies), and from an identity provider directly, should a break-glass role made by hand trust one.
 */
export const ASSUME_ROLE_CALLS = ['AssumeRole', 'AssumeRoleWithSAML', 'AssumeRoleWithWebIdentity'] as const;

/** The events of those calls on the roles (ARNs), allowed or refused, as EventBridge receives them from CloudTrail. */
export function roleAssumedPattern(roleArns: readonly string[]): events.EventPattern {
  return {
    source: ['aws.sts'],
    detailType: ['AWS API Call via CloudTrail'],
    detail: { eventSource: ['sts.amazonaws.com'], eventName: [...ASSUME_ROLE_CALLS], requestParameters: { roleArn: [...roleArns] } },
  };
}

export interface OperatorRoleUseProps {
  readonly alarms: AlarmSet;
  /** The stage's routes (their policies and key admit EventBridge of this account). */
  readonly routes: AlarmRoutes;
  /** The stage's on-call role (its name), where the stage has one. */
  readonly onCallRoleName?: string;
  /** The account's break-glass role (its name, at path /). */
  readonly breakGlassRoleName: string;
  /** Page on each use of the break-glass role (access.pageOnUse). */
  readonly pageOnUse: boolean;
  /**
   * The account trail's count of break-glass assumptions is published here (the trail is on and
   * this is the account's home region): the page reads it, so a use in any region pages; without
   * it the page reads the rule's matches, which see only this region.
   */
  readonly trailMetric: boolean;
}

/**
 * Tells the stage's people each time someone assumes (or tries to assume) its on-call role or the
 * account's break-glass role: a one-line notification on the alarm topic naming the role, who,
 * from where and the outcome; a use of break-glass also pages. EventBridge receives an AssumeRole
 * in the region where STS served it (the regional endpoint the caller's region names, or the
 * global endpoint's serving region), so these rules in the stage's region see the uses the
 * runbooks make (they assume the roles in the stage's region); the page on break-glass reads the
 * account trail's count where there is one, which every region feeds.
 */
export class OperatorRoleUse extends Construct {
  /** Each rule with the severity of what it reports. */
  readonly rules: { readonly rule: events.Rule; readonly severity: Severity }[] = [];
  readonly breakGlassAlarm?: cloudwatch.Alarm;

  constructor(scope: Construct, id: string, props: OperatorRoleUseProps) {
    super(scope, id);
    const { account, partition } = Stack.of(this);
    const arn = (name: string) => `arn:${partition}:iam::${account}:role/${name}`;
    const field = (path: string) => events.EventField.fromPath(path);
    const who = `by ${field('$.detail.userIdentity.arn')} in ${field('$.detail.awsRegion')} from ${field('$.detail.sourceIPAddress')} (session ${field('$.detail.requestParameters.roleSessionName')}; error code if refused: ${field('$.detail.errorCode')})`;
    const rule = (ruleId: string, severity: Severity, description: string, roleName: string, runbook: string) => {
      const made = notifyingRule(this, ruleId, props.routes, {
        description,
        severity,
        eventPattern: roleAssumedPattern([arn(roleName)]),
        message: `${roleName} assumed ${who}. Runbook: docs/alarms.md#${runbook}`,
      });
      (made.node.defaultChild as events.CfnRule).state = WITH_READ_ONLY_MANAGEMENT_EVENTS;
      this.rules.push({ rule: made, severity });
      return made;
    };
    if (props.onCallRoleName) {
      rule('OnCallUsed', 'ticket', 'Someone assumed the on-call role of the stage, or tried to', props.onCallRoleName, 'on-call-role-used');
    }
    // The message names who and from where; the alarm below is what pages (once, where the
    // trail counts every region's uses), so the rule itself is a ticket.
    const breakGlass = rule('BreakGlassUsed', 'ticket', 'Someone assumed the break-glass role of the account, or tried to', props.breakGlassRoleName, 'break-glass-used');
    if (props.pageOnUse) {
      this.breakGlassAlarm = props.alarms.add(this, 'BreakGlassAlarm', {
        name: 'break-glass-used',
        description: 'Someone assumed the break-glass role (the administrator of last resort), or tried to.',
        metric: props.trailMetric
          ? new cloudwatch.Metric({ namespace: ACCOUNT_ACTIVITY_NAMESPACE, metricName: BREAK_GLASS_ASSUMED_METRIC, statistic: 'Sum', period: Duration.minutes(5) })
          : ruleMatches(breakGlass.ruleName),
        threshold: 0,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        severity: 'page',
        tier: 'account',
      });
    }
  }
}
