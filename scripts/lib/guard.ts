import { fullDiff, ResourceImpact } from '@aws-cdk/cloudformation-diff';
import { engineChangeProblem } from '../../lib/data/engine-version';
import { pilotLightNames } from '../../lib/dr/pilot-light-names';
import { referencedIds } from '../../lib/shared/cross-stack-reads';
import { type AssemblyStack, type Template, UsageError } from './assembly';

/**
 * The stateful types that hold a user's data, or that such data needs to stay readable or
 * reachable: the key that encrypts it, the secret that opens it, the zone that names it. One that
 * leaves CloudFormation under DeletionPolicy Retain (removed from its template, its stack removed,
 * or its logical id changed, which is a removal and an addition) blocks like a replacement: the
 * data stays in the account, orphaned, but the stage loses it (what used it gets a new, empty one,
 * or none), and adding it back creates an empty one.
 */
export const DATA_TYPES: ReadonlySet<string> = new Set([
  'AWS::RDS::DBInstance',
  'AWS::RDS::DBCluster',
  'AWS::ElastiCache::ReplicationGroup',
  'AWS::ElastiCache::CacheCluster',
  'AWS::ElastiCache::ServerlessCache',
  'AWS::S3::Bucket',
  'AWS::KMS::Key',
  'AWS::SecretsManager::Secret',
  'AWS::Backup::BackupVault',
  'AWS::DynamoDB::Table',
  'AWS::DynamoDB::GlobalTable',
  'AWS::EFS::FileSystem',
  // A new zone gets new name servers: the delegation in the parent zone breaks until redone.
  'AWS::Route53::HostedZone',
  // A new repository starts empty: every image a stage runs would be gone.
  'AWS::ECR::Repository',
]);

/**
 * Resource types whose replacement or deletion loses data or breaks what depends on it: the data
 * types, log groups and the network under the data. Every log group counts: with a retention it
 * keeps logs for that long, without one forever. One of these that is not a data type only warns
 * when it leaves CloudFormation under Retain: an orphaned log group keeps its records for its
 * retention and nothing of the stage reads them, and a new one only starts collecting again (a
 * function or feature that goes takes its log group along, so blocking would make --allow
 * routine); an orphaned VPC or subnet group holds nothing.
 */
export const STATEFUL_TYPES: ReadonlySet<string> = new Set([
  ...DATA_TYPES,
  'AWS::Logs::LogGroup',
  // What the database and the cache sit in: a new VPC, subnet or subnet group moves them, which
  // replaces them (a new, empty database; a new cache).
  'AWS::EC2::VPC',
  'AWS::EC2::Subnet',
  'AWS::RDS::DBSubnetGroup',
  'AWS::ElastiCache::SubnetGroup',
]);

/** Types whose security groups are protected too: replacing one changes the group of the database or cache. */
const SITS_IN_GROUPS: ReadonlySet<string> = new Set(['AWS::RDS::DBInstance', 'AWS::RDS::DBCluster', 'AWS::ElastiCache::ReplicationGroup', 'AWS::ElastiCache::CacheCluster']);

/** The security groups of a template that a database or cache is placed in. */
function protectedGroups(template: Template): Set<string> {
  const resources = template.Resources ?? {};
  const ids = new Set<string>();
  for (const resource of Object.values(resources)) {
    if (!SITS_IN_GROUPS.has(resource.Type)) continue;
    for (const id of referencedIds(resource.Properties)) if (resources[id]?.Type === 'AWS::EC2::SecurityGroup') ids.add(id);
  }
  return ids;
}

type Resource = NonNullable<Template['Resources']>[string];

/**
 * The listener rules ECS re-weights on every release of a traffic-shifting service (the
 * production and test rules of its AdvancedConfiguration). CloudFormation knows only the
 * template's weights: updating such a rule writes them back, and replacing or removing it drops
 * what ECS set, which can send all traffic to the target group that has no tasks.
 */
