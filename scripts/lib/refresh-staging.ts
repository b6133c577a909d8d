/**
 * `npm run refresh-staging`: the stage's database gets the newest anonymised copy of its source
 * stage's data (docs/disaster-recovery.md, "Staging data"). The copy is read across accounts from
 * the source stage's dump bucket (its policy lets this stage's account read `anonymised/` only),
 * the stage's restore task replaces the database's contents with it (`pg_restore --clean`, then
 * the database setup and the verifier's checks), and an SSM parameter records which copy the data
 * now is: that parameter is also how a rerun knows the refresh is done.
 */
import { PutParameterCommand } from '@aws-sdk/client-ssm';
import type { StageConfig, StageName } from '../../lib/config';
import { DATABASE_NAME } from '../../lib/data/database';
import { DATABASE_SETTINGS } from '../../lib/data/database-settings';
import { DUMP_ENV, DUMP_PREFIX, dumpBucketName, refreshedFromParameter } from '../../lib/data/logical-backup-names';
import { stageResourceName } from '../../lib/shared/naming';
import { accountProblem } from './credentials';
import { parameterValue, type RegionClients, type RegionClientsFor } from './dr-survey';
import { type DumpObject, describeDump, describePlace, dumpObject, newestDumpKey, runDumpTask, type TaskPlace, taskPlace, versionProblem } from './dump-task';
import { outputsOf, shellLine } from './release';
import { describe, type Waiting } from './restore';
import { dryRunEnd, minutesLine, printPlan, refuseProblems, runSteps, type Step } from './runbook';

export interface RefreshArgs {
  readonly stage: StageName;
  readonly yes: boolean;
  readonly account?: string;
  readonly context: Record<string, string>;
}

export interface RefreshDeps {
  readonly clientsFor: RegionClientsFor;
  readonly wait: Waiting;
}

/** What the SSM parameter records: which stage's copy, of when, under which key. */
export interface RefreshRecord {
  readonly sourceStage: string;
  readonly sourceTime: string;
  readonly key: string;
}

interface RefreshState {
  readonly clients: RegionClients;
  readonly wait: Waiting;
  readonly dump: DumpObject;
  readonly place: TaskPlace;
  readonly record: RefreshRecord;
}

/** The record in the parameter, or undefined when there is none or it is not one. */
async function currentRecord(clients: RegionClients, stage: string): Promise<RefreshRecord | undefined> {
  const text = await parameterValue(clients.ssm, refreshedFromParameter(stage));
  try {
    const parsed = text ? (JSON.parse(text) as RefreshRecord) : undefined;
    return typeof parsed?.key === 'string' ? parsed : undefined;
  } catch {
    return undefined;
  }
}

/** Reads the copy, the task's place and the stage database; returns the state or what stops the refresh. */
async function survey(config: StageConfig, deps: RefreshDeps): Promise<{ state?: RefreshState; problems: string[] }> {
  const stage = config.name;
  const from = config.dumps.refreshFrom!;
  const clients = deps.clientsFor(config.region);
  const { sourceRegion } = from;
  const bucket = dumpBucketName(from.sourceStage, from.sourceAccount, sourceRegion);
  const problems: string[] = [];

  const place = taskPlace(`${stage}-Data`, await outputsOf(clients.cfn, `${stage}-Data`), `deploy the data stack: npm run deploy -- --stage ${stage} --only Data --yes`);
  if (typeof place === 'string') problems.push(place);
  const db = await describe(clients.rds, stageResourceName(stage));
  if (!db?.Endpoint?.Address || !db.MasterUserSecret?.SecretArn)
    problems.push(`${stageResourceName(stage)} is not there in ${config.region} (or has no endpoint or master secret yet): deploy ${stage} first`);

  let key: string | undefined;
  try {
    key = await newestDumpKey(deps.clientsFor(sourceRegion).s3, bucket, DUMP_PREFIX.anonymised);
  } catch (error) {
    if ((error as Error).name !== 'AccessDenied') throw error;
    problems.push(
      `${stage}'s account ${config.account} may not list s3://${bucket}/${DUMP_PREFIX.anonymised} (AccessDenied). Fix: ${from.sourceStage}'s dumps.anonymised.readerAccount must be ${config.account}, deployed (npm run deploy -- --stage ${from.sourceStage} --only Data --yes)`,
    );
  }
  const dump = key ? await dumpObject(deps.clientsFor(sourceRegion).s3, bucket, key) : undefined;
  if (!dump && !problems.some((p) => p.includes('AccessDenied')))
    problems.push(
      `s3://${bucket}/${DUMP_PREFIX.anonymised} holds no anonymised copy yet: it is made on ${from.sourceStage}'s dumps.anonymised.schedule. Fix: wait for it, or run the anonymisation there`,
    );
  if (dump) {
    const trouble = versionProblem(
      dump,
      config.database.engineVersion,
      `upgrade ${stage} to PostgreSQL ${dump.serverMajor} first (docs/runbooks.md, "Upgrade PostgreSQL to a new major version")`,
    );
    if (trouble) problems.push(trouble);
  }
  if (!dump || typeof place === 'string' || !db) return { problems };
  const record = { sourceStage: from.sourceStage, sourceTime: dump.sourceTime?.toISOString() ?? '', key: dump.key };
  return { state: { clients, wait: deps.wait, dump, place, record }, problems };
}

