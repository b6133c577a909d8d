import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, test } from 'vitest';
import { CACHE_EVENT_RUNBOOK } from '../../lambda/cache-events/forward';
import { STAGE_NAMES, type StageName } from '../../lib/config';
import { DEV_OPERATIONS_OVERRIDES, drAppTier, synthStage } from '../support/synth';
import { type Json, resources, stageTemplates } from '../support/template';

/*
 * Every notification's route (page or ticket) against the table "Routes" of docs/alarms.md, over
 * every stack of every stage: the stage's own (network to ops, the edge in us-east-1, the DR
 * region's), the account baselines and the DR app tier of a failover. A page goes to the paging
 * topic and, for the record, to the ticket topic; a ticket to the ticket topic alone.
 */

const DOC = join(__dirname, '..', '..', 'docs', 'alarms.md');

type Route = 'page' | 'ticket' | 'none';
type Kind = 'alarm' | 'rule' | 'forwarder';

/** One notifying thing as docs/alarms.md lists it: its runbook heading, what it is, its route, the stacks that have it. */
interface Row {
  readonly runbook: string;
  readonly kind: Kind;
  readonly route: Route;
  readonly stacks: string;
}

/** A topic reference: `Ref` to a topic of the template, a fixed ARN, or a cross-stack read of the network stack's topic. */
function topicRoute(ref: Json, t: Template): 'page' | 'ticket' {
  const name = ref?.Ref ? (t.toJSON().Resources[ref.Ref]?.Properties?.TopicName as string) : JSON.stringify(ref);
  if (/webapp-[a-z]+-page(-dr)?\b|PageAlarmsTopic/.test(name ?? '')) return 'page';
  if (/webapp-[a-z]+-alarms(-dr)?\b|AlarmsTopic/.test(name ?? '')) return 'ticket';
  throw new Error(`not a route topic: ${JSON.stringify(ref)}`);
}

/** The route of a list of topics: exactly the paging and the ticket topic, or the ticket topic alone. */
function routeOf(refs: readonly Json[], t: Template, what: string): Route {
  const routes = refs.map((r) => topicRoute(r, t)).sort();
  if (routes.length === 0) return 'none';
  if (JSON.stringify(routes) === '["page","ticket"]') return 'page';
  if (JSON.stringify(routes) === '["ticket"]') return 'ticket';
  throw new Error(`${what} notifies ${routes.join(', ')}: a page goes to the paging and the ticket topic, a ticket to the ticket topic alone`);
}

const runbookOf = (text: string): string => {
  const anchor = /Runbook: docs\/alarms\.md#([a-z0-9-]+)/.exec(text)?.[1];
  if (!anchor) throw new Error(`no runbook link in "${text}"`);
  return anchor;
};

