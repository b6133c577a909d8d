/**
 * What `npm run deploy` works out before it touches a stage: the plan (account, image, stacks) and
 * its refusals (credentials of another account, an image the stage's registry lacks, a stage with
 * nothing running and no image given); and how it runs `cdk deploy`. The rollback deploys with
 * the same clients and runner. Every function takes its SDK clients, so the tests run them against moto.
 */
import { spawnSync } from 'node:child_process';
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { DescribeImagesCommand, ECRClient } from '@aws-sdk/client-ecr';
import { ECSClient } from '@aws-sdk/client-ecs';
import { SSMClient } from '@aws-sdk/client-ssm';
import { STSClient } from '@aws-sdk/client-sts';
import { loadStages, type StageConfig, type StageName } from '../../lib/config';
import { PRIMARY_READ_PREFIX } from '../../lib/shared/stage-stack';
import { assemblyImage, readAssembly, stageTarget, UsageError } from './assembly';
import { accountProblem } from './credentials';
import { type DeployPlan, imageRef, operatorConfig, runningRelease, type StackPlace, type StageStack, stackOutputs, stackPlaces } from './release';
import { checkoutProblem, findRelease, type RecordedRelease, recentReleases, recordedRef, releaseHistory } from './release-history';
import { findImage, type RegistryImage, unreleased } from './release-tags';

export interface DeployArgs {
  readonly stage: StageName;
  readonly image?: string;
  readonly only?: readonly StageStack[];
  readonly app?: string;
  readonly account?: string;
  readonly context: Record<string, string>;
  readonly yes: boolean;
  /**
   * The stage's primary region is lost: deploy the `only` stacks outside it (the edge, the pilot
   * light) without asking that region anything, their reads of it pinned to the values they kept.
   */
  readonly primaryLost?: boolean;
  /**
   * The commit of this checkout (checkoutCommit): passed on as -c commit for the release record,
   * and compared with the recorded commit of a release named by --image. @default neither
   */
  readonly checkout?: { readonly commit?: string; readonly why?: string };
}

export interface DeployClients {
  readonly sts: STSClient;
  readonly cfn: CloudFormationClient;
  readonly ecs: ECSClient;
  readonly ecr: ECRClient;
  /** Reads the release record; callers that deploy no release by name (the DR steps) may leave it out. */
  readonly ssm?: SSMClient;
}

/** A few tags of the registry, newest first, for a message that asks for one. */
async function registryExamples(ecr: DeployClients['ecr'], repositoryName: string): Promise<string> {
  try {
    const page = await ecr.send(new DescribeImagesCommand({ repositoryName, maxResults: 100 }));
    const tags = (page.imageDetails ?? [])
      .sort((a, b) => (b.imagePushedAt?.getTime() ?? 0) - (a.imagePushedAt?.getTime() ?? 0))
      .flatMap((d) => (d.imageTags ?? []).filter((t) => !t.startsWith('release-')))
      .slice(0, 3);
    return tags.length > 0 ? tags.join(', ') : 'none tagged';
  } catch {
    return 'not readable';
  }
}

/**
 * The image --image names in the stage's registry: a tag or digest as given, else a release id of
 * the stage's record (`v1.4.2-3f9a1c2e`: its image). Undefined when it names neither; `recorded` is
 * the record's newest release of that image, whose commit the checkout must match.
 */
async function resolveImage(
  clients: DeployClients,
  repositoryName: string,
  stage: string,
  given: string,
): Promise<{ ref: string; found?: RegistryImage; recorded?: RecordedRelease; history: readonly RecordedRelease[] }> {
  const history = clients.ssm ? await releaseHistory(clients.ssm, stage) : [];
  let found = await findImage(clients.ecr, repositoryName, given);
  let ref = given;
  if (!found) {
    const byId = findRelease(history, given);
    if (byId) {
      ref = recordedRef(byId);
      found = await findImage(clients.ecr, repositoryName, ref);
    }
  }
  const recorded = found ? [...history].reverse().find((r) => r.digest === found.digest || r.release === given) : undefined;
  return { ref, found, recorded, history };
}

/** Refuses `--only` stacks the stage does not have (dev has no DR stack), which `cdk deploy` would report as "no stacks match". */
function checkOnly(args: DeployArgs, stacks: readonly StackPlace[]): void {
  const missing = (args.only ?? []).filter((o) => !stacks.some((s) => s.stackName === `${args.stage}-${o}`));
  if (missing.length > 0) {
    throw new UsageError(
      `${args.stage} has no ${missing.join(' or ')} stack (it has ${stacks.map((s) => s.stackName.slice(args.stage.length + 1)).join(', ')}): leave --only ${missing.join(' --only ')} out.`,
    );
  }
}

