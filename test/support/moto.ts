import { type ChildProcess, spawn } from 'node:child_process';
import { delimiter, join } from 'node:path';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { inject } from 'vitest';
import { freePort } from './ports';

/** A moto server (local AWS API stand-in) on a free loopback port. */
export interface Moto {
  readonly endpoint: string;
  /** SDK v3 client settings pointing at this server with dummy credentials (or the role's, with `startMoto({ as })`). */
  clientConfig(region?: string): { endpoint: string; region: string; credentials: MotoCredentials };
  /** The credentials clientConfig carries, for a script started as a child process (AWS_ACCESS_KEY_ID, ...). */
  readonly credentials: MotoCredentials;
  stop(): Promise<void>;
}

export interface MotoCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
}

/** The account moto acts in unless told otherwise. */
export const MOTO_ACCOUNT = '123456789012';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Endpoint of the moto server test/support/global-setup.ts started for the run. */
    motoEndpoint: string;
  }
}

const DUMMY: MotoCredentials = { accessKeyId: 'testing', secretAccessKey: 'testing' };

const clientConfig =
  (endpoint: string, credentials: MotoCredentials = DUMMY) =>
  (region = 'eu-west-1') => ({ endpoint, region, credentials });

/**
 * Credentials of a session of `role` in moto's account: moto's STS issues them on AssumeRole (the
 * role need not exist) and answers GetCallerIdentity with the session's assumed-role ARN, as AWS
 * does, so the operator scripts' role check sees an operator role.
 */
export async function roleCredentials(endpoint: string, role: string, account = MOTO_ACCOUNT): Promise<MotoCredentials> {
  const sts = new STSClient(clientConfig(endpoint)());
  const { Credentials } = await sts.send(new AssumeRoleCommand({ RoleArn: `arn:aws:iam::${account}:role/${role}`, RoleSessionName: 'test' }));
  return { accessKeyId: Credentials!.AccessKeyId!, secretAccessKey: Credentials!.SecretAccessKey!, sessionToken: Credentials!.SessionToken! };
}

/**
 * The run's moto server (started once by test/support/global-setup.ts and stopped after the last
 * file). Files share it, so each names what it creates uniquely, or works in an account of its own
 * (`account`: moto keeps each account's resources apart); stop() is a no-op. `as` signs in as that
 * role (of `account`, by default moto's own).
 */
export async function startMoto(options: { readonly as?: string; readonly account?: string } = {}): Promise<Moto> {
  const endpoint = inject('motoEndpoint');
  // Mutation testing (vitest.mutation.config.mts) runs the same files again and again against one
  // server, one file at a time: each file then starts from an empty moto, or its fixtures would
  // collide with the previous run's and fail before a single test ran (which Stryker counts as
  // "survived").
  if (process.env.MOTO_RESET_PER_FILE === '1') {
    const reset = await fetch(`${endpoint}/moto-api/reset`, { method: 'POST' });
    if (!reset.ok) throw new Error(`moto did not reset: ${reset.status}`);
  }
  const credentials = options.as ? await roleCredentials(endpoint, options.as, options.account) : DUMMY;
  return { endpoint, clientConfig: clientConfig(endpoint, credentials), credentials, stop: async () => {} };
}

/**
 * Starts `moto_server` (from the machine's Python) and waits until it answers. Fails, saying how to
 * install moto, when it is missing.
 */
export async function launchMoto(): Promise<Moto> {
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  // moto-python/sitecustomize.py remembers two pure functions moto recomputes on every request.
  const pythonPath = [join(__dirname, 'moto-python'), process.env.PYTHONPATH].filter(Boolean).join(delimiter);
  const child: ChildProcess = spawn('moto_server', ['-H', '127.0.0.1', '-p', String(port)], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, PYTHONPATH: pythonPath },
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = new Promise<Error>((resolve) => {
    child.once('error', (error: NodeJS.ErrnoException) =>
      resolve(
        error.code === 'ENOENT'
          ? new Error('moto_server is not installed or not on PATH. Install it with: pip install -r requirements-dev.txt (then check: moto_server --help)')
          : error,
      ),
    );
    child.once('exit', (code) => resolve(new Error(`moto_server exited with code ${code}: ${stderr}`)));
  });

  const deadline = Date.now() + 30_000;
  for (;;) {
    const ready = fetch(`${endpoint}/moto-api/`).then(
      (r) => r.ok,
      () => false,
    );
    const outcome = await Promise.race([ready, exited]);
    if (outcome instanceof Error) throw outcome;
    if (outcome) break;
    if (Date.now() > deadline) {
      child.kill();
      throw new Error(`moto_server did not answer on ${endpoint} within 30 s: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }

  return {
    endpoint,
    clientConfig: clientConfig(endpoint),
    credentials: DUMMY,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill();
      }),
  };
}

/**
 * Makes an SDK client act in another moto account (moto reads the x-moto-account-id header): a
 * file that changes account-wide state (an OIDC provider, a GuardDuty detector) keeps it out of the
 * account every other file shares.
 */
export function inAccount<T extends { middlewareStack: { add: (...args: never[]) => unknown } }>(client: T, account: string): T {
  (client.middlewareStack as unknown as { add: (mw: unknown, options: unknown) => void }).add(
    (next: (args: { request: { headers: Record<string, string> } }) => unknown) => (args: { request: { headers: Record<string, string> } }) => {
      args.request.headers['x-moto-account-id'] = account;
      return next(args);
    },
    { step: 'build', name: 'motoAccount' },
  );
  return client;
}
