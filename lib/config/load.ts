import type { z } from 'zod';
import { APP_KEYS, fieldDefault, isCdkKey, isFieldPath, isOptionalField, listItemType, nearestKey } from './context-keys';
import { type DeployOptions, readDeployOptions } from './deploy-options';
import { dumpReaderProblems } from './dump-readers';
import { stageProblem } from './problems';
import { CONFIG_FILE, STAGE_NAMES, type StageConfig, type StageConfigInput, type StageName, stageConfigSchema } from './schema';
import { STAGES } from './stages';

/** Thrown when a stage's configuration is invalid; the message lists every problem with its fix. */
export class StageConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`Invalid stage configuration (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'StageConfigError';
  }
}

/**
 * Context keys the loader reads (all optional):
 * - `stages`: comma-separated subset of stages to synthesize, e.g. `-c stages=dev`.
 * - `imageTag`: image tag or digest for every synthesized stage, e.g. `-c imageTag=sha256:...`.
 * - `skipPreDeploySnapshot`, `rerunDatabaseSetup`, `pinnedReads`, `commit`: the deploy options (deploy-options.ts).
 * - `<stage>.<field path>`: any field of one stage, e.g. `-c prod.account=123456789012`,
 *   `-c staging.web.desiredCount=3`, `-c dev.domain={"zoneName":...}` (JSON for objects and lists);
 *   one item of a list by its index, e.g. `-c dev.alarms.emails.0=oncall@example.com` (the index
 *   after the last item adds one).
 */
export function loadStageConfigs(context: Record<string, unknown>, definitions: Record<StageName, StageConfigInput> = STAGES): StageConfig[] {
  return loadStages(context, definitions).selected;
}

/**
 * Validates every stage, with its overrides, whether or not it is synthesized (a bad override of
 * prod fails a `-c stages=dev` synth too), then the rules across stages. `selected` are the stages
 * to synthesize; `all` is every stage, for what spans them (the image registries).
 */
export function loadStages(
  context: Record<string, unknown>,
  definitions: Record<StageName, StageConfigInput> = STAGES,
): { selected: StageConfig[]; all: StageConfig[]; deploy: DeployOptions } {
  const problems: string[] = [];
  const selected = selectStages(context.stages, problems);
  const deploy = readDeployOptions(context, problems);
  const overrides = collectOverrides(context, problems);

  const all: StageConfig[] = [];
  for (const name of STAGE_NAMES) {
    const input = structuredClone(definitions[name]) as Record<string, unknown>;
    const overridden = new Set<string>();
    if (context.imageTag !== undefined && selected.includes(name)) {
      setPath(input, ['image', 'tag'], String(context.imageTag));
      overridden.add('image.tag');
    }
    let unreadable = false;
    // Whole fields first, then list items by ascending index, so `.1` lands after `.0` whatever the order given.
    const ordered = [...(overrides.get(name) ?? [])].sort((a, b) => itemIndex(a.path) - itemIndex(b.path));
    for (const { key, path, value } of ordered) {
      if (itemIndex(path) >= 0) {
        const problem = setListItem(input, path, value, key, name);
        if (problem) {
          problems.push(stageProblem(name, path.join('.'), value, problem));
          unreadable = true;
        } else overridden.add(path.join('.'));
        continue;
      }
      // `-c <stage>.<optional field>=null` leaves the field out (turns an optional step off).
      if (value === 'null' && isOptionalField(path.join('.'))) {
        unsetPath(input, path);
        overridden.add(path.join('.'));
        continue;
      }
      const read = coerce(value, getPath(input, path) ?? fieldDefault(path.join('.')), key);
      if ('problem' in read) {
        problems.push(stageProblem(name, path.join('.'), value, read.problem));
        unreadable = true;
        continue;
      }
      setPath(input, path, read.value);
      overridden.add(path.join('.'));
    }
    // A value that could not be read is reported alone: the schema would only add noise about it.
    if (unreadable) continue;
    if (input.name !== name) {
      // Checked before the schema: a dev definition named "prod" would meet all of prod's rules.
      problems.push(
        stageProblem(name, 'name', input.name, `the definition under "${name}" names itself ${JSON.stringify(input.name)}. Fix: set name: "${name}" in ${CONFIG_FILE}`),
      );
      continue;
    }
    const result = stageConfigSchema.safeParse(input);
    if (result.success) {
      all.push(result.data);
    } else {
      problems.push(...describeIssues(name, input, result.error.issues, overridden));
    }
  }
  if (problems.length === 0) problems.push(...crossStageProblems(all, selected));
  if (problems.length > 0) throw new StageConfigError(problems);
  return { selected: all.filter((c) => selected.includes(c.name)), all, deploy };
}

/**
 * Rules across stages: one image build reaches every stage (one source registry and repository),
 * one repository's workflows deploy them, stages sharing an account share its baseline, the stage
 * making an anonymised copy and the stage reading it name each other, and no two stages share a
 * DNS zone or a site name.
 */
export function crossStageProblems(all: readonly StageConfig[], selected: readonly StageName[] = STAGE_NAMES): string[] {
  const problems: string[] = [];
  const [first, ...rest] = all;
  if (!first) return problems;
  const same = (field: string, value: (c: StageConfig) => unknown, why: string) => {
    for (const other of rest) {
      if (JSON.stringify(value(other)) !== JSON.stringify(value(first))) {
        problems.push(
          stageProblem(
            other.name,
            field,
            value(other),
            `differs from stage "${first.name}" (${JSON.stringify(value(first))}): ${why}. Fix: set the same ${field} in every stage in ${CONFIG_FILE}`,
          ),
        );
      }
    }
  };
  same('image.source', (c) => c.image.source, 'CI pushes each build once, to one registry, which replicates it to every stage');
  same('image.repositoryName', (c) => c.image.repositoryName, 'the registries replicate one repository');
  same('image.expiringTagPatterns', (c) => c.image.expiringTagPatterns, 'every registry keeps the same images');
  same('ci.repository', (c) => c.ci.repository, "one repository's workflows deploy every stage");
  same('ci.repositoryId', (c) => c.ci.repositoryId, "one repository's workflows deploy every stage");
  // One baseline stack per account and region: stages sharing an account share its settings.
  const byAccount = new Map<string, StageConfig>();
  for (const c of all) {
    const owner = byAccount.get(c.account);
    if (!owner) {
      byAccount.set(c.account, c);
    } else if (JSON.stringify(c.baseline) !== JSON.stringify(owner.baseline)) {
      problems.push(
        stageProblem(
          c.name,
          'baseline',
          c.baseline,
          `differs from stage "${owner.name}" (${JSON.stringify(owner.baseline)}), which runs in the same account ${c.account}: the account has one baseline. Fix: set the same baseline in both stages in ${CONFIG_FILE}`,
        ),
      );
    }
  }
  // One break-glass role per name and account: its baseline creates it (or not) with one trust.
  const breakGlassOwner = new Map<string, StageConfig>();
  for (const c of all) {
    const key = `${c.account}/${c.backup.breakGlassRoleName}`;
    const owner = breakGlassOwner.get(key);
    if (!owner) breakGlassOwner.set(key, c);
    else if (JSON.stringify(c.access.breakGlass) !== JSON.stringify(owner.access.breakGlass)) {
      problems.push(
        stageProblem(
          c.name,
          'access.breakGlass',
          c.access.breakGlass,
          `differs from stage "${owner.name}" (${JSON.stringify(owner.access.breakGlass)}), which runs in the same account ${c.account} with the same break-glass role ${c.backup.breakGlassRoleName}: the account has that role once. Fix: set the same access.breakGlass in both stages in ${CONFIG_FILE}, or give each its own backup.breakGlassRoleName`,
        ),
      );
    }
  }
  // One release-read role per promoted stage, named after it: two stages promoting from one would share it.
  const promoter = new Map<string, string>();
  for (const c of all) {
    const from = c.image.promotedFrom;
    if (from === undefined) continue;
    const other = promoter.get(from);
    if (other)
      problems.push(
        stageProblem(
          c.name,
          'image.promotedFrom',
          from,
          `stage "${other}" promotes from ${from} too; each stage's running image is read for one promotion. Fix: promote ${c.name} from "${other}" instead`,
        ),
      );
    else promoter.set(from, c.name);
  }
  problems.push(...dumpReaderProblems(all, selected));
  const seen = new Map<string, string>();
  for (const c of all) {
    if (!c.domain) continue;
    for (const [field, value] of [
      ['domain.zoneName', c.domain.zoneName],
      ['domain.recordName', c.domain.recordName],
    ] as const) {
      const key = `${field}=${value}`;
      const owner = seen.get(key);
      if (owner) {
        problems.push(
          stageProblem(
            c.name,
            field,
            value,
            `stage "${owner}" uses it too: two stages would write the same DNS records. Fix: give each stage its own name, e.g. "${c.name}.${c.domain.parentZoneName}"`,
          ),
        );
      } else {
        seen.set(key, c.name);
      }
    }
  }
  return problems;
}

