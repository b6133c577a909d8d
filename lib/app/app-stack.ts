import { CfnOutput, Validations } from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import type * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type { Construct } from 'constructs';
import { type DeployOptions, imageReference } from '../config';
import type { DataTier } from '../data/data-stack';
import { Waf, type WafRules } from '../edge/waf';
import type { NetworkTier } from '../network/network-stack';
import { AlarmSet } from '../shared/alarm-set';
import { acknowledgeControl } from '../shared/control-tower-checks';
import { stageResourceName } from '../shared/naming';
import { ServiceKey } from '../shared/service-key';
import { StageStack, type StageStackProps } from '../shared/stage-stack';
import { CacheTokenRotation } from './cache-token-rotation';
import { Email } from './email';
import { ExecSessions } from './exec-sessions';
import { LoadBalancer } from './load-balancer';
import { LogQueries } from './log-queries';
import { ReleaseSteps } from './release-steps';
import { ReleaseTasks } from './release-tasks';
import { TrafficShift } from './web-deployment';
import { type WebDeploymentAlarms, WebService } from './web-service';
import { WorkerService } from './worker-service';

/** A service operations watch, by the short name its alarms use. */
export interface WatchedService {
  readonly name: 'web' | 'worker';
  readonly service: ecs.FargateService;
}

/** What the operations tier watches of the app tier; the ops stack takes this, not the stack. */
export interface AppTier {
  readonly cluster: ecs.ICluster;
  readonly loadBalancer: elbv2.ApplicationLoadBalancer;
  /** The web and the worker service. */
  readonly services: readonly WatchedService[];
  /** The web service's alarms that roll a deployment back (they notify the topic from here). */
  readonly deploymentAlarms: WebDeploymentAlarms;
  /** A load-balancer metric of the web targets, over both target groups where traffic shifts (WebService.targetMetric). */
  targetMetric(metricName: string, options?: cloudwatch.MetricOptions): cloudwatch.IMetric;
  /** Metric name of the web ACL in front of the load balancer (its metrics' WebACL dimension), where there is one. */
  readonly webAclMetricName?: string;
  /** The stage sends email through SES (it has a domain). */
  readonly sendsEmail: boolean;
}

export interface AppStackProps extends StageStackProps {
  readonly network: NetworkTier;
  readonly data: DataTier;
  /** The stage's alarm topic: the web service's deployment alarms notify it from here. */
  readonly alarmTopic: sns.ITopic;
  /** The DR-region key pre-deploy snapshots are copied with, where backups are copied. */
  readonly drBackupKey?: kms.IKey;
  /** The switches of this deploy (-c skipPreDeploySnapshot). */
  readonly deploy: DeployOptions;
  /** The rules of a web ACL on the load balancer, where the stage has a WAF and no CloudFront in front. @default no web ACL here */
  readonly waf?: WafRules;
}

/**
 * The stage's stateless tier: the ECS cluster, the web service behind the load balancer (with the
 * WAF where configured), the BullMQ worker from the same image, and SES for the stage's domain.
 * Everything here can be replaced without losing data.
 *
 * The constructor reads top to bottom as the tier is built: front door, email, the release's
 * tasks (release-tasks.ts), how a release reaches the web tasks (web-deployment.ts), the
 * services, the steps around them (release-steps.ts: pre-deploy snapshot, migration, record) and
 * the network paths to the data tier. Those concerns build into this stack's scope, so moving
 * them out of it changed no construct path and no logical id.
 */
export class AppStack extends StageStack implements AppTier {
  readonly cluster: ecs.Cluster;
  readonly web: WebService;
  readonly worker: WorkerService;
  readonly loadBalancer: elbv2.ApplicationLoadBalancer;
  /** The load balancer construct: listener, certificate, records. */
  readonly frontDoor: LoadBalancer;
  readonly email?: Email;
  readonly waf?: Waf;
  /** The release's task definitions: web, worker, and the migration where there is one. */
  readonly tasks: ReleaseTasks;
  /** The smoke test and traffic shift of each release, where the strategy is not rolling. */
  readonly trafficShift?: TrafficShift;
  /** The pre-deploy snapshot, the migration and the record of each release. */
  readonly release: ReleaseSteps;
  /** The cache AUTH token's rotation, which restarts both services onto each new token. */
  readonly cacheTokenRotation: CacheTokenRotation;
  readonly services: readonly WatchedService[];
  readonly deploymentAlarms: WebDeploymentAlarms;
  readonly webAclMetricName?: string;
  readonly sendsEmail: boolean;

