/**
 * What a stage's DR region holds when its primary region is lost, read from that region alone:
 * the database's replicated automated backups (and so the RPO), the newest copy in the DR vault,
 * the uploads replica, the release image, the pilot light's outputs, the DR key and the last
 * drill's measured minutes. The failover and the drill plan from it; the clients are per region so
 * the tests run it against moto in two regions.
 */
import { ApplicationAutoScalingClient } from '@aws-sdk/client-application-auto-scaling';
import { BackupClient, ListBackupVaultsCommand, ListRecoveryPointsByBackupVaultCommand } from '@aws-sdk/client-backup';
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { DescribeImagesCommand, ECRClient, type ImageDetail } from '@aws-sdk/client-ecr';
import { ECSClient } from '@aws-sdk/client-ecs';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { type DBInstanceAutomatedBackup, DescribeDBInstanceAutomatedBackupsCommand, RDSClient } from '@aws-sdk/client-rds';
import { S3Client } from '@aws-sdk/client-s3';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { STSClient } from '@aws-sdk/client-sts';
import type { StageConfig } from '../../lib/config';
import { DR_APP_READS, pilotLightNames } from '../../lib/dr/pilot-light-names';
import { isRelease } from '../../lib/registry/release-tag';
import { stageResourceName } from '../../lib/shared/naming';
import { DR_RPO_MINUTES } from './preflight-pilot-light';
import { outputsOf } from './release';
import { findImage } from './release-tags';
import { describe } from './restore';

type Send<T extends { send: unknown }> = Pick<T, 'send'>;

/** The clients of one region the recovery commands use. */
export interface RegionClients {
  readonly rds: Send<RDSClient>;
  readonly cfn: Send<CloudFormationClient>;
  readonly ssm: Send<SSMClient>;
  readonly ecr: Send<ECRClient>;
  readonly backup: Send<BackupClient>;
  readonly ecs: Send<ECSClient>;
  readonly lambda: Send<LambdaClient>;
  readonly s3: Send<S3Client>;
  readonly autoScaling: Send<ApplicationAutoScalingClient>;
  readonly sts: Send<STSClient>;
}

export type RegionClientsFor = (region: string) => RegionClients;

/** The SDK settings every client of one region takes (its region; the tests' endpoint and credentials). */
type ClientOptions = { readonly region: string } & Record<string, unknown>;

/** One region's clients as the recovery commands use them, each the SDK's own. */
export function regionClientSet(options: ClientOptions, s3Options: Record<string, unknown> = {}) {
  return {
    rds: new RDSClient(options),
    cfn: new CloudFormationClient(options),
    ssm: new SSMClient(options),
    ecr: new ECRClient(options),
    backup: new BackupClient(options),
    ecs: new ECSClient(options),
    lambda: new LambdaClient(options),
    s3: new S3Client({ ...options, ...s3Options }),
    autoScaling: new ApplicationAutoScalingClient(options),
    sts: new STSClient(options),
  };
}

/** The recovery commands' clients, one set per region, made when first asked for. */
export function regionClients(): RegionClientsFor {
  const made = new Map<string, RegionClients>();
  return (region) => {
    const clients = made.get(region) ?? regionClientSet({ region, maxAttempts: 5, retryMode: 'adaptive' });
    made.set(region, clients);
    return clients;
  };
}

/** The replicated automated backups a restore in the DR region starts from. */
export interface ReplicatedBackups {
  readonly arn: string;
  /** The PostgreSQL version they restore as (the source's at its last backup). */
  readonly engineVersion?: string;
  readonly earliest?: Date;
  readonly latest: Date;
}

