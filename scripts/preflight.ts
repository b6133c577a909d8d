/**
 * Before a deploy: is the stage's account ready? Checks the caller's account, the CDK bootstrap
 * in every region of the stage, the image in the registry the stage pulls from (waiting for
 * replication if asked), the stage's DNS zone and its delegation, the SES sandbox, the quotas
 * the design leans on, CloudFront's prefix list and the Session Manager preferences, and says what
 * to do about each that is not.
 *
 *   npm run preflight -- --stage prod [-c prod.account=123456789012 -c prod.image.tag=sha256:...]
 *                        [--image TAG|DIGEST] [--wait-for-image SECONDS] [--lookup-role]
 *
 * `-c` takes the same overrides as `cdk deploy`. With --lookup-role the checks after the account
 * check run as the account's CDK lookup role (read-only), which the CI deploy role may assume.
 *
 * Exit codes: 0 ready, 1 not ready (the list says what is missing), 2 could not check, or bad arguments.
 */
import { Resolver } from 'node:dns/promises';
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { ConfigServiceClient } from '@aws-sdk/client-config-service';
import { EC2Client } from '@aws-sdk/client-ec2';
import { ECRClient } from '@aws-sdk/client-ecr';
import { ECSClient } from '@aws-sdk/client-ecs';
import { GuardDutyClient } from '@aws-sdk/client-guardduty';
import { IAMClient } from '@aws-sdk/client-iam';
import { RDSClient } from '@aws-sdk/client-rds';
import { Route53Client } from '@aws-sdk/client-route-53';
import { SecurityHubClient } from '@aws-sdk/client-securityhub';
import { ServiceQuotasClient } from '@aws-sdk/client-service-quotas';
import { SESv2Client } from '@aws-sdk/client-sesv2';
import { SSMClient } from '@aws-sdk/client-ssm';
import { AssumeRoleCommand, GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { cdkBootstrapRoleArn } from '../lib/ci/ci-access-stack';
import { loadStages, STAGE_NAMES, type StageConfig, StageConfigError } from '../lib/config';
import { addContext, readFlags, stageArg } from './lib/args';
import { UsageError } from './lib/assembly';
import { formatPreflight, type PreflightClients, preflight } from './lib/preflight';

const USAGE = `usage: preflight --stage ${STAGE_NAMES.join('|')} [-c KEY=VALUE ...] [--image TAG|DIGEST] [--wait-for-image SECONDS] [--lookup-role]`;

export interface PreflightArgs {
  readonly stage: string;
  readonly context: Record<string, string>;
  readonly image?: string;
  readonly waitForImageSeconds: number;
  readonly lookupRole: boolean;
}

export function parseArgs(argv: readonly string[]): PreflightArgs {
  let stage: string | undefined;
  let image: string | undefined;
  let wait = 0;
  let lookupRole = false;
  const context: Record<string, string> = {};
  for (const [flag, value = ''] of readFlags(argv, { values: ['--stage', '--image', '--wait-for-image', '-c', '--context'], switches: ['--lookup-role'], usage: USAGE })) {
    if (flag === '--lookup-role') lookupRole = true;
    else if (flag === '--stage') stage = value;
    else if (flag === '--image') image = value;
    else if (flag === '--wait-for-image') {
      wait = Number(value);
      if (!Number.isInteger(wait) || wait < 0 || wait > 3600) throw new UsageError(`--wait-for-image takes whole seconds from 0 to 3600, not "${value}". ${USAGE}`);
    } else addContext(context, flag, value, USAGE);
  }
  return { stage: stageArg(stage, USAGE), context, image, waitForImageSeconds: wait, lookupRole };
}

/** The stage's config with the same overrides a deploy gets. */
export function stageConfig(args: PreflightArgs): StageConfig {
  return loadStages({ ...args.context, stages: args.stage }).selected[0];
}

/** Temporary credentials (the lookup role's). */
interface Credentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
}

/** What every client gets besides its region: the lookup role's credentials, another endpoint. */
export interface ClientSettings {
  readonly credentials?: Credentials;
  readonly endpoint?: string;
}

export function defaultClients(config: StageConfig, settings: ClientSettings = {}): PreflightClients {
  const base = { ...settings, region: config.region };
  return {
    sts: new STSClient(base),
    route53: new Route53Client({ ...base, region: 'us-east-1' }),
    ssm: (region) => new SSMClient({ ...base, region }),
    rds: (region) => new RDSClient({ ...base, region }),
    ecr: new ECRClient(base),
    sesv2: new SESv2Client(base),
    serviceQuotas: new ServiceQuotasClient(base),
    ec2: new EC2Client(base),
    cfn: new CloudFormationClient(base),
    ecs: new ECSClient(base),
    baseline: {
      cfn: (region) => new CloudFormationClient({ ...base, region }),
      guardDuty: (region) => new GuardDutyClient({ ...base, region }),
      securityHub: (region) => new SecurityHubClient({ ...base, region }),
      config: (region) => new ConfigServiceClient({ ...base, region }),
      iam: new IAMClient({ ...base, region: 'us-east-1' }),
    },
  };
}

export async function main(argv = process.argv.slice(2), clientsFor = defaultClients): Promise<number> {
  let args: PreflightArgs;
  let config: StageConfig;
  try {
    args = parseArgs(argv);
    config = stageConfig(args);
  } catch (error) {
    if (error instanceof UsageError || error instanceof StageConfigError) {
      console.error(`preflight: ${error.message}`);
      return 2;
    }
    throw error;
  }
  let clients = clientsFor(config);
  if (args.lookupRole) {
    // The account check runs with the caller's own credentials; the rest as the lookup role.
    const role = cdkBootstrapRoleArn('lookup', config.account, config.region);
    try {
      const caller = await clients.sts.send(new GetCallerIdentityCommand({}));
      if (caller.Account === config.account) {
        const { Credentials: c } = await clients.sts.send(new AssumeRoleCommand({ RoleArn: role, RoleSessionName: `preflight-${config.name}` }));
        const lookup = clientsFor(config, { credentials: { accessKeyId: c!.AccessKeyId!, secretAccessKey: c!.SecretAccessKey!, sessionToken: c!.SessionToken } });
        clients = { ...lookup, sts: clients.sts };
      }
    } catch (error) {
      console.error(`preflight: could not assume ${role}: ${(error as Error).message}. Is ${config.account}/${config.region} bootstrapped, and may the caller assume it?`);
      return 2;
    }
  }
  const resolver = new Resolver();
  const result = await preflight(config, clients, {
    image: args.image,
    waitForImageSeconds: args.waitForImageSeconds,
    resolveNs: (name) => resolver.resolveNs(name),
    now: () => new Date(),
    sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
  });
  console.log(formatPreflight(config, result));
  return result.exitCode;
}

if (require.main === module) {
  main().then((code) => process.exit(code));
}
