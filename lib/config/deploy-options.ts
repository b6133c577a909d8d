/** The deploy options the loader reads from context beside the stage configurations (load.ts). */

/**
 * What one deploy asks for beyond the stage configuration: the emergency and repair switches an
 * operator passes on the command line. The loader is the only place that reads them from context.
 */
export interface DeployOptions {
  /** `-c skipPreDeploySnapshot=true`: deploy without the pre-deploy snapshot (emergencies only; docs/disaster-recovery.md). */
  readonly skipPreDeploySnapshot: boolean;
  /** `-c rerunDatabaseSetup=<any new value>`: run the database setup once more (docs/runbooks.md). */
  readonly rerunDatabaseSetup?: string;
  /**
   * `-c pinnedReads='{"<stack>/<output>": "<value>"}'`: values the stacks write instead of reading
   * them from another stack, for deploys while the primary region is lost (docs/disaster-recovery.md).
   */
  readonly pinnedReads?: ReadonlyMap<string, string>;
  /**
   * `-c commit=<git SHA>`: the commit the assembly is synthesized from, which the release record
   * keeps (npm run deploy and the deploy workflow pass it; a bare `cdk deploy` records none).
   */
  readonly commit?: string;
}

export function readDeployOptions(context: Record<string, unknown>, problems: string[]): DeployOptions {
  const skip = context.skipPreDeploySnapshot;
  if (skip !== undefined && !['true', 'false', true, false].includes(skip as string | boolean)) {
    problems.push(`-c skipPreDeploySnapshot=${String(skip)} is neither true nor false. Fix: pass -c skipPreDeploySnapshot=true to skip the snapshot, or leave it out`);
  }
  const rerun = context.rerunDatabaseSetup;
  if (rerun !== undefined && String(rerun).trim() === '') {
    problems.push('-c rerunDatabaseSetup is empty. Fix: pass a new value each time, e.g. -c rerunDatabaseSetup=$(date +%s)');
  }
  const pinnedReads = readPinnedReads(context.pinnedReads, problems);
  const commit = context.commit;
  if (commit !== undefined && !/^[0-9a-f]{7,40}$/.test(String(commit))) {
    problems.push(`-c commit=${String(commit)} is not a git commit. Fix: pass the full SHA, -c commit=$(git rev-parse HEAD), or leave it out`);
  }
  return {
    skipPreDeploySnapshot: skip === true || skip === 'true',
    ...(rerun !== undefined ? { rerunDatabaseSetup: String(rerun) } : {}),
    ...(pinnedReads ? { pinnedReads } : {}),
    ...(commit !== undefined && /^[0-9a-f]{7,40}$/.test(String(commit)) ? { commit: String(commit) } : {}),
  };
}

/** `-c pinnedReads`: a JSON object of `<stack>/<output>` to a string value (the CLI passes it as text; cdk.json as an object). */
function readPinnedReads(raw: unknown, problems: string[]): ReadonlyMap<string, string> | undefined {
  if (raw === undefined) return undefined;
  let value: unknown = raw;
  if (typeof raw === 'string') {
    try {
      value = JSON.parse(raw);
    } catch {
      value = undefined;
    }
  }
  const entries = value !== null && typeof value === 'object' && !Array.isArray(value) ? Object.entries(value) : undefined;
  const bad = entries?.filter(([key, v]) => !/^[\w-]+\/[A-Za-z0-9]+$/.test(key) || typeof v !== 'string' || v === '');
  if (!entries || bad === undefined || bad.length > 0) {
    const what = bad && bad.length > 0 ? `${bad.map(([key]) => JSON.stringify(key)).join(', ')} is not "<stack>/<output>" with a text value` : 'is not a JSON object';
    problems.push(
      `-c pinnedReads ${what}. Fix: let npm run deploy -- --primary-lost pass it (it reads the values the stacks kept), or pass a JSON object such as '{"prod-Network/PublishOutputRefZone2A4024A48017E932":"Z0123456789ABCDEFGHIJ"}'`,
    );
    return undefined;
  }
  return new Map(entries as [string, string][]);
}
