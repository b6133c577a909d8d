import {
  BackupClient,
  DescribeRestoreJobCommand,
  type DescribeRestoreJobCommandOutput,
  GetRecoveryPointRestoreMetadataCommand,
  ListRecoveryPointsByBackupVaultCommand,
  StartRestoreJobCommand,
} from '@aws-sdk/client-backup';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { DeleteDBInstanceCommand, RDSClient } from '@aws-sdk/client-rds';
import { STSClient } from '@aws-sdk/client-sts';
import { RESTORE_TESTING_OUTPUTS, type RestoreTestingOutput, restoreTestingOutputKey } from '../../lib/data/restore-testing';
import { PROJECT } from '../../lib/shared/naming';
import { attachManagedSecret, waitAvailable } from './restore';

/** What the verifier answers (lambda/restore-verifier/verifier.ts, Verification). */
interface Verification {
  status: 'SUCCESSFUL' | 'FAILED' | 'SKIPPED';
  message: string;
}

export interface DrillClients {
  readonly cloudformation: Pick<CloudFormationClient, 'send'>;
  readonly backup: Pick<BackupClient, 'send'>;
  readonly lambda: Pick<LambdaClient, 'send'>;
  readonly rds: Pick<RDSClient, 'send'>;
}

/** The drill's clients, in the region it restores in. */
export function drillClients(region: string): DrillClients & { readonly sts: Pick<STSClient, 'send'> } {
  const config = { region };
  return {
    sts: new STSClient(config),
    cloudformation: new CloudFormationClient(config),
    backup: new BackupClient(config),
    lambda: new LambdaClient(config),
    rds: new RDSClient(config),
  };
}

export interface DrillOptions {
  readonly stage: string;
  readonly now: () => Date;
  readonly sleep: (ms: number) => Promise<void>;
  /** Progress lines for the operator. */
  readonly log: (line: string) => void;
  /** Give up on the restore after this long. @default 3 hours */
  readonly restoreTimeoutMinutes?: number;
}

export interface DrillResult {
  readonly ok: boolean;
  readonly recoveryPoint?: string;
  readonly recoveryPointTime?: string;
  readonly instance?: string;
  readonly restoreSeconds?: number;
  readonly verifySeconds?: number;
  /** Restore plus verification: the measured RTO of a database restore. */
  readonly rtoSeconds?: number;
  readonly verification?: Verification;
  /** The restore's secret step: the copy got its own RDS-managed master secret (ARN), or why not. */
  readonly secret?: string;
  /** Why the drill failed, if it did. */
  readonly error?: string;
  readonly cleanedUp: boolean;
}

const REQUIRED_OUTPUTS = RESTORE_TESTING_OUTPUTS;
type Outputs = Record<RestoreTestingOutput, string>;

/** The data stack's outputs the drill needs, by their fixed names (lib/data/restore-testing.ts). */
async function stackOutputs(cf: DrillClients['cloudformation'], stage: string): Promise<Outputs> {
  const stackName = `${stage}-Data`;
  const stack = (await cf.send(new DescribeStacksCommand({ StackName: stackName }))).Stacks?.[0];
  const outputs: Partial<Outputs> = {};
  for (const o of stack?.Outputs ?? []) {
    const key = REQUIRED_OUTPUTS.find((k) => restoreTestingOutputKey(k) === o.OutputKey);
    if (key && o.OutputValue) outputs[key] = o.OutputValue;
  }
  const missing = REQUIRED_OUTPUTS.filter((k) => !outputs[k]);
  if (missing.length > 0) {
    throw new Error(
      `${stackName} has no output ${missing.join(', ')}: restore testing is off for ${stage} or the stack predates it. Set backup.restoreTesting and deploy the data stack.`,
    );
  }
  return outputs as Outputs;
}

/** The verifier's answer, when it is one; anything else (not JSON, another shape, another status) is undefined. */
function asVerification(payload: string): Verification | undefined {
  let answer: unknown;
  try {
    answer = JSON.parse(payload);
  } catch {
    return undefined;
  }
  const { status, message } = (answer ?? {}) as Partial<Verification>;
  if ((status === 'SUCCESSFUL' || status === 'FAILED' || status === 'SKIPPED') && typeof message === 'string') return { status, message };
  return undefined;
}

const seconds = (from: Date, to: Date) => Math.round((to.getTime() - from.getTime()) / 1000);

