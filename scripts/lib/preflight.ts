import type { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { DescribeAddressesCommand, DescribeNatGatewaysCommand, DescribeVpcsCommand, type EC2Client } from '@aws-sdk/client-ec2';
import type { ECRClient } from '@aws-sdk/client-ecr';
import type { ECSClient } from '@aws-sdk/client-ecs';
import type { ElastiCacheClient } from '@aws-sdk/client-elasticache';
import { DescribeAccountAttributesCommand, type RDSClient } from '@aws-sdk/client-rds';
import { GetHostedZoneCommand, ListHostedZonesByNameCommand, type Route53Client } from '@aws-sdk/client-route-53';
import { GetServiceQuotaCommand, type ServiceQuotasClient } from '@aws-sdk/client-service-quotas';
import { GetAccountCommand, type SESv2Client } from '@aws-sdk/client-sesv2';
import type { SNSClient } from '@aws-sdk/client-sns';
import { GetParameterCommand, type SSMClient } from '@aws-sdk/client-ssm';
import { GetCallerIdentityCommand, type STSClient } from '@aws-sdk/client-sts';
import { BOOTSTRAP_QUALIFIER } from '../../lib/ci/ci-access-stack';
import { deployRegions, SNAPSHOT_HEADROOM, type StageConfig, stageRegions } from '../../lib/config';
import { alarmSubscriptionChecks } from './preflight-alarms';
import { type BaselineClients, baselineChecks } from './preflight-baseline';
import { couldNotCheck, named, runCheck } from './preflight-check';
import { type EdgeOptions, edgeChecks } from './preflight-edge';
import { pilotLightChecks } from './preflight-pilot-light';
import { engineCheck, imageCheck, natImageCheck, runningReleaseCheck } from './preflight-release';

/**
 * Bootstrap version the synthesized stacks need: 6 for the deploy and publishing roles, 8 for the
 * lookup role that `cdk diff` and preflight read with (aws-cdk-lib's DefaultStackSynthesizer).
 */
export const MIN_BOOTSTRAP_VERSION = 8;

/** Service Quotas codes of the limits the design leans on (VPC and EC2 quotas, per region). */
export const QUOTAS = {
  vpcs: { serviceCode: 'vpc', quotaCode: 'L-F678F1CE', name: 'VPCs per Region' },
  natGatewaysPerAz: { serviceCode: 'vpc', quotaCode: 'L-FE5A380F', name: 'NAT gateways per Availability Zone' },
  elasticIps: { serviceCode: 'ec2', quotaCode: 'L-0263D0A3', name: 'EC2-VPC Elastic IPs' },
} as const;

type Send<T extends { send: unknown }> = Pick<T, 'send'>;

/** Clients in the stage account; the regional ones per region. */
export interface PreflightClients {
  readonly sts: Send<STSClient>;
  readonly route53: Send<Route53Client>;
  readonly ssm: (region: string) => Send<SSMClient>;
  readonly rds: (region: string) => Send<RDSClient>;
  readonly ecr: Send<ECRClient>;
  /** The registry of the stage's DR region, where a pilot light keeps the releases too. */
  readonly drEcr: Send<ECRClient>;
  /** SES per region: identities and production access are a region's (the DR region's too, with a pilot light). */
  readonly sesv2: (region: string) => Send<SESv2Client>;
  /** The pilot light's cache subnet group, in the DR region. */
  readonly elasticache: (region: string) => Send<ElastiCacheClient>;
  readonly serviceQuotas: Send<ServiceQuotasClient>;
  readonly ec2: Send<EC2Client>;
  /** The stage's App stack outputs and web service, in its region: what it runs now. */
  readonly cfn: Send<CloudFormationClient>;
  readonly ecs: Send<ECSClient>;
  /** What the organisation may already run in the account (GuardDuty, Security Hub, Config, GitHub's OIDC provider). */
  readonly baseline: BaselineClients;
  /** The alarm topics' subscriptions, in each region the stage alarms in. */
  readonly sns: (region: string) => Send<SNSClient>;
}

export interface PreflightOptions extends EdgeOptions {
  /** Image tag or digest the deploy will run. @default the stage's image.tag */
  readonly image?: string;
  /** Keep looking for the image this long (replication is asynchronous). @default 0 */
  readonly waitForImageSeconds?: number;
  /** Name servers a name resolves to (NS records), from public DNS; tests pass a fake. */
  readonly resolveNs: (name: string) => Promise<string[]>;
  readonly now: () => Date;
  readonly sleep: (ms: number) => Promise<void>;
}

/** ok: ready; warn: ready, but worth knowing; missing: not ready (the fix says what to do); error: could not check. */
export type CheckStatus = 'ok' | 'warn' | 'missing' | 'error';

export interface Check {
  readonly name: string;
  readonly status: CheckStatus;
  readonly detail: string;
  readonly fix?: string;
}

export interface PreflightResult {
  readonly checks: Check[];
  /** 0 ready, 1 not ready (something is missing), 2 could not check (and nothing found missing). */
  readonly exitCode: 0 | 1 | 2;
}

/**
 * Checks that the stage account is ready for a deploy of `config` and says what to do where it is
 * not: the caller's account, the CDK bootstrap in every region of the stage, the image in the
 * registry the stage pulls from, the stage zone and its delegation, the SES sandbox, the quotas
 * the design leans on, and with a pilot light what its DR region must hold for a failover
 * (preflight-pilot-light.ts). Each check is independent; one that cannot run is reported as such.
 */
export async function preflight(config: StageConfig, clients: PreflightClients, options: PreflightOptions): Promise<PreflightResult> {
  const account = await runCheck('account', async () => {
    const caller = await clients.sts.send(new GetCallerIdentityCommand({}));
    return caller.Account === config.account
      ? { status: 'ok', detail: `the caller (${caller.Arn}) is in ${config.account}` }
      : {
          status: 'missing',
          detail: `the caller (${caller.Arn}) is in ${caller.Account}, but ${config.name} deploys to ${config.account}`,
          fix: `use credentials of ${config.account} (the ${config.name} deploy role), or correct the account: -c ${config.name}.account=...`,
        };
  });
  // In another account every further answer would be about the wrong place.
  if (account.status !== 'ok') return finish([account]);

  // The checks ask different APIs and regions and depend on none of each other's answers: they
  // run together (a preflight waits on its slowest check, not on their sum) and report in order.
  const bootstrap = (region: string) =>
    runCheck(`bootstrap ${region}`, async () => {
      try {
        const out = await clients.ssm(region).send(new GetParameterCommand({ Name: `/cdk-bootstrap/${BOOTSTRAP_QUALIFIER}/version` }));
        const version = Number(out.Parameter?.Value);
        return version >= MIN_BOOTSTRAP_VERSION
          ? { status: 'ok', detail: `CDK bootstrap version ${version}` }
          : { status: 'missing', detail: `CDK bootstrap version ${version} is older than ${MIN_BOOTSTRAP_VERSION}`, fix: `npx cdk bootstrap aws://${config.account}/${region}` };
      } catch (error) {
        if (!named(error, 'ParameterNotFound')) throw error;
        return { status: 'missing', detail: `${config.account}/${region} is not bootstrapped for CDK`, fix: `npx cdk bootstrap aws://${config.account}/${region}` };
      }
    });
  const baseline = async (): Promise<Check[]> => {
    try {
      return await baselineChecks(config, clients.baseline);
    } catch (error) {
      return [couldNotCheck('account baseline', error)];
    }
  };
  const groups: Promise<Check | Check[]>[] = [
    ...deployRegions(config).map(bootstrap),
    runCheck('image', () => imageCheck(config, clients, options)),
    runCheck('running release', () => runningReleaseCheck(config, clients)),
    ...(config.domain ? [runCheck('dns', () => dnsCheck(config, clients, options)), runCheck('ses', () => sesCheck(config, clients, config.region))] : []),
    // The pilot light: what a failover needs in the DR region, SES's production access there among it.
    ...(config.dr.pilotLight
      ? [...(config.domain ? [runCheck(`ses ${config.drRegion}`, () => sesCheck(config, clients, config.drRegion))] : []), pilotLightChecks(config, clients, options)]
      : []),
    runCheck('database engine', () => engineCheck(config, clients)),
    ...stageRegions(config).map((region) => runCheck(`snapshot quota ${region}`, () => snapshotQuotaCheck(config, clients, region))),
    runCheck('vpc quota', () => vpcQuotaCheck(config, clients)),
    runCheck('elastic ip quota', () => eipQuotaCheck(config, clients)),
    runCheck('nat gateway quota', () => natQuotaCheck(config, clients)),
    ...(config.network.nat === 'instance' ? [runCheck('nat instance image', () => natImageCheck(config, clients, options))] : []),
    edgeChecks(config, clients, options),
    alarmSubscriptionChecks(config, clients.sns),
    baseline(),
  ];
  return finish([account, ...(await Promise.all(groups)).flat()]);
}

function finish(checks: Check[]): PreflightResult {
  const exitCode = checks.some((c) => c.status === 'missing') ? 1 : checks.some((c) => c.status === 'error') ? 2 : 0;
  return { checks, exitCode };
}

const normalize = (ns: string[]) => ns.map((n) => n.toLowerCase().replace(/\.$/, '')).sort();

async function dnsCheck(config: StageConfig, clients: PreflightClients, options: PreflightOptions): Promise<Omit<Check, 'name'>> {
  const { zoneName, parentZoneName, hostedZoneId } = config.domain!;
  let zoneId = hostedZoneId;
  if (!zoneId) {
    // Zones are listed by name from zoneName on; a private zone of the same name may come first.
    const found = await clients.route53.send(new ListHostedZonesByNameCommand({ DNSName: zoneName, MaxItems: 100 }));
    zoneId = found.HostedZones?.find((z) => z.Name === `${zoneName}.` && !z.Config?.PrivateZone)?.Id;
  }
  if (!zoneId) {
    return {
      status: 'missing',
      detail: `the ${zoneName} zone does not exist in ${config.account}`,
      fix: `deploy '${config.name}/Network' first (it creates the zone), then delegate it from ${parentZoneName} and run preflight again`,
    };
  }
  const zone = await clients.route53.send(new GetHostedZoneCommand({ Id: zoneId }));
  const expected = normalize(zone.DelegationSet?.NameServers ?? []);
  let answered: string[];
  try {
    answered = normalize(await options.resolveNs(zoneName));
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code !== 'ENOTFOUND' && code !== 'ENODATA') throw error;
    answered = [];
  }
  if (JSON.stringify(answered) === JSON.stringify(expected)) return { status: 'ok', detail: `${zoneName} is delegated to its zone (${expected.join(', ')})` };
  return {
    status: 'missing',
    detail: `${zoneName} is not delegated to its zone ${zoneId.replace('/hostedzone/', '')}: public DNS answers ${answered.length ? answered.join(', ') : 'nothing'}`,
    fix: `in the ${parentZoneName} zone, create the NS record ${zoneName} with ${expected.join(' ')} (the certificate and SES identity cannot validate before that)`,
  };
}

