// The ElastiCache client of the AWS SDK, as far as this function calls it. The Lambda runtime
// ships the full SDK (the bundle leaves @aws-sdk/* out), but the package is not a dependency of
// this project yet; these declarations stand in for its types until it is added at the SDK version
// the other clients use, when this file is deleted.
declare module '@aws-sdk/client-elasticache' {
  interface DescribeReplicationGroupsInput {
    ReplicationGroupId: string;
  }
  interface ModifyReplicationGroupInput {
    ReplicationGroupId: string;
    AuthToken: string;
    AuthTokenUpdateStrategy: 'ROTATE' | 'SET';
    ApplyImmediately: boolean;
  }
  export class DescribeReplicationGroupsCommand {
    constructor(input: DescribeReplicationGroupsInput);
    readonly input: DescribeReplicationGroupsInput;
  }
  export class ModifyReplicationGroupCommand {
    constructor(input: ModifyReplicationGroupInput);
    readonly input: ModifyReplicationGroupInput;
  }
  export class ElastiCacheClient {
    constructor(config?: { maxAttempts?: number; retryMode?: 'standard' | 'adaptive' });
    send(command: DescribeReplicationGroupsCommand): Promise<{ ReplicationGroups?: { ReplicationGroupId?: string; Status?: string }[] }>;
    send(command: ModifyReplicationGroupCommand): Promise<{ ReplicationGroup?: { Status?: string } }>;
  }
}
