import { describe, expect, test } from 'vitest';
import { parseStageConfig } from '../../../lib/config';
import { accepts, rejects, variant } from './stage-variant';

describe('backup and uploads', () => {
  describe('refuses a bad definition, naming stage, field, value and fix', () => {
    rejects([
      {
        what: 'prod without DR copies of its backups',
        stage: 'prod',
        patch: { backup: { drCopies: false, automatedBackupReplicationDays: 0 } },
        field: 'backup.drCopies',
        value: 'false',
        fix: /prod must keep copies of its backups outside its region\. Fix: set backup\.drCopies: true/,
      },
      {
        what: 'replicated backups without the DR stack',
        stage: 'dev',
        patch: { backup: { automatedBackupReplicationDays: 7 } },
        field: 'backup.automatedBackupReplicationDays',
        value: '7',
        fix: /need the DR stack's key.*Fix: set backup\.drCopies: true, or set this to 0/,
      },
      {
        what: 'no pre-deploy snapshot kept',
        stage: 'staging',
        patch: { backup: { preDeploySnapshotsKept: 0 } },
        field: 'backup.preDeploySnapshotsKept',
        value: '0',
        fix: /release's own snapshot must be kept\. Fix: use 1 to 50/,
      },
      {
        what: 'more pre-deploy snapshots than the quota allows',
        stage: 'prod',
        patch: { backup: { preDeploySnapshotsKept: 80 } },
        field: 'backup.preDeploySnapshotsKept',
        value: '80',
        fix: /quota of 100 per region\. Fix: use 1 to 50/,
      },
      {
        what: 'DR copies that would fill the manual-snapshot quota',
        stage: 'prod',
        patch: { backup: { drCopyRetentionDays: 90 } },
        field: 'backup.drCopyRetentionDays',
        value: '90',
        fix: /eu-central-1 would hold 105 manual DB snapshots \(90 daily recovery points, 10 pre-deploy snapshots, 5 spare\) but the quota is 100\. Fix: keep at most 85 days.*raise the quota in Service Quotas and set backup\.manualSnapshotQuota/,
      },
      {
        what: 'daily backups that would fill the manual-snapshot quota',
        stage: 'staging',
        patch: { backup: { planRetentionDays: 95 } },
        field: 'backup.planRetentionDays',
        value: '95',
        fix: /eu-west-1 would hold 105 manual DB snapshots/,
      },
      {
        what: 'a compliance lock in dev',
        stage: 'dev',
        patch: { backup: { vaultLock: { mode: 'compliance', changeableForDays: 3 } } },
        field: 'backup.vaultLock.mode',
        value: '"compliance"',
        fix: /cannot be undone after its grace period, and dev is a throw-away stage.*Fix: use mode "governance"/,
      },
      {
        what: 'a compliance lock without a grace period',
        stage: 'prod',
        patch: { backup: { vaultLock: { mode: 'compliance' } } },
        field: 'backup.vaultLock.changeableForDays',
        value: 'undefined',
        fix: /compliance mode needs a grace period.*Fix: set changeableForDays \(3 or more\)/,
      },
      {
        what: 'a governance lock with a grace period',
        stage: 'staging',
        patch: { backup: { vaultLock: { mode: 'governance', changeableForDays: 7 } } },
        field: 'backup.vaultLock.changeableForDays',
        value: '7',
        fix: /turns the lock into compliance mode, permanent after 7 days\. Fix: drop changeableForDays/,
      },
      {
        what: 'a grace period under 3 days',
        stage: 'prod',
        patch: { backup: { vaultLock: { mode: 'compliance', changeableForDays: 1 } } },
        field: 'backup.vaultLock.changeableForDays',
        value: '1',
        fix: /at least 3 days\. Fix: use 3 or more/,
      },
      {
        what: 'a break-glass role that is not a role name',
        stage: 'prod',
        patch: { backup: { breakGlassRoleName: 'arn:aws:iam::333333333333:role/x' } },
        field: 'backup.breakGlassRoleName',
        value: '"arn:aws:iam::333333333333:role/x"',
        fix: /not an IAM role name/,
      },
      {
        what: 'prod without restore testing',
        stage: 'prod',
        patch: { backup: { restoreTesting: 'off' } },
        field: 'backup.restoreTesting',
        value: '"off"',
        fix: /prod must prove its backups restore/,
      },
    ]);
  });

  describe('takes values on the edge of each rule', () => {
    accepts([
      // Exactly at the quota: 85 days + 10 pre-deploy + 5 spare = 100.
      { what: 'DR copies exactly at the quota', stage: 'prod', patch: { backup: { drCopyRetentionDays: 85 } } },
      // Without DR copies, the DR-region retention is not held to the quota.
      { what: 'a long DR retention without DR copies', stage: 'dev', patch: { backup: { drCopyRetentionDays: 500 } } },
    ]);
  });

  test('a raised manual-snapshot quota admits longer retention', () => {
    expect(parseStageConfig(variant('prod', { backup: { drCopyRetentionDays: 90, manualSnapshotQuota: 150 } })).backup.drCopyRetentionDays).toBe(90);
  });
});
