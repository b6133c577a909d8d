/**
 * Copies what is known about one task of a stage into the account's evidence bucket:
 *
 *   npm run evidence -- --stage prod --task 0123456789abcdef0123456789abcdef [--finding <id>] [--yes]
 *
 * The task as ECS describes it, its task definition, its containers' log streams, the account
 * trail's events that name its id or its role since it started (the trail's CloudWatch Logs copy:
 * 90 days), and the GuardDuty finding (--finding), each an object encrypted with the evidence key
 * under `incidents/<stage>/<task id>/<time>/`, then `manifest.json` with each object's SHA-256
 * (printed with its own). Run again for a later copy (each run has its own prefix; nothing is
 * overwritten). The task must still be known to ECS (about an hour after it stops).
 *
 * Role: the on-call role (ECS and CloudWatch Logs reads, GuardDuty GetFindings, the evidence
 * bucket and its key), or break-glass.
 *
 * Without --yes it prints what it would collect. Exit codes: 0 done (or printed), 1 it failed,
 * 2 bad arguments or refused (wrong account, task not in the stage's cluster, no evidence bucket).
 */
import { STAGE_NAMES } from '../lib/config';
import { readFlags } from './lib/args';
import { roleLine } from './lib/credentials';
import type { IncidentArgs } from './lib/incident';
import { runEvidence } from './lib/incident';
import { INCIDENT_FLAGS, incidentArgs, incidentMain } from './lib/incident-cli';

const USAGE = `usage: evidence --stage ${STAGE_NAMES.join('|')} --task ID|ARN [--finding ID] [--account ID] [-c KEY=VALUE ...] [--yes]; ${roleLine('evidence')}`;

export function parseArgs(argv: readonly string[]): IncidentArgs {
  return incidentArgs(readFlags(argv, { ...INCIDENT_FLAGS, usage: USAGE }), USAGE);
}

export const main = incidentMain('evidence', parseArgs, runEvidence);

if (require.main === module) {
  main().then((code) => process.exit(code));
}