function shiftedRules(template: Template): Set<string> {
  const ids = new Set<string>();
  for (const resource of Object.values(template.Resources ?? {})) {
    if (resource.Type !== 'AWS::ECS::Service') continue;
    const balancers = (resource.Properties?.LoadBalancers ?? []) as { AdvancedConfiguration?: Record<string, unknown> }[];
    for (const { AdvancedConfiguration: advanced } of Array.isArray(balancers) ? balancers : []) {
      for (const id of referencedIds([advanced?.ProductionListenerRule, advanced?.TestListenerRule])) ids.add(id);
    }
  }
  return ids;
}

function isStateful(resource: Resource | undefined, logicalId?: string, groups?: ReadonlySet<string>): resource is Resource {
  return resource !== undefined && (STATEFUL_TYPES.has(resource.Type) || (logicalId !== undefined && groups?.has(logicalId) === true));
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
  /** What the maintainer's --allow list did not do: entries that matched nothing, or were ambiguous. */
  readonly notes: string[];
  /**
   * 1 when a finding blocks and was not allowed (a stateful resource replaced or destroyed, a data
   * store or key orphaned, a re-weighted listener rule changed, a stale cross-stack read), else 0.
   */
  readonly exitCode: 0 | 1;
}

function retains(resource: Resource | undefined, policy: 'DeletionPolicy' | 'UpdateReplacePolicy'): boolean {
  const value = resource?.[policy];
  return value === 'Retain' || value === 'RetainExceptOnCreate';
}

/**
 * Compares two synthesized assemblies stack by stack with the engine `cdk diff` uses, and reports
 * every stateful resource that would be replaced, destroyed or orphaned, or whose stack would go.
 * All of it blocks, except a retained resource outside DATA_TYPES leaving CloudFormation (a
 * warning). `allow` lists logical ids (or "stage/Stack/logicalId") a maintainer accepted.
 */
