import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { CdkCustomResourceEvent } from 'aws-lambda';
import { Client } from 'pg';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { type Dependencies, handleVectorEvent } from '../../lambda/pgvector/custom-resource';
import { compareVersions, ensureVector } from '../../lambda/pgvector/ensure-vector';
import { type LocalPostgres, startPostgres } from '../support/pglite';
import { type Moto, startMoto } from '../support/moto';

let pgvector: LocalPostgres;
let plain: LocalPostgres;
let moto: Moto;
let secrets: SecretsManagerClient;

beforeAll(async () => {
  [pgvector, plain, moto] = await Promise.all([startPostgres(), startPostgres({ withVector: false }), startMoto()]);
  secrets = new SecretsManagerClient(moto.clientConfig());
});
afterAll(async () => {
  secrets?.destroy();
  await Promise.all([pgvector?.stop(), plain?.stop(), moto?.stop()]);
});

/** Stores a master-user secret in moto, in the format RDS writes for a managed master password. */
async function masterSecret(name: string): Promise<string> {
  const out = await secrets.send(new CreateSecretCommand({ Name: name, SecretString: JSON.stringify({ username: 'postgres', password: 'unused-by-pglite' }) }));
  return out.ARN!;
}

/** Resource properties as the stack passes them (CloudFormation turns numbers into strings). */
function props(secretArn: string, server: { host: string; port: number }, minVersion = '0.8.0'): Record<string, string> {
  return { SecretArn: secretArn, Host: server.host, Port: String(server.port), DatabaseName: 'postgres', MinVersion: minVersion };
}

function deps(): Dependencies {
  return {
    secrets,
    ssl: false,
    connect: async (config) => {
      const client = new Client(config);
      await client.connect();
      return client;
    },
  };
}

function event(type: 'Create' | 'Update' | 'Delete', props: Record<string, string>): CdkCustomResourceEvent {
  const base = {
    ServiceToken: 'arn:aws:lambda:eu-west-1:111111111111:function:provider',
    ResponseURL: 'https://example.com/response',
    StackId: 'arn:aws:cloudformation:eu-west-1:111111111111:stack/dev-Data/1',
    RequestId: 'req-1',
    LogicalResourceId: 'Pgvector',
    ResourceType: 'Custom::Pgvector',
    ResourceProperties: { ServiceToken: 'x', ...props },
  };
  if (type === 'Create') return { ...base, RequestType: 'Create' };
  if (type === 'Update') return { ...base, RequestType: 'Update', PhysicalResourceId: 'pgvector:x', OldResourceProperties: base.ResourceProperties };
  return { ...base, RequestType: 'Delete', PhysicalResourceId: 'pgvector:x' };
}

describe('compareVersions', () => {
  test.each([
    ['0.8.0', '0.8.0', 0],
    ['0.8.1', '0.8.0', 1],
    ['0.10.0', '0.9.9', 1],
    ['0.7.4', '0.8', -1],
    ['1', '0.99.99', 1],
  ])('%s vs %s', (a, b, expected) => {
    expect(compareVersions(a, b)).toBe(expected);
  });
});

describe('ensureVector against PostgreSQL with pgvector', () => {
  let client: Client;
  beforeAll(async () => {
    client = new Client({ host: pgvector.host, port: pgvector.port, user: 'postgres', database: 'postgres' });
    await client.connect();
  });
  afterAll(() => client?.end());

  test('creates the extension and reports its version', async () => {
    const status = await ensureVector(client, '0.8.0', 'local');
    expect(status.version).toMatch(/^0\.8\.\d+$/);
    const row = await client.query("SELECT extversion FROM pg_extension WHERE extname = 'vector'");
    expect(row.rows[0].extversion).toBe(status.version);
    // The extension works: a similarity query answers.
    const distance = await client.query("SELECT '[1,2,3]'::vector <-> '[1,2,4]'::vector AS d");
    expect(distance.rows[0].d).toBe(1);
  });

  test('is idempotent: a second run changes nothing', async () => {
    const first = await ensureVector(client, '0.8.0', 'local');
    const second = await ensureVector(client, '0.8.0', 'local');
    expect(second).toEqual(first);
    const count = await client.query("SELECT count(*)::int AS n FROM pg_extension WHERE extname = 'vector'");
    expect(count.rows[0].n).toBe(1);
  });

  test('fails clearly when the minimum is above what the engine offers', async () => {
    await expect(ensureVector(client, '9.0.0', 'db.example:5432/app')).rejects.toThrow(
      /pgvector 0\.8\.\d+ is installed on db\.example:5432\/app, but at least 9\.0\.0 is required \(the engine offers up to 0\.8\.\d+\)\. Fix: upgrade database\.engineVersion/,
    );
  });
});

