import { type Socket, connect as tcpConnect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';

/** Where the replication group answers. */
export interface CacheEndpoint {
  readonly host: string;
  readonly port: number;
  /**
   * Speak TLS, checking the server's certificate against the public roots Node ships (ElastiCache's
   * in-transit encryption uses Amazon-issued certificates). Production always sets it: the group
   * requires TLS. A local Valkey or Redis server for the tests has none.
   */
  readonly tls: boolean;
  /** Milliseconds for connecting and for the replies. @default 5000 */
  readonly timeoutMs?: number;
}

/** One RESP reply: a simple string, an error, an integer or a bulk string (nil as null). */
export type Reply = { readonly ok: string } | { readonly error: string } | { readonly integer: number } | { readonly bulk: string | null };

/** The cache could not be asked (refused, timed out, TLS failed): says nothing about the token. */
export class CacheUnreachable extends Error {}

/** A RESP array of bulk strings, the form every command is sent in. */
export function encodeCommand(args: readonly string[]): string {
  return `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`;
}

/**
 * Reads one reply from `buffer` at `offset`: the reply and where the next one starts, or undefined
 * when the buffer does not hold all of it yet. Arrays are not needed here and are refused.
 */
export function parseReply(buffer: Buffer, offset: number): { reply: Reply; next: number } | undefined {
  const end = buffer.indexOf('\r\n', offset);
  if (end === -1) return undefined;
  const type = String.fromCharCode(buffer[offset]);
  const line = buffer.toString('utf8', offset + 1, end);
  switch (type) {
    case '+':
      return { reply: { ok: line }, next: end + 2 };
    case '-':
      return { reply: { error: line }, next: end + 2 };
    case ':':
      return { reply: { integer: Number(line) }, next: end + 2 };
    case '$': {
      const length = Number(line);
      if (length < 0) return { reply: { bulk: null }, next: end + 2 };
      if (buffer.length < end + 2 + length + 2) return undefined;
      return { reply: { bulk: buffer.toString('utf8', end + 2, end + 2 + length) }, next: end + 2 + length + 2 };
    }
    default:
      throw new CacheUnreachable(`unexpected reply type ${JSON.stringify(type)} from the cache`);
  }
}

/**
 * Sends the commands on one new connection and returns their replies, in order. Pipelined: the
 * server answers each command in turn, so an AUTH that fails is followed by the NOAUTH errors of
 * the commands after it, and nothing runs unauthenticated.
 */
export async function sendCommands(endpoint: CacheEndpoint, commands: readonly (readonly string[])[]): Promise<Reply[]> {
  const timeoutMs = endpoint.timeoutMs ?? 5000;
  return new Promise<Reply[]>((resolve, reject) => {
    const replies: Reply[] = [];
    let buffer = Buffer.alloc(0);
    let settled = false;
    const finish = (error?: Error) => {
      if (settled) return;
      settled = true;
      socket.destroy();
      if (error) reject(error);
      else resolve(replies);
    };
    const where = `${endpoint.host}:${endpoint.port}${endpoint.tls ? ' (TLS)' : ''}`;
    const send = () => socket.write(commands.map(encodeCommand).join(''));
    const socket: Socket = endpoint.tls
      ? tlsConnect({ host: endpoint.host, port: endpoint.port, servername: endpoint.host }, send)
      : tcpConnect({ host: endpoint.host, port: endpoint.port }, send);
    socket.setTimeout(timeoutMs, () => finish(new CacheUnreachable(`no answer from the cache at ${where} within ${timeoutMs} ms`)));
    socket.on('error', (error) => finish(new CacheUnreachable(`cannot reach the cache at ${where}: ${error.message}`)));
    socket.on('close', () => finish(new CacheUnreachable(`the cache at ${where} closed the connection after ${replies.length} of ${commands.length} replies`)));
    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      try {
        let offset = 0;
        for (let parsed = parseReply(buffer, offset); parsed; parsed = parseReply(buffer, offset)) {
          replies.push(parsed.reply);
          offset = parsed.next;
          if (replies.length === commands.length) return finish();
        }
        buffer = buffer.subarray(offset);
      } catch (error) {
        finish(error as Error);
      }
    });
  });
}

/**
 * Whether the cache accepts `token` (AUTH, then PING on the same connection): true when it does,
 * false when it answers with an error (WRONGPASS, or AUTH not enabled); throws CacheUnreachable when
 * it cannot be asked, which says nothing about the token.
 */
export async function acceptsToken(endpoint: CacheEndpoint, token: string): Promise<boolean> {
  const [auth, ping] = await sendCommands(endpoint, [['AUTH', token], ['PING']]);
  return 'ok' in auth && auth.ok === 'OK' && 'ok' in ping && ping.ok === 'PONG';
}
