import {
  BackupClient,
  DescribeRestoreJobCommand,
  GetRecoveryPointRestoreMetadataCommand,
  ListRecoveryPointsByBackupVaultCommand,
  StartRestoreJobCommand,
} from '@aws-sdk/client-backup';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { CreateKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { InvokeCommand, type InvokeCommandOutput, LambdaClient } from '@aws-sdk/client-lambda';
import { CreateDBInstanceCommand, DeleteDBInstanceCommand, DescribeDBInstancesCommand, ModifyDBInstanceCommand, RDSClient } from '@aws-sdk/client-rds';
import { STSClient } from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, test, vi } from 'vitest';
import { type DrillClients, type DrillResult, drillSummary, runDrill } from '../../scripts/lib/drill';
import { main, parseArgs } from '../../scripts/restore-drill';
import { printed } from '../support/console';
import { type Moto, startMoto } from '../support/moto';

const DB_ARN = 'arn:aws:rds:eu-west-1:222222222222:db:webapp-staging';
const POINT = 'arn:aws:rds:eu-west-1:222222222222:snapshot:awsbackup:job-2';

// RDS on moto (the drill deletes a real instance there); AWS Backup, Lambda and CloudFormation mocked:
// moto has no restore jobs, and the verifier's answer cannot come from it (its Lambda would need
// Docker to run the function, and its RDS has no PostgreSQL behind an instance to check), so each
// test injects that answer at the Lambda client.
const cloudformation = new CloudFormationClient({ region: 'eu-west-1' });
const backup = new BackupClient({ region: 'eu-west-1' });
const lambda = new LambdaClient({ region: 'eu-west-1' });
const cfMock = mockClient(cloudformation);
const backupMock = mockClient(backup);
const lambdaMock = mockClient(lambda);
let moto: Moto;
let rds: RDSClient;
let lines: string[];
let clock: number;

// The stage's database key: created in moto (its RDS resolves the key a managed secret is encrypted with).
let DB_KEY: string;
const outputs = (keys = ['DatabaseArn', 'VaultName', 'RestoreRoleArn', 'RestoredSecurityGroupId', 'SubnetGroupName', 'VerifierFunctionName', 'DatabaseKeyArn']) =>
  cfMock.on(DescribeStacksCommand, { StackName: 'staging-Data' }).resolves({
    Stacks: [
      {
        StackName: 'staging-Data',
        CreationTime: new Date(),
        StackStatus: 'UPDATE_COMPLETE',
        Outputs: [
          { OutputKey: 'DatabaseEndpoint', OutputValue: 'webapp-staging.x.eu-west-1.rds.amazonaws.com' },
          ...keys.map((k) => ({
            OutputKey: `RestoreTesting${k}`,
            OutputValue: {
              DatabaseArn: DB_ARN,
              DatabaseKeyArn: DB_KEY,
              VaultName: 'webapp-staging',
              RestoreRoleArn: 'arn:aws:iam::222222222222:role/restore',
              RestoredSecurityGroupId: 'sg-0restored',
              SubnetGroupName: 'webapp-staging-subnets',
              VerifierFunctionName: 'staging-verifier',
            }[k],
          })),
        ],
      },
    ],
  });

/** One answer of DescribeRestoreJob; `created` names the instance the job made. */
type JobAnswer = { Status: 'PENDING' | 'RUNNING' | 'COMPLETED' | 'FAILED' | 'ABORTED'; PercentDone?: string; StatusMessage?: string; created?: true };

/**
 * A restore job that answers `answers` in turn (the last one again and again); with `creates` it
 * makes its instance in moto when it starts.
 */
