/**
 * What the deploy and rollback commands find out about a stage before they touch it: the account
 * to deploy to, the image its web tasks run now, whether an image is in the stage's registry,
 * the release before the running one (from the pre-deploy snapshots' tags), whether
 * point-in-time restore covers the last minutes, and the `cdk deploy` command a plan comes to.
 * Every function takes its SDK clients, so the tests run them against moto.
 */
import { type CloudFormationClient, DescribeStacksCommand, type Output, type Stack } from '@aws-sdk/client-cloudformation';
import { DescribeServicesCommand, DescribeTaskDefinitionCommand, type ECSClient } from '@aws-sdk/client-ecs';
import { DescribeDBInstancesCommand, type RDSClient } from '@aws-sdk/client-rds';
import { isStageSnapshot, listSnapshots, snapshotTag, TAGS } from '../../lambda/pre-deploy-snapshot/snapshot';
import { loadStages, STAGES, type StageConfig, StageConfigError, type StageName, type StageStack, stageStacks } from '../../lib/config';
import { UsageError } from './assembly';

export { STAGE_STACKS, type StageStack } from '../../lib/config';

/** The repository variable the workflows keep a stage's account id in (AWS_PROD_ACCOUNT_ID). */
export const accountVariable = (stage: StageName) => `AWS_${stage.toUpperCase()}_ACCOUNT_ID`;

/**
 * The account a stage deploys to, as the pipeline finds it: `--account`, else `-c <stage>.account`,
 * else the workflows' repository variable in the environment, else the config's value.
 */
export function stageAccount(stage: StageName, given: { readonly account?: string; readonly context: Record<string, string> }, env: NodeJS.ProcessEnv, configured: string): string {
  const account = given.account ?? given.context[`${stage}.account`] ?? env[accountVariable(stage)] ?? configured;
  if (!/^\d{12}$/.test(account)) throw new UsageError(`the ${stage} account "${account}" is not a 12-digit account id.`);
  return account;
}

/** The stage's config as an operator command works on it: the caller's -c overrides, and the account `stageAccount` finds. */
export function operatorConfig(stage: StageName, given: { readonly account?: string; readonly context: Record<string, string> }, env: NodeJS.ProcessEnv): StageConfig {
  const account = stageAccount(stage, given, env, STAGES[stage].account);
  return loadStages({ ...given.context, [`${stage}.account`]: account, stages: stage }).selected[0];
}

/** `webapp@sha256:...` or `.../webapp:v1.4.2` -> the digest or tag `-c imageTag` takes. */
export function imageRef(uri: string): string {
  const name = uri.slice(uri.lastIndexOf('/') + 1);
  const at = name.indexOf('@');
  if (at >= 0) return name.slice(at + 1);
  const colon = name.indexOf(':');
  if (colon < 0) throw new UsageError(`the image "${uri}" names no tag or digest.`);
  return name.slice(colon + 1);
}

/**
 * Whether a release name is a valid tag or digest: `v1.4.2`, a release id (`v1.4.2-3f9a1c2e`, a
 * tag's syntax too) or `sha256:` and 64 hex digits. An image URI as ECR or ECS show it
 * (`<registry>/webapp:v1.4.2`, `webapp@sha256:...`) is taken as its tag or digest.
 */
export function checkImageRef(given: string, flag = '--image'): string {
  const ref = given.includes('/') || /^[\w.-]+@sha256:/.test(given) ? (imageRefOrUndefined(given) ?? given) : given;
  if (/^sha256:[a-f0-9]{64}$/.test(ref) || /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/.test(ref)) return ref;
  throw new UsageError(
    `${flag} takes a tag (v1.4.2), a release id from the release record (v1.4.2-3f9a1c2e), a digest (sha256: and 64 hex digits) or an image URI ending in one, not "${given}".`,
  );
}

/** A stack as CloudFormation describes it, or undefined when it does not exist (any other error is thrown). */
export async function describeStack(cfn: Pick<CloudFormationClient, 'send'>, stackName: string): Promise<Stack | undefined> {
  try {
    return (await cfn.send(new DescribeStacksCommand({ StackName: stackName }))).Stacks?.[0];
  } catch (error) {
    if ((error as Error).name === 'ValidationError' && /does not exist/.test((error as Error).message)) return undefined;
    throw error;
  }
}

/** A stack's outputs as CloudFormation describes them, or undefined when the stack does not exist. */
export async function stackOutputs(cfn: Pick<CloudFormationClient, 'send'>, stackName: string): Promise<Output[] | undefined> {
  const stack = await describeStack(cfn, stackName);
  return stack && (stack.Outputs ?? []);
}

/** A stack's outputs by key, or undefined when the stack does not exist. */
export async function outputsOf(cfn: Pick<CloudFormationClient, 'send'>, stackName: string): Promise<Record<string, string> | undefined> {
  const outputs = await stackOutputs(cfn, stackName);
  return outputs && Object.fromEntries(outputs.map((o) => [o.OutputKey ?? '', o.OutputValue ?? '']));
}