/** Validates one stage definition, throwing a StageConfigError that names the problems. */
export function parseStageConfig(input: StageConfigInput): StageConfig {
  const result = stageConfigSchema.safeParse(input);
  if (!result.success) {
    throw new StageConfigError(describeIssues(String(input.name), input as Record<string, unknown>, result.error.issues, new Set()));
  }
  return result.data;
}

function isStageName(value: string): value is StageName {
  return (STAGE_NAMES as readonly string[]).includes(value);
}

function unknownStage(value: string, where: string): string {
  return `unknown stage "${value}" in ${where}. Fix: use one of ${STAGE_NAMES.join(', ')}`;
}

function selectStages(raw: unknown, problems: string[]): StageName[] {
  if (raw === undefined) return [...STAGE_NAMES];
  const names = (Array.isArray(raw) ? raw.map(String) : String(raw).split(',')).map((s) => s.trim()).filter((s) => s.length > 0);
  const selected: StageName[] = [];
  for (const name of names) {
    if (!isStageName(name)) problems.push(unknownStage(name, '-c stages'));
    else if (selected.includes(name)) problems.push(`-c stages names "${name}" twice. Fix: list each stage once, e.g. -c stages=${[...new Set(names)].join(',')}`);
    else selected.push(name);
  }
  if (names.length === 0) problems.push(`-c stages is empty. Fix: list stages, e.g. -c stages=dev,staging`);
  return selected;
}

