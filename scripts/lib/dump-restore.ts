/**
 * `npm run restore -- --from-dump`: a stage's logical backup (a `pg_dump` in its dump bucket) into
 * a new instance alongside, in the stage's region or, from the replica, in its DR region
 * (docs/disaster-recovery.md, "Restoring from a logical backup"). The plan names the dump, its
 * source time and server version, the instance and the engine version it gets; the run creates the
 * instance and runs the restore task into it. Every step asks AWS whether it is done (the
 * instance's tags hold which dump it is of and whether the task restored it), so a rerun continues.
 */
import { AddTagsToResourceCommand, CreateDBInstanceCommand, type DBInstance } from '@aws-sdk/client-rds';
import type { StageConfig, StageName } from '../../lib/config';
import { DATABASE_NAME, MASTER_USERNAME } from '../../lib/data/database';
import { DATABASE_SETTINGS } from '../../lib/data/database-settings';
import { DUMP_ENV, DUMP_PREFIX } from '../../lib/data/logical-backup-names';
import { pilotLightNames } from '../../lib/dr/pilot-light-names';
import { projectTag, stageResourceName } from '../../lib/shared/naming';
import { accountProblem } from './credentials';
import { drDatabaseSettings } from './dr-steps';
import type { RegionClients, RegionClientsFor } from './dr-survey';
import { type DumpObject, describeDump, describePlace, dumpKeyTime, dumpObject, newestDumpKey, runDumpTask, type TaskPlace, taskPlace, versionProblem } from './dump-task';
import { outputsOf, shellLine } from './release';
import { describe, type Waiting, waitAvailable } from './restore';
import { dryRunEnd, minutesLine, printPlan, refuseProblems, runSteps, type Step } from './runbook';

/** Which dump an instance restored by this command is of (`bucket/key`), and when the restore task finished with it. */
export const DUMP_SOURCE_TAG = projectTag('restored-from-dump');
export const DUMP_RESTORED_TAG = projectTag('dump-restored-at');

export interface DumpRestoreArgs {
  readonly stage: StageName;
  /** `latest` (the newest raw dump) or an object key of the dump bucket. */
  readonly from: { readonly dump: string };
  /** The stage's region (the default) or its DR region (the replica, the pilot light's task). */
  readonly region?: string;
  /** PostgreSQL `major.minor` for the new instance; the stage's by default. */
  readonly engineVersion?: string;
  readonly yes: boolean;
  readonly account?: string;
  readonly context: Record<string, string>;
}

export interface DumpRestoreDeps {
  readonly clientsFor: RegionClientsFor;
  readonly wait: Waiting;
}

/** The new instance: everything CreateDBInstance is given, and what the plan says about it. */
interface NewInstance {
  readonly name: string;
  readonly engineVersion: string;
  readonly engineNote: string;
  readonly parameterGroup: string;
  readonly parameterNote: string;
  readonly instanceClass: string;
  readonly storageGiB: number;
  readonly maxStorageGiB?: number;
  readonly subnetGroup: string;
  readonly securityGroups: string[];
  /** Encrypts the storage and the managed master secret: the stage database key, or the DR key. */
  readonly key: string;
}

interface DumpRestoreState {
  readonly clients: RegionClients;
  readonly wait: Waiting;
  readonly dump: DumpObject;
  readonly instance: NewInstance;
  readonly place: TaskPlace;
}

/** `webapp-<stage>-dump-<yyyymmddhhmm>` of the dump's time: the same dump restores into the same name, so a rerun finds it. */
export function dumpInstanceName(stage: string, dump: DumpObject): string {
  const at = dump.sourceTime ?? dumpKeyTime(dump.key) ?? new Date(0);
  return stageResourceName(stage, 'dump', at.toISOString().slice(0, 16).replace(/\D/g, ''));
}

const majorOf = (version: string) => Number(version.split('.')[0]);

/** What the new instance gets in the stage's region: the stage database's class, storage, network and key. */
function primaryInstance(
  current: DBInstance,
  config: StageConfig,
): Omit<NewInstance, 'name' | 'engineVersion' | 'engineNote' | 'parameterGroup' | 'parameterNote'> & { stageGroup: string } {
  return {
    instanceClass: current.DBInstanceClass!,
    storageGiB: Math.max(current.AllocatedStorage ?? 0, config.database.allocatedStorageGiB),
    maxStorageGiB: current.MaxAllocatedStorage,
    subnetGroup: current.DBSubnetGroup?.DBSubnetGroupName ?? '',
    securityGroups: (current.VpcSecurityGroups ?? []).map((g) => g.VpcSecurityGroupId!).sort(),
    key: current.KmsKeyId ?? '',
    stageGroup: current.DBParameterGroups?.[0]?.DBParameterGroupName ?? '',
  };
}

