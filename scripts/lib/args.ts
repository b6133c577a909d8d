import { STAGE_NAMES, type StageName } from '../../lib/config';
import { UsageError } from './assembly';

export interface FlagSpec {
  /** Flags that take the next argument as their value. */
  readonly values: readonly string[];
  /** Flags that stand alone. */
  readonly switches?: readonly string[];
  /** The script's usage line, appended to every message. */
  readonly usage: string;
  /** Says what to do with an argument that is not a flag; without it, such an argument is unknown. */
  readonly positional?: (arg: string) => string;
}

/**
 * The scripts' command lines, read one way: each flag of `values` with the argument after it
 * (which may not be missing or another flag), each switch alone, anything else refused with a
 * UsageError naming it (exit 2 in every script). Returns [flag, value] in the order given;
 * a switch's value is undefined.
 */
export function readFlags(argv: readonly string[], spec: FlagSpec): [string, string | undefined][] {
  const read: [string, string | undefined][] = [];
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    if (spec.positional && !flag.startsWith('--')) throw new UsageError(`${spec.positional(flag)} ${spec.usage}`);
    if (spec.switches?.includes(flag)) {
      read.push([flag, undefined]);
      continue;
    }
    if (!spec.values.includes(flag)) throw new UsageError(`unknown argument "${flag}". ${spec.usage}`);
    const value = argv[i + 1];
    if (value === undefined || value.startsWith('--')) throw new UsageError(`${flag} needs a value. ${spec.usage}`);
    read.push([flag, value]);
    i++;
  }
  return read;
}

/** `--stage` as given, when it names a stage. */
export function stageArg(stage: string | undefined, usage: string): StageName {
  if (!stage || !(STAGE_NAMES as readonly string[]).includes(stage)) throw new UsageError(`--stage must be one of ${STAGE_NAMES.join(', ')}. ${usage}`);
  return stage as StageName;
}
