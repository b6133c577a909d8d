import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import {
  CloudFormationClient,
  DescribeStackResourceDriftsCommand,
  DescribeStackResourcesCommand,
  DescribeStacksCommand,
  DetectStackResourceDriftCommand,
} from '@aws-sdk/client-cloudformation';
import { CreateKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import {
  CreateDBInstanceCommand,
  CreateDBParameterGroupCommand,
  CreateDBSnapshotCommand,
  DeleteDBInstanceCommand,
  DescribeDBInstancesCommand,
  ModifyDBInstanceCommand,
  RDSClient,
  RestoreDBInstanceFromDBSnapshotCommand,
  RestoreDBInstanceToPointInTimeCommand,
  StartDBInstanceAutomatedBackupsReplicationCommand,
} from '@aws-sdk/client-rds';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import {
  databaseDrift,
  describe as describeInstance,
  differences,
  type InstanceSettings,
  pointInTimeProblem,
  restoreInstance,
  settingsOf,
  waitAvailable,
} from '../../scripts/lib/restore';
import { parseArgs, type RestoreClients, runRestore } from '../../scripts/restore-database';
import { type Moto, startMoto } from '../support/moto';

const ROOT = join(__dirname, '..', '..');
let moto: Moto;
let rds: RDSClient;
let key: string;
let lines: string[];
let clock: number;
const wait = () => ({
  now: () => new Date(clock),
  sleep: async (ms: number) => {
    clock += ms;
  },
  log: (line: string) => lines.push(line),
});

// RDS and KMS on moto; the DR region's RDS and CloudFormation are mocked (moto has no
// automated-backup replication, and the DR stack is not deployed there).
const rdsDr = new RDSClient({ region: 'eu-central-1' });
const cfDr = new CloudFormationClient({ region: 'eu-central-1' });
const rdsDrMock = mockClient(rdsDr);
const cfDrMock = mockClient(cfDr);
// Drift detection: moto has none, so the stage region's CloudFormation is mocked too.
const cf = new CloudFormationClient({ region: 'ap-southeast-2' });
const cfMock = mockClient(cf);
/** CloudFormation's answer for the stage's data stack: its database instance, and drift detection's verdict on it. */
const driftIs = (stage: string, status: 'IN_SYNC' | 'MODIFIED', differences: { PropertyPath: string; ExpectedValue: string; ActualValue: string }[] = []) => {
  const resource = {
    LogicalResourceId: 'DatabaseInstance1234',
    PhysicalResourceId: `webapp-${stage}`,
    ResourceType: 'AWS::RDS::DBInstance',
    ResourceStatus: 'UPDATE_COMPLETE' as const,
  };
  cfMock.on(DescribeStackResourcesCommand, { StackName: `${stage}-Data` }).resolves({ StackResources: [{ ...resource, Timestamp: new Date() }] });
  cfMock.on(DetectStackResourceDriftCommand).resolves({
    StackResourceDrift: {
      StackId: 'x',
      LogicalResourceId: resource.LogicalResourceId,
      ResourceType: resource.ResourceType,
      StackResourceDriftStatus: status,
      Timestamp: new Date(),
      PropertyDifferences: differences.map((d) => ({ ...d, DifferenceType: 'NOT_EQUAL' as const })),
    },
  });
};
const inSync = (stage: string) => driftIs(stage, 'IN_SYNC');

/** The stage database as the stack creates it, and a pre-deploy snapshot of it. */
async function stageDatabase(id: string): Promise<string> {
  const group = `${id}-params`;
  await rds.send(new CreateDBParameterGroupCommand({ DBParameterGroupName: group, DBParameterGroupFamily: 'postgres17', Description: 'stage parameters' }));
  await rds.send(
    new CreateDBInstanceCommand({
      DBInstanceIdentifier: id,
      Engine: 'postgres',
      EngineVersion: '17.6',
      DBInstanceClass: 'db.t4g.large',
      AllocatedStorage: 50,
      MaxAllocatedStorage: 200,
      StorageType: 'gp3',
      MasterUsername: 'postgres',
      ManageMasterUserPassword: true,
      MasterUserSecretKmsKeyId: key,
      StorageEncrypted: true,
      KmsKeyId: key,
      EnableIAMDatabaseAuthentication: true,
      MultiAZ: true,
      DBParameterGroupName: group,
      BackupRetentionPeriod: 7,
      PreferredBackupWindow: '02:00-03:00',
      PreferredMaintenanceWindow: 'sun:03:30-sun:04:30',
      EnableCloudwatchLogsExports: ['postgresql', 'upgrade'],
      DeletionProtection: true,
      CopyTagsToSnapshot: true,
      AutoMinorVersionUpgrade: false,
    }),
  );
  const snapshot = `predeploy-${id}-v1-202611220900`;
  await rds.send(new CreateDBSnapshotCommand({ DBInstanceIdentifier: id, DBSnapshotIdentifier: snapshot }));
  return snapshot;
}

const clients = (overrides: Partial<RestoreClients> = {}): RestoreClients => ({ rds, rdsDr, cloudformationDr: cfDr, cloudformation: cf, ...overrides });
const replaceWith = (stage: 'dev' | 'staging' | 'prod', snapshot: string, yes: boolean) => ({ stage, from: { snapshot }, mode: 'replace' as const, yes, context: {} });
const instance = async (id: string) => (await rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: id }))).DBInstances![0];

