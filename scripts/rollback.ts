/**
 * Puts a stage back on the release before the one it runs:
 *
 *   npm run rollback -- --stage prod [--account ID] [-c KEY=VALUE ...] [--yes]
 *   npm run rollback -- --stage prod --fast [--yes]
 *
 * It reads what the web tasks run now, finds the release before it in the pre-deploy snapshot of
 * the running release (its previous-image tag), checks that image is still in the registry, and
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
 * or had nothing to do, 2 bad arguments or refused (wrong account, no previous release known).
 */
import { STAGE_NAMES } from '../lib/config';
import { addContext, readFlags, stageArg } from './lib/args';
import { UsageError } from './lib/assembly';
import { roleLine } from './lib/credentials';
import { runCdk } from './lib/deploy';
import { deployOrPrint, formatPlan, refusal } from './lib/release';
import { planRollback, RepointRefused, type RollbackArgs, repoint, rollbackClients, stopDeployment } from './lib/rollback';

const USAGE = `usage: rollback --stage ${STAGE_NAMES.join('|')} [--fast] [--account ID] [-c KEY=VALUE ...] [--yes]; ${roleLine('rollback')}`;

export function parseArgs(argv: readonly string[]): RollbackArgs {
  let stage: string | undefined;
  let account: string | undefined;
  let fast = false;
  let yes = false;
  const context: Record<string, string> = {};
  for (const [flag, value = ''] of readFlags(argv, { values: ['--stage', '--account', '-c', '--context'], switches: ['--fast', '--yes'], usage: USAGE })) {
    if (flag === '--fast') fast = true;
    else if (flag === '--yes') yes = true;
    else if (flag === '--stage') stage = value;
    else if (flag === '--account') account = value;
    else addContext(context, flag, value, USAGE);
  }
  if (context.imageTag !== undefined) throw new UsageError(`a rollback finds its image; to deploy a given one use npm run deploy -- --image. ${USAGE}`);
  return { stage: stageArg(stage, USAGE), fast, account, context, yes };
}

export async function main(argv = process.argv.slice(2), env = process.env, run = runCdk, clientsFor = rollbackClients, now = new Date()): Promise<number> {
  try {
    const args = parseArgs(argv);
    const { outcome, config } = await planRollback(args, env, clientsFor, now);
    for (const line of outcome.lines) console.log(line);
    if (outcome.kind === 'repoint') {
      for (const s of outcome.services) console.log(`  command: aws ecs update-service --cluster ${s.cluster} --service ${s.service} --task-definition ${s.taskDefinition}`);
      console.log(formatPlan(outcome.reconcile, config));
      if (!args.yes) {
        console.log('dry run: nothing changed. Run again with --yes to point the services back, then to deploy.');
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
    return deployOrPrint(outcome.plan, args.yes, run, {
      dryRun: 'Run again with --yes to roll back.',
      failure: 'rollback: cdk deploy failed (exit %s). Read the App stack events; npm run rollback -- --fast stops a web deployment in flight.',
    });
  } catch (error) {
    return refusal('rollback', error);
  }
}

if (require.main === module) {
  main().then((code) => process.exit(code));
}
