import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { STAGE_NAMES } from '../lib/config';
import { MAJOR_UPGRADE_RUNBOOK } from '../lib/data/engine-version';
import { PROJECT_ROOT } from '../lib/shared/paths';
import { parseArgs as contain } from '../scripts/contain';
import { parseArgs as cost } from '../scripts/cost';
import { parseArgs as dbShell } from '../scripts/db-shell';
import { parseArgs as deploy } from '../scripts/deploy';
import { parseArgs as guard } from '../scripts/diff-guard';
import { parseArgs as drImages } from '../scripts/dr-images';
import { parseArgs as evidence } from '../scripts/evidence';
import { parseArgs as failback } from '../scripts/failback';
import { parseArgs as failover } from '../scripts/failover';
import { parseArgs as failoverDrill } from '../scripts/failover-drill';
import { DIAGRAM_END, DIAGRAM_START, type DiagramStack, diagram, STAGE_STACK_ORDER } from '../scripts/lib/diagram';
import { parseArgs as local } from '../scripts/local';
import { parseArgs as natImage } from '../scripts/nat-image';
import { parseArgs as preflight } from '../scripts/preflight';
import { parseArgs as refreshStaging } from '../scripts/refresh-staging';
import { parseArgs as releaseTag } from '../scripts/release-tag';
import { parseArgs as repairSql } from '../scripts/repair-sql';
import { parseArgs as restart } from '../scripts/restart';
import { parseArgs as restoreDatabase } from '../scripts/restore-database';
import { parseArgs as restoreDrill } from '../scripts/restore-drill';
import { parseArgs as rollback } from '../scripts/rollback';
import { parseArgs as snapshots } from '../scripts/snapshots';
import { docTexts, isSynopsis, npmArgv, npmCommands } from './support/doc-commands';
import { stageTemplates } from './support/template';

/**
 * What the docs tell people to run and where they send them must exist: every `npm run` command
 * in README.md and docs/ names a script of package.json and, for the operator scripts, parses
 * with the flags it shows; every stack output a runbook cites is in the synthesized templates.
 */
const texts = docTexts();
const scripts = JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8')).scripts as Record<string, string>;
const PARSERS: Record<string, (argv: readonly string[]) => unknown> = {
  deploy,
  rollback,
  'db-shell': dbShell,
  preflight,
  restore: restoreDatabase,
  'restore-drill': restoreDrill,
  cost,
  guard,
  'release-tag': releaseTag,
  'dr-images': drImages,
  'nat-image': natImage,
  failover,
  failback,
  'failover-drill': failoverDrill,
  'refresh-staging': refreshStaging,
  local,
  'repair-sql': repairSql,
  snapshots,
  restart,
  contain,
  evidence,
};

const commands = () => npmCommands(texts);
const argv = (args: string) => npmArgv(args);

test('the runbook the engine-version refusals name exists', () => {
  const heading = /"([^"]+)"$/.exec(MAJOR_UPGRADE_RUNBOOK)![1];
  expect(readFileSync(join(PROJECT_ROOT, 'docs', 'runbooks.md'), 'utf8')).toMatch(new RegExp(`^## ${heading.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`, 'm'));
});

describe('the docs', () => {
  const all = commands();

  test('show npm commands, each of a script package.json has', () => {
    expect(all.length).toBeGreaterThan(30);
    expect(all.filter((c) => !(c.name in scripts) && !c.name.endsWith(':')).map((c) => `${c.file}: ${c.line}`)).toEqual([]);
  });

  test('show each operator command with flags its script accepts', () => {
    const runnable = all.filter((c) => c.name in PARSERS && c.args !== '' && !isSynopsis(c.args));
    expect(new Set(runnable.map((c) => c.name))).toEqual(
      new Set([
        'deploy',
        'rollback',
        'db-shell',
        'preflight',
        'restore',
        'restore-drill',
        'cost',
        'release-tag',
        'nat-image',
        'dr-images',
        'failover',
        'failback',
        'failover-drill',
        'refresh-staging',
        'local',
        'repair-sql',
        'snapshots',
        'restart',
        'contain',
        'evidence',
      ]),
    );
    const broken = runnable.flatMap((c) => {
      try {
        PARSERS[c.name](argv(c.args));
        return [];
      } catch (error) {
        return [`${c.file}: ${c.line}: ${(error as Error).message}`];
      }
    });
    expect(broken).toEqual([]);
  });

  test('the placeholder filling cannot hide a bad flag', () => {
    expect(() => deploy(argv('--stage <stage> --only Web'))).toThrow(/--only takes a stack/);
    expect(() => rollback(argv('--stage <stage> --fats'))).toThrow(/unknown argument "--fats"/);
  });
});

