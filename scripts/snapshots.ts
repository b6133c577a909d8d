/**
 * The manual snapshots of a stage's region against the account's quota, and the stage's old ones
 * deleted when the quota stops a deploy (docs/runbooks.md, "A deploy failed at the pre-deploy
 * snapshot"):
 *
 *   npm run snapshots -- --stage prod                               # the list, the quota
 *   npm run snapshots -- --stage prod --delete-older-than 30        # what would be deleted
 *   npm run snapshots -- --stage prod --delete-older-than 30 --yes  # delete them
 *
 * Deletes only manual snapshots of the stage's instances older than the days given. Never the
 * pre-deploy snapshots within backup.preDeploySnapshotsKept (the newest always), AWS Backup's,
 * another instance's, or one not available. Needs the break-glass role to delete (the on-call role for the list)
 * (rds:DescribeAccountAttributes, rds:DescribeDBSnapshots, rds:DeleteDBSnapshot).
 *
 * Exit codes: 0 listed, printed or deleted, 1 a deletion failed (the others were done), 2 bad
 * arguments or no credentials for the stage's account (nothing was deleted).
 */
import { STAGE_NAMES } from '../lib/config';
import { readFlags, STAGE_COMMAND_FLAGS, stageCommandArgs } from './lib/args';
import { UsageError } from './lib/assembly';
import { roleLine } from './lib/credentials';
import { operatorConfig, refusal } from './lib/release';
import { runSnapshots, type SnapshotsArgs, snapshotsClients } from './lib/snapshots';

const USAGE = `usage: snapshots --stage ${STAGE_NAMES.join('|')} [--delete-older-than DAYS] [--account ID] [-c KEY=VALUE ...] [--yes]; ${roleLine('snapshots')}`;

export function parseArgs(argv: readonly string[]): SnapshotsArgs {
  const flags = readFlags(argv, { ...STAGE_COMMAND_FLAGS, values: [...STAGE_COMMAND_FLAGS.values, '--delete-older-than'], usage: USAGE });
  const days = flags.find(([flag]) => flag === '--delete-older-than')?.[1];
  const args = stageCommandArgs(
    flags.filter(([flag]) => flag !== '--delete-older-than'),
    USAGE,
  );
  if (days === undefined) {
    if (args.yes) throw new UsageError(`--yes deletes, and needs --delete-older-than DAYS to say what. ${USAGE}`);
    return args;
  }
  const deleteOlderThanDays = Number(days);
  if (!/^\d+$/.test(days) || deleteOlderThanDays < 1 || deleteOlderThanDays > 3650) {
    throw new UsageError(`--delete-older-than takes whole days from 1 to 3650, not "${days}". ${USAGE}`);
  }
  return { ...args, deleteOlderThanDays };
}

export async function main(argv = process.argv.slice(2), env = process.env, clientsFor = snapshotsClients, now = new Date()): Promise<number> {
  try {
    const args = parseArgs(argv);
    const config = operatorConfig(args.stage, args, env);
    return await runSnapshots(args, clientsFor(config.region), config, now, (line) => console.log(line));
  } catch (error) {
    return refusal('snapshots', error);
  }
}

if (require.main === module) {
  main().then((code) => process.exit(code));
}
