import { Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type { Construct } from 'constructs';
import { acknowledgeControls } from './control-tower-checks';

/**
 * page: somebody acts now: the paging topic (pagers, the paging Slack channel) and, for the
 * record, the ticket topic. ticket: look the same working day: the ticket topic only.
 */
export type Severity = 'page' | 'ticket';

/** The two routes of a region's notifications, by severity (topics: lib/ops/alarm-topic.ts). */
export interface AlarmRoutes {
  /** Someone acts now: pagers (PagerDuty, Opsgenie) and the paging Slack channel. */
  readonly page: sns.ITopic;
  /** Look the same working day: the emails and the ticket Slack channel; pages are recorded here too. */
  readonly ticket: sns.ITopic;
  /**
   * Slack channels subscribe to these topics: a message of the project's own (an EventBridge rule's)
   * goes in the form Amazon Q Developer in chat applications posts, a JSON "custom notification";
   * it drops any other text. CloudWatch alarms and AWS Budgets it reads as they are. @default false
   */
  readonly chat?: boolean;
}

/** The topics a notification of a severity goes to: a page is recorded on the ticket route too. */
export function routeTopics(routes: AlarmRoutes, severity: Severity): sns.ITopic[] {
  return severity === 'page' ? [routes.page, routes.ticket] : [routes.ticket];
}

/** The tiers an alarm belongs to; the dashboard and docs/alarms.md group by them. */
export type Tier = 'load balancer' | 'web' | 'worker' | 'database' | 'cache' | 'email' | 'functions' | 'waf' | 'account' | 'slo' | 'edge' | 'dr';

export interface WatchProps extends Omit<cloudwatch.AlarmProps, 'alarmName' | 'alarmDescription' | 'treatMissingData' | 'actionsEnabled'> {
  /** Name after the stage prefix, e.g. "db-cpu". docs/alarms.md lists every one. */
  readonly name: string;
  /** What the alarm means, in one sentence a person paged at night understands. */
  readonly description: string;
  /**
   * What missing data means for this metric. Required, so each alarm says it rather than taking
   * CloudWatch's default: traffic counts go quiet when there is no traffic (not breaching);
   * resource gauges go quiet when the resource is gone (missing, shown as insufficient data).
   */
  readonly treatMissingData: cloudwatch.TreatMissingData;
  readonly severity: Severity;
  readonly tier: Tier;
  /** Heading of the alarm's runbook line in docs/alarms.md. @default name */
  readonly runbook?: string;
}

export interface WatchedAlarm {
  readonly alarm: cloudwatch.IAlarm;
  readonly severity: Severity;
  readonly tier: Tier;
}

/**
 * The alarms of one stage in one region: each one named `<stage>-<name>`, described, and sending
 * ALARM and OK to the route of its severity, so no alarm exists without an action. The set is what
 * the stage's composite alarm and the dashboard are built from.
 */
export class AlarmSet {
  readonly watched: WatchedAlarm[] = [];
  /** Alarms without actions of their own, each part of a composite that notifies (`signal`). */
  readonly signals: cloudwatch.Alarm[] = [];
  private readonly actions: Record<Severity, cloudwatch.IAlarmAction[]>;

  constructor(
    /** Prefix of every alarm name: the stage name. */
    readonly prefix: string,
    readonly routes: AlarmRoutes,
  ) {
    const of = (severity: Severity) => routeTopics(routes, severity).map((topic) => new actions.SnsAction(topic));
    this.actions = { page: of('page'), ticket: of('ticket') };
  }

  /** Defines an alarm with the route of its severity as its ALARM and OK actions. */
  add(scope: Construct, id: string, props: WatchProps): cloudwatch.Alarm {
    const { name, description, severity, tier, runbook, ...alarmProps } = props;
    return this.watch(new cloudwatch.Alarm(scope, id, { ...alarmProps, ...this.named(name, description, runbook) }), severity, tier);
  }

  /**
   * Defines an anomaly-detection alarm (the metric against the band CloudWatch learns from its
   * history, `stdDevs` wide) with the route of its severity as its ALARM and OK actions.
   */
  addAnomaly(
    scope: Construct,
    id: string,
    props: Omit<WatchProps, 'threshold' | 'comparisonOperator'> & { stdDevs: number; comparisonOperator: cloudwatch.ComparisonOperator },
  ): cloudwatch.AnomalyDetectionAlarm {
    const { name, description, severity, tier, runbook, ...alarmProps } = props;
    return this.watch(new cloudwatch.AnomalyDetectionAlarm(scope, id, { ...alarmProps, ...this.named(name, description, runbook) }), severity, tier);
  }

  /** The name, description (with its runbook link) and enabled actions of an alarm of the set. */
  private named(name: string, description: string, runbook?: string) {
    return { alarmName: `${this.prefix}-${name}`, alarmDescription: `${description} Runbook: docs/alarms.md#${runbook ?? name}`, actionsEnabled: true };
  }

  /** Sends the alarm to its route and counts it. */
  private watch<T extends cloudwatch.AlarmBase>(alarm: T, severity: Severity, tier: Tier): T {
    this.notify(alarm, severity);
    this.watched.push({ alarm, severity, tier });
    return alarm;
  }

  /**
   * Defines an alarm that only feeds composite alarms (one window of a burn-rate pair): named and
   * described like the others, with no actions, so only the composite that needs it notifies.
   */
  signal(scope: Construct, id: string, props: WatchProps): cloudwatch.Alarm {
    const { name, description, severity: _severity, tier: _tier, runbook, ...alarmProps } = props;
    const alarm = new cloudwatch.Alarm(scope, id, {
      ...alarmProps,
      ...this.named(name, `${description} Feeds a composite alarm; it notifies nobody itself.`, runbook),
      actionsEnabled: false,
    });
    Validations.of(alarm).acknowledge({
      id: 'NIST.800.53.R5-CloudWatchAlarmAction',
      reason: 'One window of a burn-rate pair: the composite alarm of the pair notifies its route; the window alone would page on every short spike.',
    });
    const why = 'One window of a burn-rate pair: the composite alarm of the pair has the actions; the window alone would page on every short spike.';
    acknowledgeControls(alarm, { cloudwatch_alarm_action_check: why, cloudwatch_alarm_action_enabled_check: why });
    this.signals.push(alarm);
    return alarm;
  }

  /** Defines a composite alarm that notifies the route of its severity, named `<stage>-<name>`, counted like the others. */
  composite(
    scope: Construct,
    id: string,
    props: { name: string; description: string; rule: cloudwatch.IAlarmRule; severity: Severity; tier: Tier; runbook?: string },
  ): cloudwatch.CompositeAlarm {
    const { alarmName, ...named } = this.named(props.name, props.description, props.runbook);
    return this.watch(new cloudwatch.CompositeAlarm(scope, id, { compositeAlarmName: alarmName, ...named, alarmRule: props.rule }), props.severity, props.tier);
  }

  /** Counts an alarm defined elsewhere (that already notifies the route of its severity) in the composite and the dashboard. */
  adopt(alarm: cloudwatch.IAlarm, severity: Severity, tier: Tier): void {
    this.watched.push({ alarm, severity, tier });
  }

  /** Sends the alarm's ALARM and OK transitions to the route of its severity (OK resolves the pager's incident). */
  notify(alarm: cloudwatch.AlarmBase, severity: Severity): void {
    alarm.addAlarmAction(...this.actions[severity]);
    alarm.addOkAction(...this.actions[severity]);
  }

  /** The alarms that page. */
  get paging(): cloudwatch.IAlarm[] {
    return this.watched.filter((w) => w.severity === 'page').map((w) => w.alarm);
  }
}
