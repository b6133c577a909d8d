import { CloudFormationClient, CreateStackCommand } from '@aws-sdk/client-cloudformation';
import {
  CreateClusterCommand,
  CreateServiceCommand,
  type DeploymentConfiguration,
  DescribeServicesCommand,
  ECSClient,
  ListServiceDeploymentsCommand,
  RegisterTaskDefinitionCommand,
  UpdateServiceCommand,
} from '@aws-sdk/client-ecs';
import { STSClient } from '@aws-sdk/client-sts';
import { afterEach, beforeAll, describe, expect, test, vi } from 'vitest';
import { UsageError } from '../../scripts/lib/assembly';
import type { RestartClients } from '../../scripts/lib/restart';
import { parseArgs, main as restart } from '../../scripts/restart';
import { type Moto, startMoto } from '../support/moto';

/**
 * The restart command against moto's ECS (clusters, services, UpdateService) and CloudFormation
 * (the App stack's outputs): a staging stage moved to a region no other test uses. moto has no
 * service deployments (ListServiceDeployments): a wrapper answers those from a list the test sets,
 * and passes everything else to moto.
 */
const REGION = 'ap-southeast-2';
const ACCOUNT = '210000000037'; // this file's own account on the shared moto server
const AT = ['--account', ACCOUNT, '-c', `staging.region=${REGION}`];
const CLUSTER = 'staging-App-Cluster';
const WEB = 'staging-App-WebService';
const WORKER = 'staging-App-WorkerService';
const CANARY: DeploymentConfiguration = {
  strategy: 'CANARY',
  canaryConfiguration: { canaryPercent: 10, canaryBakeTimeInMinutes: 10 },
  bakeTimeInMinutes: 10,
  maximumPercent: 200,
  minimumHealthyPercent: 100,
};

let moto: Moto;
let real: RestartClients;
/** The deployments in flight the wrapper reports, one answer per ListServiceDeployments call (then none). */
let inFlight: string[][] = [];
/** The web service's deployment configuration as ECS would hold it (moto keeps no strategy). */
let webConfiguration: DeploymentConfiguration = CANARY;
let updates: UpdateServiceCommand['input'][] = [];
let logged: string[] = [];

const ecs = {
  send: async (command: { input: unknown }) => {
    if (command instanceof ListServiceDeploymentsCommand) {
      const arns = inFlight.shift() ?? [];
      return { serviceDeployments: arns.map((serviceDeploymentArn) => ({ serviceDeploymentArn, status: 'IN_PROGRESS' })) };
    }
    if (command instanceof UpdateServiceCommand) {
      updates.push(command.input);
      if (command.input.service === WEB && command.input.deploymentConfiguration) webConfiguration = command.input.deploymentConfiguration;
    }
    const out = (await real.ecs.send(command as never)) as { services?: { serviceName?: string; deploymentConfiguration?: DeploymentConfiguration }[] };
    if (command instanceof DescribeServicesCommand) for (const s of out.services ?? []) if (s.serviceName === WEB) s.deploymentConfiguration = webConfiguration;
    return out;
  },
} as unknown as ECSClient;
const clientsFor = () => ({ ...real, ecs });
const noWait = { sleep: async () => undefined, pollMs: 1, say: (line: string) => logged.push(line) };

