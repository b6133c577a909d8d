import { fullDiff, ResourceImpact } from '@aws-cdk/cloudformation-diff';
import type { AssemblyStack, Template } from './assembly';

/**
 * Resource types whose replacement or deletion loses data or breaks what depends on it (a key
 * that encrypted data, a secret clients hold). Every log group counts: with a retention it keeps
 * logs for that long, without one forever.
 */
export const STATEFUL_TYPES: ReadonlySet<string> = new Set([
  'AWS::RDS::DBInstance',
  'AWS::RDS::DBCluster',
  'AWS::ElastiCache::ReplicationGroup',
  'AWS::ElastiCache::CacheCluster',
  'AWS::ElastiCache::ServerlessCache',
  'AWS::S3::Bucket',
  'AWS::KMS::Key',
  'AWS::SecretsManager::Secret',
  'AWS::Backup::BackupVault',
  'AWS::Logs::LogGroup',
  'AWS::DynamoDB::Table',
  'AWS::DynamoDB::GlobalTable',
  'AWS::EFS::FileSystem',
]);

type Resource = NonNullable<Template['Resources']>[string];

function isStateful(resource: Resource | undefined): resource is Resource {
  return resource !== undefined && STATEFUL_TYPES.has(resource.Type);
}

export type Severity = 'blocked' | 'allowed' | 'warning';

export interface Finding {
  readonly severity: Severity;
  readonly stage: string;
  /** Stack path as the CLI shows it, e.g. "prod/Data". */
  readonly stack: string;
  readonly stackName: string;
  readonly logicalId: string;
  readonly type: string;
  readonly reason: string;
}

export interface GuardResult {
  readonly findings: Finding[];
  /** 1 when a stateful resource would be replaced or destroyed and was not allowed, else 0. */
  readonly exitCode: 0 | 1;
}

function retains(resource: Resource | undefined, policy: 'DeletionPolicy' | 'UpdateReplacePolicy'): boolean {
  const value = resource?.[policy];
  return value === 'Retain' || value === 'RetainExceptOnCreate';
}

/**
 * Compares two synthesized assemblies stack by stack with the engine `cdk diff` uses, and reports
 * every stateful resource that would be replaced, destroyed or orphaned, or whose stack would go.
 * `allow` lists logical ids (or "stage/Stack/logicalId") a maintainer accepted.
 */
export function guard(base: AssemblyStack[], head: AssemblyStack[], allow: readonly string[] = []): GuardResult {
  const findings: Finding[] = [];
  const headByName = new Map(head.map((s) => [s.displayName, s]));
  const allowed = (stack: AssemblyStack, logicalId: string) => allow.includes(logicalId) || allow.includes(`${stack.displayName}/${logicalId}`);

  const report = (stack: AssemblyStack, logicalId: string, type: string, reason: string, orphanOnly: boolean) => {
    const severity: Severity = orphanOnly ? 'warning' : allowed(stack, logicalId) ? 'allowed' : 'blocked';
    findings.push({ severity, stage: stack.stage, stack: stack.displayName, stackName: stack.stackName, logicalId, type, reason });
  };

  for (const before of base) {
    const after = headByName.get(before.displayName);
    if (!after) {
      for (const [logicalId, resource] of Object.entries(before.template.Resources ?? {})) {
        if (!isStateful(resource)) continue;
        const kept = retains(resource, 'DeletionPolicy');
        report(
          before,
          logicalId,
          resource.Type,
          kept ? 'stack removed: the resource would be orphaned (DeletionPolicy Retain keeps it, outside CloudFormation)' : `stack removed: the resource would be deleted (DeletionPolicy ${resource.DeletionPolicy ?? 'Delete'})`,
          kept,
        );
      }
      continue;
    }
    const diff = fullDiff(before.template, after.template);
    diff.resources.forEachDifference((logicalId, change) => {
      const old = change.oldValue as Resource | undefined;
      if (!isStateful(old)) return;
      const impact = change.changeImpact;
      if (impact === ResourceImpact.WILL_ORPHAN) {
        report(before, logicalId, old.Type, 'removed from the template: orphaned (DeletionPolicy Retain keeps it, outside CloudFormation)', true);
      } else if (impact === ResourceImpact.WILL_DESTROY) {
        report(before, logicalId, old.Type, `removed from the template: deleted (DeletionPolicy ${old.DeletionPolicy ?? 'Delete'})`, false);
      } else if (impact === ResourceImpact.WILL_REPLACE || impact === ResourceImpact.MAY_REPLACE) {
        const causes = Object.entries(change.propertyUpdates)
          .filter(([, p]) => p.changeImpact === ResourceImpact.WILL_REPLACE || p.changeImpact === ResourceImpact.MAY_REPLACE)
          .map(([name]) => name);
        if (change.resourceTypeChanged) causes.push('Type');
        const verb = impact === ResourceImpact.WILL_REPLACE ? 'replaced' : 'possibly replaced';
        const keeps = retains(old, 'UpdateReplacePolicy') ? ' (the old one is kept, but the stack moves to a new, empty one)' : '';
        report(before, logicalId, old.Type, `${verb} because ${causes.join(', ') || 'of its changes'} changed${keeps}`, false);
      }
    });
  }
  return { findings, exitCode: findings.some((f) => f.severity === 'blocked') ? 1 : 0 };
}

export function formatFindings(result: GuardResult, format: 'text' | 'markdown'): string {
  const { findings } = result;
  const count = (severity: Severity) => findings.filter((f) => f.severity === severity).length;
  const blocked = count('blocked');
  const verdict =
    blocked > 0
      ? `BLOCKED: ${blocked} stateful resource(s) would be replaced or destroyed. Review them; a maintainer can accept named ones with --allow (label allow-stateful-replacement).`
      : count('warning') > 0
        ? 'OK with warnings: nothing is replaced or destroyed without being allowed, but resources would leave CloudFormation.'
        : count('allowed') > 0
          ? 'OK: only resources a maintainer allowed are replaced or destroyed.'
          : 'OK: no stateful resource is replaced, destroyed or orphaned.';
  if (format === 'markdown') {
    const icon = blocked > 0 ? ':no_entry:' : findings.length > 0 ? ':warning:' : ':white_check_mark:';
    const lines = [`### Stateful-resource guard`, '', `${icon} ${verdict}`];
    if (findings.length > 0) {
      lines.push('', '| result | stage | stack | logical id | type | reason |', '| --- | --- | --- | --- | --- | --- |');
      for (const f of findings) lines.push(`| ${f.severity} | ${f.stage || '-'} | ${f.stackName} | \`${f.logicalId}\` | ${f.type} | ${f.reason} |`);
    }
    return lines.join('\n');
  }
  const lines = findings.map((f) => `${f.severity.toUpperCase()} stage ${f.stage || '-'}, stack ${f.stackName}, ${f.logicalId} (${f.type}): ${f.reason}`);
  return [...lines, verdict].join('\n');
}