function restoreJobAnswering(answers: JobAnswer[], creates: boolean) {
  let instance = '';
  backupMock.on(StartRestoreJobCommand).callsFake(async (input) => {
    instance = input.Metadata.DBInstanceIdentifier;
    if (creates) {
      await rds.send(
        new CreateDBInstanceCommand({
          DBInstanceIdentifier: instance,
          DBInstanceClass: 'db.t4g.large',
          Engine: 'postgres',
          MasterUsername: 'postgres',
          MasterUserPassword: 'from-snapshot-1',
          AllocatedStorage: 50,
        }),
      );
    }
    return { RestoreJobId: 'drill-job-1' };
  });
  let polls = 0;
  backupMock.on(DescribeRestoreJobCommand).callsFake(async () => {
    const { created, ...answer } = answers[Math.min(polls++, answers.length - 1)];
    return { RestoreJobId: 'drill-job-1', ...answer, ...(created ? { CreatedResourceArn: `arn:aws:rds:eu-west-1:222222222222:db:${instance}` } : {}) };
  });
}

const STATUS_MESSAGE = { FAILED: 'DB subnet group not found', ABORTED: 'the job was stopped' };

/** A restore job that runs twice, then completes, creating its instance in moto (or ends as `final`, creating none). */
function restoreJob(final: 'COMPLETED' | 'FAILED' | 'ABORTED' = 'COMPLETED') {
  restoreJobAnswering(
    [
      { Status: 'PENDING', PercentDone: '40.00%' },
      { Status: 'RUNNING', PercentDone: '80.00%' },
      final === 'COMPLETED' ? { Status: 'COMPLETED', created: true } : { Status: final, StatusMessage: STATUS_MESSAGE[final] },
    ],
    final === 'COMPLETED',
  );
}

/** A Lambda response payload: bytes (the SDK's blob adapter is a Uint8Array with helpers the drill does not use). */
const payload = (text: string) => new TextEncoder().encode(text) as unknown as InvokeCommandOutput['Payload'];

const clients = (): DrillClients => ({ cloudformation, backup, lambda, rds });
const options = () => ({
  stage: 'staging',
  now: () => new Date(clock),
  sleep: async (ms: number) => {
    clock += ms;
  },
  log: (line: string) => lines.push(line),
});
const drillInstances = async () => {
  const all = (await rds.send(new DescribeDBInstancesCommand({}))).DBInstances ?? [];
  return all.filter((d) => d.DBInstanceIdentifier?.startsWith('restore-drill-staging-') && d.DBInstanceStatus !== 'deleting');
};

beforeAll(async () => {
  moto = await startMoto({ as: 'webapp-break-glass' });
  rds = new RDSClient(moto.clientConfig('eu-west-1'));
  const kms = new KMSClient(moto.clientConfig('eu-west-1'));
  DB_KEY = (await kms.send(new CreateKeyCommand({ Description: 'staging database key' }))).KeyMetadata!.Arn!;
  kms.destroy();
});
beforeEach(() => {
  for (const m of [cfMock, backupMock, lambdaMock]) m.reset();
  lines = [];
  clock = Date.parse('2026-11-22T09:00:00Z');
  outputs();
  backupMock.on(ListRecoveryPointsByBackupVaultCommand, { BackupVaultName: 'webapp-staging', ByResourceArn: DB_ARN }).resolves({
    RecoveryPoints: [
      { RecoveryPointArn: 'arn:aws:rds:eu-west-1:222222222222:snapshot:awsbackup:job-1', Status: 'COMPLETED', CreationDate: new Date('2026-11-20T05:10:00Z') },
      { RecoveryPointArn: POINT, Status: 'COMPLETED', CreationDate: new Date('2026-11-21T05:10:00Z') },
      { RecoveryPointArn: 'arn:aws:rds:eu-west-1:222222222222:snapshot:awsbackup:job-3', Status: 'PARTIAL', CreationDate: new Date('2026-11-22T05:10:00Z') },
    ],
  });
  backupMock
    .on(GetRecoveryPointRestoreMetadataCommand, { BackupVaultName: 'webapp-staging', RecoveryPointArn: POINT })
    .resolves({ RestoreMetadata: { Engine: 'postgres', DBInstanceClass: 'db.t4g.large', MultiAZ: 'true' } });
});
afterAll(() => {
  for (const m of [cfMock, backupMock, lambdaMock]) m.restore();
});

