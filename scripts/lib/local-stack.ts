/**
 * `npm run local`: a Docker Compose file that runs a stage's app on a laptop against the versions
 * the stage runs (docs/commands.md). PostgreSQL is the dump job's own `database` image
 * (lambda/logical-backup/Dockerfile: the stage's exact engine version, with pgvector), Valkey the
 * stage's engine version with a password where the stage has an AUTH token, and the web and worker
 * services the stage's release image with the environment ECS gives them, but a password login to
 * the local database instead of IAM. With data, the newest anonymised copy the caller's account
 * may read is downloaded beside the file and loaded by a one-shot service before the app starts.
 */
import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdirSync } from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { stringify } from 'yaml';
import { releaseTaskSettings } from '../../lib/app/app-stack';
import { imageReference, type StageConfig } from '../../lib/config';
import { CACHE_ENGINE, CACHE_PORT } from '../../lib/data/cache';
import { DATABASE_NAME, MASTER_USERNAME } from '../../lib/data/database';
import { DATABASE_SETTINGS } from '../../lib/data/database-settings';
import { DUMP_PREFIX, dumpBucketName } from '../../lib/data/logical-backup-names';
import { PROJECT_ROOT } from '../../lib/shared/paths';
import { newestDumpKey } from './dump-task';

/** The folder beside the compose file the anonymised copy is downloaded into (and mounted from). */
export const LOCAL_DATA_DIR = '.local-data';

/** Where the anonymised copy a stage's people may read lives: the source stage's (refreshFrom), or the stage's own (anonymised). */
export function anonymisedSource(config: StageConfig): { stage: string; bucket: string; region: string } | undefined {
  const from = config.dumps.refreshFrom;
  if (from) {
    return { stage: from.sourceStage, bucket: dumpBucketName(from.sourceStage, from.sourceAccount, from.sourceRegion), region: from.sourceRegion };
  }
  if (config.dumps.anonymised) return { stage: config.name, bucket: dumpBucketName(config.name, config.account, config.region), region: config.region };
  return undefined;
}

/** A password of letters, digits, `-` and `_`: safe in a URL and a command line. */
export const localPassword = () => randomBytes(24).toString('base64url');

export interface LocalOptions {
  /** The compose file's path: the build context and the data folder are relative to its folder. */
  readonly out: string;
  readonly passwords: { readonly database: string; readonly cache: string };
  /** The downloaded copy's file name in LOCAL_DATA_DIR, where --with-data. */
  readonly dataFile?: string;
}

/** The app's environment as ECS sets it (lib/app/release-tasks.ts), pointed at the local services. */
export function localEnvironment(config: StageConfig, passwords: LocalOptions['passwords']): Record<string, string> {
  const settings = releaseTaskSettings(config);
  return {
    NODE_ENV: 'production',
    STAGE: settings.stage,
    LOG_LEVEL: settings.logLevel,
    PORT: String(settings.web.containerPort),
    DATABASE_HOST: 'database',
    DATABASE_PORT: String(DATABASE_SETTINGS.port),
    DATABASE_NAME,
    // No IAM locally: the master user with a password, which the app takes when DATABASE_AUTH is "password".
    DATABASE_USER: MASTER_USERNAME,
    DATABASE_AUTH: 'password',
    DATABASE_PASSWORD: passwords.database,
    AWS_REGION: config.region,
    // Without TLS locally; the password in the place of the stage's AUTH token.
    REDIS_URL: `redis://cache:${CACHE_PORT}`,
    REDIS_AUTH_TOKEN: passwords.cache,
    // Uploads and email stay in AWS: nothing local stands in for them.
    UPLOADS_BUCKET: '',
  };
}

