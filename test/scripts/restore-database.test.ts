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
  StopDBInstanceAutomatedBackupsReplicationCommand,
} from '@aws-sdk/client-rds';
import { PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { STSClient } from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, test, vi } from 'vitest';
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
import { type RestoreClients, runRestore } from '../../scripts/lib/restore-database';
import { main, parseArgs } from '../../scripts/restore-database';
import { printed } from '../support/console';
import { type Moto, startMoto } from '../support/moto';

/** The account moto answers as. */
const MOTO_ACCOUNT = '123456789012';
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

/**
 * `client` as the script sees it, recording the restore and modify calls. moto makes a managed
 * secret active at once; RDS takes minutes: after the call that asks for one, the instance shows
 * its secret as still being created once, so a restore that does not wait for it is seen.
 */
function recording(client: RDSClient) {
  const restores: unknown[] = [];
  const modified: ModifyDBInstanceCommand['input'][] = [];
  const creating = new Set<string>();
  const send = async (command: Parameters<RDSClient['send']>[0]) => {
    if (command instanceof RestoreDBInstanceFromDBSnapshotCommand || command instanceof RestoreDBInstanceToPointInTimeCommand) restores.push(command.input);
    if (command instanceof ModifyDBInstanceCommand) {
      modified.push(command.input);
      if (command.input.ManageMasterUserPassword) creating.add(command.input.DBInstanceIdentifier!);
    }
    const out = (await client.send(command as never)) as { DBInstances?: { MasterUserSecret?: { SecretStatus?: string } }[] };
    if (command instanceof DescribeDBInstancesCommand && creating.delete(command.input.DBInstanceIdentifier!)) {
      for (const db of out.DBInstances ?? []) if (db.MasterUserSecret) db.MasterUserSecret.SecretStatus = 'creating';
    }
    return out;
  };
  return { client: Object.assign(Object.create(client), { send }) as RDSClient, restores, modified };
}

/** `client` showing `id` with its automated backups replicated to eu-central-1 until the swap (moto shows no replication). */
function withReplication(client: RDSClient, id: string): RDSClient {
  const send = async (command: Parameters<RDSClient['send']>[0]) => {
    const out = (await client.send(command as never)) as { DBInstances?: object[] };
    if (command instanceof DescribeDBInstancesCommand && command.input.DBInstanceIdentifier === id && !lines.some((l) => l.startsWith('3/5'))) {
      for (const db of out.DBInstances ?? [])
        Object.assign(db, { DBInstanceAutomatedBackupsReplications: [{ DBInstanceAutomatedBackupsArn: 'arn:aws:rds:eu-central-1:333333333333:auto-backup:ab-1' }] });
    }
    return out;
  };
  return Object.assign(Object.create(client), { send }) as RDSClient;
}
const replaceWith = (stage: 'dev' | 'staging' | 'prod', snapshot: string, yes: boolean) => ({ stage, from: { snapshot }, mode: 'replace' as const, yes, context: {} });
const instance = async (id: string) => (await rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: id }))).DBInstances![0];

// The script names instances after the stage (webapp-<stage>), as other files' moto fixtures do:
// this file's RDS lives in its own moto region, so they never meet on the shared server.
const REGION = 'ap-southeast-2';

