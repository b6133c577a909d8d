import { type ChildProcess, spawn } from 'node:child_process';
import {
  CreateClusterCommand,
  CreateServiceCommand,
  type Deployment,
  DescribeServicesCommand,
  DescribeTasksCommand,
  ECSClient,
  ListTasksCommand,
  RegisterTaskDefinitionCommand,
  type Task,
  UpdateServiceCommand,
} from '@aws-sdk/client-ecs';
import {
  CreateCacheSubnetGroupCommand,
  CreateReplicationGroupCommand,
  ElastiCacheClient,
  ModifyReplicationGroupCommand,
  ReplicationGroupNotFoundFault,
} from '@aws-sdk/client-elasticache';
import { CreateSecretCommand, DescribeSecretCommand, GetSecretValueCommand, PutSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, test, vi } from 'vitest';
import { replicationGroupApi } from '../../lambda/cache-token-rotation/elasticache';
import {
  type Clients,
  CURRENT,
  generateToken,
  PENDING,
  PREVIOUS,
  type ReplicationGroupApi,
  ROTATION_STEPS,
  RotationRefused,
  type RotationSettings,
  rotate,
  settle,
  TOKEN_RULE,
  type TokenStrategy,
  versionWith,
} from '../../lambda/cache-token-rotation/rotation';
import { acceptsToken, CacheUnreachable, encodeCommand, parseReply, sendCommands } from '../../lambda/cache-token-rotation/valkey';
import { type Moto, startMoto } from '../support/moto';
import { freePort } from '../support/ports';

/**
 * The rotation function against what it talks to:
 * - a real redis-server (Debian's, one per file) as the cache: the AUTH checks speak RESP to it,
 *   and the tokens it accepts are the ones the stand-in for ElastiCache below set;
 * - moto for Secrets Manager (versions and staging labels) and ECS services (UpdateService).
 *
 * Stubbed at the client boundary, because moto cannot do it:
 * - ElastiCache's ModifyReplicationGroup (moto 5.2 has no such operation): the stand-in applies
 *   ElastiCache's documented token rules to the redis-server's default user (ROTATE adds a token
 *   and drops the oldest of two; SET needs the last token rotated and leaves only it);
 * - ECS ListTasks and DescribeTasks (moto cannot list a service's tasks) and the deployments a
 *   rolling restart shows while old tasks drain: a small model of the two services' tasks;
 * - LastRotatedDate: moto records it only for a rotation it ran itself, and it cannot invoke a
 *   function, so the test plays Secrets Manager (the four steps, then LastRotatedDate).
 */

const REGION = 'eu-west-1';
let moto: Moto;
let redis: ChildProcess;
let port: number;
const local = () => ({ host: '127.0.0.1', port, tls: false });

const FIRST_TOKEN = `first${'A1'.repeat(20)}`;

beforeAll(async () => {
  moto = await startMoto();
  port = await freePort();
  redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--requirepass', FIRST_TOKEN], { stdio: 'ignore' });
  const failed = new Promise<never>((_, reject) =>
    redis.once('error', (e: NodeJS.ErrnoException) => reject(e.code === 'ENOENT' ? new Error('redis-server is not installed: apt-get install redis-server (.ci/run does)') : e)),
  );
  for (let i = 0; ; i++) {
    const up = await Promise.race([acceptsToken(local(), FIRST_TOKEN).catch(() => false), failed]);
    if (up) break;
    if (i > 100) throw new Error('redis-server did not answer within 5 s');
    await new Promise((r) => setTimeout(r, 50));
  }
});

afterAll(() => {
  redis?.kill();
});

beforeEach(() => {
  vi.spyOn(console, 'log').mockImplementation(() => {});
});

