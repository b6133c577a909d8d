import { createHash } from 'node:crypto';
import { VECTOR_STATEMENTS } from './ensure-vector';
import { roleStatements } from './roles';

/**
 * A hash of every statement the setup runs. The stack passes it as a property of the custom
 * resource, so CloudFormation sends an Update (and the setup runs again) whenever the SQL changes.
 */
export function setupFingerprint(database: string): string {
  return createHash('sha256')
    .update(JSON.stringify([VECTOR_STATEMENTS, roleStatements(database)]))
    .digest('hex')
    .slice(0, 16);
}
