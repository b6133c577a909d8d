/**
 * The stage's backups and copies, priced across its stacks and regions: not a resource type's
 * price (the backup plan, vault and selection are free by themselves) but what they come to hold.
 */
import type { AssemblyStack } from '../assembly';
import type { CostLine, Props, Resources } from './module';
import type { PriceTable } from './table';

/** What the templates cannot say about the data behind the backups; printed with every estimate, set with flags. */
export interface BackupAssumptions {
  /** Share of the database's allocated storage that holds data. */
  readonly dbUsedPercent: number;
  /** Share of the data that changes in a day (each incremental snapshot and copy holds it). */
  readonly dailyChangePercent: number;
  /** New or changed uploads a month (replicated to the DR bucket where it is configured). */
  readonly uploadsGbPerMonth: number;
}

export const BACKUP_ASSUMPTIONS: BackupAssumptions = { dbUsedPercent: 60, dailyChangePercent: 2, uploadsGbPerMonth: 5 };

const DAYS_PER_MONTH = 30;

/** The stage's database, its backup plan, pre-deploy snapshots and uploads replication, wherever they are. */
function find(stacks: readonly AssemblyStack[]) {
  const all = stacks.flatMap((s) => Object.values((s.template.Resources ?? {}) as Resources).map((r) => ({ stack: s, type: r.Type, p: (r.Properties ?? {}) as Props })));
  const db = all.find((r) => r.type === 'AWS::RDS::DBInstance');
  const plans = all.filter((r) => r.type === 'AWS::Backup::BackupPlan');
  const preDeploy = all.find((r) => r.type === 'Custom::PreDeploySnapshot');
  const replicated = all.filter((r) => r.type === 'AWS::S3::Bucket' && r.p.ReplicationConfiguration);
  return { db, plans, preDeploy, replicated };
}

/**
 * The monthly cost of the stage's backups and copies, which templates only imply: automated
 * backups beyond the free allowance (RDS gives backup storage up to the database's allocated
 * storage, per region), replicated automated backups in the DR region and their transfer, AWS
 * Backup recovery points and their DR copies, the kept pre-deploy snapshots and their copies, and
 * the uploads replication transfer. Snapshots are incremental: the first holds the data, each
 * later one a day's change. `prices` gives a region's table, or undefined when there is none: such
 * a line is not priced, never $0.
 */
export function estimateBackups(
  stacks: readonly AssemblyStack[],
  prices: (region: string) => PriceTable | undefined,
  assumptions: BackupAssumptions = BACKUP_ASSUMPTIONS,
): { lines: CostLine[]; notPriced: string[] } {
  const lines: CostLine[] = [];
  const notPriced: string[] = [];
  const { db, plans, preDeploy, replicated } = find(stacks);
  const round = (n: number) => Math.round(n * 100) / 100;
  const add = (item: string, quantity: string, region: string, usd: (p: PriceTable) => number) => {
    const table = prices(region);
    if (!table?.backup) notPriced.push(`${item} in ${region}: no backup prices for ${region} in scripts/pricing/`);
    else lines.push({ category: 'Backups and copies', item, quantity, monthlyUsd: round(usd(table)) });
  };
  if (db) {
    const region = db.stack.environment.split('/').pop()!;
    const allocated = Number(db.p.AllocatedStorage ?? 20);
    const data = (allocated * assumptions.dbUsedPercent) / 100;
    const daily = (data * assumptions.dailyChangePercent) / 100;
    const chain = (days: number) => data + daily * Math.max(0, days - 1);
    const retention = Number(db.p.BackupRetentionPeriod ?? 1);
    const automated = chain(retention);
    add(`Automated backups (${retention} days)`, `${round(automated)} GB, ${allocated} GB free`, region, (p) => Math.max(0, automated - allocated) * p.backup.rdsSnapshotGbMonth);
    const replicaRegion = db.p.AutomaticBackupReplicationRegion as string | undefined;
    if (replicaRegion) {
      const days = Number(db.p.AutomaticBackupReplicationRetentionPeriod ?? retention);
      add(`Replicated automated backups (${days} days)`, `${round(chain(days))} GB`, replicaRegion, (p) => chain(days) * p.backup.rdsSnapshotGbMonth);
      add('Replicated automated backups: transfer', `${round(daily * DAYS_PER_MONTH)} GB`, region, (p) => daily * DAYS_PER_MONTH * p.backup.interRegionTransferGb);
    }
    for (const plan of plans) {
      const rules = ((plan.p.BackupPlan as Props | undefined)?.BackupPlanRule ?? []) as Props[];
      for (const rule of rules) {
        const keep = Number((rule.Lifecycle as Props | undefined)?.DeleteAfterDays ?? 35);
        add(`AWS Backup recovery points (${keep} days)`, `${round(chain(keep))} GB`, region, (p) => chain(keep) * p.backup.rdsSnapshotGbMonth);
        for (const copy of (rule.CopyActions ?? []) as Props[]) {
          const copyKeep = Number((copy.Lifecycle as Props | undefined)?.DeleteAfterDays ?? keep);
          const to = drRegionOf(copy.DestinationBackupVaultArn) ?? replicaRegion;
          if (!to) {
            notPriced.push('AWS Backup copies: the destination region is not in the template');
            continue;
          }
          add(`AWS Backup DR copies (${copyKeep} days)`, `${round(chain(copyKeep))} GB`, to, (p) => chain(copyKeep) * p.backup.rdsSnapshotGbMonth);
          add('AWS Backup DR copies: transfer', `${round(daily * DAYS_PER_MONTH)} GB`, region, (p) => daily * DAYS_PER_MONTH * p.backup.interRegionTransferGb);
        }
      }
    }
    if (preDeploy) {
      const kept = Number(preDeploy.p.Keep ?? 0);
      add(`Pre-deploy snapshots (${kept} kept)`, `${round(kept * daily)} GB`, region, (p) => kept * daily * p.backup.rdsSnapshotGbMonth);
      const dr = preDeploy.p.DrRegion as string | undefined;
      if (dr) {
        add(`Pre-deploy snapshot copies (${kept} kept)`, `${round(kept * daily)} GB`, dr, (p) => kept * daily * p.backup.rdsSnapshotGbMonth);
        add('Pre-deploy snapshot copies: transfer', `${round(kept * daily)} GB`, region, (p) => kept * daily * p.backup.interRegionTransferGb);
      }
    }
  }
  for (const bucket of replicated) {
    const region = bucket.stack.environment.split('/').pop()!;
    add('Uploads replication: transfer', `${assumptions.uploadsGbPerMonth} GB`, region, (p) => assumptions.uploadsGbPerMonth * p.backup.interRegionTransferGb);
  }
  return { lines, notPriced };
}

/** The region of a backup vault ARN, also when it is read from another stack (the read names the region). */
function drRegionOf(arn: unknown): string | undefined {
  const text = JSON.stringify(arn ?? '');
  return /"Region":"([a-z0-9-]+)"/.exec(text)?.[1] ?? /arn:aws[a-z-]*:backup:([a-z0-9-]+):/.exec(text)?.[1];
}

export function backupAssumptionLines(a: BackupAssumptions): string[] {
  return [
    `backups: the database holds ${a.dbUsedPercent}% of its allocated storage and ${a.dailyChangePercent}% of it changes a day (the first snapshot holds the data, each later one a day's change); ${a.uploadsGbPerMonth} GB of uploads change a month (set with --db-used-percent, --daily-change-percent, --uploads-gb-month)`,
  ];
}
