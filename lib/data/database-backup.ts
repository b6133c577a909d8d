import { Duration } from 'aws-cdk-lib';
import * as backup from 'aws-cdk-lib/aws-backup';
import * as events from 'aws-cdk-lib/aws-events';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as rds from 'aws-cdk-lib/aws-rds';
import { Construct } from 'constructs';
import { acknowledgeAwsManagedPolicy } from '../shared/aws-managed-policy';
import { stageResourceName } from '../shared/naming';
import { protectedVault, type VaultProtection } from '../shared/protected-vault';

export interface DatabaseBackupProps {
  readonly stage: string;
  /** Vault name: kept when the stack goes, so unique to each creation of the stack (`webapp-<stage>-<suffix>`). */
  readonly vaultName: string;
  readonly instance: rds.IDatabaseInstance;
  /** Encrypts the vault (RDS recovery points stay encrypted with the database's own key). */
  readonly key: kms.IKey;
  /** Days each daily recovery point is kept (and the vault lock's minimum). */
  readonly retentionDays: number;
  /** Vault lock mode and the break-glass role (lib/shared/protected-vault.ts). */
  readonly protection: VaultProtection;
  /** Vault in the DR region that receives a copy of each recovery point, and how long copies are kept. */
  readonly drCopy?: { readonly vault: backup.IBackupVault; readonly retentionDays: number };
}

/**
 * Defines the AWS Backup plan of the stage database: a snapshot every day at 05:00 UTC (after
 * the RDS backup window 02:00-03:00 and the Sunday maintenance window, when AWS Backup may not
 * start an RDS job), kept `retentionDays` in the stage's vault, each copied to the DR vault where
 * configured. Point-in-time recovery stays with RDS's own automated backups (and their DR-region
 * replica): AWS Backup's continuous backup would take over their retention from the stack.
 */
export class DatabaseBackup extends Construct {
  readonly vault: backup.BackupVault;
  readonly plan: backup.BackupPlan;

  constructor(scope: Construct, id: string, props: DatabaseBackupProps) {
    super(scope, id);
    this.vault = protectedVault(this, 'Vault', { vaultName: props.vaultName, key: props.key, minRetentionDays: props.retentionDays, ...props.protection });
    this.plan = new backup.BackupPlan(this, 'Plan', { backupPlanName: stageResourceName(props.stage, 'database'), backupVault: this.vault });
    this.plan.addRule(
      new backup.BackupPlanRule({
        ruleName: 'Daily',
        scheduleExpression: events.Schedule.cron({ minute: '0', hour: '5' }),
        startWindow: Duration.hours(1),
        completionWindow: Duration.hours(4),
        deleteAfter: Duration.days(props.retentionDays),
        copyActions: props.drCopy ? [{ destinationBackupVault: props.drCopy.vault, deleteAfter: Duration.days(props.drCopy.retentionDays) }] : undefined,
      }),
    );
    const selection = this.plan.addSelection('Database', {
      resources: [backup.BackupResource.fromRdsDatabaseInstance(props.instance)],
      // Restores (tests, drills, the restore script) run with the restore-testing role: this
      // role only takes and copies backups.
      allowRestores: false,
    });
    const role = selection.node.tryFindChild('Role');
    if (role) {
      acknowledgeAwsManagedPolicy(
        role,
        'service-role/AWSBackupServiceRolePolicyForBackup',
        'AWSBackupServiceRolePolicyForBackup is the policy AWS maintains for AWS Backup to take and copy recovery points; the selection names only the stage database.',
      );
    }
  }
}
