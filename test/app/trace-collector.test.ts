import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { COLLECTOR_CACHE, COLLECTOR_CONFIG_FILE, COLLECTOR_IMAGE, COLLECTOR_MEMORY_MIB, OTLP_ENDPOINT } from '../../lib/app/trace-collector';
import { STAGE_NAMES } from '../../lib/config';
import { ECR_PUBLIC_CACHE_PREFIX } from '../../lib/registry/registry-stack';
import { type Json, policyStatements, stageTemplates } from '../support/template';

const stages = stageTemplates();
const taskDefinition = (name: (typeof STAGE_NAMES)[number], prefix: string): Json =>
  Object.entries(stages[name].app.findResources('AWS::ECS::TaskDefinition')).find(([id]) => id.startsWith(prefix))![1].Properties;
const env = (container: Json) => Object.fromEntries((container.Environment as Json[]).map((e) => [e.Name, e.Value]));

test('the collector listens on the loopback only and exports traces to X-Ray and metrics as EMF', () => {
  const yaml = readFileSync(COLLECTOR_CONFIG_FILE, 'utf8');
  expect(yaml.match(/endpoint: (\S+)/g)).toEqual(['endpoint: 127.0.0.1:13133', 'endpoint: 127.0.0.1:4317', 'endpoint: 127.0.0.1:4318']);
  expect(yaml).toMatch(/traces:\n\s+receivers: \[otlp\]\n\s+processors: \[memory_limiter, resourcedetection, batch\]\n\s+exporters: \[awsxray\]/);
  expect(yaml).toMatch(/metrics:\n\s+receivers: \[otlp\]\n\s+processors: \[memory_limiter, resourcedetection, batch\]\n\s+exporters: \[awsemf\]/);
  expect(COLLECTOR_IMAGE).toMatch(/^public\.ecr\.aws\/aws-observability\/aws-otel-collector:v\d+\.\d+\.\d+$/);
  // Pulled through the stage registry's cache of ECR Public: the same repository path and tag under its prefix.
  expect(`${COLLECTOR_CACHE.repositoryName}:${COLLECTOR_CACHE.tag}`).toBe(COLLECTOR_IMAGE.replace(/^public\.ecr\.aws\//, `${ECR_PUBLIC_CACHE_PREFIX}/`));
});

describe.each(STAGE_NAMES)('%s trace collector', (name) => {
  const config = () => stages[name].stage.config;

  test.each(['WebTask', 'WorkerTask'])('%s: a non-essential, non-root, read-only sidecar with its share of the task', (task) => {
    const def = taskDefinition(name, `${task}TaskDefinition`);
    const [app, collector] = ['app', 'otel-collector'].map((n) => (def.ContainerDefinitions as Json[]).find((c) => c.Name === n));
    expect(JSON.stringify(collector.Image)).toContain(`.dkr.ecr.${stages[name].stage.config.region}.`);
    expect(JSON.stringify(collector.Image)).toContain(`/${COLLECTOR_CACHE.repositoryName}:${COLLECTOR_CACHE.tag}`);
    expect(collector).toMatchObject({
      Essential: false,
      User: '10001',
      ReadonlyRootFilesystem: true,
      Memory: COLLECTOR_MEMORY_MIB,
      Cpu: 64,
      HealthCheck: expect.objectContaining({ Command: ['CMD', '/healthcheck'] }),
    });
    expect(env(collector).AOT_CONFIG_CONTENT).toBe(readFileSync(COLLECTOR_CONFIG_FILE, 'utf8'));
    expect(env(collector).METRICS_NAMESPACE).toBe('webapp/App');
    expect(JSON.stringify(env(collector).METRICS_LOG_GROUP)).toMatch(/AppMetricsLogs/);
    expect(Number(def.Memory) - COLLECTOR_MEMORY_MIB).toBeGreaterThanOrEqual(384);
    expect(app.DependsOn).toEqual([{ ContainerName: 'otel-collector', Condition: 'START' }]);
    const service = task === 'WebTask' ? 'web' : 'worker';
    expect(env(app)).toMatchObject({
      OTEL_EXPORTER_OTLP_ENDPOINT: OTLP_ENDPOINT,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
      OTEL_SERVICE_NAME: `webapp-${service}`,
      OTEL_RESOURCE_ATTRIBUTES: `service.namespace=webapp,deployment.environment.name=${name},service.version=${config().image.tag}`,
      OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
      OTEL_TRACES_SAMPLER_ARG: String(config().app.tracing.sampleRatio),
      OTEL_PROPAGATORS: 'tracecontext,baggage,xray',
    });
  });

  test('sampling per stage: every trace in dev, half in staging, a tenth in prod', () => {
    expect(config().app.tracing.sampleRatio).toBe({ dev: 1, staging: 0.5, prod: 0.1 }[name]);
  });

  test('the migration task runs without a collector', () => {
    const def = taskDefinition(name, 'MigrationTaskTaskDefinition');
    expect((def.ContainerDefinitions as Json[]).map((c) => c.Name)).toEqual(['app']);
  });

  test("the execution roles pull the collector through the cache, and may import only that repository's images from upstream", () => {
    const statements = policyStatements(stages[name].app, /^(Web|Worker)TaskTaskDefinitionExecutionRoleDefaultPolicy/);
    const cacheArn = (s: Json) => JSON.stringify(s.Resource).includes(`:repository/${COLLECTOR_CACHE.repositoryName}`);
    const imports = statements.filter((s) => s.Sid === 'CollectorImageThroughTheCache');
    expect(imports).toHaveLength(2);
    for (const s of imports) {
      expect(s.Action).toEqual(['ecr:BatchImportUpstreamImage', 'ecr:CreateRepository']);
      expect(cacheArn(s)).toBe(true);
      expect(JSON.stringify(s.Resource)).not.toContain('*');
    }
    const pulls = statements.filter((s) => cacheArn(s) && s.Sid !== 'CollectorImageThroughTheCache');
    const pull = ['ecr:BatchCheckLayerAvailability', 'ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer'];
    expect(pulls.map((s) => [s.Action].flat().sort())).toEqual([pull, pull]);
  });

  test('the app-metrics log group is encrypted and kept for the stage retention', () => {
    const [group] = Object.entries(stages[name].app.findResources('AWS::Logs::LogGroup')).filter(([id]) => id.startsWith('AppMetricsLogs'));
    expect(group[1].Properties.KmsKeyId).toBeDefined();
    expect(group[1].Properties.RetentionInDays).toBe(config().logRetentionDays);
  });
});