describe('the AUTH check, against a real redis-server', () => {
  test('true for the token the server takes, false for another; nothing runs unauthenticated', async () => {
    expect(await acceptsToken(local(), FIRST_TOKEN)).toBe(true);
    expect(await acceptsToken(local(), `${FIRST_TOKEN}x`)).toBe(false);
    const [auth, ping] = await sendCommands(local(), [['AUTH', 'wrong-token-wrong-token'], ['PING']]);
    expect(auth).toEqual({ error: expect.stringMatching(/^WRONGPASS/) });
    expect(ping).toEqual({ error: expect.stringMatching(/^NOAUTH/) });
  });

  test('a cache it cannot reach is an error, never a refused token', async () => {
    const closed = await freePort();
    await expect(acceptsToken({ host: '127.0.0.1', port: closed, tls: false }, FIRST_TOKEN)).rejects.toThrow(CacheUnreachable);
    await expect(acceptsToken({ host: '127.0.0.1', port: closed, tls: false }, FIRST_TOKEN)).rejects.toThrow(`127.0.0.1:${closed}`);
    // A plain server spoken to with TLS fails the handshake: production's setting is not silently ignored.
    await expect(acceptsToken({ ...local(), tls: true, timeoutMs: 300 }, FIRST_TOKEN)).rejects.toThrow(/\(TLS\)/);
  });

  test('RESP: commands as arrays of bulk strings; replies read whole or not at all', () => {
    expect(encodeCommand(['AUTH', 'tök'])).toBe('*2\r\n$4\r\nAUTH\r\n$4\r\ntök\r\n');
    const replies = Buffer.from('+OK\r\n-WRONGPASS no\r\n:42\r\n$3\r\nabc\r\n$-1\r\n');
    const read: unknown[] = [];
    for (let offset = 0, r = parseReply(replies, 0); r; offset = r.next, r = parseReply(replies, offset)) read.push(r.reply);
    expect(read).toEqual([{ ok: 'OK' }, { error: 'WRONGPASS no' }, { integer: 42 }, { bulk: 'abc' }, { bulk: null }]);
    expect(parseReply(Buffer.from('$3\r\nab'), 0)).toBeUndefined();
    expect(parseReply(Buffer.from('+OK'), 0)).toBeUndefined();
    expect(() => parseReply(Buffer.from('*1\r\n'), 0)).toThrow(CacheUnreachable);
  });
});

describe('generated tokens', () => {
  test("GetRandomPassword (moto) with the exclusions gives 64 letters and digits, which ElastiCache's rules allow", async () => {
    const secrets = new SecretsManagerClient(moto.clientConfig(REGION));
    for (let i = 0; i < 5; i++) {
      const token = await generateToken({ secrets });
      expect(token).toMatch(/^[A-Za-z0-9]{64}$/);
      expect(token).toMatch(TOKEN_RULE);
    }
  });

  test("the rule is ElastiCache's: 16-128 printable characters, non-alphanumerics only ! & # $ ^ < > -", () => {
    for (const ok of ['a'.repeat(16), 'a'.repeat(128), `${'a'.repeat(16)}!&#$^<>-`]) expect(ok).toMatch(TOKEN_RULE);
    for (const bad of ['a'.repeat(15), 'a'.repeat(129), `${'a'.repeat(16)}@`, `${'a'.repeat(16)}"`, `${'a'.repeat(16)}/`, `${'a'.repeat(16)}%`, `${'a'.repeat(16)} `])
      expect(bad).not.toMatch(TOKEN_RULE);
  });
});

/** The tokens the file's one redis-server takes now (each test starts it over with `rig()`). */
let serverTokens = [FIRST_TOKEN];

/** ElastiCache's token rules over the redis-server's default user. */
class ReplicationGroup implements ReplicationGroupApi {
  tokens = [FIRST_TOKEN];
  readonly calls: { strategy: TokenStrategy; token: string }[] = [];
  /** Looks at the group that still answer "modifying" after a modification. */
  modifyingLooks = 0;

  async status(): Promise<string> {
    if (this.modifyingLooks > 0) {
      this.modifyingLooks--;
      return 'modifying';
    }
    return 'available';
  }