export interface Survey {
  readonly at: Date;
  readonly backups?: ReplicatedBackups;
  readonly vaultCopy?: { readonly vault: string; readonly created: Date };
  /** The uploads replica bucket, as the DR stack names it. */
  readonly uploadsReplica?: string;
  /** The release image the DR region's registry holds: the one asked for, else the newest release there. */
  readonly image?: { readonly ref: string; readonly digest: string; readonly pushedAt?: Date };
  /** The pilot light's outputs, or undefined when the stack is not there. */
  readonly pilotLight?: Readonly<Record<string, string>>;
  readonly drBackupKeyArn?: string;
  /** The DR stack's outputs, or undefined when it is not there. */
  readonly drOutputs?: Readonly<Record<string, string>>;
  /** The last drill's measured minutes per step, where one completed. */
  readonly drill?: { readonly at: string; readonly minutes: Readonly<Record<string, number>> };
}

/**
 * The stage database's automated backups replicated to the DR region, restorable furthest: in
 * that region they carry the source's identifier; the DR region's own instance of that name (a
 * failover's restore) has backups too, which are not what a restore starts from.
 */
export async function replicatedBackups(rds: Send<RDSClient>, identifier: string): Promise<ReplicatedBackups | undefined> {
  const local = await describe(rds, identifier);
  const all: DBInstanceAutomatedBackup[] = [];
  let Marker: string | undefined;
  do {
    const page = await rds.send(new DescribeDBInstanceAutomatedBackupsCommand({ DBInstanceIdentifier: identifier, Marker }));
    all.push(...(page.DBInstanceAutomatedBackups ?? []));
    Marker = page.Marker;
  } while (Marker);
  const [newest] = all
    .filter((b) => b.DBInstanceIdentifier === identifier && b.DBInstanceAutomatedBackupsArn && b.RestoreWindow?.LatestTime)
    .filter((b) => !local || b.DbiResourceId !== local.DbiResourceId)
    .sort((a, b) => b.RestoreWindow!.LatestTime!.getTime() - a.RestoreWindow!.LatestTime!.getTime());
  return (
    newest && {
      arn: newest.DBInstanceAutomatedBackupsArn!,
      engineVersion: newest.EngineVersion,
      earliest: newest.RestoreWindow?.EarliestTime,
      latest: newest.RestoreWindow!.LatestTime!,
    }
  );
}

/** The newest completed recovery point in the stage's DR vault (`webapp-<stage>-dr-<suffix>`). */
async function newestVaultCopy(backup: Send<BackupClient>, stage: string): Promise<Survey['vaultCopy']> {
  const prefix = `${stageResourceName(stage, 'dr')}-`;
  const vaults = (await backup.send(new ListBackupVaultsCommand({}))).BackupVaultList ?? [];
  let newest: Survey['vaultCopy'];
  for (const vault of vaults.filter((v) => v.BackupVaultName?.startsWith(prefix))) {
    let NextToken: string | undefined;
    do {
      const page = await backup.send(new ListRecoveryPointsByBackupVaultCommand({ BackupVaultName: vault.BackupVaultName, NextToken }));
      for (const point of page.RecoveryPoints ?? []) {
        if (point.Status === 'COMPLETED' && point.CreationDate && (!newest || point.CreationDate > newest.created))
          newest = { vault: vault.BackupVaultName!, created: point.CreationDate };
      }
      NextToken = page.NextToken;
    } while (NextToken);
  }
  return newest;
}

/** The image `ref` in the DR registry, or its newest release when no ref is given. */
async function drImage(ecr: Send<ECRClient>, repositoryName: string, ref: string | undefined): Promise<Survey['image']> {
  if (ref) {
    const found = await findImage(ecr, repositoryName, ref);
    return found?.released ? { ref, digest: found.digest } : undefined;
  }
  const images: ImageDetail[] = [];
  let nextToken: string | undefined;
  try {
    do {
      const page = await ecr.send(new DescribeImagesCommand({ repositoryName, nextToken }));
      images.push(...(page.imageDetails ?? []));
      nextToken = page.nextToken;
    } while (nextToken);
  } catch (error) {
    if ((error as Error).name === 'RepositoryNotFoundException') return undefined;
    throw error;
  }
  const [newest] = images
    .filter((i) => i.imageDigest && isRelease(i.imageDigest, i.imageTags))
    .sort((a, b) => (b.imagePushedAt?.getTime() ?? 0) - (a.imagePushedAt?.getTime() ?? 0));
  return newest && { ref: newest.imageDigest!, digest: newest.imageDigest!, pushedAt: newest.imagePushedAt };
}

