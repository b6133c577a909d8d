import { CfnOutput } from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as ecs from 'aws-cdk-lib/aws-ecs';
import type * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type { Construct } from 'constructs';
import { type DeployOptions, imageReference, type StageConfig } from '../config';
import type { DataTier } from '../data/data-stack';
import type { WafRules } from '../edge/waf';
import type { NetworkTier } from '../network/network-stack';
import { type AlarmRoutes, AlarmSet } from '../shared/alarm-set';
import type { LogSettings } from '../shared/log-group';
import { StageStack, type StageStackProps } from '../shared/stage-stack';
import { CacheTokenRotation } from './cache-token-rotation';
import { appCluster } from './cluster';
import { type Email, stageEmail } from './email';
import { FrontDoor } from './front-door';
import { ReleaseSteps } from './release-steps';
import { ReleaseTasks, type ReleaseTasksProps } from './release-tasks';
import { type TrafficShift, trafficShiftFor } from './web-deployment';
import { notifyDeploymentAlarms, type WebDeploymentAlarms, WebService } from './web-service';
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
  /** The web service's alarms that roll a deployment back (they notify their routes from here). */
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
  /** The stage's routes: the web service's deployment alarms notify them from here. */
  readonly alarmRoutes: AlarmRoutes;
  /** The DR-region key pre-deploy snapshots are copied with, where backups are copied. */
  readonly drBackupKey?: kms.IKey;
  /** The switches of this deploy (-c skipPreDeploySnapshot). */
  readonly deploy: DeployOptions;
  /** The rules of a web ACL on the load balancer, where the stage has a WAF and no CloudFront in front. @default no web ACL here */
  readonly waf?: WafRules;
}

/**
 * The release's task settings from the stage config (the image, sizes, commands, agents): one
 * reading for the app tier and the DR app tier, so a failover runs the tasks the primary runs.
 */
export function releaseTaskSettings(config: StageConfig): Omit<ReleaseTasksProps, 'data' | 'email' | 'migrationCommand' | keyof LogSettings> {
  const { name, app, image, web, worker } = config;
  return {
    stage: name,
    image,
    logLevel: app.logLevel,
    web: { ...web, containerPort: app.containerPort, livenessPath: app.livenessPath },
    worker: { ...worker, command: app.workerCommand, stopTimeoutSeconds: app.workerStopTimeoutSeconds },
    enableExecuteCommand: app.enableExecuteCommand,
    runtimeMonitoringAgent: config.baseline.guardDuty.runtimeMonitoring,
    tracingSampleRatio: app.tracing.enabled ? app.tracing.sampleRatio : undefined,
  };
}

/**
 * The stage's stateless tier: the ECS cluster, the web service behind the load balancer (with the
 * WAF where configured), the BullMQ worker from the same image, and SES for the stage's domain.
 * Everything here can be replaced without losing data. It composes, in the order the tier is
 * built: cluster, front door, email, the release's tasks, how a release reaches the web tasks
 * (web-deployment.ts), the services, the steps around them (release-steps.ts) and the paths to
 * the data tier. Each concern builds into this stack's scope, where its resources' ids are.
 */
export class AppStack extends StageStack implements AppTier {
  readonly cluster: ecs.Cluster;
  readonly web: WebService;
  readonly worker: WorkerService;
  readonly loadBalancer: elbv2.ApplicationLoadBalancer;
  /** The load balancer (listener, certificate, records) and the web ACL on it, where there is one. */
  readonly frontDoor: FrontDoor;
  readonly email?: Email;
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
    const { name, app, image, web, worker, operations } = this.config;
    const { vpc } = network;
    const logs = { logsKey: network.logsKey, logRetention: this.logRetention, logRemovalPolicy: this.statefulRemovalPolicy };

    const { cluster, exec } = appCluster(this, { vpc, stage: name, enableExecuteCommand: app.enableExecuteCommand, ...logs });
    this.cluster = cluster;
    this.frontDoor = new FrontDoor(this, {
      vpc,
      accessLogBucket: data.uploads.accessLogs,
      domain: network.site,
      deletionProtection: app.loadBalancerDeletionProtection,
      httpAllowedCidrs: app.httpAllowedCidrs ?? [],
      behindCloudFront: this.config.edge.enabled,
      stage: name,
      waf: props.waf,
      isWafOnDistribution: app.waf && this.config.edge.enabled,
      ...logs,
    });
    this.loadBalancer = this.frontDoor.loadBalancer.alb;
    const { dmarcPolicy, dmarcReportsTo } = this.config.email;
    if (network.zone) this.email = stageEmail(this, { zone: network.zone, stage: name, removalPolicy: this.statefulRemovalPolicy, dmarcPolicy, dmarcReportsTo });

