import { DescribeServicesCommand, DescribeTaskDefinitionCommand, type ECSClient, ListServicesCommand } from '@aws-sdk/client-ecs';
import {
  CopyDBSnapshotCommand,
  CreateDBSnapshotCommand,
  type DBSnapshot,
  DeleteDBSnapshotCommand,
  DescribeDBInstancesCommand,
  DescribeDBSnapshotsCommand,
  type DescribeDBSnapshotsCommandInput,
  type RDSClient,
  type Tag,
} from '@aws-sdk/client-rds';
import { projectTag } from '../../lib/shared/naming';

/** Tag keys this tool writes; `TOOL_TAG` marks its snapshots, the only ones it ever prunes. */
export const TOOL_TAG = projectTag('pre-deploy-snapshot');
export const TAGS = {
  stage: projectTag('stage'),
  release: projectTag('release'),
  image: projectTag('image'),
  previousImage: projectTag('previous-image'),
  stack: projectTag('stack'),
} as const;

/** What the custom resource knows about the release and the stage. */
export interface SnapshotSettings {
  readonly stage: string;
  readonly dbInstanceIdentifier: string;
  /** Release identity: the image reference plus a hash of the task settings. */
  readonly release: string;
  /** The image the release deploys. */
  readonly image: string;
  readonly stackName: string;
  readonly cluster: string;
  /**
   * Task definition family of the web service, whose running image is recorded as the previous
   * image. By family, because the service itself waits for this snapshot and cannot be named here.
   */
  readonly webTaskFamily: string;
  /** How many of this tool's snapshots to keep per region. */
  readonly keep: number;
  /** Where to copy the snapshot, if anywhere. */
  readonly dr?: { readonly region: string; readonly kmsKeyArn: string };
  /** Minutes to wait for the database to become available before failing. */
  readonly dbWaitMinutes: number;
}

export interface Clients {
  readonly rds: Pick<RDSClient, 'send'>;
  /** RDS in the DR region (CopyDBSnapshot runs in the destination region). */
  readonly rdsDr?: Pick<RDSClient, 'send'>;
  readonly ecs: Pick<ECSClient, 'send'>;
}

/** The state isComplete carries between polls. */
export interface Progress {
  readonly snapshotId: string;
  /** ISO time the release asked for a snapshot. */
  readonly startedAt: string;
}

export interface Outcome {
  readonly complete: boolean;
  readonly snapshotId: string;
  readonly snapshotArn?: string;
  /** The DR copy: "started <id>", "exists", "not configured" or "failed: <reason>". */
  readonly drCopy?: string;
  /** Snapshots this run deleted (both regions). */
  readonly pruned?: string[];
  /** Problems that did not stop the release (copy or prune), already logged. */
  readonly warnings?: string[];
}

/**
 * RDS instance states in which CreateDBSnapshot succeeds. storage-optimization follows every
 * storage change (autoscaling too) and can last hours; RDS allows snapshots during it.
 */
export const SNAPSHOTTABLE: ReadonlySet<string> = new Set(['available', 'storage-optimization']);
/** States that pass on their own; anything else (stopped, failed, storage-full, ...) needs a person. */
const TRANSIENT = new Set([
  'backing-up',
  'modifying',
  'configuring-enhanced-monitoring',
  'configuring-log-exports',
  'upgrading',
  'rebooting',
  'maintenance',
  'resetting-master-credentials',
  'renaming',
  'starting',
  'configuring-iam-database-auth',
  'creating',
]);

/**
 * A snapshot id RDS accepts and a person can read: `predeploy-<stage>-<release>-<yyyymmddhhmm>`.
 * RDS ids are 1-255 letters, digits and hyphens, start with a letter, and have no double hyphen
 * and no hyphen at the end.
 */
export function snapshotId(stage: string, release: string, at: Date): string {
  const time = at.toISOString().replace(/[-:T]/g, '').slice(0, 12);
  const clean = (s: string) =>
    s
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-+|-+$/g, '');
  const releasePart = clean(release).slice(0, 200).replace(/-+$/, '');
  return `predeploy-${clean(stage)}-${releasePart}-${time}`.replace(/-{2,}/g, '-');
}

/** The error a failed step throws: it names the database, the reason and what to do. */
export class SnapshotError extends Error {}