// The script names instances after the stage (webapp-<stage>), as other files' moto fixtures do:
// this file's RDS lives in its own moto region, so they never meet on the shared server.
const REGION = 'ap-southeast-2';

beforeAll(async () => {
  moto = await startMoto();
  rds = new RDSClient(moto.clientConfig(REGION));
  const kms = new KMSClient(moto.clientConfig(REGION));
  key = (await kms.send(new CreateKeyCommand({ Description: 'database key' }))).KeyMetadata!.Arn!;
  kms.destroy();
});
beforeEach(() => {
  lines = [];
  clock = Date.parse('2026-11-22T09:00:00Z');
  rdsDrMock.reset();
  cfDrMock.reset();
  cfMock.reset();
});
afterAll(() => {
  rdsDrMock.restore();
  cfDrMock.restore();
  cfMock.restore();
  rds?.destroy();
});

describe('restoring the stage database in place (RDS on moto)', () => {
  test('without --yes it only says what it would do', async () => {
    const snapshot = await stageDatabase('webapp-dev');
    expect(await runRestore(replaceWith('dev', snapshot, false), clients(), wait())).toBe(0);
    expect(lines[0]).toBe('Would, for webapp-dev in eu-west-1:');
    expect(lines.join('\n')).toContain(`1. restore snapshot ${snapshot} as webapp-dev-restored (db.t4g.large, Multi-AZ true`);
    expect(lines.at(-1)).toMatch(/Stop writes first .* then run again with --yes/);
    expect((await rds.send(new DescribeDBInstancesCommand({}))).DBInstances!.map((d) => d.DBInstanceIdentifier)).not.toContain('webapp-dev-restored');
  });

  test('the copy takes the name with every setting of the current instance and a managed secret of its own; the old one is kept', async () => {
    const snapshot = await stageDatabase('webapp-staging');
    const before = await instance('webapp-staging');
    inSync('staging');
    // moto applies every change at once; RDS waits for the maintenance window unless told otherwise.
    const modified: ModifyDBInstanceCommand['input'][] = [];
    const original = rds.send.bind(rds);
    const recording = Object.assign(Object.create(rds), {
      send: async (command: Parameters<RDSClient['send']>[0]) => {
        if (command instanceof ModifyDBInstanceCommand) modified.push(command.input);
        return original(command as never);
      },
    }) as RDSClient;
    expect(await runRestore(replaceWith('staging', snapshot, true), clients({ rds: recording }), wait())).toBe(0);
    // Settings first, then the two renames; each at once, deletion protection back on the new name.
    expect(modified).toEqual([
      {
        DBInstanceIdentifier: 'webapp-staging-restored',
        ApplyImmediately: true,
        ManageMasterUserPassword: true,
        MasterUserSecretKmsKeyId: key,
        EnableIAMDatabaseAuthentication: true,
        MultiAZ: true,
        DeletionProtection: false,
        BackupRetentionPeriod: 7,
        PreferredBackupWindow: '02:00-03:00',
        PreferredMaintenanceWindow: 'sun:03:30-sun:04:30',
        MaxAllocatedStorage: 200,
        EnablePerformanceInsights: false,
        MonitoringInterval: 0,
      },
      { DBInstanceIdentifier: 'webapp-staging', NewDBInstanceIdentifier: 'webapp-staging-old', ApplyImmediately: true },
      { DBInstanceIdentifier: 'webapp-staging-restored', NewDBInstanceIdentifier: 'webapp-staging', ApplyImmediately: true, DeletionProtection: true },
    ]);

    const now = await instance('webapp-staging');
    const old = await instance('webapp-staging-old');
    // The old instance (with its secret) is the one that was running; the copy is new.
    expect(old.MasterUserSecret!.SecretArn).toBe(before.MasterUserSecret!.SecretArn);
    expect(differences(settingsOf(before), settingsOf(now))).toEqual([]);
    // Its own RDS-managed secret, encrypted with the stage's database key: the setup custom resource
    // and break-glass find it on the instance; the old instance keeps (and rotates) its own.
    expect(now.MasterUserSecret).toMatchObject({ SecretStatus: 'active', KmsKeyId: key });
    expect(now.MasterUserSecret!.SecretArn).not.toBe(old.MasterUserSecret!.SecretArn);
    expect(now).toMatchObject({ IAMDatabaseAuthenticationEnabled: true, DeletionProtection: true, MultiAZ: true, BackupRetentionPeriod: 7 });
    expect(lines.join('\n')).toMatch(/RESTORED: webapp-staging is the copy of snapshot predeploy-webapp-staging-v1-202611220900; webapp-staging-old is kept\./);
    expect(lines.join('\n')).toContain('npm run deploy -- --stage staging -c rerunDatabaseSetup=');
    // Drift detection, not cdk diff, proves the stack still describes the instance.
    expect(lines).toContain('    staging-Data DatabaseInstance1234 (webapp-staging): in sync with its template');
    expect(cfMock.commandCalls(DetectStackResourceDriftCommand)[0].args[0].input).toEqual({ StackName: 'staging-Data', LogicalResourceId: 'DatabaseInstance1234' });
  });

  test('automated-backup replication to the DR region is started again, with the DR stack key', async () => {
    const snapshot = await stageDatabase('webapp-prod');
    const drKey = 'arn:aws:kms:eu-central-1:333333333333:key/dr';
    cfDrMock
      .on(DescribeStacksCommand, { StackName: 'prod-Dr' })
      .resolves({ Stacks: [{ StackName: 'prod-Dr', CreationTime: new Date(), StackStatus: 'UPDATE_COMPLETE', Outputs: [{ OutputKey: 'BackupKeyArn', OutputValue: drKey }] }] });
    rdsDrMock.on(StartDBInstanceAutomatedBackupsReplicationCommand).resolves({});
    // moto shows no replication; the current instance is given one, as RDS would show it.
    const replicated = Object.assign(Object.create(rds), {
      send: async (command: Parameters<RDSClient['send']>[0]) => {
        const out = (await rds.send(command as never)) as { DBInstances?: { DBInstanceIdentifier?: string }[] };
        if (command instanceof DescribeDBInstancesCommand && command.input.DBInstanceIdentifier === 'webapp-prod' && !lines.some((l) => l.startsWith('3/5'))) {
          for (const db of out.DBInstances ?? [])
            Object.assign(db, { DBInstanceAutomatedBackupsReplications: [{ DBInstanceAutomatedBackupsArn: 'arn:aws:rds:eu-central-1:333333333333:auto-backup:ab-1' }] });
        }
        return out;
      },
    }) as RDSClient;
    inSync('prod');
    expect(await runRestore(replaceWith('prod', snapshot, true), clients({ rds: replicated }), wait())).toBe(0);
    const [call] = rdsDrMock.commandCalls(StartDBInstanceAutomatedBackupsReplicationCommand).map((c) => c.args[0].input);
    expect(call).toEqual({ SourceDBInstanceArn: (await instance('webapp-prod')).DBInstanceArn, KmsKeyId: drKey, BackupRetentionPeriod: 14 });
  });

  test('refuses when an earlier restore left its copy behind, and changes nothing', async () => {
    const snapshot = `predeploy-webapp-staging-v1-202611220900`;
    expect(await runRestore(replaceWith('staging', snapshot, true), clients(), wait())).toBe(1);
    expect(lines).toEqual(['REFUSED: webapp-staging-old already exists: an earlier restore was not finished. Delete or rename it first (docs/disaster-recovery.md).']);
  });

  test('refuses when there is no current instance to take the place of', async () => {
    await rds.send(new ModifyDBInstanceCommand({ DBInstanceIdentifier: 'webapp-dev', DeletionProtection: false, ApplyImmediately: true }));
    await rds.send(new DeleteDBInstanceCommand({ DBInstanceIdentifier: 'webapp-dev', SkipFinalSnapshot: true }));
    expect(await runRestore(replaceWith('dev', 'x', true), clients(), wait())).toBe(1);
    expect(lines[0]).toMatch(/^REFUSED: webapp-dev does not exist in eu-west-1/);
  });

  test('arguments, and the exit code of the script itself', () => {
    expect(parseArgs(['--stage', 'prod', '--snapshot', 's1'])).toEqual({ stage: 'prod', from: { snapshot: 's1' }, mode: 'alongside', yes: false, context: {} });
    expect(parseArgs(['--yes', '--stage', 'dev', '--snapshot', 's1', '--replace'])).toMatchObject({ yes: true, mode: 'replace' });
    expect(parseArgs(['--stage', 'dev', '--to-time', '2026-12-01T02:10:00Z']).from).toEqual({ time: new Date('2026-12-01T02:10:00Z') });
    expect(parseArgs(['--stage', 'dev', '--to-time', 'latest']).from).toEqual({ time: 'latest' });
    expect(() => parseArgs(['--stage', 'qa', '--snapshot', 's1'])).toThrow(/--stage must be one of dev, staging, prod/);
    expect(() => parseArgs(['--stage', 'dev'])).toThrow(/name exactly one of --snapshot and --to-time/);
    expect(() => parseArgs(['--stage', 'dev', '--snapshot', 's', '--to-time', 'latest'])).toThrow(/name exactly one of --snapshot and --to-time/);
    expect(() => parseArgs(['--stage', 'dev', '--to-time', '2026-12-01 02:10'])).toThrow(/--to-time takes an ISO time with its zone/);
    expect(() => parseArgs(['--stage', 'dev', '--snapshot', 's', '--force'])).toThrow(/unknown argument "--force"/);
    const run = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'scripts', 'restore-database.ts'), '--stage', 'dev'], { encoding: 'utf8' });
    expect(run.status).toBe(2);
    expect(run.stderr).toContain('restore: name exactly one of --snapshot and --to-time');
  });
});

