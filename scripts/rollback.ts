/**
 * Puts a stage back on an earlier release, named or the one before the running one:
 *
 *   npm run rollback -- --stage prod [--to RELEASE] [--account ID] [-c KEY=VALUE ...]
 *   npm run rollback -- --stage prod [--to RELEASE] --from RUNNING-RELEASE [--fast] --yes
 *
 * It reads the stage's release record (/webapp/<stage>/releases/current and its history: release
 * id, commit, digest, migrations) and what the web and worker tasks run, and refuses when they
 * differ (after ECS rolled a release back by itself, going back "one" would go back two). The
 * target is --to (a release id, an image tag or a digest) or the release before the running one;
 * the plan prints both with their commits, digests and migrations, and warns when the target
 * predates a migration (a code rollback does not undo schema changes). --yes needs --from naming
 * the running release (the dry run prints the whole command), and this checkout must be the
 * target's recorded commit (it synthesizes the App stack; else it says how to get it). A stage
 * with no record yet falls back to the pre-deploy snapshot of the running release (its
 * previous-image tag). It checks the target's image is still in the registry, and
 * deploys it to the App stack alone (`npm run deploy` with `--only App`), by blue/green where the
 * stage shifts traffic by canary or linear steps (one smoke test and a short bake instead of the
 * canary's wait; the next release goes back to the config's strategy). When point-in-time restore
 * reaches the last minutes, the rollback skips its pre-deploy snapshot, which could otherwise wait
 * out the backup window, and says so.
 *
 * `--fast` acts in ECS first. While a web deployment is in flight (shifting or baking) it stops it
 * with rollback (StopServiceDeployment): all traffic back to the old revision at once, and
 * CloudFormation rolls the App stack back by itself. After a completed release it points the web
 * and worker services back at their earlier task definitions that run the previous image
 * (UpdateService; a canary or linear web service by one blue/green swap without bake, the smoke
 * test and the deployment alarms still on), then deploys that release to the App stack as above,
 * so CloudFormation describes what runs again (an identical revision, one more quick swap).
 *
 * Without --yes it prints what it would do. Exit codes: 0 done (or printed), 1 the rollback failed
 * or had nothing to do, 2 bad arguments or refused (wrong account, no previous release known, the
 * record and ECS disagree, --from is not what runs, this checkout is not the target's commit).
 *
 * Role: deploy (it deploys the App stack; a dry run reads ECS, SSM, ECR, RDS and CloudFormation).
 */
import { STAGE_NAMES } from '../lib/config';
import { addContext, readFlags, stageArg } from './lib/args';
import { UsageError } from './lib/assembly';
import { roleLine } from './lib/credentials';
import { runCdk } from './lib/deploy';
import { checkImageRef, deployOrPrint, formatPlan, refusal } from './lib/release';
import { checkoutCommit } from './lib/release-history';
import { planRollback, RepointRefused, type RollbackArgs, repoint, rollbackClients, stopDeployment } from './lib/rollback';

const USAGE = `usage: rollback --stage ${STAGE_NAMES.join('|')} [--to RELEASE] [--from RUNNING-RELEASE] [--fast] [--account ID] [-c KEY=VALUE ...] [--yes]; ${roleLine('rollback')}`;

export function parseArgs(argv: readonly string[]): RollbackArgs {
  let stage: string | undefined;
  let account: string | undefined;
  let to: string | undefined;
  let from: string | undefined;
  let fast = false;
  let yes = false;
  const context: Record<string, string> = {};
  for (const [flag, value = ''] of readFlags(argv, { values: ['--stage', '--to', '--from', '--account', '-c', '--context'], switches: ['--fast', '--yes'], usage: USAGE })) {
    if (flag === '--fast') fast = true;
    else if (flag === '--to') to = checkImageRef(value, '--to');
    else if (flag === '--from') from = checkImageRef(value, '--from');
    else if (flag === '--yes') yes = true;
    else if (flag === '--stage') stage = value;
    else if (flag === '--account') account = value;
    else addContext(context, flag, value, USAGE);
  }
  if (context.imageTag !== undefined) throw new UsageError(`a rollback finds its image; to deploy a given one use npm run deploy -- --image. ${USAGE}`);
  return { stage: stageArg(stage, USAGE), fast, account, context, yes, ...(to ? { to } : {}), ...(from ? { from } : {}) };
}

export async function main(
  argv = process.argv.slice(2),
  env = process.env,
  run = runCdk,
  clientsFor = rollbackClients,
  now = new Date(),
  checkout = checkoutCommit,
): Promise<number> {
  try {
    const args = { ...parseArgs(argv), checkout: checkout() };
    const { outcome, config } = await planRollback(args, env, clientsFor, now);
    for (const line of outcome.lines) console.log(line);
    if (outcome.kind === 'repoint') {
      for (const s of outcome.services) console.log(`  command: aws ecs update-service --cluster ${s.cluster} --service ${s.service} --task-definition ${s.taskDefinition}`);
      console.log(formatPlan(outcome.reconcile, config));
      if (outcome.refused) return refusal('rollback', new UsageError(outcome.refused));
      if (!args.yes) {
        console.log(`dry run: nothing changed. To point the services back, then deploy: ${outcome.command}`);
        return 0;
      }
      try {
        await repoint(clientsFor(config.region).ecs, outcome.services);
      } catch (error) {
        if (!(error instanceof RepointRefused)) throw error;
        console.error(`rollback: ${error.message}`);
        return 1;
      }
      console.log('pointed back: ECS deploys the earlier revisions now (aws ecs describe-services shows the progress); deploying the same release through CloudFormation.');
      return deployOrPrint(outcome.reconcile, true, run, {
        dryRun: '',
        failure:
          'rollback: the services run the earlier release, but the stack deploy failed (exit %s): run it again before the next release (npm run deploy -- --stage <stage> --only App --image <that release>).',
      });
    }
    if (outcome.kind === 'stop') {
      console.log(`  command: aws ecs stop-service-deployment --service-deployment-arn ${outcome.deploymentArn} --stop-type ROLLBACK`);
      if (!args.yes) {
        console.log('dry run: nothing stopped. Run again with --yes to stop it.');
        return 0;
      }
      await stopDeployment(clientsFor(config.region).ecs, outcome.deploymentArn);
      console.log('stopped with rollback: ECS sends traffic back to the previous revision; watch the App stack roll back (aws cloudformation describe-stack-events).');
      return 0;
    }
    console.log(formatPlan(outcome.plan, config));
    if (outcome.refused) return refusal('rollback', new UsageError(outcome.refused));
    return deployOrPrint(outcome.plan, args.yes, run, {
      dryRun: `To roll back: ${outcome.command}`,
      failure: 'rollback: cdk deploy failed (exit %s). Read the App stack events; npm run rollback -- --fast stops a web deployment in flight.',
    });
  } catch (error) {
    return refusal('rollback', error);
  }
}

if (require.main === module) {
  main().then((code) => process.exit(code));
}
