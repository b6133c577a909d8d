import { type Deployment, DescribeServicesCommand, DescribeTasksCommand, type ECSClient, ListTasksCommand, type Task, UpdateServiceCommand } from '@aws-sdk/client-ecs';
import {
  DescribeSecretCommand,
  type DescribeSecretResponse,
  GetRandomPasswordCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  type SecretsManagerClient,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';

/** Secrets Manager's staging labels. */
export const CURRENT = 'AWSCURRENT';
export const PENDING = 'AWSPENDING';
/**
 * Secrets Manager puts it on the version AWSCURRENT leaves. Here it also means "ElastiCache may
 * still accept this token": the settle step removes it once SET has dropped the token.
 */
export const PREVIOUS = 'AWSPREVIOUS';

/** The steps Secrets Manager invokes a rotation function with, in this order. */
export const ROTATION_STEPS = ['createSecret', 'setSecret', 'testSecret', 'finishSecret'] as const;
export type RotationStep = (typeof ROTATION_STEPS)[number];

/** What Secrets Manager sends a rotation function. */
export interface RotationEvent {
  readonly SecretId: string;
  readonly ClientRequestToken: string;
  readonly Step: RotationStep;
}

/** The two AuthTokenUpdateStrategy values rotation uses (DELETE only leaves AUTH for RBAC). */
export type TokenStrategy = 'ROTATE' | 'SET';

/**
 * The replication group, as far as rotation needs it. moto has no ModifyReplicationGroup, so this
 * is the boundary the tests replace (index.ts implements it with the ElastiCache client).
 */
export interface ReplicationGroupApi {
  /** The group's status: "available", "modifying", ... */
  status(replicationGroupId: string): Promise<string>;
  /** ModifyReplicationGroup with AuthToken, AuthTokenUpdateStrategy and ApplyImmediately. */
  modifyAuthToken(replicationGroupId: string, token: string, strategy: TokenStrategy): Promise<void>;
}

export interface Clients {
  readonly secrets: Pick<SecretsManagerClient, 'send'>;
  readonly ecs: Pick<ECSClient, 'send'>;
  readonly cache: ReplicationGroupApi;
  /** Whether the cache accepts a token (valkey.ts `acceptsToken` on the group's primary endpoint). */
  readonly accepts: (token: string) => Promise<boolean>;
  /** @default setTimeout */
  readonly sleep?: (ms: number) => Promise<void>;
}

/** The stage's token, group and services (the function's environment). */
export interface RotationSettings {
  readonly stage: string;
  /** Full ARN of the AUTH token secret; events naming another secret are refused. */
  readonly secretArn: string;
  readonly replicationGroupId: string;
  /** The ECS cluster and the services that read the token at task start (web and worker). */
  readonly cluster: string;
  readonly services: readonly string[];
  /** How long setSecret waits for the group to apply ROTATE before failing (Secrets Manager retries). */
  readonly modifyWaitSeconds: number;
  /** Between two looks at the group while it is modifying. */
  readonly pollSeconds: number;
  /** Hours after a rotation by which the old token must be dropped; the settle step fails (alarm) after that. */
  readonly settleDeadlineHours: number;
}

/** A rotation or settle step that must not go on; the message names the stage, the reason and the fix. */
export class RotationRefused extends Error {}

const RUNBOOK = 'docs/runbooks.md, "Rotate the Valkey AUTH token"';

function refuse(settings: RotationSettings, what: string, fix: string): never {
  throw new RotationRefused(`Cache AUTH token of stage ${settings.stage} (${settings.secretArn}): ${what}. Fix: ${fix} (${RUNBOOK}).`);
}

/** The length rotation generates; ElastiCache takes 16 to 128 characters. */
export const TOKEN_LENGTH = 64;
/**
 * What ElastiCache accepts in an AUTH token: 16-128 printable characters whose non-alphanumeric
 * ones are only ! & # $ ^ < > - (so never @ " / %). Generated tokens use letters and digits only,
 * which also keeps them safe in a `rediss://` URL.
 */
export const TOKEN_RULE = /^[A-Za-z0-9!&#$^<>-]{16,128}$/;

/** Asks Secrets Manager for a token of letters and digits, each kind at least once, and checks it. */
export async function generateToken(clients: Pick<Clients, 'secrets'>): Promise<string> {
  const out = await clients.secrets.send(
    new GetRandomPasswordCommand({ PasswordLength: TOKEN_LENGTH, ExcludePunctuation: true, IncludeSpace: false, RequireEachIncludedType: true }),
  );
  const token = out.RandomPassword ?? '';
  if (!TOKEN_RULE.test(token) || !/^[A-Za-z0-9]+$/.test(token)) throw new Error(`GetRandomPassword returned a token ElastiCache would refuse (${token.length} characters)`);
  return token;
}

async function describe(clients: Clients, settings: RotationSettings): Promise<DescribeSecretResponse> {
  return clients.secrets.send(new DescribeSecretCommand({ SecretId: settings.secretArn }));
}

/** The version carrying a label, if any. */
export function versionWith(secret: DescribeSecretResponse, stage: string): string | undefined {
  return Object.entries(secret.VersionIdsToStages ?? {}).find(([, stages]) => stages.includes(stage))?.[0];
}

async function secretValue(clients: Clients, settings: RotationSettings, options: { versionId?: string; stage: string }): Promise<string> {
  const out = await clients.secrets.send(new GetSecretValueCommand({ SecretId: settings.secretArn, VersionId: options.versionId, VersionStage: options.stage }));
  return out.SecretString ?? '';
}

async function pendingValue(clients: Clients, settings: RotationSettings, token: string): Promise<string | undefined> {
  try {
    return await secretValue(clients, settings, { versionId: token, stage: PENDING });
  } catch (error) {
    if ((error as { name?: string }).name === 'ResourceNotFoundException') return undefined;
    throw error;
  }
}

async function waitAvailable(clients: Clients, settings: RotationSettings, seconds: number): Promise<string> {
  const sleep = clients.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    const status = await clients.cache.status(settings.replicationGroupId);
    if (status === 'available' || Date.now() >= deadline) return status;
    await sleep(settings.pollSeconds * 1000);
  }
}

/**
 * One step of Secrets Manager's rotation protocol (the token is the new version's id):
 *
 * - createSecret: a new token as AWSPENDING; refused while the previous rotation is not settled
 *   (an ElastiCache ROTATE drops the oldest of two tokens, which tasks may still use).
 * - setSecret: ModifyReplicationGroup ROTATE with the new token, then wait until the group is
 *   available: it accepts the old and the new token from then on. Skipped when it already accepts
 *   the new one (a retried step must not ROTATE twice), refused when it does not accept the current.
 * - testSecret: AUTH with the new token and with the current one (the running tasks') both work.
 * - finishSecret: AWSCURRENT moves to the new version; Secrets Manager puts AWSPREVIOUS on the old.
 *
 * The services still run the old token then; `settle` restarts them and drops the old token.
 */
export async function rotate(clients: Clients, settings: RotationSettings, event: RotationEvent): Promise<string> {
  if (event.SecretId !== settings.secretArn) {
    refuse(settings, `the rotation event names another secret (${event.SecretId})`, 'invoke this function for its own secret only');
  }
  if (!ROTATION_STEPS.includes(event.Step)) refuse(settings, `unknown rotation step "${event.Step}"`, `send one of ${ROTATION_STEPS.join(', ')}`);
  const secret = await describe(clients, settings);
  const stages = secret.VersionIdsToStages?.[event.ClientRequestToken] ?? [];
  if (stages.includes(CURRENT)) {
    // Secrets Manager also calls testSecret alone when rotation is set up.
    if (event.Step === 'testSecret') return testSecret(clients, settings, await secretValue(clients, settings, { stage: CURRENT }));
    return `${event.Step}: version ${event.ClientRequestToken} is already AWSCURRENT`;
  }
  // Secrets Manager creates the new version, labelled AWSPENDING, before it calls createSecret.
  if (stages.length > 0 && !stages.includes(PENDING)) {
    refuse(settings, `version ${event.ClientRequestToken} is labelled ${stages.join(', ')}, not AWSPENDING`, 'start the rotation again with rotate-secret');
  }
  switch (event.Step) {
    case 'createSecret':
      return createSecret(clients, settings, secret, event.ClientRequestToken);
    case 'setSecret':
      return setSecret(clients, settings, event.ClientRequestToken);
    case 'testSecret': {
      // Without a value there is no new token: Secrets Manager checking the set-up (setSecret
      // cannot have run, it needs the value). The current token must still work.
      const pending = await pendingValue(clients, settings, event.ClientRequestToken);
      return testSecret(clients, settings, pending ?? (await secretValue(clients, settings, { stage: CURRENT })));
    }
    case 'finishSecret':
      return finishSecret(clients, settings, secret, event.ClientRequestToken);
  }
}

async function createSecret(clients: Clients, settings: RotationSettings, secret: DescribeSecretResponse, token: string): Promise<string> {
  const previous = versionWith(secret, PREVIOUS);
  if (previous) {
    refuse(
      settings,
      `the previous rotation is not settled: ElastiCache may still accept the token of version ${previous} and tasks may still use it, and a new ROTATE would drop it`,
      'wait for the settle step (every 15 minutes) to restart the services and SET the current token, or run it now',
    );
  }
  if (await pendingValue(clients, settings, token)) return `createSecret: version ${token} already has its token`;
  const value = await generateToken(clients);
  await clients.secrets.send(new PutSecretValueCommand({ SecretId: settings.secretArn, ClientRequestToken: token, SecretString: value, VersionStages: [PENDING] }));
  return `createSecret: new token stored as version ${token} (AWSPENDING)`;
}

async function setSecret(clients: Clients, settings: RotationSettings, token: string): Promise<string> {
  const pending = await pendingValue(clients, settings, token);
  if (!pending) refuse(settings, `version ${token} has no token to set`, 'start the rotation again with rotate-secret');
  if (!TOKEN_RULE.test(pending))
    refuse(settings, `the pending token breaks ElastiCache's rules (16-128 characters, letters, digits and !&#$^<>- only)`, 'start the rotation again');
  if (await clients.accepts(pending)) return 'setSecret: the group already accepts the new token';
  const current = await secretValue(clients, settings, { stage: CURRENT });
  if (!(await clients.accepts(current))) {
    refuse(
      settings,
      `replication group ${settings.replicationGroupId} does not accept the current token, so the services cannot be using it; rotating now could drop the token they use`,
      'find which token the group accepts (the by-hand steps) before rotating',
    );
  }
  const before = await clients.cache.status(settings.replicationGroupId);
  if (before !== 'available') {
    refuse(
      settings,
      `replication group ${settings.replicationGroupId} is ${before}, not available`,
      'Secrets Manager retries the rotation; if it keeps failing, rotate again once the group is available',
    );
  }
  await clients.cache.modifyAuthToken(settings.replicationGroupId, pending, 'ROTATE');
  const after = await waitAvailable(clients, settings, settings.modifyWaitSeconds);
  if (after !== 'available') {
    refuse(
      settings,
      `replication group ${settings.replicationGroupId} is still ${after} ${settings.modifyWaitSeconds} s after ROTATE`,
      'Secrets Manager retries the rotation, which then finds the new token accepted',
    );
  }
  return `setSecret: replication group ${settings.replicationGroupId} accepts the current and the new token (ROTATE)`;
}

async function testSecret(clients: Clients, settings: RotationSettings, pending: string): Promise<string> {
  if (!(await clients.accepts(pending))) refuse(settings, `replication group ${settings.replicationGroupId} refuses the new token`, 'look at setSecret in the function log');
  const current = await secretValue(clients, settings, { stage: CURRENT });
  if (!(await clients.accepts(current))) {
    refuse(
      settings,
      `replication group ${settings.replicationGroupId} refuses the current token, which the running tasks use`,
      'restart the web and worker services once the rotation has finished',
    );
  }
  return 'testSecret: the group accepts the new and the current token';
}

async function finishSecret(clients: Clients, settings: RotationSettings, secret: DescribeSecretResponse, token: string): Promise<string> {
  const current = versionWith(secret, CURRENT);
  await clients.secrets.send(new UpdateSecretVersionStageCommand({ SecretId: settings.secretArn, VersionStage: CURRENT, MoveToVersionId: token, RemoveFromVersionId: current }));
  return `finishSecret: version ${token} is AWSCURRENT; tasks started from now on read it, the settle step restarts the others`;
}

/** Where one service stands after a rotation. */
export type ServiceState = 'current' | 'deploying' | 'restarted';

export interface SettleOutcome {
  /** settled: one token; rotating: a rotation is under way; restarting: tasks still hold the old token. */
  readonly state: 'settled' | 'rotating' | 'restarting';
  readonly detail: string;
  readonly services?: Readonly<Record<string, ServiceState>>;
}

async function serviceTasks(clients: Clients, settings: RotationSettings, service: string): Promise<Task[]> {
  const arns: string[] = [];
  // Tasks ECS is stopping still hold their connections until they exit (the worker's stop timeout).
  for (const desiredStatus of ['RUNNING', 'STOPPED'] as const) {
    let nextToken: string | undefined;
    do {
      const page = await clients.ecs.send(new ListTasksCommand({ cluster: settings.cluster, serviceName: service, desiredStatus, nextToken }));
      arns.push(...(page.taskArns ?? []));
      nextToken = page.nextToken;
    } while (nextToken);
  }
  const tasks: Task[] = [];
  for (let i = 0; i < arns.length; i += 100) {
    const out = await clients.ecs.send(new DescribeTasksCommand({ cluster: settings.cluster, tasks: arns.slice(i, i + 100) }));
    tasks.push(...(out.tasks ?? []));
  }
  return tasks.filter((t) => t.lastStatus !== 'STOPPED');
}

const inProgress = (deployments: Deployment[]) => deployments.length > 1 || deployments.some((d) => d.rolloutState === 'IN_PROGRESS');

/**
 * Finishes a rotation where finishSecret left it (run on a schedule, and by hand when in a hurry):
 * ECS injects the token only when a task starts, so every web and worker task started before the
 * rotation completed still holds the old one. Each such service gets a new deployment (unless one
 * is already running); once every task that is not stopped started after the rotation completed,
 * ModifyReplicationGroup SET leaves the current token the only one and AWSPREVIOUS is removed.
 * Fails (the function's errors alarm) when that has not happened `settleDeadlineHours` after the
 * rotation: the old token is still valid then.
 */
export async function settle(clients: Clients, settings: RotationSettings, now: Date): Promise<SettleOutcome> {
  const secret = await describe(clients, settings);
  const previous = versionWith(secret, PREVIOUS);
  const current = versionWith(secret, CURRENT);
  if (!previous) return { state: 'settled', detail: 'one token: nothing to settle' };
  const pending = versionWith(secret, PENDING);
  if (pending && pending !== current) return { state: 'rotating', detail: `version ${pending} is being rotated in` };

  const currentVersion = await clients.secrets.send(new GetSecretValueCommand({ SecretId: settings.secretArn, VersionStage: CURRENT }));
  const currentSince = currentVersion.CreatedDate;
  const rotated = secret.LastRotatedDate;
  const overdue = (since: Date | undefined, what: string) => {
    if (since && now.getTime() - since.getTime() > settings.settleDeadlineHours * 3_600_000) {
      refuse(
        settings,
        `${what} ${settings.settleDeadlineHours} hours after the token of version ${current} became current; the old token is still valid`,
        'see the function log for the service that holds it',
      );
    }
  };
  // LastRotatedDate is when Secrets Manager recorded the rotation complete, after AWSCURRENT moved:
  // a task created later cannot hold the old token. Until then (or when AWSCURRENT was moved by
  // hand, which the by-hand steps settle themselves) there is no such moment to compare with.
  if (!rotated || !currentSince || rotated.getTime() < currentSince.getTime()) {
    overdue(currentSince, 'no completed rotation is recorded');
    return { state: 'rotating', detail: `no completed rotation recorded for version ${current} yet` };
  }

  const services: Record<string, ServiceState> = {};
  const described = await clients.ecs.send(new DescribeServicesCommand({ cluster: settings.cluster, services: [...settings.services] }));
  for (const service of settings.services) {
    const found = described.services?.find((s) => s.serviceName === service || s.serviceArn === service);
    if (!found) refuse(settings, `service ${service} is not in cluster ${settings.cluster}`, 'deploy the app stack of the stage');
    const stale = (await serviceTasks(clients, settings, service)).filter((t) => !t.createdAt || t.createdAt.getTime() <= rotated.getTime());
    if (stale.length === 0) services[service] = 'current';
    else if (inProgress(found.deployments ?? [])) services[service] = 'deploying';
    else {
      await clients.ecs.send(new UpdateServiceCommand({ cluster: settings.cluster, service, forceNewDeployment: true }));
      services[service] = 'restarted';
    }
    console.log(JSON.stringify({ service, state: services[service], tasksWithOldToken: stale.length }));
  }
  if (Object.values(services).some((s) => s !== 'current')) {
    overdue(rotated, 'web or worker tasks still hold the old token');
    return { state: 'restarting', detail: 'tasks started before the rotation still run', services };
  }

  const status = await clients.cache.status(settings.replicationGroupId);
  if (status !== 'available') return { state: 'restarting', detail: `replication group is ${status}; SET waits for the next run`, services };
  const token = currentVersion.SecretString ?? '';
  if (!(await clients.accepts(token))) {
    refuse(
      settings,
      `replication group ${settings.replicationGroupId} refuses the current token, which every task now uses`,
      'follow the by-hand steps to find and SET the token the group accepts',
    );
  }
  await clients.cache.modifyAuthToken(settings.replicationGroupId, token, 'SET');
  await clients.secrets.send(new UpdateSecretVersionStageCommand({ SecretId: settings.secretArn, VersionStage: PREVIOUS, RemoveFromVersionId: previous }));
  return { state: 'settled', detail: `SET: replication group ${settings.replicationGroupId} accepts only the token of version ${current}`, services };
}