/** An SSM parameter's value, or undefined when it does not exist. */
export async function parameterValue(ssm: Send<SSMClient>, name: string): Promise<string | undefined> {
  try {
    return (await ssm.send(new GetParameterCommand({ Name: name }))).Parameter?.Value;
  } catch (error) {
    if ((error as Error).name === 'ParameterNotFound') return undefined;
    throw error;
  }
}

/** Reads everything the DR region holds for the stage; nothing here writes. */
export async function surveyDr(config: StageConfig, clients: RegionClients, now: Date, imageRef?: string): Promise<Survey> {
  const names = pilotLightNames(config.name);
  const [backups, vaultCopy, drOutputs, pilotLight, image, drill] = await Promise.all([
    replicatedBackups(clients.rds, names.databaseIdentifier),
    newestVaultCopy(clients.backup, config.name),
    outputsOf(clients.cfn, `${config.name}-Dr`),
    outputsOf(clients.cfn, names.stackName),
    drImage(clients.ecr, config.image.repositoryName, imageRef),
    parameterValue(clients.ssm, names.drillMinutesParameter),
  ]);
  return {
    at: now,
    backups,
    vaultCopy,
    uploadsReplica: drOutputs?.UploadsReplicaBucketName,
    image,
    pilotLight,
    drBackupKeyArn: drOutputs?.BackupKeyArn,
    drOutputs,
    drill: drill ? parseDrill(drill) : undefined,
  };
}

function parseDrill(text: string): Survey['drill'] {
  try {
    const value = JSON.parse(text) as { at?: unknown; minutes?: unknown };
    if (typeof value.at !== 'string' || typeof value.minutes !== 'object' || value.minutes === null) return undefined;
    return { at: value.at, minutes: value.minutes as Record<string, number> };
  } catch {
    return undefined;
  }
}

/** Minutes from `then` to `now`, rounded down. */
const minutesBefore = (now: Date, then: Date) => Math.floor((now.getTime() - then.getTime()) / 60_000);

/** The survey as the plan prints it, with the RPO it implies. */
export function surveyLines(config: StageConfig, survey: Survey): string[] {
  const { at } = survey;
  const lines = [`What survives in ${config.drRegion} (read ${at.toISOString()}):`];
  const { backups } = survey;
  if (backups) {
    const behind = minutesBefore(at, backups.latest);
    lines.push(
      `  database: replicated automated backups restorable to ${backups.latest.toISOString()}${backups.earliest ? ` (from ${backups.earliest.toISOString()})` : ''}`,
      `  RPO: the writes of the last ${behind} minutes before that are lost${behind > DR_RPO_MINUTES ? ` (beyond the ${DR_RPO_MINUTES}-minute RPO: replication had fallen behind)` : ` (within the ${DR_RPO_MINUTES}-minute RPO)`}`,
    );
  } else {
    lines.push(`  database: NO replicated automated backups of ${stageResourceName(config.name)} in ${config.drRegion}`);
  }
  lines.push(
    survey.vaultCopy
      ? `  vault copy: newest ${survey.vaultCopy.created.toISOString()} in ${survey.vaultCopy.vault} (${minutesBefore(at, survey.vaultCopy.created)} minutes old; the fallback if the replicated backups cannot be restored)`
      : `  vault copy: none in ${stageResourceName(config.name, 'dr')}-*`,
    survey.uploadsReplica
      ? `  uploads: replica ${survey.uploadsReplica}; objects written shortly before the loss may be missing (replication is asynchronous, and without S3 Replication Time Control, which promises 99.99% within 15 minutes, it has no bound)`
      : '  uploads: no replica (uploads.replicateToDr is off): the DR app starts with the uploads it has none of',
    survey.image
      ? `  image: ${config.image.repositoryName} ${survey.image.digest}${survey.image.pushedAt ? ` (pushed ${survey.image.pushedAt.toISOString()})` : ''}`
      : '  image: NO release image in the DR registry',
    survey.pilotLight ? `  pilot light: ${pilotLightNames(config.name).stackName} is deployed` : `  pilot light: NO ${pilotLightNames(config.name).stackName} stack`,
    survey.drill ? `  last drill: ${survey.drill.at}` : '  last drill: none recorded: the expected minutes below are budgets, not measurements',
  );
  return lines;
}

