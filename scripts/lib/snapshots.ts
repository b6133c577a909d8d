/**
 * What `npm run snapshots` does in a stage's region (docs/runbooks.md, "A deploy failed at the
 * pre-deploy snapshot"): the manual snapshots that count against the account's quota, the quota
 * itself (RDS DescribeAccountAttributes, `ManualSnapshots`), and, when asked, the stage's old
 * manual snapshots deleted. Never deleted: the pre-deploy snapshots within
 * `backup.preDeploySnapshotsKept` (the newest always: it names the running release and is what a
 * rollback or a repair restores), AWS Backup's (its plan deletes them), another instance's,
 * and any snapshot not yet available. Every function takes its SDK clients, so the tests run them
 * against moto.
 */
import { type DBSnapshot, DeleteDBSnapshotCommand, DescribeAccountAttributesCommand, RDSClient } from '@aws-sdk/client-rds';
import { STSClient } from '@aws-sdk/client-sts';
import { isStageSnapshot, listSnapshots } from '../../lambda/pre-deploy-snapshot/snapshot';
import type { StageConfig, StageName } from '../../lib/config';
import { stageResourceName } from '../../lib/shared/naming';
import { UsageError } from './assembly';
import { accountProblem } from './credentials';

export interface SnapshotsArgs {
  readonly stage: StageName;
  /** Delete the stage's manual snapshots older than this many days (those the rules allow). */
  readonly deleteOlderThanDays?: number;
  readonly yes: boolean;
  readonly account?: string;
  readonly context: Record<string, string>;
}

export interface SnapshotsClients {
  readonly sts: Pick<STSClient, 'send'>;
  readonly rds: Pick<RDSClient, 'send'>;
}

/** One snapshot and what happens to it. */
export interface Verdict {
  readonly id: string;
  readonly instance: string;
  readonly created?: Date;
  readonly type: string;
  /** Deleted with --yes, or why it is kept. */
  readonly action: 'delete' | 'keep';
  readonly why: string;
}

const DAY = 86_400_000;

/** Whether a snapshot is the stage's pre-deploy snapshot: the tool's tags (as the tool prunes them), or its name should the tags be gone. */
const isPreDeploy = (s: DBSnapshot, stage: string) => isStageSnapshot(s, stage) || (s.DBSnapshotIdentifier ?? '').startsWith(`predeploy-${stage}-`);

/** Whether an instance is the stage database or one of its copies (`webapp-<stage>-repair`, `-old`, `-dump-*`). */
export function isStageInstance(instance: string, stage: StageName): boolean {
  return instance === stageResourceName(stage) || instance.startsWith(`${stageResourceName(stage)}-`);
}

/**
 * Decides each snapshot, newest first. Pure: the listing and the deletion are the callers'.
 * `olderThanDays` undefined lists only (every snapshot kept, each with why it would be).
 */
export function judge(snapshots: readonly DBSnapshot[], stage: StageName, kept: number, now: Date, olderThanDays?: number): Verdict[] {
  const newestFirst = [...snapshots].sort((a, b) => (b.SnapshotCreateTime?.getTime() ?? 0) - (a.SnapshotCreateTime?.getTime() ?? 0));
  const preDeploy = newestFirst.filter((s) => isPreDeploy(s, stage));
  return newestFirst.map((s) => {
    const base = { id: s.DBSnapshotIdentifier ?? '', instance: s.DBInstanceIdentifier ?? '', created: s.SnapshotCreateTime, type: s.SnapshotType ?? '' };
    const keep = (why: string): Verdict => ({ ...base, action: 'keep', why });
    if (s.SnapshotType !== 'manual') return keep(`${s.SnapshotType}: its backup plan deletes it`);
    if (!isStageInstance(base.instance, stage)) return keep(`not ${stage}'s (instance ${base.instance})`);
    const rank = preDeploy.indexOf(s);
    if (rank === 0) return keep('the newest pre-deploy snapshot: the running release restores from it');
    if (rank > 0 && rank < kept) return keep(`pre-deploy, within backup.preDeploySnapshotsKept (${kept})`);
    if (s.Status !== 'available') return keep(`${s.Status}, not available`);
    const ageDays = s.SnapshotCreateTime ? (now.getTime() - s.SnapshotCreateTime.getTime()) / DAY : 0;
    if (olderThanDays === undefined) return keep(`${Math.floor(ageDays)} days old${rank > 0 ? ', pre-deploy beyond those kept (a prune that failed)' : ''}`);
    if (ageDays <= olderThanDays) return keep(`${Math.floor(ageDays)} days old, not older than ${olderThanDays}`);
    return { ...base, action: 'delete', why: `${Math.floor(ageDays)} days old${rank > 0 ? ', pre-deploy beyond those kept (a prune that failed)' : ''}` };
  });
}