/** Reads what the plan needs; returns the state, or the problems that stop it. */
async function survey(args: DumpRestoreArgs, config: StageConfig, clients: RegionClients, region: string): Promise<{ state?: Omit<DumpRestoreState, 'wait'>; problems: string[] }> {
  const problems: string[] = [];
  const inDr = region === config.drRegion;
  const stage = config.name;
  const deploy = inDr
    ? `deploy the pilot light: npm run deploy -- --stage ${stage} --only PilotLight --yes`
    : `deploy the data stack: npm run deploy -- --stage ${stage} --only Data --yes`;
  const stackName = inDr ? pilotLightNames(stage).stackName : `${stage}-Data`;
  const place = taskPlace(stackName, await outputsOf(clients.cfn, stackName), deploy);
  if (typeof place === 'string') return { problems: [place] };

  const key = args.from.dump === 'latest' ? await newestDumpKey(clients.s3, place.bucket, DUMP_PREFIX.raw) : args.from.dump;
  const dump = key ? await dumpObject(clients.s3, place.bucket, key) : undefined;
  if (!dump) {
    const what = key ? `no object ${key}` : `no dump under ${DUMP_PREFIX.raw}`;
    return {
      problems: [
        `the dump bucket ${place.bucket} in ${region} has ${what}. Fix: list the dumps (aws s3 ls s3://${place.bucket}/${DUMP_PREFIX.raw}) and name one with --from-dump KEY`,
      ],
    };
  }

  const stageVersion = config.database.engineVersion;
  const engineVersion = args.engineVersion ?? stageVersion;
  const older = `restore onto PostgreSQL ${dump.serverMajor}.x or newer (--engine-version ${dump.serverMajor}.<minor>)`;
  const versionTrouble = versionProblem(dump, engineVersion, older);
  if (versionTrouble) problems.push(versionTrouble);
  const engineNote =
    engineVersion === stageVersion
      ? "the stage's"
      : majorOf(engineVersion) > majorOf(stageVersion)
        ? `a newer major than the stage's ${stageVersion}`
        : `not the stage's ${stageVersion}`;

  let base: ReturnType<typeof primaryInstance>;
  if (inDr) {
    const pilot = (await outputsOf(clients.cfn, pilotLightNames(stage).stackName)) ?? {};
    const drKey = (await outputsOf(clients.cfn, `${stage}-Dr`))?.BackupKeyArn;
    if (!drKey)
      problems.push(`${stage}-Dr in ${region} has no output BackupKeyArn to encrypt the instance with. Fix: deploy it: npm run deploy -- --stage ${stage} --only Dr --yes`);
    const dr = drDatabaseSettings(config, pilot, drKey ?? '', 'drill');
    base = {
      instanceClass: dr.instanceClass,
      storageGiB: config.database.allocatedStorageGiB,
      maxStorageGiB: dr.maxAllocatedStorage,
      subnetGroup: dr.subnetGroup,
      securityGroups: dr.securityGroups,
      key: drKey ?? '',
      stageGroup: dr.parameterGroup,
    };
  } else {
    const current = await describe(clients.rds, stageResourceName(stage));
    if (!current) {
      const dr = config.dumps.replicateToDr ? ` Restore the replica in the DR region instead: --region ${config.drRegion}` : '';
      return { problems: [`${stageResourceName(stage)} does not exist in ${region}, whose class, network and key the new instance takes.${dr}`] };
    }
    base = primaryInstance(current, config);
  }
  // The stage's group is of its major's family; another major gets the engine's default group of its own family.
  const sameMajor = majorOf(engineVersion) === majorOf(stageVersion);
  const { stageGroup, ...rest } = base;
  const instance: NewInstance = {
    ...rest,
    name: dumpInstanceName(stage, dump),
    engineVersion,
    engineNote,
    parameterGroup: sameMajor ? stageGroup : `default.postgres${majorOf(engineVersion)}`,
    parameterNote: sameMajor
      ? "the stage's"
      : `the engine's default of family postgres${majorOf(engineVersion)}: the stage's settings (TLS only, max_connections, statement logs without bind values) are not in it: copy them into a group of that family before anyone uses it`,
  };
  return { state: { clients, dump, instance, place }, problems };
}

