/**
 * Marks images as releases in a stage's registry, so its lifecycle rules keep them:
 *
 *   npm run release-tag -- --stage prod [--image TAG|sha256:DIGEST] [--running] [--account ID]
 *                          [-c KEY=VALUE ...] [--wait-for-image SECONDS] [--yes]
 *
 * It adds `release-<digest>` to the image the stage's config names (with the -c overrides, as the
 * deploy workflow passes them) or `--image`, and with `--running` to the image its web tasks run
 * now (once, for a stage deployed before releases were tagged). A stage with a pilot light
 * (`dr.pilotLight`) keeps its releases in its DR region's registry too: the same images, found
 * there by digest, are tagged there as well. `--wait-for-image` first waits for the image to
 * reach the stage's registries (replication is asynchronous). Deploy, rollback and preflight
 * refuse an image without the tag. Without --yes it prints what it would tag.
 *
 * Exit codes: 0 tagged (or the plan printed, or nothing to do), 1 tagging failed or the DR
 * registry lacks an image (`npm run dr-images` copies it), 2 bad arguments or refused (wrong
 * account, no such image): nothing was changed.
 */
import { STAGE_NAMES } from '../lib/config';
import { releaseTag } from '../lib/registry/release-tag';
import { addContext, readFlags, stageArg } from './lib/args';
import { UsageError } from './lib/assembly';
import { roleLine } from './lib/credentials';
import { checkImageRef, refusal } from './lib/release';
import { drImagesCommand, formatReleaseTagPlan, planReleaseTag, type ReleaseTagArgs, releaseTagClients, tagRelease } from './lib/release-tags';

const USAGE = `usage: release-tag --stage ${STAGE_NAMES.join('|')} [--image TAG|sha256:DIGEST] [--running] [--account ID] [-c KEY=VALUE ...] [--wait-for-image SECONDS] [--yes]; ${roleLine('release-tag')}`;

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
    // The stage's registry first, then its DR region's (where it keeps a pilot light).
    const untagged = [
      ...plan.images.filter((i) => !i.released).map((i) => ({ ...i, region: plan.region, where: '' })),
      ...(plan.dr?.images ?? []).flatMap((i) => (!i.missing && !i.released ? [{ ...i, region: plan.dr!.region, where: ' in the DR registry' }] : [])),
    ];
    const missing = (plan.dr?.images ?? []).filter((i) => i.missing);
    if (untagged.length === 0) {
      console.log(`nothing to do: every image ${missing.length ? 'the registries hold ' : ''}is a release.`);
      return missing.length && args.yes ? notInDr(plan.stage, missing) : 0;
    }
    if (!args.yes) {
      console.log(`dry run: nothing tagged. Run again with --yes to tag ${untagged.length} image(s).`);
      return 0;
    }
    for (const image of untagged) {
      try {
        const outcome = await tagRelease(clientsFor(image.region).ecr, plan.repositoryName, image.digest);
        console.log(`${image.ref}: ${outcome === 'tagged' ? 'tagged' : 'was tagged meanwhile'} ${releaseTag(image.digest)}${image.where}`);
      } catch (error) {
        console.error(
          `release-tag: tagging ${image.ref}${image.where} failed (${(error as Error).name}: ${(error as Error).message}); nothing else was changed after it. Run again.`,
        );
        return 1;
      }
    }
    return missing.length ? notInDr(plan.stage, missing) : 0;
  } catch (error) {
    return refusal('release-tag', error);
  }
}

/** A release the DR registry lacks: not tagged there, so the command did not do all it should (exit 1). */
function notInDr(stage: string, missing: readonly { readonly ref: string; readonly digest: string }[]): number {
  for (const image of missing) {
    console.error(`release-tag: ${image.ref} (${image.digest}) is not in the ${stage} DR registry, so it could not be tagged there. Copy it: ${drImagesCommand(stage)}`);
  }
  return 1;
}

if (require.main === module) {
  main().then((code) => process.exit(code));
}