  async modifyAuthToken(_id: string, token: string, strategy: TokenStrategy): Promise<void> {
    this.calls.push({ strategy, token });
    if (strategy === 'SET' && this.tokens.at(-1) !== token) throw new Error('InvalidParameterValue: SET needs the last token rotated');
    await this.apply(strategy === 'ROTATE' ? [...this.tokens, token].slice(-2) : [token]);
    this.modifyingLooks = 2;
  }

  /** Makes the server take exactly these tokens, as ElastiCache's nodes would. */
  async apply(tokens: string[]): Promise<void> {
    const [auth, set] = await sendCommands(local(), [
      ['AUTH', serverTokens[0]],
      ['ACL', 'SETUSER', 'default', 'resetpass', ...tokens.map((t) => `>${t}`)],
    ]);
    expect([auth, set]).toEqual([{ ok: 'OK' }, { ok: 'OK' }]);
    serverTokens = tokens;
    this.tokens = tokens;
  }
}

/** The web and worker services' tasks, as ECS would list them, and the rolling restarts UpdateService starts. */
class Services {
  private readonly tasks = new Map<string, Task & { desiredStatus: string; service: string }>();
  private count = 0;
  readonly restarts: string[] = [];

  start(service: string, createdAt: Date): void {
    const arn = `arn:aws:ecs:${REGION}:123456789012:task/c/${service}-${++this.count}`;
    this.tasks.set(arn, { taskArn: arn, createdAt, lastStatus: 'RUNNING', desiredStatus: 'RUNNING', service });
  }

  /** A rolling restart: as many new tasks, the old ones draining until `drained()`. */
  restart(service: string): void {
    this.restarts.push(service);
    const old = [...this.tasks.values()].filter((t) => t.service === service && t.desiredStatus === 'RUNNING');
    for (const t of old) {
      t.desiredStatus = 'STOPPED';
      this.start(service, new Date(Date.now() + 1000));
    }
  }

  drained(): void {
    for (const t of this.tasks.values()) if (t.desiredStatus === 'STOPPED') t.lastStatus = 'STOPPED';
  }

  draining(service: string): boolean {
    return [...this.tasks.values()].some((t) => t.service === service && t.desiredStatus === 'STOPPED' && t.lastStatus !== 'STOPPED');
  }

  list(service: string, desiredStatus: string): string[] {
    return [...this.tasks.values()].filter((t) => t.service === service && t.desiredStatus === desiredStatus).map((t) => t.taskArn!);
  }

  describe(arns: string[]): Task[] {
    return arns.map((a) => this.tasks.get(a)!);
  }
}

interface Rig {
  clients: Clients;
  settings: RotationSettings;
  group: ReplicationGroup;
  services: Services;
  secrets: SecretsManagerClient;
  /** Plays Secrets Manager's RotateSecret: the four steps, then LastRotatedDate. */
  rotation(): Promise<string>;
  /** Secrets Manager records the rotation complete (LastRotatedDate, now unless told). */
  completed(at?: Date): void;
  labels(): Promise<Record<string, string[]>>;
  value(stage: string): Promise<string>;
}

let rigs = 0;