describe('the stack outputs the docs cite', () => {
  const stages = stageTemplates(STAGE_NAMES);
  // A stage's stack (`<stage>-App`), or the account's baseline (`Baseline-<account>-<region>`, as "Baseline").
  const stack = '`(?:<stage>-(\\w+)|(Baseline)-<account>-<region>)`';
  const cited = texts.flatMap(({ file, text }) =>
    [...text.matchAll(new RegExp(`\`([A-Z][A-Za-z]+)\` outputs? of ${stack}|outputs? \`([A-Z][A-Za-z]+)\` of ${stack}`, 'g'))].map((m) => ({
      file,
      output: m[1] ?? m[4],
      stack: m[2] ?? m[3] ?? m[5] ?? m[6],
    })),
  );
  const both = texts.flatMap(({ file, text }) =>
    [...text.matchAll(new RegExp(`\`([A-Z][A-Za-z]+)\` and \`([A-Z][A-Za-z]+)\` outputs of ${stack}`, 'g'))].flatMap((m) => [
      { file, output: m[1], stack: m[3] ?? m[4] },
      { file, output: m[2], stack: m[3] ?? m[4] },
    ]),
  );

  test('exist in every stage that has what they name', () => {
    const citations = [...cited, ...both];
    expect(citations.length).toBeGreaterThanOrEqual(6);
    expect(citations.filter((c) => c.stack === 'Baseline').length).toBeGreaterThanOrEqual(4);
    const missing = citations.filter(({ output, stack }) => {
      if (stack === 'Baseline') {
        const baselines = STAGE_NAMES.flatMap((name) => [...stages[name].shared].filter(([n]) => n.startsWith('Baseline-')).map(([, t]) => t));
        return !baselines.some((t) => output in (t.toJSON().Outputs ?? {}));
      }
      // The stack's role in StageTemplates: `Network` is `network`, `PilotLight` is `pilotLight`.
      const role = `${stack[0].toLowerCase()}${stack.slice(1)}` as 'app';
      const stacks = STAGE_NAMES.map((name) => stages[name][role] ?? undefined).filter((t) => t !== undefined);
      return stacks.length === 0 || !stacks.some((t) => output in (t.toJSON().Outputs ?? {}));
    });
    expect(missing).toEqual([]);
  });
});

describe('the architecture diagram in README.md', () => {
  const stages = stageTemplates(['prod']);

  test('is what the app synthesizes for prod and its account (regenerate it with npm run docs:diagram)', () => {
    const { stage, network, data, app, ops, dr, pilotLight, drApp, edge, shared } = stages.prod;
    const synthesized = {
      Network: [stage.network, network],
      Dr: [stage.dr, dr],
      PilotLight: [stage.pilotLight, pilotLight],
      DrApp: [stage.drApp, drApp],
      Data: [stage.data, data],
      App: [stage.app, app],
      Edge: [stage.edge, edge],
      Ops: [stage.ops, ops],
    } as const;
    const stageStacks: DiagramStack[] = STAGE_STACK_ORDER.flatMap((part) => {
      const [stack, template] = synthesized[part];
      return stack && template ? [{ name: stack.stackName, region: stack.region, template: template.toJSON() }] : [];
    });
    const accountStacks = stage.shared
      .filter((s) => s.account === stage.config.account)
      .map((s) => ({ name: s.stackName, region: s.region, template: shared.get(s.stackName)!.toJSON() }));
    const expected = diagram(stage.config.account, stage.config.region, stageStacks, accountStacks);
    const readme = readFileSync(join(PROJECT_ROOT, 'README.md'), 'utf8');
    const start = readme.indexOf(DIAGRAM_START);
    const end = readme.indexOf(DIAGRAM_END);
    expect(start, 'README.md lost its diagram markers').toBeGreaterThanOrEqual(0);
    expect(readme.slice(start + DIAGRAM_START.length + 1, end).trim()).toBe(expected);
    expect(expected).toContain('prod_App');
    expect(expected).toContain('Baseline_333333333333_eu_west_1');
  });
});

