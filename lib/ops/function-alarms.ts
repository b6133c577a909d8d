import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import type { AlarmSet } from '../shared/alarm-set';
import { ProjectFunction } from '../shared/project-function';

export interface WatchedFunction {
  /** Short kebab-case name used in alarm names, e.g. "pgvector". */
  readonly name: string;
  readonly fn: lambda.IFunction;
}

/**
 * The project Lambda functions under the given scopes, named after the construct that owns each
 * ("database-setup"), with the function's own id unless it is the owner's Handler
 * ("pre-deploy-snapshot-is-complete").
 */
export function projectFunctions(...scopes: Construct[]): WatchedFunction[] {
  return scopes
    .flatMap((scope) => scope.node.findAll())
    .filter((c): c is ProjectFunction => c instanceof ProjectFunction)
    .map((f) => ({ name: kebab(f.node.id === 'Handler' ? f.node.scope!.node.id : `${f.node.scope!.node.id}${f.node.id}`), fn: f.fn }));
}

function kebab(id: string): string {
  return id.replace(/([a-z0-9])([A-Z])/g, '$1-$2').toLowerCase();
}

export interface FunctionAlarmsProps {
  readonly alarms: AlarmSet;
  readonly functions: readonly WatchedFunction[];
}

/**
 * Defines an errors alarm for each project Lambda, and one throttles alarm for them all. They run on deploys, events
 * and schedules, so any error or throttle in 5 minutes is worth a look, and no invocations is the
 * normal state (missing data is not breaching).
 */
export class FunctionAlarms extends Construct {
  constructor(scope: Construct, id: string, props: FunctionAlarmsProps) {
    super(scope, id);
    const period = Duration.minutes(5);
    const anyInFiveMinutes = {
      threshold: 0,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      severity: 'ticket',
      tier: 'functions',
    } as const;
    // A throttle is the account's concurrency used up in the region, whichever function it hits:
    // one alarm on Lambda's count across all functions says so (the console's per-function
    // Throttles graph says which).
    props.alarms.add(this, 'Throttles', {
      name: 'lambda-throttles',
      runbook: 'lambda-function-throttles',
      description: "Lambda refused to run a function of the account in this region at least once in 5 minutes (the account's concurrency is used up).",
      metric: new cloudwatch.Metric({ namespace: 'AWS/Lambda', metricName: 'Throttles', statistic: 'Sum', period }),
      ...anyInFiveMinutes,
    });
    for (const { name, fn } of props.functions) {
      const scope = new Construct(this, name);
      props.alarms.add(scope, 'Errors', {
        name: `lambda-${name}-errors`,
        runbook: 'lambda-function-errors',
        description: `The ${name} function failed at least once in 5 minutes.`,
        metric: fn.metricErrors({ period, statistic: 'Sum' }),
        ...anyInFiveMinutes,
      });
    }
  }
}
