import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { vector } from '@electric-sql/pglite-pgvector';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';

import { PROJECT_ROOT } from '../../lib/shared/paths';

/**
 * A freshly initialised data directory, kept between runs under the PGlite version that made it:
 * initdb is most of a start (about 1.3 s against 0.3 s from the copy), and every start from the
 * copy is the same empty cluster initdb would have made.
 */
async function readOrMakeDataDir(): Promise<Blob> {
  const { version } = JSON.parse(readFileSync(join(PROJECT_ROOT, 'node_modules', '@electric-sql', 'pglite', 'package.json'), 'utf8')) as { version: string };
  const path = join(PROJECT_ROOT, 'node_modules', '.cache', 'pglite', `initdb-${version}.tar`);
  if (!existsSync(path)) {
    const fresh = await PGlite.create();
    const dump = Buffer.from(await (await fresh.dumpDataDir('none')).arrayBuffer());
    await fresh.close();
    mkdirSync(join(path, '..'), { recursive: true });
    // Written beside and renamed, so a worker never reads half a copy (two may both write one).
    const partial = `${path}.${process.pid}`;
    writeFileSync(partial, dump);
    renameSync(partial, path);
  }
  return new Blob([readFileSync(path)]);
}

let initial: Promise<Blob> | undefined;

/** One copy per process: two databases a file starts together wait on the same initdb. */
function initialDataDir(): Promise<Blob> {
  initial ??= readOrMakeDataDir();
  return initial;
}

/** A real PostgreSQL (PGlite, WASM) reachable over TCP by the `pg` driver. */
export interface LocalPostgres {
  readonly host: string;
  readonly port: number;
  readonly db: PGlite;
  stop(): Promise<void>;
}

/**
 * Starts PGlite behind pglite-socket on a free loopback port, with pgvector available unless
 * `withVector` is false. All connections share one backend session; start one per test file.
 */
export async function startPostgres({ withVector = true } = {}): Promise<LocalPostgres> {
  const loadDataDir = await initialDataDir();
  const db = await PGlite.create(withVector ? { loadDataDir, extensions: { vector } } : { loadDataDir });
  const server = new PGLiteSocketServer({ db, host: '127.0.0.1', port: 0, maxConnections: 8 });
  await server.start();
  // After start(), getServerConn() reports the port the OS picked: "127.0.0.1:PORT".
  const port = Number(server.getServerConn().split(':').pop());
  return {
    host: '127.0.0.1',
    port,
    db,
    stop: async () => {
      await server.stop();
      await db.close();
    },
  };
}