beforeAll(async () => {
  moto = await startMoto({ as: 'webapp-break-glass', account: ACCOUNT });
  const config = moto.clientConfig(REGION);
  real = { sts: new STSClient(config), cfn: new CloudFormationClient(config), ecs: new ECSClient(config) };
  await real.ecs.send(new CreateClusterCommand({ clusterName: CLUSTER }));
  const task = (family: string) =>
    real.ecs.send(
      new RegisterTaskDefinitionCommand({
        family,
        networkMode: 'awsvpc',
        requiresCompatibilities: ['FARGATE'],
        cpu: '512',
        memory: '1024',
        containerDefinitions: [{ name: 'app', image: 'webapp:v1' }],
      }),
    );
  for (const [serviceName, family] of [
    [WEB, 'stagingAppWebTask'],
    [WORKER, 'stagingAppWorkerTask'],
  ]) {
    const td = await task(family);
    await real.ecs.send(new CreateServiceCommand({ cluster: CLUSTER, serviceName, taskDefinition: td.taskDefinition!.taskDefinitionArn, desiredCount: 1, launchType: 'FARGATE' }));
  }
  await real.cfn.send(
    new CreateStackCommand({
      StackName: 'staging-App',
      TemplateBody: JSON.stringify({
        Resources: { Topic: { Type: 'AWS::SNS::Topic' } },
        Outputs: { ClusterName: { Value: CLUSTER }, WebServiceName: { Value: WEB }, WorkerServiceName: { Value: WORKER } },
      }),
    }),
  );
});

afterEach(() => {
  vi.restoreAllMocks();
  inFlight = [];
  webConfiguration = CANARY;
  updates = [];
  logged = [];
});

function capture(): { out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  vi.spyOn(console, 'log').mockImplementation((line: string) => {
    out.push(line);
  });
  vi.spyOn(console, 'error').mockImplementation((line: string) => {
    err.push(line);
  });
  return { out, err };
}

