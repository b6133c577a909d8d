import { parseArgs } from 'node:util';
import { STAGE_NAMES, type StageName } from '../../lib/config';
import { UsageError } from './assembly';

export interface FlagSpec {
  /** Flags that take a value ("--stage"; "-c" is the short form of "--context"). */
  readonly values: readonly string[];
  /** Flags that stand alone. */
  readonly switches?: readonly string[];
  /** The script's usage line, appended to every message. */
  readonly usage: string;
  /** Says what to do with an argument that is not a flag; without it, such an argument is unknown. */
  readonly positional?: (arg: string) => string;
}

/**
 * The scripts' command lines, read by node:util's parseArgs in strict mode: each flag of
 * `values` with its value (`--stage dev` or `--stage=dev`; a missing value, or another flag in
 * its place, is refused), each switch alone, anything else refused with a UsageError naming it
 * (exit 2 in every script). Returns [flag, value] in the order given; a switch's value is undefined.
 */
export function readFlags(argv: readonly string[], spec: FlagSpec): [string, string | undefined][] {
  const longName = (flag: string) => (flag === '-c' ? 'context' : flag.replace(/^--/, ''));
  const options: Record<string, { type: 'string' | 'boolean'; multiple: true; short?: string }> = {};
  for (const flag of spec.values) options[longName(flag)] = { type: 'string', multiple: true, ...(options[longName(flag)]?.short || flag === '-c' ? { short: 'c' } : {}) };
  for (const flag of spec.switches ?? []) options[longName(flag)] = { type: 'boolean', multiple: true };
  let tokens: NonNullable<ReturnType<typeof parseArgs>['tokens']>;
  try {
    ({ tokens } = parseArgs({ args: [...argv], options, strict: true, allowPositionals: spec.positional !== undefined, tokens: true }));
  } catch (error) {
    throw new UsageError(`${explain(error as Error & { code?: string }, argv)} ${spec.usage}`);
  }
  const read: [string, string | undefined][] = [];
  for (const token of tokens) {
    if (token.kind === 'positional') throw new UsageError(`${spec.positional!(token.value)} ${spec.usage}`);
    if (token.kind !== 'option') continue;
    const given = token.rawName.startsWith('--') ? `--${token.name}` : token.rawName;
    read.push([spec.values.includes(given) || spec.switches?.includes(given) ? given : `--${token.name}`, token.value]);
  }
  return read;
}

/** parseArgs' error, in the scripts' words. */
function explain(error: Error & { code?: string }, argv: readonly string[]): string {
  const flag = /'(-{1,2}[^' <,]+)/.exec(error.message)?.[1];
  switch (error.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return `unknown argument "${flag ?? argv.find((a) => a.startsWith('-'))}".`;
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      return /does not take an argument/.test(error.message) ? `${flag} takes no value.` : `${flag} needs a value.`;
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
      return `unexpected argument "${/'([^']+)'/.exec(error.message)?.[1]}": every argument is a --flag.`;
    default:
      return error.message;
  }
}

/** Adds one `-c KEY=VALUE` (or `--context`) to `context`, as the CDK CLI reads it; anything else is a UsageError. */
export function addContext(context: Record<string, string>, flag: string, value: string, usage: string): void {
  const eq = value.indexOf('=');
  if (eq < 1) throw new UsageError(`${flag} takes KEY=VALUE, not "${value}". ${usage}`);
  context[value.slice(0, eq)] = value.slice(eq + 1);
}

/** `--stage` as given, when it names a stage. */
export function stageArg(stage: string | undefined, usage: string): StageName {
  if (!stage || !(STAGE_NAMES as readonly string[]).includes(stage)) throw new UsageError(`--stage must be one of ${STAGE_NAMES.join(', ')}. ${usage}`);
  return stage as StageName;
}