beforeAll(async () => {
  moto = await startMoto({ as: 'webapp-break-glass' });
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
    const group = (await instance('webapp-dev')).VpcSecurityGroups![0].VpcSecurityGroupId;
    expect(lines).toEqual([
      'Would, for webapp-dev in eu-west-1:',
      `  1. restore snapshot ${snapshot} as webapp-dev-restored (db.t4g.large, Multi-AZ true, subnet group , security groups ${group})`,
      `  2. apply what a restore drops: a managed master secret (key ${key}), 7 days of backups, Performance Insights false, monitoring every 0 s`,
      '  3. rename webapp-dev to webapp-dev-old (kept, with its secret) and webapp-dev-restored to webapp-dev, deletion protection true',
      '  4. no automated-backup replication to restart',
      "  5. check with CloudFormation drift detection that dev-Data's database instance matches its template",
      // The migration tool's table is data too: the restore point's, so the migrations after it run again.
      "WARNING: the migration tool's table (_prisma_migrations, knex_migrations, pgmigrations, __drizzle_migrations, ...) comes back as of the restore point too, so the next deploy runs every migration after it again, the damaging release's included: roll back to the release before it first (npm run rollback -- --stage dev), or deploy one whose migrations are fixed.",
      'Stop writes first (docs/disaster-recovery.md, step 2), then run again with --yes.',
    ]);
    expect((await rds.send(new DescribeDBInstancesCommand({}))).DBInstances!.map((d) => d.DBInstanceIdentifier)).not.toContain('webapp-dev-restored');
  });

  test('the copy takes the name with every setting of the current instance and a managed secret of its own; the old one is kept', async () => {
    const snapshot = await stageDatabase('webapp-staging');
    const before = await instance('webapp-staging');
    inSync('staging');
    const recorded = recording(rds);
    expect(await runRestore(replaceWith('staging', snapshot, true), clients({ rds: recorded.client }), wait())).toBe(0);
    // The swap waits for the copy's own secret.
    expect(lines).toContain('webapp-staging-restored: available (secret not active yet)');
    expect(lines.indexOf('webapp-staging-restored: available (secret not active yet)')).toBeLessThan(lines.findIndex((l) => l.startsWith('3/5')));
    expect(lines).toContain('4/5 no automated-backup replication to restart');
    // moto applies every change at once; RDS waits for the maintenance window unless told otherwise.
    const modified = recorded.modified;
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
    // The clock stood still but for the one 30 s wait for the secret.
    expect(lines).toContain(
      `  - deploy the stage, data first, as the pipeline would: npm run deploy -- --stage staging -c rerunDatabaseSetup=${Date.parse('2026-11-22T09:00:30Z') / 1000} --yes`,
    );
    // Drift detection, not cdk diff, proves the stack still describes the instance.
    expect(lines).toContain('    staging-Data DatabaseInstance1234 (webapp-staging): in sync with its template');
    expect(cfMock.commandCalls(DetectStackResourceDriftCommand)[0].args[0].input).toEqual({ StackName: 'staging-Data', LogicalResourceId: 'DatabaseInstance1234' });
  });

  test("automated-backup replication to the DR region: the replaced instance's stopped, the copy's started with the DR stack key", async () => {
    const snapshot = await stageDatabase('webapp-prod');
    const drKey = 'arn:aws:kms:eu-central-1:333333333333:key/dr';
    cfDrMock
      .on(DescribeStacksCommand, { StackName: 'prod-Dr' })
      .resolves({ Stacks: [{ StackName: 'prod-Dr', CreationTime: new Date(), StackStatus: 'UPDATE_COMPLETE', Outputs: [{ OutputKey: 'BackupKeyArn', OutputValue: drKey }] }] });
    rdsDrMock.on(StartDBInstanceAutomatedBackupsReplicationCommand).resolves({});
    // moto shows no replication; the current instance is given one, as RDS would show it.
    const replicated = withReplication(rds, 'webapp-prod');
    inSync('prod');
    expect(await runRestore(replaceWith('prod', snapshot, true), clients({ rds: replicated }), wait())).toBe(0);
    const [call] = rdsDrMock.commandCalls(StartDBInstanceAutomatedBackupsReplicationCommand).map((c) => c.args[0].input);
    expect(call).toEqual({ SourceDBInstanceArn: (await instance('webapp-prod')).DBInstanceArn, KmsKeyId: drKey, BackupRetentionPeriod: 14 });
    const [stopped] = rdsDrMock.commandCalls(StopDBInstanceAutomatedBackupsReplicationCommand).map((c) => c.args[0].input);
    expect(stopped).toEqual({ SourceDBInstanceArn: (await instance('webapp-prod-old')).DBInstanceArn });
    expect(lines).toContain("4/5 stop replicating webapp-prod-old's automated backups to eu-central-1 and replicate the copy's");
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

  test('arguments, and the exit code of the command itself', async () => {
    expect(parseArgs(['--stage', 'prod', '--snapshot', 's1'])).toEqual({ stage: 'prod', from: { snapshot: 's1' }, mode: 'alongside', yes: false, context: {} });
    expect(parseArgs(['--yes', '--stage', 'dev', '--snapshot', 's1', '--replace'])).toMatchObject({ yes: true, mode: 'replace' });
    expect(parseArgs(['--stage', 'dev', '--to-time', '2026-12-01T02:10:00Z']).from).toEqual({ time: new Date('2026-12-01T02:10:00Z') });
    expect(parseArgs(['--stage', 'dev', '--to-time', 'latest']).from).toEqual({ time: 'latest' });
    expect(() => parseArgs(['--stage', 'qa', '--snapshot', 's1'])).toThrow(/--stage must be one of dev, staging, prod/);
    expect(() => parseArgs(['--stage', 'dev'])).toThrow(/name exactly one of --snapshot, --to-time, --before-release and --from-dump/);
    expect(() => parseArgs(['--stage', 'dev', '--snapshot', 's', '--to-time', 'latest'])).toThrow(/name exactly one of --snapshot, --to-time, --before-release and --from-dump/);
    expect(parseArgs(['--stage', 'dev', '--to-time', 'latest', '--account', '123456789012', '-c', 'dev.drRegion=eu-north-1'])).toEqual({
      stage: 'dev',
      from: { time: 'latest' },
      mode: 'alongside',
      yes: false,
      account: '123456789012',
      context: { 'dev.drRegion': 'eu-north-1' },
    });
    for (const [time, iso] of [
      ['2026-12-01T02:10Z', '2026-12-01T02:10:00.000Z'],
      ['2026-12-01T02:10:00.123Z', '2026-12-01T02:10:00.123Z'],
      ['2026-12-01T04:10:00+02:00', '2026-12-01T02:10:00.000Z'],
      ['2026-12-01T00:10:00-02:00', '2026-12-01T02:10:00.000Z'],
    ]) {
      expect(parseArgs(['--stage', 'dev', '--to-time', time]).from).toEqual({ time: new Date(iso) });
    }
    for (const time of [
      '2026-12-01 02:10',
      'x2026-12-01T02:10:00Z',
      '2026-12-01T02:10:00Zx',
      '2026-12-01T02:10:00',
      '2026-12-01T02:10:00+2:00',
      '2026-12-01T02:10:00.Z',
      '2026-13-45T02:10:00Z',
    ]) {
      expect(() => parseArgs(['--stage', 'dev', '--to-time', time]), time).toThrow(`--to-time takes an ISO time with its zone (2026-12-01T02:10:00Z) or "latest", not "${time}".`);
    }
    expect(() => parseArgs(['--stage', 'dev', '--snapshot', 's', '--force'])).toThrow(/unknown argument "--force"/);
    // main as the command runs it (its exit code reaches the shell: test/scripts/args.test.ts).
    const run = await printed(() => main(['--stage', 'dev']));
    expect(run).toMatchObject({ result: 2, stdout: '' });
    expect(run.stderr).toContain('restore: name exactly one of --snapshot, --to-time, --before-release and --from-dump');
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
    const group = (await instance('webapp-dev')).VpcSecurityGroups![0].VpcSecurityGroupId;
    expect(lines).toEqual([
      'Would, for webapp-dev in eu-west-1:',
      `  1. restore the state of ${time.toISOString()} as webapp-dev-repair next to webapp-dev, which keeps serving (db.t4g.large, single-AZ, subnet group , security groups ${group})`,
      `  2. give it a managed master secret (key ${key}), IAM logins, Performance Insights false, monitoring every 0 s, 1 day of backups`,
      'Nothing stops: the stage goes on using its database. Run again with --yes.',
    ]);
    lines = [];
    const recorded = recording(rds);
    expect(await runRestore(args, clients({ rds: recorded.client }), wait())).toBe(0);
    expect(recorded.restores).toMatchObject([{ SourceDBInstanceIdentifier: 'webapp-dev', TargetDBInstanceIdentifier: 'webapp-dev-repair', RestoreTime: time, MultiAZ: false }]);
    expect(lines).toContain('webapp-dev-repair: available (secret not active yet)');
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

describe('restoring to before a release, from the release record (RDS, SSM and STS on moto)', () => {
  // A moto region of its own, with a stage database and a release record of its own.
  let ssm: SSMClient;
  let sts: STSClient;
  let latest: Date;
  beforeAll(async () => {
    rds = new RDSClient(moto.clientConfig('us-east-2'));
    ssm = new SSMClient(moto.clientConfig('us-east-2'));
    sts = new STSClient(moto.clientConfig('us-east-2'));
    const kms = new KMSClient(moto.clientConfig('us-east-2'));
    key = (await kms.send(new CreateKeyCommand({ Description: 'database key' }))).KeyMetadata!.Arn!;
    kms.destroy();
    await stageDatabase('webapp-staging');
    latest = (await instance('webapp-staging')).LatestRestorableTime!;
    const minutesBefore = (m: number) => new Date(latest.getTime() - m * 60_000).toISOString();
    const release = (id: string, tag: string, migration: object) => ({
      stage: 'staging',
      release: id,
      image: `webapp:${tag}`,
      digest: '',
      commit: '',
      snapshotId: `predeploy-staging-${id}`,
      snapshotSkipped: false,
      migrationSeconds: 0,
      migrationsApplied: null,
      previous: '',
      ...migration,
    });
    for (const r of [
      release('v1.4.1-bbbbbbbb', 'v1.4.1', { startedAt: minutesBefore(40), migrationTask: 'skipped', migrationStartedAt: minutesBefore(38), completedAt: minutesBefore(30) }),
      release('v1.4.2-cccccccc', 'v1.4.2', {
        startedAt: minutesBefore(20),
        migrationTask: 'arn:aws:ecs:us-east-2:123456789012:task/staging-App-Cluster/42',
        migrationStartedAt: minutesBefore(15),
        migrationsApplied: ['0042_drop_legacy_sku'],
        completedAt: minutesBefore(5),
      }),
    ]) {
      await ssm.send(new PutParameterCommand({ Name: '/webapp/staging/releases/current', Value: JSON.stringify(r), Type: 'String', Overwrite: true }));
    }
  });
  afterAll(() => sts.destroy());
  const restore = (argv: string[]) => main([...argv, '--account', MOTO_ACCOUNT], {}, () => ({ sts, ...clients({ ssm }) }), wait());

  test('--before-release restores to a minute before the recorded start of its migration, and says which record it used', async () => {
    clock = latest.getTime() + 60_000;
    expect(await restore(['--stage', 'staging', '--before-release', 'v1.4.2-cccccccc'])).toBe(0);
    const time = new Date(latest.getTime() - 16 * 60_000).toISOString();
    expect(lines[0]).toBe(
      `restore point ${time}: 1 minute before the recorded start of the migration of release v1.4.2-cccccccc (migration started ${new Date(latest.getTime() - 15 * 60_000).toISOString()} (0042_drop_legacy_sku), task arn:aws:ecs:us-east-2:123456789012:task/staging-App-Cluster/42), from the release record /webapp/staging/releases/current (not the release's completion)`,
    );
    expect(lines).toContain(
      `  1. restore the state of ${time} as webapp-staging-repair next to webapp-staging, which keeps serving (db.t4g.large, single-AZ, subnet group , security groups ${(await instance('webapp-staging')).VpcSecurityGroups![0].VpcSecurityGroupId})`,
    );
  });

  test('a release that ran no migration restores to a minute before its recorded start; one the record lacks is refused, exit 2', async () => {
    lines = [];
    expect(await restore(['--stage', 'staging', '--before-release', 'v1.4.1'])).toBe(0);
    expect(lines[0]).toMatch(
      new RegExp(
        `^restore point ${new Date(latest.getTime() - 41 * 60_000).toISOString().replace(/\./g, '\\.')}: 1 minute before the recorded start of release v1\\.4\\.1-bbbbbbbb, which ran no migration \\(migrated nothing`,
      ),
    );
    const refused = await printed(() => restore(['--stage', 'staging', '--before-release', 'v0.9']));
    expect(refused.result).toBe(2);
    expect(refused.stderr).toBe(
      'restore: --before-release v0.9 names no release in the staging release record (/webapp/staging/releases/current). It takes a release id, an image tag or a digest; the newest: v1.4.2-cccccccc (v1.4.2), v1.4.1-bbbbbbbb (v1.4.1). For an older release, restore to a time (--to-time) or its pre-deploy snapshot (--snapshot).\n',
    );
  });
});

describe('the restore command: a copy that differs is never swapped in, and its exit codes (RDS and STS on moto)', () => {
  // A moto region of its own, with stage databases of its own.
  let sts: STSClient;
  beforeAll(async () => {
    rds = new RDSClient(moto.clientConfig('ap-northeast-1'));
    sts = new STSClient(moto.clientConfig('ap-northeast-1'));
    const kms = new KMSClient(moto.clientConfig('ap-northeast-1'));
    key = (await kms.send(new CreateKeyCommand({ Description: 'database key' }))).KeyMetadata!.Arn!;
    kms.destroy();
  });
  afterAll(() => sts.destroy());
  /** The command as an operator runs it, in moto's account, with these clients. */
  const restore = (argv: string[], overrides: Partial<RestoreClients> = {}) => main([...argv, '--account', MOTO_ACCOUNT], {}, () => ({ sts, ...clients(overrides) }), wait());

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

    expect(await restore(['--stage', 'staging', '--snapshot', snapshot, '--replace', '--yes'], { rds: differing })).toBe(1);
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
    expect(await restore(['--stage', 'staging', '--snapshot', snapshot, '--replace', '--yes'])).toBe(0);
    expect(lines.some((l) => l.startsWith('STOPPED'))).toBe(false);
    expect(lines).toContain(`RESTORED: webapp-staging is the copy of snapshot ${snapshot}; webapp-staging-old is kept.`);
    expect(lines.filter((l) => l.startsWith("WARNING: the migration tool's table"))).toHaveLength(1);
    expect((await rds.send(new DescribeDBInstancesCommand({}))).DBInstances!.map((d) => d.DBInstanceIdentifier).sort()).toEqual(['webapp-staging', 'webapp-staging-old']);
  });

  test('exit 2 for credentials of another account or bad arguments, 1 with what was renamed when a step fails', async () => {
    const errors = vi.spyOn(console, 'error').mockImplementation(() => {});
    try {
      // The stage's own account, not moto's: refused before anything is looked at.
      expect(await main(['--stage', 'prod', '--to-time', 'latest', '--replace', '--yes'], {}, () => ({ sts, ...clients() }), wait())).toBe(2);
      expect(errors.mock.calls.at(-1)?.[0]).toMatch(/^restore: the credentials are for account 123456789012 .*, but prod is in \d{12}\. .* Nothing was changed\.$/);
      expect(await restore(['--stage', 'prod', '--to-time', 'yesterday'])).toBe(2);
      expect(errors.mock.calls.at(-1)?.[0]).toMatch(/^restore: --to-time takes an ISO time with its zone/);
      expect(lines).toEqual([]);

      // The DR stack lacks its key: the swap is done, the replication is not, and the message says so.
      const snapshot = await stageDatabase('webapp-prod');
      cfDrMock.on(DescribeStacksCommand, { StackName: 'prod-Dr' }).resolves({ Stacks: [{ StackName: 'prod-Dr', CreationTime: new Date(), StackStatus: 'UPDATE_COMPLETE' }] });
      expect(await restore(['--stage', 'prod', '--snapshot', snapshot, '--replace', '--yes'], { rds: withReplication(rds, 'webapp-prod') })).toBe(1);
      expect(lines.at(-1)).toBe("4/5 stop replicating webapp-prod-old's automated backups to eu-central-1 and replicate the copy's");
      expect(errors.mock.calls.at(-1)?.[0]).toBe(
        'FAILED: prod-Dr has no output BackupKeyArn: deploy the DR stack, then run: aws rds start-db-instance-automated-backups-replication (docs/disaster-recovery.md). ' +
          'webapp-prod is left as it was unless the log above says it was renamed.',
      );
      expect(rdsDrMock.commandCalls(StartDBInstanceAutomatedBackupsReplicationCommand)).toHaveLength(0);
    } finally {
      errors.mockRestore();
    }
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
