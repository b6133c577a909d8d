import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { CdkCustomResourceEvent, CdkCustomResourceResponse } from 'aws-lambda';
import type { ClientConfig } from 'pg';
import { ensureVector, type Queryable } from './ensure-vector';

/** Properties the stack passes to the custom resource. */
export interface VectorResourceProperties {
  /** ARN of the master-user secret RDS manages (JSON with username and password). */
  readonly SecretArn: string;
  /** Database endpoint address, port (CloudFormation passes it as a string) and database name. */
  readonly Host: string;
  readonly Port: string;
  readonly DatabaseName: string;
  /** Lowest acceptable pgvector version, e.g. "0.8.0". */
  readonly MinVersion: string;
}

/** A connected database session that can be closed. */
export interface Session extends Queryable {
  end(): Promise<void>;
}

export interface Dependencies {
  readonly secrets: Pick<SecretsManagerClient, 'send'>;
  /** Opens a session; the handler opens a `pg.Client`, tests point it at a local server. */
  readonly connect: (config: ClientConfig) => Promise<Session>;
  /** TLS settings for the connection. The handler verifies the server certificate. */
  readonly ssl: ClientConfig['ssl'];
}

interface MasterSecret {
  username: string;
  password: string;
}

/**
 * Handles the custom resource's lifecycle: Create and Update ensure the extension and return its
 * version; Delete does nothing (dropping the extension would drop every vector column).
 */
export async function handleVectorEvent(event: CdkCustomResourceEvent, deps: Dependencies): Promise<CdkCustomResourceResponse> {
  if (event.RequestType === 'Delete') return { PhysicalResourceId: event.PhysicalResourceId };

  const props = event.ResourceProperties as unknown as VectorResourceProperties;
  const secret = await readSecret(deps.secrets, props.SecretArn);
  const where = `${props.Host}:${props.Port}/${props.DatabaseName}`;
  let session: Session;
  try {
    session = await deps.connect({
      host: props.Host,
      port: Number(props.Port),
      user: secret.username,
      password: secret.password,
      database: props.DatabaseName,
      ssl: deps.ssl,
      connectionTimeoutMillis: 10_000,
    });
  } catch (error) {
    throw new Error(
      `Could not connect to ${where} as ${secret.username}: ${(error as Error).message}. ` +
        'Check that the database is available and that its security group admits this function on the database port.',
    );
  }
  try {
    const status = await ensureVector(session, props.MinVersion, where);
    return {
      PhysicalResourceId: `pgvector:${props.Host}/${props.DatabaseName}`,
      Data: { Version: status.version, NewestAvailable: status.newestAvailable },
    };
  } finally {
    await session.end();
  }
}

async function readSecret(secrets: Dependencies['secrets'], secretArn: string): Promise<MasterSecret> {
  let raw: string | undefined;
  try {
    raw = (await secrets.send(new GetSecretValueCommand({ SecretId: secretArn }))).SecretString;
  } catch (error) {
    throw new Error(`Could not read the database secret ${secretArn}: ${(error as Error).message}`);
  }
  const secret = JSON.parse(raw ?? '{}') as Partial<MasterSecret>;
  const missing = (['username', 'password'] as const).filter((k) => !secret[k]);
  if (missing.length > 0) {
    throw new Error(`The database secret ${secretArn} lacks ${missing.join(', ')}; it should be the master-user secret RDS manages for the instance.`);
  }
  return secret as MasterSecret;
}
