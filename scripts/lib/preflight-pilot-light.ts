/**
 * Preflight's checks of a stage's pilot light (`dr.pilotLight`): what its DR region must hold
 * before a disaster for a failover to take an hour, not a day. The release image in that region's
 * registry, tagged as a release there; the SES identity of the stage's zone verified there (SES
 * identities, and production access, are per region: preflight.ts runs the account's SES check
 * for the DR region too); and the subnet groups a restored database and cache go into
 * (lib/dr/pilot-light-names.ts); and the RPO: the database's automated backups replicated there,
 * restorable to within DR_RPO_MINUTES of now. The CDK bootstrap of the DR region is the bootstrap
 * check's: a pilot light needs `backup.drCopies`, so the DR region is among the stage's deploy
 * regions.
 */
import { DescribeCacheSubnetGroupsCommand } from '@aws-sdk/client-elasticache';
import { DescribeDBInstanceAutomatedBackupsCommand, DescribeDBInstancesCommand, DescribeDBSubnetGroupsCommand } from '@aws-sdk/client-rds';
import { GetEmailIdentityCommand } from '@aws-sdk/client-sesv2';
import type { StageConfig } from '../../lib/config';
import { pilotLightNames } from '../../lib/dr/pilot-light-names';
import { stageResourceName } from '../../lib/shared/naming';
import type { Check, PreflightClients, PreflightOptions } from './preflight';
import { named, runCheck, unlessNotFound } from './preflight-check';
import { repositoryExists } from './preflight-release';
import { drImagesCommand, findImage, releaseTagCommand } from './release-tags';

/** The deploy of the pilot light, as `cdk deploy` names its stack. */
const deployPilotLight = (config: StageConfig) => `deploy '${config.name}/PilotLight' (the ${pilotLightNames(config.name).stackName} stack, in ${config.drRegion})`;

/** The pilot light's checks but the SES account check, together (they ask different APIs), reported in order. */
export function pilotLightChecks(config: StageConfig, clients: PreflightClients, options: PreflightOptions): Promise<Check[]> {
  const region = config.drRegion;
  return Promise.all([
    runCheck(`image ${region}`, () => drImageCheck(config, clients, options)),
    ...(config.domain ? [runCheck(`ses identity ${region}`, () => sesIdentityCheck(config, clients))] : []),
    runCheck(`subnet groups ${region}`, () => subnetGroupsCheck(config, clients)),
    runCheck(`database backups ${region}`, () => drBackupsCheck(config, clients, options)),
  ]);
}

/**
 * The image the deploy runs, in the DR region's registry and tagged as a release there, looked up
 * by its digest (the stage's registry says which digest a tag names: a copy by dr-images carries
 * the release tag alone). Waits as the image check does: replication is asynchronous.
 */
export async function drImageCheck(config: StageConfig, clients: PreflightClients, options: PreflightOptions): Promise<Omit<Check, 'name'>> {
  const ref = options.image ?? config.image.tag;
  const { repositoryName } = config.image;
  const where = `${config.account}/${config.drRegion} ${repositoryName}`;
  const deadline = options.now().getTime() + (options.waitForImageSeconds ?? 0) * 1000;
  let digest = ref.startsWith('sha256:') ? ref : undefined;
  for (;;) {
    digest ??= (await findImage(clients.ecr, repositoryName, ref))?.digest;
    const found = digest ? await findImage(clients.drEcr, repositoryName, digest) : undefined;
    if (found?.released) return { status: 'ok', detail: `${ref} is in ${where} (${found.digest}), tagged as a release` };
    if (found) {
      return {
        status: 'missing',
        detail: `${ref} is in ${where} (${found.digest}) but not tagged as a release: its build tags expire after 30 days, and a failover would find no image`,
        fix: releaseTagCommand(config.name, found.digest),
      };
    }
    if (options.now().getTime() >= deadline) break;
    await options.sleep(10_000);
  }
  if (!digest) {
    return {
      status: 'missing',
      detail: `${ref} is not in the ${config.name} registry (see the image check), so its digest cannot be looked up in ${where}`,
      fix: `bring it to the ${config.name} registry first (the image check says how), then run preflight again`,
    };
  }
  // A registry stack not deployed yet: no copy can go there.
  const exists = await repositoryExists(clients.drEcr, repositoryName);
  if (!exists) {
    return {
      status: 'missing',
      detail: `${where}: the repository does not exist`,
      fix: `deploy the DR registry stack first: npx cdk deploy Registry-${config.account}-${config.drRegion}-${repositoryName}, then ${drImagesCommand(config.name)}`,
    };
  }
  const released = (await findImage(clients.ecr, repositoryName, digest))?.released;
  return {
    status: 'missing',
    detail: `${ref} (${digest}) is not in ${where}${options.waitForImageSeconds ? ` after waiting ${options.waitForImageSeconds} s` : ''}: a failover could not run it`,
    // dr-images copies releases alone: one not tagged yet is tagged first.
    fix: released ? drImagesCommand(config.name) : `${releaseTagCommand(config.name, digest)}, then ${drImagesCommand(config.name)}`,
  };
}

/**
 * The SES identity of the stage's zone in the DR region (the pilot light creates it, with its own
 * DKIM records in the zone): verified there, mail can be sent from that region the moment it
 * serves. SES verifies a domain once its DKIM records resolve, up to 72 hours after they appear.
 */
