import { CfnOutput, Duration, Validations } from 'aws-cdk-lib';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as route53 from 'aws-cdk-lib/aws-route53';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type { Construct } from 'constructs';
import { AlarmSet } from '../shared/alarm-set';
import { AppTask } from './app-task';
import type { Cache } from '../data/cache';
import { DATABASE_NAME, DATABASE_PORT, type Database } from '../data/database';
import { Email } from './email';
import { ExecSessions } from './exec-sessions';
import { LoadBalancer } from './load-balancer';
import { PreDeploySnapshot } from './pre-deploy-snapshot';
import { ServiceKey } from '../shared/service-key';
import type { UploadsBucket } from '../data/uploads-bucket';
import { Waf } from './waf';
import { WebService } from './web-service';
import { WorkerService } from './worker-service';
import { DATABASE_ROLES } from '../../lambda/database-setup/roles';
import { StageStack, type StageStackProps } from '../shared/stage-stack';

export interface AppStackProps extends StageStackProps {
  readonly vpc: ec2.IVpc;
  /** The stage's own hosted zone (network stack), where it has a domain. */
  readonly zone?: route53.IPublicHostedZone;
  readonly logsKey: kms.IKey;
  readonly database: Database;
  readonly cache: Cache;
  readonly uploads: UploadsBucket;
  /** The stage's alarm topic (network stack): the deployment alarms notify it too. */
  readonly alarmTopic: sns.ITopic;
  /** The DR-region key pre-deploy snapshots are copied with, where backups are copied. */
  readonly drBackupKey?: kms.IKey;
}

/**
 * The stage's stateless tier: the ECS cluster, the web service behind the load balancer (with the
 * WAF where configured), the BullMQ worker from the same image, and SES for the stage's domain.
 * Everything here can be replaced without losing data.
 */
export class AppStack extends StageStack {
  readonly cluster: ecs.Cluster;
  readonly web: WebService;
  readonly worker: WorkerService;
  readonly loadBalancer: LoadBalancer;
  readonly email?: Email;
  readonly waf?: Waf;
  readonly preDeploySnapshot: PreDeploySnapshot;

