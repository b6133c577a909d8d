import { CfnOutput, Duration, Validations } from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import type * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as route53 from 'aws-cdk-lib/aws-route53';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type { Construct } from 'constructs';
import { DATABASE_ROLES } from '../../lambda/database-setup/roles';
import { type DeployOptions, imageReference } from '../config';
import type { DataTier } from '../data/data-stack';
import { DATABASE_NAME, DATABASE_PORT } from '../data/database';
import { Waf, type WafRules } from '../edge/waf';
import type { NetworkTier } from '../network/network-stack';
import { AlarmSet } from '../shared/alarm-set';
import { acknowledgeControl } from '../shared/control-tower-checks';
import { type LogSettings, stageLogGroup } from '../shared/log-group';
import { PROJECT, QUEUE_METRICS_NAMESPACE, stageResourceName } from '../shared/naming';
import { ServiceKey } from '../shared/service-key';
import { StageStack, type StageStackProps } from '../shared/stage-stack';
import { AppTask } from './app-task';
import { CacheTokenRotation } from './cache-token-rotation';
import { DatabaseMigration } from './database-migration';
import { Email } from './email';
import { ExecSessions } from './exec-sessions';
import { LoadBalancer } from './load-balancer';
import { LogQueries } from './log-queries';
import { PreDeploySnapshot } from './pre-deploy-snapshot';
import { ReleaseRecord } from './release-record';
import type { SmokeTest } from './smoke-test';
import { TrafficShift } from './web-deployment';
import { type WebDeploymentAlarms, WebService } from './web-service';
import { WorkerService } from './worker-service';

