import { type CloudFormationClient, DescribeStackResourceDriftsCommand, DescribeStackResourcesCommand, DetectStackResourceDriftCommand } from '@aws-sdk/client-cloudformation';
import {
  type DBInstance,
  DescribeDBInstancesCommand,
  ModifyDBInstanceCommand,
  type RDSClient,
  RestoreDBInstanceFromDBSnapshotCommand,
  RestoreDBInstanceToPointInTimeCommand,
  StartDBInstanceAutomatedBackupsReplicationCommand,
  StopDBInstanceAutomatedBackupsReplicationCommand,
} from '@aws-sdk/client-rds';

/**
 * The steps of a database restore that leave the app connectable without a stack edit: the
 * restored instance carries every setting the stack gave the current one (a snapshot restore
 * drops most of them), gets its own RDS-managed master secret, and takes over the current
 * instance's name, so its endpoint, the stacks' references and the app's IAM login (any
 * instance's webapp_app user in the stage account) all stay valid. docs/disaster-recovery.md walks through them;
 * restore-database.ts runs them (npm run restore); the restore drill uses the secret step.
 */

/** What the stack set on the instance, read from the running one. */
export interface InstanceSettings {
  readonly instanceClass: string;
  readonly subnetGroup: string;
  readonly securityGroups: string[];
  readonly parameterGroup: string;
  readonly multiAz: boolean;
  readonly storageType: string;
  readonly maxAllocatedStorage?: number;
  readonly deletionProtection: boolean;
  readonly copyTagsToSnapshot: boolean;
  readonly iamAuth: boolean;
  readonly logExports: string[];
  readonly caCertificate?: string;
  readonly autoMinorVersionUpgrade: boolean;
  readonly backupRetention: number;
  readonly backupWindow?: string;
  readonly maintenanceWindow?: string;
  readonly performanceInsights: { readonly enabled: boolean; readonly kmsKeyId?: string; readonly retentionDays?: number };
  readonly monitoring: { readonly intervalSeconds: number; readonly roleArn?: string };
  /** The key the RDS-managed master secret is encrypted with (the stage's database key). */
  readonly masterSecretKmsKeyId?: string;
  /** Regions the automated backups are replicated to (their key and retention are not shown by RDS). */
  readonly backupReplication: { readonly region: string }[];
}

export function settingsOf(db: DBInstance): InstanceSettings {
  return {
    instanceClass: db.DBInstanceClass!,
    subnetGroup: db.DBSubnetGroup?.DBSubnetGroupName ?? '',
    securityGroups: (db.VpcSecurityGroups ?? []).map((g) => g.VpcSecurityGroupId!).sort(),
    parameterGroup: db.DBParameterGroups?.[0]?.DBParameterGroupName ?? '',
    multiAz: db.MultiAZ ?? false,
    storageType: db.StorageType ?? 'gp3',
    maxAllocatedStorage: db.MaxAllocatedStorage,
    deletionProtection: db.DeletionProtection ?? false,
    copyTagsToSnapshot: db.CopyTagsToSnapshot ?? false,
    iamAuth: db.IAMDatabaseAuthenticationEnabled ?? false,
    logExports: [...(db.EnabledCloudwatchLogsExports ?? [])].sort(),
    caCertificate: db.CACertificateIdentifier,
    autoMinorVersionUpgrade: db.AutoMinorVersionUpgrade ?? false,
    backupRetention: db.BackupRetentionPeriod ?? 0,
    backupWindow: db.PreferredBackupWindow,
    maintenanceWindow: db.PreferredMaintenanceWindow,
    performanceInsights: {
      enabled: db.PerformanceInsightsEnabled ?? false,
      kmsKeyId: db.PerformanceInsightsEnabled ? db.PerformanceInsightsKMSKeyId : undefined,
      retentionDays: db.PerformanceInsightsEnabled ? db.PerformanceInsightsRetentionPeriod : undefined,
    },
    monitoring: { intervalSeconds: db.MonitoringInterval ?? 0, roleArn: db.MonitoringInterval ? db.MonitoringRoleArn : undefined },
    masterSecretKmsKeyId: db.MasterUserSecret?.KmsKeyId,
    backupReplication: (db.DBInstanceAutomatedBackupsReplications ?? []).map((r) => ({ region: r.DBInstanceAutomatedBackupsArn?.split(':')[3] ?? '' })),
  };
}

