import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, test } from 'vitest';
import { BOOTSTRAP_QUALIFIER, ciRoleNames } from '../../lib/ci/ci-access-stack';
import { parseStageConfig, STAGE_NAMES, STAGES, type StageConfig } from '../../lib/config';
import { GRANTS_FOR_AWS_RESOURCES_ONLY } from '../../lib/shared/kms-grants';
import { PROJECT_ROOT } from '../../lib/shared/paths';
import { KEY_POLICY_CHANGE } from '../../lib/shared/service-key';
import { type StageTemplates, synthStage } from '../support/synth';
import { stageTemplates } from '../support/template';

const synthesized = stageTemplates();

interface KeyStatement {
  Sid?: string;
  Effect: 'Allow' | 'Deny';
  Principal: { AWS: unknown };
  Action: string | string[];
  Resource: string;
  Condition?: Record<string, Record<string, string | string[]>>;
}

/** The stage's KMS keys by where they are: [stack, logical id, region, key policy statements]. */
function keys(t: StageTemplates, config: StageConfig): [string, string, string, KeyStatement[]][] {
  const of = (stack: string, template: Template, region: string) =>
    Object.entries(template.findResources('AWS::KMS::Key')).map(
      ([id, k]) => [stack, id, region, k.Properties.KeyPolicy.Statement as KeyStatement[]] as [string, string, string, KeyStatement[]],
    );
  return [...of('Data', t.data, config.region), ...(t.dr ? of('Dr', t.dr, config.drRegion) : [])];
}

/**
 * What a key policy decides for one call of `principalArn` (the request's aws:PrincipalArn: for a
 * role session, the role's ARN): "denied" by a statement, "account" when a statement lets the
 * account's IAM policies decide (the CDK deploy and break-glass roles hold kms:* there), or
 * "none". Only the conditions these policies use are understood; any other fails the test.
 */
