import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TLSSocket } from 'node:tls';
import { Client } from 'pg';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { RDS_CA_BUNDLE, rdsTls } from '../../lambda/shared/rds-tls';

/**
 * The TLS options the database functions connect with, through the real `pg` driver, against a
 * server that answers PostgreSQL's SSLRequest and then the TLS handshake with certificates made
 * here by openssl: one CA playing the RDS CA bundle, one playing any other (public) CA.
 */
let dir: string;
let server: Server;
let port: number;
let certs: Record<'rdsCa' | 'otherCa' | 'rdsCert' | 'rdsKey' | 'otherCert' | 'otherKey' | 'wrongNameCert' | 'wrongNameKey', string>;
let serve: { cert: string; key: string };

function openssl(args: string[]) {
  const out = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' });
  if (out.error || out.status !== 0) throw new Error(`openssl ${args.join(' ')} failed: ${out.error?.message ?? out.stderr}. Install it with: sudo apt-get install -y openssl`);
}

function ca(name: string) {
  openssl([
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    `${name}.key`,
    '-out',
    `${name}.pem`,
    '-days',
    '2',
    '-subj',
    `/CN=${name}`,
  ]);
}

function leaf(name: string, signer: string, san: string) {
  writeFileSync(join(dir, `${name}.ext`), `subjectAltName=${san}\n`);
  openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`]);
  openssl([
    'x509',
    '-req',
    '-in',
    `${name}.csr`,
    '-CA',
    `${signer}.pem`,
    '-CAkey',
    `${signer}.key`,
    '-CAcreateserial',
    '-out',
    `${name}.pem`,
    '-days',
    '2',
    '-extfile',
    `${name}.ext`,
  ]);
}

/** A PostgreSQL server as far as TLS: it accepts SSLRequest, shakes hands, then refuses the login with a known message. */
function fakeServer(): Promise<Server> {
  const s = createServer((socket) => {
    socket.once('data', () => {
      socket.write('S');
      const secure = new TLSSocket(socket, { isServer: true, cert: serve.cert, key: serve.key });
      secure.on('error', () => secure.destroy());
      secure.once('data', () => {
        const body = Buffer.from('SFATAL\0C28000\0Mthe TLS handshake succeeded\0\0');
        const header = Buffer.alloc(5);
        header.write('E', 0);
        header.writeInt32BE(body.length + 4, 1);
        secure.end(Buffer.concat([header, body]));
      });
    });
    socket.on('error', () => socket.destroy());
  });
  return new Promise((resolve) => s.listen(0, '127.0.0.1', () => resolve(s)));
}

async function connectWith(ssl: Client['ssl'] | object, host = '127.0.0.1'): Promise<string> {
  const client = new Client({ host, port, user: 'postgres', password: 'the-master-password', database: 'postgres', ssl: ssl as never, connectionTimeoutMillis: 5000 });
  try {
    await client.connect();
    return 'connected';
  } catch (error) {
    return (error as Error).message;
  } finally {
    await client.end().catch(() => undefined);
  }
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'rds-tls-'));
  ca('rdsCa');
  ca('otherCa');
  leaf('rds', 'rdsCa', 'IP:127.0.0.1');
  leaf('other', 'otherCa', 'IP:127.0.0.1');
  leaf('wrongName', 'rdsCa', 'DNS:db.elsewhere.example');
  const file = (name: string) => readFileSync(join(dir, name), 'utf8');
  certs = {
    rdsCa: file('rdsCa.pem'),
    otherCa: file('otherCa.pem'),
    rdsCert: file('rds.pem'),
    rdsKey: file('rds.key'),
    otherCert: file('other.pem'),
    otherKey: file('other.key'),
    wrongNameCert: file('wrongName.pem'),
    wrongNameKey: file('wrongName.key'),
  };
  server = await fakeServer();
  port = (server.address() as { port: number }).port;
});

afterAll(async () => {
  await new Promise((resolve) => server?.close(resolve));
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('rdsTls: the RDS CA bundle and nothing else', () => {
  test('reads the bundle the Lambda runtime ships and verifies', () => {
    expect(RDS_CA_BUNDLE).toBe('/var/runtime/ca-cert.pem');
    const read: string[] = [];
    expect(
      rdsTls(undefined, (p) => {
        read.push(p);
        return certs.rdsCa;
      }),
    ).toEqual({ rejectUnauthorized: true, ca: certs.rdsCa });
    expect(read).toEqual([RDS_CA_BUNDLE]);
  });

  test('a missing or empty bundle refuses to connect rather than connect unverified', () => {
    expect(() => rdsTls('/nope/ca.pem')).toThrow(/^Cannot read the RDS CA bundle \/nope\/ca\.pem \(ENOENT.*refusing to connect without verifying/);
    expect(() => rdsTls('x', () => '')).toThrow("The RDS CA bundle x holds no certificate; refusing to connect without verifying the database's certificate.");
  });

  test("a server with a certificate from the bundle's CA is reached", async () => {
    serve = { cert: certs.rdsCert, key: certs.rdsKey };
    expect(await connectWith(rdsTls('b', () => certs.rdsCa))).toBe('the TLS handshake succeeded');
  });

  test('a server with a certificate from any other CA is not, though Node would trust that CA by default', async () => {
    serve = { cert: certs.otherCert, key: certs.otherKey };
    expect(await connectWith(rdsTls('b', () => certs.rdsCa))).toMatch(/self[- ]signed certificate|unable to (get local issuer|verify)/);
    // The same server passes with the other CA trusted: the refusal above is the bundle's doing.
    expect(await connectWith({ rejectUnauthorized: true, ca: certs.otherCa })).toBe('the TLS handshake succeeded');
  });

  test('a certificate of the right CA for another name is refused', async () => {
    serve = { cert: certs.wrongNameCert, key: certs.wrongNameKey };
    expect(await connectWith(rdsTls('b', () => certs.rdsCa))).toMatch(/does not match certificate's altnames|IP: 127\.0\.0\.1 is not in the cert's list/);
  });
});
