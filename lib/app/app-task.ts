import { CfnDeletionPolicy, type CfnElement, type Duration, Stack, Validations } from 'aws-cdk-lib';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { acknowledgeControl } from '../shared/control-tower-checks';
import { type LogSettings, stageLogGroup } from '../shared/log-group';
import { TraceCollector, type TraceCollectorProps } from './trace-collector';

export interface AppTaskProps extends LogSettings {
  /** CPU units and memory (MiB), a pair Fargate offers (the config schema checks it). */
  readonly cpu: number;
  readonly memoryLimitMiB: number;
  /** The app image; web and worker run the same one. */
  readonly image: ecs.ContainerImage;
  /** Overrides the image's command (the worker). */
  readonly command?: string[];
  /** Plain settings. Never credentials: those go in `secrets`. */
  readonly environment: Record<string, string>;
  /** Values ECS reads from Secrets Manager when a task starts. */
  readonly secrets: Record<string, ecs.Secret>;
  /** Port the server listens on, when the task serves HTTP. */
  readonly containerPort?: number;
  readonly healthCheck?: ecs.HealthCheck;
  /** Time between SIGTERM and SIGKILL. */
  readonly stopTimeout?: Duration;
  /**
   * ECS Exec will be turned on for this task's service. AWS does not support ECS Exec with a
   * read-only root filesystem (its agent writes to several paths), so the root filesystem is
   * writable then; the config schema keeps ECS Exec out of prod.
   * @default false
   */
  readonly enableExecuteCommand?: boolean;
  /**
   * GuardDuty Runtime Monitoring runs in the account (config `baseline.guardDuty.runtimeMonitoring`):
   * ECS adds GuardDuty's agent to the task as a sidecar, pulled with the task execution role
   * from GuardDuty's repository in the region.
   * @default false
   */
  readonly runtimeMonitoringAgent?: boolean;
  /** Traces and OpenTelemetry metrics through an ADOT collector sidecar (app.tracing). @default none */
  readonly tracing?: Omit<TraceCollectorProps, 'taskDefinition' | 'app' | 'logGroup' | 'streamPrefix'>;
}

/** GuardDuty's repository of its Fargate agent: the same name in every region, in an AWS account that differs by region. */
export const GUARDDUTY_AGENT_REPOSITORY = 'aws-guardduty-agent-fargate';

/** The container's name in every task definition; ECS and the deploy workflow refer to it. */
export const APP_CONTAINER = 'app';
/** uid:gid of the `node` user in the official Node.js images. */
export const APP_USER = '1000:1000';
/** Paths a Node.js/Next.js server writes to at run time; everything else is read-only. */
export const SCRATCH_PATHS = { tmp: '/tmp', nextCache: '/app/.next/cache' } as const;

/**
 * Defines a Fargate task of the app image on ARM64: a non-root user, a read-only root filesystem
 * (writable only where ECS Exec is on, which needs it) with task-local scratch volumes for `/tmp`
 * and `.next/cache`, JSON logs (the app writes JSON)
 * to a KMS-encrypted log group with the stage retention, credentials only from Secrets Manager.
 */
export class AppTask extends Construct {
  readonly taskDefinition: ecs.FargateTaskDefinition;
  readonly container: ecs.ContainerDefinition;
  readonly logGroup: logs.LogGroup;
  /** The log stream prefix: each task writes `<prefix>/<container>/<task id>`. */
  readonly streamPrefix: string;

