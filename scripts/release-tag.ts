/**
 * Marks images as releases in a stage's registry, so its lifecycle rules keep them:
 *
 *   npm run release-tag -- --stage prod [--image TAG|sha256:DIGEST] [--running] [--account ID]
 *                          [-c KEY=VALUE ...] [--wait-for-image SECONDS] [--yes]
 *
 * It adds `release-<digest>` to the image the stage's config names (with the -c overrides, as the
 * deploy workflow passes them) or `--image`, and with `--running` to the image its web tasks run
 * now (once, for a stage deployed before releases were tagged). `--wait-for-image` first waits
 * for the image to reach the stage's registry (replication is asynchronous). Deploy, rollback and
 * preflight refuse an image without it. Without --yes it prints what it would tag.
 *
 * Exit codes: 0 tagged (or the plan printed, or nothing to do), 1 tagging failed, 2 bad arguments
 * or refused (wrong account, no such image): nothing was changed.
 */
import { STAGE_NAMES } from '../lib/config';
import { releaseTag } from '../lib/registry/release-tag';
import { addContext, readFlags, stageArg } from './lib/args';
import { UsageError } from './lib/assembly';
import { checkImageRef, refusal } from './lib/release';
import { formatReleaseTagPlan, planReleaseTag, type ReleaseTagArgs, releaseTagClients, tagRelease } from './lib/release-tags';

const USAGE = `usage: release-tag --stage ${STAGE_NAMES.join('|')} [--image TAG|sha256:DIGEST] [--running] [--account ID] [-c KEY=VALUE ...] [--wait-for-image SECONDS] [--yes]`;

export function parseArgs(argv: readonly string[]): ReleaseTagArgs {
  let stage: string | undefined;
  let image: string | undefined;
  let account: string | undefined;
  let running = false;
  let yes = false;
  let waitForImageSeconds = 0;
  const context: Record<string, string> = {};
  for (const [flag, value = ''] of readFlags(argv, {
    values: ['--stage', '--image', '--account', '-c', '--context', '--wait-for-image'],
    switches: ['--running', '--yes'],
    usage: USAGE,
  })) {
    if (flag === '--yes') yes = true;
    else if (flag === '--running') running = true;
    else if (flag === '--stage') stage = value;
    else if (flag === '--image') image = checkImageRef(value);
    else if (flag === '--account') account = value;
    else if (flag === '--wait-for-image') {
      waitForImageSeconds = Number(value);
      if (!/^\d+$/.test(value) || waitForImageSeconds > 3600) throw new UsageError(`--wait-for-image takes whole seconds from 0 to 3600, not "${value}". ${USAGE}`);
    } else addContext(context, flag, value, USAGE);
  }
  return { stage: stageArg(stage, USAGE), image, running, account, context, waitForImageSeconds, yes };
}

export async function main(argv = process.argv.slice(2), env = process.env, clientsFor = releaseTagClients): Promise<number> {
  try {
    const args = parseArgs(argv);
    const plan = await planReleaseTag(args, env, clientsFor);
    for (const line of formatReleaseTagPlan(plan)) console.log(line);
    const untagged = plan.images.filter((i) => !i.released);
    if (untagged.length === 0) {
      console.log('nothing to do: every image is a release.');
      return 0;
    }
    if (!args.yes) {
      console.log(`dry run: nothing tagged. Run again with --yes to tag ${untagged.length} image(s).`);
      return 0;
    }
    const { ecr } = clientsFor(plan.region);
    for (const image of untagged) {
      try {
        const outcome = await tagRelease(ecr, plan.repositoryName, image.digest);
        console.log(`${image.ref}: ${outcome === 'tagged' ? 'tagged' : 'was tagged meanwhile'} ${releaseTag(image.digest)}`);
      } catch (error) {
        console.error(`release-tag: tagging ${image.ref} failed (${(error as Error).name}: ${(error as Error).message}); nothing else was changed after it. Run again.`);
        return 1;
      }
    }
    return 0;
  } catch (error) {
    return refusal('release-tag', error);
  }
}

if (require.main === module) {
  main().then((code) => process.exit(code));
}