/** The settings in which `restored` differs from `current`, in words; empty when it matches. */
export function differences(current: InstanceSettings, restored: InstanceSettings): string[] {
  const diff: string[] = [];
  for (const key of Object.keys(current) as (keyof InstanceSettings)[]) {
    // Started separately, in the DR region; and deletion protection stays off on the copy until it takes the stage's name.
    if (key === 'backupReplication' || key === 'deletionProtection') continue;
    if (JSON.stringify(current[key]) !== JSON.stringify(restored[key])) diff.push(`${key}: ${JSON.stringify(restored[key])} instead of ${JSON.stringify(current[key])}`);
  }
  return diff;
}

export async function describe(rds: Pick<RDSClient, 'send'>, id: string): Promise<DBInstance | undefined> {
  try {
    return (await rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: id }))).DBInstances?.[0];
  } catch (error) {
    if ((error as { name?: string }).name?.startsWith('DBInstanceNotFound')) return undefined;
    throw error;
  }
}

export interface Waiting {
  readonly now: () => Date;
  readonly sleep: (ms: number) => Promise<void>;
  readonly log: (line: string) => void;
}

/** Waits until `id` is available with nothing pending (and, if asked, its managed secret active). */
export async function waitAvailable(rds: Pick<RDSClient, 'send'>, id: string, wait: Waiting, { minutes = 120, secret = false } = {}): Promise<DBInstance> {
  const deadline = wait.now().getTime() + minutes * 60_000;
  for (;;) {
    const db = await describe(rds, id);
    const pending = db?.PendingModifiedValues && Object.values(db.PendingModifiedValues).some((v) => v !== undefined);
    const secretReady = !secret || db?.MasterUserSecret?.SecretStatus === 'active';
    if (db?.DBInstanceStatus === 'available' && !pending && secretReady) return db;
    const waitingFor = `${pending ? ' (changes pending)' : ''}${secretReady ? '' : ' (secret not active yet)'}`;
    if (wait.now().getTime() >= deadline) throw new Error(`${id} is still "${db?.DBInstanceStatus ?? 'missing'}"${waitingFor} after ${minutes} minutes`);
    wait.log(`${id}: ${db?.DBInstanceStatus ?? 'not there yet'}${waitingFor}`);
    await wait.sleep(30_000);
  }
}

/**
 * Where a restore starts from: a snapshot, a time within an instance's point-in-time window, or a
 * time within the window of automated backups replicated to this region (the instance is elsewhere).
 */
export type RestoreSource =
  | { readonly snapshot: string }
  | { readonly source: string; readonly time: Date | 'latest' }
  | { readonly replicatedBackups: string; readonly time: Date | 'latest' };

/** What a restore does beside the settings: keep the settings' deletion protection (a failover's database serves at once), and tag the instance. */
export interface RestoreOptions {
  readonly keepDeletionProtection?: boolean;
  readonly tags?: readonly { readonly Key: string; readonly Value: string }[];
}

/** What both restore calls accept of `settings`. */
function restoreSettings(settings: InstanceSettings, options: RestoreOptions) {
  return {
    DBInstanceClass: settings.instanceClass,
    DBSubnetGroupName: settings.subnetGroup,
    VpcSecurityGroupIds: settings.securityGroups,
    DBParameterGroupName: settings.parameterGroup,
    MultiAZ: settings.multiAz,
    StorageType: settings.storageType,
    PubliclyAccessible: false,
    // Off until the restore is accepted and the copy takes the stage's name (step "swap").
    DeletionProtection: options.keepDeletionProtection ? settings.deletionProtection : false,
    CopyTagsToSnapshot: settings.copyTagsToSnapshot,
    EnableIAMDatabaseAuthentication: settings.iamAuth,
    EnableCloudwatchLogsExports: settings.logExports,
    CACertificateIdentifier: settings.caCertificate,
    AutoMinorVersionUpgrade: settings.autoMinorVersionUpgrade,
    ...(options.tags ? { Tags: [...options.tags] } : {}),
  };
}

