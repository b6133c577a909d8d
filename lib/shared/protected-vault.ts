import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as backup from 'aws-cdk-lib/aws-backup';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type { Construct } from 'constructs';
import { denyAllBut, protectionRoles } from './deny-all-but';

export interface VaultProtection {
  /** "governance" or "compliance" (then `changeableForDays` is the grace period). */
  readonly mode: 'governance' | 'compliance';
  readonly changeableForDays?: number;
  /** The role (name) that alone may delete recovery points and change the protection. */
  readonly breakGlassRoleName: string;
}

export interface ProtectedVaultProps extends VaultProtection {
  readonly vaultName: string;
  readonly key: kms.IKey;
  /** The shortest retention of the recovery points it receives: the lock's minimum. */
  readonly minRetentionDays: number;
}

/** The actions the vault policy denies to all but the break-glass role: what destroys recovery points early. */
export const RECOVERY_POINT_DESTRUCTION = ['backup:DeleteRecoveryPoint', 'backup:UpdateRecoveryPointLifecycle', 'backup:DeleteBackupVault'] as const;
/** Actions that would lift the protection itself. CloudFormation (the CDK execution role) may still set the policy, never remove it or the lock. */
export const PROTECTION_REMOVAL = ['backup:DeleteBackupVaultAccessPolicy', 'backup:DeleteBackupVaultLockConfiguration'] as const;

/**
 * A backup vault that a compromised administrator or CI role cannot empty: a vault lock whose
 * minimum retention is that of the plan writing to it (governance mode by default; compliance
 * only where the stage asks) and a vault access policy denying everyone but the break-glass role
 * the deletion of recovery points, the shortening of their lifecycle, the deletion of the vault,
 * and the removal of the policy or the lock. Setting the policy stays open to the CDK execution
 * role and the break-glass role only, so a deploy can still write it; a deploy cannot remove it.
 * Vault lock covers only AWS Backup recovery points: the pre-deploy snapshots are protected by
 * IAM (their function may delete only its own, by name and tag) and the SCP in
 * docs/disaster-recovery.md.
 */
export function protectedVault(scope: Construct, id: string, props: ProtectedVaultProps): backup.BackupVault {
  const roles = protectionRoles(scope);
  const breakGlass = roles.breakGlass(props.breakGlassRoleName);
  const { deployer } = roles;
  return new backup.BackupVault(scope, id, {
    backupVaultName: props.vaultName,
    encryptionKey: props.key,
    // A vault with recovery points cannot be deleted; keep it out of stack deletions altogether.
    removalPolicy: RemovalPolicy.RETAIN,
    lockConfiguration: {
      minRetention: Duration.days(props.minRetentionDays),
      ...(props.mode === 'compliance' ? { changeableFor: Duration.days(props.changeableForDays!) } : {}),
    },
    accessPolicy: new iam.PolicyDocument({
      statements: [
        denyAllBut('OnlyBreakGlassDestroysRecoveryPoints', RECOVERY_POINT_DESTRUCTION, [breakGlass]),
        denyAllBut('OnlyBreakGlassLiftsTheProtection', PROTECTION_REMOVAL, [breakGlass]),
        denyAllBut('OnlyDeploysAndBreakGlassSetThePolicy', ['backup:PutBackupVaultAccessPolicy'], [breakGlass, deployer]),
      ],
    }),
  });
}
