import { Queue } from 'bullmq-v5';
import { deployedDeps, queueHealthHandler } from './handler';
import type { ReadOnlyQueue } from './health';

/** Invoked every minute by an EventBridge schedule; reads with BullMQ 5 (operations.queues.bullmqMajor: 5). */
export const handler = queueHealthHandler(deployedDeps(5, (name, options) => new Queue(name, options) as unknown as ReadOnlyQueue));
