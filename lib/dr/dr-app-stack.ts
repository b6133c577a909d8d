import { Annotations, CfnOutput, Duration, Fn, RemovalPolicy, type Stack, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import type * as ecs from 'aws-cdk-lib/aws-ecs';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import type { Construct } from 'constructs';
import { releaseTaskSettings } from '../app/app-stack';
import { appCluster } from '../app/cluster';
import { ReleaseTasks } from '../app/release-tasks';
import { SmokeTest, smokeTestPaths } from '../app/smoke-test';
import { notifyDeploymentAlarms, WebService } from '../app/web-service';
import { WorkerService } from '../app/worker-service';
import type { DeployOptions } from '../config';
import { rdsMaxConnections } from '../config/instance-class';
import { Cache } from '../data/cache';
import { CacheEvents } from '../data/cache-events';
import { databaseSetupSettings } from '../data/data-stack';
import { DatabaseSetup } from '../data/database-setup';
import { type UploadsAccess, uploadsAccessPolicy } from '../data/uploads-bucket';
import { defineRoutes } from '../ops/alarm-topic';
import { type AlarmRoutes, AlarmSet } from '../shared/alarm-set';
import { readOutput } from '../shared/cross-stack-reads';
import { ServiceKey } from '../shared/service-key';
import { MIN_REQUESTS_FOR_RATE, requestErrorRate, serviceInsightMetric } from '../shared/stage-metrics';
import { StageStack, type StageStackProps } from '../shared/stage-stack';
import { DrEmailSending } from './dr-email';
import { DrNat } from './dr-nat';
import type { DrStack } from './dr-stack';
import { pilotLightNames } from './pilot-light-names';
import { drAvailabilityZones, type PilotLightStack } from './pilot-light-stack';
import { RestoredDatabase } from './restored-database';

export interface DrAppStackProps extends StageStackProps {
  /** The pilot light the tier runs in: its VPC, load balancer, subnet and security groups and logs key. */
  readonly pilotLight: PilotLightStack;
  /** The stage's stack in the DR region: the backup key the restored database is encrypted with, and the uploads replica. */
  readonly dr: DrStack;
  /** The switches of this deploy (-c rerunDatabaseSetup). */
  readonly deploy: DeployOptions;
}

/** The priority of the web service's listener rule: ahead of the pilot light's idle 503, which stays the listener's default. */
export const DR_WEB_RULE_PRIORITY = 1;

/**
 * The stage's data, app and operations tiers in its DR region (`dr.appTier`), deployed by the
 * failover and by its drill against the database they restored there. Built from the primary's
 * own constructs, so the two cannot drift apart: the restored database (imported by its
 * identifier, its endpoint read from SSM at each deploy) with the same IAM logins and the same
 * database setup (pgvector and the roles checked again); a `Cache` with a key of its own in the
 * pilot light's cache subnet group and security group, its events forwarded; the uploads replica
 * (where the stage replicates; otherwise the pilot light's bucket for them); the
 * cluster, the release's web and worker tasks of the same image (the DR region's registry holds
 * the same repository), the two services with their paths to the database and the cache, the web
 * service behind the pilot light's HTTPS listener by a listener rule for every path; the smoke
 * test against that listener, which the failover and the drill invoke; and the two alarm routes of
 * the DR region with the essentials: the web service's deployment alarms, its 5xx rate, tasks below
 * desired, database CPU and free storage.
 *
 * NAT gateways and the private subnets' default routes to them are made here too (dr-nat.ts):
 * the pilot light idles without NAT, and the tier's way out comes and goes with it.
 *
 * Everything of the pilot light and the DR stack is read by their outputs and imported here, and
 * every rule it needs (load balancer to tasks, tasks and functions to the database and cache, the
 * smoke test to the listener) is made in this stack: deploying or deleting the tier changes
 * neither of them.
 *
 * Left out: traffic shifting (releases while failed over deploy rolling, so there is no test
 * listener), the schema migration and the pre-deploy snapshot (fail back before a release that
 * migrates), the release record, the cache AUTH token's rotation (the cache lives only as long as
 * the failover), the dashboard, the budget and the SLO alarms (their names are fixed per account,
 * where the primary's exist). Email goes out through the pilot light's identity with a
 * configuration set of this tier's (dr-email.ts). The cache, its key and token
 * go with the tier (fail back once the worker has drained the queues); the log groups are kept as
 * the stage keeps its logs, in the pilot light's logs key.
 */
export class DrAppStack extends StageStack {
  readonly cluster: ecs.Cluster;
  readonly database: RestoredDatabase;
  readonly cache: Cache;
  readonly uploads: UploadsAccess;
  readonly tasks: ReleaseTasks;
  readonly web: WebService;
  readonly worker: WorkerService;
  /** pgvector and the app's database roles, checked again on the restored database. */
  readonly setup: DatabaseSetup;
  /** Requests the readiness and smoke paths through the pilot light's listener; invoked with `{}`. */
  readonly smokeTest: SmokeTest;
  /** The NAT gateways and routes of the pilot light's private subnets, for as long as the tier runs. */
  readonly nat: DrNat;
  /** The tasks' SES configuration set and send policy in the DR region. */
  readonly email: DrEmailSending;
  /** The DR region's paging and ticket topics: alarms notify topics of their own region. */
  readonly alarmRoutes: AlarmRoutes;

  constructor(scope: Construct, id: string, props: DrAppStackProps) {
    super(scope, id, props);
    const { name, app, web, worker, operations, database, cache, domain } = this.config;
    if (!domain) throw new Error(`${name}: dr.appTier needs the stage's domain (the pilot light serves the site's certificate)`);
    const { pilotLight, dr } = props;
    const fromPilotLight = (output: string) => readOutput(this, pilotLight, output);
    const fromDr = (output: string) => readOutput(this, dr, output);
    const importedGroup = (groupId: string, output: string, allowAllOutbound = true) =>
      ec2.SecurityGroup.fromSecurityGroupId(this, groupId, fromPilotLight(output), { allowAllOutbound });

    // The pilot light, imported here: a rule added to an imported group is made in this stack.
    const vpc = ec2.Vpc.fromVpcAttributes(this, 'Vpc', {
      vpcId: fromPilotLight('VpcId'),
      availabilityZones: this.availabilityZones,
      privateSubnetIds: Fn.split(',', fromPilotLight('PrivateSubnetIds'), this.availabilityZones.length),
    });
    for (const subnet of vpc.privateSubnets) {
      Annotations.of(subnet).acknowledgeWarning(
        '@aws-cdk/aws-ec2:noSubnetRouteTableId',
        'Nothing here reads the route tables of the pilot light subnets (no gateway endpoints are added from this stack).',
      );
    }
    const azs = this.availabilityZones.length;
    this.nat = new DrNat(this, 'Nat', {
      publicSubnetIds: Fn.split(',', fromPilotLight('PublicSubnetIds'), azs),
      privateRouteTableIds: Fn.split(',', fromPilotLight('PrivateRouteTableIds'), azs),
      count: this.config.network.natGateways,
    });
    const logsKey = kms.Key.fromKeyArn(this, 'LogsKey', fromPilotLight('LogsKeyArn'));
    const logs = { logsKey, logRetention: this.logRetention, logRemovalPolicy: this.statefulRemovalPolicy };
    const loadBalancerGroup = importedGroup('LoadBalancerSecurityGroup', 'LoadBalancerSecurityGroupId', false);
    const listener = elbv2.ApplicationListener.fromApplicationListenerAttributes(this, 'Listener', {
      listenerArn: fromPilotLight('HttpsListenerArn'),
      securityGroup: loadBalancerGroup,
      defaultPort: 443,
    });
    const loadBalancerFullName = fromPilotLight('LoadBalancerFullName');

    // No Slack channels here: AWS allows one configuration per channel in an account, and the stage
    // region's routes have them (lib/stages/app-stage.ts). The pagers and emails get these routes too.
    const { emails, httpsEndpoints } = this.config.alarms;
    this.alarmRoutes = defineRoutes(this, { stage: name, suffix: '-dr', emails, httpsEndpoints, logRetention: this.logRetention, removalPolicy: RemovalPolicy.DESTROY });

    // Data: the restored database, a cache of the tier's own, the uploads.
    const names = pilotLightNames(name);
    if (!dr.backupKey) throw new Error(`${name}: dr.appTier needs backup.drCopies (the database is restored from the copies encrypted with the DR backup key)`);
    this.database = new RestoredDatabase(this, 'Database', {
      instanceIdentifier: names.databaseIdentifier,
      endpointParameterName: names.databaseEndpointParameter,
      securityGroup: importedGroup('DatabaseSecurityGroup', 'DatabaseSecurityGroupId'),
      key: kms.Key.fromKeyArn(this, 'BackupKey', fromDr('BackupKeyArn')),
      maxConnections: rdsMaxConnections(database.instanceClass),
    });
    const cacheKey = new ServiceKey(this, 'CacheKey', {
      description: `${name}: ElastiCache data at rest and the AUTH token secret in the DR region`,
      services: ['elasticache', 'secretsmanager'],
      removalPolicy: RemovalPolicy.DESTROY,
    }).key;
    const cacheEvents = new CacheEvents(this, 'CacheEvents', { vpc, stage: name, alarmTopic: this.alarmRoutes.ticket, ...logs });
    this.cache = new Cache(this, 'Cache', {
      vpc,
      ...cache,
      key: cacheKey,
      notificationTopicArn: cacheEvents.topic.topicArn,
      removalPolicy: RemovalPolicy.DESTROY,
      subnetGroupName: fromPilotLight('CacheSubnetGroupName'),
      securityGroup: importedGroup('CacheSecurityGroup', 'CacheSecurityGroupId'),
      isAuthTokenRotated: false,
    });
    this.uploads = this.uploadsAccess(dr, pilotLight);

    // The setup's function reaches RDS and Secrets Manager through NAT.
    this.setup = new DatabaseSetup(this, 'DatabaseSetup', {
      vpc,
      database: this.database,
      ...databaseSetupSettings(this.config, props.deploy),
      ...logs,
    });
    this.setup.node.addDependency(...this.nat.routes);

    // App: the primary's cluster, tasks and services; rolling, attached by a listener rule.
    const { cluster, exec } = appCluster(this, { vpc, stage: name, enableExecuteCommand: app.enableExecuteCommand, ...logs });
    this.cluster = cluster;
    // The primary's task settings, read from the config the same way (no migration here).
    // Email as the primary's tasks send it, through this region's identity (the pilot light's).
    const eventsKey = new ServiceKey(this, 'EmailEventsKey', {
      description: `${name}: SES event notifications in the DR region`,
      services: ['sns'],
      removalPolicy: RemovalPolicy.DESTROY,
    }).key;
    this.email = new DrEmailSending(this, 'Email', { domainName: domain.zoneName, key: eventsKey });
    this.tasks = new ReleaseTasks(this, {
      ...releaseTaskSettings(this.config),
      email: this.email,
      data: { database: this.database, cache: this.cache, uploads: this.uploads },
      ...logs,
    });
    this.web = new WebService(this, 'Web', {
      cluster,
      task: this.tasks.web,
      containerPort: app.containerPort,
      ...web,
      enableExecuteCommand: app.enableExecuteCommand,
      listener,
      loadBalancerFullName,
      readinessPath: app.readinessPath,
      p99LatencySeconds: operations.p99LatencySeconds,
      listenerRulePriority: DR_WEB_RULE_PRIORITY,
    });
    this.worker = new WorkerService(this, 'Worker', { cluster, task: this.tasks.worker, ...worker, enableExecuteCommand: app.enableExecuteCommand });
    if (exec) for (const task of [this.tasks.web, this.tasks.worker]) task.acknowledgeExecGrants(exec.logGroup);
    const services = [this.web.service, this.worker.service];
    for (const service of services) {
      // allowTo writes the rules on the imported database and cache groups into this stack.
      for (const store of [this.database, this.cache]) service.connections.allowToDefaultPort(store, `${service.node.scope?.node.id} service`);
      // The app logs in as the roles the setup checks; its tasks pull their image through NAT.
      service.node.addDependency(this.setup, ...this.nat.routes);
      // The capacity providers' association with the cluster must exist while a service names one,
      // and go after it: CloudFormation does not know that (as in the app stack, release-steps.ts).
      service.node.addDependency(cluster);
    }

    this.smokeTest = new SmokeTest(this, 'SmokeTest', {
      vpc,
      stage: name,
      loadBalancerFullName,
      testListenerPort: 443,
      hostName: domain.recordName,
      paths: smokeTestPaths(app.readinessPath, app.deployment.smokePaths),
      latencyMs: app.deployment.smokeLatencyMs,
      description: `Smoke-tests the ${name} site served from the DR region through the pilot light's load balancer (the failover and its drill invoke it)`,
      ...logs,
    });
    listener.connections.allowDefaultPortFrom(this.smokeTest.securityGroup, 'The DR smoke test');

    this.addAlarms();

    // What the failover and the drill read (they find the stack by pilotLightNames().drAppStackName).
    new CfnOutput(this, 'ClusterName', { value: cluster.clusterName });
    new CfnOutput(this, 'WebServiceName', { value: this.web.service.serviceName });
    new CfnOutput(this, 'WorkerServiceName', { value: this.worker.service.serviceName });
    new CfnOutput(this, 'SmokeTestFunctionName', {
      value: this.smokeTest.function.fn.functionName,
      description: 'Invoke with {} once the services are stable: it answers {"hookStatus":"SUCCEEDED"} or "FAILED"',
    });
    new CfnOutput(this, 'CacheEndpoint', { value: this.cache.endpointAddress });
    new CfnOutput(this, 'UploadsBucketName', {
      value: this.uploads.bucket.bucketName,
      description: 'Where the app stores uploads while failed over (the failback copies what is new back)',
    });
    new CfnOutput(this, 'AlarmTopicArn', { value: this.alarmRoutes.ticket.topicArn, description: "The DR region's ticket topic (confirm its email subscriptions)" });
    new CfnOutput(this, 'PagingTopicArn', { value: this.alarmRoutes.page.topicArn, description: "The DR region's paging topic (its pagers confirm themselves)" });
    new CfnOutput(this, 'PgvectorVersion', { value: this.setup.version, description: 'pgvector version installed in the restored database' });
  }

  /** The DR region's zones, as the pilot light's: the config's zone names are the primary region's. */
  override get availabilityZones(): string[] {
    return drAvailabilityZones(this.config);
  }

  /**
   * The uploads as the app's tasks use them here, with the primary's object-access policy: the
   * replica and its key (DR stack) where the stage replicates, else the pilot light's bucket for
   * them (kept there between failovers, so a drill leaves no bucket behind and nothing uploaded
   * while failed over goes with this stack).
   */
  private uploadsAccess(dr: DrStack, pilotLight: PilotLightStack): UploadsAccess {
    const [producer, bucketOutput, keyOutput] = dr.uploadsReplica
      ? [dr, 'UploadsReplicaBucketName', 'UploadsReplicaKeyArn']
      : [pilotLight as StageStack, 'UploadsBucketName', 'UploadsKeyArn'];
    const bucket = s3.Bucket.fromBucketAttributes(this, 'UploadsReplica', {
      bucketName: readOutput(this, producer, bucketOutput),
      encryptionKey: kms.Key.fromKeyArn(this, 'UploadsReplicaKey', readOutput(this, producer, keyOutput)),
    });
    const objectAccessPolicy = uploadsAccessPolicy(this, 'UploadsAccessPolicy', bucket, bucket.encryptionKey!);
    Validations.of(objectAccessPolicy).acknowledge({
      id: `AwsSolutions-IAM5[Resource::${nagResource(this, bucket.arnForObjects('*'))}]`,
      reason: 'The app reads and writes any object of the uploads bucket it serves from while failed over (keys are chosen at run time); no other bucket.',
    });
    return { bucket, objectAccessPolicy };
  }

  /** The essentials, to this region's topic; the dashboard, the SLOs and the rest stay with the primary's operations stack. */
  private addAlarms(): void {
    const { name, operations, database } = this.config;
    const alarms = new AlarmSet(`${name}-dr`, this.alarmRoutes);
    notifyDeploymentAlarms(alarms, this.web.deploymentAlarms);
    const period = Duration.minutes(5);
    const sum = { statistic: 'Sum', period };
    const above = cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD;
    const { NOT_BREACHING, MISSING, BREACHING } = cloudwatch.TreatMissingData;
    alarms.add(this, 'Target5xxRate', {
      name: 'web-5xx-rate',
      description: `More than ${operations.http5xxRatePercent}% of requests in 5 minutes got a 5xx from the web app in the DR region.`,
      metric: requestErrorRate({
        failed: { count: this.web.targetMetric('HTTPCode_Target_5XX_Count', sum) },
        requests: this.web.targetMetric('RequestCount', sum),
        minRequests: MIN_REQUESTS_FOR_RATE,
        period,
        label: 'Web app 5xx (%)',
      }),
      threshold: operations.http5xxRatePercent,
      evaluationPeriods: 1,
      comparisonOperator: above,
      treatMissingData: NOT_BREACHING,
      severity: 'page',
      tier: 'web',
    });
    for (const [service, serviceName] of [
      [this.web.service, 'web'],
      [this.worker.service, 'worker'],
    ] as const) {
      const insight = (metricName: string) => serviceInsightMetric(service, metricName, { statistic: 'Average', period });
      alarms.add(this, serviceName === 'web' ? 'WebTasksBelowDesired' : 'WorkerTasksBelowDesired', {
        name: `${serviceName}-tasks-below-desired`,
        description: `Fewer ${serviceName} tasks ran in the DR region than ECS wants for 15 minutes (tasks crash, fail health checks or cannot be placed).`,
        metric: new cloudwatch.MathExpression({
          expression: 'desired - running',
          usingMetrics: { desired: insight('DesiredTaskCount'), running: insight('RunningTaskCount') },
          period,
          label: `${serviceName} tasks missing`,
        }),
        threshold: 0,
        evaluationPeriods: 3,
        comparisonOperator: above,
        treatMissingData: BREACHING,
        severity: 'page',
        tier: serviceName,
      });
    }
    const instance = this.database.instance;
    alarms.add(this, 'DbCpu', {
      name: 'db-cpu',
      description: `The restored database averaged more than ${operations.rdsCpuPercent}% CPU for 10 minutes.`,
      metric: instance.metricCPUUtilization({ period, statistic: 'Average' }),
      threshold: operations.rdsCpuPercent,
      evaluationPeriods: 2,
      comparisonOperator: above,
      treatMissingData: MISSING,
      severity: 'ticket',
      tier: 'database',
    });
    alarms.add(this, 'DbFreeStorage', {
      name: 'db-free-storage',
      description: `The restored database had less than ${operations.rdsFreeStoragePercent}% of its ${database.allocatedStorageGiB} GiB free for 10 minutes.`,
      metric: instance.metricFreeStorageSpace({ period, statistic: 'Minimum' }),
      threshold: Math.round((database.allocatedStorageGiB * 1024 ** 3 * operations.rdsFreeStoragePercent) / 100),
      evaluationPeriods: 2,
      comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
      treatMissingData: MISSING,
      severity: 'page',
      tier: 'database',
    });
  }
}

/** A value as cdk-nag names it in a finding id (its flattenCfnReference): text, `<Ref>`, `<Id.Attribute>`, joins spelled out, JSON for anything else. */
function nagResource(stack: Stack, value: string): string {
  const visit = (node: unknown): string => {
    if (typeof node === 'string') return node;
    if (node && typeof node === 'object') {
      const object = node as Record<string, unknown>;
      if (Array.isArray(object['Fn::Join'])) {
        const [delimiter, items] = object['Fn::Join'] as [string, unknown[]];
        return items.map(visit).join(delimiter);
      }
      if (Array.isArray(object['Fn::GetAtt'])) return `<${(object['Fn::GetAtt'] as string[]).join('.')}>`;
      if (typeof object.Ref === 'string') return `<${object.Ref}>`;
    }
    return JSON.stringify(node);
  };
  return visit(stack.resolve(value));
}
