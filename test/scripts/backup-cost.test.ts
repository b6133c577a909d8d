import { describe, expect, test } from 'vitest';
import { parseArgs } from '../../scripts/cost';
import { BACKUP_ASSUMPTIONS, backupAssumptionLines, estimateBackups } from '../../scripts/lib/pricing/backups';
import type { PriceTable } from '../../scripts/lib/pricing/table';

/** Round prices, so the expectations below can be computed by hand. */
const PRICES = { backup: { rdsSnapshotGbMonth: 0.1, interRegionTransferGb: 0.02 } } as PriceTable;

describe('backups and copies on a small stage', () => {
  // 100 GB allocated, 60% used: 60 GB of data, 1.2 GB changing a day (2%).
  const stack = (stackName: string, region: string, resources: Record<string, unknown>) =>
    ({ stage: 'test', stackName, environment: `aws://111111111111/${region}`, template: { Resources: resources } }) as never;
  const stacks = [
    stack('test-Data', 'test-1', {
      Db: {
        Type: 'AWS::RDS::DBInstance',
        Properties: { AllocatedStorage: '100', BackupRetentionPeriod: 14, AutomaticBackupReplicationRegion: 'test-2', AutomaticBackupReplicationRetentionPeriod: 14 },
      },
      Plan: {
        Type: 'AWS::Backup::BackupPlan',
        Properties: {
          BackupPlan: {
            BackupPlanRule: [
              {
                Lifecycle: { DeleteAfterDays: 35 },
                CopyActions: [
                  { Lifecycle: { DeleteAfterDays: 84 }, DestinationBackupVaultArn: { 'Fn::GetStackOutput': { StackName: 'test-Dr', Region: 'test-2', OutputName: 'Vault' } } },
                ],
              },
            ],
          },
        },
      },
      Uploads: { Type: 'AWS::S3::Bucket', Properties: { ReplicationConfiguration: {} } },
    }),
    stack('test-App', 'test-1', { Snap: { Type: 'Custom::PreDeploySnapshot', Properties: { Keep: '10', DrRegion: 'test-2' } } }),
  ];
  // Estimated inside each test, so each test runs the arithmetic it checks.
  const both = (region: string) => (region === 'test-1' || region === 'test-2' ? PRICES : undefined);
  const cost = (item: string) => estimateBackups(stacks, both).lines.find((l) => l.item === item)?.monthlyUsd;

  test.each([
    // 60 + 13 x 1.2 = 75.6 GB, under the 100 GB free: nothing
    ['Automated backups (14 days)', 0],
    // 75.6 GB x 0.1 in the DR region
    ['Replicated automated backups (14 days)', 7.56],
    // 30 days x 1.2 GB x 0.02
    ['Replicated automated backups: transfer', 0.72],
    // 60 + 34 x 1.2 = 100.8 GB x 0.1
    ['AWS Backup recovery points (35 days)', 10.08],
    // 60 + 83 x 1.2 = 159.6 GB x 0.1
    ['AWS Backup DR copies (84 days)', 15.96],
    ['AWS Backup DR copies: transfer', 0.72],
    // 10 x 1.2 GB x 0.1, here and in the DR region; 12 GB x 0.02 across
    ['Pre-deploy snapshots (10 kept)', 1.2],
    ['Pre-deploy snapshot copies (10 kept)', 1.2],
    ['Pre-deploy snapshot copies: transfer', 0.24],
    // 5 GB x 0.02
    ['Uploads replication: transfer', 0.1],
  ])('%s costs $%s', (item, expected) => {
    expect(cost(item)).toBe(expected);
  });

  test('every line is priced here; a region without a table is not priced, never $0', () => {
    const { lines, notPriced } = estimateBackups(stacks, both);
    expect(notPriced).toEqual([]);
    expect(lines).toHaveLength(10);
    const noDr = estimateBackups(stacks, (region) => (region === 'test-1' ? PRICES : undefined));
    expect(noDr.notPriced).toEqual([
      'Replicated automated backups (14 days) in test-2: no backup prices for test-2 in scripts/pricing/',
      'AWS Backup DR copies (84 days) in test-2: no backup prices for test-2 in scripts/pricing/',
      'Pre-deploy snapshot copies (10 kept) in test-2: no backup prices for test-2 in scripts/pricing/',
    ]);
    expect(noDr.lines.map((l) => l.item)).not.toContain('AWS Backup DR copies (84 days)');
  });

  test('a copy destination named by ARN counts in its region; a bucket without replication adds no transfer', () => {
    const byArn = [
      stack('test-Data', 'test-1', {
        Db: { Type: 'AWS::RDS::DBInstance', Properties: { AllocatedStorage: '200', BackupRetentionPeriod: 30 } },
        Plan: {
          Type: 'AWS::Backup::BackupPlan',
          Properties: {
            BackupPlan: {
              BackupPlanRule: [{ Lifecycle: { DeleteAfterDays: 7 }, CopyActions: [{ DestinationBackupVaultArn: 'arn:aws:backup:test-2:111111111111:backup-vault:dr' }] }],
            },
          },
        },
        Plain: { Type: 'AWS::S3::Bucket', Properties: {} },
      }),
    ];
    const { lines, notPriced } = estimateBackups(byArn, (region) => (region === 'test-1' ? PRICES : undefined));
    // 200 GB allocated: 120 GB of data, 2.4 GB a day; 30 days: 120 + 29 x 2.4 = 189.6 GB, under the 200 GB free
    expect(lines.find((l) => l.item === 'Automated backups (30 days)')?.monthlyUsd).toBe(0);
    // 7 days: 120 + 6 x 2.4 = 134.4 GB x 0.1
    expect(lines.find((l) => l.item === 'AWS Backup recovery points (7 days)')?.monthlyUsd).toBe(13.44);
    // the copy keeps the plan's 7 days, in test-2, which has no prices here
    expect(notPriced).toEqual(['AWS Backup DR copies (7 days) in test-2: no backup prices for test-2 in scripts/pricing/']);
    expect(lines.find((l) => l.item === 'AWS Backup DR copies: transfer')?.monthlyUsd).toBe(1.44);
    expect(lines.map((l) => l.item)).not.toContain('Uploads replication: transfer');
    expect(lines.map((l) => l.item)).not.toContain('Pre-deploy snapshots (0 kept)');
  });

  test('automated backups over the free allowance are charged for the excess only', () => {
    const big = [stack('test-Data', 'test-1', { Db: { Type: 'AWS::RDS::DBInstance', Properties: { AllocatedStorage: '100', BackupRetentionPeriod: 35 } } })];
    // 60 + 34 x 1.2 = 100.8 GB: 0.8 GB over the 100 GB free, x 0.1
    expect(estimateBackups(big, () => PRICES).lines).toEqual([
      { category: 'Backups and copies', item: 'Automated backups (35 days)', quantity: '100.8 GB, 100 GB free', monthlyUsd: 0.08 },
    ]);
  });

  test('a stage without a database has no backup lines', () => {
    expect(estimateBackups([stack('test-App', 'test-1', {})], () => PRICES)).toEqual({ lines: [], notPriced: [] });
  });

  test('the assumptions can be set: half the change rate halves the transfer', () => {
    const half = estimateBackups(stacks, () => PRICES, { dbUsedPercent: 60, dailyChangePercent: 1, uploadsGbPerMonth: 5 });
    expect(half.lines.find((l) => l.item === 'AWS Backup DR copies: transfer')?.monthlyUsd).toBe(0.36);
  });
});

