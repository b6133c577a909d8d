import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { CloudFormationClient, DescribeStackResourcesCommand, DescribeStacksCommand, DetectStackResourceDriftCommand } from '@aws-sdk/client-cloudformation';
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
  StartDBInstanceAutomatedBackupsReplicationCommand,
} from '@aws-sdk/client-rds';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { differences, settingsOf } from '../../scripts/lib/restore';
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
    expect(await runRestore(replaceWith('staging', snapshot, true), clients(), wait())).toBe(0);

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
