/**
 * Restores a stage's database from a snapshot in place of the current instance, so the app
 * connects to it without a stack edit (docs/disaster-recovery.md, "Restoring the database"):
 *
 *   npm run restore-database -- --stage prod --snapshot predeploy-prod-v1-4-2-3f9a1c2e-202611221200 [--yes]
 *
 * Without --yes it only prints what it would do. With --yes it restores the snapshot as
 * webapp-<stage>-restored with every setting of webapp-<stage> (network, parameters, class,
 * Multi-AZ, IAM authentication, log exports, backups, Performance Insights, monitoring), gives it
 * its own RDS-managed master secret encrypted with the stage's database key, checks that nothing
 * differs, renames webapp-<stage> to webapp-<stage>-old and the copy to webapp-<stage>, and starts
 * the automated-backup replication to the DR region again. The old instance is kept. Stop writes
 * first (runbook step 1); redeploy and scale back afterwards (the script prints the commands).
 *
 * Exit codes: 0 restored (or the dry run printed), 1 the restore failed or was refused, 2 bad
 * arguments or no credentials for the stage's account (nothing was changed).
 */
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { RDSClient } from '@aws-sdk/client-rds';
import { STSClient } from '@aws-sdk/client-sts';
import { STAGE_NAMES, STAGES, type StageName } from '../lib/config';
import { stageResourceName } from '../lib/shared/naming';
import { readFlags, stageArg } from './lib/args';
import { UsageError } from './lib/assembly';
import { accountProblem } from './lib/credentials';
import { applySettings, describe, differences, replicateBackups, restoreFromSnapshot, settingsOf, swapIn, type Waiting, waitAvailable } from './lib/restore';

const USAGE = `usage: restore-database --stage ${STAGE_NAMES.join('|')} --snapshot SNAPSHOT_ID [--yes]`;

export interface RestoreArgs {
  readonly stage: StageName;
  readonly snapshot: string;
  readonly yes: boolean;
}

export function parseArgs(argv: readonly string[]): RestoreArgs {
  let stage: string | undefined;
  let snapshot: string | undefined;
  let yes = false;
  for (const [flag, value] of readFlags(argv, { values: ['--stage', '--snapshot'], switches: ['--yes'], usage: USAGE })) {
    if (flag === '--yes') yes = true;
    else if (flag === '--stage') stage = value;
    else snapshot = value;
  }
  const name = stageArg(stage, USAGE);
  if (!snapshot) throw new UsageError(`--snapshot is required. ${USAGE}`);
  return { stage: name, snapshot, yes };
}

export interface RestoreClients {
  readonly rds: RDSClient | Pick<RDSClient, 'send'>;
  /** RDS in the stage's DR region, to replicate automated backups there again. */
  readonly rdsDr: RDSClient | Pick<RDSClient, 'send'>;
  /** CloudFormation in the DR region: the DR stack's key ARN. */
  readonly cloudformationDr: CloudFormationClient | Pick<CloudFormationClient, 'send'>;
}

