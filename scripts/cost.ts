/**
 * Monthly cost estimate per stage from synthesized templates and the pinned price tables in
 * scripts/pricing/. With --base, the change per stage, like a cost diff in a pull request.
 *
 *   npx tsx scripts/cost.ts --assembly cdk.out [--base base.out] [--format text|markdown]
 *     [--db-used-percent N] [--daily-change-percent N] [--uploads-gb-month N]   (the backup assumptions)
 *
 * Exit codes: 0 estimate printed, 2 bad arguments or an assembly that is missing, incomplete or corrupt.
 */
import { readFlags } from './lib/args';
import { readAssembly, UsageError } from './lib/assembly';
import { assumptionLines, estimateAssembly, type StageCost } from './lib/cost';
import { BACKUP_ASSUMPTIONS, type BackupAssumptions, backupAssumptionLines } from './lib/pricing/backups';

interface Args {
  assembly: string;
  base?: string;
  format: 'text' | 'markdown';
  backups: BackupAssumptions;
}

const USAGE = 'usage: cost --assembly DIR [--base DIR] [--format text|markdown] [--db-used-percent N] [--daily-change-percent N] [--uploads-gb-month N]';
const ASSUMPTION_FLAGS = { '--db-used-percent': 'dbUsedPercent', '--daily-change-percent': 'dailyChangePercent', '--uploads-gb-month': 'uploadsGbPerMonth' } as const;

export function parseArgs(argv: readonly string[]): Args {
  const args: Partial<Args> = { format: 'text' };
  const backups: Record<string, number> = { ...BACKUP_ASSUMPTIONS };
  for (const [flag, value = ''] of readFlags(argv, { values: ['--assembly', '--base', '--format', ...Object.keys(ASSUMPTION_FLAGS)], usage: USAGE })) {
    if (flag in ASSUMPTION_FLAGS) {
      const n = Number(value);
      const max = flag === '--uploads-gb-month' ? Number.POSITIVE_INFINITY : 100;
      if (!Number.isFinite(n) || n < 0 || n > max) throw new UsageError(`${flag} takes a number from 0${max === 100 ? ' to 100' : ''}, not "${value}". ${USAGE}`);
      backups[ASSUMPTION_FLAGS[flag as keyof typeof ASSUMPTION_FLAGS]] = n;
    } else if (flag === '--assembly') args.assembly = value;
    else if (flag === '--base') args.base = value;
    else if (value === 'text' || value === 'markdown') args.format = value;
    else throw new UsageError(`--format must be text or markdown, not "${value}". ${USAGE}`);
  }
  if (!args.assembly) throw new UsageError(`--assembly is required. ${USAGE}`);
  args.backups = backups as unknown as BackupAssumptions;
  return args as Args;
}

const usd = (n: number) => `$${n.toFixed(2)}`;
const signed = (n: number) => `${n >= 0 ? '+' : '-'}$${Math.abs(n).toFixed(2)}`;

function table(format: Args['format'], header: string[], rows: string[][]): string[] {
  if (format === 'markdown') return [`| ${header.join(' | ')} |`, `| ${header.map(() => '---').join(' | ')} |`, ...rows.map((r) => `| ${r.join(' | ')} |`)];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [line(header), ...rows.map(line)];
}

export function render(head: StageCost[], base: StageCost[] | undefined, format: Args['format'], backups: BackupAssumptions = BACKUP_ASSUMPTIONS): string {
  const out: string[] = [format === 'markdown' ? '### Monthly cost estimate' : 'Monthly cost estimate (USD)', ''];
  const baseOf = (stage: string) => base?.find((b) => b.stage === stage);
  const stages = [...new Set([...head.map((h) => h.stage), ...(base ?? []).map((b) => b.stage)])];
  if (base) {
    out.push(
      ...table(
        format,
        ['stage', 'base', 'head', 'change'],
        stages.map((s) => {
          const before = baseOf(s)?.totalUsd ?? 0;
          const after = head.find((h) => h.stage === s)?.totalUsd ?? 0;
          return [s, usd(before), usd(after), signed(after - before)];
        }),
      ),
    );
  } else {
    out.push(
      ...table(
        format,
        ['stage', 'monthly'],
        head.map((h) => [h.stage, usd(h.totalUsd)]),
      ),
    );
  }
  // Anything without a price is said where the totals are: a total that leaves it out is not the whole cost.
  for (const stage of head.filter((h) => h.notPriced.length > 0)) out.push(`${stage.stage}: ${stage.notPriced.length} item(s) not priced, not in its total (listed below)`);
  for (const stage of head) {
    const title = `${stage.stage} (prices: ${stage.priceDates.join(', ')})`;
    out.push('', ...(format === 'markdown' ? [`<details><summary>${title}</summary>`, ''] : [title]));
    const before = baseOf(stage.stage);
    const categories = [...new Set([...stage.byCategory.map(([c]) => c), ...(before?.byCategory ?? []).map(([c]) => c)])];
    const value = (cost: StageCost | undefined, category: string) => cost?.byCategory.find(([c]) => c === category)?.[1] ?? 0;
    out.push(
      ...(base
        ? table(
            format,
            ['item', 'head', 'change'],
            categories.map((c) => [c, usd(value(stage, c)), signed(value(stage, c) - value(before, c))]),
          )
        : table(
            format,
            ['item', 'monthly'],
            categories.map((c) => [c, usd(value(stage, c))]),
          )),
    );
    if (format === 'markdown') out.push('');
    if (stage.notPriced.length > 0) out.push(`not priced: ${stage.notPriced.join('; ')}`);
    if (stage.usageBased.length > 0) out.push(`usage-based, not counted: ${stage.usageBased.join('; ')}`);
    if (format === 'markdown') out.push('', '</details>');
  }
  out.push('', 'Assumptions:', ...[...assumptionLines(), ...backupAssumptionLines(backups)].map((a) => `- ${a}`));
  return out.join('\n');
}

export function run(argv: readonly string[]): { output: string; exitCode: number } {
  try {
    const args = parseArgs(argv);
    const head = estimateAssembly(readAssembly(args.assembly), undefined, args.backups);
    const base = args.base ? estimateAssembly(readAssembly(args.base), undefined, args.backups) : undefined;
    return { output: render(head, base, args.format, args.backups), exitCode: 0 };
  } catch (error) {
    if (error instanceof UsageError) return { output: `cost: ${error.message}`, exitCode: 2 };
    return { output: `cost: could not estimate: ${(error as Error).message}`, exitCode: 2 };
  }
}

/** The command: the estimate on stdout, a refusal on stderr; its exit code. */
export function main(argv = process.argv.slice(2)): number {
  const { output, exitCode } = run(argv);
  (exitCode === 2 ? console.error : console.log)(output);
  return exitCode;
}

if (require.main === module) {
  process.exitCode = main();
}
