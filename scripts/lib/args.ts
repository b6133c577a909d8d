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
  /** Flags of `values` that may be given more than once (each value counts); `-c`/`--context` always may, as with the CDK CLI. */
  readonly repeatable?: readonly string[];
}

/** A negative number (`-5`, `-0.5`): the value of the flag before it, not a flag of its own. */
const NEGATIVE_NUMBER = /^-(\d|\.\d)/;

/**
 * The scripts' command lines, read by node:util's parseArgs in strict mode: each flag of
 * `values` with its value (`--stage dev` or `--stage=dev`; a missing value, or another flag in
 * its place, is refused; a negative number is a value, so the script's own range check answers
 * it), each switch alone, and each flag once unless it is repeatable. Anything else, `--help`
 * included, is refused with a UsageError naming it and the usage line (exit 2 in every script).
 * Returns [flag, value] in the order given; a switch's value is undefined.
 */
export function readFlags(argv: readonly string[], spec: FlagSpec): [string, string | undefined][] {
  const longName = (flag: string) => (flag === '-c' ? 'context' : flag.replace(/^--/, ''));
  const options: Record<string, { type: 'string' | 'boolean'; multiple: true; short?: string }> = {};
  for (const flag of spec.values) options[longName(flag)] = { type: 'string', multiple: true, ...(options[longName(flag)]?.short || flag === '-c' ? { short: 'c' } : {}) };
  for (const flag of spec.switches ?? []) options[longName(flag)] = { type: 'boolean', multiple: true };
  // parseArgs reads "--minutes -5" as a flag without its value; "--minutes=-5" is what was meant.
  const args: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (spec.values.includes(arg) && NEGATIVE_NUMBER.test(argv[i + 1] ?? '')) args.push(arg === '-c' ? `-c${argv[++i]}` : `${arg}=${argv[++i]}`);
    else args.push(arg);
  }
  let tokens: NonNullable<ReturnType<typeof parseArgs>['tokens']>;
  try {
    ({ tokens } = parseArgs({ args, options, strict: true, allowPositionals: spec.positional !== undefined, tokens: true }));
  } catch (error) {
    throw new UsageError(`${explain(error as Error & { code?: string }, argv)} ${spec.usage}`);
  }
  const read: [string, string | undefined][] = [];
  const repeatable = new Set(['context', ...(spec.repeatable ?? []).map(longName)]);
  const seen = new Map<string, string | undefined>();
  for (const token of tokens) {
    if (token.kind === 'positional') throw new UsageError(`${spec.positional!(token.value)} ${spec.usage}`);
    if (token.kind !== 'option') continue;
    const given = token.rawName.startsWith('--') ? `--${token.name}` : token.rawName;
    const flag = spec.values.includes(given) || spec.switches?.includes(given) ? given : `--${token.name}`;
    if (seen.has(token.name) && !repeatable.has(token.name)) {
      // Two values of one setting: taking either would be a guess.
      const values = token.value === undefined ? '' : ` (${JSON.stringify(seen.get(token.name))}, then ${JSON.stringify(token.value)})`;
      throw new UsageError(`${flag} is given twice${values}. Fix: give it once. ${spec.usage}`);
    }
    seen.set(token.name, token.value);
    read.push([flag, token.value]);
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

/** The flags of a command that takes a stage and nothing else: `--stage`, `--account`, `-c` and `--yes`. */
export const STAGE_COMMAND_FLAGS = { values: ['--stage', '--account', '-c', '--context'], switches: ['--yes'] };

/** What a command of STAGE_COMMAND_FLAGS was given; `--stage` defaults to `defaultStage` where the command has one. */
export function stageCommandArgs(
  flags: readonly [string, string | undefined][],
  usage: string,
  defaultStage?: StageName,
): { stage: StageName; account?: string; context: Record<string, string>; yes: boolean } {
  let stage: string | undefined = defaultStage;
  let account: string | undefined;
  let yes = false;
  const context: Record<string, string> = {};
  for (const [flag, value = ''] of flags) {
    if (flag === '--yes') yes = true;
    else if (flag === '--stage') stage = value;
    else if (flag === '--account') account = value;
    else addContext(context, flag, value, usage);
  }
  return { stage: stageArg(stage, usage), account, context, yes };
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