/** The steps: the instance, then the restore task into it. */
function steps(args: DumpRestoreArgs, state: Omit<DumpRestoreState, 'wait'>): Step<DumpRestoreState>[] {
  const { dump, instance, place } = state;
  const source = `${dump.bucket}/${dump.key}`;
  const gib = dump.bytes / 1024 ** 3;
  return [
    {
      key: 'instance',
      title: `create ${instance.name}: PostgreSQL ${instance.engineVersion} (${instance.engineNote}), ${instance.instanceClass}, ${instance.storageGiB} GiB gp3, single-AZ, subnet group ${instance.subnetGroup}, security groups ${instance.securityGroups.join(' ')}, parameter group ${instance.parameterGroup} (${instance.parameterNote}), encrypted with ${instance.key}, an RDS-managed master secret under the same key, IAM logins`,
      expectedMinutes: 15,
      basis: 'AWS documents no duration for a new instance: 10-20 min here',
      async done({ clients }) {
        const db = await describe(clients.rds, instance.name);
        if (!db) return undefined;
        const of = db.TagList?.find((t) => t.Key === DUMP_SOURCE_TAG)?.Value;
        if (of !== source)
          throw new Error(`${instance.name} exists already, but not from ${source} (tag ${DUMP_SOURCE_TAG}: ${of ?? 'none'}): delete it, or restore the dump it is of`);
        return db.DBInstanceStatus === 'available' && db.MasterUserSecret?.SecretStatus === 'active' ? `${instance.name} is available` : undefined;
      },
      async run({ clients, wait }) {
        if (!(await describe(clients.rds, instance.name))) await createInstance(clients, instance, source);
        await waitAvailable(clients.rds, instance.name, wait, { secret: true });
      },
    },
    {
      key: 'restore',
      title: `run the restore task (${describePlace(place)}): pg_restore of the dump into database ${DATABASE_NAME} of ${instance.name}, then the database setup (pgvector, the roles) and the restore verifier's checks`,
      expectedMinutes: Math.max(10, Math.ceil(gib * 15)),
      basis: `a budget of 15 min per GiB of dump (pg_restore rebuilds every index), at least 10, until a restore measures it; this dump is ${gib.toFixed(2)} GiB`,
      async done({ clients }) {
        const at = (await describe(clients.rds, instance.name))?.TagList?.find((t) => t.Key === DUMP_RESTORED_TAG)?.Value;
        return at ? `the restore task finished at ${at} (tag ${DUMP_RESTORED_TAG})` : undefined;
      },
      async run({ clients, wait }) {
        const db = (await describe(clients.rds, instance.name))!;
        const secret = db.MasterUserSecret?.SecretArn;
        if (!db.Endpoint?.Address || !secret) throw new Error(`${instance.name} has no endpoint or master secret yet`);
        await runDumpTask(
          clients.ecs,
          place,
          {
            command: 'restore',
            startedBy: instance.name,
            environment: {
              [DUMP_ENV.stage]: args.stage,
              [DUMP_ENV.bucket]: dump.bucket,
              [DUMP_ENV.key]: dump.key,
              [DUMP_ENV.databaseHost]: db.Endpoint.Address,
              [DUMP_ENV.databasePort]: String(db.Endpoint.Port ?? DATABASE_SETTINGS.port),
              [DUMP_ENV.databaseName]: DATABASE_NAME,
              [DUMP_ENV.masterSecret]: secret,
            },
          },
          wait,
        );
        await clients.rds.send(new AddTagsToResourceCommand({ ResourceName: db.DBInstanceArn, Tags: [{ Key: DUMP_RESTORED_TAG, Value: wait.now().toISOString() }] }));
      },
    },
  ];
}

async function createInstance(clients: RegionClients, instance: NewInstance, source: string): Promise<void> {
  await clients.rds.send(
    new CreateDBInstanceCommand({
      DBInstanceIdentifier: instance.name,
      Engine: 'postgres',
      EngineVersion: instance.engineVersion,
      DBInstanceClass: instance.instanceClass,
      AllocatedStorage: instance.storageGiB,
      MaxAllocatedStorage: instance.maxStorageGiB,
      StorageType: DATABASE_SETTINGS.storageType,
      StorageEncrypted: true,
      KmsKeyId: instance.key,
      DBName: DATABASE_NAME,
      Port: DATABASE_SETTINGS.port,
      MasterUsername: MASTER_USERNAME,
      ManageMasterUserPassword: true,
      MasterUserSecretKmsKeyId: instance.key,
      EnableIAMDatabaseAuthentication: true,
      DBSubnetGroupName: instance.subnetGroup,
      VpcSecurityGroupIds: instance.securityGroups,
      DBParameterGroupName: instance.parameterGroup,
      MultiAZ: false,
      PubliclyAccessible: false,
      // A copy to read from and then delete: nothing keeps it from deletion, one day of backups.
      DeletionProtection: false,
      BackupRetentionPeriod: 1,
      PreferredBackupWindow: DATABASE_SETTINGS.backupWindow,
      PreferredMaintenanceWindow: DATABASE_SETTINGS.maintenanceWindow,
      CACertificateIdentifier: DATABASE_SETTINGS.caCertificate,
      EnableCloudwatchLogsExports: [...DATABASE_SETTINGS.logExports],
      CopyTagsToSnapshot: true,
      AutoMinorVersionUpgrade: false,
      Tags: [{ Key: DUMP_SOURCE_TAG, Value: source }],
    }),
  );
}

