import { describe, expect, test } from 'vitest';
import { estimateBackups } from '../../scripts/lib/backup-cost';
import type { PriceTable } from '../../scripts/lib/cost';

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
  const { lines, notPriced } = estimateBackups(stacks, (region) => (region === 'test-1' || region === 'test-2' ? PRICES : undefined));
  const cost = (item: string) => lines.find((l) => l.item === item)?.monthlyUsd;

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

  test('the assumptions can be set: half the change rate halves the transfer', () => {
    const half = estimateBackups(stacks, () => PRICES, { dbUsedPercent: 60, dailyChangePercent: 1, uploadsGbPerMonth: 5 });
    expect(half.lines.find((l) => l.item === 'AWS Backup DR copies: transfer')?.monthlyUsd).toBe(0.36);
  });
});