describe('npm run restart', () => {
  test('takes a stage and a service, and refuses anything else with its usage', () => {
    expect(parseArgs(['--stage', 'prod', '--service', 'all', '--yes'])).toEqual({ stage: 'prod', service: 'all', context: {}, yes: true });
    expect(() => parseArgs(['--stage', 'prod'])).toThrow(
      new UsageError(
        '--service must be one of worker, web, all. usage: restart --stage dev|staging|prod --service worker|web|all [--account ID] [-c KEY=VALUE ...] [--yes]; role: needs the on-call role (docs/security.md, "On-call")',
      ),
    );
    expect(() => parseArgs(['--stage', 'prod', '--service', 'cache'])).toThrow(/--service must be one of worker, web, all/);
    expect(() => parseArgs(['--stage', 'qa', '--service', 'web'])).toThrow(/--stage must be one of dev, staging, prod/);
  });

  test('prints the plan and changes nothing without --yes', async () => {
    const { out } = capture();
    expect(await restart(['--stage', 'staging', '--service', 'all', ...AT], {}, clientsFor, noWait)).toBe(0);
    expect(updates).toEqual([]);
    expect(out).toContain(`  ${WORKER} (ROLLING): new tasks by its own deployment, on the task definition it runs`);
    expect(out).toContain(
      `  ${WEB} (CANARY, 10 minutes of bake): new tasks by one blue/green swap without bake (the smoke test and the deployment alarms still apply), then its CANARY configuration back`,
    );
    expect(out).toContain(`  command: aws ecs update-service --cluster ${CLUSTER} --service ${WORKER} --force-new-deployment`);
    expect(out.at(-1)).toBe('dry run: nothing changed. Run again with --yes to restart.');
  });

  test('the worker: one forced deployment, its own (rolling)', async () => {
    capture();
    expect(await restart(['--stage', 'staging', '--service', 'worker', ...AT, '--yes'], {}, clientsFor, noWait)).toBe(0);
    expect(updates).toEqual([{ cluster: CLUSTER, service: WORKER, forceNewDeployment: true }]);
  });

  test('a canary web service: one blue/green swap without bake, then its canary configuration back once the swap is done', async () => {
    capture();
    // None in flight when planned (worker, web); then the swap is in flight for two polls, then done.
    inFlight = [[], [], ['arn:swap'], ['arn:swap']];
    expect(await restart(['--stage', 'staging', '--service', 'all', ...AT, '--yes'], {}, clientsFor, noWait)).toBe(0);
    expect(updates).toEqual([
      { cluster: CLUSTER, service: WORKER, forceNewDeployment: true },
      {
        cluster: CLUSTER,
        service: WEB,
        forceNewDeployment: true,
        deploymentConfiguration: { ...CANARY, strategy: 'BLUE_GREEN', bakeTimeInMinutes: 0, canaryConfiguration: undefined, linearConfiguration: undefined },
      },
      { cluster: CLUSTER, service: WEB, deploymentConfiguration: CANARY },
    ]);
    expect(inFlight).toEqual([]);
    expect(logged).toEqual([
      `${WORKER}: new deployment started`,
      `${WEB}: if this stops before it says the configuration is back, run once no deployment is in flight: aws ecs update-service --cluster ${CLUSTER} --service ${WEB} --deployment-configuration '${JSON.stringify(CANARY)}'`,
      `${WEB}: new deployment started (one blue/green swap, no bake)`,
      `${WEB}: swapped; its CANARY deployment configuration is back for the next release`,
    ]);
    // moto took each update: both services are still active on their task definitions.
    const after = await real.ecs.send(new DescribeServicesCommand({ cluster: CLUSTER, services: [WEB, WORKER] }));
    expect(after.services!.map((s) => [s.serviceName, s.status, s.taskDefinition?.replace(/.*\//, '')])).toEqual([
      [WEB, 'ACTIVE', 'stagingAppWebTask:1'],
      [WORKER, 'ACTIVE', 'stagingAppWorkerTask:1'],
    ]);
  });

  test('a rolling web service (dev as shipped) is restarted by its own deployment, with nothing to put back', async () => {
    capture();
    webConfiguration = { maximumPercent: 200, minimumHealthyPercent: 50 };
    expect(await restart(['--stage', 'staging', '--service', 'web', ...AT, '--yes'], {}, clientsFor, noWait)).toBe(0);
    expect(updates).toEqual([{ cluster: CLUSTER, service: WEB, forceNewDeployment: true }]);
  });

  test('a swap still deploying when the wait ends: exit 1, naming the command that puts the configuration back', async () => {
    const { err } = capture();
    inFlight = [[], ...Array.from({ length: 10 }, () => ['arn:swap'])];
    expect(await restart(['--stage', 'staging', '--service', 'web', ...AT, '--yes'], {}, clientsFor, { ...noWait, timeoutMs: 3 })).toBe(1);
    expect(updates).toHaveLength(1);
    expect(err).toEqual([
      `restart: ${WEB} is still deploying after 0 minutes: its CANARY configuration is not back. Once the deployment is done, run: aws ecs update-service --cluster ${CLUSTER} --service ${WEB} --deployment-configuration '${JSON.stringify(CANARY)}'`,
    ]);
  });

  test('refuses (exit 2) a service with a deployment in flight, another account, and a stage without its App stack', async () => {
    const { err } = capture();
    inFlight = [['arn:release']];
    expect(await restart(['--stage', 'staging', '--service', 'web', ...AT, '--yes'], {}, clientsFor, noWait)).toBe(2);
    expect(err[0]).toMatch(
      new RegExp(`^restart: ${WEB} has a deployment in flight \\(arn:release\\): its new tasks connect afresh already\\. .*npm run rollback -- --stage staging --fast\\.$`),
    );
    expect(await restart(['--stage', 'staging', '--service', 'web', '--account', '999999999999', '-c', `staging.region=${REGION}`, '--yes'], {}, clientsFor, noWait)).toBe(2);
    expect(err[1]).toMatch(/999999999999/);
    expect(await restart(['--stage', 'prod', '--service', 'worker', '--account', ACCOUNT, '-c', `prod.region=${REGION}`, '--yes'], {}, clientsFor, noWait)).toBe(2);
    expect(err[2]).toBe('restart: prod has no worker service (no prod-App stack, or its outputs name none): there is nothing to restart.');
    expect(updates).toEqual([]);
  });
});
