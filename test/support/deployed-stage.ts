import { CreateLaunchTemplateCommand, CreateSecurityGroupCommand, CreateSubnetCommand, CreateVpcCommand } from '@aws-sdk/client-ec2';
import { PutImageCommand } from '@aws-sdk/client-ecr';
import { CreateClusterCommand, CreateServiceCommand, RegisterTaskDefinitionCommand, RunTaskCommand } from '@aws-sdk/client-ecs';
import { CreateKeyCommand } from '@aws-sdk/client-kms';
import { CreateDBInstanceCommand, CreateDBSnapshotCommand, DeleteDBInstanceCommand } from '@aws-sdk/client-rds';
import { type BucketLocationConstraint, CreateBucketCommand } from '@aws-sdk/client-s3';
import { PutParameterCommand } from '@aws-sdk/client-ssm';
import { TAGS, TOOL_TAG } from '../../lambda/pre-deploy-snapshot/snapshot';
import { releaseParameter, type StoredRelease } from '../../lambda/release-record/stored';
import { BASELINE_OUTPUTS, baselineStackName } from '../../lib/baseline/baseline-stack';
import { loadStages, type StageConfig } from '../../lib/config';
import { stageResourceName } from '../../lib/shared/naming';
import { homeRegion } from '../../scripts/lib/incident';
import { tagRelease } from '../../scripts/lib/release-tags';
import { createStack, roleClients, type StageAccount, stageAccount } from './dr-region';
import { imageManifest } from './ecr';
import type { Moto } from './moto';

/** What a deployed stage runs, as DeployedStage seeds it. */
export const RELEASES = { previous: 'v1.4.1', running: 'v1.4.2' } as const;

/** The release record of both releases (the ids of the pre-deploy snapshots', the commits they were built from). */
export const RECORDED = {
  previous: { release: 'v1.4.1-77aa01bc', commit: '4b825dc642cb6eb9a060e54bf8d69288fbee4904' },
  running: { release: 'v1.4.2-3f9a1c2e', commit: '9c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f60718293' },
} as const;

/**
 * A stage account on moto as the operator commands find it between releases: the pilot light, DR
 * stack and edge of `stageAccount` (dr-region.ts), and in the primary region the config's image and
 * the two latest releases in the registry (tagged as releases) and in the release record, the web
 * and worker services running the newer one (the `<stage>-App` outputs) and a task of the web
 * service, the stage database in its security group with the pre-deploy snapshot that recorded
 * that release and a snapshot taken by hand, the data stack's outputs the database shell reads,
 * and the account baseline's evidence bucket and key (its outputs in the account's home region).
 */
export interface DeployedStage extends StageAccount {
  readonly config: StageConfig;
  /** The pre-deploy snapshot of the running release, and one taken before a major upgrade (docs/runbooks.md). */
  readonly snapshots: { readonly preDeploy: string; readonly manual: string };
  /** The running release's digest in the primary registry. */
  readonly runningDigest: string;
  /** The id of a running task of the web service (what a GuardDuty runtime finding names). */
  readonly task: string;
  /**
   * Makes the repair copy `npm run restore --yes` leaves (`webapp-<stage>-repair`, in the stage
   * database's security group); the function it returns deletes it again.
   */
  repairCopy(): Promise<() => Promise<void>>;
  /** The same stage with clients acting as a session of `role` in its account. */
  as(role: string): Promise<DeployedStage>;
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
  // moto starts no task for a service, and fails to run one in awsvpc mode (its ENI lacks a DNS
  // name): the web service's task is run by hand, with the service's group as ECS gives it, from
  // a bridge-mode stand-in of the web task definition (test/scripts/incident.test.ts does the same).
  const standIn = await c.ecs.send(
    new RegisterTaskDefinitionCommand({
      family: `${stage}AppWebTaskStandIn`,
      networkMode: 'bridge',
      taskRoleArn: `arn:aws:iam::${config.account}:role/${stage}-App-WebTaskRole`,
      containerDefinitions: [
        {
          name: 'app',
          image: `${registry}:${RELEASES.running}`,
          memory: 512,
          logConfiguration: { logDriver: 'awslogs', options: { 'awslogs-group': `${stage}-App-web`, 'awslogs-stream-prefix': 'web', 'awslogs-region': config.region } },
        },
      ],
    }),
  );
  const task = (
    await c.ecs.send(new RunTaskCommand({ cluster, taskDefinition: standIn.taskDefinition!.taskDefinitionArn, launchType: 'FARGATE', group: `service:${services.Web}` }))
  )
    .tasks![0].taskArn!.split('/')
    .pop()!;