interface Override {
  readonly key: string;
  readonly path: string[];
  readonly value: unknown;
}

/**
 * The `<stage>.<field path>` overrides among the context keys. Every other key must be one the app
 * reads (APP_KEYS) or one CDK owns; anything else fails, naming the nearest known key, because a
 * misspelt override (`multi_az`, `prod/database/multiAz`, `imagetag`) would otherwise be ignored.
 */
function collectOverrides(context: Record<string, unknown>, problems: string[]): Map<StageName, Override[]> {
  const byStage = new Map<StageName, Override[]>();
  for (const [key, value] of Object.entries(context)) {
    if (isCdkKey(key) || (APP_KEYS as readonly string[]).includes(key)) continue;
    const dot = key.indexOf('.');
    const [stage, path] = dot > 0 ? [key.slice(0, dot), key.slice(dot + 1)] : [undefined, undefined];
    if (stage !== undefined && path !== undefined && isFieldPath(path)) {
      if (!isStageName(stage)) {
        problems.push(unknownStage(stage, `-c ${key}`));
        continue;
      }
      const list = byStage.get(stage) ?? [];
      list.push({ key, path: path.split('.'), value });
      byStage.set(stage, list);
      continue;
    }
    problems.push(
      `unknown context key "${key}" (from -c or the context of cdk.json): the app would ignore it. Fix: did you mean "${nearestKey(key)}"? (the keys are listed in docs/configuration.md, "Fields")`,
    );
  }
  return byStage;
}

/** `-c` values arrive as strings; read them as the type of the value they replace, or say why not. */
function coerce(value: unknown, current: unknown, key: string): { value: unknown } | { problem: string } {
  if (typeof value !== 'string') return { value };
  const shown = JSON.stringify(value);
  if (typeof current === 'string') return { value };
  if (typeof current === 'number') {
    const number = value.trim() === '' ? Number.NaN : Number(value);
    return Number.isFinite(number) ? { value: number } : { problem: `-c ${key}=${value}: ${shown} is not a number. Fix: give a number, e.g. -c ${key}=${current}` };
  }
  if (typeof current === 'boolean') {
    if (value === 'true' || value === 'false') return { value: value === 'true' };
    return { problem: `-c ${key}=${value}: ${shown} is neither true nor false. Fix: -c ${key}=true or -c ${key}=false` };
  }
  try {
    return { value: JSON.parse(value) };
  } catch {
    if (Array.isArray(current)) {
      return { problem: `-c ${key}=${value}: a list is written as JSON. Fix: -c '${key}=${JSON.stringify(value.split(',').map((v) => v.trim()))}'` };
    }
    if (current !== null && typeof current === 'object') {
      return { problem: `-c ${key}=${value}: an object is written as JSON. Fix: -c '${key}=${JSON.stringify(current)}' with your values` };
    }
    return { value };
  }
}