/** The task definitions of one release: the two services' and the migration's, where there is one. */
interface ReleaseTasks {
  readonly web: AppTask;
  readonly worker: AppTask;
  readonly migration?: AppTask;
}

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
 * The constructor reads top to bottom as the tier is built: front door, email, the tasks
 * (environment, secrets, grants), the services, the pre-deploy snapshot and the migration they
 * wait for, and the network paths to the data tier. Every construct is created in this stack's
 * scope, so splitting the steps into methods changed no construct path and no logical id.
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
  readonly preDeploySnapshot: PreDeploySnapshot;
  /** The release's schema migration, where app.migrationCommand is set. */
  readonly migration?: DatabaseMigration;
  /** The record of each release that reached both services (metric and event). */
  readonly releaseRecord: ReleaseRecord;
  /** The smoke test of each release, where traffic shifts (app.deployment.strategy other than rolling). */
  readonly smokeTest?: SmokeTest;
  /** The cache AUTH token's rotation, which restarts both services onto each new token. */
  readonly cacheTokenRotation: CacheTokenRotation;
  private readonly logs: LogSettings;

  constructor(scope: Construct, id: string, props: AppStackProps) {
    super(scope, id, props);
    const { network, data } = props;
    const { name, app } = this.config;
    this.logs = { logsKey: network.logsKey, logRetention: this.logRetention, logRemovalPolicy: this.statefulRemovalPolicy };

    const exec = app.enableExecuteCommand ? new ExecSessions(this, 'Exec', { stage: name, ...this.logs }) : undefined;
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

    ({ frontDoor: this.frontDoor, waf: this.waf } = this.buildFrontDoor(network, data, props.waf));
    this.loadBalancer = this.frontDoor.alb;
    if (network.zone) this.email = this.buildEmail(network.zone);

    const tasks = this.buildTasks(data, network.zone);
    // Rolling replaces the web tasks in place; the other strategies shift traffic behind a smoke test.
    const { deployment } = app;
    const trafficShift =
      deployment.strategy === 'rolling'
        ? undefined
        : new TrafficShift(this, {
            vpc: network.vpc,
            stage: name,
            frontDoor: this.frontDoor,
            ...deployment,
            strategy: deployment.strategy,
            readinessPath: app.readinessPath,
            ...this.logs,
          });
    this.smokeTest = trafficShift?.smokeTest;
    this.web = new WebService(this, 'Web', {
      cluster: this.cluster,
      task: tasks.web,
      containerPort: app.containerPort,
      ...this.config.web,
      enableExecuteCommand: app.enableExecuteCommand,
      listener: this.frontDoor.listener,
      loadBalancer: this.loadBalancer,
      readinessPath: app.readinessPath,
      p99LatencySeconds: this.config.operations.p99LatencySeconds,
      trafficShift,
    });
    const notify = new AlarmSet(name, props.alarmTopic);
    for (const alarm of Object.values(this.web.deploymentAlarms)) notify.notify(alarm);
    this.worker = new WorkerService(this, 'Worker', { cluster: this.cluster, task: tasks.worker, ...this.config.worker, enableExecuteCommand: app.enableExecuteCommand });
    if (exec) for (const task of [tasks.web, tasks.worker]) task.acknowledgeExecGrants(exec.logGroup);

    this.preDeploySnapshot = this.buildPreDeploySnapshot(network, data, tasks, props);
    if (tasks.migration) this.migration = this.buildMigration(network, data, tasks.migration);
    this.connectToData(data);
    this.releaseRecord = this.buildReleaseRecord(network);
    this.cacheTokenRotation = new CacheTokenRotation(this, 'CacheTokenRotation', {
      vpc: network.vpc,
      stage: name,
      cache: data.cache,
      cluster: this.cluster,
      services: [this.web.service, this.worker.service],
      ...this.logs,
    });

    // Behind CloudFront without a domain the site's URL is the distribution's: the edge stack's output.
    if (this.frontDoor.url) new CfnOutput(this, 'SiteUrl', { value: this.frontDoor.url });
    new CfnOutput(this, 'AlbDnsName', { value: this.loadBalancer.loadBalancerDnsName });
    new CfnOutput(this, 'ClusterName', { value: this.cluster.clusterName });
    new CfnOutput(this, 'WebServiceName', { value: this.web.service.serviceName });
    new CfnOutput(this, 'WorkerServiceName', { value: this.worker.service.serviceName });
    // The log groups the runbooks send people to, by name (CloudFormation generates the names).
    new LogQueries(this, 'LogQueries', { folder: stageResourceName(this.config.name), web: tasks.web.logGroup, worker: tasks.worker.logGroup });
    new CfnOutput(this, 'WebLogGroup', { value: tasks.web.logGroup.logGroupName, description: 'Logs of the web tasks' });
    new CfnOutput(this, 'WorkerLogGroup', { value: tasks.worker.logGroup.logGroupName, description: 'Logs of the worker tasks' });
    if (tasks.migration) new CfnOutput(this, 'MigrationLogGroup', { value: tasks.migration.logGroup.logGroupName, description: 'Logs of the release migrations' });
    const [snapshotStart, snapshotPoll] = this.preDeploySnapshot.functions;
    new CfnOutput(this, 'PreDeploySnapshotLogGroup', { value: snapshotStart.logGroup.logGroupName, description: 'Logs of the pre-deploy snapshots: starting one' });
    new CfnOutput(this, 'PreDeploySnapshotPollLogGroup', {
      value: snapshotPoll.logGroup.logGroupName,
      description: 'Logs of the pre-deploy snapshots: waiting for one, copying, pruning',
    });
    new CfnOutput(this, 'CacheTokenRotationFunctionName', {
      value: this.cacheTokenRotation.function.fn.functionName,
      description: 'Rotates the cache AUTH token; invoke with {"action":"settle"} to finish a rotation now',
    });
    if (this.smokeTest) new CfnOutput(this, 'SmokeTestLogGroup', { value: this.smokeTest.function.logGroup.logGroupName, description: 'Logs of the release smoke tests' });
  }

  get services(): readonly WatchedService[] {
    return [
      { name: 'web', service: this.web.service },
      { name: 'worker', service: this.worker.service },
    ];
  }

  get deploymentAlarms(): WebDeploymentAlarms {
    return this.web.deploymentAlarms;
  }

  targetMetric(metricName: string, options?: cloudwatch.MetricOptions): cloudwatch.IMetric {
    return this.web.targetMetric(metricName, options);
  }

  get webAclMetricName(): string | undefined {
    return this.waf?.metricName;
  }

  get sendsEmail(): boolean {
    return this.email !== undefined;
  }

  /**
   * The load balancer (HTTPS where the stage has a domain) and the WAF in front of it, where
   * configured; behind CloudFront the load balancer is internal and the WAF is the distribution's.
   */
  private buildFrontDoor(network: NetworkTier, data: DataTier, wafRules?: WafRules): { frontDoor: LoadBalancer; waf?: Waf } {
    const { app } = this.config;
    const frontDoor = new LoadBalancer(this, 'LoadBalancer', {
      vpc: network.vpc,
      accessLogBucket: data.uploads.accessLogs,
      domain: network.site,
      deletionProtection: app.loadBalancerDeletionProtection,
      httpAllowedCidrs: app.httpAllowedCidrs ?? [],
      behindCloudFront: this.config.edge.enabled,
    });
    if (app.waf && this.config.edge.enabled) {
      Validations.of(frontDoor.alb.node.defaultChild!).acknowledge({
        id: 'NIST.800.53.R5-ALBWAFEnabled',
        reason: 'The web ACL sits on the CloudFront distribution (edge stack), the only way to this internal load balancer.',
      });
      return { frontDoor };
    }
    if (wafRules) {
      const waf = new Waf(this, 'Waf', {
        name: stageResourceName(this.config.name),
        scope: 'REGIONAL',
        loadBalancerArn: frontDoor.alb.loadBalancerArn,
        ...wafRules,
        ...this.logs,
      });
      return { frontDoor, waf };
    }
    Validations.of(frontDoor.alb.node.defaultChild!).acknowledge({
      id: 'NIST.800.53.R5-ALBWAFEnabled',
      reason: `No WAF by configuration in ${this.config.name} (app.waf: false, cost); the config schema requires it in prod.`,
    });
    return { frontDoor };
  }

  /** SES for the stage's domain, its event notifications encrypted with a key of their own. */
  private buildEmail(zone: route53.IPublicHostedZone): Email {
    const eventsKey = new ServiceKey(this, 'EventsKey', {
      description: `${this.config.name}: SES event notifications`,
      services: ['sns'],
      removalPolicy: this.statefulRemovalPolicy,
    }).key;
    const { dmarcPolicy, dmarcReportsTo } = this.config.email;
    return new Email(this, 'Email', { zone, key: eventsKey, dmarcPolicy, dmarcReportsTo });
  }

  /**
   * The web and worker tasks of the one release image: their environment (no password: the app
   * signs IAM tokens for the database), the cache AUTH token as a secret, and their grants.
   */
  private buildTasks(data: DataTier, zone?: route53.IPublicHostedZone): ReleaseTasks {
    const { name, app, web, worker, image } = this.config;
    // One image for both services, by tag or digest (-c imageTag=... per deploy).
    const repository = ecr.Repository.fromRepositoryName(this, 'Repository', image.repositoryName);
    const containerImage = ecs.ContainerImage.fromEcrRepository(repository, image.tag);
    const environment: Record<string, string> = {
      NODE_ENV: 'production',
      STAGE: name,
      LOG_LEVEL: app.logLevel,
      PORT: String(app.containerPort),
      DATABASE_HOST: data.database.instance.dbInstanceEndpointAddress,
      DATABASE_PORT: String(DATABASE_PORT),
      DATABASE_NAME,
      // No password: the app signs an IAM token as this user for each new connection
      // (docs/architecture.md, "Database access"), so the master secret's rotation never reaches it.
      DATABASE_USER: DATABASE_ROLES.app,
      DATABASE_AUTH: 'iam',
      AWS_REGION: this.region,
      // TLS to Valkey; the AUTH token comes as a secret.
      REDIS_URL: `rediss://${data.cache.endpointAddress}:${data.cache.port}`,
      UPLOADS_BUCKET: data.uploads.bucket.bucketName,
      ...(this.email && zone ? { SES_CONFIGURATION_SET: this.email.configurationSet.configurationSetName, MAIL_FROM_DOMAIN: zone.zoneName } : {}),
    };
    // The AUTH token lives in the data stack, encrypted with the cache key. Referenced with its
    // key, CDK would write this stack's execution roles into that key policy: the data stack would
    // then depend on this one (a cycle). So it is referenced by ARN alone, and the roles get
    // kms:Decrypt on their own side below; the key policy already admits the account through
    // Secrets Manager. ECS reads it when a task starts: each rotation restarts both services
    // (CacheTokenRotation below).
    const authToken = secretsmanager.Secret.fromSecretCompleteArn(this, 'CacheAuthToken', data.cache.authToken.secretArn);
    const secrets = { REDIS_AUTH_TOKEN: ecs.Secret.fromSecretsManager(authToken) };
    const shared = {
      image: containerImage,
      environment,
      secrets,
      enableExecuteCommand: app.enableExecuteCommand,
      runtimeMonitoringAgent: this.config.baseline.guardDuty.runtimeMonitoring,
      ...this.logs,
    };

    // The app's OpenTelemetry metrics, as the collectors' EMF events (app.tracing).
    const metricsLogGroup = app.tracing.enabled ? stageLogGroup(this, 'AppMetricsLogs', this.logs) : undefined;
    const tracing = (service: 'web' | 'worker') =>
      metricsLogGroup ? { tracing: { serviceName: `${PROJECT}-${service}`, stage: name, version: image.tag, sampleRatio: app.tracing.sampleRatio, metricsLogGroup } } : {};
    const webTask = new AppTask(this, 'WebTask', {
      cpu: web.cpu,
      memoryLimitMiB: web.memoryLimitMiB,
      containerPort: app.containerPort,
      // Node has fetch built in, so the image needs no curl; the exec form needs no shell either
      // (distroless images have none).
      healthCheck: {
        command: ['CMD', 'node', '-e', `fetch('http://127.0.0.1:${app.containerPort}${app.livenessPath}').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))`],
        interval: Duration.seconds(30),
        timeout: Duration.seconds(5),
        retries: 3,
        startPeriod: Duration.seconds(30),
      },
      ...shared,
      ...tracing('web'),
    });
    const workerTask = new AppTask(this, 'WorkerTask', {
      cpu: worker.cpu,
      memoryLimitMiB: worker.memoryLimitMiB,
      command: app.workerCommand,
      stopTimeout: Duration.seconds(app.workerStopTimeoutSeconds),
      ...shared,
      ...tracing('worker'),
    });

    for (const task of [webTask, workerTask]) {
      task.taskDefinition.obtainExecutionRole().addToPrincipalPolicy(
        new iam.PolicyStatement({
          actions: ['kms:Decrypt'],
          resources: [data.cache.authToken.encryptionKey!.keyArn],
          conditions: { StringEquals: { 'kms:ViaService': `secretsmanager.${this.region}.amazonaws.com` } },
        }),
      );
      const role = task.taskDefinition.taskRole;
      role.addManagedPolicy(data.database.connectPolicy(DATABASE_ROLES.app));
      role.addManagedPolicy(data.uploads.objectAccessPolicy);
      if (this.email) role.addManagedPolicy(this.email.sendPolicy);
    }
    if (this.config.operations.queueMetrics) {
      // The worker reports its queues (docs/architecture.md, "What the worker publishes"); only into their namespace.
      workerTask.taskDefinition.taskRole.addToPrincipalPolicy(
        new iam.PolicyStatement({
          sid: 'PublishTheQueueMetrics',
          actions: ['cloudwatch:PutMetricData'],
          resources: ['*'],
          conditions: { StringEquals: { 'cloudwatch:namespace': QUEUE_METRICS_NAMESPACE } },
        }),
      );
      const policy = workerTask.taskDefinition.taskRole.node.findChild('DefaultPolicy');
      Validations.of(policy).acknowledge({
        id: 'AwsSolutions-IAM5[Resource::*]',
        reason: `cloudwatch:PutMetricData has no resource-level permissions; the cloudwatch:namespace condition holds it to ${QUEUE_METRICS_NAMESPACE}.`,
      });
      Validations.of(policy).acknowledge({
        id: 'NIST.800.53.R5-IAMNoInlinePolicy',
        reason: 'One conditioned statement written by CDK as the task role inline default policy; the app permissions are managed policies.',
      });
    }
    // The migration: same image and settings, its own command, logged in as the migration role
    // (it owns the app schema); it needs neither the cache nor the bucket.
    const migrationTask = app.migrationCommand
      ? new AppTask(this, 'MigrationTask', {
          cpu: worker.cpu,
          memoryLimitMiB: worker.memoryLimitMiB,
          image: containerImage,
          command: app.migrationCommand,
          environment: { ...environment, DATABASE_USER: DATABASE_ROLES.migrator },
          secrets: {},
          runtimeMonitoringAgent: shared.runtimeMonitoringAgent,
          ...this.logs,
        })
      : undefined;
    migrationTask?.taskDefinition.taskRole.addManagedPolicy(data.database.connectPolicy(DATABASE_ROLES.migrator));
    return { web: webTask, worker: workerTask, migration: migrationTask };
  }

  /** The snapshot of the database every service waits for before this release reaches it. */
  private buildPreDeploySnapshot(network: NetworkTier, data: DataTier, tasks: ReleaseTasks, props: AppStackProps): PreDeploySnapshot {
    const { name, image, backup, drRegion } = this.config;
    const snapshot = new PreDeploySnapshot(this, 'PreDeploySnapshot', {
      vpc: network.vpc,
      stage: name,
      databaseIdentifier: data.database.instance.instanceIdentifier,
      databaseArn: data.database.instance.instanceArn,
      databaseKeyArn: data.database.key.keyArn,
      cluster: this.cluster,
      webTaskDefinition: tasks.web.taskDefinition,
      taskDefinitions: [tasks.web, tasks.worker, ...(tasks.migration ? [tasks.migration] : [])].map((t) => t.taskDefinition),
      image: imageReference(image),
      imageTag: image.tag,
      keep: backup.preDeploySnapshotsKept,
      dr: props.drBackupKey ? { region: drRegion, keyArn: props.drBackupKey.keyArn } : undefined,
      isSkipped: props.deploy.skipPreDeploySnapshot,
      ...this.logs,
    });
    // The capacity providers must be associated with the cluster before a service names one;
    // CloudFormation does not know that on its own (the snapshot hid it, except with -c
    // skipPreDeploySnapshot). The association is created at synth, so the dependency is on the
    // whole cluster construct, which CDK expands to every resource in it then.
    for (const service of [this.web.service, this.worker.service]) {
      service.node.addDependency(snapshot.resource);
      service.node.addDependency(this.cluster);
    }
    return snapshot;
  }

  /**
   * The release's migration: after the snapshot (a half-applied migration can be undone from it),
   * before both services (new code serves only a migrated schema).
   */
  private buildMigration(network: NetworkTier, data: DataTier, task: AppTask): DatabaseMigration {
    const migration = new DatabaseMigration(this, 'Migration', {
      vpc: network.vpc,
      stage: this.config.name,
      cluster: this.cluster,
      task,
      database: data.database,
      release: this.preDeploySnapshot.release,
      timeoutMinutes: this.config.app.migrationTimeoutMinutes,
      ...this.logs,
    });
    migration.resource.node.addDependency(this.preDeploySnapshot.resource);
    migration.resource.node.addDependency(this.cluster);
    for (const service of [this.web.service, this.worker.service]) service.node.addDependency(migration.resource);
    return migration;
  }

  /** The record of the release, written once both services run it (CloudFormation waits for them to be stable). */
  private buildReleaseRecord(network: NetworkTier): ReleaseRecord {
    const record = new ReleaseRecord(this, 'ReleaseRecord', {
      vpc: network.vpc,
      stage: this.config.name,
      release: this.preDeploySnapshot.release,
      image: imageReference(this.config.image),
      snapshotId: this.preDeploySnapshot.resource.getAttString('SnapshotId'),
      migration: this.migration ? { seconds: this.migration.resource.getAttString('DurationSeconds'), task: this.migration.resource.getAttString('TaskArn') } : undefined,
      ...this.logs,
    });
    for (const service of [this.web.service, this.worker.service]) record.resource.node.addDependency(service);
    return record;
  }

  /**
   * The services' paths to the database and the cache. allowTo writes the ingress rules on the
   * database and cache groups into this stack, which already depends on the data stack (allowFrom
   * would write them there: a cycle).
   */
  private connectToData(data: DataTier): void {
    for (const service of [this.web.service, this.worker.service]) {
      service.connections.allowToDefaultPort(data.database, `${service.node.scope?.node.id} service`);
      service.connections.allowToDefaultPort(data.cache, `${service.node.scope?.node.id} service`);
    }
  }
}