/** The account's SES production access in a region (granted per region: the DR region's is asked for apart). */
async function sesCheck(config: StageConfig, clients: PreflightClients, region: string): Promise<Omit<Check, 'name'>> {
  const account = await clients.sesv2(region).send(new GetAccountCommand({}));
  if (account.ProductionAccessEnabled) return { status: 'ok', detail: `SES in ${region} may send to anyone (out of the sandbox)` };
  const fix = `request production access${region === config.region ? '' : ` in ${region} too (it is granted per region)`}: SES console, Account dashboard, "Request production access" (docs/app-contract.md, "Email (SES)")`;
  const detail = `SES in ${region} is in the sandbox: mail reaches only verified addresses, 200 a day`;
  return config.email.requireProductionAccess ? { status: 'missing', detail, fix } : { status: 'warn', detail, fix };
}

async function snapshotQuotaCheck(config: StageConfig, clients: PreflightClients, region: string): Promise<Omit<Check, 'name'>> {
  const out = await clients.rds(region).send(new DescribeAccountAttributesCommand({}));
  const quota = out.AccountQuotas?.find((q) => q.AccountQuotaName === 'ManualSnapshots');
  if (quota?.Max === undefined) return { status: 'error', detail: 'RDS did not report the ManualSnapshots quota' };
  const { planRetentionDays, drCopyRetentionDays, preDeploySnapshotsKept, manualSnapshotQuota } = config.backup;
  const days = region === config.region ? planRetentionDays : drCopyRetentionDays;
  const needed = days + preDeploySnapshotsKept + SNAPSHOT_HEADROOM;
  const used = quota.Used ?? 0;
  const raise = `raise "Manual DB instance snapshots" in Service Quotas (RDS, ${region}) and set backup.manualSnapshotQuota`;
  if (quota.Max < manualSnapshotQuota) {
    return {
      status: 'missing',
      detail: `the account's quota is ${quota.Max} manual snapshots, but backup.manualSnapshotQuota says ${manualSnapshotQuota}`,
      fix: `${raise}, or lower backup.manualSnapshotQuota to ${quota.Max} (and the retention with it)`,
    };
  }
  if (quota.Max < needed) {
    return {
      status: 'missing',
      detail: `the design holds ${needed} manual snapshots here (${days} daily, ${preDeploySnapshotsKept} pre-deploy, ${SNAPSHOT_HEADROOM} spare) but the quota is ${quota.Max}`,
      fix: raise,
    };
  }
  if (quota.Max - used < SNAPSHOT_HEADROOM) {
    return {
      status: 'missing',
      detail: `${used} of ${quota.Max} manual snapshots are used: the next pre-deploy snapshot or backup may fail`,
      fix: `delete manual snapshots nobody needs (not predeploy-* or awsbackup:* ones), or ${raise}`,
    };
  }
  return { status: 'ok', detail: `${used} of ${quota.Max} manual snapshots used; the design holds up to ${needed}` };
}

