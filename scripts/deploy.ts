/**
 * The one way to deploy a stage, by hand or from the workflows, with what the pipeline would pass:
 *
 *   npm run deploy -- --stage prod [--image TAG|sha256:DIGEST] [--only App ...] [--app DIR]
 *                     [--account ID] [-c KEY=VALUE ...] [--yes]
 *
 * `--image` takes a tag, a digest or a release id of the stage's record (`v1.4.2-3f9a1c2e`); a
 * release the record knows must be deployed from its own commit (this checkout's `git rev-parse
 * HEAD`) or its own assembly (`--app`), else it refuses and says how to get either. A synthesis
 * here passes `-c commit=<HEAD>` for the release record (none when the checkout has uncommitted
 * changes), and a plan with `-c skipPreDeploySnapshot=true` says what skipping the snapshot costs.
 *
 * The account is `--account`, `-c <stage>.account`, the workflows' variable AWS_<STAGE>_ACCOUNT_ID
 * or the config's, and the credentials must be that account's. The image is `--image`, else what
 * the stage's web tasks run now (so a deploy by hand never changes the release by accident), and
 * it must be in the stage's registry. `--only` deploys exactly the named stacks (`cdk deploy -e`);
 * `--app` deploys a prebuilt assembly (the release workflow's), whose account and image it fixes.
 * `--primary-lost` deploys `--only` stacks outside the stage's primary region while that region is
 * lost, their reads of it pinned to the values they kept (docs/disaster-recovery.md).
 * It prints what it will do; only with --yes does it run `cdk deploy`.
 *
 * Exit codes: 0 deployed (or the plan printed), 1 the deploy failed, 2 bad arguments or refused
 * (wrong account, no such image, no credentials): nothing was changed.
 */
import { STAGE_NAMES } from '../lib/config';
import { addContext, readFlags, stageArg } from './lib/args';
import { UsageError } from './lib/assembly';
import { roleLine } from './lib/credentials';
import { type DeployArgs, defaultClients, planDeploy, runCdk } from './lib/deploy';
import { checkImageRef, deployOrPrint, formatPlan, refusal, STAGE_STACKS, type StageStack } from './lib/release';
import { checkoutCommit } from './lib/release-history';

const USAGE = `usage: deploy --stage ${STAGE_NAMES.join('|')} [--image TAG|sha256:DIGEST|RELEASE-ID] [--only ${STAGE_STACKS.join('|')} ...] [--app DIR] [--account ID] [--primary-lost] [-c KEY=VALUE ...] [--yes]; ${roleLine('deploy')}`;

export function parseArgs(argv: readonly string[]): DeployArgs {
  let stage: string | undefined;
  let image: string | undefined;
  let app: string | undefined;
  let account: string | undefined;
  let yes = false;
  let primaryLost = false;
  const only: StageStack[] = [];
  const context: Record<string, string> = {};
  for (const [flag, value = ''] of readFlags(argv, {
    values: ['--stage', '--image', '--only', '--app', '--account', '-c', '--context'],
    switches: ['--yes', '--primary-lost'],
    repeatable: ['--only'],
    usage: USAGE,
  })) {
    if (flag === '--yes') yes = true;
    else if (flag === '--primary-lost') primaryLost = true;
    else if (flag === '--stage') stage = value;
    else if (flag === '--image') image = checkImageRef(value);
    else if (flag === '--app') app = value;
    else if (flag === '--account') account = value;
    else if (flag === '--only') {
      if (!(STAGE_STACKS as readonly string[]).includes(value)) throw new UsageError(`--only takes a stack of the stage (${STAGE_STACKS.join(', ')}), not "${value}". ${USAGE}`);
      if (!only.includes(value as StageStack)) only.push(value as StageStack);
    } else addContext(context, flag, value, USAGE);
  }
  const name = stageArg(stage, USAGE);
  if (app && (image || account || Object.keys(context).length > 0)) {
    throw new UsageError(`--app deploys an assembly as it was synthesized: its account, image and context are fixed; leave out --image, --account and -c. ${USAGE}`);
  }
  if (context.imageTag !== undefined) throw new UsageError(`pass the image as --image, not -c imageTag. ${USAGE}`);
  if (primaryLost && (app || only.length === 0)) {
    throw new UsageError(`--primary-lost deploys named stacks outside the lost region, synthesized here: name them with --only, and leave --app out. ${USAGE}`);
  }
  return { stage: name, image, only: only.length > 0 ? only : undefined, app, account, context, yes, ...(primaryLost ? { primaryLost } : {}) };
}

export async function main(argv = process.argv.slice(2), env = process.env, run = runCdk, clientsFor = defaultClients, checkout = checkoutCommit): Promise<number> {
  try {
    const parsed = parseArgs(argv);
    // An assembly fixes its commit; a synthesis here records this checkout's.
    const args = parsed.app ? parsed : { ...parsed, checkout: checkout() };
    const { plan, config } = await planDeploy(args, env, clientsFor);
    console.log(formatPlan(plan, config));
    return deployOrPrint(plan, args.yes, run, {
      dryRun: 'Run again with --yes to deploy.',
      failure: 'deploy: cdk deploy failed (exit %s); CloudFormation rolled back what it could. Read the stack events.',
    });
  } catch (error) {
    return refusal('deploy', error);
  }
}

if (require.main === module) {
  main().then((code) => process.exit(code));
}