export function guard(base: AssemblyStack[], head: AssemblyStack[], allow: readonly string[] = []): GuardResult {
  const findings: Finding[] = [];
  const baseByName = new Map(base.map((s) => [s.displayName, s]));
  const headByName = new Map(head.map((s) => [s.displayName, s]));
  const stagesOf = (stacks: AssemblyStack[]) => [...new Set(stacks.map((s) => s.stage).filter((s) => s !== ''))].sort();
  if (JSON.stringify(stagesOf(base)) !== JSON.stringify(stagesOf(head))) {
    // Otherwise every stack of a stage left out of one synth would look removed.
    throw new UsageError(
      `the assemblies hold different stages (base: ${stagesOf(base).join(', ') || 'none'}; head: ${stagesOf(head).join(', ') || 'none'}). Synthesize both with the same -c stages (or none).`,
    );
  }

  const report = (stack: AssemblyStack, logicalId: string, type: string, reason: string, severity: Severity = 'blocked') => {
    findings.push({ severity, stage: stack.stage, stack: stack.displayName, stackName: stack.stackName, logicalId, type, reason });
  };
  const added = addedResources(head, baseByName);
  /** A retained resource that leaves CloudFormation: `leaves` says how, as the start of the reason. */
  const orphaned = (stack: AssemblyStack, logicalId: string, resource: Resource, leaves: string) => {
    const policy = `DeletionPolicy ${resource.DeletionPolicy}`;
    if (!DATA_TYPES.has(resource.Type)) {
      report(stack, logicalId, resource.Type, `${leaves} orphaned (${policy} keeps it, outside CloudFormation)`, 'warning');
      return;
    }
    // A move to another logical id or stack shows as a removal and an addition: name the additions.
    const candidates = added.get(`${stack.stage}|${resource.Type}`);
    report(
      stack,
      logicalId,
      resource.Type,
      `${leaves} orphaned (${policy}). Its data stays in the account, outside CloudFormation, but the stage loses it: what used it gets a new, empty one or none${candidates ? ` (new in the head with this type: ${candidates.join(', ')})` : ''}. Allow it only when cdk refactor or cdk import moves it (the same resource, its data kept), or when the stage gives it up`,
    );
  };

  for (const before of base) {
    const after = headByName.get(before.displayName);
    if (!after && before.stage && before.stackName === pilotLightNames(before.stage).drAppStackName) {
      // The DR app tier lives for a failover or a drill (dr.appTier): `cdk deploy` leaves a stack
      // that leaves the assembly alone, and the failback or the drill destroys it with its cache and
      // keys by design (its retained uploads and logs stay).
      report(
        before,
        '*',
        'AWS::CloudFormation::Stack',
        'the DR app tier leaves the assembly (dr.appTier off): deploys leave the stack as it is; npm run failback or npm run failover-drill destroys it (docs/disaster-recovery.md)',
        'warning',
      );
      continue;
    }
    if (!after) {
      const groups = protectedGroups(before.template);
      for (const [logicalId, resource] of Object.entries(before.template.Resources ?? {})) {
        if (!isStateful(resource, logicalId, groups)) continue;
        if (retains(resource, 'DeletionPolicy')) orphaned(before, logicalId, resource, 'stack removed: the resource would be');
        else report(before, logicalId, resource.Type, `stack removed: the resource would be deleted (DeletionPolicy ${resource.DeletionPolicy ?? 'Delete'})`);
      }
      continue;
    }
    const diff = fullDiff(before.template, after.template);
    const groups = protectedGroups(before.template);
    const weighted = shiftedRules(before.template);
    diff.resources.forEachDifference((logicalId, change) => {
      const old = change.oldValue as Resource | undefined;
      if (!old) return;
      const impact = change.changeImpact;
      const replaced = impact === ResourceImpact.WILL_REPLACE || impact === ResourceImpact.MAY_REPLACE;
      if (weighted.has(logicalId)) {
        const what = change.newValue === undefined ? 'removed' : replaced ? 'replaced' : 'updated';
        report(
          before,
          logicalId,
          old.Type,
          `${what}: ECS sets this listener rule's target-group weights on every release, and CloudFormation would ${what === 'updated' ? 'write the template weights back' : 'drop them'}, which can send all traffic to the idle target group. Change it only while the first target group serves (docs/releases.md, "Changing the listener rules")`,
        );
      }
      const now = change.newValue as Resource | undefined;
      if (old.Type === 'AWS::RDS::DBInstance' && now) {
        const [from, to] = [old.Properties?.EngineVersion, now.Properties?.EngineVersion];
        const problem = typeof from === 'string' && typeof to === 'string' ? engineChangeProblem(from, to, now.Properties?.AllowMajorVersionUpgrade === true) : undefined;
        if (problem) report(before, logicalId, old.Type, problem);
      }
      if (isStateful(old, logicalId, groups)) {
        if (impact === ResourceImpact.WILL_ORPHAN) {
          orphaned(before, logicalId, old, 'removed from the template:');
        } else if (impact === ResourceImpact.WILL_DESTROY) {
          report(before, logicalId, old.Type, `removed from the template: deleted (DeletionPolicy ${old.DeletionPolicy ?? 'Delete'})`);
        } else if (replaced) {
          const causes = Object.entries(change.propertyUpdates)
            .filter(([, p]) => p.changeImpact === ResourceImpact.WILL_REPLACE || p.changeImpact === ResourceImpact.MAY_REPLACE)
            .map(([name]) => name);
          if (change.resourceTypeChanged) causes.push('Type');
          const verb = impact === ResourceImpact.WILL_REPLACE ? 'replaced' : 'possibly replaced';
          const keeps = retains(old, 'UpdateReplacePolicy') ? ' (the old one is kept, but the stack moves to a new, empty one)' : '';
          report(before, logicalId, old.Type, `${verb} because ${causes.join(', ') || 'of its changes'} changed${keeps}`);
        }
      }
      // Any replaced resource (stateful or not) that another stack reads gets a new id under it.
      if (!replaced) return;
      for (const reader of crossStackReaders(after, logicalId, head, baseByName)) {
        const outputs = reader.outputs.join(', ');
        findings.push({
          severity: reader.stale ? 'blocked' : 'warning',
          stage: before.stage,
          stack: before.displayName,
          stackName: before.stackName,
          logicalId,
          type: old.Type,
          reason: reader.stale
            ? `replaced, and ${reader.stack} reads it by Fn::GetStackOutput (${outputs}) with an unchanged reference: it would keep the old value`
            : `replaced; ${reader.stack} reads it by Fn::GetStackOutput (${outputs}) and reads it again on its next deploy (its producer marker changed)`,
        });
      }
    });
  }
  const notes = applyAllow(findings, allow);
  return { findings, notes, exitCode: findings.some((f) => f.severity === 'blocked') ? 1 : 0 };
}

