import { type ApplicationAutoScalingClient, RegisterScalableTargetCommand } from '@aws-sdk/client-application-auto-scaling';
import { CreateBackupVaultCommand } from '@aws-sdk/client-backup';
import { type CloudFormationClient, CreateStackCommand, DeleteStackCommand, DescribeStacksCommand, UpdateStackCommand } from '@aws-sdk/client-cloudformation';
import { CreateSecurityGroupCommand, CreateSubnetCommand, CreateVpcCommand, EC2Client } from '@aws-sdk/client-ec2';
import { CreateRepositoryCommand, PutImageCommand } from '@aws-sdk/client-ecr';
import { CreateClusterCommand, CreateServiceCommand, type ECSClient, RegisterTaskDefinitionCommand } from '@aws-sdk/client-ecs';
import { CreateKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { CreateDBInstanceCommand, CreateDBParameterGroupCommand, CreateDBSubnetGroupCommand } from '@aws-sdk/client-rds';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import type { StageConfig } from '../../lib/config';
import { BACKUP_KEY_SERVICES, DR_APP_READS, pilotLightNames, SERVING_FROM_OUTPUT } from '../../lib/dr/pilot-light-names';
import { PRIMARY_READ_PREFIX } from '../../lib/shared/stage-stack';
import type { DeployClients } from '../../scripts/lib/deploy';
import { regionClientSet } from '../../scripts/lib/dr-survey';
import { tagRelease } from '../../scripts/lib/release-tags';
import { imageManifest } from './ecr';
import type { Moto } from './moto';

/**
 * A stage account on moto as a failover finds it: the pilot light and the DR stack deployed in
 * the DR region (their outputs, the subnet and parameter groups, the DR key, a backup vault, the
 * release image), the edge serving from the primary region, and the stage database there. Each
 * account is moto's own (an assumed role's credentials), so scenarios and other files never meet.
 */
/** An account's clients in one region, moto's, as the commands take them (RegionClients) and EC2 and KMS besides. */
export type AccountClients = ReturnType<typeof regionClientSet> & { readonly ec2: EC2Client; readonly kms: KMSClient };

export interface StageAccount {
  readonly account: string;
  /** Clients of the account in a region. */
  clientsFor(region: string): AccountClients;
  deployClients(region: string): DeployClients;
  /** The client options of the same session in a region, for a client AccountClients lacks. */
  options: SessionOptions;
  /** The DR key's ARN (the DR stack's BackupKeyArn). */
  readonly drKey: string;
  /** The release image's digest, in both regions' registries. */
  readonly digest: string;
  /** The DR region's private subnets (a NAT gateway's place). */
  readonly drSubnets: string[];
}

/** The SDK client options of a session of `role` in `account`, in a region. */
export type SessionOptions = (region: string) => ReturnType<Moto['clientConfig']>;

/**
 * A session of `role` in `account` on moto: its STS issues the credentials on AssumeRole (the role
 * need not exist), and moto acts in the account the role ARN names; GetCallerIdentity answers
 * with the session's assumed-role ARN, as AWS does, so the operator scripts' role check sees the role.
 */
export async function roleSession(moto: Moto, account: string, role: string): Promise<SessionOptions> {
  const assumed = (await new STSClient(moto.clientConfig('us-east-1')).send(new AssumeRoleCommand({ RoleArn: `arn:aws:iam::${account}:role/${role}`, RoleSessionName: 'test' })))
    .Credentials!;
  const credentials = { accessKeyId: assumed.AccessKeyId!, secretAccessKey: assumed.SecretAccessKey!, sessionToken: assumed.SessionToken };
  return (region) => ({ ...moto.clientConfig(region), credentials });
}

/** An account's clients as a session of `role`, one set per region, made when first asked for. */
export async function roleClients(moto: Moto, account: string, role: string): Promise<Pick<StageAccount, 'clientsFor' | 'deployClients' | 'options'>> {
  const options = await roleSession(moto, account, role);
  const made = new Map<string, AccountClients>();
  const clientsFor = (region: string) => {
    const o = options(region);
    const clients: AccountClients = made.get(region) ?? { ...regionClientSet(o, { forcePathStyle: true }), ec2: new EC2Client(o), kms: new KMSClient(o) };
    made.set(region, clients);
    return clients;
  };
  const deployClients = (region: string): DeployClients => {
    const c = clientsFor(region);
    return { sts: c.sts, cfn: c.cfn, ecs: c.ecs, ecr: c.ecr };
  };
  return { clientsFor, deployClients, options };
}

export async function stageAccount(moto: Moto, account: string, config: StageConfig): Promise<StageAccount> {
  const { clientsFor, deployClients, options } = await roleClients(moto, account, 'webapp-break-glass');
  const dr = clientsFor(config.drRegion);
  const primary = clientsFor(config.region);
  const names = pilotLightNames(config.name);

  // The pilot light's network and the data tier's places in it.
  const vpc = (await dr.ec2.send(new CreateVpcCommand({ CidrBlock: config.dr.cidr }))).Vpc!.VpcId!;
  const base = config.dr.cidr!.split('.').slice(0, 2).join('.');
  const drSubnets: string[] = [];
  for (const [i, zone] of ['a', 'b'].entries()) {
    drSubnets.push((await dr.ec2.send(new CreateSubnetCommand({ VpcId: vpc, CidrBlock: `${base}.${i}.0/24`, AvailabilityZone: `${config.drRegion}${zone}` }))).Subnet!.SubnetId!);
  }
  const group = (await dr.ec2.send(new CreateSecurityGroupCommand({ VpcId: vpc, GroupName: 'database', Description: 'database' }))).GroupId!;
  await dr.rds.send(new CreateDBSubnetGroupCommand({ DBSubnetGroupName: names.databaseSubnetGroup, DBSubnetGroupDescription: 'dr database', SubnetIds: drSubnets }));
  await dr.rds.send(new CreateDBParameterGroupCommand({ DBParameterGroupName: 'pilot-light-parameters', DBParameterGroupFamily: 'postgres17', Description: 'dr' }));
  const drKey = (await dr.kms.send(new CreateKeyCommand({}))).KeyMetadata!.Arn!;
  // What moto restores from in place of the replicated automated backups (it has no replication).
  await dr.rds.send(
    new CreateDBInstanceCommand({
      DBInstanceIdentifier: 'replicated-backups',
      Engine: 'postgres',
      DBInstanceClass: 'db.t4g.micro',
      AllocatedStorage: 20,
      MasterUsername: 'postgres',
      MasterUserPassword: 'not-a-secret-0',
      BackupRetentionPeriod: 7,
    }),
  );
  await createStack(dr.cfn, names.stackName, {
    VpcId: vpc,
    DatabaseSubnetGroupName: names.databaseSubnetGroup,
    DatabaseParameterGroupName: 'pilot-light-parameters',
    DatabaseSecurityGroupId: group,
    // What the DR app tier reads besides (the fake deploy does not look at them).
    ...Object.fromEntries(
      [...DR_APP_READS.pilotLight, ...(config.uploads.replicateToDr ? [] : DR_APP_READS.pilotLightUploads)]
        .filter((o) => o !== 'VpcId' && o !== 'DatabaseSecurityGroupId')
        .map((o) => [o, `${o.toLowerCase()}-value`]),
    ),
    ZoneRead: { value: 'Z0123456789ABCDEFGHIJ', description: `${PRIMARY_READ_PREFIX}${config.name}-Network/PublishOutputRefZone2A4024A48017E932` },
  });
  await createStack(dr.cfn, `${config.name}-Dr`, {
    BackupKeyArn: drKey,
    BackupKeyServices: BACKUP_KEY_SERVICES.join(' '),
    UploadsReplicaBucketName: `${config.name}-uploads-replica`,
    UploadsReplicaKeyArn: drKey,
  });
  await dr.backup.send(new CreateBackupVaultCommand({ BackupVaultName: `webapp-${config.name}-dr-0123456789ab` }));
  await createStack(clientsFor('us-east-1').cfn, `${config.name}-Edge`, { [SERVING_FROM_OUTPUT]: config.region });

  // The release, in both registries.
  let digest = '';
  for (const c of [primary, dr]) {
    await c.ecr.send(new CreateRepositoryCommand({ repositoryName: config.image.repositoryName }));
    digest = (await c.ecr.send(new PutImageCommand({ repositoryName: config.image.repositoryName, imageManifest: imageManifest(`release ${account}`), imageTag: 'v1.0.0' }))).image!
      .imageId!.imageDigest!;
    await tagRelease(c.ecr, config.image.repositoryName, digest);
  }
  return { account, clientsFor, deployClients, options, drKey, digest, drSubnets };
}

type OutputValue = string | { value: string; description: string };

/** A stack with nothing in it but these outputs (what the commands read of it). */
export async function createStack(cfn: CloudFormationClient, stackName: string, outputs: Record<string, OutputValue>, resources: Record<string, unknown> = {}): Promise<void> {
  await cfn.send(new CreateStackCommand({ StackName: stackName, TemplateBody: body(outputs, resources) }));
}

export async function updateStack(cfn: CloudFormationClient, stackName: string, outputs: Record<string, OutputValue>, resources: Record<string, unknown> = {}): Promise<void> {
  const exists = await cfn.send(new DescribeStacksCommand({ StackName: stackName })).then(
    () => true,
    () => false,
  );
  if (exists) await cfn.send(new UpdateStackCommand({ StackName: stackName, TemplateBody: body(outputs, resources) }));
  else await createStack(cfn, stackName, outputs, resources);
}

export async function deleteStack(cfn: CloudFormationClient, stackName: string): Promise<void> {
  await cfn.send(new DeleteStackCommand({ StackName: stackName }));
}

function body(outputs: Record<string, OutputValue>, resources: Record<string, unknown>): string {
  return JSON.stringify({
    Resources: { Marker: { Type: 'AWS::SNS::Topic' }, ...resources },
    Outputs: Object.fromEntries(Object.entries(outputs).map(([key, v]) => [key, typeof v === 'string' ? { Value: v } : { Value: v.value, Description: v.description }])),
  });
}

/** The DR app tier's services as its deploy leaves them: a cluster, the web and worker services running the release. */
export async function drServices(ecs: ECSClient, autoScaling: ApplicationAutoScalingClient, config: StageConfig, image: string): Promise<Record<string, string>> {
  const cluster = `${config.name}-dr`;
  await ecs.send(new CreateClusterCommand({ clusterName: cluster }));
  const taskDefinition = (await ecs.send(new RegisterTaskDefinitionCommand({ family: `${config.name}-dr-web`, containerDefinitions: [{ name: 'app', image, memory: 512 }] })))
    .taskDefinition!.taskDefinitionArn!;
  for (const service of ['web', 'worker']) await ecs.send(new CreateServiceCommand({ cluster, serviceName: `${config.name}-dr-${service}`, taskDefinition, desiredCount: 1 }));
  for (const service of ['web', 'worker']) {
    await autoScaling.send(
      new RegisterScalableTargetCommand({
        ServiceNamespace: 'ecs',
        ResourceId: `service/${cluster}/${config.name}-dr-${service}`,
        ScalableDimension: 'ecs:service:DesiredCount',
        MinCapacity: 1,
        MaxCapacity: 4,
      }),
    );
  }
  return { ClusterName: cluster, WebServiceName: `${config.name}-dr-web`, WorkerServiceName: `${config.name}-dr-worker`, SmokeTestFunctionName: `${config.name}-dr-smoke-test` };
}
