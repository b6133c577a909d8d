import { CfnOutput, Duration, Stack } from 'aws-cdk-lib';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct } from 'constructs';
import { DATABASE_ROLES } from '../../lambda/database-setup/roles';
import type { TaskData } from '../data/data-stack';
import { DATABASE_NAME, DATABASE_PORT } from '../data/database';
import { type LogSettings, logSettings, stageLogGroup } from '../shared/log-group';
import { PROJECT, stageResourceName } from '../shared/naming';
import { AppTask } from './app-task';
import type { SendingEmail } from './email';
import { LogQueries } from './log-queries';

/** CPU units and memory (MiB) of a task: a pair Fargate offers. */

/** The container secret that carries the cache's AUTH token (the incident commands find the token's secret by it). */
export const CACHE_TOKEN_SECRET = 'REDIS_AUTH_TOKEN';
export interface TaskSize {
  readonly cpu: number;
  readonly memoryLimitMiB: number;
}

export interface ReleaseTasksProps extends LogSettings {
  readonly stage: string;
  /** The release image: its repository in the stage's registry, and its tag or digest (-c imageTag per deploy; the traces' service version too). */
  readonly image: { readonly repositoryName: string; readonly tag: string };
  /** The app's LOG_LEVEL. */
  readonly logLevel: string;
  /** The web task: its size, the port its server listens on (PORT), and the path its health check requests (a 2xx answer: the server is alive). */
  readonly web: TaskSize & { readonly containerPort: number; readonly livenessPath: string };
  /**
   * The worker task: its size (a migration runs at the same), its command (the image's own runs the
   * web server), and the seconds it has between SIGTERM and SIGKILL to finish its job.
   */
  readonly worker: TaskSize & { readonly command: string[]; readonly stopTimeoutSeconds: number };
  /** The schema migration's command, where releases migrate. @default no migration task */
  readonly migrationCommand?: string[];
  /** ECS Exec will be on for the services (their root filesystems stay writable). */
  readonly enableExecuteCommand: boolean;
  /** GuardDuty's runtime agent runs beside each task (baseline.guardDuty.runtimeMonitoring). */
  readonly runtimeMonitoringAgent: boolean;
  /** Trace this share of requests, and send the app's OpenTelemetry metrics, through a collector sidecar. @default no tracing */
  readonly tracingSampleRatio?: number;
  /** The database, the cache and the uploads bucket the app uses. */
  readonly data: TaskData;
  /** SES for the stage's domain, where it sends email. @default no email */
  readonly email?: SendingEmail;
}

/**
 * The task definitions of one release, all of the one image: the web and worker tasks and, where
 * releases migrate, the migration task. Their environment holds no password (the app signs IAM
 * tokens for the database); the cache AUTH token comes as a secret; each task role gets the app's
 * database role, the bucket and SES, the migration's only its database role.
 *
 * Not a construct: it builds into the given scope (the app stack), where the tasks, the image
 * repository's reference and the app-metrics log group have their logical ids; a construct of its
 * own would put them under a new path and replace them.
 */
export class ReleaseTasks {
  readonly web: AppTask;
  readonly worker: AppTask;
  /** The migration task, where releases migrate. */
  readonly migration?: AppTask;

