import { DescribeReplicationGroupsCommand, type ElastiCacheClient, ModifyReplicationGroupCommand } from '@aws-sdk/client-elasticache';
import type { ReplicationGroupApi } from './rotation';

/** The ElastiCache calls rotation makes, over the SDK client the Lambda runtime ships. */
export function replicationGroupApi(client: Pick<ElastiCacheClient, 'send'>): ReplicationGroupApi {
  return {
    status: async (id) => (await client.send(new DescribeReplicationGroupsCommand({ ReplicationGroupId: id }))).ReplicationGroups?.[0]?.Status ?? 'missing',
    modifyAuthToken: async (id, token, strategy) => {
      await client.send(new ModifyReplicationGroupCommand({ ReplicationGroupId: id, AuthToken: token, AuthTokenUpdateStrategy: strategy, ApplyImmediately: true }));
    },
  };
}
