/**
 * Contains one task of a stage that GuardDuty reports (a runtime finding) without losing its evidence:
 *
 *   npm run contain -- --stage prod --task 0123456789abcdef0123456789abcdef [--finding <id>] [--yes]
 *
 * In this order: revokes every session of the task's role issued before now (the inline policy
 * IAM's "Revoke active sessions" writes), so its stolen credentials stop working while the rest
 * runs; stops the task at once (a session ECS issued it after that time would not be denied;
 * Fargate cannot move a running task to another security group; ECS starts a replacement);
 * collects the evidence as `npm run evidence` does (ECS describes a stopped task for an hour, its
 * logs stay); starts a new deployment of
 * its service, whose other tasks hold sessions of the same role (new tasks get credentials issued
 * after the revocation); starts the rotation of the cache AUTH token the task held. Then prints
 * how to check the database for connections left from the task.
 *
 * Role: break-glass to act (it writes a policy on the task role, stops the task, updates its
 * service and rotates the cache token), on-call for the dry run.
 *
 * Without --yes it prints what it would do (it reads the task, changes nothing). Exit codes: 0
 * done (or printed), 1 it failed (a refused rotation included), 2 bad arguments or refused
 * (wrong account, task not in the stage's cluster, no evidence bucket).
 */
import { STAGE_NAMES } from '../lib/config';
import { readFlags } from './lib/args';
import { roleLine } from './lib/credentials';
import type { IncidentArgs } from './lib/incident';
import { runContain } from './lib/incident';
import { INCIDENT_FLAGS, incidentArgs, incidentMain } from './lib/incident-cli';

const USAGE = `usage: contain --stage ${STAGE_NAMES.join('|')} --task ID|ARN [--finding ID] [--account ID] [-c KEY=VALUE ...] [--yes]; ${roleLine('contain')}`;

export function parseArgs(argv: readonly string[]): IncidentArgs {
  return incidentArgs(readFlags(argv, { ...INCIDENT_FLAGS, usage: USAGE }), USAGE);
}

export const main = incidentMain('contain', parseArgs, runContain);

if (require.main === module) {
  main().then((code) => process.exit(code));
}