export async function sesIdentityCheck(config: StageConfig, clients: PreflightClients): Promise<Omit<Check, 'name'>> {
  const { zoneName } = config.domain!;
  const region = config.drRegion;
  let status: string | undefined;
  try {
    status = (await clients.sesv2(region).send(new GetEmailIdentityCommand({ EmailIdentity: zoneName }))).VerificationStatus;
  } catch (error) {
    if (!named(error, 'NotFoundException')) throw error;
    return { status: 'missing', detail: `SES in ${region} has no identity ${zoneName}: the stage could not send mail from there`, fix: deployPilotLight(config) };
  }
  if (status === 'SUCCESS') return { status: 'ok', detail: `the SES identity ${zoneName} is verified in ${region}` };
  return {
    status: 'missing',
    detail: `the SES identity ${zoneName} in ${region} is not verified (${status ?? 'no status'}): SES checks its DKIM records in the ${zoneName} zone for up to 72 hours after the deploy`,
    fix: `check that the ${zoneName} zone holds the identity's three DKIM CNAME records (SES console, ${region}, Identities, ${zoneName}), or ${deployPilotLight(config)} again`,
  };
}

/** The RDS and ElastiCache subnet groups a restored database and a new cache go into, in the DR region. */
export async function subnetGroupsCheck(config: StageConfig, clients: PreflightClients): Promise<Omit<Check, 'name'>> {
  const region = config.drRegion;
  const names = pilotLightNames(config.name);
  const [database, cache] = (
    await Promise.all([
      unlessNotFound(clients.rds(region).send(new DescribeDBSubnetGroupsCommand({ DBSubnetGroupName: names.databaseSubnetGroup })), 'DBSubnetGroupNotFound'),
      unlessNotFound(clients.elasticache(region).send(new DescribeCacheSubnetGroupsCommand({ CacheSubnetGroupName: names.cacheSubnetGroup })), 'CacheSubnetGroupNotFound'),
    ])
  ).map((found) => found !== undefined);
  const missing = [...(database ? [] : [`the database subnet group ${names.databaseSubnetGroup}`]), ...(cache ? [] : [`the cache subnet group ${names.cacheSubnetGroup}`])];
  if (missing.length === 0) return { status: 'ok', detail: `${names.databaseSubnetGroup} (RDS) and ${names.cacheSubnetGroup} (ElastiCache) are in ${region}` };
  return { status: 'missing', detail: `${region} lacks ${missing.join(' and ')}: a restored database or a new cache would have nowhere to go`, fix: deployPilotLight(config) };
}

/** The most data a region loss may cost: how far behind now the DR region's restorable time may be. */
export const DR_RPO_MINUTES = 15;

/**
 * The stage database's automated backups replicated to the DR region (the data stack turns the
 * replication on, `backup.automatedBackupReplicationDays`), restorable there to within
 * DR_RPO_MINUTES of now: what a failover restores from. A stage whose database does not exist yet
 * has nothing to replicate.
 */
export async function drBackupsCheck(config: StageConfig, clients: PreflightClients, options: PreflightOptions): Promise<Omit<Check, 'name'>> {
  const id = stageResourceName(config.name);
  const region = config.drRegion;
  const primary = (await unlessNotFound(clients.rds(config.region).send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: id })), 'DBInstanceNotFound'))?.DBInstances?.[0];
  if (!primary) return { status: 'ok', detail: `no ${id} database in ${config.region} yet: nothing to replicate to ${region}` };
  const turnOn = `deploy '${config.name}/Data' with backup.automatedBackupReplicationDays above 0 (it turns the replication on), or: aws rds start-db-instance-automated-backups-replication --region ${region} --source-db-instance-arn ${primary.DBInstanceArn} --kms-key-id <BackupKeyArn output of ${config.name}-Dr> --backup-retention-period ${Math.max(config.backup.automatedBackupReplicationDays, 1)}`;
  // In the destination region a replica is found by the source's resource id, not its name.
  const replicas = (await clients.rds(region).send(new DescribeDBInstanceAutomatedBackupsCommand({ DbiResourceId: primary.DbiResourceId }))).DBInstanceAutomatedBackups ?? [];
  const latest = replicas
    .map((b) => b.RestoreWindow?.LatestTime?.getTime())
    .filter((t): t is number => t !== undefined)
    .sort((a, b) => b - a)[0];
  if (latest === undefined) {
    return {
      status: 'missing',
      detail: `${id}'s automated backups are not replicated to ${region}: after a region loss the newest copy there is the daily backup vault's (up to a day of data lost, not ${DR_RPO_MINUTES} minutes)`,
      fix: turnOn,
    };
  }
  const behind = Math.floor((options.now().getTime() - latest) / 60_000);
  const when = new Date(latest).toISOString();
  if (behind > DR_RPO_MINUTES) {
    return {
      status: 'missing',
      detail: `${id} is restorable in ${region} to ${when} only, ${behind} minutes ago: beyond the ${DR_RPO_MINUTES}-minute RPO`,
      fix: `look at the replication (RDS console, ${region}, Automated backups, Replicated backups: its status and the source's), and if it stopped: ${turnOn}`,
    };
  }
  return { status: 'ok', detail: `${id} is restorable in ${region} to ${when} (${behind} minutes ago, within the ${DR_RPO_MINUTES}-minute RPO)` };
}