const quotaValue = async (clients: PreflightClients, quota: (typeof QUOTAS)[keyof typeof QUOTAS]) =>
  (await clients.serviceQuotas.send(new GetServiceQuotaCommand({ ServiceCode: quota.serviceCode, QuotaCode: quota.quotaCode }))).Quota?.Value ?? 0;

/** Resources of this stage carry the tag stage=<name> (lib/stages/app-stage.ts). */
const ofStage = (config: StageConfig, tags: { Key?: string; Value?: string }[] | undefined) => tags?.some((t) => t.Key === 'stage' && t.Value === config.name) ?? false;

async function vpcQuotaCheck(config: StageConfig, clients: PreflightClients): Promise<Omit<Check, 'name'>> {
  const limit = await quotaValue(clients, QUOTAS.vpcs);
  const vpcs = (await clients.ec2.send(new DescribeVpcsCommand({}))).Vpcs ?? [];
  const needed = vpcs.some((v) => ofStage(config, v.Tags)) ? 0 : 1;
  return vpcs.length + needed <= limit
    ? { status: 'ok', detail: `${vpcs.length} of ${limit} VPCs in ${config.region}${needed ? ', one more for the stage' : ", the stage's included"}` }
    : {
        status: 'missing',
        detail: `${vpcs.length} of ${limit} VPCs in ${config.region} exist and the stage needs one more`,
        fix: `raise "${QUOTAS.vpcs.name}" in Service Quotas, or delete an unused VPC`,
      };
}

