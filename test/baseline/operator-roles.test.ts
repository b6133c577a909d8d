import { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, test } from 'vitest';
import { ACCOUNT_ACTIVITY_NAMESPACE } from '../../lib/baseline/account-activity';
import { BREAK_GLASS_ASSUMED_METRIC, breakGlassAssumedPattern } from '../../lib/baseline/audit-trail';
import { OperatorRoles } from '../../lib/baseline/operator-roles';
import { loadStages, type StageName } from '../../lib/config';
import { TEST_CONTEXT, testApp } from '../support/synth';
import { type Json, resources, stageTemplates } from '../support/template';

const synthesized = stageTemplates();
const { all } = loadStages({});
const config = (name: StageName) => all.find((c) => c.name === name)!;
const baselineOf = (name: StageName) => synthesized[name].shared.get(`Baseline-${config(name).account}-${config(name).region}`)!;
const ACCOUNT = '333333333333';
const SSO = `arn:aws:iam::${ACCOUNT}:role/aws-reserved/sso.amazonaws.com`;

/** A baseline's roles alone, in a stack of their own: every kind of principal the config takes. */
function rolesTemplate(): Template {
  const stack = new Stack(testApp({ context: TEST_CONTEXT }), 'Roles', { env: { account: ACCOUNT, region: 'eu-west-1' } });
  new OperatorRoles(stack, 'OperatorRoles', {
    onCall: [
      { stage: 'prod', regions: ['eu-west-1', 'eu-central-1'], principals: ['sso:WebappOnCall', `arn:aws:iam::${ACCOUNT}:user/alice`, 'arn:aws:iam::444444444444:user/bob'] },
    ],
    breakGlass: [{ roleName: 'webapp-break-glass', principals: ['sso:PlatformAdmin', `arn:aws:iam::${ACCOUNT}:role/admins/ops-admin`] }],
    deployRegions: ['eu-central-1', 'eu-west-1', 'us-east-1'],
  });
  return Template.fromStack(stack);
}
const roles = rolesTemplate();
const roleNamed = (t: Template, name: string): Json => resources(t, 'AWS::IAM::Role').find((r) => r.Properties.RoleName === name)!;
const actions = ['sts:AssumeRole', 'sts:SetSourceIdentity'];

