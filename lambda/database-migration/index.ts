import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import { ECSClient } from '@aws-sdk/client-ecs';
import { RDSClient } from '@aws-sdk/client-rds';
import { SSMClient } from '@aws-sdk/client-ssm';
import type { CdkCustomResourceEvent, CdkCustomResourceIsCompleteEvent, CdkCustomResourceIsCompleteResponse, CdkCustomResourceResponse } from 'aws-lambda';
import { handleIsComplete, handleOnEvent } from './custom-resource';

// Throttling is retried with backoff by the SDK (adaptive mode, 8 attempts) before the run fails closed.
const retry = { maxAttempts: 8, retryMode: 'adaptive' as const };
const clients = {
  ecs: new ECSClient(retry),
  logs: new CloudWatchLogsClient(retry),
  ssm: new SSMClient(retry),
  rds: new RDSClient(retry),
  cloudformation: new CloudFormationClient(retry),
};

/** onEvent of the migration custom resource (Provider framework): starts the release's migration task. */
export async function onEvent(event: CdkCustomResourceEvent): Promise<CdkCustomResourceResponse> {
  return handleOnEvent(event, clients, new Date());
}

/** isComplete of the migration custom resource, polled until the task stops. */
export async function isComplete(event: CdkCustomResourceIsCompleteEvent): Promise<CdkCustomResourceIsCompleteResponse> {
  return handleIsComplete(event, clients, new Date());
}