async function eipQuotaCheck(config: StageConfig, clients: PreflightClients): Promise<Omit<Check, 'name'>> {
  const limit = await quotaValue(clients, QUOTAS.elasticIps);
  const addresses = (await clients.ec2.send(new DescribeAddressesCommand({}))).Addresses ?? [];
  const have = addresses.filter((a) => ofStage(config, a.Tags)).length;
  // NAT instances take an automatic public address, not an Elastic IP.
  const needed = config.network.nat === 'gateway' ? Math.max(0, config.network.natGateways - have) : 0;
  return addresses.length + needed <= limit
    ? {
        status: 'ok',
        detail: `${addresses.length} of ${limit} Elastic IPs in ${config.region}; ${config.network.nat === 'gateway' ? `the NAT gateways need ${needed} more` : 'NAT instances need none'}`,
      }
    : {
        status: 'missing',
        detail: `${addresses.length} of ${limit} Elastic IPs in ${config.region} are taken and the ${config.network.natGateways} NAT gateway(s) need ${needed} more`,
        fix: `raise "${QUOTAS.elasticIps.name}" in Service Quotas, or release unused addresses`,
      };
}

async function natQuotaCheck(config: StageConfig, clients: PreflightClients): Promise<Omit<Check, 'name'>> {
  const limit = await quotaValue(clients, QUOTAS.natGatewaysPerAz);
  const gateways = ((await clients.ec2.send(new DescribeNatGatewaysCommand({}))).NatGateways ?? []).filter((g) => g.State !== 'deleted' && !ofStage(config, g.Tags));
  const perSubnet = new Map<string, number>();
  for (const g of gateways) perSubnet.set(g.SubnetId ?? '', (perSubnet.get(g.SubnetId ?? '') ?? 0) + 1);
  const busiest = Math.max(0, ...perSubnet.values());
  // Other gateways are counted per subnet (their AZ is not in the answer): conservative, as a subnet lies in one AZ.
  return busiest + 1 <= limit
    ? { status: 'ok', detail: `at most ${busiest} other NAT gateway(s) per subnet, ${limit} allowed per AZ` }
    : {
        status: 'missing',
        detail: `${busiest} NAT gateways already run in one place and ${limit} are allowed per AZ`,
        fix: `raise "${QUOTAS.natGatewaysPerAz.name}" in Service Quotas`,
      };
}

