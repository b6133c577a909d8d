import { PGlite } from '@electric-sql/pglite';
import { vector } from '@electric-sql/pglite-pgvector';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';

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
  const db = await PGlite.create(withVector ? { extensions: { vector } } : {});
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
