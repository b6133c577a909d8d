import { GetCallerIdentityCommand, type GetCallerIdentityCommandOutput, type STSClient } from '@aws-sdk/client-sts';
import { onCallRoleName, principalMatches } from '../../lib/baseline/operator-roles';
import { ciRoleNames } from '../../lib/ci/ci-access-stack';
import type { StageConfig } from '../../lib/config';

/**
 * The roles a command may need, weakest first: `on-call` (the stage's on-call role: reads, and
 * what the on-call commands do), `deploy` (the stage's CI deploy role: CloudFormation deploys and
 * image tags), `break-glass` (the account's administrator role). `any` asks for no role: the
 * command only reads what its account admits to whoever calls.
 */
export type RoleNeed = 'any' | 'on-call' | 'deploy' | 'break-glass';

/** Which callers pass a need: a role passes each need listed for it (the people named as break-glass principals pass every need with their own role too). */
const PASSES: Record<Exclude<RoleNeed, 'any'>, readonly ('on-call' | 'deploy' | 'break-glass')[]> = {
  'on-call': ['on-call', 'deploy', 'break-glass'],
  deploy: ['deploy', 'break-glass'],
  'break-glass': ['break-glass'],
};

/**
 * What each operator command needs: to act (`--yes`, or a command without a dry run), and for its
 * dry run. The one table of it: the usage lines, docs/commands.md and the checks read it.
 * `modes` names the flags that need more than the command's default.
 */
export const COMMAND_ROLES = {
  deploy: { act: 'deploy', dryRun: 'on-call' },
  rollback: { act: 'on-call', dryRun: 'on-call' },
  restore: { act: 'on-call', dryRun: 'on-call', modes: { '--replace': 'break-glass' } },
  'db-shell': { act: 'on-call', dryRun: 'on-call', modes: { '--write': 'break-glass' } },
  failover: { act: 'break-glass', dryRun: 'on-call' },
  failback: { act: 'break-glass', dryRun: 'on-call' },
  'failover-drill': { act: 'break-glass', dryRun: 'on-call' },
  'refresh-staging': { act: 'break-glass', dryRun: 'on-call' },
  'restore-drill': { act: 'break-glass', dryRun: 'break-glass' },
  'dr-images': { act: 'deploy', dryRun: 'on-call' },
  'release-tag': { act: 'deploy', dryRun: 'on-call' },
  local: { act: 'any', dryRun: 'any' },
  restart: { act: 'on-call', dryRun: 'on-call' },
  snapshots: { act: 'break-glass', dryRun: 'on-call' },
  contain: { act: 'break-glass', dryRun: 'on-call' },
  evidence: { act: 'on-call', dryRun: 'on-call' },
} as const satisfies Record<string, { act: RoleNeed; dryRun: RoleNeed; modes?: Record<string, RoleNeed> }>;

export type OperatorCommand = keyof typeof COMMAND_ROLES;

/** The role a command needs, as its usage line and docs/commands.md state it. */
export function roleLine(command: OperatorCommand): string {
  const roles = COMMAND_ROLES[command] as { act: RoleNeed; dryRun: RoleNeed; modes?: Record<string, RoleNeed> };
  const name = (need: RoleNeed) => (need === 'any' ? 'no operator role' : `the ${need} role`);
  const parts = [roles.act === roles.dryRun ? `needs ${name(roles.act)}` : `needs ${name(roles.act)} to act, ${name(roles.dryRun)} for a dry run`];
  for (const [flag, need] of Object.entries(roles.modes ?? {})) parts.push(`${flag}: ${name(need)}`);
  return `role: ${parts.join('; ')} (docs/security.md, "On-call")`;
}

/** What a command asks of the caller: its name, whether it acts or prints, the flags it was given that need more. */
export interface RoleCheck {
  readonly command: OperatorCommand;
  readonly acting: boolean;
  readonly flags?: readonly string[];
  /** The stage's roles and who its administrators are. */
  readonly config: Pick<StageConfig, 'name' | 'backup' | 'access'>;
}

/** The need of a check: the command's, raised by any flag of `modes` given. */
export function needOf(check: Pick<RoleCheck, 'command' | 'acting' | 'flags'>): RoleNeed {
  const roles = COMMAND_ROLES[check.command] as { act: RoleNeed; dryRun: RoleNeed; modes?: Record<string, RoleNeed> };
  const order: RoleNeed[] = ['any', 'on-call', 'deploy', 'break-glass'];
  let need = check.acting ? roles.act : roles.dryRun;
  for (const flag of check.flags ?? []) {
    const raised = roles.modes?.[flag];
    if (raised && check.acting && order.indexOf(raised) > order.indexOf(need)) need = raised;
  }
  return need;
}

/** The role (by name) of an assumed-role session ARN (`arn:aws:sts::<account>:assumed-role/<role>/<session>`), or undefined for a user or root. */
export function sessionRole(callerArn: string): string | undefined {
  return /^arn:aws[\w-]*:sts::\d{12}:assumed-role\/([^/]+)\/.+$/.exec(callerArn)?.[1];
}

/** Why the caller (`callerArn`) may not run the check's command, or undefined when it may. */
export function roleProblem(callerArn: string, check: RoleCheck): string | undefined {
  const need = needOf(check);
  if (need === 'any') return undefined;
  const { config } = check;
  const names = { 'on-call': onCallRoleName(config.name), deploy: ciRoleNames(config.name).deploy, 'break-glass': config.backup.breakGlassRoleName };
  const role = sessionRole(callerArn);
  if (role !== undefined && PASSES[need].some((kind) => names[kind] === role)) return undefined;
  // The break-glass principals are the account's administrators: their own roles pass every check.
  if (config.access.breakGlass.principals.some((p) => principalMatches(p, callerArn))) return undefined;
  const acted = check.acting ? '' : ' (its dry run)';
  const wanted = PASSES[need].map((kind) => names[kind]);
  const assume =
    need === 'deploy'
      ? `deploys run as the CI role ${names.deploy} (the deploy workflow), or as ${names['break-glass']}`
      : `aws sts assume-role --role-arn arn:aws:iam::<account>:role/${names[need]} --role-session-name "$USER" (or a profile with role_arn and source_profile for your aws sso login), then AWS_PROFILE=<that profile>`;
  return `${check.command}${acted} needs the ${need} role of ${config.name} (${wanted.join(' or ')}), and the credentials are ${callerArn}. Get it: ${assume}; docs/security.md, "On-call".`;
}

/**
 * Says why the caller cannot act on `account` (no credentials, another account's, or a role the
 * command does not run with), or undefined when it can. Operator scripts ask before they touch
 * anything, so a missing login or the wrong role is the first (and only) thing they report.
 */
export async function accountProblem(sts: Pick<STSClient, 'send'>, account: string, stage: string, check: RoleCheck): Promise<string | undefined> {
  let caller: GetCallerIdentityCommandOutput;
  try {
    caller = await sts.send(new GetCallerIdentityCommand({}));
  } catch (error) {
    return `no usable AWS credentials (${(error as Error).name}: ${(error as Error).message}). Sign in to the ${stage} account ${account} (aws sso login, or AWS_PROFILE) and run again.`;
  }
  if (caller.Account !== account) {
    return `the credentials are for account ${caller.Account} (${caller.Arn}), but ${stage} is in ${account}. Use credentials of ${account} and run again.`;
  }
  return roleProblem(caller.Arn ?? '', check);
}