/**
 * Works out the deploy, refusing what would go wrong: credentials of another account, an image the
 * stage's registry lacks, a stage with nothing running and no image given.
 */
export async function planDeploy(args: DeployArgs, env: NodeJS.ProcessEnv, clientsFor: (region: string) => DeployClients): Promise<{ plan: DeployPlan; config: StageConfig }> {
  // The pipeline's unattended deploys skip CDK's prompt; a person with --yes still sees it for IAM and security-group changes.
  const noApproval = env.CI === 'true';
  if (args.app) {
    const assembly = readAssembly(args.app);
    const { account, region, stacks } = stageTarget(assembly, args.stage, args.app);
    checkOnly(args, stacks);
    const clients = clientsFor(region);
    const config = loadStages({ stages: args.stage }).selected[0];
    const problem = await accountProblem(clients.sts, account, args.stage, { command: 'deploy', acting: args.yes, config });
    if (problem) throw new UsageError(problem);
    const { repositoryName, ref } = assemblyImage(assembly, args.stage, args.app);
    const refused = unreleased(args.stage, `${account}, ${region}`, await findImage(clients.ecr, repositoryName, ref), `${repositoryName} ${ref}`);
    if (refused) throw new UsageError(`${refused}${refused.includes('Tag it first') ? '' : ': push it, or wait for replication.'}`);
    return {
      plan: { stage: args.stage, account, region, stacks, imageSource: `the image ${args.app} was synthesized with`, only: args.only, app: args.app, context: {}, noApproval },
      config,
    };
  }
  const config = operatorConfig(args.stage, args, env);
  const { account } = config;
  checkOnly(args, stackPlaces(config));
  if (args.primaryLost) return { plan: await primaryLostPlan(args, config, clientsFor, noApproval), config };
  const clients = clientsFor(config.region);
  const problem = await accountProblem(clients.sts, account, args.stage, { command: 'deploy', acting: args.yes, config });
  if (problem) throw new UsageError(problem);

  let image = args.image;
  let imageSource = 'given with --image';
  let found: RegistryImage | undefined;
  if (image) {
    const resolved = await resolveImage(clients, config.image.repositoryName, args.stage, image);
    if (!resolved.found) {
      throw new UsageError(
        `--image ${image} names no image of the ${args.stage} registry (${account}, ${config.region} ${config.image.repositoryName}) and no release of its record. It takes a tag (newest: ${await registryExamples(clients.ecr, config.image.repositoryName)}), a digest (sha256:...) or a recorded release id (newest: ${recentReleases(resolved.history, 3)}). ` +
          `If the image was just pushed, wait for replication: npm run preflight -- --stage ${args.stage} --image ${image} --wait-for-image 900.`,
      );
    }
    if (resolved.ref !== image) imageSource = `release ${image} of the ${args.stage} record`;
    image = resolved.ref;
    found = resolved.found;
    const refused = resolved.recorded && args.checkout ? checkoutProblem(args.stage, resolved.recorded, args.checkout) : undefined;
    if (refused) throw new UsageError(refused);
  } else {
    const running = await runningRelease(clients, args.stage);
    if (!running) throw new UsageError(`${args.stage} runs no web service yet (no ${args.stage}-App stack, or no task definition): name the first image with --image.`);
    image = imageRef(running.image);
    imageSource = 'what the web tasks run now';
    found = await findImage(clients.ecr, config.image.repositoryName, image);
    if (!found) {
      throw new UsageError(
        `the image ${config.image.repositoryName} ${image} is not in the ${args.stage} registry (${account}, ${config.region}): push it, or wait for replication (npm run preflight -- --stage ${args.stage} --image ${image} --wait-for-image 900).`,
      );
    }
  }
  const refused = unreleased(args.stage, `${account}, ${config.region}`, found, `${config.image.repositoryName} ${image}`);
  if (refused) throw new UsageError(refused);
  const context = { ...args.context, ...(args.checkout?.commit && !args.checkout.why && args.context.commit === undefined ? { commit: args.checkout.commit } : {}) };
  const notes = [...(args.checkout?.why ? [`${args.checkout.why}: the release record gets no commit`] : []), ...snapshotSkipNotes(config, context)];
  return {
    plan: {
      stage: args.stage,
      account,
      region: config.region,
      stacks: stackPlaces(config),
      image,
      imageSource,
      only: args.only,
      context,
      noApproval,
      ...(notes.length > 0 ? { notes } : {}),
    },
    config,
  };
}

