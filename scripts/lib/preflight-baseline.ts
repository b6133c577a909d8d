/**
 * What an organisation may already run in a stage account, which the baseline and CI stacks would
 * otherwise try to create a second time and fail: a GuardDuty detector and a Security Hub hub (one
 * per account and region), an AWS Config recorder (one per region), GitHub's OIDC provider (one
 * per account and URL). For each, whether the stack's own setting fits what is there, and the
 * setting to change where it does not (docs/security.md, "Account baseline"). And the one thing
 * the account must have that no stack creates: the break-glass role, at the exact ARN the
 * protections except.
 */
import { type CloudFormationClient, ListStackResourcesCommand } from '@aws-sdk/client-cloudformation';
import { type ConfigServiceClient, DescribeConfigurationRecordersCommand } from '@aws-sdk/client-config-service';
import { type GuardDutyClient, ListDetectorsCommand } from '@aws-sdk/client-guardduty';
import { GetRoleCommand, type IAMClient, ListOpenIDConnectProvidersCommand } from '@aws-sdk/client-iam';
import { DescribeHubCommand, type SecurityHubClient } from '@aws-sdk/client-securityhub';
import { baselineStackName } from '../../lib/baseline/baseline-stack';
import { GITHUB_OIDC } from '../../lib/ci/ci-access-stack';
import { CONFIG_FILE, type StageConfig, stageRegions } from '../../lib/config';

type Send<T extends { send: unknown }> = Pick<T, 'send'>;

/** Clients in the stage account, per region (IAM is global). */
export interface BaselineClients {
  readonly cfn: (region: string) => Send<CloudFormationClient>;
  readonly guardDuty: (region: string) => Send<GuardDutyClient>;
  readonly securityHub: (region: string) => Send<SecurityHubClient>;
  readonly config: (region: string) => Send<ConfigServiceClient>;
  readonly iam: Send<IAMClient>;
}

export interface BaselineCheck {
  readonly name: string;
  readonly status: 'ok' | 'warn' | 'missing';
  readonly detail: string;
  readonly fix?: string;
}

/** A stack's resources (type and physical id); none when the stack does not exist. */
async function stackResources(cfn: Send<CloudFormationClient>, stackName: string): Promise<{ type: string; id: string }[]> {
  const found: { type: string; id: string }[] = [];
  let NextToken: string | undefined;
  try {
    do {
      const page = await cfn.send(new ListStackResourcesCommand({ StackName: stackName, NextToken }));
      for (const r of page.StackResourceSummaries ?? []) if (r.ResourceType && r.PhysicalResourceId) found.push({ type: r.ResourceType, id: r.PhysicalResourceId });
      NextToken = page.NextToken;
    } while (NextToken);
  } catch (error) {
    if ((error as Error).name === 'ValidationError' && /does not exist/.test((error as Error).message)) return [];
    throw error;
  }
  return found;
}

/** The physical ids of the resources of one type among a stack's. */
const ofType = (resources: readonly { type: string; id: string }[], type: string): string[] => resources.filter((r) => r.type === type).map((r) => r.id);

/** "for every stage in <account>": the baseline and CI settings are the account's, set alike in each of its stages. */
const everyStage = (config: StageConfig) => `for every stage in ${config.account} in ${CONFIG_FILE}`;

/**
 * One check of a resource the account has at most one of: `found` are what exists, `ours` what the
 * stack created; `creates` says whether the stack would create one.
 */
function judge(what: string, where: string, creates: boolean, found: readonly string[], ours: readonly string[], fixes: { off: string; on: string }): Omit<BaselineCheck, 'name'> {
  const foreign = found.filter((f) => !ours.includes(f));
  if (creates) {
    if (foreign.length === 0)
      return { status: 'ok', detail: found.length > 0 ? `the baseline's ${what} (${found.join(', ')})` : `no ${what} yet in ${where}: the baseline creates it` };
    return {
      status: 'missing',
      detail: `a ${what} already exists in ${where} that the baseline stack did not create (${foreign.join(', ')}): a second cannot be created, and the deploy would fail`,
      fix: fixes.off,
    };
  }
  if (found.length > 0) return { status: 'ok', detail: `the account's own ${what} (${found.join(', ')}), as configured` };
  return { status: 'warn', detail: `no ${what} in ${where}, and the baseline is set not to create one`, fix: fixes.on };
}

/** The docs section that says how to create the break-glass role. */
export const BREAK_GLASS_DOCS = 'docs/disaster-recovery.md, "Break-glass"';

/**
 * The break-glass role (`backup.breakGlassRoleName`), created by hand: the key, vault and trail
 * bucket policies except `arn:aws:iam::<account>:role/<name>` exactly (aws:PrincipalArn). A role
 * created under a path has another ARN and matches none of them, as does no role at all: then
 * nobody may disable or delete the protected keys, delete recovery points or log files. IAM cannot
 * move a role to another path, so the fix is a new role.
 */
