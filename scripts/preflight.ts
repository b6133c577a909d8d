/**
 * Before a deploy: is the stage's account ready? Checks the caller's account, the CDK bootstrap
 * in every region of the stage, the image in the registry the stage pulls from (waiting for
 * replication if asked), the stage's DNS zone and its delegation, the SES sandbox, the quotas
 * the design leans on, CloudFront's prefix list and the Session Manager preferences, and with a
 * pilot light (`dr.pilotLight`) the DR region's readiness (the release image, SES, the subnet
 * groups), and says what to do about each that is not.
 *
 *   npm run preflight -- --stage prod [-c prod.account=123456789012 -c prod.image.tag=sha256:...]
 *                        [--image TAG|DIGEST] [--wait-for-image SECONDS] [--lookup-role]
 *
 * `-c` takes the same overrides as `cdk deploy`. With --lookup-role the checks after the account
 * check run as the account's CDK lookup role (read-only), which the CI deploy role may assume.
 *
 * Exit codes: 0 ready, 1 not ready (the list says what is missing), 2 could not check, or bad arguments.
 */
import { Resolver } from 'node:dns/promises';
import { loadStages, STAGE_NAMES, type StageConfig, StageConfigError } from '../lib/config';
import { addContext, readFlags, stageArg } from './lib/args';
import { UsageError } from './lib/assembly';
import { formatPreflight, preflight } from './lib/preflight';
import { asLookupRole, defaultClients } from './lib/preflight-clients';

const USAGE = `usage: preflight --stage ${STAGE_NAMES.join('|')} [-c KEY=VALUE ...] [--image TAG|DIGEST] [--wait-for-image SECONDS] [--lookup-role]`;

export interface PreflightArgs {
  readonly stage: string;
  readonly context: Record<string, string>;
  readonly image?: string;
  readonly waitForImageSeconds: number;
  readonly lookupRole: boolean;
}

export function parseArgs(argv: readonly string[]): PreflightArgs {
  let stage: string | undefined;
  let image: string | undefined;
  let wait = 0;
  let lookupRole = false;
  const context: Record<string, string> = {};
  for (const [flag, value = ''] of readFlags(argv, { values: ['--stage', '--image', '--wait-for-image', '-c', '--context'], switches: ['--lookup-role'], usage: USAGE })) {
    if (flag === '--lookup-role') lookupRole = true;
    else if (flag === '--stage') stage = value;
    else if (flag === '--image') image = value;
    else if (flag === '--wait-for-image') {
      wait = Number(value);
      if (!Number.isInteger(wait) || wait < 0 || wait > 3600) throw new UsageError(`--wait-for-image takes whole seconds from 0 to 3600, not "${value}". ${USAGE}`);
    } else addContext(context, flag, value, USAGE);
  }
  return { stage: stageArg(stage, USAGE), context, image, waitForImageSeconds: wait, lookupRole };
}

/** The stage's config with the same overrides a deploy gets. */
export function stageConfig(args: PreflightArgs): StageConfig {
  return loadStages({ ...args.context, stages: args.stage }).selected[0];
}

export async function main(argv = process.argv.slice(2), clientsFor = defaultClients): Promise<number> {
  let args: PreflightArgs;
  let config: StageConfig;
  try {
    args = parseArgs(argv);
    config = stageConfig(args);
  } catch (error) {
    if (error instanceof UsageError || error instanceof StageConfigError) {
      console.error(`preflight: ${error.message}`);
      return 2;
    }
    throw error;
  }
  let clients = clientsFor(config);
  if (args.lookupRole) {
    try {
      clients = await asLookupRole(config, clients, clientsFor);
    } catch (error) {
      if (!(error instanceof UsageError)) throw error;
      console.error(`preflight: ${error.message}`);
      return 2;
    }
  }
  const resolver = new Resolver();
  const result = await preflight(config, clients, {
    image: args.image,
    waitForImageSeconds: args.waitForImageSeconds,
    resolveNs: (name) => resolver.resolveNs(name),
    now: () => new Date(),
    sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
  });
  console.log(formatPreflight(config, result));
  return result.exitCode;
}

if (require.main === module) {
  main().then((code) => process.exit(code));
}
