import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../../shared/paths';

/** The ADOT collector's configuration, which every web and worker task's sidecar runs. */
export const COLLECTOR_CONFIG_FILE = join(PROJECT_ROOT, 'lib', 'app', 'otel', 'collector.yaml');

/**
 * The ports the collector listens on (its `endpoint: host:port` lines: health check, OTLP gRPC and
 * HTTP). The containers of a Fargate task share one network namespace, so the app cannot listen
 * on any of them: the stage configuration refuses them as app.containerPort.
 */
export const COLLECTOR_PORTS: readonly number[] = [...readFileSync(COLLECTOR_CONFIG_FILE, 'utf8').matchAll(/^\s*endpoint:\s*\S+:(\d+)\s*$/gm)].map((m) => Number(m[1]));
