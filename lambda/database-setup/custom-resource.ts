import { DescribeDBInstancesCommand, type RDSClient } from '@aws-sdk/client-rds';
import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { CdkCustomResourceEvent, CdkCustomResourceResponse } from 'aws-lambda';
import type { ClientConfig } from 'pg';
import { ensureVector, type Queryable } from './ensure-vector';
import { ensureRoles } from './roles';

/**
 * Properties the stack passes to the custom resource (CloudFormation turns every value into a
 * string). The database is named here only so that a new endpoint runs the setup again: the
 * function connects to the database of its own configuration and refuses any other.
 */
export interface SetupResourceProperties {
  readonly DbInstanceIdentifier: string;
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

/**
 * The one database this function sets up, from its own configuration (the function's
 * environment, written by the stack): the master password goes nowhere else.
 */
export interface SetupTarget {
  /** The instance whose RDS-managed master secret the setup logs in with (looked up on every run). */
  readonly instance: string;
  readonly host: string;
  readonly port: number;
  readonly database: string;
}

/** Reads the target from the function's environment; a missing value is an error, never a default. */
export function targetFromEnvironment(env: Record<string, string | undefined>): SetupTarget {
  const missing = ['DATABASE_INSTANCE', 'DATABASE_HOST', 'DATABASE_PORT', 'DATABASE_NAME'].filter((k) => !env[k]);
  if (missing.length > 0) throw new Error(`The function's configuration lacks ${missing.join(', ')}; deploy the stack again.`);
  const port = Number(env.DATABASE_PORT);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`DATABASE_PORT is not a port: "${env.DATABASE_PORT}"`);
  return { instance: env.DATABASE_INSTANCE!, host: env.DATABASE_HOST!, port, database: env.DATABASE_NAME! };
}

export interface Dependencies {
  readonly target: SetupTarget;
  readonly rds: Pick<RDSClient, 'send'>;
  readonly secrets: Pick<SecretsManagerClient, 'send'>;
  /** Opens a session; the handler opens a `pg.Client`, tests point it at a local server. */
  readonly connect: (config: ClientConfig) => Promise<Session>;
  /** TLS settings for the connection: the handler trusts the RDS CA bundle only (lambda/shared/rds-tls.ts). */
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
  const { target } = deps;
  const where = `${target.host}:${target.port}/${target.database}`;
  const asked = { DbInstanceIdentifier: target.instance, Host: target.host, Port: String(target.port), DatabaseName: target.database };
  const foreign = (Object.keys(asked) as (keyof typeof asked)[]).filter((k) => String(props[k]) !== asked[k]);
  if (foreign.length > 0) {
    throw new Error(
      `Refusing to set up ${foreign.map((k) => `${k} "${props[k]}"`).join(', ')}: this function sets up only ${where} (instance ${target.instance}), from its own configuration, ` +
        'and sends the master password nowhere else. Deploy the stack again if the database really changed.',
    );
  }
  const secret = await masterSecret(deps, target.instance);
  let session: Session;
  try {
    session = await deps.connect({
      host: target.host,
      port: target.port,
      user: secret.username,
      password: secret.password,
      database: target.database,
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
    const roles = await ensureRoles(session, target.database, where);
    console.log(JSON.stringify({ message: 'database set up', where, vector, roles, engineVersion: props.EngineVersion }));
    return {
      PhysicalResourceId: `database-setup:${target.instance}/${target.database}`,
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