/**
 * The secret step of a real restore (docs/disaster-recovery.md), tried on the drill copy: it gets
 * its own RDS-managed master secret encrypted with the stage's database key, and IAM logins.
 * Deleting the copy deletes that secret with it.
 */
async function secretStep(clients: DrillClients, instance: string, keyArn: string, options: DrillOptions): Promise<{ ok: boolean; detail: string }> {
  try {
    await attachManagedSecret(clients.rds, instance, keyArn);
    const db = await waitAvailable(clients.rds, instance, { ...options, log: options.log }, { minutes: 30, secret: true });
    return { ok: true, detail: `${db.MasterUserSecret?.SecretArn} (IAM logins ${db.IAMDatabaseAuthenticationEnabled ? 'on' : 'off'})` };
  } catch (error) {
    return { ok: false, detail: (error as Error).message };
  }
}

/**
 * Restores the newest completed recovery point of the stage database into a new instance
 * (restore-drill-<stage>-<time>, the stage's isolated subnets, the restored-copies security group),
 * shows progress, runs the verifier on it, and deletes the instance whatever happened. The
 * result carries the measured restore, verification and total times.
 */
export async function runDrill(clients: DrillClients, options: DrillOptions): Promise<DrillResult> {
  const { stage, log } = options;
  const started = options.now();
  let outputs: Outputs;
  try {
    outputs = await stackOutputs(clients.cloudformation, stage);
  } catch (error) {
    return { ok: false, error: (error as Error).message, cleanedUp: true };
  }

  const points =
    (await clients.backup.send(new ListRecoveryPointsByBackupVaultCommand({ BackupVaultName: outputs.VaultName, ByResourceArn: outputs.DatabaseArn }))).RecoveryPoints ?? [];
  const latest = points.filter((p) => p.Status === 'COMPLETED').sort((a, b) => (b.CreationDate?.getTime() ?? 0) - (a.CreationDate?.getTime() ?? 0))[0];
  if (!latest?.RecoveryPointArn) return { ok: false, error: `vault ${outputs.VaultName} has no completed recovery point of ${outputs.DatabaseArn}`, cleanedUp: true };
  log(`recovery point ${latest.RecoveryPointArn} of ${latest.CreationDate?.toISOString()}`);

  const instance = `restore-drill-${stage}-${started.toISOString().replace(/[-:T]/g, '').slice(0, 12)}`;
  const metadata =
    (await clients.backup.send(new GetRecoveryPointRestoreMetadataCommand({ BackupVaultName: outputs.VaultName, RecoveryPointArn: latest.RecoveryPointArn }))).RestoreMetadata ??
    {};
  const base = { recoveryPoint: latest.RecoveryPointArn, recoveryPointTime: latest.CreationDate?.toISOString(), instance };
  let created = false;
  let result: Omit<DrillResult, 'cleanedUp'>;
  try {
    const { RestoreJobId: jobId } = await clients.backup.send(
      new StartRestoreJobCommand({
        RecoveryPointArn: latest.RecoveryPointArn,
        IamRoleArn: outputs.RestoreRoleArn,
        ResourceType: 'RDS',
        Metadata: {
          ...metadata,
          DBInstanceIdentifier: instance,
          DBSubnetGroupName: outputs.SubnetGroupName,
          VpcSecurityGroupIds: JSON.stringify([outputs.RestoredSecurityGroupId]),
          MultiAZ: 'false',
          PubliclyAccessible: 'false',
          DeletionProtection: 'false',
        },
      }),
    );
    log(`restore job ${jobId} started: ${instance}`);
    const deadline = started.getTime() + (options.restoreTimeoutMinutes ?? 180) * 60_000;
    let job: DescribeRestoreJobCommandOutput;
    for (;;) {
      job = await clients.backup.send(new DescribeRestoreJobCommand({ RestoreJobId: jobId }));
      created ||= job.CreatedResourceArn !== undefined || job.Status === 'RUNNING' || job.Status === 'COMPLETED';
      log(`restore ${job.Status}${job.PercentDone ? ` ${job.PercentDone}` : ''} after ${seconds(started, options.now())} s`);
      if (job.Status === 'COMPLETED' || job.Status === 'FAILED' || job.Status === 'ABORTED') break;
      if (options.now().getTime() > deadline) throw new Error(`the restore did not finish within ${options.restoreTimeoutMinutes ?? 180} minutes (last status ${job.Status})`);
      await options.sleep(30_000);
    }
    const restored = options.now();
    const restoreSeconds = seconds(started, restored);
    if (job.Status !== 'COMPLETED') {
      result = { ...base, ok: false, restoreSeconds, error: `restore job ${jobId} ended ${job.Status}: ${job.StatusMessage ?? 'no message'}` };
    } else {
      log(`restored in ${restoreSeconds} s; verifying`);
      const invoked = await clients.lambda.send(
        new InvokeCommand({
          FunctionName: outputs.VerifierFunctionName,
          Payload: new TextEncoder().encode(JSON.stringify({ 'detail-type': 'Restore Drill', source: `${PROJECT}.restore-drill`, detail: { restoreJobId: jobId } })),
        }),
      );
      const payload = invoked.Payload ? new TextDecoder().decode(invoked.Payload) : '';
      const verifySeconds = seconds(restored, options.now());
      const verification = invoked.FunctionError ? undefined : asVerification(payload);
      if (invoked.FunctionError) {
        result = { ...base, ok: false, restoreSeconds, verifySeconds, error: `the verifier failed: ${payload}` };
      } else if (!verification) {
        result = { ...base, ok: false, restoreSeconds, verifySeconds, error: `the verifier answered no verification (a status and a message): ${payload.slice(0, 500)}` };
      } else {
        const secret = await secretStep(clients, instance, outputs.DatabaseKeyArn, options);
        const ok = verification.status === 'SUCCESSFUL' && secret.ok;
        result = {
          ...base,
          ok,
          restoreSeconds,
          verifySeconds,
          rtoSeconds: restoreSeconds + verifySeconds,
          verification,
          secret: secret.detail,
          ...(secret.ok ? {} : { error: `the secret step failed: ${secret.detail}` }),
        };
      }
    }
  } catch (error) {
    result = { ...base, ok: false, error: (error as Error).message };
  }

  // Whatever happened: the drill copy must not outlive the drill.
  let cleanedUp = true;
  if (created) {
    try {
      await clients.rds.send(new DeleteDBInstanceCommand({ DBInstanceIdentifier: instance, SkipFinalSnapshot: true, DeleteAutomatedBackups: true }));
      log(`deleting ${instance}`);
    } catch (error) {
      const name = (error as { name?: string }).name ?? '';
      if (!name.startsWith('DBInstanceNotFound')) {
        cleanedUp = false;
        log(`COULD NOT DELETE ${instance}: ${(error as Error).message}. Delete it by hand: aws rds delete-db-instance --db-instance-identifier ${instance} --skip-final-snapshot`);
      }
    }
  }
  return { ...result, ok: result.ok && cleanedUp, cleanedUp };
}