/**
 * What -c skipPreDeploySnapshot=true costs, said in the plan: the release gets no snapshot, so it
 * has no restore point of its own and a later rollback none to return to; only point-in-time
 * restore (where backups are kept) reaches the moment before it.
 */
export function snapshotSkipNotes(config: Pick<StageConfig, 'name' | 'database'>, context: Readonly<Record<string, string>>): string[] {
  if (context.skipPreDeploySnapshot !== 'true') return [];
  const days = config.database.backupRetentionDays;
  return [
    `WITHOUT the pre-deploy snapshot (-c skipPreDeploySnapshot=true): this release has no snapshot of its own, so there is no pre-release restore point and no snapshot for a rollback or a half-applied migration to return to. ${
      days > 0
        ? `Point-in-time restore (${days} days) still reaches the moment before it: npm run restore -- --stage ${config.name} --before-release <release> (a copy alongside).`
        : `${config.name} keeps no automated backups (database.backupRetentionDays is 0): nothing restores to before this release.`
    } The release record marks it (snapshotSkipped), and the ops stack opens a ticket.`,
  ];
}

/**
 * A deploy while the primary region is lost: only stacks outside it, the account checked from the
 * DR region, the image the config names (none of these stacks runs it), and every value those
 * stacks read from the primary region pinned to what they kept as outputs at their last deploy
 * (lib/shared/stage-stack.ts), read from their own regions.
 */
async function primaryLostPlan(args: DeployArgs, config: StageConfig, clientsFor: (region: string) => DeployClients, noApproval: boolean): Promise<DeployPlan> {
  const places = stackPlaces(config);
  const chosen = places.filter((p) => args.only?.some((o) => p.stackName === `${args.stage}-${o}`));
  const inPrimary = chosen.filter((p) => p.region === config.region);
  const outside = places.filter((p) => p.region !== config.region);
  if (chosen.length === 0 || inPrimary.length > 0) {
    throw new UsageError(
      `with the primary region (${config.region}) lost, only stacks outside it can deploy${inPrimary.length > 0 ? `, not ${inPrimary.map((p) => p.stackName).join(', ')}` : ''}: name them with --only (${outside.map((p) => p.stackName.slice(args.stage.length + 1)).join(', ')}).`,
    );
  }
  const problem = await accountProblem(clientsFor(config.drRegion).sts, config.account, args.stage, { command: 'deploy', acting: args.yes, config });
  if (problem) throw new UsageError(problem);
  const pins: Record<string, string> = {};
  for (const place of outside) {
    // A stack never deployed has nothing to pin; anything else (no access, throttling) stops the plan.
    for (const output of (await stackOutputs(clientsFor(place.region).cfn, place.stackName)) ?? []) {
      if (output.Description?.startsWith(PRIMARY_READ_PREFIX) && output.OutputValue) pins[output.Description.slice(PRIMARY_READ_PREFIX.length)] = output.OutputValue;
    }
  }
  if (Object.keys(pins).length === 0) {
    throw new UsageError(
      `no stack of ${args.stage} outside ${config.region} kept what it reads from there (outputs "${PRIMARY_READ_PREFIX}..."): deploy them once while the primary region answers, or pass -c pinnedReads yourself.`,
    );
  }
  return {
    stage: args.stage,
    account: config.account,
    region: config.region,
    stacks: places,
    image: args.image ?? config.image.tag,
    imageSource: args.image ? 'given with --image' : "the config's (no stack deployed here runs it)",
    only: args.only,
    context: { ...args.context, pinnedReads: JSON.stringify(pins) },
    noApproval,
  };
}

/** Runs `npx cdk` with the plan's arguments; its exit code. */
export function runCdk(args: readonly string[]): number {
  const run = spawnSync('npx', ['cdk', ...args], { stdio: 'inherit' });
  return run.status ?? 1;
}

export function defaultClients(region: string): DeployClients {
  const options = { region, maxAttempts: 5, retryMode: 'adaptive' as const };
  return { sts: new STSClient(options), cfn: new CloudFormationClient(options), ecs: new ECSClient(options), ecr: new ECRClient(options), ssm: new SSMClient(options) };
}