/** The head's resources that the base does not have, as "stage/Stack/logicalId", by "stage|type". */
function addedResources(head: AssemblyStack[], baseByName: Map<string, AssemblyStack>): Map<string, string[]> {
  const added = new Map<string, string[]>();
  for (const stack of head) {
    const before = baseByName.get(stack.displayName)?.template.Resources ?? {};
    for (const [logicalId, resource] of Object.entries(stack.template.Resources ?? {})) {
      if (logicalId in before) continue;
      const key = `${stack.stage}|${resource.Type}`;
      added.set(key, [...(added.get(key) ?? []), `${stack.displayName}/${logicalId}`]);
    }
  }
  return added;
}

/**
 * Turns blocked findings a maintainer allowed into allowed ones. An entry is `stage/Stack/logicalId`
 * or a bare logical id; a bare id that names blocked resources in more than one stage allows none
 * of them (a reviewer approves one stage's change, not every stage's), and an entry that names
 * nothing is reported, since it usually means a typo or a change that moved.
 */
function applyAllow(findings: Finding[], allow: readonly string[]): string[] {
  const notes: string[] = [];
  for (const entry of allow) {
    const matches = findings.filter((f) => f.severity !== 'warning' && (f.logicalId === entry || `${f.stack}/${f.logicalId}` === entry));
    const stages = [...new Set(matches.map((f) => f.stage))];
    if (matches.length === 0) {
      notes.push(`--allow ${entry} matched nothing: no blocked resource has that logical id or stack path (a typo, or the change moved). Nothing was allowed by it.`);
    } else if (!entry.includes('/') && stages.length > 1) {
      const paths = [...new Set(matches.map((f) => `${f.stack}/${f.logicalId}`))].join(', ');
      notes.push(`--allow ${entry} is ambiguous: it names blocked resources in ${stages.join(', ')}. Allow each by its stack path (${paths}). Nothing was allowed by it.`);
    } else {
      for (const f of matches) (f as { severity: Severity }).severity = 'allowed';
    }
  }
  return notes;
}