describe('ensureVector against PostgreSQL without pgvector', () => {
  test('fails saying the engine offers no vector extension', async () => {
    const client = new Client({ host: plain.host, port: plain.port, user: 'postgres', database: 'postgres' });
    await client.connect();
    try {
      await expect(ensureVector(client, '0.8.0', 'plain:5432/postgres')).rejects.toThrow(
        /pgvector is not available on plain:5432\/postgres: the engine offers no "vector" extension\. Fix: set database\.engineVersion/,
      );
    } finally {
      await client.end();
    }
  });
});

describe('custom resource handler (secret from moto, SQL on PGlite)', () => {
  test('Create reads the master secret, ensures the extension and returns the version', async () => {
    const arn = await masterSecret('dev/db/master-create');
    const response = await handleVectorEvent(event('Create', props(arn, pgvector)), deps());
    expect(response.PhysicalResourceId).toBe('pgvector:127.0.0.1/postgres');
    expect(response.Data?.Version).toMatch(/^0\.8\.\d+$/);
  });

  test('Update is idempotent and keeps the physical id', async () => {
    const arn = await masterSecret('dev/db/master-update');
    const first = await handleVectorEvent(event('Update', props(arn, pgvector)), deps());
    const second = await handleVectorEvent(event('Update', props(arn, pgvector)), deps());
    expect(second).toEqual(first);
  });

  test('Delete does nothing and touches no database', async () => {
    const gone = 'arn:aws:secretsmanager:eu-west-1:111111111111:secret:gone';
    const response = await handleVectorEvent(event('Delete', props(gone, { host: '127.0.0.1', port: 1 })), deps());
    expect(response).toEqual({ PhysicalResourceId: 'pgvector:x' });
  });

  test('a refused connection fails with the address and what to check', async () => {
    const arn = await masterSecret('dev/db/master-refused');
    await expect(handleVectorEvent(event('Create', props(arn, { host: '127.0.0.1', port: 1 })), deps())).rejects.toThrow(
      /Could not connect to 127\.0\.0\.1:1\/postgres as postgres: .*ECONNREFUSED.*security group admits this function/,
    );
  });

  test('a missing secret fails naming the secret', async () => {
    const arn = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:does-not-exist-AbCdEf';
    await expect(handleVectorEvent(event('Create', props(arn, pgvector)), deps())).rejects.toThrow(
      /Could not read the database secret arn:aws:secretsmanager:eu-west-1:123456789012:secret:does-not-exist-AbCdEf/,
    );
  });

  test('a secret that is not the master-user secret fails saying what is missing', async () => {
    const out = await secrets.send(new CreateSecretCommand({ Name: 'dev/db/other', SecretString: JSON.stringify({ token: 'x' }) }));
    await expect(handleVectorEvent(event('Create', props(out.ARN!, pgvector)), deps())).rejects.toThrow(
      /lacks username, password; it should be the master-user secret RDS manages/,
    );
  });

  test('a minimum above the engine fails the deployment with the fix', async () => {
    const arn = await masterSecret('dev/db/master-min');
    await expect(handleVectorEvent(event('Create', props(arn, pgvector, '1.0.0')), deps())).rejects.toThrow(/at least 1\.0\.0 is required/);
  });
});