  constructor(
    private readonly scope: Construct,
    private readonly props: ReleaseTasksProps,
  ) {
    const { data, email, web, worker } = props;
    const { region } = Stack.of(scope);
    const logs = logSettings(props);
    const repository = ecr.Repository.fromRepositoryName(scope, 'Repository', props.image.repositoryName);
    const image = ecs.ContainerImage.fromEcrRepository(repository, props.image.tag);
    const environment: Record<string, string> = {
      NODE_ENV: 'production',
      STAGE: props.stage,
      LOG_LEVEL: props.logLevel,
      PORT: String(web.containerPort),
      DATABASE_HOST: data.database.instance.dbInstanceEndpointAddress,
      DATABASE_PORT: String(DATABASE_PORT),
      DATABASE_NAME,
      // No password: the app signs an IAM token as this user for each new connection
      // (docs/architecture.md, "Database access"), so the master secret's rotation never reaches it.
      DATABASE_USER: DATABASE_ROLES.app,
      DATABASE_AUTH: 'iam',
      AWS_REGION: region,
      // TLS to Valkey; the AUTH token comes as a secret.
      REDIS_URL: `rediss://${data.cache.endpointAddress}:${data.cache.port}`,
      UPLOADS_BUCKET: data.uploads.bucket.bucketName,
      ...(email ? { SES_CONFIGURATION_SET: email.configurationSet.configurationSetName, MAIL_FROM_DOMAIN: email.domainName } : {}),
    };
    // The AUTH token lives in the data stack, encrypted with the cache key. Referenced with its
    // key, CDK would write the execution roles into that key policy: the data stack would then
    // depend on the app stack (a cycle). So it is referenced by ARN alone, and the roles get
    // kms:Decrypt on their own side below; the key policy already admits the account through
    // Secrets Manager. ECS reads it when a task starts: each rotation restarts both services
    // (CacheTokenRotation).
    const authToken = secretsmanager.Secret.fromSecretCompleteArn(scope, 'CacheAuthToken', data.cache.authToken.secretArn);
    const secrets = { [CACHE_TOKEN_SECRET]: ecs.Secret.fromSecretsManager(authToken) };
    const shared = { image, environment, secrets, enableExecuteCommand: props.enableExecuteCommand, runtimeMonitoringAgent: props.runtimeMonitoringAgent, ...logs };

    // The app's OpenTelemetry metrics, as the collectors' EMF events.
    const { tracingSampleRatio: sampleRatio } = props;
    const metricsLogGroup = sampleRatio !== undefined ? stageLogGroup(scope, 'AppMetricsLogs', logs) : undefined;
    const tracing = (service: 'web' | 'worker') =>
      metricsLogGroup && sampleRatio !== undefined
        ? { tracing: { serviceName: `${PROJECT}-${service}`, stage: props.stage, version: props.image.tag, sampleRatio, metricsLogGroup } }
        : {};
    this.web = new AppTask(scope, 'WebTask', {
      cpu: web.cpu,
      memoryLimitMiB: web.memoryLimitMiB,
      containerPort: web.containerPort,
      // Node has fetch built in, so the image needs no curl; the exec form needs no shell either
      // (distroless images have none).
      healthCheck: {
        command: ['CMD', 'node', '-e', `fetch('http://127.0.0.1:${web.containerPort}${web.livenessPath}').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))`],
        interval: Duration.seconds(30),
        timeout: Duration.seconds(5),
        retries: 3,
        startPeriod: Duration.seconds(30),
      },
      ...shared,
      ...tracing('web'),
    });
    this.worker = new AppTask(scope, 'WorkerTask', {
      cpu: worker.cpu,
      memoryLimitMiB: worker.memoryLimitMiB,
      command: worker.command,
      stopTimeout: Duration.seconds(worker.stopTimeoutSeconds),
      ...shared,
      ...tracing('worker'),
    });

    for (const task of [this.web, this.worker]) {
      task.taskDefinition.obtainExecutionRole().addToPrincipalPolicy(
        new iam.PolicyStatement({
          actions: ['kms:Decrypt'],
          resources: [data.cache.authToken.encryptionKey!.keyArn],
          conditions: { StringEquals: { 'kms:ViaService': `secretsmanager.${region}.amazonaws.com` } },
        }),
      );
      const role = task.taskDefinition.taskRole;
      role.addManagedPolicy(data.database.connectPolicy(DATABASE_ROLES.app));
      role.addManagedPolicy(data.uploads.objectAccessPolicy);
      if (email) role.addManagedPolicy(email.sendPolicy);
    }

    // The migration: same image and settings, its own command, logged in as the migration role
    // (it owns the app schema); it needs neither the cache nor the bucket.
    if (props.migrationCommand) {
      this.migration = new AppTask(scope, 'MigrationTask', {
        cpu: worker.cpu,
        memoryLimitMiB: worker.memoryLimitMiB,
        image,
        command: props.migrationCommand,
        environment: { ...environment, DATABASE_USER: DATABASE_ROLES.migrator },
        secrets: {},
        runtimeMonitoringAgent: props.runtimeMonitoringAgent,
        ...logs,
      });
      this.migration.taskDefinition.taskRole.addManagedPolicy(data.database.connectPolicy(DATABASE_ROLES.migrator));
    }
  }

  /** Every task definition of the release. */
  get all(): AppTask[] {
    return [this.web, this.worker, ...(this.migration ? [this.migration] : [])];
  }

  /**
   * The log groups the runbooks send people to, by name (CloudFormation generates them), and the
   * saved Logs Insights queries over them; called where the stack lists its outputs.
   */
  addOutputs(): void {
    const { scope, web, worker, migration } = this;
    new LogQueries(scope, 'LogQueries', { folder: stageResourceName(this.props.stage), web: web.logGroup, worker: worker.logGroup });
    new CfnOutput(scope, 'WebLogGroup', { value: web.logGroup.logGroupName, description: 'Logs of the web tasks' });
    new CfnOutput(scope, 'WorkerLogGroup', { value: worker.logGroup.logGroupName, description: 'Logs of the worker tasks' });
    if (migration) new CfnOutput(scope, 'MigrationLogGroup', { value: migration.logGroup.logGroupName, description: 'Logs of the release migrations' });
  }
}