export function formatFindings(result: GuardResult, format: 'text' | 'markdown'): string {
  const { findings } = result;
  const count = (severity: Severity) => findings.filter((f) => f.severity === severity).length;
  const blocked = count('blocked');
  const verdict =
    blocked > 0
      ? `BLOCKED: ${blocked} stateful resource(s) would be replaced, destroyed or orphaned. Review them; a maintainer can accept named ones with --allow (label allow-stateful-replacement).`
      : count('warning') > 0
        ? 'OK with warnings: nothing stateful is replaced or destroyed, and no data store or key orphaned, without being allowed; read the warnings (retained log groups or network leaving CloudFormation, replaced resources other stacks read).'
        : count('allowed') > 0
          ? 'OK: only resources a maintainer allowed are replaced, destroyed or orphaned.'
          : 'OK: no stateful resource is replaced, destroyed or orphaned.';
  if (format === 'markdown') {
    const icon = blocked > 0 ? ':no_entry:' : findings.length > 0 ? ':warning:' : ':white_check_mark:';
    const lines = [`### Stateful-resource guard`, '', `${icon} ${verdict}`, ...result.notes.map((n) => `\n:warning: ${n}`)];
    if (findings.length > 0) {
      lines.push('', '| result | stage | stack | logical id | type | reason |', '| --- | --- | --- | --- | --- | --- |');
      for (const f of findings) lines.push(`| ${f.severity} | ${f.stage || '-'} | ${f.stackName} | \`${f.logicalId}\` | ${f.type} | ${f.reason} |`);
    }
    return lines.join('\n');
  }
  const lines = findings.map((f) => `${f.severity.toUpperCase()} stage ${f.stage || '-'}, stack ${f.stackName}, ${f.logicalId} (${f.type}): ${f.reason}`);
  return [...lines, ...result.notes.map((n) => `NOTE ${n}`), verdict].join('\n');
}

/** A stack that reads a replaced resource through outputs of its stack. */
interface CrossStackReader {
  readonly stack: string;
  readonly outputs: string[];
  /** The reads are textually the same as in the base: CloudFormation would not resolve them again. */
  readonly stale: boolean;
}

const regionOf = (stack: AssemblyStack) => stack.environment.split('/').pop() ?? '';

/**
 * The head stacks that read `logicalId` of `producer` through Fn::GetStackOutput, and whether each
 * read's text changed since the base (lib/shared/cross-stack-reads.ts marks each read with its
 * producer's fingerprint, so a replacement changes it).
 */
function crossStackReaders(producer: AssemblyStack, logicalId: string, head: AssemblyStack[], baseByName: Map<string, AssemblyStack>): CrossStackReader[] {
  const outputs = (producer.template.Outputs ?? {}) as Record<string, { Value?: unknown }>;
  const producing = new Set(
    Object.entries(outputs)
      .filter(([, o]) => referencedIds(o.Value).has(logicalId))
      .map(([name]) => name),
  );
  if (producing.size === 0) return [];
  const readers: CrossStackReader[] = [];
  for (const consumer of head) {
    if (consumer === producer) continue;
    const mine = readsIn(consumer.template).filter(
      (r) => r.stackName === producer.stackName && (r.region ?? regionOf(consumer)) === regionOf(producer) && producing.has(r.outputName),
    );
    if (mine.length === 0) continue;
    const before = baseByName.get(consumer.displayName);
    const beforeTexts = new Set(before ? readsIn(before.template).map((r) => r.text) : []);
    readers.push({
      stack: consumer.stackName,
      outputs: [...new Set(mine.map((r) => r.outputName))].sort(),
      stale: before !== undefined && mine.every((r) => beforeTexts.has(r.text)),
    });
  }
  return readers;
}

interface StackOutputRead {
  readonly stackName: string;
  readonly outputName: string;
  readonly region?: string;
  /** The read as written, with the marker next to it: what CloudFormation compares. */
  readonly text: string;
}

function readsIn(template: Template): StackOutputRead[] {
  const found: StackOutputRead[] = [];
  const walk = (node: unknown, holder: unknown) => {
    if (Array.isArray(node)) {
      for (const item of node) walk(item, node);
    } else if (node !== null && typeof node === 'object') {
      const read = (node as Record<string, unknown>)['Fn::GetStackOutput'] as { StackName?: unknown; OutputName?: unknown; Region?: unknown } | undefined;
      if (read && typeof read.StackName === 'string' && typeof read.OutputName === 'string') {
        found.push({
          stackName: read.StackName,
          outputName: read.OutputName,
          region: typeof read.Region === 'string' ? read.Region : undefined,
          text: JSON.stringify(holder ?? node),
        });
      }
      for (const value of Object.values(node)) walk(value, node);
    }
  };
  walk(template.Resources, undefined);
  walk(template.Outputs, undefined);
  return found;
}
