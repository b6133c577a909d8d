import { Queue } from 'bullmq';
import { deployedDeps, queueHealthHandler } from './handler';
import type { ReadOnlyQueue } from './health';

/** Invoked every minute by an EventBridge schedule; reads with BullMQ 6 (operations.queues.bullmqMajor: 6). */
export const handler = queueHealthHandler(deployedDeps(6, (name, options) => new Queue(name, options) as unknown as ReadOnlyQueue));
