/**
 * What a pull request would change in a deployed stage: each of the stage's stacks in the head
 * assembly against the template CloudFormation holds now, with the diff engine `cdk diff` uses.
 *
 *   npm run deployed-diff -- --stage staging --base DIR --head DIR
 *
 * It replaces `cdk diff --app <head>` in the review, which would read the pull request's manifest
 * to decide what to assume (its role ARNs) and which SSM parameter to read with the lookup role
 * (its bootstrap-version parameter name), and print that parameter's value in an error. Here the
 * head is data: its stacks of the stage must carry the stage's name and sit in the account the
 * base (the default branch) puts the stage in, and the only call made is CloudFormation
 * GetTemplate, in the stack's region, with the caller's credentials (the stage's diff role).
 *
 * Exit codes: 0 compared (with or without differences), 2 bad arguments, a head stack refused, or
 * a stack that could not be read (no credentials, access denied).
 */
import { STAGE_NAMES } from '../lib/config';
import { readFlags, stageArg } from './lib/args';
import { UsageError } from './lib/assembly';
import { cloudFormationClient, type DeployedDiffArgs, deployedDiff } from './lib/deployed-diff';
import { refusal } from './lib/release';

const USAGE = `usage: deployed-diff --stage ${STAGE_NAMES.join('|')} --base DIR --head DIR`;

export function parseArgs(argv: readonly string[]): DeployedDiffArgs {
  const given: Record<string, string> = {};
  for (const [flag, value = ''] of readFlags(argv, { values: ['--stage', '--base', '--head'], usage: USAGE })) given[flag] = value;
  if (!given['--base'] || !given['--head']) throw new UsageError(`--base and --head name the two synthesized assemblies. ${USAGE}`);
  return { stage: stageArg(given['--stage'], USAGE), base: given['--base'], head: given['--head'] };
}

export async function main(argv = process.argv.slice(2), cfnFor = cloudFormationClient): Promise<number> {
  try {
    const { text, failed } = await deployedDiff(parseArgs(argv), cfnFor);
    console.log(text);
    if (failed > 0) {
      console.error(`deployed-diff: ${failed} stack(s) could not be read; the diff above is incomplete.`);
      return 2;
    }
    return 0;
  } catch (error) {
    return refusal('deployed-diff', error);
  }
}

if (require.main === module) {
  main().then((code) => process.exit(code));
}