/** What stops a failover before it starts: what it cannot do without. */
export function surveyProblems(config: StageConfig, survey: Survey, toTime: Date | 'latest'): string[] {
  const problems: string[] = [];
  const names = pilotLightNames(config.name);
  if (!survey.pilotLight) problems.push(`no ${names.stackName} stack in ${config.drRegion}: the failover restores into it and deploys beside it`);
  const lacking = [
    ...(survey.pilotLight
      ? [...DR_APP_READS.pilotLight, ...(config.uploads.replicateToDr ? [] : DR_APP_READS.pilotLightUploads)]
          .filter((o) => !(o in survey.pilotLight!))
          .map((o) => `${names.stackName} ${o}`)
      : []),
    ...(config.uploads.replicateToDr
      ? (['UploadsReplicaBucketName', 'UploadsReplicaKeyArn'] as const).filter((o) => !survey.drOutputs?.[o]).map((o) => `${config.name}-Dr ${o}`)
      : []),
    // A key deployed before it served Secrets Manager: the restored database's secret could never be created.
    ...(survey.drOutputs && !survey.drOutputs.BackupKeyServices?.split(' ').includes('secretsmanager') ? [`${config.name}-Dr BackupKeyServices (with secretsmanager)`] : []),
  ];
  if (lacking.length > 0) {
    problems.push(
      `the DR app tier reads outputs the deployed stacks lack (${lacking.join(', ')}): deploy them again with this version first: npm run deploy -- --stage ${config.name} --primary-lost --only PilotLight --only Dr --yes`,
    );
  }
  if (!survey.drBackupKeyArn) problems.push(`no BackupKeyArn output of ${config.name}-Dr in ${config.drRegion}: the restored database's secret is encrypted with that key`);
  if (!survey.image) problems.push(`no release image in the ${config.drRegion} registry ${config.image.repositoryName} (npm run dr-images copies releases there)`);
  if (!survey.backups) {
    problems.push(
      `no replicated automated backups of ${stageResourceName(config.name)} in ${config.drRegion}: restore the newest vault copy by hand (docs/disaster-recovery.md, "When the primary region is lost")`,
    );
  } else if (survey.backups.engineVersion && survey.backups.engineVersion.split('.')[0] !== config.database.engineVersion.split('.')[0]) {
    // The pilot light's parameter group is of the config's major version: a restore of another is refused by RDS.
    problems.push(
      `the replicated backups are PostgreSQL ${survey.backups.engineVersion}, the config (and so the pilot light's parameter group) ${config.database.engineVersion}: set database.engineVersion to what the stage ran and deploy the pilot light (npm run deploy -- --stage ${config.name} --primary-lost --only PilotLight --yes), then fail over`,
    );
  }
  if (survey.backups && toTime !== 'latest') {
    const { earliest, latest } = survey.backups;
    if (toTime > latest || (earliest && toTime < earliest)) {
      problems.push(
        `--to-time ${toTime.toISOString()} is outside the restorable window (${earliest?.toISOString() ?? '?'} to ${latest.toISOString()}): pick a time inside it, or --latest`,
      );
    }
  }
  return problems;
}