describe('restore drill', () => {
  test('restores the newest completed point into the stage network, verifies it, reports the RTO and deletes the copy', async () => {
    restoreJob();
    lambdaMock.on(InvokeCommand).callsFake(async () => {
      clock += 95_000; // the verification takes 95 s
      return { StatusCode: 200, Payload: payload(JSON.stringify({ status: 'SUCCESSFUL', message: 'restore-drill-staging-202611220900: catalog; vector >= 0.8.0' })) };
    });
    // The secret step of a real restore runs on the copy before it is deleted: record what moto shows.
    let secretOfCopy: string | undefined;
    let deleted: DeleteDBInstanceCommand['input'] | undefined;
    const modified: ModifyDBInstanceCommand['input'][] = [];
    const original = rds.send.bind(rds);
    const spy = Object.assign(Object.create(rds), {
      send: async (command: Parameters<RDSClient['send']>[0]) => {
        if (command instanceof ModifyDBInstanceCommand) modified.push(command.input);
        if (command instanceof DeleteDBInstanceCommand) {
          deleted = command.input;
          const copy = (await original(new DescribeDBInstancesCommand({ DBInstanceIdentifier: command.input.DBInstanceIdentifier }))).DBInstances![0];
          secretOfCopy = `${copy.MasterUserSecret?.SecretStatus} ${copy.MasterUserSecret?.KmsKeyId} iam=${copy.IAMDatabaseAuthenticationEnabled}`;
        }
        return original(command as never);
      },
    }) as RDSClient;
    const result = await runDrill({ ...clients(), rds: spy }, options());
    expect(result).toMatchObject({
      ok: true,
      cleanedUp: true,
      recoveryPoint: POINT,
      instance: 'restore-drill-staging-202611220900',
      restoreSeconds: 60,
      verifySeconds: 95,
      rtoSeconds: 155,
      verification: { status: 'SUCCESSFUL' },
      secret: expect.stringMatching(/^arn:aws:secretsmanager:eu-west-1:\d{12}:secret:rds!db-.* \(IAM logins on\)$/),
    });
    expect(secretOfCopy).toBe(`active ${DB_KEY} iam=true`);
    // At once (moto applies any change at once; RDS would wait for the maintenance window).
    expect(modified).toEqual([
      {
        DBInstanceIdentifier: 'restore-drill-staging-202611220900',
        ApplyImmediately: true,
        ManageMasterUserPassword: true,
        MasterUserSecretKmsKeyId: DB_KEY,
        EnableIAMDatabaseAuthentication: true,
      },
    ]);
    // Deleted for good: no final snapshot to count against the quota, no automated backups left.
    expect(deleted).toEqual({ DBInstanceIdentifier: 'restore-drill-staging-202611220900', SkipFinalSnapshot: true, DeleteAutomatedBackups: true });
    const start = backupMock.commandCalls(StartRestoreJobCommand)[0].args[0].input;
    expect(start).toMatchObject({
      RecoveryPointArn: POINT,
      IamRoleArn: 'arn:aws:iam::222222222222:role/restore',
      ResourceType: 'RDS',
      Metadata: {
        Engine: 'postgres',
        DBInstanceIdentifier: 'restore-drill-staging-202611220900',
        DBSubnetGroupName: 'webapp-staging-subnets',
        VpcSecurityGroupIds: '["sg-0restored"]',
        MultiAZ: 'false',
        PubliclyAccessible: 'false',
      },
    });
    const invoke = lambdaMock.commandCalls(InvokeCommand)[0].args[0].input;
    expect(invoke.FunctionName).toBe('staging-verifier');
    expect(JSON.parse(new TextDecoder().decode(invoke.Payload as Uint8Array))).toEqual({
      'detail-type': 'Restore Drill',
      source: 'webapp.restore-drill',
      detail: { restoreJobId: 'drill-job-1' },
    });
    expect(lines.filter((l) => l.startsWith('restore ') && !l.startsWith('restore job'))).toEqual([
      'restore PENDING 40.00% after 0 s',
      'restore RUNNING 80.00% after 30 s',
      'restore COMPLETED after 60 s',
    ]);
    expect(await drillInstances()).toEqual([]);
    expect(drillSummary('staging', result)).toEqual({
      exitCode: 0,
      lines: [
        '',
        'stage            staging',
        `recovery point   2026-11-21T05:10:00.000Z (${POINT})`,
        'restore          60 s',
        'verification     95 s: SUCCESSFUL: restore-drill-staging-202611220900: catalog; vector >= 0.8.0',
        `managed secret   ${result.secret}`,
        'measured RTO     3 min (155 s)',
        'cleanup          done',
        'RESULT: restored and verified',
      ],
    });
  });

  /** The summary's verdict: its exit code and its last line. */
  const verdict = (result: DrillResult) => {
    const { lines, exitCode } = drillSummary('staging', result);
    return { exitCode, result: lines.at(-1) };
  };

  test('a failed verification fails the drill (exit 1), and the copy is still deleted', async () => {
    clock = Date.parse('2026-11-22T10:00:00Z');
    restoreJob();
    lambdaMock.on(InvokeCommand).resolves({ StatusCode: 200, Payload: payload(JSON.stringify({ status: 'FAILED', message: 'table documents is missing' })) });
    const result = await runDrill(clients(), options());
    expect(result).toMatchObject({ ok: false, cleanedUp: true, verification: { status: 'FAILED', message: 'table documents is missing' } });
    expect(await drillInstances()).toEqual([]);
    expect(verdict(result)).toEqual({ exitCode: 1, result: 'RESULT: FAILED: the verification was FAILED: table documents is missing' });
  });

  test('a skipped verification is no verification: the drill fails (exit 1), and the copy is deleted', async () => {
    clock = Date.parse('2026-11-22T10:10:00Z');
    restoreJob();
    // What the verifier answers when the job did not create a drill instance of this stage.
    const skipped = { status: 'SKIPPED', message: 'not a drill restore of staging: arn:aws:rds:eu-west-1:222222222222:db:webapp-staging' };
    lambdaMock.on(InvokeCommand).resolves({ StatusCode: 200, Payload: payload(JSON.stringify(skipped)) });
    const result = await runDrill(clients(), options());
    expect(result).toMatchObject({ ok: false, cleanedUp: true, verification: skipped });
    expect(await drillInstances()).toEqual([]);
    expect(verdict(result)).toEqual({ exitCode: 1, result: `RESULT: FAILED: the verification was SKIPPED: ${skipped.message}` });
  });

  test.each([
    ['not JSON', 'Internal Server Error', '10:21'],
    ['null', 'null', '10:22'],
    ['a status in other words', JSON.stringify({ status: 'successful', message: 'ok' }), '10:23'],
    ['no message', JSON.stringify({ status: 'SUCCESSFUL' }), '10:24'],
    ['another shape', JSON.stringify({ statusCode: 200, body: 'SUCCESSFUL' }), '10:25'],
    ['a page of HTML, cut at 500 characters', `<html>${'<p>Bad gateway</p>'.repeat(40)}</html>`, '10:26'],
  ])('an answer that is not a verification (%s) fails the drill (exit 1), and the copy is deleted', async (_, answer, time) => {
    clock = Date.parse(`2026-11-22T${time}:00Z`);
    restoreJob();
    lambdaMock.on(InvokeCommand).resolves({ StatusCode: 200, Payload: payload(answer) });
    const result = await runDrill(clients(), options());
    expect(result).toMatchObject({ ok: false, cleanedUp: true, error: `the verifier answered no verification (a status and a message): ${answer.slice(0, 500)}` });
    expect(result.verification).toBeUndefined();
    expect(await drillInstances()).toEqual([]);
    expect(verdict(result)).toEqual({ exitCode: 1, result: `RESULT: FAILED: ${result.error}` });
  });

  test('a copy that could not be deleted fails a verified drill (exit 1) and says how to delete it', async () => {
    clock = Date.parse('2026-11-22T10:40:00Z');
    restoreJob();
    lambdaMock.on(InvokeCommand).resolves({ StatusCode: 200, Payload: payload(JSON.stringify({ status: 'SUCCESSFUL', message: 'ok' })) });
    const original = rds.send.bind(rds);
    const undeletable = Object.assign(Object.create(rds), {
      send: async (command: Parameters<RDSClient['send']>[0]) => {
        if (command instanceof DeleteDBInstanceCommand) throw Object.assign(new Error('not authorized to rds:DeleteDBInstance'), { name: 'AccessDenied' });
        return original(command as never);
      },
    }) as RDSClient;
    const copy = 'restore-drill-staging-202611221040';
    try {
      const result = await runDrill({ ...clients(), rds: undeletable }, options());
      expect(result).toMatchObject({ ok: false, cleanedUp: false, instance: copy, verification: { status: 'SUCCESSFUL' } });
      expect(lines.at(-1)).toBe(
        `COULD NOT DELETE ${copy}: not authorized to rds:DeleteDBInstance. Delete it by hand: aws rds delete-db-instance --db-instance-identifier ${copy} --skip-final-snapshot`,
      );
      const { lines: summary, exitCode } = drillSummary('staging', result);
      expect(exitCode).toBe(1);
      expect(summary.slice(-2)).toEqual([`cleanup          FAILED: delete ${copy} by hand`, `RESULT: FAILED: ${copy} could not be deleted`]);
    } finally {
      // The drill could not delete it; the tests after this one count the drill copies.
      await rds.send(new DeleteDBInstanceCommand({ DBInstanceIdentifier: copy, SkipFinalSnapshot: true }));
    }
  });

  test('a verifier that crashes fails the drill, and the copy is still deleted', async () => {
    clock = Date.parse('2026-11-22T11:00:00Z');
    restoreJob();
    lambdaMock.on(InvokeCommand).resolves({ StatusCode: 200, FunctionError: 'Unhandled', Payload: payload('{"errorMessage":"Task timed out after 900 seconds"}') });
    const result = await runDrill(clients(), options());
    expect(result).toMatchObject({ ok: false, cleanedUp: true, error: 'the verifier failed: {"errorMessage":"Task timed out after 900 seconds"}' });
    expect(await drillInstances()).toEqual([]);
    expect(verdict(result)).toEqual({ exitCode: 1, result: `RESULT: FAILED: ${result.error}` });
  });

  test('a copy that cannot get its managed secret fails the drill (the restore runbook would fail there too), and is deleted', async () => {
    clock = Date.parse('2026-11-22T12:00:00Z');
    restoreJob();
    lambdaMock.on(InvokeCommand).resolves({ StatusCode: 200, Payload: payload(JSON.stringify({ status: 'SUCCESSFUL', message: 'ok' })) });
    const original = rds.send.bind(rds);
    const refusing = Object.assign(Object.create(rds), {
      send: async (command: Parameters<RDSClient['send']>[0]) => {
        if (command instanceof ModifyDBInstanceCommand && command.input.ManageMasterUserPassword) {
          throw Object.assign(new Error('Access denied to kms:CreateGrant'), { name: 'KMSKeyNotAccessibleFault' });
        }
        return original(command as never);
      },
    }) as RDSClient;
    const result = await runDrill({ ...clients(), rds: refusing }, options());
    expect(result).toMatchObject({ ok: false, cleanedUp: true, verification: { status: 'SUCCESSFUL' }, error: 'the secret step failed: Access denied to kms:CreateGrant' });
    expect(await drillInstances()).toEqual([]);
  });

  test.each(['FAILED', 'ABORTED'] as const)('a restore job that ends %s fails the drill with its message (exit 1)', async (final) => {
    restoreJob(final);
    const result = await runDrill(clients(), options());
    // It ran, so the copy may exist: its delete is tried, and "not found" is a clean end.
    expect(result).toMatchObject({ ok: false, cleanedUp: true, error: `restore job drill-job-1 ended ${final}: ${STATUS_MESSAGE[final]}` });
    expect(lambdaMock.commandCalls(InvokeCommand)).toHaveLength(0);
    expect(drillSummary('staging', result)).toEqual({
      exitCode: 1,
      lines: [
        '',
        'stage            staging',
        `recovery point   2026-11-21T05:10:00.000Z (${POINT})`,
        'restore          60 s',
        'verification     - s: -',
        'managed secret   -',
        'measured RTO     -',
        'cleanup          done',
        `RESULT: FAILED: restore job drill-job-1 ended ${final}: ${STATUS_MESSAGE[final]}`,
      ],
    });
  });

  test('a restore job that fails after creating its instance: the copy is still deleted', async () => {
    clock = Date.parse('2026-11-22T13:00:00Z');
    restoreJobAnswering([{ Status: 'PENDING' }, { Status: 'FAILED', StatusMessage: 'storage full', created: true }], true);
    const result = await runDrill(clients(), options());
    expect(result).toMatchObject({ ok: false, cleanedUp: true, error: 'restore job drill-job-1 ended FAILED: storage full' });
    expect(await drillInstances()).toEqual([]);
  });

  test('a restore that outlasts its time limit is given up at the limit, and the copy is deleted', async () => {
    clock = Date.parse('2026-11-22T14:00:00Z');
    restoreJobAnswering([{ Status: 'RUNNING', PercentDone: '10.00%' }], true);
    const result = await runDrill(clients(), { ...options(), restoreTimeoutMinutes: 60 });
    expect(result).toMatchObject({ ok: false, cleanedUp: true, error: 'the restore did not finish within 60 minutes (last status RUNNING)' });
    // Polled every 30 s: the first poll past the hour gives up.
    expect(lines.filter((l) => l.startsWith('restore RUNNING')).at(-1)).toBe('restore RUNNING 10.00% after 3630 s');
    expect(lambdaMock.commandCalls(InvokeCommand)).toHaveLength(0);
    expect(await drillInstances()).toEqual([]);
  });

  test('a vault without a completed recovery point: nothing is restored, and it says so (exit 1)', async () => {
    backupMock.on(ListRecoveryPointsByBackupVaultCommand).resolves({
      RecoveryPoints: [{ RecoveryPointArn: POINT, Status: 'PARTIAL', CreationDate: new Date('2026-11-21T05:10:00Z') }],
    });
    const result = await runDrill(clients(), options());
    expect(result).toEqual({ ok: false, error: `vault webapp-staging has no completed recovery point of ${DB_ARN}`, cleanedUp: true });
    expect(backupMock.commandCalls(StartRestoreJobCommand)).toHaveLength(0);
    const { lines: summary, exitCode } = drillSummary('staging', result);
    expect(exitCode).toBe(1);
    expect(summary.slice(-2)).toEqual(['cleanup          nothing was restored', `RESULT: FAILED: ${result.error}`]);
  });

  test('a copy whose managed secret never becomes active fails the secret step after 30 minutes, and is deleted', async () => {
    clock = Date.parse('2026-11-22T15:00:00Z');
    restoreJob();
    lambdaMock.on(InvokeCommand).resolves({ StatusCode: 200, Payload: payload(JSON.stringify({ status: 'SUCCESSFUL', message: 'ok' })) });
    // moto makes a secret active at once; RDS takes a while, and this one never gets there.
    const original = rds.send.bind(rds);
    const creating = Object.assign(Object.create(rds), {
      send: async (command: Parameters<RDSClient['send']>[0]) => {
        const out = (await original(command as never)) as { DBInstances?: { MasterUserSecret?: { SecretStatus?: string } }[] };
        if (command instanceof DescribeDBInstancesCommand) for (const db of out.DBInstances ?? []) if (db.MasterUserSecret) db.MasterUserSecret.SecretStatus = 'creating';
        return out;
      },
    }) as RDSClient;
    const result = await runDrill({ ...clients(), rds: creating }, options());
    expect(result).toMatchObject({
      ok: false,
      cleanedUp: true,
      error: 'the secret step failed: restore-drill-staging-202611221500 is still "available" (secret not active yet) after 30 minutes',
    });
    expect(await drillInstances()).toEqual([]);
  });

  test('a stage without restore testing says what to do', async () => {
    cfMock.reset();
    outputs(['VaultName']);
    const result = await runDrill(clients(), options());
    expect(result).toMatchObject({ ok: false, cleanedUp: true });
    expect(result.error).toMatch(
      /^staging-Data has no output RestoreRoleArn, RestoredSecurityGroupId, SubnetGroupName, VerifierFunctionName, DatabaseArn, DatabaseKeyArn: restore testing is off for staging .* Set backup\.restoreTesting and deploy the data stack\.$/,
    );
    expect(backupMock.commandCalls(StartRestoreJobCommand)).toHaveLength(0);
    // A data stack with no outputs at all.
    cfMock.reset();
    cfMock.on(DescribeStacksCommand).resolves({ Stacks: [{ StackName: 'staging-Data', CreationTime: new Date(), StackStatus: 'UPDATE_COMPLETE' }] });
    expect((await runDrill(clients(), options())).error).toMatch(/^staging-Data has no output VaultName, RestoreRoleArn, /);
  });

  test('arguments: a known stage is required; its region is the default', async () => {
    expect(parseArgs(['--stage', 'prod'])).toEqual({ stage: 'prod', region: 'eu-west-1' });
    expect(() => parseArgs(['--stage', 'qa'])).toThrow(/--stage must be one of dev, staging, prod/);
    expect(() => parseArgs(['staging'])).toThrow(/^unexpected argument "staging": pass the stage as --stage staging\./);
    expect(() => parseArgs(['--stage', 'prod', '--region', 'eu-west-9'])).toThrow(/^--region eu-west-9 is not an AWS region; the closest are eu-west-1, eu-west-2, eu-west-3/);
    const run = await printed(() =>
      main(['--stage'], () => {
        throw new Error('clients made before the arguments were read');
      }),
    );
    expect(run.result).toBe(2);
    expect(run.stderr).toContain('--stage needs a value');
    expect(run.stdout).toBe('');
  });

  test('credentials of another account: it says so first and starts nothing (exit 2)', async () => {
    const other = await printed(() => main(['--stage', 'staging'], (region) => ({ ...clients(), sts: new STSClient(moto.clientConfig(region)) })));
    expect(other.result).toBe(2);
    expect(other.stderr).toContain(
      'restore-drill: the credentials are for account 123456789012 (arn:aws:sts::123456789012:assumed-role/webapp-break-glass/test), but staging is in 222222222222. Use credentials of 222222222222 and run again. Nothing was restored.',
    );
    expect(other.stdout).toBe('');
  });

  test('what it did not expect is printed with its stack, exit 1', async () => {
    const run = await printed(() =>
      main(['--stage', 'staging'], () => {
        throw new TypeError('no clients');
      }),
    );
    expect(run.result).toBe(1);
    expect(run.stderr).toMatch(/^TypeError: no clients\n\s+at /);
    expect(run.stdout).toBe('');
  });

  test('without credentials: says so first on stderr, starts nothing, exit 2', async () => {
    // The command's own clients, on the SDK's default credential chain with nothing to find.
    for (const key of Object.keys(process.env).filter((k) => k.startsWith('AWS_') && k !== 'AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED')) vi.stubEnv(key, undefined);
    for (const [key, value] of Object.entries({ AWS_EC2_METADATA_DISABLED: 'true', AWS_CONFIG_FILE: '/nonexistent', AWS_SHARED_CREDENTIALS_FILE: '/nonexistent' }))
      vi.stubEnv(key, value);
    try {
      const none = await printed(() => main(['--stage', 'staging']));
      expect(none.result).toBe(2);
      expect(none.stderr).toMatch(/^restore-drill: no usable AWS credentials .*Sign in to the staging account 222222222222/);
      expect(none.stdout).toBe('');
    } finally {
      vi.unstubAllEnvs();
    }
  });
});
