/**
 * The release record as it is stored: one SSM parameter per stage, `/webapp/<stage>/releases/current`,
 * whose value is the JSON of the release that runs now and whose parameter history (the newest 100
 * versions SSM keeps) is the stage's release history, newest last. The release-record function
 * writes it; rollback, deploy and restore read it. One parameter, not one per release: what runs
 * now is one GetParameter, the history one paged GetParameterHistory, and nothing needs pruning
 * (SSM drops the oldest version itself as long as no version carries a label).
 */
import { PROJECT } from '../../lib/shared/naming';

/** The parameter a stage's release record lives in. */
export const releaseParameter = (stage: string) => `/${PROJECT}/${stage}/releases/current`;

/** A standard parameter holds at most 4 KB: bytes, not characters (a migration name may not be ASCII). */
export const PARAMETER_MAX_BYTES = 4096;

/** What the record says of one release. */
export interface StoredRelease {
  readonly stage: string;
  /** The release id: `<image tag>-<8 hex of the task settings' hash>` (the pre-deploy snapshot's). */
  readonly release: string;
  /** The image reference the task definitions name (`webapp:v1.4.2` or `webapp@sha256:...`). */
  readonly image: string;
  /** The image's digest in the stage's registry, or '' when it could not be read. */
  readonly digest: string;
  /** The git commit the assembly was synthesized from (`-c commit`), or '' when the deploy did not say. */
  readonly commit: string;
  readonly snapshotId: string;
  /** The deploy ran with -c skipPreDeploySnapshot=true: no snapshot, no rollback restore point. */
  readonly snapshotSkipped: boolean;
  /** When the release's first step (the pre-deploy snapshot, or its skip) started. */
  readonly startedAt: string;
  /** The migration: its task ARN ('skipped' when the release was migrated before, 'none' without a step), start and duration. */
  readonly migrationTask: string;
  readonly migrationStartedAt: string;
  readonly migrationSeconds: number;
  /** The migrations the tool reported applying (docs/app-contract.md), or null when it reported none. */
  readonly migrationsApplied: readonly string[] | null;
  /** When both services ran the release. */
  readonly completedAt: string;
  /** The release that ran before, or '' for the stage's first recorded release. */
  readonly previous: string;
  /**
   * Recorded while CloudFormation rolled the App stack back: this release runs again after a newer
   * one failed later in the same deploy; `previous` is then what ran before this release, not the failed one.
   */
  readonly stackRollback: boolean;
}

/** A release with its parameter version (the release history's order). */
export interface RecordedRelease extends StoredRelease {
  readonly version: number;
}

/** The record of a parameter value, or undefined when it is not one (an older or foreign value). */
export function parseStoredRelease(value: string | undefined): StoredRelease | undefined {
  if (!value) return undefined;
  try {
    const parsed = JSON.parse(value) as Partial<StoredRelease>;
    if (typeof parsed?.release !== 'string' || typeof parsed.image !== 'string') return undefined;
    return {
      stage: String(parsed.stage ?? ''),
      release: parsed.release,
      image: parsed.image,
      digest: String(parsed.digest ?? ''),
      commit: String(parsed.commit ?? ''),
      snapshotId: String(parsed.snapshotId ?? ''),
      snapshotSkipped: parsed.snapshotSkipped === true,
      startedAt: String(parsed.startedAt ?? ''),
      migrationTask: String(parsed.migrationTask ?? 'none'),
      migrationStartedAt: String(parsed.migrationStartedAt ?? ''),
      migrationSeconds: Number(parsed.migrationSeconds ?? 0),
      migrationsApplied: Array.isArray(parsed.migrationsApplied) ? parsed.migrationsApplied.map(String) : null,
      completedAt: String(parsed.completedAt ?? ''),
      previous: String(parsed.previous ?? ''),
      stackRollback: parsed.stackRollback === true,
    };
  } catch {
    return undefined;
  }
}

/**
 * The record as a parameter value within the 4 KB limit: migration names are dropped from the end
 * (the count of those left out is said in the list's last entry) until it fits.
 */
export function storedValue(record: StoredRelease): string {
  let value = JSON.stringify(record);
  const names = record.migrationsApplied ?? [];
  for (let kept = names.length - 1; Buffer.byteLength(value) > PARAMETER_MAX_BYTES && kept >= 0; kept--) {
    value = JSON.stringify({ ...record, migrationsApplied: [...names.slice(0, kept), `... and ${names.length - kept} more (the migration task's log has them all)`] });
  }
  return value;
}

/** Whether a migration task really ran for the release (not skipped as migrated before, not a stage without the step). */
export const ranMigration = (r: Pick<StoredRelease, 'migrationTask'>) => r.migrationTask.startsWith('arn:');