describe('restoring to a point in time, alongside or in place (RDS on moto)', () => {
  // A moto region of its own: the stage-named instances of the tests above stay out of the way.
  beforeAll(async () => {
    rds = new RDSClient(moto.clientConfig('ap-southeast-1'));
    const kms = new KMSClient(moto.clientConfig('ap-southeast-1'));
    key = (await kms.send(new CreateKeyCommand({ Description: 'database key' }))).KeyMetadata!.Arn!;
    kms.destroy();
  });

  test('alongside: a repair copy of a moment, next to the stage database, which keeps serving', async () => {
    await stageDatabase('webapp-dev');
    const time = (await instance('webapp-dev')).LatestRestorableTime!;
    clock = time.getTime() + 60_000;
    const args = { stage: 'dev' as const, from: { time }, mode: 'alongside' as const, yes: true, context: {} };
    expect(await runRestore({ ...args, yes: false }, clients(), wait())).toBe(0);
    expect(lines.join('\n')).toContain(`1. restore the state of ${time.toISOString()} as webapp-dev-repair next to webapp-dev, which keeps serving`);
    lines = [];
    expect(await runRestore(args, clients(), wait())).toBe(0);
    const repair = await instance('webapp-dev-repair');
    expect(repair).toMatchObject({ MultiAZ: false, DeletionProtection: false, IAMDatabaseAuthenticationEnabled: true, BackupRetentionPeriod: 1 });
    expect(repair.MasterUserSecret).toMatchObject({ SecretStatus: 'active', KmsKeyId: key });
    expect(repair.DBParameterGroups![0].DBParameterGroupName).toBe('webapp-dev-params');
    expect(repair.EnabledCloudwatchLogsExports?.sort()).toEqual(['postgresql', 'upgrade']);
    // The stage database is untouched.
    expect(await instance('webapp-dev')).toMatchObject({ DBInstanceStatus: 'available', DeletionProtection: true });
    expect(lines.join('\n')).toMatch(/REPAIR COPY READY: webapp-dev-repair at .*:5432/);
    expect(lines.at(-1)).toBe('  - then delete it: aws rds delete-db-instance --db-instance-identifier webapp-dev-repair --skip-final-snapshot --delete-automated-backups');
    expect(await runRestore(args, clients(), wait())).toBe(1);
    expect(lines.at(-1)).toMatch(/^REFUSED: webapp-dev-repair already exists/);
  });

  test('a time outside the point-in-time window is refused before anything starts', async () => {
    const db = await instance('webapp-dev');
    clock = db.LatestRestorableTime!.getTime();
    const after = new Date(db.LatestRestorableTime!.getTime() + 3_600_000);
    expect(await runRestore({ stage: 'dev', from: { time: after }, mode: 'alongside', yes: true, context: {} }, clients(), wait())).toBe(1);
    expect(lines.at(-1)).toMatch(/^REFUSED: .* is after the latest restorable time of webapp-dev/);
    const before = new Date(clock - 30 * 86_400_000);
    expect(await runRestore({ stage: 'dev', from: { time: before }, mode: 'alongside', yes: true, context: {} }, clients(), wait())).toBe(1);
    expect(lines.at(-1)).toMatch(/is before the 7-day point-in-time window of webapp-dev/);
  });

  test('in place to the latest restorable time; a drifted instance fails the run after the swap', async () => {
    await stageDatabase('webapp-prod');
    driftIs('prod', 'MODIFIED', [{ PropertyPath: '/DeletionProtection', ExpectedValue: 'true', ActualValue: 'false' }]);
    expect(await runRestore({ stage: 'prod', from: { time: 'latest' }, mode: 'replace', yes: true, context: {} }, clients(), wait())).toBe(1);
    expect(lines).toContain('    prod-Data DatabaseInstance1234 (webapp-prod): DRIFTED: /DeletionProtection is false (template: true)');
    expect(lines.some((l) => l.startsWith('RESTORED: webapp-prod is the copy of the latest restorable time'))).toBe(true);
  });
});

