import { beforeAll, describe, expect, test } from 'vitest';
import { STAGE_NAMES } from '../../lib/config';
import { MARKER } from '../../lib/shared/cross-stack-reads';
import { REPLACEMENT_PROPERTIES } from '../../lib/shared/replacement-properties';
import { replacingProperties } from '../../scripts/lib/replacement-spec';
import { ownTemplates, type StageTemplates, synthStage } from '../support/synth';
import { type Json, stageTemplates } from '../support/template';

/** Every Fn::GetStackOutput in a template, with the node that holds it. */
function reads(template: Json): { read: Json; holder: Json }[] {
  const found: { read: Json; holder: Json }[] = [];
  const walk = (node: Json, holder: Json) => {
    if (Array.isArray(node)) for (const n of node) walk(n, node);
    else if (node && typeof node === 'object') {
      if (node['Fn::GetStackOutput']) found.push({ read: node['Fn::GetStackOutput'], holder });
      for (const value of Object.values(node)) walk(value, node);
    }
  };
  walk(template.Resources, undefined);
  walk(template.Outputs, undefined);
  return found;
}

/** The producer markers of a template, by "stack/output". */
function markers(template: Json): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (node: Json) => {
    if (typeof node === 'string' && node.startsWith(MARKER)) {
      const [ref, fingerprint] = node.slice(MARKER.length).split('@');
      out.set(ref, fingerprint);
    } else if (node && typeof node === 'object') for (const value of Object.values(node)) walk(value);
  };
  walk(template);
  return out;
}

const templates = (t: StageTemplates) => ownTemplates(t).map((x) => x.toJSON());

const synthesized = stageTemplates();

describe('cross-stack reads carry their producer fingerprint', () => {
  test.each(STAGE_NAMES)('%s: every Fn::GetStackOutput is joined to an empty marker naming its producer', (name) => {
    const all = templates(synthesized[name]).flatMap(reads);
    expect(all.length).toBeGreaterThan(20);
    for (const { read, holder } of all) {
      // The holder is the Fn::Join list [read, marker]: the value is the read plus "".
      expect(holder).toEqual([
        { 'Fn::GetStackOutput': read },
        { 'Fn::Select': [0, ['', expect.stringMatching(new RegExp(`^${MARKER}${read.StackName}/${read.OutputName}@[0-9a-f]{12}$`))]] },
      ]);
    }
  });

  describe('on two synthesized versions of dev', () => {
    let base: StageTemplates;
    let movedVpc: StageTemplates;
    let biggerDatabase: StageTemplates;
    beforeAll(() => {
      base = synthesized.dev;
      // A new VPC block replaces the VPC, every subnet and every security group in it.
      movedVpc = synthStage('dev', { 'dev.network.cidr': '10.11.0.0/16' });
      // More storage modifies the instance in place.
      biggerDatabase = synthStage('dev', { 'dev.database.allocatedStorageGiB': 40 });
    });

    test('a replaced producer changes the marker of every read of it, down the chain', () => {
      const before = markers(base.app.toJSON());
      const after = markers(movedVpc.app.toJSON());
      const changed = [...after].filter(([ref, fp]) => before.get(ref) !== fp).map(([ref]) => ref);
      // Subnets (network stack), and the database and cache security groups, which sit in the VPC (data stack).
      expect(changed).toEqual(
        expect.arrayContaining([
          expect.stringMatching(/^dev-Network\/.*PrivateSubnet1/),
          expect.stringMatching(/^dev-Data\/.*DatabaseSecurityGroup/),
          expect.stringMatching(/^dev-Data\/.*CacheSecurityGroup/),
        ]),
      );
      // What the VPC does not hold keeps its marker: the uploads bucket, the keys.
      expect(changed.filter((ref) => /Uploads|Key/.test(ref))).toEqual([]);
    });

    test('a change that modifies a producer in place changes no marker', () => {
      for (const stack of ['data', 'app', 'ops'] as const) {
        expect(markers(biggerDatabase[stack].toJSON()), stack).toEqual(markers(base[stack].toJSON()));
      }
    });
  });
});

describe('the table of replacing properties matches the resource specification', () => {
  test('every type the stages synthesize, as `cdk diff` sees it', () => {
    const types = new Set(
      STAGE_NAMES.flatMap((name) => templates(synthesized[name]).flatMap((t) => Object.values(t.Resources as Record<string, { Type: string }>).map((r) => r.Type))),
    );
    const stale = [...types].filter((type) => JSON.stringify(replacingProperties(type)) !== JSON.stringify(REPLACEMENT_PROPERTIES[type]));
    expect(stale, 'run: npx tsx scripts/refresh-replacement-properties.ts').toEqual([]);
  });
});