/** A secret holding the group's token, two services with two tasks each (started an hour ago unless told), and the rotation function's clients over them. */
async function rig(options: { tasksStartedAt?: Date } = {}): Promise<Rig> {
  const n = `${Date.now()}-${++rigs}`;
  const group = new ReplicationGroup();
  await group.apply([FIRST_TOKEN]);
  const secrets = new SecretsManagerClient(moto.clientConfig(REGION));
  const realEcs = new ECSClient(moto.clientConfig(REGION));
  const secretArn = (await secrets.send(new CreateSecretCommand({ Name: `cache-token-${n}`, SecretString: FIRST_TOKEN }))).ARN!;
  const cluster = `cluster-${n}`;
  await realEcs.send(new CreateClusterCommand({ clusterName: cluster }));
  const taskDefinition = (await realEcs.send(new RegisterTaskDefinitionCommand({ family: `app-${n}`, containerDefinitions: [{ name: 'app', image: 'app:1', memory: 512 }] })))
    .taskDefinition!.taskDefinitionArn!;
  const services = new Services();
  const names = [`web-${n}`, `worker-${n}`];
  const startedAt = options.tasksStartedAt ?? new Date(Date.now() - 3_600_000);
  for (const name of names) {
    await realEcs.send(new CreateServiceCommand({ cluster, serviceName: name, taskDefinition, desiredCount: 2 }));
    services.start(name, startedAt);
    services.start(name, startedAt);
  }
  let rotatedAt: Date | undefined;
  const clients: Clients = {
    secrets: {
      send: (async (command: unknown) => {
        const out = await secrets.send(command as DescribeSecretCommand);
        return command instanceof DescribeSecretCommand ? { ...out, LastRotatedDate: rotatedAt } : out;
      }) as SecretsManagerClient['send'],
    },
    ecs: {
      send: (async (command: unknown) => {
        if (command instanceof ListTasksCommand) return { taskArns: services.list(command.input.serviceName!, command.input.desiredStatus!) };
        if (command instanceof DescribeTasksCommand) return { tasks: services.describe(command.input.tasks!) };
        const out = await realEcs.send(command as DescribeServicesCommand);
        if (command instanceof UpdateServiceCommand && command.input.forceNewDeployment) services.restart(command.input.service!);
        if (command instanceof DescribeServicesCommand) {
          // moto's rollout state counts tasks it never started (always IN_PROGRESS); the model's
          // is ECS's: while old tasks drain, the old deployment is listed next to the new one.
          const described = out as { services?: { serviceName?: string; deployments?: Deployment[] }[] };
          for (const s of described.services ?? []) {
            const [primary] = s.deployments ?? [];
            const draining = services.draining(s.serviceName!);
            s.deployments = [{ ...primary, rolloutState: draining ? 'IN_PROGRESS' : 'COMPLETED' }, ...(draining ? [{ status: 'ACTIVE' }] : [])];
          }
        }
        return out;
      }) as ECSClient['send'],
    },
    cache: group,
    accepts: (token) => acceptsToken(local(), token),
    sleep: async () => {},
  };
  const settings: RotationSettings = {
    stage: 'staging',
    secretArn,
    replicationGroupId: `webapp-staging-${n}`,
    cluster,
    services: names,
    modifyWaitSeconds: 60,
    pollSeconds: 1,
    settleDeadlineHours: 24,
  };
  const labels = async () => (await secrets.send(new DescribeSecretCommand({ SecretId: secretArn }))).VersionIdsToStages ?? {};
  return {
    clients,
    settings,
    group,
    services,
    secrets,
    labels,
    value: async (stage) => (await secrets.send(new GetSecretValueCommand({ SecretId: secretArn, VersionStage: stage }))).SecretString!,
    completed: (at = new Date()) => {
      rotatedAt = at;
    },
    rotation: async () => {
      const token = crypto.randomUUID();
      for (const Step of ROTATION_STEPS) await rotate(clients, settings, { SecretId: secretArn, ClientRequestToken: token, Step });
      rotatedAt = new Date();
      return token;
    },
  };
}

