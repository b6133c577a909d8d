/**
 * What `npm run restart` works out and does: new tasks for the web and worker services of a stage
 * on the task definitions they run (ECS UpdateService with forceNewDeployment), so each task
 * connects again (to a failed-over cache, with a rotated token). The worker replaces its tasks by
 * its rolling deployment. A web service that shifts traffic by canary or linear steps, or bakes
 * after a blue/green swap, is restarted by one blue/green swap without bake (the swap
 * `rollback --fast` uses; the smoke test and the deployment alarms still apply), and once that
 * deployment is done its deployment configuration is put back as it was, so the next release
 * shifts as the stage's config says. Every function takes its SDK clients, so the tests run them
 * against moto.
 */
import type { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { type DeploymentConfiguration, DescribeServicesCommand, type ECSClient, ListServiceDeploymentsCommand, UpdateServiceCommand } from '@aws-sdk/client-ecs';
import type { STSClient } from '@aws-sdk/client-sts';
import type { StageConfig, StageName } from '../../lib/config';
import { UsageError } from './assembly';
import { accountProblem } from './credentials';
import { appOutputs, operatorConfig } from './release';

export const RESTART_SERVICES = ['worker', 'web', 'all'] as const;
export type RestartService = (typeof RESTART_SERVICES)[number];

export interface RestartArgs {
  readonly stage: StageName;
  readonly service: RestartService;
  readonly account?: string;
  readonly context: Record<string, string>;
  readonly yes: boolean;
}

export interface RestartClients {
  readonly sts: Pick<STSClient, 'send'>;
  readonly cfn: Pick<CloudFormationClient, 'send'>;
  readonly ecs: Pick<ECSClient, 'send'>;
}

/** One service to restart: how (its own rolling or blue/green deployment, or a swap without bake), and what to put back after. */
export interface Restart {
  readonly role: 'web' | 'worker';
  readonly cluster: string;
  readonly service: string;
  /** The deployment configuration of the restart, where it differs from the service's own. */
  readonly fastConfiguration?: DeploymentConfiguration;
  /** The service's own deployment configuration, put back once the restart's deployment is done. */
  readonly restoreConfiguration?: DeploymentConfiguration;
}

export interface RestartPlan {
  readonly config: StageConfig;
  readonly restarts: readonly Restart[];
  readonly lines: string[];
}

/** The AWS CLI call a restart makes, for the plan and for a person who must finish it by hand. */
export function restartCommand(r: Pick<Restart, 'cluster' | 'service'>, configuration?: DeploymentConfiguration, force = true): string {
  const config = configuration ? ` --deployment-configuration '${JSON.stringify(configuration)}'` : '';
  return `aws ecs update-service --cluster ${r.cluster} --service ${r.service}${force ? ' --force-new-deployment' : ''}${config}`;
}

/** The swap of `rollback --fast`: blue/green, all traffic at once, no bake; hooks and alarms kept. */
function fastSwap(dc: DeploymentConfiguration): DeploymentConfiguration {
  return { ...dc, strategy: 'BLUE_GREEN', bakeTimeInMinutes: 0, canaryConfiguration: undefined, linearConfiguration: undefined };
}

async function inFlight(ecs: RestartClients['ecs'], cluster: string, service: string): Promise<string | undefined> {
  const answer = await ecs.send(new ListServiceDeploymentsCommand({ cluster, service, status: ['PENDING', 'IN_PROGRESS'] }));
  return answer.serviceDeployments?.[0]?.serviceDeploymentArn;
}

/** Works out the restart: the stage's services, and how each is restarted. Refuses (UsageError) a wrong account, a missing service, a deployment in flight. */
export async function planRestart(args: RestartArgs, env: NodeJS.ProcessEnv, clientsFor: (region: string) => RestartClients): Promise<RestartPlan> {
  const config = operatorConfig(args.stage, args, env);
  const clients = clientsFor(config.region);
  const problem = await accountProblem(clients.sts, config.account, args.stage, { command: 'restart', acting: args.yes, config });
  if (problem) throw new UsageError(problem);
  const outputs = await appOutputs(clients.cfn, args.stage);
  const cluster = outputs?.ClusterName;
  const names = { web: outputs?.WebServiceName, worker: outputs?.WorkerServiceName };
  const roles = args.service === 'all' ? (['worker', 'web'] as const) : ([args.service] as const);
  const lines: string[] = [];
  const restarts: Restart[] = [];
  for (const role of roles) {
    const service = names[role];
    if (!cluster || !service) throw new UsageError(`${args.stage} has no ${role} service (no ${args.stage}-App stack, or its outputs name none): there is nothing to restart.`);
    const current = (await clients.ecs.send(new DescribeServicesCommand({ cluster, services: [service] }))).services?.find((s) => s.status === 'ACTIVE');
    if (!current) throw new UsageError(`${service} is not an active service of ${cluster}: there is nothing to restart.`);
    const deployment = await inFlight(clients.ecs, cluster, service);
    if (deployment) {
      throw new UsageError(
        `${service} has a deployment in flight (${deployment}): its new tasks connect afresh already. Wait for it (aws ecs describe-service-deployments --service-deployment-arns ${deployment}), or stop it with npm run rollback -- --stage ${args.stage} --fast.`,
      );
    }
    const dc = current.deploymentConfiguration ?? {};
    const slow = dc.strategy === 'CANARY' || dc.strategy === 'LINEAR' || (dc.strategy === 'BLUE_GREEN' && (dc.bakeTimeInMinutes ?? 0) > 0);
    if (role === 'web' && slow) {
      restarts.push({ role, cluster, service, fastConfiguration: fastSwap(dc), restoreConfiguration: dc });
      lines.push(
        `${service} (${dc.strategy}${dc.bakeTimeInMinutes ? `, ${dc.bakeTimeInMinutes} minutes of bake` : ''}): new tasks by one blue/green swap without bake (the smoke test and the deployment alarms still apply), then its ${dc.strategy} configuration back`,
      );
    } else {
      restarts.push({ role, cluster, service });
      lines.push(`${service} (${dc.strategy ?? 'ROLLING'}): new tasks by its own deployment, on the task definition it runs`);
    }
  }
  return { config, restarts, lines };
}

export interface RestartOptions {
  /** How long to wait for a fast swap before its configuration is put back. @default 30 minutes */
  readonly timeoutMs?: number;
  readonly pollMs?: number;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly say?: (line: string) => void;
}

/** A restart that did not finish: said, exit 1, with what is left to do by hand. */
export class RestartIncomplete extends Error {}

/**
 * Restarts the planned services: the worker first (it holds the jobs), then web. A web service
 * restarted by the fast swap gets its own configuration back once no deployment of it is in
 * flight; if that does not happen in time, RestartIncomplete names the command that puts it back.
 */
export async function restart(ecs: RestartClients['ecs'], plan: RestartPlan, options: RestartOptions = {}): Promise<void> {
  const { timeoutMs = 30 * 60_000, pollMs = 15_000, sleep = (ms) => new Promise((r) => setTimeout(r, ms)), say = console.log } = options;
  for (const r of plan.restarts) {
    // Said before the swap: a run stopped before the end (an interrupt, a closed laptop) leaves the
    // service on the swap's configuration, and a rerun would take that for the service's own.
    if (r.restoreConfiguration)
      say(`${r.service}: if this stops before it says the configuration is back, run once no deployment is in flight: ${restartCommand(r, r.restoreConfiguration, false)}`);
    await ecs.send(
      new UpdateServiceCommand({
        cluster: r.cluster,
        service: r.service,
        forceNewDeployment: true,
        ...(r.fastConfiguration ? { deploymentConfiguration: r.fastConfiguration } : {}),
      }),
    );
    say(`${r.service}: new deployment started${r.fastConfiguration ? ' (one blue/green swap, no bake)' : ''}`);
  }
  for (const r of plan.restarts) {
    if (!r.restoreConfiguration) continue;
    const putBack = restartCommand(r, r.restoreConfiguration, false);
    let waited = 0;
    while ((await inFlight(ecs, r.cluster, r.service)) !== undefined) {
      if (waited >= timeoutMs) {
        throw new RestartIncomplete(
          `${r.service} is still deploying after ${Math.round(timeoutMs / 60_000)} minutes: its ${r.restoreConfiguration.strategy} configuration is not back. Once the deployment is done, run: ${putBack}`,
        );
      }
      await sleep(pollMs);
      waited += pollMs;
    }
    await ecs.send(new UpdateServiceCommand({ cluster: r.cluster, service: r.service, deploymentConfiguration: r.restoreConfiguration }));
    say(`${r.service}: swapped; its ${r.restoreConfiguration.strategy} deployment configuration is back for the next release`);
  }
}
