import { CreateSecurityGroupCommand, CreateSubnetCommand, CreateVpcCommand, EC2Client } from '@aws-sdk/client-ec2';
import type { ListTasksCommandInput, RunTaskCommandInput, Task } from '@aws-sdk/client-ecs';
import { CreateKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { CreateDBInstanceCommand, CreateDBParameterGroupCommand, CreateDBSubnetGroupCommand } from '@aws-sdk/client-rds';
import { type BucketLocationConstraint, CreateBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import type { StageConfig } from '../../lib/config';
import { DUMP_CONTAINER, DUMP_METADATA, DUMP_OUTPUTS, dumpBucketName, dumpTaskFamily } from '../../lib/data/logical-backup-names';
import { pilotLightNames } from '../../lib/dr/pilot-light-names';
import { type RegionClients, regionClientSet } from '../../scripts/lib/dr-survey';
import { createStack, roleSession, type SessionOptions } from './dr-region';
import type { Moto } from './moto';

/**
 * A stage account on moto as the dump commands find it: the stage database (or none), the dump
 * bucket with dumps in it, and the stacks' outputs that say where the restore task runs
 * (DUMP_OUTPUTS on `<stage>-Data`, and on the pilot light with the DR key in the DR region). Each
 * account is moto's own (an assumed role's credentials), so scenarios and files never meet.
 *
 * ECS is a stand-in at the client boundary (`FakeEcs`): moto's RunTask fails on a task definition
 * in awsvpc mode with Fargate, which the restore task is, and runs nothing besides.
 */
export interface DumpAccount {
  readonly account: string;
  /** Clients of the account in a region, moto's, with ECS the stand-in. */
  clientsFor(region: string): RegionClients;
  readonly ecs: FakeEcs;
  /** The stage database key (primary region) and the DR key. */
  readonly keys: { readonly primary: string; readonly dr: string };
  /** Groups and subnets by region: what the new instance and the task get there. */
  readonly places: Record<string, { subnetGroup: string; parameterGroup: string; securityGroup: string; subnets: string[] }>;
  /** Puts a dump object (with the job's metadata unless `metadata` is given) into the region's dump bucket. */
  putDump(region: string, key: string, metadata?: Record<string, string>, body?: string): Promise<void>;
  /** The same account with clients acting as a session of `role` (the fake ECS shared). */
  as(role: string): Promise<DumpAccount>;
}

/** What the fake ECS does with a task: the statuses it reports in turn, ending STOPPED with `exitCode`. */
export interface FakeEcs {
  readonly runs: RunTaskCommandInput[];
  /** The exit code the next started task stops with. */
  exitCode: number;
  /** Tasks a previous run started that are still running, by startedBy. */
  readonly running: Map<string, string>;
  send(command: { constructor: { name: string }; input: unknown }): Promise<unknown>;
}

export function fakeEcs(region: string, account: string): FakeEcs {
  const tasks = new Map<string, { task: Task; steps: string[] }>();
  let n = 0;
  const ecs: FakeEcs = {
    runs: [],
    exitCode: 0,
    running: new Map(),
    async send(command) {
      const name = command.constructor.name;
      if (name === 'RunTaskCommand') {
        const input = command.input as RunTaskCommandInput;
        ecs.runs.push(input);
        const taskArn = `arn:aws:ecs:${region}:${account}:task/${input.cluster}/task${++n}`;
        tasks.set(taskArn, { task: { taskArn, startedBy: input.startedBy }, steps: ['PROVISIONING', 'RUNNING', `STOPPED:${ecs.exitCode}`] });
        return { tasks: [{ taskArn, lastStatus: 'PROVISIONING' }], failures: [] };
      }
      if (name === 'ListTasksCommand') {
        const input = command.input as ListTasksCommandInput;
        const arn = ecs.running.get(input.startedBy ?? '');
        if (arn && !tasks.has(arn)) tasks.set(arn, { task: { taskArn: arn, startedBy: input.startedBy }, steps: ['RUNNING', 'STOPPED:0'] });
        return { taskArns: arn ? [arn] : [] };
      }
      if (name === 'DescribeTasksCommand') {
        const arn = (command.input as { tasks: string[] }).tasks[0];
        const t = tasks.get(arn);
        if (!t) return { tasks: [], failures: [{ arn, reason: 'MISSING' }] };
        const [status, code] = (t.steps.length > 1 ? t.steps.shift()! : t.steps[0]).split(':');
        const stopped = status === 'STOPPED';
        if (stopped) for (const [k, v] of ecs.running) if (v === arn) ecs.running.delete(k);
        return {
          tasks: [
            {
              ...t.task,
              lastStatus: status,
              containers: [{ name: DUMP_CONTAINER, lastStatus: status, ...(stopped ? { exitCode: Number(code), reason: Number(code) ? 'Error' : undefined } : {}) }],
            },
          ],
        };
      }
      throw new Error(`the fake ECS does not answer ${name}`);
    },
  };
  return ecs;
}

/** The job's metadata on a dump of PostgreSQL `version` taken at `time`. */
export const dumpMetadata = (version: string, time: string) => ({
  [DUMP_METADATA.serverMajor]: version.split('.')[0],
  [DUMP_METADATA.serverVersion]: version,
  [DUMP_METADATA.sourceTime]: time,
  [DUMP_METADATA.database]: 'app',
});

export async function dumpAccount(moto: Moto, account: string, config: StageConfig, { stageDatabase = true } = {}): Promise<DumpAccount> {
  const ecsByRegion = new Map<string, FakeEcs>();
  /** Clients of a session, one set per region; every session shares the region's fake ECS. */
  const clientsWith = (options: SessionOptions) => {
    const made = new Map<string, RegionClients & { ec2: EC2Client; kms: KMSClient }>();
    return (region: string) => {
      const o = options(region);
      if (!ecsByRegion.has(region)) ecsByRegion.set(region, fakeEcs(region, account));
      const clients = made.get(region) ?? {
        ...regionClientSet(o, { forcePathStyle: true }),
        ecs: ecsByRegion.get(region)! as unknown as RegionClients['ecs'],
        ec2: new EC2Client(o),
        kms: new KMSClient(o),
      };
      made.set(region, clients);
      return clients;
    };
  };
  const clientsFor = clientsWith(await roleSession(moto, account, 'webapp-break-glass'));
  const places: DumpAccount['places'] = {};
  const keys: Record<string, string> = {};
  for (const [region, cidr, stackName] of [
    [config.region, config.network.cidr, `${config.name}-Data`],
    [config.drRegion, config.dr.cidr ?? '10.99.0.0/16', pilotLightNames(config.name).stackName],
  ]) {
    const c = clientsFor(region);
    const vpc = (await c.ec2.send(new CreateVpcCommand({ CidrBlock: cidr }))).Vpc!.VpcId!;
    const base = cidr.split('.').slice(0, 2).join('.');
    const subnets: string[] = [];
    for (const [i, zone] of ['a', 'b'].entries())
      subnets.push((await c.ec2.send(new CreateSubnetCommand({ VpcId: vpc, CidrBlock: `${base}.${i}.0/24`, AvailabilityZone: `${region}${zone}` }))).Subnet!.SubnetId!);
    const securityGroup = (await c.ec2.send(new CreateSecurityGroupCommand({ VpcId: vpc, GroupName: 'database', Description: 'database' }))).GroupId!;
    const taskGroup = (await c.ec2.send(new CreateSecurityGroupCommand({ VpcId: vpc, GroupName: 'dump-task', Description: 'dump task' }))).GroupId!;
    const subnetGroup = `${config.name}-database-${region}`;
    const parameterGroup = `${config.name}-parameters-${region}`;
    await c.rds.send(new CreateDBSubnetGroupCommand({ DBSubnetGroupName: subnetGroup, DBSubnetGroupDescription: 'database', SubnetIds: subnets }));
    await c.rds.send(new CreateDBParameterGroupCommand({ DBParameterGroupName: parameterGroup, DBParameterGroupFamily: 'postgres17', Description: 'stage settings' }));
    keys[region] = (await c.kms.send(new CreateKeyCommand({}))).KeyMetadata!.Arn!;
    places[region] = { subnetGroup, parameterGroup, securityGroup, subnets };
    const bucket = dumpBucketName(config.name, account, region);
    await c.s3.send(new CreateBucketCommand({ Bucket: bucket, CreateBucketConfiguration: { LocationConstraint: region as BucketLocationConstraint } }));
    const inDr = region === config.drRegion;
    const outputs = {
      [DUMP_OUTPUTS.bucket]: bucket,
      [DUMP_OUTPUTS.cluster]: `webapp-${config.name}-jobs`,
      [DUMP_OUTPUTS.restoreTask]: `arn:aws:ecs:${region}:${account}:task-definition/${dumpTaskFamily(config.name, 'restore')}:3`,
      [DUMP_OUTPUTS.subnets]: subnets.join(','),
      [DUMP_OUTPUTS.securityGroup]: taskGroup,
      [DUMP_OUTPUTS.publicIp]: inDr ? 'ENABLED' : 'DISABLED',
    };
    if (inDr) {
      await createStack(c.cfn as never, stackName, {
        ...outputs,
        DatabaseSubnetGroupName: subnetGroup,
        DatabaseParameterGroupName: parameterGroup,
        DatabaseSecurityGroupId: securityGroup,
      });
      await createStack(c.cfn as never, `${config.name}-Dr`, { BackupKeyArn: keys[region] });
    } else {
      await createStack(c.cfn as never, stackName, outputs);
      if (stageDatabase) {
        await c.rds.send(
          new CreateDBInstanceCommand({
            DBInstanceIdentifier: `webapp-${config.name}`,
            Engine: 'postgres',
            EngineVersion: config.database.engineVersion,
            DBInstanceClass: `db.${config.database.instanceClass}`,
            AllocatedStorage: config.database.allocatedStorageGiB + 20,
            MaxAllocatedStorage: config.database.maxAllocatedStorageGiB,
            StorageType: 'gp3',
            StorageEncrypted: true,
            KmsKeyId: keys[region],
            MasterUsername: 'postgres',
            ManageMasterUserPassword: true,
            MasterUserSecretKmsKeyId: keys[region],
            EnableIAMDatabaseAuthentication: true,
            MultiAZ: config.database.multiAz,
            DBSubnetGroupName: subnetGroup,
            VpcSecurityGroupIds: [securityGroup],
            DBParameterGroupName: parameterGroup,
            BackupRetentionPeriod: 7,
          }),
        );
      }
    }
  }
  const putDump = async (region: string, key: string, metadata?: Record<string, string>, body = 'PGDMP') => {
    const time = key.replace(/^.*\/(\d{4}-\d{2}-\d{2})T(\d{2})-(\d{2})-(\d{2})Z\.dump$/, '$1T$2:$3:$4Z');
    await clientsFor(region).s3.send(
      new PutObjectCommand({ Bucket: dumpBucketName(config.name, account, region), Key: key, Body: body, Metadata: metadata ?? dumpMetadata(config.database.engineVersion, time) }),
    );
  };
  const acct = {
    account,
    clientsFor,
    get ecs() {
      return ecsByRegion.get(config.region)!;
    },
    keys: { primary: keys[config.region], dr: keys[config.drRegion] },
    places,
    putDump,
    as: async (role: string) => ({ ...acct, clientsFor: clientsWith(await roleSession(moto, account, role)) }),
  } as DumpAccount;
  return acct;
}

/** The fake ECS of the account's clients in `region`. */
export const ecsOf = (acct: DumpAccount, region: string) => acct.clientsFor(region).ecs as unknown as FakeEcs;
