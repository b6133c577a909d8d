import { type BackupClient, DescribeRestoreJobCommand, GetRestoreTestingPlanCommand, ListRestoreJobsCommand, PutRestoreValidationResultCommand } from '@aws-sdk/client-backup';
import { type CloudWatchClient, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { type DBInstance, DescribeDBInstancesCommand, ModifyDBInstanceCommand, type RDSClient } from '@aws-sdk/client-rds';
import type { ClientConfig } from 'pg';
import { PROJECT } from '../../lib/shared/naming';
import type { Session } from '../database-setup/custom-resource';
import { checkDatabase, type Expectations } from './checks';

/** detail-type of the event scripts/restore-drill.ts invokes the verifier with. */
export const DRILL_EVENT = 'Restore Drill';

/** The metric namespace the verifier publishes to (dimension Stage). */
export const METRIC_NAMESPACE = `${PROJECT}/RestoreTesting`;

export interface VerifierSettings {
  readonly stage: string;
  /** ARN of the stage's restore testing plan: restores of other plans are left alone. */
  readonly restoreTestingPlanArn: string;
  readonly databaseName: string;
  readonly expectations: Expectations;
  /** How long to wait for the new master password to apply. */
  readonly passwordWaitMinutes: number;
}

export interface VerifierDeps {
  readonly backup: Pick<BackupClient, 'send'>;
  readonly rds: Pick<RDSClient, 'send'>;
  readonly cloudwatch: Pick<CloudWatchClient, 'send'>;
  readonly connect: (config: ClientConfig) => Promise<Session>;
  readonly ssl: ClientConfig['ssl'];
  readonly password: () => string;
  readonly sleep: (ms: number) => Promise<void>;
  readonly now: () => Date;
}

export interface Verification {
  readonly restoreJobId: string;
  /** SKIPPED: a restore of another plan, nothing reported. */
  readonly status: 'SUCCESSFUL' | 'FAILED' | 'SKIPPED';
  readonly message: string;
  /** Seconds from the restore job's creation to its completion: the measured RTO of the restore. */
  readonly restoreSeconds?: number;
  readonly instance?: string;
}

/**
 * Verifies one completed restore job of the stage's restore testing plan: sets a fresh master
 * password on the restored instance, connects over verified TLS, runs the checks, and reports the
 * result to AWS Backup (PutRestoreValidationResult) and to CloudWatch (VerificationSucceeded 1 or
 * 0, RestoreDurationSeconds). A restore that cannot be reached or checked is reported FAILED with
 * the reason; only a failure to report throws.
 */
export async function verifyRestoreJob(restoreJobId: string, deps: VerifierDeps, settings: VerifierSettings, { drill = false } = {}): Promise<Verification> {
  const job = await deps.backup.send(new DescribeRestoreJobCommand({ RestoreJobId: restoreJobId }));
  if (drill) return verifyDrill(restoreJobId, job, deps, settings);
  if (job.CreatedBy?.RestoreTestingPlanArn !== settings.restoreTestingPlanArn) {
    return {
      restoreJobId,
      status: 'SKIPPED',
      message: `restore job of ${job.CreatedBy?.RestoreTestingPlanArn ?? 'no restore testing plan'}, not ${settings.restoreTestingPlanArn}`,
    };
  }
  const restoreSeconds = job.CreationDate && job.CompletionDate ? Math.round((job.CompletionDate.getTime() - job.CreationDate.getTime()) / 1000) : undefined;
  const instance = restoredInstance(job);
  const { status, message: full } =
    job.Status !== 'COMPLETED' || !instance
      ? {
          status: 'FAILED' as const,
          message: `restore job ${restoreJobId} is ${job.Status} (${job.StatusMessage ?? 'no message'}) and created ${job.CreatedResourceArn ?? 'no DB instance'}`,
        }
      : await checkInstance(instance, deps, settings);
  const message = full.slice(0, 1000);

  await deps.backup.send(new PutRestoreValidationResultCommand({ RestoreJobId: restoreJobId, ValidationStatus: status, ValidationStatusMessage: message }));
  const timestamp = deps.now();
  const dimensions = [{ Name: 'Stage', Value: settings.stage }];
  await deps.cloudwatch.send(
    new PutMetricDataCommand({
      Namespace: METRIC_NAMESPACE,
      MetricData: [
        { MetricName: 'VerificationSucceeded', Dimensions: dimensions, Value: status === 'SUCCESSFUL' ? 1 : 0, Unit: 'Count', Timestamp: timestamp },
        ...(restoreSeconds !== undefined
          ? [{ MetricName: 'RestoreDurationSeconds', Dimensions: dimensions, Value: restoreSeconds, Unit: 'Seconds' as const, Timestamp: timestamp }]
          : []),
      ],
    }),
  );
  console.log(JSON.stringify({ message: 'restore verified', restoreJobId, status, detail: message, restoreSeconds }));
  return { restoreJobId, status, message, restoreSeconds, instance };
}

/**
 * A drill restore (scripts/restore-drill.ts): the same checks on an instance named
 * restore-drill-<stage>-..., reported only to the caller. AWS Backup takes validation results only
 * for restore-testing jobs, and drills must not move the restore-testing metrics.
 */
async function verifyDrill(restoreJobId: string, job: { CreatedResourceArn?: string }, deps: VerifierDeps, settings: VerifierSettings): Promise<Verification> {
  const instance = restoredInstance(job);
  if (!instance?.startsWith(`restore-drill-${settings.stage}-`)) {
    return { restoreJobId, status: 'SKIPPED', message: `not a drill restore of ${settings.stage}: ${job.CreatedResourceArn ?? 'no DB instance'}` };
  }
  return { restoreJobId, instance, ...(await checkInstance(instance, deps, settings)) };
}

/** The DB instance identifier a restore job created, if any. */
function restoredInstance(job: { CreatedResourceArn?: string }): string | undefined {
  return job.CreatedResourceArn?.split(':db:')[1];
}

/**
 * Checks a restored instance: SUCCESSFUL with what passed, or FAILED with every problem, or with
 * why it could not be checked at all. Never throws.
 */
async function checkInstance(instance: string, deps: VerifierDeps, settings: VerifierSettings): Promise<{ status: 'SUCCESSFUL' | 'FAILED'; message: string }> {
  try {
    const result = await runChecks(instance, deps, settings);
    return { status: result.ok ? 'SUCCESSFUL' : 'FAILED', message: `${instance}: ${(result.ok ? result.passed : result.failures).join('; ')}` };
  } catch (error) {
    return { status: 'FAILED', message: `${instance}: ${(error as Error).message}` };
  }
}

/** Sets a fresh master password, waits for it, connects and runs the checks. */
async function runChecks(instance: string, deps: VerifierDeps, settings: VerifierSettings) {
  const password = deps.password();
  await deps.rds.send(new ModifyDBInstanceCommand({ DBInstanceIdentifier: instance, MasterUserPassword: password, ApplyImmediately: true }));
  const deadline = deps.now().getTime() + settings.passwordWaitMinutes * 60_000;
  let db: DBInstance | undefined;
  for (;;) {
    db = (await deps.rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: instance }))).DBInstances?.[0];
    const pending = db?.PendingModifiedValues?.MasterUserPassword !== undefined;
    if (db?.DBInstanceStatus === 'available' && !pending) break;
    if (deps.now().getTime() >= deadline) {
      throw new Error(`the new master password did not apply within ${settings.passwordWaitMinutes} minutes (instance is ${db?.DBInstanceStatus})`);
    }
    await deps.sleep(15_000);
  }
  const host = db?.Endpoint?.Address;
  const port = db?.Endpoint?.Port ?? 5432;
  if (!host) throw new Error('the restored instance has no endpoint');
  let session: Session;
  try {
    session = await deps.connect({
      host,
      port,
      user: db?.MasterUsername,
      password,
      database: settings.databaseName,
      ssl: deps.ssl,
      connectionTimeoutMillis: 10_000,
    });
  } catch (error) {
    throw new Error(`could not connect to ${host}:${port}/${settings.databaseName}: ${(error as Error).message}`);
  }
  try {
    return await checkDatabase(session, settings.expectations);
  } finally {
    await session.end();
  }
}

