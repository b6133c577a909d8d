/**
 * The dump job's entrypoint (`node /job/index.js <command>` in lambda/logical-backup/Dockerfile):
 * builds the real clients and runs one command of jobs.ts. Exit codes: 0 done, 2 refused (the
 * message says why and the fix), 1 any other failure.
 */
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { S3Client } from '@aws-sdk/client-s3';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { Signer } from '@aws-sdk/rds-signer';
import { Client } from 'pg';
import { rdsTls } from '../shared/rds-tls';
import { type JobDeps, Refusal, runCommand } from './jobs';
import { postgresBinDir } from './processes';

/** The Amazon RDS CA bundle the image carries (Dockerfile): the only CAs the job trusts for the stage database. */
export const IMAGE_RDS_CA_BUNDLE = '/job/rds-ca.pem';

const retry = { maxAttempts: 8, retryMode: 'adaptive' as const };

/** The real clients and programs; TLS settings are read only by the commands that connect to the stage database. */
export function realDeps(env: Record<string, string | undefined>): JobDeps {
  return {
    // The refresh reads the source stage's bucket, which may be in another region: S3 answers a
    // request sent to the wrong region with a redirect the client then follows.
    s3: new S3Client({ ...retry, followRegionRedirects: true }),
    cloudwatch: new CloudWatchClient(retry),
    secrets: new SecretsManagerClient(retry),
    now: () => new Date(),
    log: (entry) => console.log(JSON.stringify(entry)),
    // The task's ephemeral storage (Fargate mounts it at the root of the container's file system).
    workDir: env.TMPDIR ?? '/tmp',
    binDir: postgresBinDir(),
    iamToken: ({ host, port, user }) => new Signer({ hostname: host, port, username: user }).getAuthToken(),
    get tls() {
      // Verified TLS against the RDS CAs, for pg and for libpq (pg_dump, pg_restore) alike.
      return { ssl: rdsTls(IMAGE_RDS_CA_BUNDLE), libpqEnv: { PGSSLMODE: 'verify-full', PGSSLROOTCERT: IMAGE_RDS_CA_BUNDLE } };
    },
    connect: async (config) => {
      const client = new Client(config);
      await client.connect();
      return client;
    },
  };
}

/** Runs the command and returns the process's exit code; never throws. */
export async function main(argv: readonly string[], env: Record<string, string | undefined>): Promise<number> {
  const command = argv[0];
  try {
    const result = await runCommand(command, env, realDeps(env));
    console.log(JSON.stringify({ message: `${command} succeeded`, result }));
    return 0;
  } catch (error) {
    const refused = error instanceof Refusal;
    console.error(JSON.stringify({ message: `${command ?? 'no command'} ${refused ? 'refused' : 'failed'}`, error: (error as Error).message }));
    // The message on its own too: the task's log shows it as written, one line per column.
    console.error((error as Error).message);
    return refused ? error.exitCode : 1;
  }
}

if (require.main === module) {
  main(process.argv.slice(2), process.env).then((code) => {
    process.exitCode = code;
  });
}
