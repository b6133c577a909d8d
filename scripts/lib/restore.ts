import {
  type DBInstance,
  DescribeDBInstancesCommand,
  ModifyDBInstanceCommand,
  type RDSClient,
  RestoreDBInstanceFromDBSnapshotCommand,
  StartDBInstanceAutomatedBackupsReplicationCommand,
} from '@aws-sdk/client-rds';

/**
 * The steps of a database restore that leave the app connectable without a stack edit: the
 * restored instance carries every setting the stack gave the current one (a snapshot restore
 * drops most of them), gets its own RDS-managed master secret, and takes over the current
 * instance's name, so its endpoint, the stacks' references and the app's IAM login (any
 * instance's webapp_app user in the stage account) all stay valid. docs/disaster-recovery.md walks through them;
 * scripts/restore-database.ts runs them; the restore drill uses the secret step.
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
    if (key === 'backupReplication') continue; // started separately, in the DR region
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
    if (wait.now().getTime() >= deadline) throw new Error(`${id} is still "${db?.DBInstanceStatus ?? 'missing'}" after ${minutes} minutes`);
    wait.log(`${id}: ${db?.DBInstanceStatus ?? 'not there yet'}${pending ? ' (changes pending)' : ''}${secretReady ? '' : ' (secret not active yet)'}`);
    await wait.sleep(30_000);
  }
}

/** Restores `snapshot` as `target` with what a snapshot restore accepts of `settings`. */
export async function restoreFromSnapshot(rds: Pick<RDSClient, 'send'>, snapshot: string, target: string, settings: InstanceSettings): Promise<void> {
  await rds.send(
    new RestoreDBInstanceFromDBSnapshotCommand({
      DBInstanceIdentifier: target,
      DBSnapshotIdentifier: snapshot,
      DBInstanceClass: settings.instanceClass,
      DBSubnetGroupName: settings.subnetGroup,
      VpcSecurityGroupIds: settings.securityGroups,
      DBParameterGroupName: settings.parameterGroup,
      MultiAZ: settings.multiAz,
      StorageType: settings.storageType,
      PubliclyAccessible: false,
      // Off until the restore is accepted and the copy takes the stage's name (step "swap").
      DeletionProtection: false,
      CopyTagsToSnapshot: settings.copyTagsToSnapshot,
      EnableIAMDatabaseAuthentication: settings.iamAuth,
      EnableCloudwatchLogsExports: settings.logExports,
      CACertificateIdentifier: settings.caCertificate,
      AutoMinorVersionUpgrade: settings.autoMinorVersionUpgrade,
    }),
  );
}

/**
 * The settings a snapshot restore cannot take, applied after it: its own RDS-managed master
 * secret (for PostgreSQL the restore call does not accept it), encrypted with the stage's
 * database key; backups, windows, storage ceiling, Performance Insights and monitoring.
 */
export async function applySettings(rds: Pick<RDSClient, 'send'>, target: string, settings: InstanceSettings): Promise<void> {
  await rds.send(
    new ModifyDBInstanceCommand({
      DBInstanceIdentifier: target,
      ApplyImmediately: true,
      ManageMasterUserPassword: true,
      MasterUserSecretKmsKeyId: settings.masterSecretKmsKeyId,
      EnableIAMDatabaseAuthentication: settings.iamAuth,
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

/** Starts replicating the automated backups of `instanceArn` again, with a client in the DR region. */
export async function replicateBackups(rdsDr: Pick<RDSClient, 'send'>, instanceArn: string, kmsKeyId: string, retentionDays: number): Promise<void> {
  await rdsDr.send(new StartDBInstanceAutomatedBackupsReplicationCommand({ SourceDBInstanceArn: instanceArn, KmsKeyId: kmsKeyId, BackupRetentionPeriod: retentionDays }));
}