/** What notifies people in one template, with the stack label it is listed under. */
function notifying(t: Template, stack: string): Omit<Row, 'stacks'>[] {
  const found: Omit<Row, 'stacks'>[] = [];
  for (const type of ['AWS::CloudWatch::Alarm', 'AWS::CloudWatch::CompositeAlarm']) {
    for (const { Properties: p } of resources(t, type)) {
      const description = p.AlarmDescription as string;
      // A window of a burn-rate pair feeds a composite: the composite is listed.
      if (p.ActionsEnabled === false && description.includes('Feeds a composite alarm')) continue;
      const route = routeOf(p.AlarmActions ?? [], t, `${stack} ${p.AlarmName}`);
      expect(routeOf(p.OKActions ?? [], t, `${stack} ${p.AlarmName} OK`), `${p.AlarmName}: OK goes where ALARM goes (it resolves the page)`).toBe(route);
      found.push({ runbook: runbookOf(description), kind: 'alarm', route });
    }
  }
  for (const { Properties: p } of resources(t, 'AWS::Events::Rule')) {
    const targets = (p.Targets ?? []) as Json[];
    const topics = targets.filter((x) => /:sns:|Topic/.test(JSON.stringify(x.Arn)));
    if (topics.length === 0) continue;
    expect(topics, `${stack} rule ${p.Description}: every target of a notifying rule is a route topic`).toHaveLength(targets.length);
    const texts = new Set(topics.map((x) => x.InputTransformer?.InputTemplate as string));
    expect(texts.size, `${stack} rule ${p.Description}: one message to every topic`).toBe(1);
    found.push({
      runbook: runbookOf([...texts][0]),
      kind: 'rule',
      route: routeOf(
        topics.map((x) => x.Arn),
        t,
        `${stack} rule ${p.Description}`,
      ),
    });
  }
  for (const { Properties: p } of resources(t, 'AWS::Lambda::Function')) {
    const topic = p.Environment?.Variables?.ALARM_TOPIC_ARN;
    if (!topic) continue;
    // The only function that publishes to a route: ElastiCache's events, forwarded (lib/data/cache-events.ts).
    expect(p.Description, `${stack}: a function that publishes to a route topic`).toMatch(/^Forwards the [a-z]+ cache's failover and maintenance events/);
    found.push({ runbook: CACHE_EVENT_RUNBOOK, kind: 'forwarder', route: routeOf([topic], t, `${stack} ${p.Description}`) });
  }
  return found;
}

/** Every notifying thing of every stack of every stage, one row per runbook, kind and route, with the stacks that have it. */
function codeRows(stages: Record<StageName, ReturnType<typeof synthStage>>, drApps: Map<StageName, Template>, variants: readonly Template[]): Row[] {
  const seen = new Map<string, Set<string>>();
  const add = (t: Template, stack: string) => {
    for (const n of notifying(t, stack)) {
      const key = `${n.runbook}|${n.kind}|${n.route}`;
      seen.set(key, (seen.get(key) ?? new Set()).add(stack));
    }
  };
  for (const name of STAGE_NAMES) {
    const s = stages[name];
    const own: [string, Template | undefined][] = [
      ['Network', s.network],
      ['Dr', s.dr],
      ['PilotLight', s.pilotLight],
      ['Data', s.data],
      ['App', s.app],
      ['Edge', s.edge],
      ['Ops', s.ops],
      ['DrApp', drApps.get(name)],
    ];
    for (const [stack, t] of own) if (t) add(t, stack);
    for (const [stackName, t] of s.shared) add(t, stackName.startsWith('Baseline-') ? 'Baseline' : stackName);
  }
  for (const t of variants) add(t, 'Ops');
  return [...seen].map(([key, stacks]) => {
    const [runbook, kind, route] = key.split('|');
    return { runbook, kind: kind as Kind, route: route as Route, stacks: [...stacks].sort().join(', ') };
  });
}

/** The table of docs/alarms.md, "Routes": `| [runbook](#runbook) | kind | route | stacks |`. */
function docRows(doc: string): Row[] {
  const section = /^## Routes\n([\s\S]*?)(?=^## )/m.exec(doc)?.[1];
  if (!section) throw new Error('docs/alarms.md has no "## Routes" section');
  return [...section.matchAll(/^\| \[([a-z0-9-]+)\]\(#([a-z0-9-]+)\) \| (\w+) \| (\w+) \| ([^|]+) \|$/gm)].map((m) => {
    expect(m[2], `the link of ${m[1]}`).toBe(m[1]);
    return { runbook: m[1], kind: m[3] as Kind, route: m[4] as Route, stacks: m[5].trim() };
  });
}

/** The table as docs/alarms.md should have it, sorted by runbook and kind. */
function routesTable(rows: readonly Row[]): string {
  const sorted = [...rows].sort((a, b) => a.runbook.localeCompare(b.runbook) || a.kind.localeCompare(b.kind) || a.route.localeCompare(b.route));
  return [
    '| runbook | kind | route | stacks |',
    '| --- | --- | --- | --- |',
    ...sorted.map((r) => `| [${r.runbook}](#${r.runbook}) | ${r.kind} | ${r.route} | ${r.stacks} |`),
  ].join('\n');
}

/**
 * The severity a runbook's own first line states ("`<stage>-db-cpu`, ticket: ..."), where it
 * states one: it must not contradict the route.
 */
function statedSeverities(doc: string): Map<string, string> {
  const stated = new Map<string, string>();
  for (const m of doc.matchAll(/^### ([a-z0-9-]+)\n`[^`]+`(?: \([^)]*\))?, (page|ticket)\b/gm)) stated.set(m[1], m[2]);
  return stated;
}

const stages = stageTemplates();

describe('docs/alarms.md, "Routes"', () => {
  const doc = readFileSync(DOC, 'utf8');
  let rows: Row[] = [];
  const drApps = new Map<StageName, Template>();
  test('lists every alarm, rule and forwarder of every stack of every stage with the route it has in code, and nothing else', () => {
    for (const name of STAGE_NAMES) if (stages[name].pilotLight) drApps.set(name, synthStage(name, drAppTier(name)).drApp!);
    expect(drApps.size, 'a stage with a DR app tier to check').toBeGreaterThan(0);
    // The dev variant with other alarm settings (a pager, no emails) adds its routes to the table.
    rows = codeRows(stages, drApps, [synthStage('dev', DEV_OPERATIONS_OVERRIDES).ops]);
    expect(rows.filter((r) => r.stacks.includes('Edge')).length, 'the edge stack notifies').toBeGreaterThan(0);
    expect(rows.filter((r) => r.stacks.includes('DrApp')).length, 'the DR app tier notifies').toBeGreaterThan(0);
    const expected = routesTable(rows);
    const actual = routesTable(docRows(doc));
    // On a difference, the message is the table to paste into docs/alarms.md.
    expect(actual, `docs/alarms.md "## Routes" should read:\n\n${expected}\n`).toBe(expected);
  });

  test('a runbook that states its severity states its route, and a runbook has one route per kind', () => {
    const table = docRows(doc);
    for (const [runbook, severity] of statedSeverities(doc)) {
      const routes = new Set(table.filter((r) => r.runbook === runbook && r.kind !== 'rule').map((r) => r.route));
      if (routes.size === 0) continue;
      expect([...routes], `docs/alarms.md "${runbook}" says ${severity}`).toEqual([severity]);
    }
    const kinds = table.map((r) => `${r.runbook} ${r.kind}`);
    expect(
      kinds.filter((k, i) => kinds.indexOf(k) !== i),
      'one route per runbook and kind',
    ).toEqual([]);
  });

  test('every runbook of the table is a heading', () => {
    const headings = new Set([...doc.matchAll(/^### ([a-z0-9-]+)$/gm)].map((m) => m[1]));
    for (const r of docRows(doc)) expect(headings.has(r.runbook), `docs/alarms.md has no "### ${r.runbook}"`).toBe(true);
  });
});