/** Plans (and with --yes runs) the restore of a dump; returns the exit code. */
export async function runDumpRestore(args: DumpRestoreArgs, config: StageConfig, deps: DumpRestoreDeps): Promise<number> {
  const say = deps.wait.log;
  const region = args.region ?? config.region;
  if (region !== config.region && region !== config.drRegion) {
    say(`restore: --region ${region} is neither ${config.name}'s region ${config.region} nor its DR region ${config.drRegion}. Nothing was changed.`);
    return 2;
  }
  if (region === config.drRegion && (!config.dumps.replicateToDr || !config.dr.pilotLight)) {
    const missing = [config.dumps.replicateToDr ? '' : 'dumps.replicateToDr (no replica there)', config.dr.pilotLight ? '' : 'dr.pilotLight (no restore task there)'].filter(
      Boolean,
    );
    say(
      `restore: ${config.name} has no ${missing.join(' and ')} in ${region}. Fix: restore in ${config.region}, or turn them on in lib/config/stages.ts and deploy. Nothing was changed.`,
    );
    return 2;
  }
  const clients = deps.clientsFor(region);
  const problem = await accountProblem(clients.sts, config.account, config.name, { command: 'restore', acting: args.yes, config });
  if (problem) {
    say(`restore: ${problem} Nothing was changed.`);
    return 2;
  }
  const { state, problems } = await survey(args, config, clients, region);
  const rerun = (key: string) =>
    shellLine([
      'npm',
      'run',
      'restore',
      '--',
      '--stage',
      config.name,
      '--from-dump',
      key,
      ...(args.region ? ['--region', args.region] : []),
      ...(args.engineVersion ? ['--engine-version', args.engineVersion] : []),
      '--yes',
    ]);
  if (!state) return args.yes ? refuseProblems(deps.wait, problems)! : dryRunEnd(deps.wait, problems, '');
  const run: DumpRestoreState = { ...state, wait: deps.wait };
  const list = steps(args, state);
  const again = rerun(state.dump.key);
  if (!args.yes) {
    say(`Plan: restore a logical backup of ${config.name} into a new instance in ${region}, alongside ${stageResourceName(config.name)} (which is not touched):`);
    say(`  dump: ${describeDump(state.dump)}`);
    const plan = await printPlan(list, run, deps.wait);
    say(`Expected: ${plan.minutes} min.`);
    return dryRunEnd(deps.wait, [...problems, ...plan.blocked], `To restore: ${again}`);
  }
  const refused = refuseProblems(deps.wait, problems);
  if (refused) return refused;
  say(`Restoring ${describeDump(state.dump)}:`);
  const result = await runSteps(again, list, run, deps.wait);
  say(`Minutes: ${minutesLine(result.minutes)}`);
  if (!result.completed) return 1;
  const db = await describe(clients.rds, state.instance.name);
  const endpoint = `${db?.Endpoint?.Address ?? state.instance.name}:${db?.Endpoint?.Port ?? DATABASE_SETTINGS.port}`;
  say(`RESTORED FROM DUMP: ${state.instance.name} at ${endpoint}, database ${DATABASE_NAME}, the data of ${state.dump.sourceTime?.toISOString() ?? state.dump.key}.`);
  say('Next (docs/disaster-recovery.md, "Restoring from a logical backup"):');
  say(
    `  - read or copy back what is needed, as webapp_app or webapp_migrator with an IAM token for ${endpoint} (the master secret: ${db?.MasterUserSecret?.SecretArn ?? 'see the instance'});`,
  );
  say(`  - then delete it: aws rds delete-db-instance --region ${region} --db-instance-identifier ${state.instance.name} --skip-final-snapshot --delete-automated-backups`);
  return 0;
}