function fail(settings: SnapshotSettings, reason: string, action: string): never {
  throw new SnapshotError(
    `Pre-deploy snapshot of database ${settings.dbInstanceIdentifier} (stage ${settings.stage}, release ${settings.release}) failed: ${reason}. ${action} ` +
      'The release has not reached the services. In an emergency only, deploy with -c skipPreDeploySnapshot=true (docs/disaster-recovery.md).',
  );
}

/** Turns an AWS SDK error into a SnapshotError with a reason and an action. */
function explain(settings: SnapshotSettings, step: string, error: unknown): never {
  if (error instanceof SnapshotError) throw error;
  const e = error as { name?: string; message?: string; $metadata?: { attempts?: number } };
  const name = e.name ?? 'Error';
  const message = e.message ?? String(error);
  switch (name) {
    case 'SnapshotQuotaExceededFault':
    case 'SnapshotQuotaExceeded':
      return fail(
        settings,
        `${step}: the account's manual DB snapshot quota is used up (${message})`,
        'Delete manual snapshots that are no longer needed or ask AWS for a higher quota ("Manual DB instance snapshots", 100 by default), then deploy again.',
      );
    case 'InvalidDBInstanceStateFault':
    case 'InvalidDBInstanceState':
      return fail(
        settings,
        `${step}: the database is not in a state that allows a snapshot (${message})`,
        'Wait until the instance shows "available" in the RDS console, then deploy again.',
      );
    case 'DBInstanceNotFoundFault':
    case 'DBInstanceNotFound':
      return fail(settings, `${step}: the database does not exist (${message})`, 'Check that the data stack of this stage is deployed.');
    case 'ThrottlingException':
    case 'Throttling':
    case 'TooManyRequestsException':
      return fail(settings, `${step}: the RDS API is throttling requests and kept doing so after ${e.$metadata?.attempts ?? 'several'} attempts`, 'Deploy again in a few minutes.');
    case 'AccessDenied':
    case 'AccessDeniedException':
    case 'AccessDeniedFault':
      return fail(settings, `${step}: access denied (${message})`, "The snapshot function's role lacks a permission; check the stack's IAM policy for this stage.");
    default:
      return fail(settings, `${step}: unexpected ${name}: ${message}`, "Check the function's log, fix the cause and deploy again.");
  }
}

const tagValue = (tags: Tag[] | undefined, key: string) => tags?.find((t) => t.Key === key)?.Value;

/** A snapshot's tag, or undefined. */
export const snapshotTag = (snapshot: DBSnapshot, key: string) => tagValue(snapshot.TagList, key);

/** Whether a snapshot is this tool's, of the stage: by the tags it puts on each. */
export const isStageSnapshot = (snapshot: DBSnapshot, stage: string) => snapshotTag(snapshot, TOOL_TAG) === 'true' && snapshotTag(snapshot, TAGS.stage) === stage;

/** Every snapshot DescribeDBSnapshots lists for the filter, all its pages. */
export async function listSnapshots(rds: Pick<RDSClient, 'send'>, filter: Omit<DescribeDBSnapshotsCommandInput, 'Marker'>): Promise<DBSnapshot[]> {
  const found: DBSnapshot[] = [];
  let Marker: string | undefined;
  do {
    const page = await rds.send(new DescribeDBSnapshotsCommand({ ...filter, Marker }));
    found.push(...(page.DBSnapshots ?? []));
    Marker = page.Marker;
  } while (Marker);
  return found;
}

/** This tool's snapshots of the database in one region, newest first. */
async function ownSnapshots(rds: Clients['rds'], settings: SnapshotSettings): Promise<DBSnapshot[]> {
  return (await listSnapshots(rds, { DBInstanceIdentifier: settings.dbInstanceIdentifier, SnapshotType: 'manual' }))
    .filter((s) => isStageSnapshot(s, settings.stage))
    .sort((a, b) => (b.SnapshotCreateTime?.getTime() ?? 0) - (a.SnapshotCreateTime?.getTime() ?? 0));
}

/** A snapshot by its identifier in the client's region, or undefined when there is none. */
export async function snapshotById(rds: Clients['rds'], id: string): Promise<DBSnapshot | undefined> {
  try {
    const out = await rds.send(new DescribeDBSnapshotsCommand({ DBSnapshotIdentifier: id }));
    return out.DBSnapshots?.[0];
  } catch (error) {
    if ((error as { name?: string }).name?.startsWith('DBSnapshotNotFound')) return undefined;
    throw error;
  }
}