async function breakGlassCheck(config: StageConfig, iam: Send<IAMClient>): Promise<Omit<BaselineCheck, 'name'>> {
  const name = config.backup.breakGlassRoleName;
  const expected = `arn:aws:iam::${config.account}:role/${name}`;
  const create = `aws iam create-role --role-name ${name} --path / --assume-role-policy-document file://break-glass-trust.json (trusting named people, with MFA; ${BREAK_GLASS_DOCS})`;
  let arn: string | undefined;
  try {
    arn = (await iam.send(new GetRoleCommand({ RoleName: name }))).Role?.Arn;
  } catch (error) {
    if (!['NoSuchEntityException', 'NoSuchEntity'].includes((error as Error).name)) throw error;
  }
  if (arn === undefined) {
    return {
      status: 'missing',
      detail: `no role ${name} in ${config.account}: the protected keys, the backup vaults and the trail buckets leave their destruction to ${expected} alone, so nobody could disable or delete those keys`,
      fix: `create it at path /: ${create}`,
    };
  }
  if (arn !== expected) {
    return {
      status: 'missing',
      detail: `the role ${name} is ${arn}, not ${expected}: the protections except ${expected} exactly, which a role under a path does not match`,
      fix: `IAM cannot move a role to another path: delete ${arn} and create it again at path /: ${create}`,
    };
  }
  return { status: 'ok', detail: `${arn}, the ARN the protections except` };
}

export async function baselineChecks(config: StageConfig, clients: BaselineClients): Promise<BaselineCheck[]> {
  // Each region's checks, and the account's, ask apart: they run together and report in order.
  const [regional, oidc, breakGlass] = await Promise.all([
    Promise.all(stageRegions(config).map((region) => regionChecks(config, clients, region))),
    oidcCheck(config, clients),
    breakGlassCheck(config, clients.iam),
  ]);
  return [...regional.flat(), oidc, { name: 'break-glass role', ...breakGlass }];
}

async function regionChecks(config: StageConfig, clients: BaselineClients, region: string): Promise<BaselineCheck[]> {
  const { baseline } = config;
  const stack = baselineStackName({ account: config.account, region });
  // One listing of the baseline stack serves the region's three checks.
  const ours = stackResources(clients.cfn(region), stack);
  // Awaited by each check after its own call: a refusal must not count as unhandled meanwhile.
  ours.catch(() => {});

  const guardDuty = async (): Promise<BaselineCheck> => {
    const detectors = (await clients.guardDuty(region).send(new ListDetectorsCommand({}))).DetectorIds ?? [];
    return {
      name: `guardduty ${region}`,
      ...judge('GuardDuty detector', region, baseline.guardDuty.enabled, detectors, ofType(await ours, 'AWS::GuardDuty::Detector'), {
        off: `set baseline.guardDuty.enabled: false ${everyStage(config)} (the existing detector covers the account; keep guardDuty.runtimeMonitoring on if it runs Runtime Monitoring for Fargate)`,
        on: `enable GuardDuty through the organisation's delegated administrator, or set baseline.guardDuty.enabled: true ${everyStage(config)}`,
      }),
    };
  };

  const securityHub = async (): Promise<BaselineCheck> => {
    let hubs: string[] = [];
    try {
      const hub = await clients.securityHub(region).send(new DescribeHubCommand({}));
      hubs = hub.HubArn ? [hub.HubArn] : [];
    } catch (error) {
      if ((error as Error).name !== 'InvalidAccessException') throw error;
    }
    return {
      name: `security hub ${region}`,
      ...judge('Security Hub hub', region, baseline.securityHub, hubs, ofType(await ours, 'AWS::SecurityHub::Hub'), {
        off: `set baseline.securityHub: false ${everyStage(config)} (the organisation's Security Hub covers the account)`,
        on: `enable Security Hub through the organisation, or set baseline.securityHub: true ${everyStage(config)}`,
      }),
    };
  };

  const configRecorder = async (): Promise<BaselineCheck[]> => {
    if (baseline.configRecorder === 'off') return [];
    const recorders = ((await clients.config(region).send(new DescribeConfigurationRecordersCommand({}))).ConfigurationRecorders ?? []).map((r) => r.name ?? '');
    const check = judge('AWS Config recorder', region, baseline.configRecorder === 'stack', recorders, ofType(await ours, 'AWS::Config::ConfigurationRecorder'), {
      off: `set baseline.configRecorder: "organization" ${everyStage(config)} (the landing zone's recorder records the account)`,
      on: `set baseline.configRecorder: "stack" ${everyStage(config)}, or have the landing zone record ${region}`,
    });
    // Security Hub's controls evaluate Config recordings: a hub without a recorder checks nothing.
    const blocking = check.status === 'warn' && baseline.securityHub ? { ...check, status: 'missing' as const } : check;
    return [{ name: `config recorder ${region}`, ...blocking }];
  };

  const [detector, hub, recorder] = await Promise.all([guardDuty(), securityHub(), configRecorder()]);
  return [detector, hub, ...recorder];
}

async function oidcCheck(config: StageConfig, clients: BaselineClients): Promise<BaselineCheck> {
  const providers = ((await clients.iam.send(new ListOpenIDConnectProvidersCommand({}))).OpenIDConnectProviderList ?? [])
    .map((p) => p.Arn ?? '')
    .filter((arn) => arn.endsWith(`:oidc-provider/${GITHUB_OIDC.host}`));
  const oidc = judge(
    'GitHub OIDC provider',
    config.account,
    config.ci.createOidcProvider,
    providers,
    ofType(await stackResources(clients.cfn(config.region), `CiAccess-${config.account}`), 'AWS::IAM::OIDCProvider'),
    {
      off: `set ci.createOidcProvider: false ${everyStage(config)}: the CI roles then trust the existing one`,
      on: `set ci.createOidcProvider: true ${everyStage(config)}: the CI roles trust a provider the account does not have, and every workflow's sign-in would fail`,
    },
  );
  return { name: 'github oidc provider', ...(oidc.status === 'warn' ? { ...oidc, status: 'missing' } : oidc) };
}
