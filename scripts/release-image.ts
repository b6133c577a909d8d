/**
 * Prints the image reference a stage deploys (`webapp:v1.4.2` or `webapp@sha256:...`), with the
 * same -c overrides the deploy gets. The deploy workflow checks with it that staging runs the
 * release before prod gets it.
 *
 *   npx tsx scripts/release-image.ts --stage prod -c imageTag=sha256:...
 *
 * Exit codes: 0 printed, 2 bad arguments or configuration.
 */
import { imageReference, loadStages, STAGE_NAMES, StageConfigError } from '../lib/config';
import { addContext, readFlags, stageArg } from './lib/args';
import { UsageError } from './lib/assembly';

const USAGE = `usage: release-image --stage ${STAGE_NAMES.join('|')} [-c KEY=VALUE ...]`;

/** The stage's image reference, as its task definitions name it after the registry. */
export function releaseImage(argv: readonly string[]): string {
  let stage: string | undefined;
  const context: Record<string, string> = {};
  for (const [flag, value = ''] of readFlags(argv, { values: ['--stage', '-c', '--context'], usage: USAGE })) {
    if (flag === '--stage') stage = value;
    else addContext(context, flag, value, USAGE);
  }
  const name = stageArg(stage, USAGE);
  return imageReference(loadStages({ ...context, stages: name }).selected[0].image);
}

/** The command: the reference on stdout, alone (the workflow reads it); a refusal on stderr. */
export function main(argv = process.argv.slice(2)): number {
  try {
    console.log(releaseImage(argv));
    return 0;
  } catch (error) {
    if (!(error instanceof UsageError || error instanceof StageConfigError)) throw error;
    console.error(`release-image: ${error.message}`);
    return 2;
  }
}

if (require.main === module) {
  process.exitCode = main();
}
