import { describe, expect, test } from 'vitest';
import { FREE_TYPES, PRICING_MODULES, treatmentOf, USAGE_TYPES } from '../../scripts/lib/pricing/registry';

describe('the pricing registry', () => {
  const priced = PRICING_MODULES.flatMap((m) => m.resourceTypes);

  test('gives each resource type one home: a pricing module, the free list or the usage-based list', () => {
    // A type in two places is priced by whichever the estimate asks first; the other entry lies.
    const homes = [...priced, ...FREE_TYPES, ...USAGE_TYPES];
    expect(homes.filter((type, i) => homes.indexOf(type) !== i)).toEqual([]);
  });

  test('dispatches a type to its module, and says how it treats the rest', () => {
    for (const module of PRICING_MODULES) for (const type of module.resourceTypes) expect(treatmentOf(type)).toEqual({ kind: 'priced', module });
    expect(treatmentOf('AWS::IAM::Role')).toEqual({ kind: 'free' });
    expect(treatmentOf('Custom::AnyProvider')).toEqual({ kind: 'free' });
    expect(treatmentOf('AWS::Lambda::Function')).toEqual({ kind: 'usage-based' });
    expect(treatmentOf('AWS::SQS::Queue')).toEqual({ kind: 'not priced' });
  });
});