  // The release record: the parameter's history holds both releases, the running one newest.
  const recorded = (which: keyof typeof RECORDED, tag: string, day: string, previous: string): StoredRelease => ({
    stage,
    release: RECORDED[which].release,
    image: `${repository}:${tag}`,
    digest: digests[tag],
    commit: RECORDED[which].commit,
    snapshotId: `predeploy-${stage}-${RECORDED[which].release.replace(/\./g, '-')}-${day.replace(/-/g, '')}0200`,
    snapshotSkipped: false,
    startedAt: `${day}T02:00:00.000Z`,
    migrationTask: `arn:aws:ecs:${config.region}:${config.account}:task/${cluster}/${which}migration`,
    migrationStartedAt: `${day}T02:04:00.000Z`,
    migrationSeconds: 95,
    migrationsApplied: [`${day.replace(/-/g, '')}_0001_${which}`],
    completedAt: `${day}T02:20:00.000Z`,
    previous,
    stackRollback: false,
  });
  for (const record of [recorded('previous', RELEASES.previous, '2026-11-24', ''), recorded('running', RELEASES.running, '2026-12-01', RECORDED.previous.release)]) {
    await c.ssm.send(new PutParameterCommand({ Name: releaseParameter(stage), Value: JSON.stringify(record), Type: 'String', Overwrite: true }));
  }

  const ec2 = c.ec2;
  const vpc = (await ec2.send(new CreateVpcCommand({ CidrBlock: config.network.cidr }))).Vpc!.VpcId!;
  const subnet = (await ec2.send(new CreateSubnetCommand({ VpcId: vpc, CidrBlock: config.network.cidr.replace(/\.0\.0\/16$/, '.16.0/20') }))).Subnet!.SubnetId!;
  const databaseGroup = (await ec2.send(new CreateSecurityGroupCommand({ VpcId: vpc, GroupName: 'database', Description: 'database' }))).GroupId!;
  const database = stageResourceName(stage);
  const instance = (DBInstanceIdentifier: string, multiAz: boolean) =>
    c.rds.send(
      new CreateDBInstanceCommand({
        DBInstanceIdentifier,
        Engine: 'postgres',
        EngineVersion: config.database.engineVersion,
        DBInstanceClass: `db.${config.database.instanceClass}`,
        AllocatedStorage: config.database.allocatedStorageGiB,
        MasterUsername: 'postgres',
        MasterUserPassword: 'not-a-secret-0',
        BackupRetentionPeriod: config.database.backupRetentionDays,
        MultiAZ: multiAz,
        VpcSecurityGroupIds: [databaseGroup],
      }),
    );
  await instance(database, config.database.multiAz);
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

  // An image moto has in every region (listing its images takes seconds).
  const launchTemplate = (
    await ec2.send(new CreateLaunchTemplateCommand({ LaunchTemplateName: `${stage}-db-shell`, LaunchTemplateData: { ImageId: 'ami-12c6146b', InstanceType: 't4g.nano' } }))
  ).LaunchTemplate!.LaunchTemplateId!;
  await createStack(c.cfn, `${stage}-Data`, {
    DatabaseShellLaunchTemplateId: launchTemplate,
    DatabaseShellSubnetId: subnet,
    DatabaseEndpoint: `${database}.abc.${config.region}.rds.amazonaws.com`,
  });

  // The account baseline in the account's home region (the stage's): the evidence bucket and its
  // key, the trail's log group and the GuardDuty detector, as outputs (a dry run reads no more).
  const home = homeRegion(config, loadStages({}).all);
  const h = acct.clientsFor(home);
  const evidenceBucket = `webapp-evidence-${config.account}`;
  await h.s3.send(new CreateBucketCommand({ Bucket: evidenceBucket, CreateBucketConfiguration: { LocationConstraint: home as BucketLocationConstraint } }));
  await createStack(h.cfn, baselineStackName({ account: config.account, region: home }), {
    [BASELINE_OUTPUTS.evidenceBucket]: evidenceBucket,
    [BASELINE_OUTPUTS.evidenceKey]: (await h.kms.send(new CreateKeyCommand({ Description: 'evidence' }))).KeyMetadata!.Arn!,
    [BASELINE_OUTPUTS.trailLogGroup]: `webapp-trail-${config.account}`,
    [BASELINE_OUTPUTS.detector]: '0123456789abcdef0123456789abcdef',
  });

  const repair = stageResourceName(stage, 'repair');
  const made: DeployedStage = {
    ...acct,
    config,
    snapshots,
    runningDigest: digests[RELEASES.running],
    task,
    repairCopy: async () => {
      await instance(repair, false);
      return async () => {
        await c.rds.send(new DeleteDBInstanceCommand({ DBInstanceIdentifier: repair, SkipFinalSnapshot: true }));
      };
    },
    as: async (role) => ({ ...made, ...(await roleClients(moto, config.account, role)) }),
  };
  return made;
}
