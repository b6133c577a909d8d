import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import type { CdkCustomResourceEvent, CdkCustomResourceResponse } from 'aws-lambda';
import { handleOnEvent } from './custom-resource';

const retry = { maxAttempts: 8, retryMode: 'adaptive' as const };
const clients = { cloudwatch: new CloudWatchClient(retry), events: new EventBridgeClient(retry) };

/** onEvent of the release record custom resource (Provider framework). */
export async function onEvent(event: CdkCustomResourceEvent): Promise<CdkCustomResourceResponse> {
  return handleOnEvent(event, clients, new Date());
}