/** Restores `from` (a snapshot, or a point in time of the source instance or of replicated backups) as `target` with what a restore accepts of `settings`. */
export async function restoreInstance(rds: Pick<RDSClient, 'send'>, from: RestoreSource, target: string, settings: InstanceSettings, options: RestoreOptions = {}): Promise<void> {
  if ('snapshot' in from) {
    await rds.send(new RestoreDBInstanceFromDBSnapshotCommand({ DBInstanceIdentifier: target, DBSnapshotIdentifier: from.snapshot, ...restoreSettings(settings, options) }));
    return;
  }
  await rds.send(
    new RestoreDBInstanceToPointInTimeCommand({
      ...('source' in from ? { SourceDBInstanceIdentifier: from.source } : { SourceDBInstanceAutomatedBackupsArn: from.replicatedBackups }),
      TargetDBInstanceIdentifier: target,
      ...(from.time === 'latest' ? { UseLatestRestorableTime: true } : { RestoreTime: from.time }),
      ...restoreSettings(settings, options),
    }),
  );
}

/**
 * Why `time` cannot be restored to from `db` (outside its point-in-time window: after its latest
 * restorable time, or before its backup retention), or undefined when it can.
 */
export function pointInTimeProblem(db: DBInstance, time: Date | 'latest', now: Date): string | undefined {
  if ((db.BackupRetentionPeriod ?? 0) === 0)
    return `${db.DBInstanceIdentifier} keeps no automated backups, so it has no point-in-time window. Restore a snapshot instead (--snapshot).`;
  if (time === 'latest') return undefined;
  const latest = db.LatestRestorableTime;
  if (latest && time.getTime() > latest.getTime())
    return `${time.toISOString()} is after the latest restorable time of ${db.DBInstanceIdentifier}, ${latest.toISOString()}. Pick an earlier time, or --to-time latest.`;
  const earliest = new Date(now.getTime() - (db.BackupRetentionPeriod ?? 0) * 86_400_000);
  if (time.getTime() < earliest.getTime())
    return `${time.toISOString()} is before the ${db.BackupRetentionPeriod}-day point-in-time window of ${db.DBInstanceIdentifier} (from about ${earliest.toISOString()}). Restore a snapshot or AWS Backup recovery point instead.`;
  return undefined;
}

/**
 * Asks CloudFormation whether the stack's database instance still matches its template (drift
 * detection on that one resource), and says how: "in sync", the differing properties, or why it
 * could not tell. `cdk diff` compares templates and cannot see this.
 */
export async function databaseDrift(cfn: Pick<CloudFormationClient, 'send'>, stackName: string, physicalId: string, wait: Waiting): Promise<string> {
  const resources = await cfn.send(new DescribeStackResourcesCommand({ StackName: stackName }));
  const resource = resources.StackResources?.find((r) => r.ResourceType === 'AWS::RDS::DBInstance' && r.PhysicalResourceId === physicalId);
  if (!resource?.LogicalResourceId) return `no AWS::RDS::DBInstance ${physicalId} in ${stackName}: check the stack by hand`;
  const detected = await cfn.send(new DetectStackResourceDriftCommand({ StackName: stackName, LogicalResourceId: resource.LogicalResourceId }));
  let drift = detected.StackResourceDrift;
  for (let i = 0; drift?.StackResourceDriftStatus === undefined && i < 10; i++) {
    await wait.sleep(10_000);
    drift = (await cfn.send(new DescribeStackResourceDriftsCommand({ StackName: stackName }))).StackResourceDrifts?.find((d) => d.LogicalResourceId === resource.LogicalResourceId);
  }
  const status = drift?.StackResourceDriftStatus;
  if (status === 'IN_SYNC') return `${stackName} ${resource.LogicalResourceId} (${physicalId}): in sync with its template`;
  if (status === 'MODIFIED') {
    const props = (drift?.PropertyDifferences ?? []).map((d) => `${d.PropertyPath} is ${d.ActualValue} (template: ${d.ExpectedValue})`);
    return `${stackName} ${resource.LogicalResourceId} (${physicalId}): DRIFTED: ${props.join('; ') || 'properties differ'}`;
  }
  return `${stackName} ${resource.LogicalResourceId} (${physicalId}): drift status ${status ?? 'unknown'}`;
}