/** The outputs of the stage's App stack (or another app tier's, `stackName`) by key, or undefined when the stack does not exist. */
export async function appOutputs(cfn: Pick<CloudFormationClient, 'send'>, stage: StageName, stackName = `${stage}-App`): Promise<Record<string, string> | undefined> {
  return outputsOf(cfn, stackName);
}

export interface RunningRelease {
  readonly cluster: string;
  readonly service: string;
  /** The web service's task definition of its primary deployment. */
  readonly taskDefinition: string;
  /** The app container's image URI. */
  readonly image: string;
}

/** What the stage's web service runs now (its primary deployment; of the app tier `stackName`), or undefined before its first deploy. */
export async function runningRelease(
  clients: { cfn: Pick<CloudFormationClient, 'send'>; ecs: Pick<ECSClient, 'send'> },
  stage: StageName,
  stackName = `${stage}-App`,
): Promise<RunningRelease | undefined> {
  const outputs = await appOutputs(clients.cfn, stage, stackName);
  if (!outputs?.ClusterName || !outputs.WebServiceName) return undefined;
  const { ClusterName: cluster, WebServiceName: service } = outputs;
  const described = await clients.ecs.send(new DescribeServicesCommand({ cluster, services: [service] }));
  const web = described.services?.find((s) => s.status !== 'INACTIVE');
  const taskDefinition = web?.deployments?.find((d) => d.status === 'PRIMARY')?.taskDefinition ?? web?.taskDefinition;
  if (!taskDefinition) return undefined;
  const td = await clients.ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition }));
  const app = td.taskDefinition?.containerDefinitions?.find((c) => c.name === 'app') ?? td.taskDefinition?.containerDefinitions?.[0];
  if (!app?.image) return undefined;
  return { cluster, service, taskDefinition, image: app.image };
}

export interface PreviousRelease {
  /** The tag or digest of the release before the running one. */
  readonly ref: string;
  /** The pre-deploy snapshot that recorded it (taken when the running release was deployed). */
  readonly snapshot: string;
  readonly snapshotTime?: Date;
  readonly dbInstanceIdentifier: string;
}

/**
 * The release before `runningRef`: the pre-deploy snapshot of the running release names, in its
 * previous-image tag, what ran before it. The newest such snapshot wins (a release deployed twice
 * has two). Undefined when no snapshot of the stage names the running release (it was deployed
 * with the snapshot skipped, or its snapshots were pruned) or the one before it was the first.
 */
export async function previousRelease(rds: Pick<RDSClient, 'send'>, stage: StageName, runningRef: string): Promise<PreviousRelease | undefined> {
  const ours = (await listSnapshots(rds, { SnapshotType: 'manual' }))
    .filter((s) => isStageSnapshot(s, stage))
    .filter((s) => {
      const image = snapshotTag(s, TAGS.image);
      return image !== undefined && imageRefOrUndefined(image) === runningRef;
    })
    .sort((a, b) => (b.SnapshotCreateTime?.getTime() ?? 0) - (a.SnapshotCreateTime?.getTime() ?? 0));
  for (const snapshot of ours) {
    const previous = snapshotTag(snapshot, TAGS.previousImage);
    const ref = previous ? imageRefOrUndefined(previous) : undefined;
    if (!ref || ref === runningRef) continue;
    return { ref, snapshot: snapshot.DBSnapshotIdentifier ?? '', snapshotTime: snapshot.SnapshotCreateTime, dbInstanceIdentifier: snapshot.DBInstanceIdentifier ?? '' };
  }
  return undefined;
}

function imageRefOrUndefined(uri: string): string | undefined {
  try {
    return imageRef(uri);
  } catch {
    return undefined;
  }
}

/** Minutes within which point-in-time restore must reach for a rollback to skip its snapshot. */
export const PITR_FRESH_MINUTES = 10;

/**
 * Why a rollback may deploy without its pre-deploy snapshot (point-in-time restore reaches to
 * within PITR_FRESH_MINUTES of now), or undefined when it must take one. The snapshot waits out
 * the backup window (up to about 20 minutes); a rollback should not, when the same restore
 * point exists already.
 */
export async function pitrCovers(rds: Pick<RDSClient, 'send'>, dbInstanceIdentifier: string, now: Date): Promise<string | undefined> {
  const out = await rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: dbInstanceIdentifier }));
  const db = out.DBInstances?.[0];
  const latest = db?.LatestRestorableTime;
  if (!db || !latest || (db.BackupRetentionPeriod ?? 0) === 0) return undefined;
  const lagMinutes = (now.getTime() - latest.getTime()) / 60_000;
  if (lagMinutes > PITR_FRESH_MINUTES) return undefined;
  return `point-in-time restore of ${dbInstanceIdentifier} reaches ${latest.toISOString()} (${Math.max(0, Math.round(lagMinutes))} minutes ago), so the rollback skips its pre-deploy snapshot`;
}