  constructor(scope: Construct, id: string, props: AppTaskProps) {
    super(scope, id);
    this.logGroup = stageLogGroup(this, 'Logs', props);
    this.streamPrefix = id.toLowerCase();
    this.taskDefinition = new ecs.FargateTaskDefinition(this, 'TaskDefinition', {
      cpu: props.cpu,
      memoryLimitMiB: props.memoryLimitMiB,
      runtimePlatform: { cpuArchitecture: ecs.CpuArchitecture.ARM64, operatingSystemFamily: ecs.OperatingSystemFamily.LINUX },
    });
    // Every property of a task definition replaces it, so each release registers a new revision,
    // and CloudFormation deregisters the replaced one (aws/aws-cdk#24372): ECS refuses to point a
    // service at an INACTIVE revision, which would leave `rollback --fast` nothing to go back to.
    // Retained on replacement, the revisions of earlier releases stay ACTIVE (they cost nothing);
    // deleting the stack still deregisters the last one.
    const { cfnOptions } = this.taskDefinition.node.defaultChild as ecs.CfnTaskDefinition;
    cfnOptions.updateReplacePolicy = CfnDeletionPolicy.RETAIN;
    cfnOptions.deletionPolicy = CfnDeletionPolicy.DELETE;
    for (const name of Object.keys(SCRATCH_PATHS)) this.taskDefinition.addVolume({ name });

    this.container = this.taskDefinition.addContainer(APP_CONTAINER, {
      image: props.image,
      command: props.command,
      user: APP_USER,
      readonlyRootFilesystem: !props.enableExecuteCommand,
      environment: props.environment,
      secrets: props.secrets,
      healthCheck: props.healthCheck,
      stopTimeout: props.stopTimeout,
      portMappings: props.containerPort ? [{ containerPort: props.containerPort }] : undefined,
      logging: ecs.LogDrivers.awsLogs({ logGroup: this.logGroup, streamPrefix: this.streamPrefix, mode: ecs.AwsLogDriverMode.NON_BLOCKING }),
    });
    this.container.addMountPoints(...Object.entries(SCRATCH_PATHS).map(([sourceVolume, containerPath]) => ({ sourceVolume, containerPath, readOnly: false })));
    if (props.tracing) {
      new TraceCollector(this, 'TraceCollector', {
        ...props.tracing,
        taskDefinition: this.taskDefinition,
        app: this.container,
        logGroup: this.logGroup,
        streamPrefix: this.streamPrefix,
      });
      const taskPolicy = this.taskDefinition.taskRole.node.findChild('DefaultPolicy');
      Validations.of(taskPolicy).acknowledge({
        id: 'AwsSolutions-IAM5[Resource::*]',
        reason: 'X-Ray trace and sampling calls (PutTraceSegments, PutTelemetryRecords, GetSamplingRules, GetSamplingTargets) have no resource-level permissions.',
      });
      const metricsLogGroupId = Stack.of(this).getLogicalId(props.tracing.metricsLogGroup.node.defaultChild as CfnElement);
      Validations.of(taskPolicy).acknowledge({
        id: `AwsSolutions-IAM5[Resource::<${metricsLogGroupId}.Arn>:*]`,
        reason: "The collector writes EMF events to log streams it names per task in the stage's app-metrics log group; the statement names only that group.",
      });
      Validations.of(taskPolicy).acknowledge({
        id: 'NIST.800.53.R5-IAMNoInlinePolicy',
        reason: "The collector's two grants (X-Ray, the app-metrics log group), written by CDK as the task role's inline default policy.",
      });
    }

    acknowledgeControl(
      this.taskDefinition,
      'ecs_task_definition_memory_hard_limit_check',
      'On Fargate the task size is the hard memory limit of its containers; a container limit would only split it with the sidecars ECS adds (the GuardDuty agent) at launch.',
    );
    if (props.enableExecuteCommand) {
      acknowledgeControl(
        this.taskDefinition,
        'ecs_containers_readonly_access_check',
        'ECS Exec (app.enableExecuteCommand, never in prod) needs a writable root filesystem for its agent.',
      );
    }
    Validations.of(this.taskDefinition.node.defaultChild!).acknowledge({
      id: 'AwsSolutions-ECS2',
      reason:
        'The environment holds plain settings only (hosts, ports, names, stage); every credential comes through `secrets` from Secrets Manager, and a test asserts no credential is in the environment.',
    });
    const { partition, region } = Stack.of(this);
    const agentRepository = `arn:${partition}:ecr:${region}:*:repository/${GUARDDUTY_AGENT_REPOSITORY}`;
    if (props.runtimeMonitoringAgent) {
      this.taskDefinition.obtainExecutionRole().addToPrincipalPolicy(
        new iam.PolicyStatement({
          sid: 'PullTheGuardDutyAgent',
          actions: ['ecr:BatchCheckLayerAvailability', 'ecr:GetDownloadUrlForLayer', 'ecr:BatchGetImage'],
          resources: [agentRepository],
        }),
      );
    }
    const executionPolicy = this.taskDefinition.obtainExecutionRole().node.tryFindChild('DefaultPolicy');
    if (executionPolicy) {
      Validations.of(executionPolicy).acknowledge({
        id: 'AwsSolutions-IAM5[Resource::*]',
        reason:
          'ecr:GetAuthorizationToken, which the execution role needs to pull the image, has no resource-level permissions; every other statement names the repository, log group or secrets.',
      });
      if (props.runtimeMonitoringAgent) {
        Validations.of(executionPolicy).acknowledge({
          id: `AwsSolutions-IAM5[Resource::${agentRepository}]`,
          reason:
            "GuardDuty's agent repository: one fixed name in an AWS-owned account that differs by region (GuardDuty publishes the table); read-only pulls of that one repository.",
        });
      }
      Validations.of(executionPolicy).acknowledge({
        id: 'NIST.800.53.R5-IAMNoInlinePolicy',
        reason: 'CDK writes the execution role grants (pull this image, write this log group, read these two secrets) as its inline default policy.',
      });
    }
  }

  /** Acknowledges what ECS Exec adds to the task role; call it when exec is on. */
  acknowledgeExecGrants(execLogs?: logs.LogGroup): void {
    const taskPolicy = this.taskDefinition.taskRole.node.tryFindChild('DefaultPolicy');
    if (!taskPolicy) return;
    if (execLogs) {
      const stack = Stack.of(execLogs);
      const logicalId = stack.getLogicalId(execLogs.node.defaultChild as CfnElement);
      Validations.of(taskPolicy).acknowledge({
        id: `AwsSolutions-IAM5[Resource::arn:aws:logs:${stack.region}:${stack.account}:log-group:<${logicalId}>:*]`,
        reason: "ECS Exec writes each session to log streams it creates in the stage's Exec log group; their names are not known in advance.",
      });
    }
    Validations.of(taskPolicy).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: 'ECS Exec (on only where app.enableExecuteCommand is set; prod may not) needs ssmmessages channel actions, which have no resource-level permissions.',
    });
    Validations.of(taskPolicy).acknowledge({
      id: 'NIST.800.53.R5-IAMNoInlinePolicy',
      reason: 'CDK writes the ECS Exec channel permissions as the task role inline default policy; the app permissions are managed policies.',
    });
  }
}