function refreshStep(config: StageConfig, state: RefreshState): Step<RefreshState> {
  const { dump, place, record } = state;
  const gib = dump.bytes / 1024 ** 3;
  const parameter = refreshedFromParameter(config.name);
  return {
    key: 'refresh',
    title: `replace every table of database ${DATABASE_NAME} of ${stageResourceName(config.name)} with the copy (the restore task's refresh: ${describePlace(place)}; pg_restore --clean --if-exists, the database setup, the verifier's checks), then record it in ${parameter}`,
    expectedMinutes: Math.max(10, Math.ceil(gib * 15)),
    basis: `a budget of 15 min per GiB of dump (pg_restore rebuilds every index), at least 10, until a refresh measures it; this copy is ${gib.toFixed(2)} GiB`,
    async done({ clients }) {
      const now = await currentRecord(clients, config.name);
      return now?.key === record.key && now.sourceStage === record.sourceStage ? `${parameter} says the data is ${record.key} already` : undefined;
    },
    async run({ clients, wait }) {
      const db = (await describe(clients.rds, stageResourceName(config.name)))!;
      const at = (dump.sourceTime ?? new Date(0)).toISOString().slice(0, 16).replace(/\D/g, '');
      await runDumpTask(
        clients.ecs,
        place,
        {
          command: 'refresh',
          startedBy: `refresh-${config.name}-${at}`,
          environment: {
            [DUMP_ENV.stage]: config.name,
            [DUMP_ENV.sourceBucket]: dump.bucket,
            [DUMP_ENV.key]: dump.key,
            [DUMP_ENV.databaseHost]: db.Endpoint!.Address!,
            [DUMP_ENV.databasePort]: String(db.Endpoint!.Port ?? DATABASE_SETTINGS.port),
            [DUMP_ENV.databaseName]: DATABASE_NAME,
            [DUMP_ENV.masterSecret]: db.MasterUserSecret!.SecretArn!,
          },
        },
        wait,
      );
      await clients.ssm.send(new PutParameterCommand({ Name: parameter, Type: 'String', Overwrite: true, Value: JSON.stringify(record) }));
    },
  };
}

/** Plans (and with --yes runs) the refresh; returns the exit code. */
export async function runRefresh(args: RefreshArgs, config: StageConfig, deps: RefreshDeps): Promise<number> {
  const say = deps.wait.log;
  if (config.name === 'prod') {
    say("refresh-staging: prod is never overwritten with another stage's data. Nothing was changed.");
    return 2;
  }
  const from = config.dumps.refreshFrom;
  if (!from) {
    say(
      `refresh-staging: ${config.name} has no dumps.refreshFrom, so no stage to take its data from. Fix: set it in lib/config/stages.ts (and that stage's dumps.anonymised). Nothing was changed.`,
    );
    return 2;
  }
  const problem = await accountProblem(deps.clientsFor(config.region).sts, config.account, config.name, { command: 'refresh-staging', acting: args.yes, config });
  if (problem) {
    say(`refresh-staging: ${problem} Nothing was changed.`);
    return 2;
  }
  const { state, problems } = await survey(config, deps);
  const rerun = shellLine(['npm', 'run', 'refresh-staging', '--', '--stage', config.name, '--yes']);
  if (!state) return args.yes ? refuseProblems(deps.wait, problems)! : dryRunEnd(deps.wait, problems, '');
  const steps = [refreshStep(config, state)];
  const now = await currentRecord(state.clients, config.name);
  if (!args.yes) {
    say(`Plan: refresh ${config.name}'s data from ${from.sourceStage}'s newest anonymised copy:`);
    say(`  copy: ${describeDump(state.dump)}`);
    say(`  now:  ${now ? `${now.sourceStage}'s copy ${now.key} (of ${now.sourceTime})` : 'no refresh recorded'}`);
    say(`  Everything written in ${config.name} since is lost: its database becomes the copy.`);
    const plan = await printPlan(steps, state, deps.wait);
    return dryRunEnd(deps.wait, [...problems, ...plan.blocked], `To refresh: ${rerun}`);
  }
  const refused = refuseProblems(deps.wait, problems);
  if (refused) return refused;
  const result = await runSteps(rerun, steps, state, deps.wait);
  say(`Minutes: ${minutesLine(result.minutes)}`);
  if (!result.completed) return 1;
  say(`REFRESHED: ${stageResourceName(config.name)} holds ${from.sourceStage}'s anonymised data of ${state.record.sourceTime} (${state.record.key}).`);
  say(`Next: jobs queued in ${config.name}'s cache may name rows the refresh replaced; clear them with the app's own command if they fail.`);
  return 0;
}