describe('rotation, played as Secrets Manager plays it', () => {
  test('ROTATE, both tokens valid, restart both services, SET once no task holds the old token', async () => {
    const r = await rig();
    const token = await r.rotation();

    const fresh = await r.value(CURRENT);
    expect(fresh).not.toBe(FIRST_TOKEN);
    expect(fresh).toMatch(/^[A-Za-z0-9]{64}$/);
    expect(r.group.calls).toEqual([{ strategy: 'ROTATE', token: fresh }]);
    // Running tasks keep working with the old token, new tasks get the new one.
    expect(await acceptsToken(local(), FIRST_TOKEN)).toBe(true);
    expect(await acceptsToken(local(), fresh)).toBe(true);
    const labels = await r.labels();
    expect(labels[token]).toContain(CURRENT);
    expect(versionWith({ VersionIdsToStages: labels }, PREVIOUS)).toBeDefined();
    expect(r.services.restarts).toEqual([]);

    // First run: every task predates the rotation, so both services restart.
    const first = await settle(r.clients, r.settings, new Date());
    expect(first).toMatchObject({ state: 'restarting', services: Object.fromEntries(r.settings.services.map((s) => [s, 'restarted'])) });
    expect(r.services.restarts).toEqual(r.settings.services);
    // moto took the UpdateService calls: each service has a deployment from now.
    const described = await new ECSClient(moto.clientConfig(REGION)).send(new DescribeServicesCommand({ cluster: r.settings.cluster, services: [...r.settings.services] }));
    for (const s of described.services!) expect(s.deployments![0].createdAt!.getTime()).toBeGreaterThan(Date.now() - 60_000);

    // Old tasks still drain (the worker finishing its jobs): wait, restart nothing more, keep both tokens.
    const second = await settle(r.clients, r.settings, new Date());
    expect(second).toMatchObject({ state: 'restarting', services: Object.fromEntries(r.settings.services.map((s) => [s, 'deploying'])) });
    expect(r.services.restarts).toHaveLength(2);
    expect(r.group.calls).toHaveLength(1);

    r.services.drained();
    r.group.modifyingLooks = 0;
    const third = await settle(r.clients, r.settings, new Date());
    expect(third.state).toBe('settled');
    expect(r.group.calls).toEqual([
      { strategy: 'ROTATE', token: fresh },
      { strategy: 'SET', token: fresh },
    ]);
    expect(await acceptsToken(local(), FIRST_TOKEN)).toBe(false);
    expect(await acceptsToken(local(), fresh)).toBe(true);
    expect(versionWith({ VersionIdsToStages: await r.labels() }, PREVIOUS)).toBeUndefined();

    expect(await settle(r.clients, r.settings, new Date())).toMatchObject({ state: 'settled', detail: 'one token: nothing to settle' });
    expect(r.group.calls).toHaveLength(2);

    // The next rotation starts from one token again, once ElastiCache has applied SET.
    r.group.modifyingLooks = 0;
    await r.rotation();
    expect(r.group.calls.map((c) => c.strategy)).toEqual(['ROTATE', 'SET', 'ROTATE']);
    expect(await acceptsToken(local(), fresh)).toBe(true);
    expect(await acceptsToken(local(), await r.value(CURRENT))).toBe(true);
  });

  test('a task started while the rotation ran still holds the old token: its service restarts, the other does not', async () => {
    // Here the services' first tasks count as started after the rotation.
    const r = await rig({ tasksStartedAt: new Date(Date.now() + 600_000) });
    const [web, worker] = r.settings.services;
    const token = crypto.randomUUID();
    const event = (Step: (typeof ROTATION_STEPS)[number]) => ({ SecretId: r.settings.secretArn, ClientRequestToken: token, Step });
    await rotate(r.clients, r.settings, event('createSecret'));
    await rotate(r.clients, r.settings, event('setSecret'));
    // Scaling out before finishSecret: ECS injects the token that is still current, the old one.
    r.services.start(worker, new Date());
    expect(await settle(r.clients, r.settings, new Date())).toMatchObject({ state: 'settled', detail: 'one token: nothing to settle' });
    await rotate(r.clients, r.settings, event('testSecret'));
    await rotate(r.clients, r.settings, event('finishSecret'));
    // Secrets Manager has not recorded this rotation complete yet: there is no moment to compare
    // tasks with, neither none nor an earlier rotation's.
    expect(await settle(r.clients, r.settings, new Date())).toMatchObject({ state: 'rotating' });
    r.completed(new Date(Date.now() - 60_000));
    expect(await settle(r.clients, r.settings, new Date())).toMatchObject({ state: 'rotating' });
    expect(r.services.restarts).toEqual([]);
    r.completed();
    expect(await settle(r.clients, r.settings, new Date())).toMatchObject({ state: 'restarting', services: { [web]: 'current', [worker]: 'restarted' } });
    expect(r.services.restarts).toEqual([worker]);
    expect(r.group.calls.map((c) => c.strategy)).toEqual(['ROTATE']);
  });

  test('no second rotation while the first is unsettled: a ROTATE would drop the token tasks still use', async () => {
    const r = await rig();
    await r.rotation();
    const token = crypto.randomUUID();
    const attempt = rotate(r.clients, r.settings, { SecretId: r.settings.secretArn, ClientRequestToken: token, Step: 'createSecret' });
    await expect(attempt).rejects.toThrow(RotationRefused);
    await expect(rotate(r.clients, r.settings, { SecretId: r.settings.secretArn, ClientRequestToken: token, Step: 'createSecret' })).rejects.toThrow(
      /stage staging .*previous rotation is not settled.*Fix: .*docs\/runbooks\.md/,
    );
    expect((await r.labels())[token]).toBeUndefined();
    expect(r.group.calls).toHaveLength(1);
  });

  test('a retried setSecret does not ROTATE again (a second ROTATE would drop the old token)', async () => {
    const r = await rig();
    const token = crypto.randomUUID();
    const event = (Step: (typeof ROTATION_STEPS)[number]) => ({ SecretId: r.settings.secretArn, ClientRequestToken: token, Step });
    await rotate(r.clients, r.settings, event('createSecret'));
    const pending = (await r.secrets.send(new GetSecretValueCommand({ SecretId: r.settings.secretArn, VersionId: token, VersionStage: PENDING }))).SecretString!;
    // A retried createSecret keeps the token it made.
    await rotate(r.clients, r.settings, event('createSecret'));
    expect((await r.secrets.send(new GetSecretValueCommand({ SecretId: r.settings.secretArn, VersionId: token, VersionStage: PENDING }))).SecretString).toBe(pending);
    await rotate(r.clients, r.settings, event('setSecret'));
    expect(await rotate(r.clients, r.settings, event('setSecret'))).toMatch(/already accepts/);
    expect(r.group.calls).toEqual([{ strategy: 'ROTATE', token: pending }]);
    expect(await acceptsToken(local(), FIRST_TOKEN)).toBe(true);
  });

  test('setSecret refuses when the group does not take the current token, and waits for "modifying" to pass', async () => {
    const r = await rig();
    const token = crypto.randomUUID();
    const event = (Step: (typeof ROTATION_STEPS)[number]) => ({ SecretId: r.settings.secretArn, ClientRequestToken: token, Step });
    await rotate(r.clients, r.settings, event('createSecret'));
    await r.group.apply(['someone-elses-token-0000']);
    await expect(rotate(r.clients, r.settings, event('setSecret'))).rejects.toThrow(/does not accept the current token/);
    expect(r.group.calls).toEqual([]);

    await r.group.apply([FIRST_TOKEN]);
    r.group.modifyingLooks = 1;
    await expect(rotate(r.clients, r.settings, event('setSecret'))).rejects.toThrow(/is modifying, not available/);
    expect(r.group.calls).toEqual([]);
    // ElastiCache takes minutes to apply ROTATE; the step waits, then the new token works.
    await rotate(r.clients, r.settings, event('setSecret'));
    expect(r.group.modifyingLooks).toBe(0);
    expect(await rotate(r.clients, r.settings, event('testSecret'))).toMatch(/accepts the new and the current token/);
  });

  test('testSecret fails unless the group takes both tokens; alone (rotation set-up) it checks the current one', async () => {
    const r = await rig();
    const token = crypto.randomUUID();
    await rotate(r.clients, r.settings, { SecretId: r.settings.secretArn, ClientRequestToken: token, Step: 'createSecret' });
    await expect(rotate(r.clients, r.settings, { SecretId: r.settings.secretArn, ClientRequestToken: token, Step: 'testSecret' })).rejects.toThrow(/refuses the new token/);
    const current = versionWith({ VersionIdsToStages: await r.labels() }, CURRENT)!;
    expect(await rotate(r.clients, r.settings, { SecretId: r.settings.secretArn, ClientRequestToken: current, Step: 'testSecret' })).toMatch(/accepts/);
    // A version without a value: Secrets Manager checking the set-up before any rotation.
    const setUp = crypto.randomUUID();
    expect(await rotate(r.clients, r.settings, { SecretId: r.settings.secretArn, ClientRequestToken: setUp, Step: 'testSecret' })).toMatch(/accepts/);
    await r.group.apply(['someone-elses-token-0000']);
    for (const version of [current, setUp])
      await expect(rotate(r.clients, r.settings, { SecretId: r.settings.secretArn, ClientRequestToken: version, Step: 'testSecret' })).rejects.toThrow(/refuses the new token/);
    expect(r.group.calls).toEqual([]);
  });

  test('events for another secret, or for a version that is not pending, are refused before anything changes', async () => {
    const r = await rig();
    await expect(rotate(r.clients, r.settings, { SecretId: `${r.settings.secretArn}-other`, ClientRequestToken: crypto.randomUUID(), Step: 'createSecret' })).rejects.toThrow(
      /another secret/,
    );
    const stray = crypto.randomUUID();
    await r.secrets.send(new PutSecretValueCommand({ SecretId: r.settings.secretArn, ClientRequestToken: stray, SecretString: 'x'.repeat(20), VersionStages: ['OTHER'] }));
    await expect(rotate(r.clients, r.settings, { SecretId: r.settings.secretArn, ClientRequestToken: stray, Step: 'setSecret' })).rejects.toThrow(/labelled OTHER, not AWSPENDING/);
    expect(r.group.calls).toEqual([]);
  });

  test('a restart that never finishes fails the settle step after the deadline: the old token is still valid', async () => {
    const r = await rig();
    await r.rotation();
    await settle(r.clients, r.settings, new Date());
    const later = new Date(Date.now() + 25 * 3_600_000);
    await expect(settle(r.clients, r.settings, later)).rejects.toThrow(/stage staging.*24 hours after.*old token is still valid/);
    expect(r.group.calls.map((c) => c.strategy)).toEqual(['ROTATE']);
  });
});

