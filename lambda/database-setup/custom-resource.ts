import { DescribeDBInstancesCommand, type RDSClient } from '@aws-sdk/client-rds';
import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { CdkCustomResourceEvent, CdkCustomResourceResponse } from 'aws-lambda';
import type { ClientConfig } from 'pg';
import { ensureVector, type Queryable } from './ensure-vector';
import { ensureRoles } from './roles';

/** Properties the stack passes to the custom resource (CloudFormation turns every value into a string). */
export interface SetupResourceProperties {
  /** The instance whose RDS-managed master secret the setup logs in with (looked up on every run). */
  readonly DbInstanceIdentifier: string;
  /** Database endpoint address, port and database name. */
  readonly Host: string;
  readonly Port: string;
  readonly DatabaseName: string;
  /** Lowest acceptable pgvector version, e.g. "0.8.0". */
  readonly MinVersion: string;
  /** Engine version and a hash of the setup SQL: carried only so that a change of either re-runs the setup. */
  readonly EngineVersion?: string;
  readonly SetupHash?: string;
}

/** A connected database session that can be closed. */
export interface Session extends Queryable {
  end(): Promise<void>;
}

export interface Dependencies {
  readonly rds: Pick<RDSClient, 'send'>;
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
 * Handles the custom resource's lifecycle. Create and Update log in as the master user, ensure
 * the pgvector extension (installed, updated, at least the minimum version), then the app and
 * migration roles, and return the extension's version. Delete does nothing: dropping the
 * extension would drop every vector column, and dropping the roles would lock the app out.
 */
export async function handleSetupEvent(event: CdkCustomResourceEvent, deps: Dependencies): Promise<CdkCustomResourceResponse> {
  if (event.RequestType === 'Delete') return { PhysicalResourceId: event.PhysicalResourceId };

  const props = event.ResourceProperties as unknown as SetupResourceProperties;
  const secret = await masterSecret(deps, props.DbInstanceIdentifier);
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
    const vector = await ensureVector(session, props.MinVersion, where);
    const roles = await ensureRoles(session, props.DatabaseName, where);
    console.log(JSON.stringify({ message: 'database set up', where, vector, roles, engineVersion: props.EngineVersion }));
    return {
      PhysicalResourceId: `database-setup:${props.DbInstanceIdentifier}/${props.DatabaseName}`,
      Data: { Version: vector.version, NewestAvailable: vector.newestAvailable, Roles: roles.map((r) => r.role).join(',') },
    };
  } finally {
    await session.end();
  }
}

/**
 * The instance's current master-user secret. Looked up on every run rather than passed in: a
 * restored instance gets a new RDS-managed secret, and the stack's copy of the old ARN would not change.
 */
async function masterSecret(deps: Dependencies, instance: string): Promise<MasterSecret> {
  let secretArn: string | undefined;
  try {
    const db = (await deps.rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: instance }))).DBInstances?.[0];
    secretArn = db?.MasterUserSecret?.SecretArn;
  } catch (error) {
    throw new Error(`Could not describe the database instance ${instance}: ${(error as Error).message}`);
  }
  if (!secretArn) {
    throw new Error(
      `The database instance ${instance} has no RDS-managed master secret. Fix: aws rds modify-db-instance --db-instance-identifier ${instance} --manage-master-user-password --master-user-secret-kms-key-id <DatabaseKey ARN> --apply-immediately (docs/disaster-recovery.md), then deploy again.`,
    );
  }
  let raw: string | undefined;
  try {
    raw = (await deps.secrets.send(new GetSecretValueCommand({ SecretId: secretArn }))).SecretString;
  } catch (error) {
    throw new Error(`Could not read the master secret ${secretArn} of ${instance}: ${(error as Error).message}`);
  }
  const secret = JSON.parse(raw ?? '{}') as Partial<MasterSecret>;
  const missing = (['username', 'password'] as const).filter((k) => !secret[k]);
  if (missing.length > 0) {
    throw new Error(`The master secret ${secretArn} of ${instance} lacks ${missing.join(', ')}; it should be the secret RDS manages for the instance.`);
  }
  return secret as MasterSecret;
}