/** The compose file's content. */
export function localCompose(config: StageConfig, options: LocalOptions): Record<string, unknown> {
  const settings = releaseTaskSettings(config);
  const image = `${config.account}.dkr.ecr.${config.region}.amazonaws.com/${imageReference(settings.image)}`;
  const context = relative(dirname(options.out), join(PROJECT_ROOT, 'lambda', 'logical-backup')) || '.';
  const environment = localEnvironment(config, options.passwords);
  const databaseImage = `webapp-${config.name}-local-database:${config.database.engineVersion}`;
  const dataReady = options.dataFile ? { load: { condition: 'service_completed_successfully' } } : {};
  const app = (extra: Record<string, unknown>) => ({
    image,
    platform: 'linux/arm64',
    environment,
    depends_on: { database: { condition: 'service_healthy' }, cache: { condition: 'service_started' }, ...dataReady },
    ...extra,
  });
  return {
    name: `webapp-${config.name}-local`,
    services: {
      database: {
        image: databaseImage,
        build: { context, target: 'database', args: { PG_VERSION: config.database.engineVersion } },
        environment: { POSTGRES_DB: DATABASE_NAME, POSTGRES_USER: MASTER_USERNAME, POSTGRES_PASSWORD: options.passwords.database },
        ports: [`127.0.0.1:${DATABASE_SETTINGS.port}:5432`],
        volumes: ['database:/var/lib/postgresql/data'],
        configs: [{ source: 'database-setup', target: '/docker-entrypoint-initdb.d/10-setup.sql' }],
        healthcheck: { test: ['CMD', 'pg_isready', '-U', MASTER_USERNAME, '-d', DATABASE_NAME], interval: '5s', retries: 30 },
      },
      cache: {
        image: `valkey/valkey:${CACHE_ENGINE.version}`,
        // BullMQ's setting on the stage's cache (lib/data/cache.ts), and its AUTH as a password.
        command: ['valkey-server', '--requirepass', options.passwords.cache, '--maxmemory-policy', 'noeviction'],
        ports: [`127.0.0.1:${CACHE_PORT}:${CACHE_PORT}`],
      },
      ...(options.dataFile
        ? {
            load: {
              image: databaseImage,
              depends_on: { database: { condition: 'service_healthy' } },
              restart: 'no',
              environment: { PGPASSWORD: options.passwords.database },
              volumes: [`./${LOCAL_DATA_DIR}:/dump:ro`],
              // The stage's roles do not exist here: everything belongs to the local master user.
              command: [
                'pg_restore',
                '--host=database',
                `--username=${MASTER_USERNAME}`,
                `--dbname=${DATABASE_NAME}`,
                '--no-owner',
                '--no-privileges',
                '--clean',
                '--if-exists',
                `/dump/${options.dataFile}`,
              ],
            },
          }
        : {}),
      web: app({ ports: [`127.0.0.1:${settings.web.containerPort}:${settings.web.containerPort}`] }),
      worker: app({ command: settings.worker.command }),
    },
    configs: {
      // What the database setup does on the stage (lambda/database-setup) that the app relies on: pgvector, the app schema first on the path.
      'database-setup': { content: `CREATE EXTENSION IF NOT EXISTS vector;\nCREATE SCHEMA IF NOT EXISTS app;\nALTER DATABASE ${DATABASE_NAME} SET search_path = app, public;\n` },
    },
    volumes: { database: {} },
  };
}

export const composeText = (compose: Record<string, unknown>) =>
  `# Written by npm run local (scripts/local.ts): the versions and the environment of the stage. Its passwords are local only.\n${stringify(compose, { lineWidth: 0 })}`;

/** Downloads the newest anonymised copy into LOCAL_DATA_DIR beside `out`; returns its file name and key. */
export async function downloadCopy(s3: Pick<S3Client, 'send'>, bucket: string, out: string): Promise<{ file: string; key: string } | undefined> {
  const key = await newestDumpKey(s3, bucket, DUMP_PREFIX.anonymised);
  if (!key) return undefined;
  const folder = join(dirname(out), LOCAL_DATA_DIR);
  mkdirSync(folder, { recursive: true });
  const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  await pipeline(object.Body as Readable, createWriteStream(join(folder, basename(key))));
  return { file: basename(key), key };
}
