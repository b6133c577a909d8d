import { ECSClient } from '@aws-sdk/client-ecs';
import { ElastiCacheClient } from '@aws-sdk/client-elasticache';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { replicationGroupApi } from './elasticache';
import { type Clients, type RotationEvent, type RotationSettings, rotate, type SettleOutcome, settle } from './rotation';
import { acceptsToken } from './valkey';

// Throttling is retried with backoff by the SDK before a step fails (Secrets Manager then retries the rotation).
const retry = { maxAttempts: 5, retryMode: 'adaptive' as const };

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} must be set in the function's environment`);
  return value;
}

const settings: RotationSettings = {
  stage: required('STAGE'),
  secretArn: required('SECRET_ARN'),
  replicationGroupId: required('REPLICATION_GROUP_ID'),
  cluster: required('CLUSTER'),
  services: required('SERVICES').split(','),
  // The function times out after 15 minutes; ROTATE takes a few.
  modifyWaitSeconds: 600,
  pollSeconds: 15,
  settleDeadlineHours: 24,
};
const endpoint = { host: required('CACHE_HOST'), port: Number(required('CACHE_PORT')), tls: true };
const clients: Clients = {
  secrets: new SecretsManagerClient(retry),
  ecs: new ECSClient(retry),
  cache: replicationGroupApi(new ElastiCacheClient(retry)),
  accepts: (token) => acceptsToken(endpoint, token),
};

/** Secrets Manager's rotation steps, and the scheduled settle step (`{"action":"settle"}`). */
export async function handler(event: RotationEvent | { action: 'settle' }): Promise<string | SettleOutcome> {
  const outcome = 'Step' in event ? await rotate(clients, settings, event) : await settle(clients, settings, new Date());
  console.log(JSON.stringify({ event: 'Step' in event ? event.Step : 'settle', outcome }));
  return outcome;
}
