import type { z } from 'zod';
import { editDistance } from './aws-catalog';
import { STAGE_NAMES, stageConfigSchema } from './schema';

/** Context keys the app itself reads besides the stage overrides (README, "Configuration"). */
export const APP_KEYS = ['stages', 'imageTag', 'skipPreDeploySnapshot', 'rerunDatabaseSetup'] as const;

/**
 * Context the CDK toolkit and library own, which the app cannot tell apart from `-c` keys: the
 * `aws:cdk:` and `@aws-cdk...` settings and feature flags, the lookups cached in cdk.context.json
 * (`<provider>:account=...:region=...`), and what the CLI writes there.
 */
const CDK_PREFIXES = ['aws:cdk:', 'aws-cdk:', '@aws-cdk', 'cdk:'];
const LOOKUP_PROVIDERS = [
  'ami',
  'availability-zones',
  'hosted-zone',
  'ssm',
  'vpc-provider',
  'endpoint-service-availability-zones',
  'load-balancer',
  'load-balancer-listener',
  'security-group',
  'key-provider',
  'plugin',
  'cc-api-provider',
];
const CLI_KEYS = ['acknowledged-issue-numbers', 'cli-telemetry'];

export function isCdkKey(key: string): boolean {
  return CDK_PREFIXES.some((p) => key.startsWith(p)) || LOOKUP_PROVIDERS.some((p) => key.startsWith(`${p}:`)) || CLI_KEYS.includes(key);
}

type AnySchema = z.core.$ZodType;
interface SchemaDef {
  type: string;
  shape?: Record<string, AnySchema>;
  innerType?: AnySchema;
  in?: AnySchema;
  element?: AnySchema;
  defaultValue?: unknown;
}
/** Schema types that wrap one inner type without changing the field's path. */
const WRAPPERS = ['optional', 'nullable', 'default', 'prefault'];

function defOf(schema: AnySchema): SchemaDef {
  return (schema as unknown as { _zod: { def: SchemaDef } })._zod.def;
}

/**
 * The schema's default of a field ("app.containerPort" -> 3000), or undefined where it has none;
 * the loader reads a `-c` value of a field a stage leaves to its default as the default's type.
 */
export function fieldDefault(path: string, schema: AnySchema = stageConfigSchema): unknown {
  return fieldWrappers(path, schema).default;
}

/** Whether a stage may leave a field out (it is optional, or the schema has a default for it). */
export function isOptionalField(path: string, schema: AnySchema = stageConfigSchema): boolean {
  const { optional, default: value } = fieldWrappers(path, schema);
  return optional || value !== undefined;
}

function fieldWrappers(path: string, schema: AnySchema): { optional: boolean; default?: unknown } {
  const unwrap = (def: SchemaDef) => defOf(def.type === 'pipe' ? def.in! : def.innerType!);
  let node: AnySchema | undefined = schema;
  for (const key of path.split('.')) {
    let def = defOf(node);
    while (WRAPPERS.includes(def.type) || def.type === 'pipe') def = unwrap(def);
    node = def.shape?.[key];
    if (!node) return { optional: false };
  }
  let optional = false;
  let def = defOf(node);
  while (WRAPPERS.includes(def.type) || def.type === 'pipe') {
    if (def.type === 'default') return { optional: true, default: typeof def.defaultValue === 'function' ? (def.defaultValue as () => unknown)() : def.defaultValue };
    if (def.type === 'optional') optional = true;
    def = unwrap(def);
  }
  return { optional };
}

/** Every field path of a stage's configuration ("web.desiredCount", "domain", "domain.zoneName", ...). */
export function fieldPaths(schema: AnySchema = stageConfigSchema, prefix = ''): string[] {
  const def = defOf(schema);
  if (WRAPPERS.includes(def.type)) return fieldPaths(def.innerType!, prefix);
  if (def.type === 'pipe') return fieldPaths(def.in!, prefix);
  if (def.type !== 'object') return [];
  return Object.entries(def.shape ?? {}).flatMap(([key, child]) => {
    const path = prefix ? `${prefix}.${key}` : key;
    return [path, ...fieldPaths(child, path)];
  });
}

/** The schema of a field, without the wrappers that keep its path (optional, default, pipe). */
function fieldSchema(path: string, schema: AnySchema = stageConfigSchema): SchemaDef | undefined {
  const unwrapped = (node: AnySchema) => {
    let def = defOf(node);
    while (WRAPPERS.includes(def.type) || def.type === 'pipe') def = defOf(def.type === 'pipe' ? def.in! : def.innerType!);
    return def;
  };
  let def = unwrapped(schema);
  for (const key of path === '' ? [] : path.split('.')) {
    const child = def.shape?.[key];
    if (!child) return undefined;
    def = unwrapped(child);
  }
  return def;
}

/** Every field that is a list ("alarms.emails", "backup.verify.tables", ...). */
export function listPaths(schema: AnySchema = stageConfigSchema): string[] {
  return fieldPaths(schema).filter((path) => fieldSchema(path, schema)?.type === 'array');
}

/** The schema type of a list field's items ("string", "object"), or undefined where the field is no list. */
export function listItemType(path: string, schema: AnySchema = stageConfigSchema): string | undefined {
  const list = fieldSchema(path, schema);
  return list?.type === 'array' ? fieldSchema('', list.element!)?.type : undefined;
}

const FIELD_PATHS = new Set(fieldPaths());
const LIST_PATHS = new Set(listPaths());

/** What an override key of a stage looks like: `<stage>.<field path>`, or an item of a list field by its index. */
export function isFieldPath(path: string): boolean {
  if (FIELD_PATHS.has(path)) return true;
  const item = /^(.*)\.\d+$/.exec(path);
  return item !== null && LIST_PATHS.has(item[1]);
}

/** Every key a user may pass, for "did you mean". */
export function knownKeys(): string[] {
  return [...APP_KEYS, ...STAGE_NAMES.flatMap((stage) => [...FIELD_PATHS].map((path) => `${stage}.${path}`))];
}

const squash = (key: string) => key.toLowerCase().replace(/[^a-z0-9]/g, '');
const leaf = (key: string) => squash(key.split(/[./:]/).pop() ?? key);

/**
 * The known key closest to `key`: one that differs only in case and separators
 * (`prod/database/multiAz`, `imagetag`), else one of the same stage whose last part matches
 * (`dev.multi_az`), else the one at the smallest edit distance.
 */
export function nearestKey(key: string): string {
  const known = knownKeys();
  const exact = known.find((k) => squash(k) === squash(key));
  if (exact) return exact;
  const stage = STAGE_NAMES.find((s) => key.toLowerCase().startsWith(s));
  const sameStage = stage ? known.filter((k) => k.startsWith(`${stage}.`)) : known;
  const sameLeaf = sameStage.filter((k) => leaf(k) === leaf(key));
  const byDistance = (candidates: readonly string[]) => candidates.map((k) => ({ k, d: editDistance(squash(key), squash(k)) })).sort((a, b) => a.d - b.d)[0].k;
  return byDistance(sameLeaf.length > 0 ? sameLeaf : [...sameStage, ...APP_KEYS]);
}
