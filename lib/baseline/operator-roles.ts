import { CfnOutput, Duration, Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { DATABASE_ROLES } from '../../lambda/database-setup/roles';
import { releaseParameter } from '../../lambda/release-record/stored';
import { cdkBootstrapRoleName } from '../ci/ci-access-stack';
import { dumpTaskFamily } from '../data/logical-backup-names';
import { acknowledgeAwsManagedPolicy } from '../shared/aws-managed-policy';
import { projectTag, stageResourceName } from '../shared/naming';

/** The name of a stage's on-call role: fixed, so the commands and runbooks derive it from the stage. */
export function onCallRoleName(stage: string): string {
  return stageResourceName(stage, 'on-call');
}

/** How long a session of each role lasts: a restore alongside waits out RDS for an hour or more; break-glass is for one task. */
export const SESSION = { onCall: Duration.hours(4), breakGlass: Duration.hours(1) } as const;

/** The ARN patterns of an IAM Identity Center permission set's roles (with and without the region in the path, as older assignments have). */
export function permissionSetRoleArns(account: string, permissionSet: string, partition = 'aws'): string[] {
  const base = `arn:${partition}:iam::${account}:role/aws-reserved/sso.amazonaws.com`;
  return [`${base}/AWSReservedSSO_${permissionSet}_*`, `${base}/*/AWSReservedSSO_${permissionSet}_*`];
}

/**
 * Whether a caller (the ARN GetCallerIdentity returns) is the principal as config names it:
 * `sso:<set>` is any session of that permission set's role, a role ARN any session of that role
 * (STS leaves the path out of the session's ARN), a user ARN that user.
 */
export function principalMatches(principal: string, callerArn: string): boolean {
  const session = /^arn:aws[\w-]*:sts::(\d{12}):assumed-role\/([^/]+)\/.+$/.exec(callerArn);
  if (principal.startsWith('sso:')) return session?.[2].startsWith(`AWSReservedSSO_${principal.slice(4)}_`) ?? false;
  const role = /^arn:aws:iam::(\d{12}):role\/(?:.*\/)?([^/]+)$/.exec(principal);
  if (role) return session !== null && session[1] === role[1] && session[2] === role[2];
  return principal === callerArn;
}

/**
 * The statements of a trust policy that admits `principals` (lib/config/schema/access.ts) and no
 * one else, by `aws:PrincipalArn` rather than by principal ARN: a user or role deleted and made
 * again keeps its access, and one not yet made does not fail the deploy. MFA where IAM can see
 * it: an IAM user must have signed in with MFA (the key is present, `Bool`); a role's session
 * must not say it was made without MFA (`BoolIfExists`: the key is absent from federated and IAM
 * Identity Center sessions, whose MFA is the identity provider's to enforce; docs/security.md).
 */
export function trustStatements(account: string, principals: readonly string[], partition = 'aws'): iam.PolicyStatement[] {
  const statements: iam.PolicyStatement[] = [];
  const actions = ['sts:AssumeRole', 'sts:SetSourceIdentity'];
  const sets = principals.filter((p) => p.startsWith('sso:')).map((p) => p.slice(4));
  if (sets.length > 0) {
    statements.push(
      new iam.PolicyStatement({
        sid: 'PermissionSets',
        principals: [new iam.AccountPrincipal(account)],
        actions,
        conditions: {
          ArnLike: { 'aws:PrincipalArn': sets.flatMap((set) => permissionSetRoleArns(account, set, partition)) },
          BoolIfExists: { 'aws:MultiFactorAuthPresent': 'true' },
        },
      }),
    );
  }
  for (const kind of ['user', 'role'] as const) {
    const arns = principals.filter((p) => p.startsWith('arn:') && p.split(':')[5].startsWith(`${kind}/`));
    for (const owner of [...new Set(arns.map((a) => a.split(':')[4]))].sort()) {
      const here = arns.filter((a) => a.split(':')[4] === owner);
      statements.push(
        new iam.PolicyStatement({
          sid: `${kind === 'user' ? 'Users' : 'Roles'}Of${owner}`,
          principals: [new iam.AccountPrincipal(owner)],
          actions,
          conditions: {
            ArnEquals: { 'aws:PrincipalArn': here.length === 1 ? here[0] : here },
            ...(kind === 'user' ? { Bool: { 'aws:MultiFactorAuthPresent': 'true' } } : { BoolIfExists: { 'aws:MultiFactorAuthPresent': 'true' } }),
          },
        }),
      );
    }
  }
  return statements;
}

/** A role that only the statements' principals assume. */
function trustedRole(scope: Construct, id: string, props: { roleName: string; description: string; principals: readonly string[]; maxSessionDuration: Duration }): iam.Role {
  const { account, partition } = Stack.of(scope);
  const [first, ...rest] = trustStatements(account, props.principals, partition);
  const role = new iam.Role(scope, id, {
    roleName: props.roleName,
    description: props.description,
    maxSessionDuration: props.maxSessionDuration,
    // Replaced below by the statements themselves; a Role needs a principal to start from.
    assumedBy: new iam.AccountPrincipal(account),
  });
  const document = new iam.PolicyDocument({ statements: [first, ...rest] });
  (role.node.defaultChild as iam.CfnRole).assumeRolePolicyDocument = document;
  return role;
}

/** The tag the database shell host carries, with its stage as the value (scripts/lib/db-shell.ts reads it from here). */
export const DATABASE_SHELL_TAG = projectTag('db-shell');

/** One stage's on-call role as its account's baseline makes it. */
export interface OnCallPlan {
  readonly stage: string;
  /** The stage's regions: its own, and the DR region where it restores or fails over. */
  readonly regions: readonly string[];
  readonly principals: readonly string[];
}

export interface OperatorRolesProps {
  /** The stages of the account that name on-call principals. */
  readonly onCall: readonly OnCallPlan[];
  /** The break-glass roles the baseline creates (`access.breakGlass.createRole`). */
  readonly breakGlass: readonly { readonly roleName: string; readonly principals: readonly string[] }[];
  /** Every region CloudFormation deploys to in the account (the CDK bootstrap roles a rollback deploys with). */
  readonly deployRegions: readonly string[];
}

/**
 * The roles people act with in the account: one on-call role per stage, and the break-glass role
 * where the baseline creates it. On-call reads what the account runs (ViewOnlyAccess: names and
 * settings, no object, secret or item contents) and writes only what the on-call commands do,
 * each to its stage's own resources: roll back (ECS UpdateService and StopServiceDeployment on the
 * stage's services, a CloudFormation deploy through the CDK bootstrap's deploy role), restore
 * alongside (RDS restore or create of `webapp-<stage>-*` instances, the restore task and its
 * roles), a read-only database shell (a host from the stage's launch template, a Session Manager
 * session to it, the `webapp_oncall` login), stop a task. Break-glass is AdministratorAccess.
 * Each use is notified on the stage's alarm topic (lib/ops/operator-role-use.ts).
 */
export class OperatorRoles extends Construct {
  readonly onCall: Record<string, iam.Role> = {};
  readonly breakGlass: Record<string, iam.Role> = {};

  constructor(scope: Construct, id: string, props: OperatorRolesProps) {
    super(scope, id);
    for (const plan of props.onCall) {
      const role = trustedRole(this, `OnCall-${plan.stage}`, {
        roleName: onCallRoleName(plan.stage),
        description: `On-call for ${plan.stage}: reads, and what the on-call commands do to ${plan.stage} alone (docs/security.md, "On-call")`,
        principals: plan.principals,
        maxSessionDuration: SESSION.onCall,
      });
      role.addManagedPolicy(iam.ManagedPolicy.fromAwsManagedPolicyName('job-function/ViewOnlyAccess'));
      acknowledgeAwsManagedPolicy(
        role,
        'job-function/ViewOnlyAccess',
        "AWS's job-function policy for reading what an account runs without the data in it (no S3 object, secret value or table item): AWS keeps it current as services add resources, which a list of our own would miss.",
      );
      const statements = onCallStatements(Stack.of(this), plan, props.deployRegions);
      const policy = new iam.ManagedPolicy(this, `OnCallPolicy-${plan.stage}`, {
        description: `What the on-call commands of ${plan.stage} do, to ${plan.stage}'s resources alone`,
        statements,
        roles: [role],
      });
      // One acknowledgement per wildcard resource, each held to the stage by its name or a condition.
      const stack = Stack.of(this);
      const wildcards = new Set(statements.flatMap((s) => s.resources.map((r) => stack.resolve(r) as string)).filter((r) => typeof r === 'string' && r.includes('*')));
      for (const resource of wildcards) {
        Validations.of(policy).acknowledge({
          id: `AwsSolutions-IAM5[Resource::${resource.replace(/\$\{([^}]+)\}/g, '<$1>')}]`,
          reason:
            "The part of a name a deploy or a command generates (the stage's services and tasks, task definition revisions, restored instances, the shell host's instance and volumes, the stage stacks' roles) under the stage's own name, or held to the stage by its tag or the passed-to service in the statement's condition; `*` alone only for reads that have no resource (test/baseline/operator-roles.test.ts).",
        });
      }
      this.onCall[plan.stage] = role;
      new CfnOutput(Stack.of(this), `OnCallRoleArn${pascal(plan.stage)}`, {
        value: role.roleArn,
        description: `The ${plan.stage} on-call role (docs/security.md, "On-call"): assume it for rollback, restore, db-shell`,
      });
    }
    for (const { roleName, principals } of props.breakGlass) {
      const role = trustedRole(this, `BreakGlass-${roleName}`, {
        roleName,
        description: 'Break-glass administrator: each use pages (docs/security.md, "Break-glass")',
        principals,
        maxSessionDuration: SESSION.breakGlass,
      });
      role.addManagedPolicy(iam.ManagedPolicy.fromAwsManagedPolicyName('AdministratorAccess'));
      acknowledgeAwsManagedPolicy(
        role,
        'AdministratorAccess',
        'The break-glass role is the administrator of last resort (the protections of keys, vaults and log files except it alone): only the named principals with MFA assume it, and each use pages.',
      );
      this.breakGlass[roleName] = role;
      new CfnOutput(Stack.of(this), `BreakGlassRoleArn${pascal(roleName)}`, {
        value: role.roleArn,
        description: `The break-glass role ${roleName} (docs/security.md, "Break-glass"): each use pages`,
      });
    }
  }
}

function pascal(name: string): string {
  return name
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean)
    .map((p) => p[0].toUpperCase() + p.slice(1))
    .join('');
}