/** A stack of the stage and the region it deploys to. */
export interface StackPlace {
  readonly stackName: string;
  readonly region: string;
}

/** Where the stage's stacks deploy, by its config. */
export function stackPlaces(config: StageConfig): StackPlace[] {
  return stageStacks(config).map(({ stack, region }) => ({ stackName: `${config.name}-${stack}`, region }));
}

/** The stacks a plan deploys, by region: "eu-west-1 (staging-Network, staging-App), us-east-1 (staging-Edge)". */
function byRegion(plan: DeployPlan): string {
  const chosen = plan.only ? plan.stacks.filter((s) => plan.only!.some((o) => s.stackName === `${plan.stage}-${o}`)) : plan.stacks;
  const regions = [...new Set(chosen.map((s) => s.region))];
  return (
    regions
      .map(
        (r) =>
          `${r} (${chosen
            .filter((s) => s.region === r)
            .map((s) => s.stackName)
            .join(', ')})`,
      )
      .join(', ') || 'none of the stage'
  );
}

export interface DeployPlan {
  readonly stage: StageName;
  readonly account: string;
  readonly region: string;
  /** The tag or digest deployed, or undefined when a prebuilt assembly fixes it. */
  readonly image?: string;
  /** Where the image comes from, in words ("what the web tasks run now"). */
  readonly imageSource: string;
  /** Stacks of the stage to deploy, or undefined for all of them. */
  readonly only?: readonly StageStack[];
  /** Every stack of the stage and the region it deploys to (a stage spans its home, DR and edge regions). */
  readonly stacks: readonly StackPlace[];
  /** A prebuilt cloud assembly to deploy instead of synthesizing. */
  readonly app?: string;
  /** Further -c overrides (the caller's, and the rollback's). */
  readonly context: Readonly<Record<string, string>>;
  /** Skip CDK's approval prompt for security-relevant changes (the workflows). */
  readonly noApproval: boolean;
  /** What the deploy costs or leaves out, said under the plan (a skipped snapshot, a checkout with uncommitted changes). */
  readonly notes?: readonly string[];
}

/** The `cdk deploy` arguments of a plan (after `npx cdk`). */
export function deployArgs(plan: DeployPlan): string[] {
  const args = ['deploy'];
  if (plan.app) args.push('--app', plan.app);
  if (plan.only) args.push(...plan.only.map((s) => `${plan.stage}/${s}`), '--exclusively');
  else args.push(`${plan.stage}/*`);
  if (!plan.app) {
    const context: Record<string, string> = { stages: plan.stage, [`${plan.stage}.account`]: plan.account, ...(plan.image ? { imageTag: plan.image } : {}), ...plan.context };
    for (const [key, value] of Object.entries(context)) args.push('-c', `${key}=${value}`);
  }
  if (plan.noApproval) args.push('--require-approval', 'never');
  return args;
}

/** A command line as a person would paste it. */
export function shellLine(args: readonly string[]): string {
  return args.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
}

/** The plan, as printed before anything happens. */
export function formatPlan(plan: DeployPlan, config: Pick<StageConfig, 'image'>): string {
  return [
    `deploy ${plan.stage} (account ${plan.account}, ${plan.region})`,
    `  image:   ${plan.image ? `${config.image.repositoryName} ${plan.image}` : 'as synthesized in the assembly'} (${plan.imageSource})`,
    `  stacks:  ${plan.only ? `${plan.only.map((s) => `${plan.stage}/${s}`).join(', ')} only` : `every stack of ${plan.stage}`}`,
    `  regions: ${byRegion(plan)}`,
    ...Object.entries(plan.context).map(([key, value]) => `  context: ${key}=${value}`),
    `  command: ${shellLine(['npx', 'cdk', ...deployArgs(plan)])}`,
    ...(plan.notes ?? []).map((n) => `  note:    ${n}`),
  ].join('\n');
}

/**
 * Prints the plan's outcome and deploys it with `run` (`npx cdk`) when `yes`: 0 deployed or only
 * printed, 1 the deploy failed (with `failure` said).
 */
export function deployOrPrint(plan: DeployPlan, yes: boolean, run: (args: readonly string[]) => number, words: { readonly dryRun: string; readonly failure: string }): number {
  if (!yes) {
    console.log(`dry run: nothing deployed. ${words.dryRun}`);
    return 0;
  }
  const code = run(deployArgs(plan));
  if (code !== 0) console.error(`${words.failure.replace('%s', String(code))}`);
  return code === 0 ? 0 : 1;
}

/** A refusal (bad arguments, config or credentials) is said as `script: message` and exits 2; anything else is a bug and is thrown. */
export function refusal(script: string, error: unknown): number {
  if (error instanceof UsageError || error instanceof StageConfigError) {
    console.error(`${script}: ${error.message}`);
    return 2;
  }
  throw error;
}