describe('a copy that differs from the stage database is never swapped in (RDS on moto)', () => {
  // A moto region of its own, with a stage database of its own.
  beforeAll(async () => {
    rds = new RDSClient(moto.clientConfig('ap-northeast-1'));
    const kms = new KMSClient(moto.clientConfig('ap-northeast-1'));
    key = (await kms.send(new CreateKeyCommand({ Description: 'database key' }))).KeyMetadata!.Arn!;
    kms.destroy();
  });

  test('--replace --yes stops before the swap, naming each difference, and changes nothing live (exit 1); an equal copy is swapped in', async () => {
    const snapshot = await stageDatabase('webapp-staging');
    await rds.send(
      new CreateDBParameterGroupCommand({ DBParameterGroupName: 'webapp-staging-other', DBParameterGroupFamily: 'postgres17', Description: 'not the stage parameters' }),
    );
    const before = await instance('webapp-staging');
    // The copy comes up with another class and parameter group than the restore asked for (as RDS
    // may make it; the stand-in restores it so): a real instance in moto that differs.
    const original = rds.send.bind(rds);
    const differing = Object.assign(Object.create(rds), {
      send: async (command: Parameters<RDSClient['send']>[0]) =>
        command instanceof RestoreDBInstanceFromDBSnapshotCommand
          ? original(new RestoreDBInstanceFromDBSnapshotCommand({ ...command.input, DBInstanceClass: 'db.t4g.medium', DBParameterGroupName: 'webapp-staging-other' }))
          : original(command as never),
    }) as RDSClient;
    inSync('staging');

    expect(await runRestore(replaceWith('staging', snapshot, true), clients({ rds: differing }), wait())).toBe(1);
    expect(lines.at(-1)).toBe(
      'STOPPED before the swap: webapp-staging-restored differs from webapp-staging: instanceClass: "db.t4g.medium" instead of "db.t4g.large"; ' +
        'parameterGroup: "webapp-staging-other" instead of "webapp-staging-params". Fix it by hand (aws rds modify-db-instance), then swap by the runbook.',
    );
    expect(lines.some((l) => l.startsWith('3/5'))).toBe(false);
    // The stage database is the one that ran before, as it was; the copy is left for inspection.
    const after = await instance('webapp-staging');
    expect(after.MasterUserSecret!.SecretArn).toBe(before.MasterUserSecret!.SecretArn);
    expect(after.DbiResourceId).toBe(before.DbiResourceId);
    expect(differences(settingsOf(before), settingsOf(after))).toEqual([]);
    expect(after).toMatchObject({ DBInstanceStatus: 'available', DeletionProtection: true });
    const ids = (await rds.send(new DescribeDBInstancesCommand({}))).DBInstances!.map((d) => d.DBInstanceIdentifier).sort();
    expect(ids).toEqual(['webapp-staging', 'webapp-staging-restored']);
    expect(cfMock.commandCalls(DetectStackResourceDriftCommand)).toHaveLength(0);
    expect(rdsDrMock.commandCalls(StartDBInstanceAutomatedBackupsReplicationCommand)).toHaveLength(0);

    // Once that copy is gone, a copy with equal settings is swapped in.
    await rds.send(new DeleteDBInstanceCommand({ DBInstanceIdentifier: 'webapp-staging-restored', SkipFinalSnapshot: true }));
    lines = [];
    inSync('staging');
    expect(await runRestore(replaceWith('staging', snapshot, true), clients(), wait())).toBe(0);
    expect(lines.some((l) => l.startsWith('STOPPED'))).toBe(false);
    expect(lines).toContain(`RESTORED: webapp-staging is the copy of snapshot ${snapshot}; webapp-staging-old is kept.`);
    expect((await rds.send(new DescribeDBInstancesCommand({}))).DBInstances!.map((d) => d.DBInstanceIdentifier).sort()).toEqual(['webapp-staging', 'webapp-staging-old']);
  });
});

