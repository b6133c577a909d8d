/**
 * Stateful-replacement guard for pull requests. Compares two synthesized assemblies and fails when
 * a database, cache, bucket, key, secret, backup vault, hosted zone, image repository or log group
 * would be replaced or destroyed, or one of them but a log group would leave CloudFormation under
 * DeletionPolicy Retain (removed, its stack removed, or its logical id changed): its data stays in
 * the account, orphaned, but the stage loses it.
 *
 *   npx tsx scripts/diff-guard.ts --base base.out --head cdk.out [--allow LOGICAL_ID ...] [--format text|markdown]
 *
 * Exit codes: 0 nothing blocked (a retained log group or network resource leaving CloudFormation,
 * or a replaced resource whose readers re-read it, is a warning); 1 something blocked and not
 * allowed: a stateful resource replaced or destroyed, a data store or key orphaned as above, a
 * listener rule ECS re-weights changed, or a replaced resource another stack would read stale;
 * 2 the guard could not decide: bad arguments, an assembly that is missing, incomplete or corrupt,
 * or assemblies of different stages.
 */
import { readFlags } from './lib/args';
import { readAssembly, UsageError } from './lib/assembly';
import { formatFindings, guard } from './lib/guard';

interface Args {
  base: string;
  head: string;
  allow: string[];
  format: 'text' | 'markdown';
}

const USAGE = 'usage: diff-guard --base DIR --head DIR [--allow LOGICAL_ID ...] [--format text|markdown]';

export function parseArgs(argv: readonly string[]): Args {
  const args: Partial<Args> & { allow: string[] } = { allow: [], format: 'text' };
  for (const [flag, value = ''] of readFlags(argv, { values: ['--base', '--head', '--allow', '--format'], repeatable: ['--allow'], usage: USAGE })) {
    if (flag === '--base') args.base = value;
    else if (flag === '--head') args.head = value;
    else if (flag === '--allow') args.allow.push(...value.split(',').filter(Boolean));
    else if (value === 'text' || value === 'markdown') args.format = value;
    else throw new UsageError(`--format must be text or markdown, not "${value}". ${USAGE}`);
  }
  if (!args.base || !args.head) throw new UsageError(`--base and --head are required. ${USAGE}`);
  return args as Args;
}

/** Runs the guard and returns what to print and the exit code. */
export function run(argv: readonly string[]): { output: string; exitCode: number } {
  try {
    const args = parseArgs(argv);
    const result = guard(readAssembly(args.base), readAssembly(args.head), args.allow);
    return { output: formatFindings(result, args.format), exitCode: result.exitCode };
  } catch (error) {
    // Never exit 1 ("blocked") for something that is not a verdict.
    if (error instanceof UsageError) return { output: `diff-guard: ${error.message}`, exitCode: 2 };
    return { output: `diff-guard: could not compare the assemblies: ${(error as Error).message}`, exitCode: 2 };
  }
}

/** The command: the verdict on stdout, a guard that could not decide on stderr; its exit code. */
export function main(argv = process.argv.slice(2)): number {
  const { output, exitCode } = run(argv);
  (exitCode === 2 ? console.error : console.log)(output);
  return exitCode;
}

if (require.main === module) {
  process.exitCode = main();
}
