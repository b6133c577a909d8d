import { z } from 'zod';
import { editDistance } from './aws-catalog';
import { STAGE_NAMES, stageConfigSchema } from './schema';

/** Context keys the app itself reads besides the stage overrides (docs/configuration.md, "Overrides"). */
export const APP_KEYS = ['stages', 'imageTag', 'skipPreDeploySnapshot', 'rerunDatabaseSetup', 'pinnedReads', 'commit'] as const;

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

/** A node of the schema's JSON Schema (its input side), as far as the fields are concerned. */
interface JsonNode {
  readonly type?: string;
  readonly properties?: Readonly<Record<string, JsonNode>>;
  readonly required?: readonly string[];
  readonly items?: JsonNode;
  readonly anyOf?: readonly JsonNode[];
  readonly default?: unknown;
  readonly description?: string;
  readonly rules?: string;
}

/** One field of a stage's configuration, as its schema states it (description and rules: the field's metadata). */
export interface SchemaField {
  /** "web.desiredCount" */
  readonly path: string;
  /** A stage may leave it out: it is optional, or the schema has a default for it. */
  readonly optional: boolean;
  readonly default?: unknown;
  readonly description?: string;
  readonly rules?: string;
  /** "array", "object", "string", ...; for a list, what its items are. */
  readonly type?: string;
  readonly itemType?: string;
}

const FIELDS = new WeakMap<z.ZodType, ReadonlyMap<string, SchemaField>>();

/**
 * Every field of a schema by its path, in the schema's order, read from zod's JSON Schema of what a
 * stage may write (`io: 'input'`: a field with a default is optional, and its default is stated).
 */
export function schemaFields(schema: z.ZodType = stageConfigSchema): ReadonlyMap<string, SchemaField> {
  let fields = FIELDS.get(schema);
  if (!fields) {
    const found = new Map<string, SchemaField>();
    collect(z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as JsonNode, '', found);
    fields = found;
    FIELDS.set(schema, fields);
  }
  return fields;
}

/** A nullable field is `anyOf` its type and null: the field is its type. */
function unwrap(node: JsonNode): JsonNode {
  return node.anyOf?.find((branch) => branch.type !== 'null') ?? node;
}

function collect(parent: JsonNode, prefix: string, out: Map<string, SchemaField>): void {
  const node = unwrap(parent);
  for (const [key, child] of Object.entries(node.properties ?? {})) {
    const path = prefix ? `${prefix}.${key}` : key;
    const { type, items } = unwrap(child);
    out.set(path, {
      path,
      optional: !(node.required ?? []).includes(key),
      default: child.default,
      description: child.description,
      rules: child.rules,
      type,
      itemType: items ? unwrap(items).type : undefined,
    });
    collect(child, path, out);
  }
}

/**
 * The schema's default of a field ("app.containerPort" -> 3000), or undefined where it has none;
 * the loader reads a `-c` value of a field a stage leaves to its default as the default's type.
 */
export function fieldDefault(path: string, schema: z.ZodType = stageConfigSchema): unknown {
  const value = schemaFields(schema).get(path)?.default;
  // A copy: the fields are read once per schema and shared.
  return value === undefined ? undefined : structuredClone(value);
}

/** Whether a stage may leave a field out (it is optional, or the schema has a default for it). */
export function isOptionalField(path: string, schema: z.ZodType = stageConfigSchema): boolean {
  return schemaFields(schema).get(path)?.optional ?? false;
}

/** Every field path of a stage's configuration ("web.desiredCount", "domain", "domain.zoneName", ...). */
export function fieldPaths(schema: z.ZodType = stageConfigSchema): string[] {
  return [...schemaFields(schema).keys()];
}

/** Every field that is a list ("alarms.emails", "backup.verify.tables", ...). */
export function listPaths(schema: z.ZodType = stageConfigSchema): string[] {
  return [...schemaFields(schema).values()].filter((field) => field.type === 'array').map((field) => field.path);
}

/** The type of a list field's items ("string", "object"), or undefined where the field is no list. */
export function listItemType(path: string, schema: z.ZodType = stageConfigSchema): string | undefined {
  return schemaFields(schema).get(path)?.itemType;
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
