import { createHash, createHmac } from 'node:crypto';
import { describe, expect, test } from 'vitest';
import { hmacPads, looksPersonal, refusalMessage, suggestedRule, type UserColumn } from '../../lambda/logical-backup/anonymise';

/**
 * The pure half of the anonymisation rules: what a column's name, type and sampled values say
 * about it, the rule a refusal suggests, the refusal's text and the HMAC key pads. The SQL half
 * (sampling, planning, applying, verifying) is tested against PostgreSQL in
 * logical-backup-anonymise.test.ts.
 */

const column = (name: string, over: Partial<UserColumn> = {}): UserColumn => ({
  schema: 'app',
  table: 't',
  column: name,
  type: 'text',
  typeName: 'text',
  category: 'S',
  notNull: false,
  generated: false,
  maxLength: null,
  ...over,
});

// 15 characters: an email rule writes 'user-' + 12 + '@' + 15 = 33 characters, a name rule 'Person ' + 8 = 15.
const DOMAIN = 'example.invalid';
const TOKEN = 'eyJhbGciOiJIUzI1NiJ9abcdefghijklmnop0123456789';
const UUID = '5f0c6a0e-8a3e-4b6f-9f10-2c4d1e7a9b01';

describe('which sampled values look personal', () => {
  // A column whose name says nothing, so only its content decides.
  const kinds = (value: string) => looksPersonal(column('body'), [value]);

  test.each([
    // Email addresses: a TLD of two letters at least; any subdomain label, digits included.
    ['ada@example.com', 'email addresses'],
    ['write to ops@a1.b22.example.com today', 'email addresses'],
    ['lodash@4.x', null],
    ['@handle', null],
    // Phone numbers: international, or national with a trunk 0, with or without separators.
    ['+44 20 7946 0958', 'phone numbers'],
    ['call 020 7946 0958', 'phone numbers'],
    ['02079460958', 'phone numbers'],
    ['020 79460958', 'phone numbers'],
    ['020-7946 0958', 'phone numbers'],
    ['account 01234567', null],
    ['reference 0000123456789012', null],
    ['2026-12-07 06:00:00', null],
    ['12.50', null],
    // IPv4: each octet 0-255, not part of a longer dotted number.
    ['192.0.2.10', 'IP addresses'],
    ['via 8.8.8.8 today', 'IP addresses'],
    ['255.255.255.255', 'IP addresses'],
    ['203.0.113.249', 'IP addresses'],
    ['10.0.0.99', 'IP addresses'],
    ['256.1.1.1', null],
    ['1.1.1.256', null],
    ['version 1.2.3.4.5', null],
    ['1.2.3', null],
    // IPv6: in full and compressed (as PostgreSQL prints inet), in brackets with a port; not times or paths.
    ['2001:0db8:0000:0000:0000:ff00:0042:8329', 'IP addresses'],
    ['2001:db8::1', 'IP addresses'],
    ['client fe80::1ff:fe23:4567:890a.', 'IP addresses'],
    ['from [2001:db8::1]:443', 'IP addresses'],
    ['2::1', 'IP addresses'],
    ['fe80::1', 'IP addresses'],
    ['from [2::1]:443', 'IP addresses'],
    ['2:0:0:0:0:0:0:1', 'IP addresses'],
    ['seen at 2001:db8::1...', 'IP addresses'],
    ['{192.0.2.10,2001:db8::2}', 'IP addresses'],
    ['12:30:45', null],
    ['2026-12-07T06:26:45Z', null],
    ['std::vector and a::', null],
    ['a ratio of 1.5::2', null],
    ['bound to ::1', null],
    ['1:2:3:4:5:6:7', null],
    // Long tokens: 32 characters or more with digits and letters; a UUID, and only a UUID, is not one.
    [TOKEN, 'long tokens'],
    ['da39a3ee5e6b4b0d3255bfef95601890afd80709', 'long tokens'],
    ['a1b2c3d4e5f6a7b8c9d0a1b2c3d4e5f6', 'long tokens'],
    ['a1b2c3d4e5f6a7b8c9d0a1b2c3d4e5f', null],
    ['abcdefabcdefabcdefabcdefabcdefabcdefabcd', null],
    ['31415926535897932384626433832795', null],
    [UUID, null],
    [UUID.toUpperCase(), null],
    [`tok_${UUID}`, 'long tokens'],
    [`${UUID}--a1b2c3d4`, 'long tokens'],
    ['nothing personal here', null],
  ])('%s: %s', (value, kind) => {
    expect(kinds(value)).toEqual(kind === null ? [] : [`1 of 1 sampled values look like ${kind}`]);
  });

  test('counts the hits among the values sampled, per kind', () => {
    expect(looksPersonal(column('body'), ['ada@example.com', 'none', 'call 020 7946 0958 or grace@example.org'])).toEqual([
      '2 of 3 sampled values look like email addresses',
      '1 of 3 sampled values look like phone numbers',
    ]);
  });
});

