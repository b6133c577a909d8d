import { ECSClient } from '@aws-sdk/client-ecs';
import { DescribeReplicationGroupsCommand, ElastiCacheClient, ModifyReplicationGroupCommand } from '@aws-sdk/client-elasticache';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { type Clients, type ReplicationGroupApi, type RotationEvent, type RotationSettings, rotate, type SettleOutcome, settle } from './rotation';
import { acceptsToken } from './valkey';

// Throttling is retried with backoff by the SDK before a step fails (Secrets Manager then retries the rotation).
const retry = { maxAttempts: 5, retryMode: 'adaptive' as const };

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} must be set in the function's environment`);
  return value;
}

/** The ElastiCache calls rotation makes, over the SDK client the Lambda runtime ships. */
export function replicationGroupApi(client: Pick<ElastiCacheClient, 'send'>): ReplicationGroupApi {
  return {
    status: async (id) => (await client.send(new DescribeReplicationGroupsCommand({ ReplicationGroupId: id }))).ReplicationGroups?.[0]?.Status ?? 'missing',
    modifyAuthToken: async (id, token, strategy) => {
      await client.send(new ModifyReplicationGroupCommand({ ReplicationGroupId: id, AuthToken: token, AuthTokenUpdateStrategy: strategy, ApplyImmediately: true }));
    },
  };
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
