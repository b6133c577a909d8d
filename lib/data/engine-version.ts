/**
 * How a PostgreSQL engine version may move between what runs and what a deploy asks for. RDS
 * upgrades in place but never back: a lower minor or major is refused (restore a snapshot into a
 * new instance instead), and a new major needs `AllowMajorVersionUpgrade` and a parameter group of
 * the new family, or the instance update fails and the stack rolls back (RDS user guide, "How to
 * perform a major version upgrade for RDS for PostgreSQL").
 */

/** The runbook that walks a major version upgrade. */
export const MAJOR_UPGRADE_RUNBOOK = 'docs/runbooks.md, "Upgrade PostgreSQL to a new major version"';

const parse = (version: string) => version.split('.').map(Number) as [number, number];

export type EngineChange = { readonly kind: 'same' | 'minor' } | { readonly kind: 'major'; readonly allowed: boolean } | { readonly kind: 'downgrade' };

/** What moving from `from` to `to` ("major.minor") is, given whether the deploy allows a major upgrade. */
export function engineChange(from: string, to: string, allowMajor: boolean): EngineChange {
  const [fromMajor, fromMinor] = parse(from);
  const [toMajor, toMinor] = parse(to);
  if (toMajor < fromMajor || (toMajor === fromMajor && toMinor < fromMinor)) return { kind: 'downgrade' };
  if (toMajor > fromMajor) return { kind: 'major', allowed: allowMajor };
  return { kind: toMinor > fromMinor ? 'minor' : 'same' };
}

/** Why a deploy from `from` to `to` would fail, with the fix, or undefined when it can go ahead. */
export function engineChangeProblem(from: string, to: string, allowMajor: boolean): string | undefined {
  const change = engineChange(from, to, allowMajor);
  if (change.kind === 'downgrade') {
    return `PostgreSQL ${from} cannot go back to ${to}: RDS upgrades in place, never down. Fix: keep database.engineVersion at ${from} or later; to run an older version, restore a snapshot into a new instance (npm run restore)`;
  }
  if (change.kind === 'major' && !change.allowed) {
    return `PostgreSQL ${from} to ${to} is a major version upgrade, which the instance update refuses without database.allowMajorVersionUpgrade (and the stack would roll back). Fix: follow ${MAJOR_UPGRADE_RUNBOOK}`;
  }
  return undefined;
}
