import { describe, expect, test } from 'vitest';
import { isFieldPath, knownKeys, listItemType, listPaths, nearestKey } from '../../lib/config/context-keys';

describe('isFieldPath: what a stage override may name', () => {
  test.each([
    ['database.multiAz', true],
    ['alarms.emails', true],
    // A list item by its index, any number of digits.
    ['alarms.emails.0', true],
    ['alarms.emails.12', true],
    ['network.availabilityZones.2', true],
    // Not an index, not at the end, not of a field, not of a list.
    ['database.multiAz.0', false],
    ['network.0', false],
    ['alarms.emails.x', false],
    ['alarms.emails.0.name', false],
    ['alarms.emails.', false],
    ['alarms.email.0', false],
    ['xalarms.emails.0', false],
    ['database.multi_az', false],
    ['', false],
  ])('%s: %s', (path, known) => {
    expect(isFieldPath(path)).toBe(known);
  });
});

test('the list fields, and what their items are', () => {
  expect(listPaths()).toEqual(expect.arrayContaining(['alarms.emails', 'network.availabilityZones', 'app.httpAllowedCidrs', 'backup.verify.tables']));
  expect(listPaths()).not.toContain('alarms');
  expect([listItemType('alarms.emails'), listItemType('backup.verify.tables'), listItemType('database.multiAz'), listItemType('nothing.here')]).toEqual([
    'string',
    'object',
    undefined,
    undefined,
  ]);
});

describe('nearestKey', () => {
  test('a key that differs only in case and separators is that key', () => {
    expect(nearestKey('PROD_DATABASE_MULTIAZ')).toBe('prod.database.multiAz');
    expect(nearestKey('Staging/Web/DesiredCount')).toBe('staging.web.desiredCount');
  });

  test('stays within the stage the key names, matched case-insensitively at its start', () => {
    expect(nearestKey('Staging.web.min_capacity')).toBe('staging.web.minCapacity');
    expect(nearestKey('dev.web.mincount2')).toMatch(/^dev\./);
  });

  test('prefers the key whose last part matches, then the smallest edit distance', () => {
    expect(nearestKey('dev.multi_az')).toBe('dev.database.multiAz');
    expect(nearestKey('dev.databse.multiAzz')).toBe('dev.database.multiAz');
    expect(nearestKey('imagtag')).toBe('imageTag');
  });

  test('the smallest distance wins among many candidates, not the first or the last', () => {
    const keys = knownKeys();
    expect(keys.indexOf('prod.cache.nodeType')).toBeGreaterThan(0);
    expect(keys.indexOf('prod.cache.nodeType')).toBeLessThan(keys.length - 1);
    expect(nearestKey('prod.cache.nodeTyp')).toBe('prod.cache.nodeType');
    expect(nearestKey('prod.cahce.nodeType')).toBe('prod.cache.nodeType');
  });
});