describe('the restore steps, on answers moto does not give', () => {
  // moto makes an instance available at once, with nothing pending and its secret active, and has
  // no drift detection: these states come from mocks of a client of their own.
  const stub = new RDSClient({ region: 'eu-west-1' });
  const stubMock = mockClient(stub);
  const cfn = new CloudFormationClient({ region: 'eu-west-1' });
  const cfnMock = mockClient(cfn);
  beforeEach(() => {
    stubMock.reset();
    cfnMock.reset();
  });
  afterAll(() => {
    stubMock.restore();
    cfnMock.restore();
  });
  const notFound = Object.assign(new Error('DBInstance x not found'), { name: 'DBInstanceNotFoundFault' });

  const FULL: InstanceSettings = {
    instanceClass: 'db.m7g.large',
    subnetGroup: 'webapp-prod-subnets',
    securityGroups: ['sg-a', 'sg-b'],
    parameterGroup: 'webapp-prod-params',
    multiAz: true,
    storageType: 'io2',
    maxAllocatedStorage: 500,
    deletionProtection: true,
    copyTagsToSnapshot: true,
    iamAuth: true,
    logExports: ['postgresql', 'upgrade'],
    caCertificate: 'rds-ca-rsa2048-g1',
    autoMinorVersionUpgrade: true,
    backupRetention: 14,
    backupWindow: '02:00-03:00',
    maintenanceWindow: 'sun:03:30-sun:04:30',
    performanceInsights: { enabled: true, kmsKeyId: 'pi-key', retentionDays: 7 },
    monitoring: { intervalSeconds: 60, roleArn: 'arn:aws:iam::1:role/monitoring' },
    masterSecretKmsKeyId: 'db-key',
    backupReplication: [{ region: 'eu-central-1' }],
  };

  test('the settings read from an instance: every one the stack sets, in a stable order, and defaults where RDS shows none', () => {
    const db = {
      DBInstanceClass: 'db.m7g.large',
      DBSubnetGroup: { DBSubnetGroupName: 'webapp-prod-subnets' },
      VpcSecurityGroups: [{ VpcSecurityGroupId: 'sg-b' }, { VpcSecurityGroupId: 'sg-a' }],
      DBParameterGroups: [{ DBParameterGroupName: 'webapp-prod-params' }],
      MultiAZ: true,
      StorageType: 'io2',
      MaxAllocatedStorage: 500,
      DeletionProtection: true,
      CopyTagsToSnapshot: true,
      IAMDatabaseAuthenticationEnabled: true,
      EnabledCloudwatchLogsExports: ['upgrade', 'postgresql'],
      CACertificateIdentifier: 'rds-ca-rsa2048-g1',
      AutoMinorVersionUpgrade: true,
      BackupRetentionPeriod: 14,
      PreferredBackupWindow: '02:00-03:00',
      PreferredMaintenanceWindow: 'sun:03:30-sun:04:30',
      PerformanceInsightsEnabled: true,
      PerformanceInsightsKMSKeyId: 'pi-key',
      PerformanceInsightsRetentionPeriod: 7,
      MonitoringInterval: 60,
      MonitoringRoleArn: 'arn:aws:iam::1:role/monitoring',
      MasterUserSecret: { KmsKeyId: 'db-key' },
      DBInstanceAutomatedBackupsReplications: [{ DBInstanceAutomatedBackupsArn: 'arn:aws:rds:eu-central-1:1:auto-backup:ab-1' }],
    };
    expect(settingsOf(db)).toEqual(FULL);
    // Performance Insights and monitoring off: their key, retention and role are not settings then.
    expect(settingsOf({ ...db, PerformanceInsightsEnabled: false, MonitoringInterval: 0 })).toMatchObject({
      performanceInsights: { enabled: false, kmsKeyId: undefined, retentionDays: undefined },
      monitoring: { intervalSeconds: 0, roleArn: undefined },
    });
    expect(settingsOf({ DBInstanceClass: 'db.t4g.micro', DBInstanceAutomatedBackupsReplications: [{}] })).toEqual({
      instanceClass: 'db.t4g.micro',
      subnetGroup: '',
      securityGroups: [],
      parameterGroup: '',
      multiAz: false,
      storageType: 'gp3',
      maxAllocatedStorage: undefined,
      deletionProtection: false,
      copyTagsToSnapshot: false,
      iamAuth: false,
      logExports: [],
      caCertificate: undefined,
      autoMinorVersionUpgrade: false,
      backupRetention: 0,
      backupWindow: undefined,
      maintenanceWindow: undefined,
      performanceInsights: { enabled: false, kmsKeyId: undefined, retentionDays: undefined },
      monitoring: { intervalSeconds: 0, roleArn: undefined },
      masterSecretKmsKeyId: undefined,
      backupReplication: [{ region: '' }],
    });
  });

  test('differences name every setting but deletion protection and backup replication (set after the swap)', () => {
    expect(differences(FULL, { ...FULL, deletionProtection: false, backupReplication: [] })).toEqual([]);
    expect(differences(FULL, { ...FULL, iamAuth: false, logExports: ['postgresql'], monitoring: { intervalSeconds: 0 } })).toEqual([
      'iamAuth: false instead of true',
      'logExports: ["postgresql"] instead of ["postgresql","upgrade"]',
      'monitoring: {"intervalSeconds":0} instead of {"intervalSeconds":60,"roleArn":"arn:aws:iam::1:role/monitoring"}',
    ]);
  });

  test('looking an instance up: "not found" is no instance; any other error is raised, never taken for "not there"', async () => {
    stubMock.on(DescribeDBInstancesCommand, { DBInstanceIdentifier: 'gone' }).rejects(notFound);
    stubMock
      .on(DescribeDBInstancesCommand, { DBInstanceIdentifier: 'webapp-prod-old' })
      .rejects(Object.assign(new Error('not authorized to perform rds:DescribeDBInstances'), { name: 'AccessDenied' }));
    expect(await describeInstance(stub, 'gone')).toBeUndefined();
    await expect(describeInstance(stub, 'webapp-prod-old')).rejects.toThrow('not authorized to perform rds:DescribeDBInstances');
  });

  test('waiting: until the instance exists, is available, has nothing pending and (if asked) its secret is active', async () => {
    stubMock
      .on(DescribeDBInstancesCommand)
      .rejectsOnce(notFound)
      .resolvesOnce({ DBInstances: [{ DBInstanceStatus: 'creating' }] })
      .resolvesOnce({ DBInstances: [{ DBInstanceStatus: 'available', PendingModifiedValues: { DBInstanceClass: 'db.m7g.large' } }] })
      .resolvesOnce({ DBInstances: [{ DBInstanceStatus: 'available', PendingModifiedValues: {}, MasterUserSecret: { SecretStatus: 'creating' } }] })
      .resolves({ DBInstances: [{ DBInstanceStatus: 'available', PendingModifiedValues: { DBInstanceClass: undefined }, MasterUserSecret: { SecretStatus: 'active' } }] });
    clock = 0;
    const db = await waitAvailable(stub, 'x', wait(), { secret: true });
    expect(db.MasterUserSecret?.SecretStatus).toBe('active');
    expect(lines).toEqual([
      'x: not there yet (secret not active yet)',
      'x: creating (secret not active yet)',
      'x: available (changes pending) (secret not active yet)',
      'x: available (secret not active yet)',
    ]);
    expect(clock).toBe(4 * 30_000);
    // Without `secret`, an available instance without one is ready at once.
    stubMock.reset();
    stubMock.on(DescribeDBInstancesCommand).resolves({ DBInstances: [{ DBInstanceStatus: 'available' }] });
    lines = [];
    expect(await waitAvailable(stub, 'x', wait())).toEqual({ DBInstanceStatus: 'available' });
    expect(lines).toEqual([]);
  });

  test('waiting gives up at its limit, polling every 30 s until then', async () => {
    stubMock.on(DescribeDBInstancesCommand).resolves({ DBInstances: [{ DBInstanceStatus: 'modifying' }] });
    clock = 0;
    await expect(waitAvailable(stub, 'x', wait(), { minutes: 2 })).rejects.toThrow(/^x is still "modifying" after 2 minutes$/);
    expect(lines).toEqual(['x: modifying', 'x: modifying', 'x: modifying', 'x: modifying']);
    expect(clock).toBe(2 * 60_000);
  });

  test('the restore call carries the settings a restore accepts: never public, no deletion protection yet, the source named', async () => {
    stubMock.on(RestoreDBInstanceFromDBSnapshotCommand).resolves({});
    stubMock.on(RestoreDBInstanceToPointInTimeCommand).resolves({});
    const accepted = {
      DBInstanceClass: 'db.m7g.large',
      DBSubnetGroupName: 'webapp-prod-subnets',
      VpcSecurityGroupIds: ['sg-a', 'sg-b'],
      DBParameterGroupName: 'webapp-prod-params',
      MultiAZ: true,
      StorageType: 'io2',
      PubliclyAccessible: false,
      DeletionProtection: false,
      CopyTagsToSnapshot: true,
      EnableIAMDatabaseAuthentication: true,
      EnableCloudwatchLogsExports: ['postgresql', 'upgrade'],
      CACertificateIdentifier: 'rds-ca-rsa2048-g1',
      AutoMinorVersionUpgrade: true,
    };
    await restoreInstance(stub, { snapshot: 'predeploy-prod-x' }, 'webapp-prod-restored', FULL);
    expect(stubMock.commandCalls(RestoreDBInstanceFromDBSnapshotCommand)[0].args[0].input).toEqual({
      DBInstanceIdentifier: 'webapp-prod-restored',
      DBSnapshotIdentifier: 'predeploy-prod-x',
      ...accepted,
    });
    const at = new Date('2026-12-01T02:10:00Z');
    await restoreInstance(stub, { source: 'webapp-prod', time: 'latest' }, 'webapp-prod-restored', FULL);
    await restoreInstance(stub, { source: 'webapp-prod', time: at }, 'webapp-prod-repair', FULL);
    expect(stubMock.commandCalls(RestoreDBInstanceToPointInTimeCommand).map((c) => c.args[0].input)).toEqual([
      { SourceDBInstanceIdentifier: 'webapp-prod', TargetDBInstanceIdentifier: 'webapp-prod-restored', UseLatestRestorableTime: true, ...accepted },
      { SourceDBInstanceIdentifier: 'webapp-prod', TargetDBInstanceIdentifier: 'webapp-prod-repair', RestoreTime: at, ...accepted },
    ]);
  });

  test('the point-in-time window: from the backup retention to the latest restorable time, both ends included', () => {
    const now = new Date('2026-12-08T12:00:00Z');
    const latest = new Date('2026-12-08T11:55:00Z');
    const db = { DBInstanceIdentifier: 'webapp-prod', BackupRetentionPeriod: 7, LatestRestorableTime: latest };
    const earliest = new Date('2026-12-01T12:00:00Z');
    expect(pointInTimeProblem(db, latest, now)).toBeUndefined();
    expect(pointInTimeProblem(db, earliest, now)).toBeUndefined();
    expect(pointInTimeProblem(db, 'latest', now)).toBeUndefined();
    expect(pointInTimeProblem(db, new Date(latest.getTime() + 1), now)).toMatch(/^2026-12-08T11:55:00.001Z is after the latest restorable time of webapp-prod/);
    expect(pointInTimeProblem(db, new Date(earliest.getTime() - 1), now)).toMatch(/^2026-12-01T11:59:59.999Z is before the 7-day point-in-time window of webapp-prod/);
    expect(pointInTimeProblem({ ...db, BackupRetentionPeriod: 0 }, 'latest', now)).toBe(
      'webapp-prod keeps no automated backups, so it has no point-in-time window. Restore a snapshot instead (--snapshot).',
    );
    expect(pointInTimeProblem({ DBInstanceIdentifier: 'webapp-prod' }, latest, now)).toMatch(/keeps no automated backups/);
  });

  const resource = (LogicalResourceId: string, ResourceType: string, PhysicalResourceId: string) => ({
    LogicalResourceId,
    ResourceType,
    PhysicalResourceId,
    ResourceStatus: 'UPDATE_COMPLETE' as const,
    Timestamp: new Date(),
  });
  const drift = (LogicalResourceId: string, StackResourceDriftStatus?: 'IN_SYNC' | 'MODIFIED' | 'NOT_CHECKED') => ({
    StackId: 'x',
    LogicalResourceId,
    ResourceType: 'AWS::RDS::DBInstance',
    Timestamp: new Date(),
    StackResourceDriftStatus,
  });

  test('drift detection: the stack resource of that instance, waited for until it has a verdict', async () => {
    cfnMock.on(DescribeStackResourcesCommand, { StackName: 'prod-Data' }).resolves({
      StackResources: [
        resource('Alarm', 'AWS::CloudWatch::Alarm', 'webapp-prod'),
        resource('Replica', 'AWS::RDS::DBInstance', 'webapp-prod-replica'),
        resource('Database', 'AWS::RDS::DBInstance', 'webapp-prod'),
      ],
    });
    cfnMock.on(DetectStackResourceDriftCommand, { StackName: 'prod-Data', LogicalResourceId: 'Database' }).resolves({ StackResourceDrift: drift('Database') });
    cfnMock
      .on(DescribeStackResourceDriftsCommand, { StackName: 'prod-Data' })
      .resolvesOnce({ StackResourceDrifts: [drift('Replica', 'IN_SYNC')] })
      .resolves({ StackResourceDrifts: [drift('Replica', 'NOT_CHECKED'), drift('Database', 'IN_SYNC')] });
    clock = 0;
    expect(await databaseDrift(cfn, 'prod-Data', 'webapp-prod', wait())).toBe('prod-Data Database (webapp-prod): in sync with its template');
    expect(clock).toBe(2 * 10_000);
  });

  test('drift detection says when it cannot tell: no such resource, no verdict after 10 polls, or another status', async () => {
    cfnMock.on(DescribeStackResourcesCommand).resolves({ StackResources: [resource('Replica', 'AWS::RDS::DBInstance', 'webapp-prod-replica')] });
    expect(await databaseDrift(cfn, 'prod-Data', 'webapp-prod', wait())).toBe('no AWS::RDS::DBInstance webapp-prod in prod-Data: check the stack by hand');
    expect(cfnMock.commandCalls(DetectStackResourceDriftCommand)).toHaveLength(0);

    cfnMock.on(DescribeStackResourcesCommand).resolves({ StackResources: [resource('Database', 'AWS::RDS::DBInstance', 'webapp-prod')] });
    cfnMock.on(DetectStackResourceDriftCommand).resolves({ StackResourceDrift: drift('Database') });
    cfnMock.on(DescribeStackResourceDriftsCommand).resolves({});
    expect(await databaseDrift(cfn, 'prod-Data', 'webapp-prod', wait())).toBe('prod-Data Database (webapp-prod): drift status unknown');
    expect(cfnMock.commandCalls(DescribeStackResourceDriftsCommand)).toHaveLength(10);

    cfnMock.on(DetectStackResourceDriftCommand).resolves({ StackResourceDrift: drift('Database', 'NOT_CHECKED') });
    expect(await databaseDrift(cfn, 'prod-Data', 'webapp-prod', wait())).toBe('prod-Data Database (webapp-prod): drift status NOT_CHECKED');
    cfnMock.on(DetectStackResourceDriftCommand).resolves({ StackResourceDrift: drift('Database', 'MODIFIED') });
    expect(await databaseDrift(cfn, 'prod-Data', 'webapp-prod', wait())).toBe('prod-Data Database (webapp-prod): DRIFTED: properties differ');
  });
});
