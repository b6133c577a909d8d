import { Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as events from 'aws-cdk-lib/aws-events';
import type * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import { cdkBootstrapRoleArn } from '../ci/ci-access-stack';
import type { AlarmSet } from '../shared/alarm-set';
import { protectedKeyEventsOfDeploys, protectedKeyEventsOfOthers, type RegionKeys } from '../shared/protected-key-events';
import { ruleMatches } from '../shared/stage-metrics';
import { notifyingRule } from './ops-events';

export interface ProtectedKeyChangesProps {
  readonly alarms: AlarmSet;
  /**
   * The keys every snapshot, recovery point and DR copy is encrypted with (ServiceKey with a
   * break-glass role). Those of another region forward their events here (dr-stack.ts).
   */
  readonly keys: readonly kms.IKey[];
}

/**
 * Tells the stage's people of every call that would destroy a protected key or change its
 * policy, allowed or refused, with the key, the caller and the outcome. By a deploy
 * (CloudFormation as the deploy role of the key's region) it is a one-line notification, to be
 * matched to a reviewed change; by anyone else (the break-glass role, or an attempt the key policy
 * refused) it also pages, through an alarm on the rule's matches that the stage's composite alarm
 * includes.
 *
 * An EventBridge rule rather than another CIS metric filter: the filters live in the account
 * baseline, in the home region only, before the stage's keys exist, and count without saying
 * which key or who; they also leave out every change CloudFormation makes.
 */
export class ProtectedKeyChanges extends Construct {
  readonly byDeploys: events.Rule;
  readonly byOthers: events.Rule;
  readonly alarm: cloudwatch.Alarm;

  constructor(scope: Construct, id: string, props: ProtectedKeyChangesProps) {
    super(scope, id);
    // Each key's policy admits, besides the break-glass role, CloudFormation's deploy role of its own region.
    const { account, partition } = Stack.of(this);
    const regions: RegionKeys[] = [...new Set(props.keys.map((k) => k.env.region))].map((region) => ({
      keyIds: props.keys.filter((k) => k.env.region === region).map((k) => k.keyId),
      deployRole: cdkBootstrapRoleArn('cfn-exec', account, region, partition),
    }));
    const field = (path: string) => events.EventField.fromPath(path);
    const call = `${field('$.detail.eventName')} on protected key ${field('$.detail.requestParameters.keyId')} in ${field('$.detail.awsRegion')} by ${field('$.detail.userIdentity.arn')}`;
    // CloudTrail records a refused call too, with its error code; a call that succeeded has none.
    const outcome = `error code if refused: ${field('$.detail.errorCode')}`;
    // The messages are tickets: they say who and which key; the alarm below is what pages.
    this.byDeploys = notifyingRule(this, 'ByDeploys', props.alarms.routes, {
      severity: 'ticket',
      description: 'A deploy (CloudFormation) changed, or tried to change, a key the stage backups depend on',
      eventPattern: protectedKeyEventsOfDeploys(regions),
      message: `KMS ${call}, a deploy; ${outcome}. Runbook: docs/alarms.md#protected-key-deployed`,
    });
    this.byOthers = notifyingRule(this, 'ByOthers', props.alarms.routes, {
      severity: 'ticket',
      description: 'Someone other than a deploy changed, disabled or scheduled the deletion of a key the stage backups depend on, or tried to',
      eventPattern: protectedKeyEventsOfOthers(regions),
      message: `KMS ${call}, not a deploy; ${outcome}. Runbook: docs/alarms.md#protected-key-changed`,
    });
    this.alarm = props.alarms.add(this, 'ChangedAlarm', {
      name: 'protected-key-changed',
      description:
        'Someone other than a deploy changed the policy of a key the backups depend on, disabled it or scheduled its deletion, or tried to (the break-glass role, or a refused attempt).',
      metric: ruleMatches(this.byOthers.ruleName),
      threshold: 0,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      severity: 'page',
      tier: 'account',
    });
  }
}
