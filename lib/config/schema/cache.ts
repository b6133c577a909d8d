import { z } from 'zod';
import { CACHE_NODE_TYPES } from '../aws-catalog';
import { oneOf, type ProdRule } from '../fields';

/** The ElastiCache (Valkey) replication group: the BullMQ queues and the app's cache. */
export const cache = z
  .object({
    nodeType: z
      .string()
      .regex(/^cache\.[a-z][a-z0-9-]*\.[a-z0-9]+$/, 'not an ElastiCache node type. Fix: write it like "cache.t4g.micro"')
      .pipe(oneOf(CACHE_NODE_TYPES, 'an ElastiCache node type that runs Valkey', 'cache.t4g.small'))
      .meta({ description: 'ElastiCache node type (`cache.t4g.micro`)', rules: 'a node type that runs Valkey (pinned list)' }),
    replicas: z
      .number()
      .int()
      .min(0)
      .max(5, 'a replication group has at most 5 replicas. Fix: use 0 to 5')
      .meta({ description: 'read replicas besides the primary; one or more turns on Multi-AZ failover', rules: '0 to 5; prod: 1 or more' }),
    snapshotRetentionDays: z
      .number()
      .int()
      .min(0)
      .max(35, 'ElastiCache keeps snapshots for at most 35 days. Fix: use 0 to 35')
      .meta({ description: 'days of daily cache snapshots (0: none)', rules: '0 to 35' }),
  })
  .strict();

export const prodRules: readonly ProdRule<{ readonly cache: z.output<typeof cache> }>[] = [
  {
    path: ['cache', 'replicas'],
    holds: (c) => c.cache.replicas >= 1,
    message: 'prod needs a cache replica for Multi-AZ failover (BullMQ queues live there). Fix: set cache.replicas: 1 or more',
  },
];