describe('the ElastiCache calls, over the real SDK client', () => {
  test("status is DescribeReplicationGroups' Status (moto); a group that is gone is an error, not a status", async () => {
    const client = new ElastiCacheClient(moto.clientConfig(REGION));
    await client.send(new CreateCacheSubnetGroupCommand({ CacheSubnetGroupName: 'rotation-sg', CacheSubnetGroupDescription: 'rotation test', SubnetIds: ['subnet-12345678'] }));
    await client.send(
      new CreateReplicationGroupCommand({
        ReplicationGroupId: 'rotation-group',
        ReplicationGroupDescription: 'rotation test',
        Engine: 'valkey',
        CacheNodeType: 'cache.t4g.micro',
        CacheSubnetGroupName: 'rotation-sg',
        TransitEncryptionEnabled: true,
        AuthToken: FIRST_TOKEN,
      }),
    );
    const api = replicationGroupApi(client);
    expect(await api.status('rotation-group')).toMatch(/^(available|creating)$/);
    await expect(api.status('no-such-group')).rejects.toThrow(ReplicationGroupNotFoundFault);
  });

  // moto has no ModifyReplicationGroup: the request the SDK would sign is checked at the client boundary.
  test('modifyAuthToken sends the token, the strategy and ApplyImmediately for that group only', async () => {
    const client = new ElastiCacheClient({ region: REGION, credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
    const stub = mockClient(client);
    stub.on(ModifyReplicationGroupCommand).resolves({});
    for (const strategy of ['ROTATE', 'SET'] as const) await replicationGroupApi(client).modifyAuthToken('rotation-group', `token-${strategy}`, strategy);
    expect(stub.commandCalls(ModifyReplicationGroupCommand).map((c) => c.args[0].input)).toEqual([
      { ReplicationGroupId: 'rotation-group', AuthToken: 'token-ROTATE', AuthTokenUpdateStrategy: 'ROTATE', ApplyImmediately: true },
      { ReplicationGroupId: 'rotation-group', AuthToken: 'token-SET', AuthTokenUpdateStrategy: 'SET', ApplyImmediately: true },
    ]);
    stub.restore();
  });
});
