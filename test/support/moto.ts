import { type ChildProcess, spawn } from 'node:child_process';
import { delimiter, join } from 'node:path';
import { inject } from 'vitest';
import { freePort } from './ports';

/** A moto server (local AWS API stand-in) on a free loopback port. */
export interface Moto {
  readonly endpoint: string;
  /** SDK v3 client settings pointing at this server with dummy credentials. */
  clientConfig(region?: string): { endpoint: string; region: string; credentials: { accessKeyId: string; secretAccessKey: string } };
  stop(): Promise<void>;
}

declare module 'vitest' {
  export interface ProvidedContext {
    /** Endpoint of the moto server test/support/global-setup.ts started for the run. */
    motoEndpoint: string;
  }
}

const clientConfig =
  (endpoint: string) =>
  (region = 'eu-west-1') => ({ endpoint, region, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });

/**
 * The run's moto server (started once by test/support/global-setup.ts and stopped after the last
 * file). Files share it, so each names what it creates uniquely; stop() is a no-op.
 */
export async function startMoto(): Promise<Moto> {
  const endpoint = inject('motoEndpoint');
  // Mutation testing (vitest.mutation.config.mts) runs the same files again and again against one
  // server, one file at a time: each file then starts from an empty moto, or its fixtures would
  // collide with the previous run's and fail before a single test ran (which Stryker counts as
  // "survived").
  if (process.env.MOTO_RESET_PER_FILE === '1') {
    const reset = await fetch(`${endpoint}/moto-api/reset`, { method: 'POST' });
    if (!reset.ok) throw new Error(`moto did not reset: ${reset.status}`);
  }
  return { endpoint, clientConfig: clientConfig(endpoint), stop: async () => {} };
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
