/**
 * Writes a Docker Compose file that runs a stage's app locally with the stage's versions
 * (docs/commands.md):
 *
 *   npm run local -- --stage STAGE [--out FILE] [--with-data] [--account ID] [-c KEY=VALUE ...]
 *
 * PostgreSQL of the stage's engine version with pgvector (the dump job's `database` image),
 * Valkey of the stage's engine version with a generated password in the place of the AUTH token,
 * and the web and worker services of the stage's release image with the environment ECS gives
 * them (a password login to the local database instead of IAM). --with-data downloads the newest
 * anonymised copy the stage's account may read (staging: prod's) beside the file, and adds a
 * one-shot service that loads it before the app starts; it needs credentials of that account.
 *
 * Exit codes: 0 written, 1 the copy could not be downloaded, 2 bad arguments, a stage without an
 * anonymised copy, or no credentials for the stage's account (nothing written).
 */
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { STAGE_NAMES, type StageConfig } from '../lib/config';
import { addContext, readFlags, stageArg } from './lib/args';
import { accountProblem, roleLine } from './lib/credentials';
import { type RegionClientsFor, regionClients } from './lib/dr-survey';
import { anonymisedSource, composeText, downloadCopy, LOCAL_DATA_DIR, localCompose, localPassword } from './lib/local-stack';
import { operatorConfig, refusal } from './lib/release';

const USAGE = `usage: local --stage ${STAGE_NAMES.join('|')} [--out FILE] [--with-data] [--account ID] [-c KEY=VALUE ...]; ${roleLine('local')}`;

export interface LocalArgs {
  readonly stage: ReturnType<typeof stageArg>;
  readonly out: string;
  readonly withData: boolean;
  readonly account?: string;
  readonly context: Record<string, string>;
}

export function parseArgs(argv: readonly string[]): LocalArgs {
  let stage: string | undefined;
  let out: string | undefined;
  let account: string | undefined;
  let withData = false;
  const context: Record<string, string> = {};
  for (const [flag, value = ''] of readFlags(argv, { values: ['--stage', '--out', '--account', '-c', '--context'], switches: ['--with-data'], usage: USAGE })) {
    if (flag === '--with-data') withData = true;
    else if (flag === '--stage') stage = value;
    else if (flag === '--out') out = value;
    else if (flag === '--account') account = value;
    else addContext(context, flag, value, USAGE);
  }
  const name = stageArg(stage, USAGE);
  return { stage: name, out: out ?? `compose.${name}.yaml`, withData, account, context };
}

export async function main(argv = process.argv.slice(2), env = process.env, clientsFor: RegionClientsFor = regionClients()): Promise<number> {
  let args: LocalArgs;
  let config: StageConfig;
  try {
    args = parseArgs(argv);
    config = operatorConfig(args.stage, args, env);
  } catch (error) {
    return refusal('local', error);
  }
  const out = resolve(args.out);
  let dataFile: string | undefined;
  if (args.withData) {
    const source = anonymisedSource(config);
    if (!source) {
      console.error(`local: ${config.name} has no anonymised copy to load (neither dumps.refreshFrom nor dumps.anonymised). Run without --with-data. Nothing was written.`);
      return 2;
    }
    const problem = await accountProblem(clientsFor(config.region).sts, config.account, config.name, { command: 'local', acting: true, config });
    if (problem) {
      console.error(`local: ${problem} Nothing was written.`);
      return 2;
    }
    try {
      const copy = await downloadCopy(clientsFor(source.region).s3, source.bucket, out);
      if (!copy) {
        console.error(`local: s3://${source.bucket} holds no anonymised copy yet (${source.stage}'s dumps.anonymised.schedule makes them). Nothing was written.`);
        return 1;
      }
      dataFile = copy.file;
      console.log(`downloaded s3://${source.bucket}/${copy.key} into ${LOCAL_DATA_DIR}/ (anonymised: keep it off shared disks all the same)`);
    } catch (error) {
      console.error(`local: the copy in s3://${source.bucket} could not be downloaded (${(error as Error).name}: ${(error as Error).message}). Nothing was written.`);
      return 1;
    }
  }
  const compose = localCompose(config, { out, passwords: { database: localPassword(), cache: localPassword() }, dataFile });
  // It holds the local passwords: readable by its owner only.
  writeFileSync(out, composeText(compose), { mode: 0o600 });
  console.log(`wrote ${out}: PostgreSQL ${config.database.engineVersion} with pgvector, Valkey, ${config.name}'s web and worker${dataFile ? ', and the copy loaded first' : ''}.`);
  console.log(
    `Next: sign in to ${config.name}'s registry (aws ecr get-login-password --region ${config.region} | docker login --username AWS --password-stdin ${config.account}.dkr.ecr.${config.region}.amazonaws.com),`,
  );
  console.log(`then: docker compose -f ${args.out} up`);
  return 0;
}

if (require.main === module) {
  main().then((code) => process.exit(code));
}
