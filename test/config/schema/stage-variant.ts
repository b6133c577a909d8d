import { expect, test } from 'vitest';
import { parseStageConfig, STAGES, type StageConfig, type StageConfigInput, type StageName } from '../../../lib/config';

type DeepPartial<T> = T extends readonly unknown[] ? T : T extends object ? { [K in keyof T]?: DeepPartial<T[K]> } : T;

/**
 * A change to a stage, nested as in lib/config/stages.ts: an object merges into the stage's, a list
 * or a value replaces it, `undefined` removes the field. A row that writes what the schema has no
 * type for (a misspelt field, a string for a boolean) says so with `as unknown as Patch`.
 */
export type Patch = DeepPartial<StageConfig>;

const isObject = (value: unknown): value is Record<string, unknown> => value !== null && typeof value === 'object' && !Array.isArray(value);

/** `patch` deep-merged onto a copy of `base`. */
export function merge<T>(base: T, patch: unknown): T {
  if (!isObject(base) || !isObject(patch)) return structuredClone(patch) as T;
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(patch)) {
    if (value === undefined) delete out[key];
    else out[key] = merge(out[key], value);
  }
  return out as T;
}

const shipped = new Map<StageName, StageConfig>();

/** A shipped stage definition with the schema's defaults filled in, changed by `patch`. */
export function variant(stage: StageName, patch: Patch = {}): StageConfigInput {
  if (!shipped.has(stage)) shipped.set(stage, parseStageConfig(STAGES[stage]));
  return merge(structuredClone(shipped.get(stage)), patch) as StageConfigInput;
}

/** The message a rejected definition fails with. */
export function errorOf(input: StageConfigInput): string {
  try {
    parseStageConfig(input);
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error('expected the configuration to be rejected');
}

/** A definition the schema must refuse: what is wrong, the stage, the change, then the field, the value and the fix the message must name. */
export interface Rejected {
  readonly what: string;
  readonly stage: StageName;
  readonly patch: Patch;
  readonly field: string;
  readonly value: string;
  readonly fix: RegExp;
}

/** A definition on the edge of a rule, which the schema must take. */
export interface Accepted {
  readonly what: string;
  readonly stage: StageName;
  readonly patch: Patch;
}

/** One test per row: the stage's message has a line naming the stage, the field, the value and the fix. */
export function rejects(rows: readonly Rejected[]): void {
  test('has bad definitions to refuse', () => {
    expect(rows.length).toBeGreaterThan(0);
  });
  test.each(rows)('$what', ({ stage, patch, field, value, fix }) => {
    const message = errorOf(variant(stage, patch));
    const line = message.split('\n').find((l) => l.includes(`field "${field}"`));
    expect(line, message).toBeDefined();
    expect(line).toContain(`stage "${stage}"`);
    expect(line).toContain(`value ${value}:`);
    expect(line).toMatch(fix);
    expect(line).toMatch(/Fix: /);
  });
}

/** One test per row: the changed stage is valid. */
export function accepts(rows: readonly Accepted[]): void {
  test.each(rows)('takes $what', ({ stage, patch }) => {
    expect(() => parseStageConfig(variant(stage, patch))).not.toThrow();
  });
}

/** A regular expression matching `text` literally. */
export const escaped = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** A patch that sets one field by its path ("app.deployment.smokePaths"). */
export function at(path: string, value: unknown): Patch {
  return path
    .split('.')
    .reverse()
    .reduce<unknown>((inner, key) => ({ [key]: inner }), value) as Patch;
}
