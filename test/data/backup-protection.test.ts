import type { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, test } from 'vitest';
import { BOOTSTRAP_QUALIFIER } from '../../lib/ci/ci-access-stack';
import { parseStageConfig, STAGE_NAMES, STAGES, type StageConfig } from '../../lib/config';
import { GRANTS_FOR_AWS_RESOURCES_ONLY } from '../../lib/shared/kms-grants';
import { type StageTemplates, synthStage } from '../support/synth';
import { stageTemplates } from '../support/template';

const synthesized = stageTemplates();

/** The stage's vaults: the primary (Data stack) and, with DR copies, the DR one, with the retention each receives. */
function vaults(t: StageTemplates, config: StageConfig): [string, Template, string, number][] {
  const all: [string, Template, string, number][] = [['primary', t.data, config.region, config.backup.planRetentionDays]];
  if (config.backup.drCopies) all.push(['DR', t.dr!, config.drRegion, config.backup.drCopyRetentionDays]);
  return all;
}

describe.each(STAGE_NAMES)('%s backups no admin or CI role can destroy', (name) => {
  const config = parseStageConfig(STAGES[name]);
  const breakGlass = `arn:aws:iam::${config.account}:role/${config.backup.breakGlassRoleName}`;

  test('every vault is locked with the retention of what it receives as the minimum (governance mode as shipped)', () => {
    for (const [, t, , days] of vaults(synthesized[name], config)) {
      const [vault] = Object.values(t.findResources('AWS::Backup::BackupVault'));
      expect(vault.Properties.LockConfiguration).toEqual({ MinRetentionDays: days });
    }
  });

  // AWS Backup fails a backup or copy job whose retention is below the vault lock's minimum: the
  // plan's lifecycles must never fall under the locks, read from the templates themselves.
  test('no backup or copy job keeps its recovery point for less than the lock of the vault it goes to', () => {
    const minOf = (t: Template) => Object.values(t.findResources('AWS::Backup::BackupVault'))[0].Properties.LockConfiguration.MinRetentionDays as number;
    const [plan] = Object.values(synthesized[name].data.findResources('AWS::Backup::BackupPlan'));
    for (const rule of plan.Properties.BackupPlan.BackupPlanRule) {
      expect(rule.Lifecycle.DeleteAfterDays).toBeGreaterThanOrEqual(minOf(synthesized[name].data));
      for (const copy of rule.CopyActions ?? []) expect(copy.Lifecycle.DeleteAfterDays).toBeGreaterThanOrEqual(minOf(synthesized[name].dr!));
      expect((rule.CopyActions ?? []).length).toBe(config.backup.drCopies ? 1 : 0);
    }
  });

  test('every vault policy denies all but the break-glass role deleting or shortening recovery points, and lifting the protection', () => {
    for (const [where, t, region] of vaults(synthesized[name], config)) {
      const [vault] = Object.values(t.findResources('AWS::Backup::BackupVault'));
      const deployer = `arn:aws:iam::${config.account}:role/cdk-${BOOTSTRAP_QUALIFIER}-cfn-exec-role-${config.account}-${region}`;
      expect(vault.Properties.AccessPolicy.Statement, where).toEqual([
        {
          Sid: 'OnlyBreakGlassDestroysRecoveryPoints',
          Effect: 'Deny',
          Principal: { AWS: '*' },
          Action: ['backup:DeleteRecoveryPoint', 'backup:UpdateRecoveryPointLifecycle', 'backup:DeleteBackupVault'],
          Resource: '*',
          Condition: { ArnNotEquals: { 'aws:PrincipalArn': breakGlass } },
        },
        {
          Sid: 'OnlyBreakGlassLiftsTheProtection',
          Effect: 'Deny',
          Principal: { AWS: '*' },
          Action: ['backup:DeleteBackupVaultAccessPolicy', 'backup:DeleteBackupVaultLockConfiguration'],
          Resource: '*',
          Condition: { ArnNotEquals: { 'aws:PrincipalArn': breakGlass } },
        },
        {
          Sid: 'OnlyDeploysAndBreakGlassSetThePolicy',
          Effect: 'Deny',
          Principal: { AWS: '*' },
          Action: 'backup:PutBackupVaultAccessPolicy',
          Resource: '*',
          Condition: { ArnNotEquals: { 'aws:PrincipalArn': [breakGlass, deployer] } },
        },
      ]);
    }
  });

  test("the backup plan's role takes and copies backups, never restores (restores use the restore-testing role)", () => {
    const managed = Object.values(synthesized[name].data.findResources('AWS::IAM::Role'))
      .map((r) => JSON.stringify(r.Properties.ManagedPolicyArns ?? []))
      .filter((arns) => arns.includes('AWSBackupServiceRolePolicyFor'));
    const forBackup = managed.filter((arns) => arns.includes('AWSBackupServiceRolePolicyForBackup'));
    expect(forBackup).toHaveLength(1);
    expect(forBackup[0]).not.toContain('ForRestores');
  });

  test('the DR backup key, like the primary ones, can be scheduled for deletion or disabled only by the break-glass role', () => {
    if (!config.backup.drCopies) return;
    const [key] = Object.values(synthesized[name].dr!.findResources('AWS::KMS::Key')).filter((k) => /DR backup vault/.test(k.Properties.Description));
    expect(key.Properties.PendingWindowInDays).toBe(30);
    expect(key.Properties.KeyPolicy.Statement.filter((s: { Effect: string; Sid?: string }) => s.Effect === 'Deny' && s.Sid !== GRANTS_FOR_AWS_RESOURCES_ONLY)).toEqual([
      expect.objectContaining({ Action: ['kms:DisableKey', 'kms:ScheduleKeyDeletion'], Condition: { ArnNotEquals: { 'aws:PrincipalArn': breakGlass } } }),
    ]);
  });
});

test('a stage that asks for compliance mode gets it, with its grace period, on both vaults', () => {
  const t = synthStage('prod', { 'prod.backup.vaultLock.mode': 'compliance', 'prod.backup.vaultLock.changeableForDays': 7 });
  const config = parseStageConfig(STAGES.prod);
  for (const [, template] of [
    ['primary', t.data],
    ['DR', t.dr!],
  ] as const) {
    const [vault] = Object.values(template.findResources('AWS::Backup::BackupVault'));
    expect(vault.Properties.LockConfiguration.ChangeableForDays).toBe(7);
  }
  expect(Object.values(t.data.findResources('AWS::Backup::BackupVault'))[0].Properties.LockConfiguration.MinRetentionDays).toBe(config.backup.planRetentionDays);
});