/** Every snapshot of the region that counts against the manual snapshot quota: manual ones and AWS Backup's. */
async function quotaSnapshots(rds: SnapshotsClients['rds']): Promise<DBSnapshot[]> {
  const found: DBSnapshot[] = [];
  for (const SnapshotType of ['manual', 'awsbackup']) found.push(...(await listSnapshots(rds, { SnapshotType })).filter((s) => s.SnapshotType === SnapshotType));
  return found;
}

/** The region's manual snapshot quota: used and max. */
async function manualSnapshotQuota(rds: SnapshotsClients['rds']): Promise<{ used: number; max: number } | undefined> {
  const out = await rds.send(new DescribeAccountAttributesCommand({}));
  const quota = out.AccountQuotas?.find((q) => q.AccountQuotaName === 'ManualSnapshots');
  return quota ? { used: quota.Used ?? 0, max: quota.Max ?? 0 } : undefined;
}

/** Lists the snapshots against the quota and deletes what `--delete-older-than` allows (with --yes); returns the exit code. */
export async function runSnapshots(args: SnapshotsArgs, clients: SnapshotsClients, config: StageConfig, now: Date, say: (line: string) => void): Promise<number> {
  const problem = await accountProblem(clients.sts, config.account, args.stage, { command: 'snapshots', acting: args.yes && args.deleteOlderThanDays !== undefined, config });
  if (problem) throw new UsageError(problem);
  const [quota, snapshots] = await Promise.all([manualSnapshotQuota(clients.rds), quotaSnapshots(clients.rds)]);
  const kept = config.backup.preDeploySnapshotsKept;
  const verdicts = judge(snapshots, args.stage, kept, now, args.deleteOlderThanDays);
  const usage = quota ? `${quota.used} of ${quota.max} manual snapshots used` : 'the manual snapshot quota is unknown (RDS returned no ManualSnapshots)';
  say(
    `${config.region} (${config.account}): ${usage}; ${snapshots.length} listed here, ${verdicts.filter((v) => isStageInstance(v.instance, args.stage)).length} of them ${args.stage}'s`,
  );
  if (quota && quota.max !== config.backup.manualSnapshotQuota) {
    say(
      `  the quota is ${quota.max}, the config says ${config.backup.manualSnapshotQuota}: set ${args.stage}.backup.manualSnapshotQuota to ${quota.max} (lib/config/stages.ts), so the config's check counts right.`,
    );
  }
  for (const v of verdicts) {
    say(`  ${v.action === 'delete' ? (args.yes ? 'DELETE' : 'would delete') : 'keep'}  ${v.id}  ${v.instance}  ${v.created?.toISOString() ?? '-'}  ${v.why}`);
  }
  const doomed = verdicts.filter((v) => v.action === 'delete');
  if (args.deleteOlderThanDays === undefined) {
    say(`To free some: npm run snapshots -- --stage ${args.stage} --delete-older-than DAYS (a dry run; then add --yes).`);
    return 0;
  }
  if (doomed.length === 0) {
    say(
      `Nothing of ${args.stage}'s is older than ${args.deleteOlderThanDays} days and free to delete. To make room: a smaller backup.preDeploySnapshotsKept, or a higher quota (Service Quotas, Amazon RDS, "Manual DB instance snapshots").`,
    );
    return 0;
  }
  if (!args.yes) {
    say(`dry run: nothing deleted; ${doomed.length} would be. Run again with --yes.`);
    return 0;
  }
  let failed = 0;
  for (const v of doomed) {
    try {
      await clients.rds.send(new DeleteDBSnapshotCommand({ DBSnapshotIdentifier: v.id }));
    } catch (error) {
      failed++;
      say(`FAILED to delete ${v.id}: ${(error as Error).name}: ${(error as Error).message}`);
    }
  }
  say(`deleted ${doomed.length - failed} of ${doomed.length}${quota ? `; about ${quota.used - (doomed.length - failed)} of ${quota.max} used now` : ''}.`);
  return failed > 0 ? 1 : 0;
}

export function snapshotsClients(region: string): SnapshotsClients {
  return { sts: new STSClient({ region }), rds: new RDSClient({ region }) };
}