  constructor(scope: Construct, id: string, props: AppStackProps) {
    super(scope, id, props);
    const { name, app, web, worker, image, domain } = this.config;
    const logs = { logsKey: props.logsKey, logRetention: this.logRetention, logRemovalPolicy: this.statefulRemovalPolicy };

    const exec = app.ecsExec ? new ExecSessions(this, 'Exec', { stage: name, ...logs }) : undefined;
    this.cluster = new ecs.Cluster(this, 'Cluster', {
      vpc: props.vpc,
      containerInsightsV2: ecs.ContainerInsights.ENHANCED,
      enableFargateCapacityProviders: true,
      // Where shells into tasks are allowed, every session is encrypted with its own key and
      // its commands and output are written to an encrypted log group (who ran what, for audits).
      ...(exec ? { executeCommandConfiguration: exec.configuration } : {}),
    });

    this.loadBalancer = new LoadBalancer(this, 'LoadBalancer', {
      vpc: props.vpc,
      accessLogBucket: props.uploads.accessLogs,
      domain: this.config.https && domain && props.zone ? { zone: props.zone, recordName: domain.recordName } : undefined,
      deletionProtection: name === 'prod',
      httpAllowedCidrs: app.httpAllowedCidrs ?? [],
    });
    if (app.waf) {
      this.waf = new Waf(this, 'Waf', {
        name: `webapp-${name}`,
        loadBalancerArn: this.loadBalancer.alb.loadBalancerArn,
        rateLimitPer5Min: app.wafRateLimitPer5Min,
        authPaths: app.wafAuthPaths,
        authRateLimitPer5Min: app.wafAuthRateLimitPer5Min,
        largeBodyPaths: app.wafLargeBodyPaths,
        serverActions: app.wafServerActions,
        redactedHeaders: app.wafRedactedHeaders,
        ...logs,
      });
    }

    if (props.zone) {
      const eventsKey = new ServiceKey(this, 'EventsKey', {
        description: `${name}: SES event notifications`,
        services: ['sns'],
        removalPolicy: this.statefulRemovalPolicy,
      }).key;
      this.email = new Email(this, 'Email', { zone: props.zone, key: eventsKey });
    }

    // One image for both services, by tag or digest (-c imageTag=... per deploy).
    const repository = ecr.Repository.fromRepositoryName(this, 'Repository', image.repositoryName);
    const containerImage = ecs.ContainerImage.fromEcrRepository(repository, image.tag);
    const environment: Record<string, string> = {
      NODE_ENV: 'production',
      STAGE: name,
      PORT: String(app.containerPort),
      DATABASE_HOST: props.database.instance.dbInstanceEndpointAddress,
      DATABASE_PORT: String(DATABASE_PORT),
      DATABASE_NAME,
      // No password: the app signs an IAM token as this user for each new connection
      // (docs/architecture.md, "Database access"), so the master secret's rotation never reaches it.
      DATABASE_USER: DATABASE_ROLES.app,
      DATABASE_AUTH: 'iam',
      AWS_REGION: this.region,
      // TLS to Valkey; the AUTH token comes as a secret.
      REDIS_URL: `rediss://${props.cache.endpointAddress}:${props.cache.port}`,
      UPLOADS_BUCKET: props.uploads.bucket.bucketName,
      ...(this.email ? { SES_CONFIGURATION_SET: this.email.configurationSet.configurationSetName, MAIL_FROM_DOMAIN: props.zone!.zoneName } : {}),
    };
    // The AUTH token lives in the data stack, encrypted with the cache key. Referenced with its
    // key, CDK would write this stack's execution roles into that key policy: the data stack would
    // then depend on this one (a cycle). So it is referenced by ARN alone, and the roles get
    // kms:Decrypt on their own side below; the key policy already admits the account through
    // Secrets Manager. (Valkey's token does not rotate by itself: docs/runbooks.md.)
    const authToken = secretsmanager.Secret.fromSecretCompleteArn(this, 'CacheAuthToken', props.cache.authToken.secretArn);
    const secretKeys = [props.cache.authToken.encryptionKey!.keyArn];
    const secrets = { REDIS_AUTH_TOKEN: ecs.Secret.fromSecretsManager(authToken) };

    const webTask = new AppTask(this, 'WebTask', {
      cpu: web.cpu,
      memoryMiB: web.memoryMiB,
      image: containerImage,
      environment,
      secrets,
      containerPort: app.containerPort,
      ecsExec: app.ecsExec,
      // Node has fetch built in, so the image needs no curl; the exec form needs no shell either
      // (distroless images have none).
      healthCheck: {
        command: ['CMD', 'node', '-e', `fetch('http://127.0.0.1:${app.containerPort}${app.livenessPath}').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))`],
        interval: Duration.seconds(30),
        timeout: Duration.seconds(5),
        retries: 3,
        startPeriod: Duration.seconds(30),
      },
      ...logs,
    });
    const workerTask = new AppTask(this, 'WorkerTask', {
      cpu: worker.cpu,
      memoryMiB: worker.memoryMiB,
      image: containerImage,
      command: app.workerCommand,
      environment,
      secrets,
      stopTimeout: Duration.seconds(app.workerStopTimeoutSeconds),
      ecsExec: app.ecsExec,
      ...logs,
    });

    this.web = new WebService(this, 'Web', {
      cluster: this.cluster,
      task: webTask,
      containerPort: app.containerPort,
      ...web,
      ecsExec: app.ecsExec,
      listener: this.loadBalancer.listener,
      loadBalancer: this.loadBalancer.alb,
      readinessPath: app.readinessPath,
    });
    const notify = new AlarmSet(name, props.alarmTopic);
    for (const alarm of this.web.deploymentAlarms) notify.notify(alarm);
    this.worker = new WorkerService(this, 'Worker', { cluster: this.cluster, task: workerTask, ...worker, ecsExec: app.ecsExec });
    if (exec) for (const task of [webTask, workerTask]) task.acknowledgeExecGrants(exec.logGroup);
    if (!app.waf) {
      Validations.of(this.loadBalancer.alb.node.defaultChild!).acknowledge({
        id: 'NIST.800.53.R5-ALBWAFEnabled',
        reason: `No WAF by configuration in ${name} (app.waf: false, cost); the config schema requires it in prod.`,
      });
    }

    for (const task of [webTask, workerTask]) {
      task.taskDefinition.obtainExecutionRole().addToPrincipalPolicy(
        new iam.PolicyStatement({
          actions: ['kms:Decrypt'],
          resources: secretKeys,
          conditions: { StringEquals: { 'kms:ViaService': `secretsmanager.${this.region}.amazonaws.com` } },
        }),
      );
      const role = task.taskDefinition.taskRole;
      role.addManagedPolicy(props.database.connectPolicy(DATABASE_ROLES.app));
      role.addManagedPolicy(props.uploads.objectAccessPolicy);
      if (this.email) role.addManagedPolicy(this.email.sendPolicy);
    }
    // Every service waits for a snapshot of the database taken for this release.
    const skip = ['true', true].includes(this.node.tryGetContext('skipPreDeploySnapshot'));
    this.preDeploySnapshot = new PreDeploySnapshot(this, 'PreDeploySnapshot', {
      vpc: props.vpc,
      stage: name,
      databaseIdentifier: props.database.instance.instanceIdentifier,
      databaseArn: props.database.instance.instanceArn,
      databaseKeyArn: props.database.key.keyArn,
      cluster: this.cluster,
      webTaskDefinition: webTask.taskDefinition,
      taskDefinitions: [webTask.taskDefinition, workerTask.taskDefinition],
      image: image.tag.startsWith('sha256:') ? `${image.repositoryName}@${image.tag}` : `${image.repositoryName}:${image.tag}`,
      imageTag: image.tag,
      keep: this.config.backup.preDeploySnapshotsKept,
      dr: props.drBackupKey ? { region: this.config.drRegion, keyArn: props.drBackupKey.keyArn } : undefined,
      skip,
      ...logs,
    });
    // The capacity providers must be associated with the cluster before a service names one;
    // CloudFormation does not know that on its own (the snapshot hid it, except with -c
    // skipPreDeploySnapshot). The association is created at synth, so the dependency is on the
    // whole cluster construct, which CDK expands to every resource in it then.
    for (const service of [this.web.service, this.worker.service]) {
      service.node.addDependency(this.preDeploySnapshot.resource);
      service.node.addDependency(this.cluster);
    }

    // allowTo writes the ingress rules on the database and cache groups into this stack, which
    // already depends on the data stack (allowFrom would write them there: a cycle).
    for (const service of [this.web.service, this.worker.service]) {
      service.connections.allowToDefaultPort(props.database, `${service.node.scope?.node.id} service`);
      service.connections.allowToDefaultPort(props.cache, `${service.node.scope?.node.id} service`);
    }

    new CfnOutput(this, 'SiteUrl', { value: this.loadBalancer.url });
    new CfnOutput(this, 'AlbDnsName', { value: this.loadBalancer.alb.loadBalancerDnsName });
    new CfnOutput(this, 'ClusterName', { value: this.cluster.clusterName });
    new CfnOutput(this, 'WebServiceName', { value: this.web.service.serviceName });
    new CfnOutput(this, 'WorkerServiceName', { value: this.worker.service.serviceName });
  }
}