  constructor(scope: Construct, id: string, props: AppStackProps) {
    super(scope, id, props);
    const { network, data } = props;
    const { name, app, image } = this.config;
    const logs = { logsKey: network.logsKey, logRetention: this.logRetention, logRemovalPolicy: this.statefulRemovalPolicy };

    const exec = app.enableExecuteCommand ? new ExecSessions(this, 'Exec', { stage: name, ...logs }) : undefined;
    this.cluster = new ecs.Cluster(this, 'Cluster', {
      vpc: network.vpc,
      containerInsightsV2: ecs.ContainerInsights.ENHANCED,
      enableFargateCapacityProviders: true,
      // Where shells into tasks are allowed, every session is encrypted with its own key and
      // its commands and output are written to an encrypted log group (who ran what, for audits).
      ...(exec ? { executeCommandConfiguration: exec.configuration } : {}),
    });
    acknowledgeControl(
      this.cluster,
      'ecs_container_insights_enabled_check',
      'Container Insights is on with enhanced observability ("enhanced"); the rule accepts only the value "enabled", the older level.',
    );

    // The load balancer (HTTPS where the stage has a domain) and the web ACL on it, where the
    // stage has one here; behind CloudFront the load balancer is internal and the WAF is the distribution's.
    const { httpAllowedCidrs = [], loadBalancerDeletionProtection: deletionProtection } = app;
    const behindCloudFront = this.config.edge.enabled;
    this.frontDoor = new LoadBalancer(this, 'LoadBalancer', {
      vpc: network.vpc,
      accessLogBucket: data.uploads.accessLogs,
      domain: network.site,
      deletionProtection,
      httpAllowedCidrs,
      behindCloudFront,
    });
    this.loadBalancer = this.frontDoor.alb;
    if (props.waf) {
      this.waf = new Waf(this, 'Waf', { name: stageResourceName(name), scope: 'REGIONAL', loadBalancerArn: this.loadBalancer.loadBalancerArn, ...props.waf, ...logs });
    } else {
      Validations.of(this.loadBalancer.node.defaultChild!).acknowledge({
        id: 'NIST.800.53.R5-ALBWAFEnabled',
        reason:
          app.waf && behindCloudFront
            ? 'The web ACL sits on the CloudFront distribution (edge stack), the only way to this internal load balancer.'
            : `No WAF by configuration in ${name} (app.waf: false, cost); the config schema requires it in prod.`,
      });
    }
    // SES for the stage's domain, its event notifications encrypted with a key of their own.
    if (network.zone) {
      const key = new ServiceKey(this, 'EventsKey', { description: `${name}: SES event notifications`, services: ['sns'], removalPolicy: this.statefulRemovalPolicy }).key;
      const { dmarcPolicy, dmarcReportsTo } = this.config.email;
      this.email = new Email(this, 'Email', { zone: network.zone, key, dmarcPolicy, dmarcReportsTo });
    }

    const { web, worker } = this.config;
    this.tasks = new ReleaseTasks(this, {
      stage: name,
      repositoryName: image.repositoryName,
      imageTag: image.tag,
      logLevel: app.logLevel,
      containerPort: app.containerPort,
      livenessPath: app.livenessPath,
      web,
      worker,
      workerCommand: app.workerCommand,
      workerStopTimeoutSeconds: app.workerStopTimeoutSeconds,
      migrationCommand: app.migrationCommand,
      enableExecuteCommand: app.enableExecuteCommand,
      runtimeMonitoringAgent: this.config.baseline.guardDuty.runtimeMonitoring,
      tracingSampleRatio: app.tracing.enabled ? app.tracing.sampleRatio : undefined,
      publishQueueMetrics: this.config.operations.queueMetrics,
      data,
      email: this.email,
      ...logs,
    });
    // Rolling replaces the web tasks in place; the other strategies shift traffic behind a smoke test.
    const { deployment, readinessPath } = app;
    const { strategy } = deployment;
    this.trafficShift =
      strategy === 'rolling' ? undefined : new TrafficShift(this, { vpc: network.vpc, stage: name, frontDoor: this.frontDoor, ...deployment, strategy, readinessPath, ...logs });
    const { enableExecuteCommand, containerPort } = app;
    const { p99LatencySeconds } = this.config.operations;
    const listener = this.frontDoor.listener;
    this.web = new WebService(this, 'Web', {
      cluster: this.cluster,
      task: this.tasks.web,
      containerPort,
      ...web,
      enableExecuteCommand,
      listener,
      loadBalancer: this.loadBalancer,
      readinessPath,
      p99LatencySeconds,
      trafficShift: this.trafficShift,
    });
    const notify = new AlarmSet(name, props.alarmTopic);
    for (const alarm of Object.values(this.web.deploymentAlarms)) notify.notify(alarm);
    this.worker = new WorkerService(this, 'Worker', { cluster: this.cluster, task: this.tasks.worker, ...worker, enableExecuteCommand });
    if (exec) for (const task of [this.tasks.web, this.tasks.worker]) task.acknowledgeExecGrants(exec.logGroup);

    const services = [this.web.service, this.worker.service];
    this.release = new ReleaseSteps(this, {
      vpc: network.vpc,
      stage: name,
      cluster: this.cluster,
      tasks: this.tasks,
      services,
      database: data.database,
      image: imageReference(image),
      imageTag: image.tag,
      snapshotsKept: this.config.backup.preDeploySnapshotsKept,
      snapshotCopy: props.drBackupKey ? { region: this.config.drRegion, keyArn: props.drBackupKey.keyArn } : undefined,
      skipSnapshot: props.deploy.skipPreDeploySnapshot,
      migrationTimeoutMinutes: app.migrationTimeoutMinutes,
      ...logs,
    });
    // The services' paths to the database and the cache. allowTo writes the ingress rules on the
    // database and cache groups into this stack, which already depends on the data stack
    // (allowFrom would write them there: a cycle).
    for (const service of services) {
      service.connections.allowToDefaultPort(data.database, `${service.node.scope?.node.id} service`);
      service.connections.allowToDefaultPort(data.cache, `${service.node.scope?.node.id} service`);
    }
    this.cacheTokenRotation = new CacheTokenRotation(this, 'CacheTokenRotation', { vpc: network.vpc, stage: name, cache: data.cache, cluster: this.cluster, services, ...logs });
    this.addOutputs();

    this.services = [
      { name: 'web', service: this.web.service },
      { name: 'worker', service: this.worker.service },
    ];
    this.deploymentAlarms = this.web.deploymentAlarms;
    this.webAclMetricName = this.waf?.metricName;
    this.sendsEmail = this.email !== undefined;
  }

