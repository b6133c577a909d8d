/**
 * The figures `npm run bench` prints, and the targets they are held to. Measuring lives in
 * scripts/bench.ts (it runs the CLI, the suite and a fresh clone); what a figure is, its target
 * and how the table reads live here, where a test can check them.
 */

/** One measured figure. */
export interface Figure {
  /** What was measured, as the table says it. */
  readonly name: string;
  /** Seconds (or, with `unit`, another unit). Undefined when the measurement was skipped. */
  readonly value?: number;
  /** @default 's' */
  readonly unit?: 's' | 'MB' | 'USD';
  /** The figure must not exceed this (same unit). */
  readonly target?: number;
  /** Resources synthesized, for the synth figures. */
  readonly resources?: number;
  /** The command failed: the figure is not a measurement of a working run. */
  readonly failed?: boolean;
  /** Why the figure was not measured (a skipped option). */
  readonly skipped?: string;
}

/**
 * The targets, on the 2-core machine the project is developed on. docs/architecture.md ("Speed")
 * states them and the method; the figures themselves are only ever printed by the bench.
 */
export const TARGETS = {
  /** `npm test`, the second of two runs (caches warm, no source change in between). */
  testWarm: 45,
  /** `CI=true bash .ci/run` on a fresh clone of main, install included. */
  freshCi: 120,
  /** `npx cdk synth -c stages=dev`, nag and the controls on, warm. */
  synthDev: 5,
  /** `npx cdk synth`, every stage, warm. */
  synthAll: 12,
  /** diff-guard and cost on the full assembly (the pull-request review's tools). */
  reviewTool: 5,
} as const;

/** Whether a figure meets its target: undefined when it has none or was not measured. */
export function verdict(figure: Figure): 'met' | 'OVER' | 'FAILED' | undefined {
  if (figure.failed) return 'FAILED';
  if (figure.value === undefined || figure.target === undefined) return undefined;
  return figure.value <= figure.target ? 'met' : 'OVER';
}

function amount(value: number, unit: NonNullable<Figure['unit']>): string {
  if (unit === 'USD') return `$${value.toFixed(2)}`;
  if (unit === 'MB') return `${value.toFixed(0)} MB`;
  return `${value.toFixed(1)} s`;
}

function cells(f: Figure): [string, string, string, string, string] {
  const unit = f.unit ?? 's';
  const measured = f.value === undefined ? (f.skipped ?? '') : amount(f.value, unit);
  const target = f.target === undefined ? '' : `≤ ${amount(f.target, unit)}`;
  return [f.name, measured, target, verdict(f) ?? '', f.resources === undefined ? '' : String(f.resources)];
}

const HEADER: [string, string, string, string, string] = ['figure', 'measured', 'target', '', 'resources'];

/** The table as text for a terminal, or as Markdown to paste into a note or a pull request. */
export function formatFigures(figures: readonly Figure[], format: 'text' | 'markdown'): string {
  const rows = figures.map(cells);
  if (format === 'markdown') {
    const line = (r: readonly string[]) => `| ${r.join(' | ')} |`;
    return [line(HEADER), line(HEADER.map(() => '---')), ...rows.map(line)].join('\n');
  }
  const widths = HEADER.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const pad = (r: readonly string[]) =>
    r
      .map((c, i) => (i === 1 || i === 4 ? c.padStart(widths[i]) : c.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  return [pad(HEADER), ...rows.map(pad)].join('\n');
}

/** The slowest test files of a vitest JSON report, slowest first, with their seconds. */
export function slowestFiles(report: { testResults: { name: string; startTime: number; endTime: number }[] }, root: string, count = 10): Figure[] {
  return report.testResults
    .map((t) => ({ name: `  ${t.name.startsWith(root) ? t.name.slice(root.length + 1) : t.name}`, value: (t.endTime - t.startTime) / 1000 }))
    .sort((a, b) => b.value - a.value)
    .slice(0, count);
}