/** The index of a list-item override (`alarms.emails.0` -> 0), or -1 for a whole field. */
function itemIndex(path: readonly string[]): number {
  const last = path[path.length - 1];
  return /^\d+$/.test(last) && listItemType(path.slice(0, -1).join('.')) !== undefined ? Number(last) : -1;
}

/**
 * Applies `-c <stage>.<list>.<index>=value`: replaces that item, or adds one at the index after
 * the last; the field stays a list. Returns what is wrong instead, where the index leaves a gap.
 */
function setListItem(input: Record<string, unknown>, path: readonly string[], value: unknown, key: string, stage: string): string | undefined {
  const listPath = path.slice(0, -1);
  const field = listPath.join('.');
  const current = getPath(input, listPath) ?? fieldDefault(field);
  const list = Array.isArray(current) ? [...current] : [];
  const index = itemIndex(path);
  if (index > list.length) {
    return `-c ${key}=${String(value)}: ${field} has ${list.length} item${list.length === 1 ? '' : 's'}, so index ${index} would leave a gap. Fix: -c ${stage}.${field}.${list.length}=... adds an item, or give the whole list as JSON: -c '${stage}.${field}=${JSON.stringify([...list, value])}'`;
  }
  if (typeof value === 'string' && listItemType(field) !== 'string') {
    const read = coerce(value, list[index] ?? {}, key);
    if ('problem' in read) return read.problem;
    list[index] = read.value;
  } else list[index] = value;
  setPath(input, listPath, list);
  return undefined;
}

function getPath(obj: unknown, path: readonly PropertyKey[]): unknown {
  let node: unknown = obj;
  for (const key of path) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<PropertyKey, unknown>)[key];
  }
  return node;
}

function setPath(obj: Record<string, unknown>, path: readonly string[], value: unknown): void {
  let node = obj;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    if (next === null || typeof next !== 'object' || Array.isArray(next)) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  node[path[path.length - 1]] = value;
}

function unsetPath(obj: Record<string, unknown>, path: readonly string[]): void {
  const parent = getPath(obj, path.slice(0, -1));
  if (parent !== null && typeof parent === 'object') delete (parent as Record<string, unknown>)[path[path.length - 1]];
}

/** Fields the schema had and no longer has, with what replaced them: a stage file written before says so, not "unknown". */
const RETIRED_FIELDS: Readonly<Record<string, string>> = {
  'operations.queueMetrics':
    'retired: the worker no longer publishes its queues; a function reads them from the cache. Fix: remove it and set operations.queues (enabled, names, bullmqMajor; docs/configuration.md)',
  'operations.queueOldestJobSeconds': 'retired with operations.queueMetrics. Fix: remove it and set operations.queues.oldestWaitingSeconds',
};

function describeIssues(stage: string, input: Record<string, unknown>, issues: readonly z.core.$ZodIssue[], overridden: ReadonlySet<string>): string[] {
  const out: string[] = [];
  for (const issue of issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) {
        const field = [...issue.path, key].join('.');
        out.push(
          stageProblem(
            stage,
            field,
            getPath(input, [...issue.path, key]),
            RETIRED_FIELDS[field] ?? `unknown field. Fix: remove it or correct its spelling (the fields are listed in docs/configuration.md, "Fields")`,
          ),
        );
      }
      continue;
    }
    const field = issue.path.join('.') || '(stage)';
    let message = issue.message;
    if (!/Fix:/.test(message)) {
      message = `${message.replace(/^Invalid input: /, '')}. Fix: correct ${field} in ${CONFIG_FILE}`;
    }
    // The -c keys the value came from: the field itself, one of its items, or a field a rule across fields read.
    const from = [...overridden].filter((o) => o === field || field.startsWith(`${o}.`) || o.startsWith(`${field}.`) || (field === '(stage)' && o.length > 0));
    if (from.length > 0) message += ` (this value came from ${from.map((o) => `-c ${stage}.${o}`).join(', ')})`;
    out.push(stageProblem(stage, field, getPath(input, issue.path), message));
  }
  return out;
}
