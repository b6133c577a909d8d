import { Stack, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type { Construct } from 'constructs';
import type { AppTier } from '../app/app-stack';
import { DEPLOYMENT_ALARM_SEVERITY } from '../app/web-service';
import { onCallRoleName } from '../baseline/operator-roles';
import type { DataTier } from '../data/data-stack';
import { jobsClusterName } from '../data/dump-tasks';
import type { DrTier } from '../dr/dr-stack';
import type { EdgeTier } from '../edge/edge-stack';
import type { NetworkTier } from '../network/network-stack';
import { AlarmSet } from '../shared/alarm-set';
import { acknowledgeControls } from '../shared/control-tower-checks';
import { stageResourceName } from '../shared/naming';
import { StageStack, type StageStackProps } from '../shared/stage-stack';
import { AccountSecurity } from './account-security';
import { importedRoutes } from './alarm-topic';
import { AppAlarms } from './app-alarms';
import { Budget } from './budget';
import { DataAlarms } from './data-alarms';
import { DumpAge } from './dump-age';
import { FailoverDrillAge } from './failover-drill-age';
import { FunctionAlarms, projectFunctions, type WatchedFunction } from './function-alarms';
import { OperatorRoleUse } from './operator-role-use';
import { OpsDashboard } from './ops-dashboard';
import { OpsEvents } from './ops-events';
import { ProtectedKeyChanges } from './protected-key-changes';
import { QueueHealth } from './queue-health';
import { SloAlarms } from './slo-alarms';

export interface OpsStackProps extends StageStackProps {
  /** The stage's network: the VPC this stack's own function runs in, and the logs key. */
  readonly network: NetworkTier;
  readonly data: DataTier;
  readonly app: AppTier;
  /** The stage's DR-region tier, where it has one (its backup key is watched here). */
  readonly dr?: DrTier;
  /** The CloudFront distribution in front of the app, where the stage has one (its alarms live in the edge stack). */
  readonly edge?: EdgeTier;
  /** The project Lambda functions of the other stacks of the stage (this stack's own are added to them). */
  readonly functions: readonly WatchedFunction[];
  /** The stage runs in its account's home region (the account baseline's trail and its alarms live there). @default true */
  readonly inAccountHomeRegion?: boolean;
}

/**
 * The stage's operations: alarms on every tier with thresholds from `operations` in the stage
 * config, each notifying the route of its severity on ALARM and OK; a composite "stage unhealthy"
 * alarm of the paging ones for the dashboard; EventBridge rules for ECS, RDS and AWS Backup events and for changes to the
 * keys the backups depend on; where the stage has a pilot light, the age of its last failover
 * drill; the dashboard; and the monthly budget. It only watches: nothing in the other stacks
 * depends on it, so it deploys last and can be changed at any time without touching them.
 */
export class OpsStack extends StageStack {
  readonly alarms: AlarmSet;
  readonly stageAlarm: cloudwatch.CompositeAlarm;

  constructor(scope: Construct, id: string, props: OpsStackProps) {
    super(scope, id, props);
    const { name, operations, database, cache, alarms: recipients, monthlyBudgetUsd, backup, baseline, dr, dumps } = this.config;
    const { app, data, network } = props;
    // By their known ARNs: adding rule targets to the topic objects themselves would write
    // statements into the network stack's topic policies, which already admit this account's rules.
    const routes = importedRoutes(this, name, '', this.config.alarms.slack !== undefined);
    this.alarms = new AlarmSet(name, routes);

    // The web service's deployment alarms notify their routes from the app stack; counted here.
    this.alarms.adopt(app.deploymentAlarms.unhealthyHosts, DEPLOYMENT_ALARM_SEVERITY.unhealthyHosts, 'web');
    this.alarms.adopt(app.deploymentAlarms.target5xxRate, DEPLOYMENT_ALARM_SEVERITY.target5xxRate, 'web');
    this.alarms.adopt(app.deploymentAlarms.p99Latency, DEPLOYMENT_ALARM_SEVERITY.p99Latency, 'web');

    const cacheNodes = 1 + cache.replicas;
    new AppAlarms(this, 'AppAlarms', {
      alarms: this.alarms,
      app,
      http5xxRatePercent: operations.http5xxRatePercent,
      p99LatencySeconds: operations.p99LatencySeconds,
      enableAnomalyAlarms: operations.anomalyAlarms,
      ecsCpuPercent: operations.ecsCpuPercent,
      ecsMemoryPercent: operations.ecsMemoryPercent,
      wafBlockedPer5Min: operations.wafBlockedPer5Min,
      sesBounceRatePercent: operations.sesBounceRatePercent,
      sesComplaintRatePercent: operations.sesComplaintRatePercent,
    });
    new DataAlarms(this, 'DataAlarms', {
      alarms: this.alarms,
      data,
      rdsCpuPercent: operations.rdsCpuPercent,
      rdsFreeableMemoryMiB: operations.rdsFreeableMemoryMiB,
      rdsFreeStoragePercent: operations.rdsFreeStoragePercent,
      rdsConnectionsPercent: operations.rdsConnectionsPercent,
      rdsLatencySeconds: operations.rdsLatencySeconds,
      cacheCpuPercent: operations.cacheCpuPercent,
      cacheMemoryPercent: operations.cacheMemoryPercent,
      cacheConnections: operations.cacheConnections,
      allocatedStorageGiB: database.allocatedStorageGiB,
      cacheNodes,
      restoreTesting: backup.restoreTesting !== 'off' ? { stage: name } : undefined,
      dumps: {
        stage: name,
        maxMinutes: dumps.maxMinutes,
        restoreCheck: dumps.restoreCheck !== 'off',
        anonymised: dumps.anonymised && { maxAgeDays: dumps.anonymised.maxAgeDays },
      },
    });
    // The ages the dump alarms read: the newest dump, passed check and anonymised copy in the bucket.
    new DumpAge(this, 'DumpAge', {
      stage: name,
      vpc: network.vpc,
      watched: ['dump', ...(dumps.restoreCheck !== 'off' ? (['check'] as const) : []), ...(dumps.anonymised ? (['anonymised'] as const) : [])],
      logsKey: network.logsKey,
      logRetention: this.logRetention,
      logRemovalPolicy: this.statefulRemovalPolicy,
    });
    // A stage that can fail over proves it can: the drill must not go stale.
    if (dr.pilotLight) {
      new FailoverDrillAge(this, 'FailoverDrillAge', {
        alarms: this.alarms,
        stage: name,
        vpc: network.vpc,
        drillIntervalDays: dr.drillIntervalDays,
        logsKey: network.logsKey,
        logRetention: this.logRetention,
        logRemovalPolicy: this.statefulRemovalPolicy,
      });
    }
    // Nothing in AWS sees inside the BullMQ queues: a function reads them from the cache.
    const { queues } = operations;
    const queueHealth = queues.enabled
      ? new QueueHealth(this, 'QueueHealth', {
          alarms: this.alarms,
          stage: name,
          vpc: network.vpc,
          cache: data.cache,
          queues: queues.names,
          bullmqMajor: queues.bullmqMajor,
          prefix: queues.prefix,
          oldestWaitingSeconds: queues.oldestWaitingSeconds,
          noProgressMinutes: queues.noProgressMinutes,
          logsKey: network.logsKey,
          logRetention: this.logRetention,
          logRemovalPolicy: this.statefulRemovalPolicy,
        })
      : undefined;
    // This stack's own functions are watched like the other stacks' (the stage collects those).
    const functions = [...props.functions, ...projectFunctions(this)];
    new FunctionAlarms(this, 'FunctionAlarms', { alarms: this.alarms, functions });

    const { slo } = operations;
    const sloAlarms = slo.enabled
      ? new SloAlarms(this, 'Slo', {
          alarms: this.alarms,
          app,
          availabilityPercent: slo.availabilityPercent,
          latencyPercent: slo.latencyPercent,
          latencyThresholdMs: slo.latencyThresholdMs,
        })
      : undefined;
    // The account's own alarms and findings (the baseline); root usage and trail or key tampering page.
    new AccountSecurity(this, 'AccountSecurity', {
      alarms: this.alarms,
      enableTrailAlarms: baseline.trail.enabled && (props.inAccountHomeRegion ?? true),
      enableGuardDutyFindings: baseline.guardDuty.enabled,
      enableSecurityHubFindings: baseline.securityHub,
    });

    // The keys of every snapshot, recovery point and DR copy: every change to their protection is
    // reported, and pages unless CloudFormation made it.
    new ProtectedKeyChanges(this, 'ProtectedKeyChanges', {
      alarms: this.alarms,
      keys: [...data.protectedKeys, ...(props.dr?.backupKey ? [props.dr.backupKey] : [])],
    });

    // Each use of the people's roles is a ticket naming who; break-glass also pages (access.pageOnUse).
    const { access } = this.config;
    new OperatorRoleUse(this, 'OperatorRoleUse', {
      alarms: this.alarms,
      routes,
      onCallRoleName: access.onCall.principals.length > 0 ? onCallRoleName(name) : undefined,
      breakGlassRoleName: backup.breakGlassRoleName,
      pageOnUse: access.pageOnUse,
      trailMetric: baseline.trail.enabled && (props.inAccountHomeRegion ?? true),
    });

    // The stage's state at a glance, on the dashboard, with no actions: each paging alarm pages on
    // its own, with its own name and runbook, so a composite that paged too would page twice for
    // one cause; and it could not page for what it cannot include (alarms of another region: the
    // edge's, the DR tier's) nor for a second cause while the first keeps it in ALARM.
    this.stageAlarm = new cloudwatch.CompositeAlarm(this, 'StageUnhealthy', {
      compositeAlarmName: `${name}-stage-unhealthy`,
      alarmDescription: `The ${name} stage is unhealthy: at least one of its paging alarms in ${this.region} is in ALARM (each pages on its own; this one notifies nobody). Runbook: docs/alarms.md#stage-unhealthy`,
      alarmRule: cloudwatch.AlarmRule.anyOf(...this.alarms.paging),
      actionsEnabled: false,
    });
    const summary = 'The stage summary on the dashboard: every alarm it combines pages on its own, so actions here would page twice for one cause.';
    Validations.of(this.stageAlarm).acknowledge({ id: 'NIST.800.53.R5-CloudWatchAlarmAction', reason: summary });
    acknowledgeControls(this.stageAlarm, { cloudwatch_alarm_action_check: summary, cloudwatch_alarm_action_enabled_check: summary });

    new OpsEvents(this, 'Events', {
      routes,
      clusterArn: app.cluster.clusterArn,
      serviceArns: app.services.map((s) => s.service.serviceArn),
      databaseIdentifier: data.database.instance.instanceIdentifier,
      jobsClusterArn: Stack.of(this).formatArn({ service: 'ecs', resource: 'cluster', resourceName: jobsClusterName(name) }),
      stage: name,
    });

    new OpsDashboard(this, 'Dashboard', {
      name: stageResourceName(name),
      stage: name,
      alarms: this.alarms,
      stageAlarm: this.stageAlarm,
      app,
      data,
      edge: props.edge,
      cacheNodes,
      functions,
      queues: queueHealth && operations.queues.names,
      sloWidgets: sloAlarms?.widgets(),
    });

    new Budget(this, 'Budget', { name: stageResourceName(name, 'monthly'), monthlyUsd: monthlyBudgetUsd, emails: recipients.emails, routes });
  }
}
