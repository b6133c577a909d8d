import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import { ECRClient } from '@aws-sdk/client-ecr';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { SSMClient } from '@aws-sdk/client-ssm';
import type { CdkCustomResourceEvent, CdkCustomResourceResponse } from 'aws-lambda';
import { handleOnEvent } from './custom-resource';

const retry = { maxAttempts: 8, retryMode: 'adaptive' as const };
const clients = {
  cloudwatch: new CloudWatchClient(retry),
  events: new EventBridgeClient(retry),
  ssm: new SSMClient(retry),
  cloudformation: new CloudFormationClient(retry),
  ecr: new ECRClient(retry),
  logs: new CloudWatchLogsClient(retry),
};

/** onEvent of the release record custom resource (Provider framework). */
export async function onEvent(event: CdkCustomResourceEvent): Promise<CdkCustomResourceResponse> {
  return handleOnEvent(event, clients, new Date());
}