/**
 * The settings a snapshot restore cannot take, applied after it: its own RDS-managed master
 * secret (for PostgreSQL the restore call does not accept it), encrypted with the stage's
 * database key; backups, windows, storage ceiling, Performance Insights and monitoring.
 */
export async function applySettings(rds: Pick<RDSClient, 'send'>, target: string, settings: InstanceSettings, { keepDeletionProtection = false } = {}): Promise<void> {
  await rds.send(
    new ModifyDBInstanceCommand({
      DBInstanceIdentifier: target,
      ApplyImmediately: true,
      ManageMasterUserPassword: true,
      MasterUserSecretKmsKeyId: settings.masterSecretKmsKeyId,
      EnableIAMDatabaseAuthentication: settings.iamAuth,
      // A point-in-time restore may start from the source's own: these are the copy's.
      MultiAZ: settings.multiAz,
      // Off on a copy until it is accepted (swapIn turns it on); a failover's database serves at once.
      DeletionProtection: keepDeletionProtection ? settings.deletionProtection : false,
      BackupRetentionPeriod: settings.backupRetention,
      PreferredBackupWindow: settings.backupWindow,
      PreferredMaintenanceWindow: settings.maintenanceWindow,
      MaxAllocatedStorage: settings.maxAllocatedStorage,
      EnablePerformanceInsights: settings.performanceInsights.enabled,
      PerformanceInsightsKMSKeyId: settings.performanceInsights.kmsKeyId,
      PerformanceInsightsRetentionPeriod: settings.performanceInsights.retentionDays,
      MonitoringInterval: settings.monitoring.intervalSeconds,
      MonitoringRoleArn: settings.monitoring.roleArn,
    }),
  );
}

/** The restored instance gets an RDS-managed master secret of its own, encrypted with `kmsKeyId`. */
export async function attachManagedSecret(rds: Pick<RDSClient, 'send'>, target: string, kmsKeyId: string): Promise<void> {
  await rds.send(
    new ModifyDBInstanceCommand({
      DBInstanceIdentifier: target,
      ApplyImmediately: true,
      ManageMasterUserPassword: true,
      MasterUserSecretKmsKeyId: kmsKeyId,
      EnableIAMDatabaseAuthentication: true,
    }),
  );
}

/** Renames `current` to `old` and `restored` to `current`, waiting for each rename. */
export async function swapIn(rds: Pick<RDSClient, 'send'>, names: { current: string; restored: string; old: string }, wait: Waiting, deletionProtection: boolean): Promise<void> {
  await rds.send(new ModifyDBInstanceCommand({ DBInstanceIdentifier: names.current, NewDBInstanceIdentifier: names.old, ApplyImmediately: true }));
  await waitAvailable(rds, names.old, wait);
  await rds.send(
    new ModifyDBInstanceCommand({ DBInstanceIdentifier: names.restored, NewDBInstanceIdentifier: names.current, ApplyImmediately: true, DeletionProtection: deletionProtection }),
  );
  await waitAvailable(rds, names.current, wait);
}

/**
 * Stops replicating the automated backups of `instanceArn` (a database the restore replaced): its
 * replicated backups in the DR region would keep advancing beside the new instance's, and cost.
 * The ones already there are kept to their retention.
 */
export async function stopReplicatingBackups(rdsDr: Pick<RDSClient, 'send'>, instanceArn: string): Promise<void> {
  try {
    await rdsDr.send(new StopDBInstanceAutomatedBackupsReplicationCommand({ SourceDBInstanceArn: instanceArn }));
  } catch (error) {
    // Not replicated (any more): nothing to stop.
    if (
      !['InvalidDBInstanceAutomatedBackupStateFault', 'DBInstanceAutomatedBackupNotFoundFault', 'DBInstanceAutomatedBackupNotFound', 'InvalidDBInstanceState'].includes(
        (error as Error).name,
      )
    )
      throw error;
  }
}

/** Starts replicating the automated backups of `instanceArn` again, with a client in the DR region. */
export async function replicateBackups(rdsDr: Pick<RDSClient, 'send'>, instanceArn: string, kmsKeyId: string, retentionDays: number): Promise<void> {
  await rdsDr.send(new StartDBInstanceAutomatedBackupsReplicationCommand({ SourceDBInstanceArn: instanceArn, KmsKeyId: kmsKeyId, BackupRetentionPeriod: retentionDays }));
}