/**
 * The daily watchdog: was a restore of the stage's plan verified SUCCESSFUL within the expected
 * interval? Publishes VerifiedWithinInterval (1 or 0); the stale alarm treats a missing value as
 * breaching, so a watchdog that stops running is noticed too. A plan younger than the interval
 * has not had its first scheduled test yet (up to a month in staging): it counts as fresh until
 * it is `maxAgeDays` old. A plan whose age cannot be read gets no grace.
 */
export async function checkFreshness(
  deps: Pick<VerifierDeps, 'backup' | 'cloudwatch' | 'now'>,
  settings: Pick<VerifierSettings, 'stage' | 'restoreTestingPlanArn'> & { readonly restoreTestingPlanName: string; readonly maxAgeDays: number },
) {
  const now = deps.now();
  const since = new Date(now.getTime() - settings.maxAgeDays * 86_400_000);
  let last: Date | undefined;
  let nextToken: string | undefined;
  do {
    const page = await deps.backup.send(new ListRestoreJobsCommand({ ByRestoreTestingPlanArn: settings.restoreTestingPlanArn, ByCreatedAfter: since, NextToken: nextToken }));
    for (const job of page.RestoreJobs ?? []) {
      if (job.ValidationStatus === 'SUCCESSFUL' && job.CreationDate && (!last || job.CreationDate > last)) last = job.CreationDate;
    }
    nextToken = page.NextToken;
  } while (nextToken);
  const fresh = last !== undefined;
  const created = fresh ? undefined : await planCreation(deps, settings.restoreTestingPlanName);
  const graceUntil = created && new Date(created.getTime() + settings.maxAgeDays * 86_400_000);
  const inGrace = graceUntil !== undefined && now < graceUntil;
  await deps.cloudwatch.send(
    new PutMetricDataCommand({
      Namespace: METRIC_NAMESPACE,
      MetricData: [
        { MetricName: 'VerifiedWithinInterval', Dimensions: [{ Name: 'Stage', Value: settings.stage }], Value: fresh || inGrace ? 1 : 0, Unit: 'Count', Timestamp: now },
      ],
    }),
  );
  const result = { fresh, lastVerified: last?.toISOString(), maxAgeDays: settings.maxAgeDays, ...(inGrace ? { graceUntil: graceUntil.toISOString() } : {}) };
  console.log(JSON.stringify({ message: 'restore verification freshness', ...result }));
  return result;
}

/** When the restore testing plan was created, or undefined when that cannot be read. */
async function planCreation(deps: Pick<VerifierDeps, 'backup'>, name: string): Promise<Date | undefined> {
  try {
    return (await deps.backup.send(new GetRestoreTestingPlanCommand({ RestoreTestingPlanName: name }))).RestoreTestingPlan?.CreationTime;
  } catch (error) {
    console.error(JSON.stringify({ message: 'could not read the restore testing plan; no grace period', name, error: (error as Error).name }));
    return undefined;
  }
}