describe('who may assume the operator roles', () => {
  test('on-call: the permission set by name (any region path, any hash), users each with MFA, by aws:PrincipalArn; nobody else', () => {
    const role = roleNamed(roles, 'webapp-prod-on-call');
    expect(role.Properties.MaxSessionDuration).toBe(4 * 3600);
    expect(role.Properties.AssumeRolePolicyDocument.Statement).toEqual([
      {
        Sid: 'PermissionSets',
        Effect: 'Allow',
        Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` },
        Action: actions,
        Condition: {
          ArnLike: { 'aws:PrincipalArn': [`${SSO}/AWSReservedSSO_WebappOnCall_*`, `${SSO}/*/AWSReservedSSO_WebappOnCall_*`] },
          // Absent in IAM Identity Center sessions (MFA is the identity provider's to enforce); a session that says "no MFA" is refused.
          BoolIfExists: { 'aws:MultiFactorAuthPresent': 'true' },
        },
      },
      {
        Sid: `UsersOf${ACCOUNT}`,
        Effect: 'Allow',
        Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` },
        Action: actions,
        // An IAM user's request always carries the key: it must say MFA.
        Condition: { ArnEquals: { 'aws:PrincipalArn': `arn:aws:iam::${ACCOUNT}:user/alice` }, Bool: { 'aws:MultiFactorAuthPresent': 'true' } },
      },
      {
        Sid: 'UsersOf444444444444',
        Effect: 'Allow',
        Principal: { AWS: 'arn:aws:iam::444444444444:root' },
        Action: actions,
        Condition: { ArnEquals: { 'aws:PrincipalArn': 'arn:aws:iam::444444444444:user/bob' }, Bool: { 'aws:MultiFactorAuthPresent': 'true' } },
      },
    ]);
  });

  test('break-glass: AdministratorAccess for one hour, trusted by its principals alone, a named role by its ARN', () => {
    const role = roleNamed(roles, 'webapp-break-glass');
    expect(role.Properties.MaxSessionDuration).toBe(3600);
    expect(JSON.stringify(role.Properties.ManagedPolicyArns)).toContain(':iam::aws:policy/AdministratorAccess');
    const statements = role.Properties.AssumeRolePolicyDocument.Statement as Json[];
    expect(statements.map((s) => s.Sid)).toEqual(['PermissionSets', `RolesOf${ACCOUNT}`]);
    expect(statements[1].Condition).toEqual({
      ArnEquals: { 'aws:PrincipalArn': `arn:aws:iam::${ACCOUNT}:role/admins/ops-admin` },
      BoolIfExists: { 'aws:MultiFactorAuthPresent': 'true' },
    });
    // Every statement holds the caller to a named principal and to MFA where IAM sees it.
    for (const s of statements) {
      expect(
        Object.keys(s.Condition).some((k) => k === 'ArnLike' || k === 'ArnEquals'),
        s.Sid,
      ).toBe(true);
      expect(s.Condition.Bool ?? s.Condition.BoolIfExists, s.Sid).toEqual({ 'aws:MultiFactorAuthPresent': 'true' });
    }
  });

  test('the roles are outputs of the baseline, for the runbooks', () => {
    expect(Object.keys(roles.findOutputs('*')).sort()).toEqual(['BreakGlassRoleArnWebappBreakGlass', 'OnCallRoleArnProd']);
  });

  test('the shipped stages: staging and prod have an on-call role trusting the on-call permission set; dev none; no break-glass role is created', () => {
    for (const name of ['staging', 'prod'] as const) {
      const role = roleNamed(baselineOf(name), `webapp-${name}-on-call`);
      expect(role.Properties.AssumeRolePolicyDocument.Statement.map((s: Json) => s.Condition.ArnLike?.['aws:PrincipalArn'])).toEqual([
        [
          `arn:aws:iam::${config(name).account}:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_WebappOnCall_*`,
          `arn:aws:iam::${config(name).account}:role/aws-reserved/sso.amazonaws.com/*/AWSReservedSSO_WebappOnCall_*`,
        ],
      ]);
    }
    for (const name of ['dev', 'staging', 'prod'] as const) {
      expect(roleNamed(baselineOf(name), config(name).backup.breakGlassRoleName), name).toBeUndefined();
    }
    expect(roleNamed(baselineOf('dev'), 'webapp-dev-on-call')).toBeUndefined();
  });
});

describe("the on-call role's writes reach its stage alone", () => {
  const policy = resources(roles, 'AWS::IAM::ManagedPolicy').find((p) => JSON.stringify(p.Properties.Roles).includes('OnCallprod'))!;
  const statements = policy.Properties.PolicyDocument.Statement as Json[];
  const list = <T>(v: T | T[]): T[] => (Array.isArray(v) ? v : [v]);
  const text = (v: unknown) => JSON.stringify(v);
  const isRead = (action: string) => /^[\w-]+:(Describe|Get|List|Filter|StartQuery|StopQuery|DetectStackResourceDrift)/.test(action);
  /** Statements whose resources are not the stage's own, each for a reason the test states. */
  const unscoped: Record<string, string> = {
    DeployWithTheBootstrapRoles: "the account's CDK bootstrap roles, by exact name: a rollback deploys the App stack through them",
    PlaceTheShellHost: 'RunInstances needs the subnet, security group, network interface and image it uses; the launch template and the instance are held to the stage',
    RestoreWithTheDefaultOptionGroup: "the engine's default option group a restore uses (untagged); the instance it makes is held to the stage by RestoreAlongside",
    SessionDocuments: "AWS's port-forwarding documents, by exact name",
    EndOwnSessions: "the caller's own sessions (aws:userid)",
    LogInAsOnCall: "the read-only database user, the same grant as the data stack's OnCallDatabasePolicyArn",
    ReadLogsAndTheStacks: 'reads only',
  };

  test('every statement with a write names the stage in its resources or holds them to its stage tag', () => {
    expect(statements.length).toBeGreaterThan(10);
    for (const s of statements) {
      const writes = list<string>(s.Action).filter((a) => !isRead(a));
      if (writes.length === 0 || s.Sid in unscoped) continue;
      const byName = list<unknown>(s.Resource).every((r) => /webapp-prod|:role\/prod-|task-definition\/prod|db:webapp-prod/.test(text(r)));
      const byTag = text(s.Condition ?? {}).includes('"prod"');
      expect(byName || byTag, `${s.Sid}: ${text(s.Resource)} ${text(s.Condition)}`).toBe(true);
    }
  });

  test('no write on "*"; the statements on "*" only read', () => {
    for (const s of statements) {
      if (!list<unknown>(s.Resource).includes('*')) continue;
      expect(s.Sid).toBe('ReadLogsAndTheStacks');
      expect(
        list<string>(s.Action).every((a) => isRead(a) || a === 'ecr:DescribeImages'),
        text(s.Action),
      ).toBe(true);
    }
  });

  test('the writes are exactly what the on-call commands do', () => {
    const writes = [...new Set(statements.flatMap((s) => list<string>(s.Action)).filter((a) => !isRead(a)))].sort();
    expect(writes).toEqual([
      'ec2:CreateTags',
      'ec2:RunInstances',
      'ec2:TerminateInstances',
      'ecs:RunTask',
      'ecs:StopServiceDeployment',
      'ecs:StopTask',
      'ecs:UpdateService',
      'iam:PassRole',
      'kms:CreateGrant',
      'rds-db:connect',
      'rds:AddTagsToResource',
      'rds:CreateDBInstance',
      'rds:RestoreDBInstanceFromDBSnapshot',
      'rds:RestoreDBInstanceToPointInTime',
      'ssm:ResumeSession',
      'ssm:StartSession',
      'ssm:TerminateSession',
      'sts:AssumeRole',
    ]);
    // Tags only at launch: tagging a running instance as the stage's shell host would open a session to it.
    expect(statements.filter((s) => list<string>(s.Action).includes('ec2:CreateTags')).map((s) => s.Condition)).toEqual([
      { StringEquals: { 'ec2:CreateAction': 'RunInstances', 'aws:RequestTag/webapp:db-shell': 'prod' } },
    ]);
    // RunTask runs the restore task alone (another task of the stage, with its command overridden, would act as that task's role).
    expect([...statements.find((s) => s.Sid === 'RunTheRestoreTask')!.Resource].sort()).toEqual([
      'arn:aws:ecs:eu-central-1:333333333333:task-definition/webapp-prod-restore-task:*',
      'arn:aws:ecs:eu-west-1:333333333333:task-definition/webapp-prod-restore-task:*',
    ]);
    // A role is passed only to the service that needs it, and only one of the stage's.
    for (const s of statements.filter((s) => list<string>(s.Action).includes('iam:PassRole'))) {
      expect(s.Condition.StringEquals['iam:ResourceTag/stage'], s.Sid).toBe('prod');
      expect(s.Condition.StringEquals['iam:PassedToService'], s.Sid).toMatch(/^(ecs-tasks|ec2)\.amazonaws\.com$/);
    }
    // The shell host's session is to the stage's host alone (by its tag).
    expect(statements.find((s) => s.Sid === 'SessionToTheShellHostOnly')!.Condition).toEqual({ StringEquals: { 'ssm:resourceTag/webapp:db-shell': 'prod' } });
    // Data: no object, secret or item reads (ViewOnlyAccess lists names only).
    expect(text(statements)).not.toMatch(/s3:GetObject|secretsmanager:GetSecretValue|dynamodb:GetItem|kms:Decrypt/);
  });
});

describe('the trail counts each assumption of the break-glass role, in every region', () => {
  test.each(['dev', 'staging', 'prod'] as const)('%s: a metric filter on the trail copy matches AssumeRole of that role alone', (name) => {
    const { account, backup } = config(name);
    const [filter] = resources(baselineOf(name), 'AWS::Logs::MetricFilter').filter((f) => f.Properties.MetricTransformations[0].MetricName === BREAK_GLASS_ASSUMED_METRIC);
    expect(filter.Properties.MetricTransformations).toEqual([{ MetricNamespace: ACCOUNT_ACTIVITY_NAMESPACE, MetricName: BREAK_GLASS_ASSUMED_METRIC, MetricValue: '1' }]);
    expect(filter.Properties.FilterPattern).toBe(breakGlassAssumedPattern([`arn:aws:iam::${account}:role/${backup.breakGlassRoleName}`]));
    expect(filter.Properties.FilterPattern).toBe(
      `{ ($.eventSource = "sts.amazonaws.com") && ($.eventName = "AssumeRole" || $.eventName = "AssumeRoleWithSAML" || $.eventName = "AssumeRoleWithWebIdentity") && (($.requestParameters.roleArn = "arn:aws:iam::${account}:role/webapp-break-glass")) }`,
    );
  });
});