    this.tasks = new ReleaseTasks(this, {
      ...releaseTaskSettings(this.config),
      migrationCommand: app.migrationCommand,
      data,
      email: this.email,
      ...logs,
    });
    const { loadBalancer } = this.frontDoor;
    const { readinessPath } = app;
    this.trafficShift = trafficShiftFor(this, { vpc, stage: name, loadBalancer, ...app.deployment, readinessPath, ...logs });
    this.web = new WebService(this, 'Web', {
      cluster,
      task: this.tasks.web,
      containerPort: app.containerPort,
      ...web,
      enableExecuteCommand: app.enableExecuteCommand,
      listener: loadBalancer.listener,
      loadBalancerFullName: this.loadBalancer.loadBalancerFullName,
      readinessPath,
      p99LatencySeconds: operations.p99LatencySeconds,
      trafficShift: this.trafficShift,
    });
    const notify = new AlarmSet(name, props.alarmRoutes);
    notifyDeploymentAlarms(notify, this.web.deploymentAlarms);
    this.worker = new WorkerService(this, 'Worker', { cluster, task: this.tasks.worker, ...worker, enableExecuteCommand: app.enableExecuteCommand });
    if (exec) for (const task of [this.tasks.web, this.tasks.worker]) task.acknowledgeExecGrants(exec.logGroup);

    const services = [this.web.service, this.worker.service];
    this.release = new ReleaseSteps(this, {
      vpc,
      stage: name,
      cluster,
      tasks: this.tasks,
      services,
      database: data.database,
      image: imageReference(image),
      imageTag: image.tag,
      snapshotsKept: this.config.backup.preDeploySnapshotsKept,
      snapshotCopy: props.drBackupKey ? { region: this.config.drRegion, keyArn: props.drBackupKey.keyArn } : undefined,
      skipSnapshot: props.deploy.skipPreDeploySnapshot,
      commit: props.deploy.commit,
      repositoryName: image.repositoryName,
      migrationTimeoutMinutes: app.migrationTimeoutMinutes,
      ...logs,
    });
    // The services' paths to the database and the cache. allowTo writes the ingress rules on the
    // database and cache groups into this stack, which already depends on the data stack
    // (allowFrom would write them there: a cycle).
    for (const service of services) for (const store of [data.database, data.cache]) service.connections.allowToDefaultPort(store, `${service.node.scope?.node.id} service`);
    this.cacheTokenRotation = new CacheTokenRotation(this, 'CacheTokenRotation', { vpc, stage: name, cache: data.cache, cluster, services, ...logs });

    // What runbooks and scripts read. The concerns add their outputs here, not as they are built:
    // the template lists outputs in the order they are created. Behind CloudFront without a domain
    // the site's URL is the distribution's (the edge stack's output).
    if (loadBalancer.url) new CfnOutput(this, 'SiteUrl', { value: loadBalancer.url });
    new CfnOutput(this, 'AlbDnsName', { value: this.loadBalancer.loadBalancerDnsName });
    new CfnOutput(this, 'ClusterName', { value: cluster.clusterName });
    new CfnOutput(this, 'WebServiceName', { value: this.web.service.serviceName });
    new CfnOutput(this, 'WorkerServiceName', { value: this.worker.service.serviceName });
    this.tasks.addOutputs();
    this.release.addOutputs();
    const rotates = 'Rotates the cache AUTH token; invoke with {"action":"settle"} to finish a rotation now';
    new CfnOutput(this, 'CacheTokenRotationFunctionName', { value: this.cacheTokenRotation.function.fn.functionName, description: rotates });
    this.trafficShift?.addOutputs();

    this.services = (['web', 'worker'] as const).map((name) => ({ name, service: this[name].service }));
    this.deploymentAlarms = this.web.deploymentAlarms;
    this.webAclMetricName = this.frontDoor.waf?.metricName;
    this.sendsEmail = this.email !== undefined;
  }

  targetMetric(metricName: string, options?: cloudwatch.MetricOptions): cloudwatch.IMetric {
    return this.web.targetMetric(metricName, options);
  }
}