/** One line per check and the verdict, for the terminal and the workflow log. */
export function formatPreflight(config: StageConfig, result: PreflightResult): string {
  const label: Record<CheckStatus, string> = { ok: 'ok', warn: 'WARN', missing: 'MISSING', error: 'ERROR' };
  const width = Math.max(...result.checks.map((c) => c.name.length));
  const lines = [`preflight ${config.name} (${config.account}, ${deployRegions(config).join(' + ')})`];
  for (const c of result.checks) {
    lines.push(`  ${label[c.status].padEnd(7)}  ${c.name.padEnd(width)}  ${c.detail}`);
    if (c.fix && c.status !== 'ok') lines.push(`  ${''.padEnd(7)}  ${''.padEnd(width)}  fix: ${c.fix}`);
  }
  const missing = result.checks.filter((c) => c.status === 'missing').length;
  const errors = result.checks.filter((c) => c.status === 'error').length;
  lines.push(
    result.exitCode === 0
      ? `READY: ${config.name} can be deployed${result.checks.some((c) => c.status === 'warn') ? ' (read the warnings)' : ''}.`
      : result.exitCode === 1
        ? `NOT READY: ${missing} thing(s) missing${errors ? `, ${errors} could not be checked` : ''}. Fix them and run preflight again.`
        : `COULD NOT CHECK: ${errors} check(s) failed to run; nothing was found missing. Check the credentials and permissions, then run again.`,
  );
  return lines.join('\n');
}
