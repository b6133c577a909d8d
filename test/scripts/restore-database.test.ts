import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { CreateKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import {
  CreateDBInstanceCommand,
  CreateDBParameterGroupCommand,
  CreateDBSnapshotCommand,
  DeleteDBInstanceCommand,
  DescribeDBInstancesCommand,
  ModifyDBInstanceCommand,
  RDSClient,
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

const clients = (overrides: Partial<RestoreClients> = {}): RestoreClients => ({ rds, rdsDr, cloudformationDr: cfDr, ...overrides });
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
});
afterAll(() => {
  rdsDrMock.restore();
  cfDrMock.restore();
  rds?.destroy();
});

describe('restoring the stage database in place (RDS on moto)', () => {
  test('without --yes it only says what it would do', async () => {
    const snapshot = await stageDatabase('webapp-dev');
    expect(await runRestore({ stage: 'dev', snapshot, yes: false }, clients(), wait())).toBe(0);
    expect(lines[0]).toBe('Would, for webapp-dev in eu-west-1:');
    expect(lines.join('\n')).toContain(`1. restore ${snapshot} as webapp-dev-restored (db.t4g.large, Multi-AZ true`);
    expect(lines.at(-1)).toMatch(/Stop writes first .* then run again with --yes/);
    expect((await rds.send(new DescribeDBInstancesCommand({}))).DBInstances!.map((d) => d.DBInstanceIdentifier)).not.toContain('webapp-dev-restored');
  });

  test('the copy takes the name with every setting of the current instance and a managed secret of its own; the old one is kept', async () => {
    const snapshot = await stageDatabase('webapp-staging');
    const before = await instance('webapp-staging');
    expect(await runRestore({ stage: 'staging', snapshot, yes: true }, clients(), wait())).toBe(0);

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
    expect(lines.join('\n')).toMatch(/RESTORED: webapp-staging is the copy of predeploy-webapp-staging-v1-202611220900; webapp-staging-old is kept\./);
    expect(lines.join('\n')).toContain("npx cdk deploy 'staging/*' -c staging.account=222222222222");
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
        if (command instanceof DescribeDBInstancesCommand && command.input.DBInstanceIdentifier === 'webapp-prod' && !lines.some((l) => l.startsWith('3/4'))) {
          for (const db of out.DBInstances ?? [])
            Object.assign(db, { DBInstanceAutomatedBackupsReplications: [{ DBInstanceAutomatedBackupsArn: 'arn:aws:rds:eu-central-1:333333333333:auto-backup:ab-1' }] });
        }
        return out;
      },
    }) as RDSClient;
    expect(await runRestore({ stage: 'prod', snapshot, yes: true }, clients({ rds: replicated }), wait())).toBe(0);
    const [call] = rdsDrMock.commandCalls(StartDBInstanceAutomatedBackupsReplicationCommand).map((c) => c.args[0].input);
    expect(call).toEqual({ SourceDBInstanceArn: (await instance('webapp-prod')).DBInstanceArn, KmsKeyId: drKey, BackupRetentionPeriod: 14 });
  });

  test('refuses when an earlier restore left its copy behind, and changes nothing', async () => {
    const snapshot = `predeploy-webapp-staging-v1-202611220900`;
    expect(await runRestore({ stage: 'staging', snapshot, yes: true }, clients(), wait())).toBe(1);
    expect(lines).toEqual(['REFUSED: webapp-staging-old already exists: an earlier restore was not finished. Delete or rename it first (docs/disaster-recovery.md).']);
  });

  test('refuses when there is no current instance to take the place of', async () => {
    await rds.send(new ModifyDBInstanceCommand({ DBInstanceIdentifier: 'webapp-dev', DeletionProtection: false, ApplyImmediately: true }));
    await rds.send(new DeleteDBInstanceCommand({ DBInstanceIdentifier: 'webapp-dev', SkipFinalSnapshot: true }));
    expect(await runRestore({ stage: 'dev', snapshot: 'x', yes: true }, clients(), wait())).toBe(1);
    expect(lines[0]).toMatch(/^REFUSED: webapp-dev does not exist in eu-west-1/);
  });

  test('arguments, and the exit code of the script itself', () => {
    expect(parseArgs(['--stage', 'prod', '--snapshot', 's1'])).toEqual({ stage: 'prod', snapshot: 's1', yes: false });
    expect(parseArgs(['--yes', '--stage', 'dev', '--snapshot', 's1']).yes).toBe(true);
    expect(() => parseArgs(['--stage', 'qa', '--snapshot', 's1'])).toThrow(/--stage must be one of dev, staging, prod/);
    expect(() => parseArgs(['--stage', 'dev'])).toThrow(/--snapshot is required/);
    expect(() => parseArgs(['--stage', 'dev', '--snapshot', 's', '--force'])).toThrow(/unknown argument "--force"/);
    const run = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'scripts', 'restore-database.ts'), '--stage', 'dev'], { encoding: 'utf8' });
    expect(run.status).toBe(2);
    expect(run.stderr).toContain('restore-database: --snapshot is required');
  });
});