/**
 * What the drill tells the operator at the end, and its exit code: 0 only when the copy was
 * restored, verified SUCCESSFUL, got its secret and was deleted (`result.ok`); a verification
 * that FAILED or was SKIPPED, a crashed verifier or a copy left behind is 1.
 */
export function drillSummary(stage: string, result: DrillResult): { lines: string[]; exitCode: 0 | 1 } {
  const rto = result.rtoSeconds !== undefined ? `${Math.round(result.rtoSeconds / 60)} min (${result.rtoSeconds} s)` : '-';
  const cleanup = !result.instance ? 'nothing was restored' : result.cleanedUp ? 'done' : `FAILED: delete ${result.instance} by hand`;
  const lines = [
    '',
    `stage            ${stage}`,
    `recovery point   ${result.recoveryPointTime ?? '-'} (${result.recoveryPoint ?? '-'})`,
    `restore          ${result.restoreSeconds ?? '-'} s`,
    `verification     ${result.verifySeconds ?? '-'} s: ${result.verification ? `${result.verification.status}: ${result.verification.message}` : '-'}`,
    `managed secret   ${result.secret ?? '-'}`,
    `measured RTO     ${rto}`,
    `cleanup          ${cleanup}`,
    result.ok ? 'RESULT: restored and verified' : `RESULT: FAILED: ${failure(result)}`,
  ];
  return { lines, exitCode: result.ok ? 0 : 1 };
}

/**
 * Why a drill that is not ok failed, in one line: its error, else a verification that was not
 * SUCCESSFUL, else the one failure left, the copy that could not be deleted.
 */
function failure(result: DrillResult): string {
  if (result.error) return result.error;
  if (result.verification && result.verification.status !== 'SUCCESSFUL') return `the verification was ${result.verification.status}: ${result.verification.message}`;
  return `${result.instance} could not be deleted`;
}
