import { ECSClient } from '@aws-sdk/client-ecs';
import { RDSClient } from '@aws-sdk/client-rds';
import type { CdkCustomResourceEvent, CdkCustomResourceIsCompleteEvent, CdkCustomResourceIsCompleteResponse, CdkCustomResourceResponse } from 'aws-lambda';
import { handleIsComplete, handleOnEvent } from './custom-resource';

// Throttling is retried with backoff by the SDK (adaptive mode, 8 attempts) before the run fails closed.
const retry = { maxAttempts: 8, retryMode: 'adaptive' as const };
const clients = {
  rds: new RDSClient(retry),
  rdsDr: process.env.DR_REGION ? new RDSClient({ ...retry, region: process.env.DR_REGION }) : undefined,
  ecs: new ECSClient(retry),
};

/** onEvent of the pre-deploy snapshot custom resource (Provider framework). */
export async function onEvent(event: CdkCustomResourceEvent): Promise<CdkCustomResourceResponse> {
  return handleOnEvent(event, clients, new Date());
}

/** isComplete of the pre-deploy snapshot custom resource, polled until the snapshot is available. */
export async function isComplete(event: CdkCustomResourceIsCompleteEvent): Promise<CdkCustomResourceIsCompleteResponse> {
  return handleIsComplete(event, clients, new Date());
}