/**
 * The on-call role's writes, each held to the stage: by name (`webapp-<stage>` clusters,
 * instances and task families; `<stage>-` stacks' generated role names) or by the `stage` tag
 * every resource of the stage carries (lib/stages/app-stage.ts). Reads of what has no resource
 * (Describe*) come from ViewOnlyAccess and the few statements below.
 */
export function onCallStatements(stack: Stack, plan: OnCallPlan, deployRegions: readonly string[]): iam.PolicyStatement[] {
  const { account, partition } = stack;
  const stage = plan.stage;
  const prefix = stageResourceName(stage);
  const inRegions = (service: string, resource: string) => plan.regions.map((region) => `arn:${partition}:${service}:${region}:${account}:${resource}`);
  const taggedStage = { StringEquals: { 'aws:ResourceTag/stage': stage } };
  return [
    new iam.PolicyStatement({
      sid: 'RollBackTheServices',
      actions: ['ecs:UpdateService', 'ecs:StopServiceDeployment'],
      resources: [...inRegions('ecs', `service/${prefix}*/*`), ...inRegions('ecs', `service-deployment/${prefix}*/*`)],
    }),
    new iam.PolicyStatement({
      sid: 'StopATask',
      actions: ['ecs:StopTask'],
      resources: inRegions('ecs', `task/${prefix}*/*`),
    }),
    new iam.PolicyStatement({
      sid: 'RunTheRestoreTask',
      actions: ['ecs:RunTask'],
      resources: inRegions('ecs', `task-definition/${dumpTaskFamily(stage, 'restore')}:*`),
      conditions: { ArnLike: { 'ecs:cluster': inRegions('ecs', `cluster/${prefix}*`) } },
    }),
    // The restore task's roles have generated names: held to the stage by its tag instead.
    new iam.PolicyStatement({
      sid: 'PassTheRestoreTaskRoles',
      actions: ['iam:PassRole'],
      resources: [`arn:${partition}:iam::${account}:role/*`],
      conditions: { StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com', 'iam:ResourceTag/stage': stage } },
    }),
    new iam.PolicyStatement({
      sid: 'DeployWithTheBootstrapRoles',
      actions: ['sts:AssumeRole'],
      resources: deployRegions.flatMap((region) =>
        ['deploy', 'file-publishing', 'lookup'].map((kind) => `arn:${partition}:iam::${account}:role/${cdkBootstrapRoleName(kind, account, region)}`),
      ),
    }),
    new iam.PolicyStatement({
      sid: 'RestoreAlongside',
      actions: ['rds:RestoreDBInstanceFromDBSnapshot', 'rds:RestoreDBInstanceToPointInTime', 'rds:CreateDBInstance', 'rds:AddTagsToResource'],
      resources: inRegions('rds', `db:${prefix}-*`),
    }),
    new iam.PolicyStatement({
      sid: 'RestoreFromTheStageBackups',
      actions: ['rds:RestoreDBInstanceFromDBSnapshot', 'rds:RestoreDBInstanceToPointInTime', 'rds:CreateDBInstance'],
      resources: [
        ...inRegions('rds', `db:${prefix}`),
        ...inRegions('rds', 'snapshot:*'),
        ...inRegions('rds', 'auto-backup:*'),
        ...inRegions('rds', 'subgrp:*'),
        ...inRegions('rds', 'pg:*'),
        ...inRegions('rds', 'og:*'),
      ],
      conditions: taggedStage,
    }),
    // A restore without an option group takes the engine's default one, which carries no stage tag.
    new iam.PolicyStatement({
      sid: 'RestoreWithTheDefaultOptionGroup',
      actions: ['rds:RestoreDBInstanceFromDBSnapshot', 'rds:RestoreDBInstanceToPointInTime', 'rds:CreateDBInstance'],
      resources: inRegions('rds', 'og:default:*'),
    }),
    // rollback --to/--from and restore --before-release read the release record and its history.
    new iam.PolicyStatement({
      sid: 'ReadTheReleaseRecord',
      actions: ['ssm:GetParameter', 'ssm:GetParameterHistory'],
      resources: inRegions('ssm', `parameter${releaseParameter(stage)}`),
    }),
    new iam.PolicyStatement({
      sid: 'EncryptTheRestoredCopy',
      actions: ['kms:CreateGrant', 'kms:DescribeKey'],
      resources: inRegions('kms', 'key/*'),
      conditions: { StringEquals: { 'aws:ResourceTag/stage': stage }, StringLike: { 'kms:ViaService': plan.regions.map((r) => `rds.${r}.amazonaws.com`) } },
    }),
    new iam.PolicyStatement({
      sid: 'StartTheShellHost',
      actions: ['ec2:RunInstances'],
      resources: inRegions('ec2', 'launch-template/*'),
      conditions: taggedStage,
    }),
    new iam.PolicyStatement({
      sid: 'CreateTheShellHostResources',
      actions: ['ec2:RunInstances'],
      resources: [...inRegions('ec2', 'instance/*'), ...inRegions('ec2', 'volume/*')],
      conditions: { StringEquals: { [`aws:RequestTag/${DATABASE_SHELL_TAG}`]: stage } },
    }),
    // Tags only as the host is made: tagging an instance that runs would open a session to it.
    new iam.PolicyStatement({
      sid: 'TagTheShellHostAtLaunch',
      actions: ['ec2:CreateTags'],
      resources: [...inRegions('ec2', 'instance/*'), ...inRegions('ec2', 'volume/*'), ...inRegions('ec2', 'network-interface/*')],
      conditions: { StringEquals: { 'ec2:CreateAction': 'RunInstances', [`aws:RequestTag/${DATABASE_SHELL_TAG}`]: stage } },
    }),
    new iam.PolicyStatement({
      sid: 'PlaceTheShellHost',
      actions: ['ec2:RunInstances'],
      // The host's network interface carries no tag of the request (db-shell tags the instance and
      // its volume); an image ARN names no account.
      resources: [
        ...inRegions('ec2', 'subnet/*'),
        ...inRegions('ec2', 'security-group/*'),
        ...inRegions('ec2', 'network-interface/*'),
        ...plan.regions.map((region) => `arn:${partition}:ec2:${region}::image/*`),
      ],
    }),
    new iam.PolicyStatement({
      sid: 'EndTheShellHost',
      actions: ['ec2:TerminateInstances'],
      resources: inRegions('ec2', 'instance/*'),
      conditions: { StringEquals: { [`aws:ResourceTag/${DATABASE_SHELL_TAG}`]: stage } },
    }),
    new iam.PolicyStatement({
      sid: 'PassTheShellHostRole',
      actions: ['iam:PassRole'],
      resources: [`arn:${partition}:iam::${account}:role/*`],
      conditions: { StringEquals: { 'iam:PassedToService': 'ec2.amazonaws.com', 'iam:ResourceTag/stage': stage } },
    }),
    new iam.PolicyStatement({
      sid: 'SessionToTheShellHostOnly',
      actions: ['ssm:StartSession'],
      resources: inRegions('ec2', 'instance/*'),
      conditions: { StringEquals: { [`ssm:resourceTag/${DATABASE_SHELL_TAG}`]: stage } },
    }),
    new iam.PolicyStatement({
      sid: 'SessionDocuments',
      actions: ['ssm:StartSession'],
      resources: plan.regions.flatMap((region) =>
        ['AWS-StartPortForwardingSessionToRemoteHost', 'AWS-StartInteractiveCommand'].map((doc) => `arn:${partition}:ssm:${region}::document/${doc}`),
      ),
    }),
    new iam.PolicyStatement({
      sid: 'EndOwnSessions',
      actions: ['ssm:TerminateSession', 'ssm:ResumeSession'],
      resources: [`arn:${partition}:ssm:*:${account}:session/\${aws:userid}-*`],
    }),
    // npm run evidence reads the finding it is given; the evidence bucket and its key admit the
    // on-call role by their own policies.
    new iam.PolicyStatement({
      sid: 'ReadTheFindings',
      actions: ['guardduty:GetFindings'],
      resources: inRegions('guardduty', 'detector/*'),
    }),
    new iam.PolicyStatement({
      sid: 'LogInAsOnCall',
      actions: ['rds-db:connect'],
      resources: inRegions('rds-db', `dbuser:*/${DATABASE_ROLES.oncall}`),
    }),
    new iam.PolicyStatement({
      sid: 'ReadLogsAndTheStacks',
      actions: [
        'logs:FilterLogEvents',
        'logs:GetLogEvents',
        'logs:StartQuery',
        'logs:GetQueryResults',
        'logs:StopQuery',
        'cloudformation:DetectStackResourceDrift',
        'cloudformation:DescribeStackResourceDrifts',
        'ecr:DescribeImages',
      ],
      resources: ['*'],
    }),
  ];
}
