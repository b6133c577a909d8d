import { Duration, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { UNKNOWN_AGE_DAYS } from '../../lambda/failover-drill-age/age';
import { pilotLightNames } from '../dr/pilot-light-names';
import type { AlarmSet } from '../shared/alarm-set';
import { httpsOnlySecurityGroup } from '../shared/https-only-group';
import { type LogSettings, logSettings } from '../shared/log-group';
import { FAILOVER_METRICS_NAMESPACE } from '../shared/naming';
import { handlerEntry } from '../shared/paths';
import { ProjectFunction } from '../shared/project-function';

export interface FailoverDrillAgeProps extends LogSettings {
  readonly alarms: AlarmSet;
  readonly stage: string;
  /** The stage's VPC: the function runs in its private subnets, like every project function. */
  readonly vpc: ec2.IVpc;
  /** Days a completed failover drill stays current (config `dr.drillIntervalDays`): the alarm's threshold. */
  readonly drillIntervalDays: number;
}

/**
 * The check runs at 08:00 UTC, so a drill that has just gone stale opens its ticket at the start
 * of a European working day.
 */
export const DRILL_AGE_SCHEDULE = 'cron(0 8 * * ? *)';

/**
 * Defines the watch on the failover drill of a stage with a pilot light. `npm run failover-drill`
 * writes its completion time into the stage's SSM parameter (pilotLightNames(stage).lastDrillParameter,
 * in this region); once a day a function publishes the days since then (lambda/failover-drill-age),
 * and a ticket alarm fires when that age exceeds `drillIntervalDays`, when the stage was never
 * drilled or the parameter holds no completion time (the function publishes a value above any
 * interval), or when the function published nothing (missing data is breaching).
 */
export class FailoverDrillAge extends Construct {
  readonly checker: ProjectFunction;
  readonly alarm: cloudwatch.Alarm;

  constructor(scope: Construct, id: string, props: FailoverDrillAgeProps) {
    super(scope, id);
    const { stage, drillIntervalDays } = props;
    const parameterName = pilotLightNames(stage).lastDrillParameter;

    const group = httpsOnlySecurityGroup(this, 'SecurityGroup', {
      vpc: props.vpc,
      description: 'Failover drill age check: HTTPS to the SSM and CloudWatch APIs only',
      httpsTo: 'HTTPS to the SSM and CloudWatch APIs',
    });
    this.checker = new ProjectFunction(this, 'Handler', {
      entry: handlerEntry('failover-drill-age'),
      handler: 'handler',
      description: `Publishes the days since the last failover drill of the ${stage} stage`,
      vpc: props.vpc,
      securityGroups: [group],
      timeout: Duration.minutes(1),
      memorySize: 128,
      environment: { STAGE: stage, PARAMETER_NAME: parameterName, DRILL_INTERVAL_DAYS: String(drillIntervalDays) },
      ...logSettings(props),
    });
    // Exactly the stage's parameter: the name starts with "/", which the ARN does not repeat.
    const parameterArn = Stack.of(this).formatArn({ service: 'ssm', resource: 'parameter', resourceName: parameterName.slice(1) });
    this.checker.fn.addToRolePolicy(new iam.PolicyStatement({ sid: 'ReadTheLastDrill', actions: ['ssm:GetParameter'], resources: [parameterArn] }));
    this.checker.publishesMetrics('PublishTheDrillAge', FAILOVER_METRICS_NAMESPACE);

    new events.Rule(this, 'Daily', {
      description: `Publishes the age of the last failover drill of ${stage} (alarm above ${drillIntervalDays} days)`,
      schedule: events.Schedule.expression(DRILL_AGE_SCHEDULE),
      targets: [new targets.LambdaFunction(this.checker.fn, { retryAttempts: 2 })],
    });

    // Two daily readings in a row: the age only grows until the next drill, so a stale drill
    // breaches every day; a check that failed once (its errors alarm says so) does not open a
    // ticket on its own. A day without a reading counts as "unknown" (FILL with the function's own
    // value for it): CloudWatch judges missing data of a daily metric over a wider range than the
    // two periods, so treatMissingData alone would fire days late or after one missing point.
    this.alarm = props.alarms.add(this, 'Stale', {
      name: 'failover-drill-stale',
      description: `No failover drill of the ${stage} stage completed within ${drillIntervalDays} days (dr.drillIntervalDays), or none is on record, or the daily check did not report for 2 days.`,
      metric: new cloudwatch.MathExpression({
        expression: `FILL(age, ${UNKNOWN_AGE_DAYS})`,
        usingMetrics: {
          age: new cloudwatch.Metric({
            namespace: FAILOVER_METRICS_NAMESPACE,
            metricName: 'DaysSinceDrill',
            dimensionsMap: { Stage: stage },
            statistic: 'Maximum',
            period: Duration.days(1),
          }),
        },
        period: Duration.days(1),
        label: 'Days since the last failover drill',
      }),
      threshold: drillIntervalDays,
      evaluationPeriods: 2,
      datapointsToAlarm: 2,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.BREACHING,
      severity: 'ticket',
      tier: 'dr',
    });
  }
}
