/**
 * The preflight's clients: the SDK's, in the stage's account and regions, as the caller or, with
 * --lookup-role, as the account's CDK lookup role (read-only) after the account check.
 */
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { ConfigServiceClient } from '@aws-sdk/client-config-service';
import { EC2Client } from '@aws-sdk/client-ec2';
import { ECRClient } from '@aws-sdk/client-ecr';
import { ECSClient } from '@aws-sdk/client-ecs';
import { ElastiCacheClient } from '@aws-sdk/client-elasticache';
import { GuardDutyClient } from '@aws-sdk/client-guardduty';
import { IAMClient } from '@aws-sdk/client-iam';
import { RDSClient } from '@aws-sdk/client-rds';
import { Route53Client } from '@aws-sdk/client-route-53';
import { SecurityHubClient } from '@aws-sdk/client-securityhub';
import { ServiceQuotasClient } from '@aws-sdk/client-service-quotas';
import { SESv2Client } from '@aws-sdk/client-sesv2';
import { SNSClient } from '@aws-sdk/client-sns';
import { SSMClient } from '@aws-sdk/client-ssm';
import { AssumeRoleCommand, GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { cdkBootstrapRoleArn } from '../../lib/ci/ci-access-stack';
import type { StageConfig } from '../../lib/config';
import { UsageError } from './assembly';
import type { PreflightClients } from './preflight';

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
    drEcr: new ECRClient({ ...base, region: config.drRegion }),
    sesv2: (region) => new SESv2Client({ ...base, region }),
    elasticache: (region) => new ElastiCacheClient({ ...base, region }),
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
    sns: (region) => new SNSClient({ ...base, region }),
  };
}

/**
 * `clients` with the lookup role's credentials for everything but STS: the account check runs
 * with the caller's own. A caller in another account keeps its clients (the account check then
 * says so); a role it cannot assume is a UsageError.
 */
export async function asLookupRole(config: StageConfig, clients: PreflightClients, clientsFor: typeof defaultClients): Promise<PreflightClients> {
  const role = cdkBootstrapRoleArn('lookup', config.account, config.region);
  try {
    const caller = await clients.sts.send(new GetCallerIdentityCommand({}));
    if (caller.Account !== config.account) return clients;
    const { Credentials: c } = await clients.sts.send(new AssumeRoleCommand({ RoleArn: role, RoleSessionName: `preflight-${config.name}` }));
    const lookup = clientsFor(config, { credentials: { accessKeyId: c!.AccessKeyId!, secretAccessKey: c!.SecretAccessKey!, sessionToken: c!.SessionToken } });
    return { ...lookup, sts: clients.sts };
  } catch (error) {
    throw new UsageError(`could not assume ${role}: ${(error as Error).message}. Is ${config.account}/${config.region} bootstrapped, and may the caller assume it?`);
  }
}
