import { type CfnResource, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as elasticache from 'aws-cdk-lib/aws-elasticache';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';

/**
 * When ElastiCache may patch the group (UTC): Sunday early morning, after the database's window.
 * The AUTH token rotation opens its window after this one (lib/app/cache-token-rotation.ts).
 */
export const CACHE_MAINTENANCE_WINDOW = 'sun:04:30-sun:05:30';

export interface CacheProps {
  readonly vpc: ec2.IVpc;
  /** ElastiCache node type, e.g. "cache.t4g.micro". */
  readonly nodeType: string;
  /** Read replicas besides the primary; one or more turns on Multi-AZ with automatic failover. */
  readonly replicas: number;
  /** Days of daily snapshots; 0 takes none. */
  readonly snapshotRetentionDays: number;
  /** Encrypts data at rest and the AUTH token secret. */
  readonly key: kms.IKey;
  /** Where ElastiCache sends the group's failover, node and maintenance events (CacheEvents). */
  readonly notificationTopicArn?: string;
  /**
   * What happens to the replication group when it leaves the stack: SNAPSHOT keeps a final
   * snapshot, DESTROY does not.
   * @default RemovalPolicy.SNAPSHOT
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * An ElastiCache subnet group that exists already, by name (the pilot light's in the DR region).
   * @default a subnet group of its own over the VPC's isolated subnets
   */
  readonly subnetGroupName?: string;
  /**
   * A security group that exists already (the pilot light's in the DR region); consumers are
   * admitted to it through `connections` all the same.
   * @default a group of its own that admits nobody and lets nothing out
   */
  readonly securityGroup?: ec2.ISecurityGroup;
  /**
   * The app stack's CacheTokenRotation rotates the AUTH token. The DR app tier's cache, which
   * lives only while the stage is failed over or drilled, keeps the token it was created with.
   * @default true
   */
  readonly isAuthTokenRotated?: boolean;
}

/** Valkey, the Redis-compatible engine ElastiCache prices about 20% below Redis OSS; BullMQ supports it. */
export const CACHE_ENGINE = { engine: 'valkey', version: '8.0', family: 'valkey8' } as const;
export const CACHE_PORT = 6379;

/**
 * Defines the stage's Valkey (Redis-compatible) replication group for BullMQ queues: node-based
 * (BullMQ needs `noeviction` and blocking commands, which Serverless does not promise), TLS in
 * transit, encrypted at rest with the cache key, an AUTH token generated into Secrets Manager
 * (rotated by the app stack's CacheTokenRotation, which also restarts the services onto it),
 * `maxmemory-policy noeviction` so queue keys are never evicted (cache keys must therefore carry
 * TTLs), Multi-AZ with automatic failover when there is a replica, in the isolated subnets.
 * Nothing may connect until a consumer is admitted through `connections`.
 */
export class Cache extends Construct implements ec2.IConnectable {
  readonly replicationGroup: elasticache.CfnReplicationGroup;
  readonly authToken: secretsmanager.ISecret;
  readonly connections: ec2.Connections;
  /** Primary endpoint host, for `rediss://` URLs. */
  readonly endpointAddress: string;
  readonly port = CACHE_PORT;

  constructor(scope: Construct, id: string, props: CacheProps) {
    super(scope, id);
    const { stackName } = Stack.of(this);

    const securityGroup =
      props.securityGroup ??
      new ec2.SecurityGroup(this, 'SecurityGroup', {
        vpc: props.vpc,
        description: `Valkey for ${stackName}: admits only the consumers granted on ${CACHE_PORT}`,
        allowAllOutbound: false,
      });
    this.connections = new ec2.Connections({ securityGroups: [securityGroup], defaultPort: ec2.Port.tcp(CACHE_PORT) });

    const subnetGroupName =
      props.subnetGroupName ??
      new elasticache.CfnSubnetGroup(this, 'Subnets', {
        description: `Isolated subnets of ${stackName}`,
        subnetIds: props.vpc.isolatedSubnets.map((s) => s.subnetId),
      }).ref;

    const parameters = new elasticache.CfnParameterGroup(this, 'Parameters', {
      cacheParameterGroupFamily: CACHE_ENGINE.family,
      description: `BullMQ settings for ${stackName}`,
      // BullMQ loses jobs if the engine evicts its keys under memory pressure.
      properties: { 'maxmemory-policy': 'noeviction' },
    });

    this.authToken = new secretsmanager.Secret(this, 'AuthToken', {
      description: `AUTH token of the ${stackName} Valkey replication group`,
      encryptionKey: props.key,
      // ElastiCache accepts 16-128 printable characters without @ " /; letters and digits are safe in URLs.
      generateSecretString: { passwordLength: 64, excludePunctuation: true },
      // Kept with the cache's final snapshot where the stage keeps its data: the token is what
      // clients of a cache restored from it were configured with.
      removalPolicy: props.removalPolicy === RemovalPolicy.DESTROY ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN,
    });

    const multiAz = props.replicas > 0;
    this.replicationGroup = new elasticache.CfnReplicationGroup(this, 'ReplicationGroup', {
      replicationGroupDescription: `BullMQ queues of ${stackName}`,
      engine: CACHE_ENGINE.engine,
      engineVersion: CACHE_ENGINE.version,
      cacheNodeType: props.nodeType,
      numCacheClusters: 1 + props.replicas,
      automaticFailoverEnabled: multiAz,
      multiAzEnabled: multiAz,
      cacheParameterGroupName: parameters.ref,
      cacheSubnetGroupName: subnetGroupName,
      securityGroupIds: [securityGroup.securityGroupId],
      port: CACHE_PORT,
      transitEncryptionEnabled: true,
      transitEncryptionMode: 'required',
      atRestEncryptionEnabled: true,
      kmsKeyId: props.key.keyArn,
      authToken: this.authToken.secretValue.unsafeUnwrap(),
      snapshotRetentionLimit: props.snapshotRetentionDays,
      snapshotWindow: props.snapshotRetentionDays > 0 ? '01:00-02:00' : undefined,
      preferredMaintenanceWindow: CACHE_MAINTENANCE_WINDOW,
      autoMinorVersionUpgrade: true,
      notificationTopicArn: props.notificationTopicArn,
    });
    this.replicationGroup.applyRemovalPolicy(props.removalPolicy ?? RemovalPolicy.SNAPSHOT);
    this.endpointAddress = this.replicationGroup.attrPrimaryEndPointAddress;

    this.acknowledgeFindings(props, multiAz);
  }

  private acknowledgeFindings(props: CacheProps, multiAz: boolean): void {
    const group: CfnResource = this.replicationGroup;
    Validations.of(group).acknowledge({
      id: 'AwsSolutions-AEC5',
      reason: 'A non-default port adds nothing here: the group sits in isolated subnets, its security group admits only named consumers, and clients need TLS and the AUTH token.',
    });
    if (!multiAz) {
      Validations.of(group).acknowledge({
        id: 'AwsSolutions-AEC4',
        reason: 'No replica by configuration in this stage (cost); prod is required by the config schema to keep one, which turns on Multi-AZ failover.',
      });
    }
    if (props.snapshotRetentionDays < 15) {
      Validations.of(group).acknowledge({
        id: 'NIST.800.53.R5-ElastiCacheRedisClusterAutomaticBackup',
        reason: `Snapshots are kept ${props.snapshotRetentionDays} day(s) by configuration: the cache holds BullMQ jobs that are minutes to hours old, so a 15-day-old snapshot would only replay obsolete work. The database is the system of record.`,
      });
    }
    const unrotated =
      (props.isAuthTokenRotated ?? true)
        ? "Rotated monthly by the app stack's CacheTokenRotation (its rotation schedule names this secret): rotating restarts the app's services, which live there. cdk-nag looks for a schedule in this stack only."
        : "The DR app tier's cache lives only while the stage runs in its DR region (a failover or its drill) and is deleted with the tier; its token is generated at creation, read by ECS from here, and never leaves AWS.";
    for (const id of ['AwsSolutions-SMG4', 'NIST.800.53.R5-SecretsManagerRotationEnabled']) {
      Validations.of(this.authToken.node.defaultChild!).acknowledge({ id, reason: unrotated });
    }
  }
}
