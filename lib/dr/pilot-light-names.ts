import { PROJECT, stageResourceName } from '../shared/naming';

/**
 * The fixed names of a stage's pilot light and of the tiers a failover runs in its DR region,
 * which the failover, failback, drill and preflight commands find them by (scripts/lib): written
 * once here so the stacks and the commands cannot drift apart. No imports beyond naming, so
 * commands load it without the CDK.
 */
export function pilotLightNames(stage: string) {
  return {
    /** The stack (`<stage>-PilotLight`), as `cdk deploy '<stage>/PilotLight'` and its outputs name it. */
    stackName: `${stage}-PilotLight`,
    /** The RDS subnet group a database restored in the DR region goes into. */
    databaseSubnetGroup: stageResourceName(stage, 'dr', 'database'),
    /** The ElastiCache subnet group the DR cache goes into. */
    cacheSubnetGroup: stageResourceName(stage, 'dr', 'cache'),
    /**
     * The stage's data, app and operations tiers in the DR region (`<stage>-DrApp`), deployed by the
     * failover and the drill against the database they restore there.
     */
    drAppStackName: `${stage}-DrApp`,
    /** The database restored in the DR region: the stage database's own name, so IAM logins and runbooks carry over. */
    databaseIdentifier: stageResourceName(stage),
    /**
     * SSM parameter in the DR region holding the restored database's endpoint address: the failover
     * writes it after the restore, the DR app tier reads it at deploy time (an endpoint is known only
     * once the instance exists).
     */
    databaseEndpointParameter: `/${PROJECT}/${stage}/dr/database-endpoint`,
    /**
     * SSM parameter in the primary region holding the time (ISO 8601) of the last failover drill that
     * completed; the operations stack alarms when it is older than the drill interval.
     */
    lastDrillParameter: `/${PROJECT}/${stage}/dr/last-drill`,
    /**
     * SSM parameter in the DR region holding the last drill's measured minutes per step (JSON), which
     * the failover's plan quotes as its expected times: it must be readable when the primary is lost.
     */
    drillMinutesParameter: `/${PROJECT}/${stage}/dr/drill-minutes`,
  } as const;
}

/** The edge stack's output naming the region whose load balancer CloudFront sends viewers to. */
export const SERVING_FROM_OUTPUT = 'ServingFrom';

/**
 * The outputs the DR app tier reads of the pilot light and of the DR stack (by name, at deploy
 * time): a pilot light deployed before one of them existed would fail the failover's deploy, so
 * the failover checks for them first. test/dr/dr-app-stack.test.ts holds them to the template.
 */
export const DR_APP_READS = {
  pilotLight: [
    'VpcId',
    'PrivateSubnetIds',
    'PublicSubnetIds',
    'PrivateRouteTableIds',
    'LogsKeyArn',
    'LoadBalancerSecurityGroupId',
    'HttpsListenerArn',
    'LoadBalancerFullName',
    'DatabaseSecurityGroupId',
    'CacheSubnetGroupName',
    'CacheSecurityGroupId',
  ],
  /** The second pair only where the stage replicates its uploads. */
  dr: ['BackupKeyArn', 'UploadsReplicaBucketName', 'UploadsReplicaKeyArn'],
  /** Of the pilot light besides, where the stage does not replicate its uploads: the bucket the tier stores them in. */
  pilotLightUploads: ['UploadsBucketName', 'UploadsKeyArn'],
} as const;

/** What the DR stack's backup key serves: RDS and AWS Backup for the copies, Secrets Manager for the master secret of a database restored there. */
export const BACKUP_KEY_SERVICES = ['rds', 'backup', 'secretsmanager'] as const;