/** Runs the restore (or prints its plan) and returns the exit code; `wait.log` gets every line. */
export async function runRestore(args: RestoreArgs, clients: RestoreClients, wait: Waiting): Promise<number> {
  const config = STAGES[args.stage];
  const names = { current: stageResourceName(args.stage), restored: stageResourceName(args.stage, 'restored'), old: stageResourceName(args.stage, 'old') };
  const say = wait.log;
  const current = await describe(clients.rds, names.current);
  if (!current) {
    say(`REFUSED: ${names.current} does not exist in ${config.region}. Restore into the DR region by the runbook instead (docs/disaster-recovery.md).`);
    return 1;
  }
  for (const taken of [names.restored, names.old]) {
    if (await describe(clients.rds, taken)) {
      say(`REFUSED: ${taken} already exists: an earlier restore was not finished. Delete or rename it first (docs/disaster-recovery.md).`);
      return 1;
    }
  }
  const settings = settingsOf(current);
  const plan = [
    `restore ${args.snapshot} as ${names.restored} (${settings.instanceClass}, Multi-AZ ${settings.multiAz}, subnet group ${settings.subnetGroup}, security groups ${settings.securityGroups.join(' ')})`,
    `apply what a snapshot restore drops: a managed master secret (key ${settings.masterSecretKmsKeyId ?? 'the RDS default'}), ${settings.backupRetention} days of backups, Performance Insights ${settings.performanceInsights.enabled}, monitoring every ${settings.monitoring.intervalSeconds} s`,
    `rename ${names.current} to ${names.old} (kept, with its secret) and ${names.restored} to ${names.current}, deletion protection ${settings.deletionProtection}`,
    ...settings.backupReplication.map((r) => `replicate the automated backups to ${r.region} again`),
  ];
  if (!args.yes) {
    say(`Would, for ${names.current} in ${config.region}:`);
    for (const [i, step] of plan.entries()) say(`  ${i + 1}. ${step}`);
    say('Stop writes first (docs/disaster-recovery.md, step 1), then run again with --yes.');
    return 0;
  }

  say(`1/4 ${plan[0]}`);
  await restoreFromSnapshot(clients.rds, args.snapshot, names.restored, settings);
  await waitAvailable(clients.rds, names.restored, wait);
  say(`2/4 ${plan[1]}`);
  await applySettings(clients.rds, names.restored, settings);
  const restored = await waitAvailable(clients.rds, names.restored, wait, { secret: true });
  const diff = differences(settings, settingsOf(restored));
  if (diff.length > 0) {
    say(`STOPPED before the swap: ${names.restored} differs from ${names.current}: ${diff.join('; ')}. Fix it by hand (aws rds modify-db-instance), then swap by the runbook.`);
    return 1;
  }
  say(`3/4 ${plan[2]}`);
  await swapIn(clients.rds, names, wait, settings.deletionProtection);
  if (settings.backupReplication.length > 0) {
    say(`4/4 ${plan[3]}`);
    const key = await drBackupKey(clients.cloudformationDr, args.stage);
    const arn = (await describe(clients.rds, names.current))!.DBInstanceArn!;
    await replicateBackups(clients.rdsDr, arn, key, config.backup.automatedBackupReplicationDays);
  } else {
    say('4/4 no automated-backup replication to restart');
  }
  say(`RESTORED: ${names.current} is the copy of ${args.snapshot}; ${names.old} is kept.`);
  say('Next (docs/disaster-recovery.md, steps 5-7):');
  say(
    `  - deploy the stage, data first: the same command as the pipeline, e.g. npx cdk deploy '${args.stage}/*' -c ${args.stage}.account=${config.account} -c ${args.stage}.image.tag=<the image to run>`,
  );
  say('  - scale the services back up, check the site and the dashboard;');
  say(`  - once the restore is accepted: aws rds modify-db-instance --db-instance-identifier ${names.old} --no-deletion-protection, then delete it (a final snapshot is kept).`);
  return 0;
}

/** The DR backup key's ARN, from the DR stack's output. */
async function drBackupKey(cf: RestoreClients['cloudformationDr'], stage: string): Promise<string> {
  const stack = (await cf.send(new DescribeStacksCommand({ StackName: `${stage}-Dr` }))).Stacks?.[0];
  const key = stack?.Outputs?.find((o) => o.OutputKey === 'BackupKeyArn')?.OutputValue;
  if (!key)
    throw new Error(`${stage}-Dr has no output BackupKeyArn: deploy the DR stack, then run: aws rds start-db-instance-automated-backups-replication (docs/disaster-recovery.md)`);
  return key;
}

async function main(): Promise<number> {
  let args: RestoreArgs;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (error) {
    console.error(`restore-database: ${(error as Error).message}`);
    return 2;
  }
  const config = STAGES[args.stage];
  const problem = await accountProblem(new STSClient({ region: config.region }), config.account, args.stage);
  if (problem) {
    console.error(`restore-database: ${problem} Nothing was changed.`);
    return 2;
  }
  try {
    return await runRestore(
      args,
      { rds: new RDSClient({ region: config.region }), rdsDr: new RDSClient({ region: config.drRegion }), cloudformationDr: new CloudFormationClient({ region: config.drRegion }) },
      { now: () => new Date(), sleep: (ms) => new Promise((r) => setTimeout(r, ms)), log: (line) => console.log(`${new Date().toISOString()} ${line}`) },
    );
  } catch (error) {
    console.error(`FAILED: ${(error as Error).message}. ${stageResourceName(args.stage)} is left as it was unless the log above says it was renamed.`);
    return 1;
  }
}

if (require.main === module) {
  main().then((code) => process.exit(code));
}