describe('the backup assumptions on the command line', () => {
  test('are printed with every estimate, with the flags that set them', () => {
    expect(backupAssumptionLines({ dbUsedPercent: 40, dailyChangePercent: 3, uploadsGbPerMonth: 12 })).toEqual([
      "backups: the database holds 40% of its allocated storage and 3% of it changes a day (the first snapshot holds the data, each later one a day's change); 12 GB of uploads change a month (set with --db-used-percent, --daily-change-percent, --uploads-gb-month)",
    ]);
  });

  test('are read from flags, and a bad value is refused', () => {
    expect(parseArgs(['--assembly', 'x', '--db-used-percent', '40', '--uploads-gb-month', '12']).backups).toEqual({
      dbUsedPercent: 40,
      dailyChangePercent: 2,
      uploadsGbPerMonth: 12,
    });
    expect(parseArgs(['--assembly', 'x']).backups).toEqual(BACKUP_ASSUMPTIONS);
    expect(() => parseArgs(['--assembly', 'x', '--daily-change-percent', '101'])).toThrow(/--daily-change-percent takes a number from 0 to 100, not "101"/);
    expect(() => parseArgs(['--assembly', 'x', '--uploads-gb-month', 'lots'])).toThrow(/--uploads-gb-month takes a number from 0, not "lots"/);
  });
});