describe('the rule a refusal suggests', () => {
  // The column is built and judged inside each test, where a mutation run has its mutant active.
  const text =
    (name: string, sample: string[] = [], over: Partial<UserColumn> = {}) =>
    () => {
      const c = column(name, over);
      return suggestedRule(c, looksPersonal(c, sample), DOMAIN);
    };

  test.each([
    ['an email, even among other kinds', 'email', text('contact', ['ada@example.com', '+44 20 7946 0958'])],
    ["a person's name, even with a phone number in it", 'name', text('contact_name', ['Ada, 020 7946 0958'])],
    ['a phone number', 'redact', text('mobile', ['+44 20 7946 0958'])],
    ['a postal address', 'redact', text('street')],
    ['a token among other kinds', 'null', text('note', [TOKEN, 'call 020 7946 0958'])],
    ['a password', 'null', text('password_hash')],
    ['a secret', 'null', text('client_secret')],
    // What the plan would refuse on this column is not suggested: the next rule that fits is.
    ['an email in a varchar(33)', 'email', text('email', [], { maxLength: 33 })],
    ['an email in a varchar(32)', 'redact', text('email', [], { maxLength: 32 })],
    ["a person's name in a varchar(15)", 'name', text('name', [], { maxLength: 15 })],
    ["a person's name in a varchar(14)", 'redact', text('name', [], { maxLength: 14 })],
    ['a NOT NULL token', 'hash', text('reset_token', [], { notNull: true })],
    ['a NOT NULL token in a varchar(64)', 'hash', text('reset_token', [], { notNull: true, maxLength: 64 })],
    ['a NOT NULL token in a varchar(63)', 'redact', text('reset_token', [], { notNull: true, maxLength: 63 })],
    ['a nullable token in a varchar(9)', 'null', text('reset_token', [], { maxLength: 9 })],
    ['a NOT NULL address in a varchar(9), which no rule fits', 'redact', text('street', [], { notNull: true, maxLength: 9 })],
    ['a generated column', 'keep', text('full_name', [], { generated: true })],
  ])('%s: %s', (_, expected, rule) => {
    expect(rule()).toBe(expected);
  });

  test('a column that is not text gets null, whatever it holds', () => {
    const inet = column('last_ip', { type: 'inet', typeName: 'inet', category: 'I' });
    expect(suggestedRule(inet, looksPersonal(inet, ['192.0.2.10']), DOMAIN)).toBe('null');
    const emails = column('emails', { type: 'text[]', typeName: '_text', category: 'A' });
    expect(suggestedRule(emails, looksPersonal(emails, ['{ada@example.com}']), DOMAIN)).toBe('null');
  });
});

test('the refusal message says problem or problems', () => {
  expect(refusalMessage(['a'])).toBe('Refusing to anonymise: 1 problem with dumps.anonymised.rules in lib/config/stages.ts; no anonymised copy was written.\n  - a');
  expect(refusalMessage(['a', 'b'])).toMatch(/^Refusing to anonymise: 2 problems with/);
});

describe('the HMAC pads', () => {
  // HMAC-SHA256 from the pads as the SQL computes it: sha256(outer || sha256(inner || message)).
  const fromPads = (salt: string, message: string) => {
    const { inner, outer } = hmacPads(salt);
    const innerHash = createHash('sha256').update(inner).update(message, 'utf8').digest();
    return createHash('sha256').update(outer).update(innerHash).digest('hex');
  };

  // A key up to the 64-byte block is used as it is, a longer one hashed first (RFC 2104); in bytes, not characters.
  test.each([
    ['16 bytes', 'k'.repeat(16)],
    ['63 bytes', 'k'.repeat(63)],
    ['64 bytes', 'k'.repeat(64)],
    ['65 bytes', 'k'.repeat(65)],
    ['64 bytes in 32 characters', 'é'.repeat(32)],
    ['66 bytes in 33 characters', 'é'.repeat(33)],
  ])('match node’s HMAC-SHA256 for a key of %s', (_, salt) => {
    expect(fromPads(salt, 'Zoë')).toBe(createHmac('sha256', salt).update('Zoë', 'utf8').digest('hex'));
  });
});
