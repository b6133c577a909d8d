/**
 * The project's name: the first part of every name it gives an AWS resource, tag and metric
 * namespace. Changing it renames (and so replaces) the stateful resources that carry it, the
 * database instance among them: it is fixed once a stage is deployed. No imports, so the Lambda
 * handlers bundle it too.
 */
export const PROJECT = 'webapp';

/** `webapp-<stage>[-<part>...]`: the name of a stage's resource. */
export function stageResourceName(stage: string, ...parts: string[]): string {
  return [PROJECT, stage, ...parts].join('-');
}

/** A tag key of the project's own (`webapp:<name>`). */
export function projectTag(name: string): string {
  return `${PROJECT}:${name}`;
}

/** Where the release record goes (lambda/release-record): its metric namespace, and its event's source and detail type. */
export const RELEASE_METRICS_NAMESPACE = `${PROJECT}/Releases`;

/**
 * Namespace of the BullMQ queue metrics the queue-health function reads from the cache
 * (lib/ops/queue-health.ts; docs/architecture.md, "Queue health"), dimensions `Stage` and `Queue`.
 */
export const QUEUE_METRICS_NAMESPACE = `${PROJECT}/Queues`;

/**
 * Namespace of the failover drill's age (lambda/failover-drill-age): `DaysSinceDrill`, dimension
 * `Stage`, published daily for each stage with a pilot light.
 */
export const FAILOVER_METRICS_NAMESPACE = `${PROJECT}/Failover`;
export const RELEASE_EVENT = { source: `${PROJECT}.release`, detailType: 'Release Completed' } as const;