/** The image the web service runs now, or a note when there is none yet (first release). */
async function runningImage(ecs: Clients['ecs'], settings: SnapshotSettings): Promise<string> {
  const arns: string[] = [];
  let nextToken: string | undefined;
  do {
    const page = await ecs.send(new ListServicesCommand({ cluster: settings.cluster, nextToken }));
    arns.push(...(page.serviceArns ?? []));
    nextToken = page.nextToken;
  } while (nextToken);
  for (let i = 0; i < arns.length; i += 10) {
    const out = await ecs.send(new DescribeServicesCommand({ cluster: settings.cluster, services: arns.slice(i, i + 10) }));
    for (const service of out.services ?? []) {
      if (service.status === 'INACTIVE') continue;
      const running = service.deployments?.find((d) => d.status === 'PRIMARY')?.taskDefinition ?? service.taskDefinition;
      if (!running?.includes(`:task-definition/${settings.webTaskFamily}:`)) continue;
      const td = await ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: running }));
      return td.taskDefinition?.containerDefinitions?.[0]?.image ?? 'unknown';
    }
  }
  return 'none (first release)';
}

/**
 * Create/Update: returns the release's snapshot at once when it already exists (a retry, or a
 * CloudFormation rollback sending the previous release again), otherwise starts one, or, when
 * the database is busy, leaves the start to `poll`.
 */
export async function begin(clients: Clients, settings: SnapshotSettings, now: Date): Promise<{ progress: Progress; outcome?: Outcome }> {
  const startedAt = now.toISOString();
  try {
    const existing = (await ownSnapshots(clients.rds, settings)).find((s) => tagValue(s.TagList, TAGS.release) === settings.release && s.Status !== 'failed');
    if (existing?.DBSnapshotIdentifier) {
      const progress = { snapshotId: existing.DBSnapshotIdentifier, startedAt };
      if (existing.Status === 'available') {
        return { progress, outcome: { complete: true, snapshotId: existing.DBSnapshotIdentifier, snapshotArn: existing.DBSnapshotArn, drCopy: 'started by the run that took it' } };
      }
      return { progress };
    }
    const progress = { snapshotId: snapshotId(settings.stage, settings.release, now), startedAt };
    await startIfReady(clients, settings, progress, now);
    return { progress };
  } catch (error) {
    explain(settings, 'starting the snapshot', error);
  }
}

/** Creates the snapshot when the database is available; fails on states that will not pass. */
async function startIfReady(clients: Clients, settings: SnapshotSettings, progress: Progress, now: Date): Promise<void> {
  const db = (await clients.rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: settings.dbInstanceIdentifier }))).DBInstances?.[0];
  const status = db?.DBInstanceStatus ?? 'unknown';
  if (!SNAPSHOTTABLE.has(status)) {
    const waited = (now.getTime() - Date.parse(progress.startedAt)) / 60_000;
    if (!TRANSIENT.has(status)) {
      fail(
        settings,
        `the database is "${status}", a state that does not pass on its own`,
        'Bring the instance back to "available" (start it, fix storage, ...), then deploy again.',
      );
    }
    if (waited >= settings.dbWaitMinutes) {
      fail(
        settings,
        `the database was still "${status}" after waiting ${Math.round(waited)} minutes`,
        'Wait until the instance shows "available" in the RDS console, then deploy again.',
      );
    }
    console.log(JSON.stringify({ message: 'database busy, waiting', status, waitedMinutes: Math.round(waited) }));
    return;
  }
  const previousImage = await runningImage(clients.ecs, settings);
  try {
    await clients.rds.send(
      new CreateDBSnapshotCommand({
        DBInstanceIdentifier: settings.dbInstanceIdentifier,
        DBSnapshotIdentifier: progress.snapshotId,
        Tags: [
          { Key: TOOL_TAG, Value: 'true' },
          { Key: TAGS.stage, Value: settings.stage },
          { Key: TAGS.release, Value: settings.release.slice(0, 256) },
          { Key: TAGS.image, Value: settings.image.slice(0, 256) },
          { Key: TAGS.previousImage, Value: previousImage.slice(0, 256) },
          { Key: TAGS.stack, Value: settings.stackName },
        ],
      }),
    );
  } catch (error) {
    const name = (error as { name?: string }).name ?? '';
    if (!name.startsWith('DBSnapshotAlreadyExists')) throw error;
    // Ours from an earlier poll of this same run is fine; anything else is a name clash.
    const clash = await snapshotById(clients.rds, progress.snapshotId);
    if (tagValue(clash?.TagList, TAGS.release) !== settings.release) {
      fail(settings, `a snapshot named ${progress.snapshotId} already exists and is not this release's`, 'Rename or delete that snapshot, then deploy again.');
    }
  }
  console.log(JSON.stringify({ message: 'snapshot started', snapshotId: progress.snapshotId, previousImage }));
}

