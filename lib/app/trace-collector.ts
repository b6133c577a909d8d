import { readFileSync } from 'node:fs';
import { Duration, Stack } from 'aws-cdk-lib';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { ECR_PUBLIC_CACHE_PREFIX } from '../registry/registry-stack';
import { PROJECT } from '../shared/naming';
import { COLLECTOR_CONFIG_FILE } from './otel/collector-config';

/** The ADOT collector image, pinned (AWS publishes it in the ECR Public gallery). */
export const COLLECTOR_IMAGE = 'public.ecr.aws/aws-observability/aws-otel-collector:v0.45.0';

/**
 * Where the tasks pull it from: the stage registry's pull-through cache of ECR Public
 * (lib/registry), so a task start never depends on ECR Public answering (the cache serves what it
 * holds) nor on its anonymous pull limits.
 */
export const COLLECTOR_CACHE = { repositoryName: `${ECR_PUBLIC_CACHE_PREFIX}/aws-observability/aws-otel-collector`, tag: COLLECTOR_IMAGE.split(':')[1] } as const;
/** Memory the collector takes from each web and worker task (its hard limit). */
export const COLLECTOR_MEMORY_MIB = 128;
/** CPU units the collector is given within the task size. */
export const COLLECTOR_CPU = 64;
/** The collector image's own non-root user. */
export const COLLECTOR_USER = '10001';
/** Namespace of the app's OpenTelemetry metrics in CloudWatch. */
export const APP_METRICS_NAMESPACE = `${PROJECT}/App`;
/** The collector's configuration, as committed. */
export { COLLECTOR_CONFIG_FILE };
/** OTLP over HTTP on the task's loopback, where the collector listens. */
export const OTLP_ENDPOINT = 'http://127.0.0.1:4318';

export interface TraceCollectorProps {
  readonly taskDefinition: ecs.FargateTaskDefinition;
  /** The app container, which sends to the collector (it starts after it). */
  readonly app: ecs.ContainerDefinition;
  /** OTEL_SERVICE_NAME of the app container ("webapp-web"). */
  readonly serviceName: string;
  readonly stage: string;
  /** The release the tasks run (an image tag or digest): the traces' service.version. */
  readonly version: string;
  readonly sampleRatio: number;
  /** Where the metrics go as EMF events (encrypted, with the stage retention). */
  readonly metricsLogGroup: logs.ILogGroup;
  /** The collector's own logs (the task's log group). */
  readonly logGroup: logs.ILogGroup;
  readonly streamPrefix: string;
}

/** What the app's OpenTelemetry SDK reads from its environment (no code changes for the endpoint, sampling or names). */
export function otelEnvironment(props: Pick<TraceCollectorProps, 'serviceName' | 'stage' | 'version' | 'sampleRatio'>): Record<string, string> {
  return {
    OTEL_EXPORTER_OTLP_ENDPOINT: OTLP_ENDPOINT,
    OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
    OTEL_SERVICE_NAME: props.serviceName,
    OTEL_RESOURCE_ATTRIBUTES: `service.namespace=${PROJECT},deployment.environment.name=${props.stage},service.version=${props.version}`,
    OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
    OTEL_TRACES_SAMPLER_ARG: String(props.sampleRatio),
    // W3C context between our services, X-Ray's header from the load balancer.
    OTEL_PROPAGATORS: 'tracecontext,baggage,xray',
  };
}

/**
 * An ADOT collector sidecar in a web or worker task: OTLP on the task's loopback only, traces to
 * X-Ray, metrics to CloudWatch (EMF, namespace webapp/App) in the stage's app-metrics log group,
 * its configuration from lib/app/otel/collector.yaml. Non-root with a read-only root filesystem,
 * like the app; its CPU and a hard memory limit come out of the task size (the smallest Fargate
 * size, 512 MiB, leaves the app 384 MiB). Not essential: a collector that dies loses telemetry, never requests. The
 * task role may write traces to X-Ray and events to that one log group, nothing else for it.
 */
export class TraceCollector extends Construct {
  readonly container: ecs.ContainerDefinition;

  constructor(scope: Construct, id: string, props: TraceCollectorProps) {
    super(scope, id);
    const cache = ecr.Repository.fromRepositoryName(this, 'CollectorCache', COLLECTOR_CACHE.repositoryName);
    this.container = props.taskDefinition.addContainer('otel-collector', {
      // ECS grants the execution role the pull of this repository.
      image: ecs.ContainerImage.fromEcrRepository(cache, COLLECTOR_CACHE.tag),
      essential: false,
      cpu: COLLECTOR_CPU,
      memoryLimitMiB: COLLECTOR_MEMORY_MIB,
      user: COLLECTOR_USER,
      readonlyRootFilesystem: true,
      environment: {
        AOT_CONFIG_CONTENT: readFileSync(COLLECTOR_CONFIG_FILE, 'utf8'),
        AWS_REGION: Stack.of(this).region,
        METRICS_NAMESPACE: APP_METRICS_NAMESPACE,
        METRICS_LOG_GROUP: props.metricsLogGroup.logGroupName,
      },
      healthCheck: { command: ['CMD', '/healthcheck'], interval: Duration.seconds(30), timeout: Duration.seconds(5), retries: 3, startPeriod: Duration.seconds(10) },
      logging: ecs.LogDrivers.awsLogs({ logGroup: props.logGroup, streamPrefix: props.streamPrefix, mode: ecs.AwsLogDriverMode.NON_BLOCKING }),
    });
    props.app.addContainerDependencies({ container: this.container, condition: ecs.ContainerDependencyCondition.START });
    for (const [name, value] of Object.entries(otelEnvironment(props))) props.app.addEnvironment(name, value);

    // The first pull of a tag imports it from ECR Public, into a repository the cache creates then.
    props.taskDefinition.obtainExecutionRole().addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'CollectorImageThroughTheCache',
        actions: ['ecr:BatchImportUpstreamImage', 'ecr:CreateRepository'],
        resources: [cache.repositoryArn],
      }),
    );
    const role = props.taskDefinition.taskRole;
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'CollectorWritesTraces',
        actions: ['xray:PutTraceSegments', 'xray:PutTelemetryRecords', 'xray:GetSamplingRules', 'xray:GetSamplingTargets'],
        resources: ['*'],
      }),
    );
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'CollectorWritesMetrics',
        actions: ['logs:CreateLogStream', 'logs:PutLogEvents', 'logs:DescribeLogStreams'],
        resources: [props.metricsLogGroup.logGroupArn, `${props.metricsLogGroup.logGroupArn}:*`],
      }),
    );
  }
}
