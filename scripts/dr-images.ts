/**
 * Brings a stage's existing releases into its DR region's registry, where the stage keeps a pilot
 * light (`dr.pilotLight`), so a failover finds every release it might run there:
 *
 *   npm run dr-images -- --stage prod [--account ID] [-c KEY=VALUE ...] [--yes]
 *
 * It lists the images of the stage's registry tagged `release-<digest>`, says which of them the
 * DR registry lacks (copied with skopeo, by digest, under the same release tag) or holds without
 * the release tag (tagged there), and with --yes does it. Replication and the deploy workflow's
 * copy bring only what is pushed after they exist: run it once the DR registry is deployed, and
 * whenever preflight's `dr image` check names it. The credentials must be the stage account's.
 *
 * Exit codes: 0 done (or the plan printed, or nothing to do), 1 a copy or tag failed (the others
 * were done: run it again), 2 bad arguments or refused (no pilot light, wrong account or no
 * credentials, no registry, no skopeo): nothing was changed.
 */
import { STAGE_NAMES } from '../lib/config';
import { readFlags, STAGE_COMMAND_FLAGS, stageCommandArgs } from './lib/args';
import { roleLine } from './lib/credentials';
import {
  applyDrImages,
  copyRelease,
  type DrImagesArgs,
  type DrImagesDeps,
  drImagesClients,
  formatDrImagesPlan,
  openRoute,
  planDrImages,
  runSkopeo,
  tagInDr,
} from './lib/dr-images';
import { refusal } from './lib/release';

const USAGE = `usage: dr-images --stage ${STAGE_NAMES.join('|')} [--account ID] [-c KEY=VALUE ...] [--yes]; ${roleLine('dr-images')}`;

export function parseArgs(argv: readonly string[]): DrImagesArgs {
  return stageCommandArgs(readFlags(argv, { ...STAGE_COMMAND_FLAGS, usage: USAGE }), USAGE);
}

export async function main(argv = process.argv.slice(2), env = process.env, deps: DrImagesDeps = { clientsFor: drImagesClients }): Promise<number> {
  try {
    const args = parseArgs(argv);
    const plan = await planDrImages(args, env, deps.clientsFor);
    for (const line of formatDrImagesPlan(plan)) console.log(line);
    const todo = plan.releases.filter((r) => r.action !== 'none');
    if (todo.length === 0) {
      console.log(`nothing to do: the DR registry holds every release of ${plan.stage}, tagged as a release.`);
      return 0;
    }
    const copies = todo.filter((r) => r.action === 'copy').length;
    if (!args.yes) {
      console.log(`dry run: nothing copied or tagged. Run again with --yes to copy ${copies} and tag ${todo.length - copies} release(s).`);
      return 0;
    }
    const route = copies > 0 ? await openRoute(plan, deps) : undefined;
    try {
      const skopeo = deps.skopeo ?? runSkopeo;
      const { done, failed } = await applyDrImages(plan, {
        copy: (digest) => copyRelease(skopeo, route!, digest),
        tag: tagInDr(plan, deps),
      });
      console.log(failed ? `${failed} of ${todo.length} failed (${done} done): run again, what is done stays done.` : `done: ${done} release(s) in ${plan.to.where}.`);
      return failed ? 1 : 0;
    } finally {
      route?.close();
    }
  } catch (error) {
    return refusal('dr-images', error);
  }
}

if (require.main === module) {
  main().then((code) => process.exit(code));
}
