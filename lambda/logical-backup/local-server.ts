/**
 * A throw-away PostgreSQL inside the task (or a test): initdb into a private folder, started on a
 * Unix socket only (no TCP port, so nothing else reaches it and two never collide), stopped and
 * deleted afterwards. The check, the anonymisation and the tests unpack dumps into it.
 *
 * PostgreSQL refuses to run as root. The job's image runs as its `postgres` user, so the server
 * runs as the current user there; where the current user is root (the tests here and in CI), the
 * server runs as the unprivileged `postgres` user Debian's package creates, and owns its folder.
 */
import { execFileSync } from 'node:child_process';
import { chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client, type ClientConfig } from 'pg';
import type { Session } from '../database-setup/custom-resource';
import { type RunAs, run } from './processes';

/** The superuser initdb creates; it logs in over the socket without a password (trust, socket only). */
export const LOCAL_SUPERUSER = 'postgres';
const PORT = 5432;

export interface LocalServer {
  /** The folder of the server's socket: `host` for pg and libpq. */
  readonly socketDir: string;
  readonly port: number;
  /** pg settings for a database of this server, as the superuser. */
  config(database: string): ClientConfig;
  /** libpq's environment for pg_dump and pg_restore against this server, as the superuser. */
  libpqEnv(): Record<string, string>;
  connect(database: string): Promise<Session>;
  /** Creates a database, from a template when given (no session may be open on the template). */
  createDatabase(name: string, template?: string): Promise<void>;
  stop(): Promise<void>;
}

/** The unprivileged user a server must run as when this process is root. */
export function unprivilegedUser(name = 'postgres'): RunAs | undefined {
  if (process.getuid?.() !== 0) return undefined;
  try {
    const uid = Number(execFileSync('id', ['-u', name], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', name], { encoding: 'utf8' }).trim());
    return { uid, gid };
  } catch {
    throw new Error(
      `PostgreSQL refuses to run as root and there is no "${name}" user to run it as. Fix: install Debian's postgresql (it creates the user), or run as another user.`,
    );
  }
}

/**
 * Initialises and starts a server under `root` (ephemeral storage): data and socket in a new
 * folder there. Settings trade durability for speed: the data lives only as long as the task.
 */
export async function startLocalServer(settings: { binDir: string; root: string }): Promise<LocalServer> {
  const runAs = unprivilegedUser();
  const home = mkdtempSync(join(settings.root, 'pg-'));
  const data = join(home, 'data');
  const socketDir = join(home, 'socket');
  mkdirSync(socketDir);
  const log = join(home, 'server.log');
  writeFileSync(log, '');
  if (runAs) for (const path of [home, socketDir, log]) chownSync(path, runAs.uid, runAs.gid);
  const bin = (name: string) => join(settings.binDir, name);
  const stopAndRemove = async () => {
    try {
      await run(bin('pg_ctl'), ['-D', data, '-m', 'immediate', '-w', 'stop'], { runAs });
    } catch {
      // Not running (it failed to start, or stopped already): only the folder is left to remove.
    }
    rmSync(home, { recursive: true, force: true });
  };
  try {
    await run(bin('initdb'), ['-D', data, '-U', LOCAL_SUPERUSER, '--auth=trust', '--encoding=UTF8', '--locale=C', '--no-sync'], { runAs });
    const conf = join(data, 'postgresql.conf');
    writeFileSync(
      conf,
      `${readFileSync(conf, 'utf8')}
listen_addresses = ''
unix_socket_directories = '${socketDir}'
port = ${PORT}
fsync = off
synchronous_commit = off
full_page_writes = off
`,
    );
    await run(bin('pg_ctl'), ['-D', data, '-l', log, '-w', '-t', '60', 'start'], { runAs });
  } catch (error) {
    const serverLog = readFileSync(log, 'utf8').trim().slice(-2000);
    await stopAndRemove();
    const reach = runAs ? ` (it runs as uid ${runAs.uid}, which must be able to enter ${settings.root} and every folder above it)` : '';
    throw new Error(`Could not start a local PostgreSQL under ${settings.root}${reach}: ${(error as Error).message}${serverLog ? `\nserver log: ${serverLog}` : ''}`);
  }
  const config = (database: string): ClientConfig => ({ host: socketDir, port: PORT, user: LOCAL_SUPERUSER, database });
  const connect = async (database: string): Promise<Session> => {
    const client = new Client(config(database));
    await client.connect();
    return client;
  };
  return {
    socketDir,
    port: PORT,
    config,
    libpqEnv: () => ({ PGHOST: socketDir, PGPORT: String(PORT), PGUSER: LOCAL_SUPERUSER }),
    connect,
    createDatabase: async (name, template) => {
      const admin = await connect('postgres');
      try {
        await admin.query(`CREATE DATABASE "${name.replace(/"/g, '""')}"${template ? ` TEMPLATE "${template.replace(/"/g, '""')}"` : ''}`);
      } finally {
        await admin.end();
      }
    },
    stop: stopAndRemove,
  };
}
