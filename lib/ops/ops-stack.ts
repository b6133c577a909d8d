import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as sns from 'aws-cdk-lib/aws-sns';
import type { Construct } from 'constructs';
import { AlarmSet } from '../shared/alarm-set';
import { alarmTopicName } from './alarm-topic';
import { AppAlarms } from './app-alarms';
import { Budget } from './budget';
import { DataAlarms } from './data-alarms';
import { FunctionAlarms, type WatchedFunction } from './function-alarms';
import { OpsDashboard } from './ops-dashboard';
import { OpsEvents } from './ops-events';
import type { AppStack } from '../app/app-stack';
import type { DataStack } from '../data/data-stack';
import { StageStack, type StageStackProps } from '../shared/stage-stack';

export interface OpsStackProps extends StageStackProps {
  readonly data: DataStack;
  readonly app: AppStack;
  /** The project Lambda functions of the stage. */
  readonly functions: readonly WatchedFunction[];
}

/**
 * The stage's operations: alarms on every tier with thresholds from `operations` in the stage
 * config, each notifying the alarm topic on ALARM and OK; a composite "stage unhealthy" alarm of
 * the paging ones; EventBridge rules for ECS, RDS and AWS Backup events; the dashboard; and the
 * monthly budget. It only watches: nothing in the other stacks depends on it, so it deploys last
 * and can be changed at any time without touching them.
 */
export class OpsStack extends StageStack {
  readonly alarms: AlarmSet;
  readonly stageAlarm: cloudwatch.CompositeAlarm;

  constructor(scope: Construct, id: string, props: OpsStackProps) {
    super(scope, id, props);
    const { name, operations, database, cache, alarms: recipients, monthlyBudgetUsd } = this.config;
    const { app, data } = props;
    // By its known ARN: adding rule targets to the topic object itself would write statements
    // into the network stack's topic policy, which already admits this account's rules.
    const topic = sns.Topic.fromTopicArn(this, 'AlarmTopic', this.formatArn({ service: 'sns', resource: alarmTopicName(name) }));
    this.alarms = new AlarmSet(name, topic);

    // The web service's deployment alarms notify the topic from the app stack; counted here.
    const [deploy5xx, unhealthyHosts] = app.web.deploymentAlarms;
    this.alarms.adopt(unhealthyHosts, 'page', 'web');
    this.alarms.adopt(deploy5xx, 'ticket', 'web');

    const services = [
      { name: 'web' as const, service: app.web.service, severity: 'page' as const },
      { name: 'worker' as const, service: app.worker.service, severity: 'page' as const },
    ];
    const webAclMetricName = app.waf?.metricName;
    const email = app.email !== undefined;
    new AppAlarms(this, 'AppAlarms', {
      alarms: this.alarms,
      thresholds: operations,
      loadBalancer: app.loadBalancer.alb,
      targetMetric: (metricName, options) => app.web.targetMetric(metricName, options),
      services,
      webAclMetricName,
      email,
    });
    const cacheNodes = 1 + cache.replicas;
    new DataAlarms(this, 'DataAlarms', {
      alarms: this.alarms,
      thresholds: operations,
      database: data.database.instance,
      allocatedStorageGiB: database.allocatedStorageGiB,
      maxConnections: data.database.maxConnections,
      cache: data.cache.replicationGroup,
      cacheNodes,
      restoreTesting: this.config.backup.restoreTesting !== 'off' ? { stage: name } : undefined,
    });
    new FunctionAlarms(this, 'FunctionAlarms', { alarms: this.alarms, functions: props.functions });

    this.stageAlarm = new cloudwatch.CompositeAlarm(this, 'StageUnhealthy', {
      compositeAlarmName: `${name}-stage-unhealthy`,
      alarmDescription: `The ${name} stage is unhealthy: at least one paging alarm is in ALARM. Page on this one. Runbook: docs/alarms.md#stage-unhealthy`,
      alarmRule: cloudwatch.AlarmRule.anyOf(...this.alarms.paging),
      actionsEnabled: true,
    });
    this.alarms.notify(this.stageAlarm);

    new OpsEvents(this, 'Events', {
      topic,
      clusterArn: app.cluster.clusterArn,
      serviceArns: services.map((s) => s.service.serviceArn),
      databaseIdentifier: data.database.instance.instanceIdentifier,
    });

    new OpsDashboard(this, 'Dashboard', {
      name: `webapp-${name}`,
      alarms: this.alarms,
      stageAlarm: this.stageAlarm,
      loadBalancer: app.loadBalancer.alb,
      targetMetric: (metricName, options) => app.web.targetMetric(metricName, options),
      services,
      database: data.database.instance,
      maxConnections: data.database.maxConnections,
      cache: data.cache.replicationGroup,
      cacheNodes,
      functions: props.functions,
      webAclMetricName,
      email,
    });

    new Budget(this, 'Budget', { name: `webapp-${name}-monthly`, monthlyUsd: monthlyBudgetUsd, emails: recipients.emails, topic });
  }
}