/**
 * isComplete: waits for the snapshot to be available (starting it first if the database was
 * busy), then starts the DR copy without waiting for it and prunes this tool's old snapshots.
 * Copy and prune problems are reported, not fatal: the release's snapshot exists.
 */
export async function poll(clients: Clients, settings: SnapshotSettings, progress: Progress, now: Date): Promise<Outcome> {
  let snapshot: DBSnapshot | undefined;
  try {
    snapshot = await snapshotById(clients.rds, progress.snapshotId);
    if (!snapshot) {
      await startIfReady(clients, settings, progress, now);
      return { complete: false, snapshotId: progress.snapshotId };
    }
  } catch (error) {
    explain(settings, `waiting for snapshot ${progress.snapshotId}`, error);
  }
  if (snapshot.Status === 'creating' || snapshot.Status === 'pending') {
    return { complete: false, snapshotId: progress.snapshotId };
  }
  if (snapshot.Status !== 'available') {
    fail(settings, `snapshot ${progress.snapshotId} ended in status "${snapshot.Status}"`, "Look at the instance's events in the RDS console, then deploy again.");
  }

  const warnings: string[] = [];
  const drCopy = await copyToDr(clients, settings, snapshot, warnings);
  const pruned = await prune(clients, settings, progress.snapshotId, warnings);
  return { complete: true, snapshotId: progress.snapshotId, snapshotArn: snapshot.DBSnapshotArn, drCopy, pruned, warnings };
}

async function copyToDr(clients: Clients, settings: SnapshotSettings, snapshot: DBSnapshot, warnings: string[]): Promise<string> {
  if (!settings.dr || !clients.rdsDr) return 'not configured';
  const id = snapshot.DBSnapshotIdentifier!;
  try {
    await clients.rdsDr.send(
      new CopyDBSnapshotCommand({
        SourceDBSnapshotIdentifier: snapshot.DBSnapshotArn,
        TargetDBSnapshotIdentifier: id,
        KmsKeyId: settings.dr.kmsKeyArn,
        CopyTags: true,
        // The SDK presigns the source-region request itself when the source is an ARN of another region.
      }),
    );
    return `started ${id} in ${settings.dr.region}`;
  } catch (error) {
    const e = error as { name?: string; message?: string };
    if (e.name?.startsWith('DBSnapshotAlreadyExists')) return 'exists';
    const warning = `copy of ${id} to ${settings.dr.region} failed (${e.name}: ${e.message}); copy it by hand: docs/disaster-recovery.md`;
    console.error(JSON.stringify({ message: 'DR copy failed', snapshotId: id, error: e.name, detail: e.message }));
    warnings.push(warning);
    return `failed: ${warning}`;
  }
}

/** Deletes this tool's snapshots beyond the newest `keep`, in each region, never the current one. */
async function prune(clients: Clients, settings: SnapshotSettings, current: string, warnings: string[]): Promise<string[]> {
  const deleted: string[] = [];
  const regions: [string, Clients['rds']][] = [['primary', clients.rds]];
  if (settings.dr && clients.rdsDr) regions.push([settings.dr.region, clients.rdsDr]);
  for (const [where, rds] of regions) {
    try {
      const own = await ownSnapshots(rds, settings);
      const surplus = own.slice(Math.max(settings.keep, 1)).filter((s) => s.DBSnapshotIdentifier !== current && s.Status === 'available');
      for (const s of surplus) {
        await rds.send(new DeleteDBSnapshotCommand({ DBSnapshotIdentifier: s.DBSnapshotIdentifier }));
        deleted.push(`${where}:${s.DBSnapshotIdentifier}`);
      }
    } catch (error) {
      const e = error as { name?: string; message?: string };
      const warning = `pruning old pre-deploy snapshots in ${where} failed (${e.name}: ${e.message}); they count against the snapshot quota`;
      console.error(JSON.stringify({ message: 'prune failed', region: where, error: e.name, detail: e.message }));
      warnings.push(warning);
    }
  }
  return deleted;
}