/** Markdown and code that cite a section as `<file>, "<heading>"`, e.g. docs/runbooks.md, "Reach the database". */
const CITING = ['README.md', 'CONTRIBUTING.md', 'docs', 'lib', 'scripts', 'lambda', 'bin', '.github'];
const CITATION = /\b(README|CONTRIBUTING\.md|docs\/[a-z-]+\.md),? "([^"\n]+)"/g;

function textFiles(path: string): string[] {
  const full = join(PROJECT_ROOT, path);
  if (!statSync(full).isDirectory()) return [path];
  return readdirSync(full).flatMap((entry) => (entry === 'node_modules' ? [] : textFiles(join(path, entry))));
}

describe('the docs point where the text is', () => {
  const sources = CITING.flatMap(textFiles).filter((f) => /\.(md|ts|ya?ml|sh|json)$/.test(f));

  test('every section a file cites is a heading of the file it names', () => {
    const broken: string[] = [];
    let count = 0;
    for (const source of sources) {
      for (const [, cited, heading] of readFileSync(join(PROJECT_ROOT, source), 'utf8').matchAll(CITATION)) {
        count++;
        const target = cited === 'README' ? 'README.md' : cited;
        const headings = existsSync(join(PROJECT_ROOT, target)) ? [...readFileSync(join(PROJECT_ROOT, target), 'utf8').matchAll(/^#+ (.+)$/gm)].map((m) => m[1].toLowerCase()) : [];
        if (!headings.some((h) => h.startsWith(heading.toLowerCase()))) broken.push(`${source}: ${cited}, "${heading}"`);
      }
    }
    expect(count).toBeGreaterThan(50);
    expect(broken).toEqual([]);
  });

  test('every relative link of the README and docs/ names a file that exists', () => {
    const broken = texts.flatMap(({ file, text }) =>
      [...text.matchAll(/\]\(((?!https?:|#)[^)#\s]+)/g)].map((m) => join(file.includes('/') ? 'docs' : '.', m[1])).filter((target) => !existsSync(join(PROJECT_ROOT, target))),
    );
    expect(broken).toEqual([]);
  });
});

describe("the README's layout", () => {
  const readme = readFileSync(join(PROJECT_ROOT, 'README.md'), 'utf8');
  const section = /<!-- layout:start[^\n]*\n```\n([\s\S]*?)```\n<!-- layout:end -->/.exec(readme)?.[1] ?? '';
  const paths = section.split('\n').flatMap((line) => (line.trim() ? [line.split(/\s+/)[0]] : []));

  test('names only paths that exist', () => {
    expect(paths.length).toBeGreaterThan(10);
    expect(paths.filter((path) => !existsSync(join(PROJECT_ROOT, path)))).toEqual([]);
  });

  test('names every folder of lib/ and every top-level folder the layout rule fixes', () => {
    const folders = readdirSync(join(PROJECT_ROOT, 'lib'), { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? [`lib/${e.name}/`] : []));
    expect(folders.filter((folder) => !paths.includes(folder))).toEqual([]);
    for (const top of ['bin/app.ts', 'lambda/', 'scripts/', 'test/', 'docs/']) expect(paths).toContain(top);
  });
});