  targetMetric(metricName: string, options?: cloudwatch.MetricOptions): cloudwatch.IMetric {
    return this.web.targetMetric(metricName, options);
  }

  /** What runbooks and scripts read of the tier: names and URLs, and the log groups by name (CloudFormation generates them). */
  private addOutputs(): void {
    const output = (id: string, value: string | undefined, description?: string) => value && new CfnOutput(this, id, { value, description });
    // Behind CloudFront without a domain the site's URL is the distribution's: the edge stack's output.
    output('SiteUrl', this.frontDoor.url);
    output('AlbDnsName', this.loadBalancer.loadBalancerDnsName);
    output('ClusterName', this.cluster.clusterName);
    output('WebServiceName', this.web.service.serviceName);
    output('WorkerServiceName', this.worker.service.serviceName);
    const { web, worker, migration } = this.tasks;
    new LogQueries(this, 'LogQueries', { folder: stageResourceName(this.config.name), web: web.logGroup, worker: worker.logGroup });
    output('WebLogGroup', web.logGroup.logGroupName, 'Logs of the web tasks');
    output('WorkerLogGroup', worker.logGroup.logGroupName, 'Logs of the worker tasks');
    output('MigrationLogGroup', migration?.logGroup.logGroupName, 'Logs of the release migrations');
    const [snapshotStart, snapshotPoll] = this.release.preDeploySnapshot.functions;
    output('PreDeploySnapshotLogGroup', snapshotStart.logGroup.logGroupName, 'Logs of the pre-deploy snapshots: starting one');
    output('PreDeploySnapshotPollLogGroup', snapshotPoll.logGroup.logGroupName, 'Logs of the pre-deploy snapshots: waiting for one, copying, pruning');
    const rotation = 'Rotates the cache AUTH token; invoke with {"action":"settle"} to finish a rotation now';
    output('CacheTokenRotationFunctionName', this.cacheTokenRotation.function.fn.functionName, rotation);
    output('SmokeTestLogGroup', this.trafficShift?.smokeTest.function.logGroup.logGroupName, 'Logs of the release smoke tests');
  }
}
