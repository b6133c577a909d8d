import { CreateLaunchTemplateCommand, CreateSubnetCommand, CreateVpcCommand } from '@aws-sdk/client-ec2';
import { PutImageCommand } from '@aws-sdk/client-ecr';
import { CreateClusterCommand, CreateServiceCommand, RegisterTaskDefinitionCommand } from '@aws-sdk/client-ecs';
import { CreateDBInstanceCommand, CreateDBSnapshotCommand } from '@aws-sdk/client-rds';
import { TAGS, TOOL_TAG } from '../../lambda/pre-deploy-snapshot/snapshot';
import type { StageConfig } from '../../lib/config';
import { stageResourceName } from '../../lib/shared/naming';
import { tagRelease } from '../../scripts/lib/release-tags';
import { createStack, type StageAccount, stageAccount } from './dr-region';
import { imageManifest } from './ecr';
import type { Moto } from './moto';

/** What a deployed stage runs, as DeployedStage seeds it. */
export const RELEASES = { previous: 'v1.4.1', running: 'v1.4.2' } as const;

/**
 * A stage account on moto as the operator commands find it between releases: the pilot light, DR
 * stack and edge of `stageAccount` (dr-region.ts), and in the primary region the config's image and
 * the two latest releases in the registry (tagged as releases), the web and worker services running the newer one
 * (the `<stage>-App` outputs), the stage database with the pre-deploy snapshot that recorded that
 * release and a snapshot taken by hand, and the data stack's outputs the database shell reads.
 */
export interface DeployedStage extends StageAccount {
  readonly config: StageConfig;
  /** The pre-deploy snapshot of the running release, and one taken before a major upgrade (docs/runbooks.md). */
  readonly snapshots: { readonly preDeploy: string; readonly manual: string };
  /** The running release's digest in the primary registry. */
  readonly runningDigest: string;
}

export async function deployedStage(moto: Moto, config: StageConfig, snapshots: DeployedStage['snapshots']): Promise<DeployedStage> {
  const acct = await stageAccount(moto, config.account, config);
  const c = acct.clientsFor(config.region);
  const stage = config.name;
  const repository = config.image.repositoryName;
  const registry = `${config.account}.dkr.ecr.${config.region}.amazonaws.com/${repository}`;
  const digests: Record<string, string> = {};
  // The config's image too: what a command without --image takes.
  for (const tag of [config.image.tag, RELEASES.previous, RELEASES.running]) {
    const put = await c.ecr.send(new PutImageCommand({ repositoryName: repository, imageManifest: imageManifest(`${stage} ${tag} ${config.account}`), imageTag: tag }));
    digests[tag] = put.image!.imageId!.imageDigest!;
    await tagRelease(c.ecr, repository, digests[tag]);
  }

  const cluster = `${stage}-App-Cluster`;
  await c.ecs.send(new CreateClusterCommand({ clusterName: cluster }));
  const services: Record<string, string> = {};
  for (const role of ['Web', 'Worker']) {
    const family = `${stage}App${role}Task`;
    let taskDefinition = '';
    for (const tag of [RELEASES.previous, RELEASES.running]) {
      const registered = await c.ecs.send(
        new RegisterTaskDefinitionCommand({
          family,
          networkMode: 'awsvpc',
          requiresCompatibilities: ['FARGATE'],
          cpu: '1024',
          memory: '2048',
          containerDefinitions: [{ name: 'app', image: `${registry}:${tag}` }],
        }),
      );
      taskDefinition = registered.taskDefinition!.taskDefinitionArn!;
    }
    services[role] = `${stage}-App-${role}Service`;
    await c.ecs.send(new CreateServiceCommand({ cluster, serviceName: services[role], taskDefinition, desiredCount: 1, launchType: 'FARGATE' }));
  }
  await createStack(c.cfn, `${stage}-App`, { ClusterName: cluster, WebServiceName: services.Web, WorkerServiceName: services.Worker });

  const database = stageResourceName(stage);
  await c.rds.send(
    new CreateDBInstanceCommand({
      DBInstanceIdentifier: database,
      Engine: 'postgres',
      EngineVersion: config.database.engineVersion,
      DBInstanceClass: `db.${config.database.instanceClass}`,
      AllocatedStorage: config.database.allocatedStorageGiB,
      MasterUsername: 'postgres',
      MasterUserPassword: 'not-a-secret-0',
      BackupRetentionPeriod: config.database.backupRetentionDays,
      MultiAZ: config.database.multiAz,
    }),
  );
  const tags = (image: string, previous: string) => [
    { Key: TOOL_TAG, Value: 'true' },
    { Key: TAGS.stage, Value: stage },
    { Key: TAGS.image, Value: image },
    { Key: TAGS.previousImage, Value: previous },
  ];
  await c.rds.send(
    new CreateDBSnapshotCommand({
      DBInstanceIdentifier: database,
      DBSnapshotIdentifier: snapshots.preDeploy,
      Tags: tags(`${repository}:${RELEASES.running}`, `${registry}:${RELEASES.previous}`),
    }),
  );
  await c.rds.send(new CreateDBSnapshotCommand({ DBInstanceIdentifier: database, DBSnapshotIdentifier: snapshots.manual }));

  const ec2 = c.ec2;
  const vpc = (await ec2.send(new CreateVpcCommand({ CidrBlock: config.network.cidr }))).Vpc!.VpcId!;
  const subnet = (await ec2.send(new CreateSubnetCommand({ VpcId: vpc, CidrBlock: config.network.cidr.replace(/\.0\.0\/16$/, '.16.0/20') }))).Subnet!.SubnetId!;
  // An image moto has in every region (listing its images takes seconds).
  const launchTemplate = (
    await ec2.send(new CreateLaunchTemplateCommand({ LaunchTemplateName: `${stage}-db-shell`, LaunchTemplateData: { ImageId: 'ami-12c6146b', InstanceType: 't4g.nano' } }))
  ).LaunchTemplate!.LaunchTemplateId!;
  await createStack(c.cfn, `${stage}-Data`, {
    DatabaseShellLaunchTemplateId: launchTemplate,
    DatabaseShellSubnetId: subnet,
    DatabaseEndpoint: `${database}.abc.${config.region}.rds.amazonaws.com`,
  });
  return { ...acct, config, snapshots, runningDigest: digests[RELEASES.running] };
}