function decide(statements: readonly KeyStatement[], action: string, principalArn: string, account: string): 'denied' | 'account' | 'none' {
  // Actions are letters, a colon and `*` wildcards.
  const glob = (pattern: string, value: string) => new RegExp(`^${pattern.replaceAll('*', '.*')}$`, 'i').test(value);
  const holds = (condition: KeyStatement['Condition'] = {}) =>
    Object.entries(condition).every(([operator, tests]) =>
      Object.entries(tests).every(([key, values]) => {
        const list = [values].flat();
        if (key === 'aws:PrincipalArn' && operator === 'ArnNotEquals') return list.every((v) => v !== principalArn);
        if (key === 'aws:PrincipalArn' && operator === 'ArnEquals') return list.includes(principalArn);
        // A direct call carries the caller's account, never a service it came through.
        if (operator === 'StringEquals' && ['kms:ViaService', 'kms:CallerAccount'].includes(key)) return key === 'kms:CallerAccount' && list.includes(account);
        // The grant statement's keys: for a role or user (not a service), not a grant for an AWS resource.
        if (operator === 'BoolIfExists' && ['kms:GrantIsForAWSResource', 'aws:PrincipalIsAWSService'].includes(key)) return list.includes('false');
        throw new Error(`no evaluation for ${operator} ${key}: add it to decide()`);
      }),
    );
  const applies = (s: KeyStatement) => [s.Action].flat().some((a) => glob(a, action)) && holds(s.Condition);
  if (statements.some((s) => s.Effect === 'Deny' && JSON.stringify(s.Principal) === '{"AWS":"*"}' && applies(s))) return 'denied';
  const root = `arn:aws:iam::${account}:root`;
  return statements.some((s) => s.Effect === 'Allow' && JSON.stringify(s.Principal) === JSON.stringify({ AWS: root }) && applies(s)) ? 'account' : 'none';
}

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

  const cfnExec = (region: string) => `arn:aws:iam::${config.account}:role/cdk-${BOOTSTRAP_QUALIFIER}-cfn-exec-role-${config.account}-${region}`;

  // Locked dumps are backups too: deleting their key would make them unreadable before the lock ends.
  const lockedDumpKeys = (c: StageConfig) =>
    c.dumps.objectLock === 'off'
      ? []
      : ['Data/DumpsKey96651083', ...(c.dumps.anonymised ? ['Data/DumpsAnonymisedKeyD1A963B8'] : []), ...(c.dumps.replicateToDr ? ['Dr/DumpsReplicaKeyE8B3567F'] : [])];

  test('the database key, the backup key, the DR key and the keys of locked dumps are the protected ones, and no other key is', () => {
    const protectedIds = keys(synthesized[name], config)
      .filter(([, , , statements]) => statements.some((st) => st.Effect === 'Deny' && st.Sid !== GRANTS_FOR_AWS_RESOURCES_ONLY))
      .map(([stack, id]) => `${stack}/${id}`);
    expect(protectedIds.sort()).toEqual(
      ['Data/BackupKey1226E6A1', 'Data/DatabaseKey7998E78F', ...(config.backup.drCopies ? ['Dr/BackupKey1226E6A1'] : []), ...lockedDumpKeys(config)].sort(),
    );
  });

  test("every protected key denies its destruction to all but the break-glass role, and changes to its policy to all but that role and its region's deploy role", () => {
    for (const [stack, id, region, statements] of keys(synthesized[name], config)) {
      const denies = statements.filter((st) => st.Effect === 'Deny' && st.Sid !== GRANTS_FOR_AWS_RESOURCES_ONLY);
      if (denies.length === 0) continue;
      // Principal "*" with aws:PrincipalArn: the condition sees a role session as its role, so the
      // exemptions hold for every session of the two roles (a NotPrincipal naming the roles would not).
      expect(denies, `${stack}/${id}`).toEqual([
        {
          Sid: 'OnlyBreakGlassDestroysTheKey',
          Effect: 'Deny',
          Principal: { AWS: '*' },
          Action: ['kms:DisableKey', 'kms:ScheduleKeyDeletion'],
          Resource: '*',
          Condition: { ArnNotEquals: { 'aws:PrincipalArn': breakGlass } },
        },
        {
          Sid: 'OnlyDeploysAndBreakGlassChangeThePolicy',
          Effect: 'Deny',
          Principal: { AWS: '*' },
          Action: ['kms:DisableKeyRotation', 'kms:PutKeyPolicy'],
          Resource: '*',
          Condition: { ArnNotEquals: { 'aws:PrincipalArn': [breakGlass, cfnExec(region)] } },
        },
      ]);
      expect(statements.find((st) => st.Sid === 'AccountUsesTheKeyThroughItsServices')).toBeDefined();
    }
  });

  // KMS refuses a key policy that would stop the principal setting it from setting it again
  // (the policy lockout safety check): CloudFormation sets it as the deploy role of the key's
  // region, on this change's first deploy and every later one, so that role must stay able to.
  test("the deploy role of the key's region and the break-glass role may set the policy again; no one else may, nor destroy the key", () => {
    const { account } = config;
    const others = {
      'the deploy role of another region': cfnExec(config.region === 'us-east-1' ? 'eu-west-1' : 'us-east-1'),
      "the stage's CI deploy role": `arn:aws:iam::${account}:role/${ciRoleNames(name).deploy}`,
      'an administrator': `arn:aws:iam::${account}:role/Admin`,
      'the root user': `arn:aws:iam::${account}:root`,
    };
    let checked = 0;
    for (const [stack, id, region, statements] of keys(synthesized[name], config)) {
      if (!statements.some((st) => st.Sid === 'OnlyDeploysAndBreakGlassChangeThePolicy')) continue;
      const where = `${stack}/${id}`;
      expect(decide(statements, 'kms:PutKeyPolicy', cfnExec(region), account), where).toBe('account');
      expect(decide(statements, 'kms:PutKeyPolicy', breakGlass, account), where).toBe('account');
      expect(decide(statements, 'kms:DisableKey', breakGlass, account), where).toBe('account');
      expect(decide(statements, 'kms:DisableKey', cfnExec(region), account), where).toBe('denied');
      for (const [who, arn] of Object.entries(others)) {
        for (const action of ['kms:PutKeyPolicy', 'kms:DisableKeyRotation', 'kms:DisableKey', 'kms:ScheduleKeyDeletion']) {
          expect(decide(statements, action, arn, account), `${where}: ${action} by ${who}`).toBe('denied');
        }
      }
      checked++;
    }
    expect(checked).toBe((config.backup.drCopies ? 3 : 2) + lockedDumpKeys(config).length);
  });

  test("the backup plan's role takes and copies backups, never restores (restores use the restore-testing role)", () => {
    const managed = Object.values(synthesized[name].data.findResources('AWS::IAM::Role'))
      .map((r) => JSON.stringify(r.Properties.ManagedPolicyArns ?? []))
      .filter((arns) => arns.includes('AWSBackupServiceRolePolicyFor'));
    const forBackup = managed.filter((arns) => arns.includes('AWSBackupServiceRolePolicyForBackup'));
    expect(forBackup).toHaveLength(1);
    expect(forBackup[0]).not.toContain('ForRestores');
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

/**
 * The service control policy docs/disaster-recovery.md asks organisations to add: valid JSON
 * whose key-policy statement exempts exactly the roles the key policies exempt (any account and
 * region, an SCP being the organisation's), and keeps the deploy role's trust policy out of reach.
 */
test('the documented SCP denies changing key policies to all but the break-glass and deploy roles, and taking over the deploy role', () => {
  const doc = readFileSync(join(PROJECT_ROOT, 'docs', 'disaster-recovery.md'), 'utf8');
  const block = /service control policy[^`]*```json\n([\s\S]*?)\n```/.exec(doc)?.[1];
  expect(block, 'the SCP block in docs/disaster-recovery.md').toBeDefined();
  const statements = (JSON.parse(block!) as { Statement: { Sid: string; Effect: string; Action: string[]; Resource: string; Condition: unknown }[] }).Statement;
  const breakGlassNames = new Set(STAGE_NAMES.map((n) => parseStageConfig(STAGES[n]).backup.breakGlassRoleName));
  expect([...breakGlassNames]).toHaveLength(1);
  const deployRole = `arn:aws:iam::*:role/cdk-${BOOTSTRAP_QUALIFIER}-cfn-exec-role-*`;
  expect(statements.find((st) => st.Sid === 'OnlyDeploysAndBreakGlassChangeKeyPolicies')).toEqual({
    Sid: 'OnlyDeploysAndBreakGlassChangeKeyPolicies',
    Effect: 'Deny',
    Action: [...KEY_POLICY_CHANGE],
    Resource: '*',
    Condition: { ArnNotLike: { 'aws:PrincipalArn': [`arn:aws:iam::*:role/${[...breakGlassNames][0]}`, deployRole] } },
  });
  expect(statements.find((st) => st.Sid === 'NobodyElseAssumesTheDeployRole')).toEqual({
    Sid: 'NobodyElseAssumesTheDeployRole',
    Effect: 'Deny',
    Action: ['iam:UpdateAssumeRolePolicy'],
    Resource: deployRole,
    Condition: { ArnNotLike: { 'aws:PrincipalArn': 'arn:aws:iam::*:role/OrganizationAccountAccessRole' } },
  });
});
