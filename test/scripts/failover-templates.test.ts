import { expect, test } from 'vitest';
import { parseStageConfig, STAGES } from '../../lib/config';
import type { AssemblyStack } from '../../scripts/lib/assembly';
import { drDatabaseSettings } from '../../scripts/lib/dr-steps';
import { drTierDailyCost } from '../../scripts/lib/failover-cost';
import { loadPrices } from '../../scripts/lib/pricing/table';
import { drAppTier, synthStage } from '../support/synth';

/** The stage as a failover deploys it, as the cost reads an assembly. */
function failedOver(name: 'staging' | 'prod'): AssemblyStack[] {
  const stage = synthStage(name, drAppTier(name));
  return (['data', 'pilotLight', 'drApp'] as const).map((role) => {
    const info = stage.stage[role]!;
    return { displayName: `${name}/${role}`, stage: name, stackName: info.stackName, environment: `aws://${info.account}/${info.region}`, template: stage[role]!.toJSON() };
  });
}

test.each(['staging', 'prod'] as const)("%s: the DR tiers' daily cost is the restored database, the cache, the tasks and the NAT gateways at the DR region's prices", (name) => {
  const config = parseStageConfig(STAGES[name]);
  const prices = loadPrices(config.drRegion)!;
  const [line] = drTierDailyCost(failedOver(name), config);
  const part = (category: string) => Number(new RegExp(`${category} \\$([\\d.]+)`).exec(line)?.[1]);
  // From first principles: gateways by the hour and their processed traffic; the database's instance hours.
  const gateways = Math.min(config.network.natGateways, config.network.azCount);
  expect(part('NAT gateways')).toBeGreaterThanOrEqual(Math.floor(gateways * prices.natGateway.hour * 24 * 100) / 100);
  const stacks = failedOver(name);
  const database = Object.values(stacks[0].template.Resources ?? {}).find((r) => r.Type === 'AWS::RDS::DBInstance')!.Properties!;
  const copies = database.MultiAZ === true ? 2 : 1;
  expect(part('RDS instances')).toBeCloseTo(copies * prices.rds.postgresInstanceHour[database.DBInstanceClass as string] * 24, 1);
  for (const category of ['ElastiCache nodes', 'Fargate tasks']) expect(part(category), category).toBeGreaterThan(0);
  const total = Number(/about \$([\d.]+) per day/.exec(line)?.[1]);
  const parts = [...line.matchAll(/ \$([\d.]+)(?=[,)])/g)].map((m) => Number(m[1]));
  expect(total).toBeCloseTo(
    parts.reduce((a, b) => a + b, 0),
    1,
  );
  expect(line).toContain(`at ${config.drRegion} prices of ${prices.date}`);
});

test('a stage synthesized without its DR tiers has no figure, and says why', () => {
  const stage = synthStage('staging');
  const stacks = [{ displayName: 'staging/data', stage: 'staging', stackName: stage.stage.data.stackName, environment: 'aws://x/eu-west-1', template: stage.data.toJSON() }];
  expect(drTierDailyCost(stacks, parseStageConfig(STAGES.staging))).toEqual([
    'What the DR tiers cost per day: not known (the synthesized stage lacks staging-DrApp or staging-Data)',
  ]);
});

test.each(['staging', 'prod'] as const)('%s: the database the failover restores by API has the settings the data stack gives the instance', (name) => {
  const config = parseStageConfig(STAGES[name]);
  const [data] = failedOver(name);
  const p = Object.values(data.template.Resources ?? {}).find((r) => r.Type === 'AWS::RDS::DBInstance')!.Properties as Record<string, unknown>;
  const settings = drDatabaseSettings(config, { DatabaseSubnetGroupName: 'g', DatabaseSecurityGroupId: 'sg', DatabaseParameterGroupName: 'pg' }, 'arn:key', 'failover');
  expect({
    instanceClass: settings.instanceClass,
    multiAz: settings.multiAz,
    storageType: settings.storageType,
    maxAllocatedStorage: settings.maxAllocatedStorage,
    deletionProtection: settings.deletionProtection,
    copyTagsToSnapshot: settings.copyTagsToSnapshot,
    iamAuth: settings.iamAuth,
    logExports: settings.logExports,
    caCertificate: settings.caCertificate,
    autoMinorVersionUpgrade: settings.autoMinorVersionUpgrade,
    backupRetention: settings.backupRetention,
    backupWindow: settings.backupWindow,
    maintenanceWindow: settings.maintenanceWindow,
    performanceInsights: settings.performanceInsights.enabled,
  }).toEqual({
    instanceClass: p.DBInstanceClass,
    multiAz: p.MultiAZ,
    storageType: p.StorageType,
    maxAllocatedStorage: p.MaxAllocatedStorage,
    deletionProtection: p.DeletionProtection,
    copyTagsToSnapshot: p.CopyTagsToSnapshot,
    iamAuth: p.EnableIAMDatabaseAuthentication,
    logExports: p.EnableCloudwatchLogsExports,
    caCertificate: p.CACertificateIdentifier,
    autoMinorVersionUpgrade: p.AutoMinorVersionUpgrade,
    backupRetention: p.BackupRetentionPeriod,
    backupWindow: p.PreferredBackupWindow,
    maintenanceWindow: p.PreferredMaintenanceWindow,
    performanceInsights: p.EnablePerformanceInsights ?? false,
  });
});
