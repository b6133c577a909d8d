import { createHmac } from 'node:crypto';
import { Client } from 'pg';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { type AnonymisationRules, applyAnonymisation, hmacPads, planAnonymisation, refusalMessage, userColumns, verifyAnonymised } from '../../lambda/logical-backup/anonymise';
import { type LocalPostgres, startPostgres } from '../support/pglite';

// Two PostgreSQL servers (PGlite with pgvector): the restored raw dump ("source") and the copy the
// rules are applied to, as the job has them in two databases of its local server.
let source: LocalPostgres;
let copy: LocalPostgres;
let src: Client;
let dst: Client;

const SALT = 'a-salt-of-enough-length-0123456789';
const DOMAIN = 'example.invalid';

/** A small app schema with personal data in the usual places, and columns that are not personal. */
const FIXTURE = `
  CREATE EXTENSION IF NOT EXISTS vector;
  CREATE SCHEMA app;
  CREATE TABLE app.users (
    id bigserial PRIMARY KEY,
    email text NOT NULL UNIQUE,
    full_name text,
    phone varchar(64),
    last_ip inet,
    postcode varchar(10),
    status text NOT NULL DEFAULT 'active',
    created_at timestamptz NOT NULL DEFAULT '2026-12-01T10:00:00Z'
  );
  CREATE TABLE app.notes (id bigserial PRIMARY KEY, user_id bigint REFERENCES app.users (id), body text, embedding vector(3));
  CREATE TABLE app.plans (id int PRIMARY KEY, label text, price_cents int NOT NULL);
  CREATE TABLE app.audit (id bigserial PRIMARY KEY, note text);
  CREATE FUNCTION app.audit_users() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN INSERT INTO app.audit (note) VALUES (OLD.email); RETURN NEW; END $$;
  CREATE TRIGGER users_audit AFTER UPDATE ON app.users FOR EACH ROW EXECUTE FUNCTION app.audit_users();
  INSERT INTO app.users (email, full_name, phone, last_ip) VALUES
    ('Ada@Example.com', 'Ada Lovelace', '+44 20 7946 0958', '192.0.2.10'),
    ('grace@example.org', 'Grace Hopper', NULL, NULL),
    ('alan@example.net', NULL, '020 7946 0000', '2001:db8::1');
  INSERT INTO app.notes (user_id, body, embedding) VALUES
    (1, 'call me at ada@example.com', '[1,2,3]'),
    (2, 'nothing personal here', '[1,2,4]'),
    (3, NULL, NULL);
  INSERT INTO app.plans VALUES (1, 'Basic', 500), (2, 'Team 2026-12-07 06:00:00', 1500);
`;

/** The rules that cover every personal column of the fixture. */
const RULES: AnonymisationRules = {
  'app.users': { email: 'email', full_name: 'name', phone: 'hash', last_ip: 'null', postcode: 'null' },
  'app.notes': { body: 'redact', embedding: 'null' },
};

const hmac = (value: string) => createHmac('sha256', SALT).update(value, 'utf8').digest('hex');

async function connect(server: LocalPostgres): Promise<Client> {
  const client = new Client({ host: server.host, port: server.port, user: 'postgres', database: 'postgres' });
  await client.connect();
  return client;
}

beforeAll(async () => {
  [source, copy] = await Promise.all([startPostgres(), startPostgres()]);
  [src, dst] = await Promise.all([connect(source), connect(copy)]);
  await src.query(FIXTURE);
  await dst.query(FIXTURE);
});
afterAll(async () => {
  await Promise.all([src?.end(), dst?.end()]);
  await Promise.all([source?.stop(), copy?.stop()]);
});

describe('which columns look personal', () => {
  test('lists the user tables’ columns, not the catalog’s or an extension’s', async () => {
    const columns = await userColumns(src);
    expect([...new Set(columns.map((c) => `${c.schema}.${c.table}`))]).toEqual(['app.audit', 'app.notes', 'app.plans', 'app.users']);
    expect(columns.find((c) => c.column === 'embedding')).toMatchObject({ type: 'vector(3)', typeName: 'vector' });
  });

  test('without rules, every personal-looking column is refused with why and the fix; the others are not', async () => {
    const plan = await planAnonymisation(src, {}, DOMAIN);
    const named = plan.refusals.map((r) => r.split(' ')[0]);
    expect(named).toEqual(['app.notes.body', 'app.notes.embedding', 'app.users.email', 'app.users.full_name', 'app.users.phone', 'app.users.last_ip', 'app.users.postcode']);
    expect(plan.refusals).toContain(
      "app.users.email (text) looks personal: its name looks like an email address; 3 of 3 sampled values look like email addresses. Fix: add 'app.users': { email: 'email' } to dumps.anonymised.rules in lib/config/stages.ts ('keep' if it is not personal)",
    );
    const why = (column: string) => plan.refusals.find((r) => r.startsWith(column));
    expect(why('app.users.full_name')).toMatch(/its name looks like a person's name.*Fix: add 'app\.users': \{ full_name: 'name' \}/);
    expect(why('app.users.phone')).toMatch(/its name looks like a phone number; 2 of 2 sampled values look like phone numbers\. Fix: add 'app\.users': \{ phone: 'redact' \}/);
    expect(why('app.users.last_ip')).toMatch(/its name looks like an IP address; its type inet holds IP addresses\. Fix: add 'app\.users': \{ last_ip: 'null' \}/);
    expect(why('app.notes.embedding')).toMatch(/embeddings of personal text are personal/);
    // Found by content alone: a free-text column holding an address.
    expect(why('app.notes.body')).toMatch(/^app\.notes\.body \(text\) looks personal: 1 of 2 sampled values look like email addresses\./);
    expect(plan.refusals.join('\n')).not.toMatch(/app\.users\.(id|status|created_at)|app\.plans/);
  });

  test('the refusal message names each problem on its own line and that nothing was written', () => {
    expect(refusalMessage(['a', 'b'])).toBe('Refusing to anonymise: 2 problems with dumps.anonymised.rules in lib/config/stages.ts; no anonymised copy was written.\n  - a\n  - b');
  });

  test('content is sampled: tokens, IPv4 in text, but dates, UUIDs and prices pass', async () => {
    await src.query(`CREATE TABLE app.sessions (id int, ref text, origin text, seen text, key_id text, amount text)`);
    try {
      await src.query(
        `INSERT INTO app.sessions VALUES (1, 'eyJhbGciOiJIUzI1NiJ9abcdefghijklmnop0123456789', 'from 198.51.100.7', '2026-12-07T06:26:45Z', '5f0c6a0e-8a3e-4b6f-9f10-2c4d1e7a9b01', '12.50')`,
      );
      const plan = await planAnonymisation(src, { ...RULES, 'app.audit': { note: 'null' } }, DOMAIN);
      expect(plan.refusals.map((r) => r.split(' (')[0])).toEqual(['app.sessions.ref', 'app.sessions.origin']);
      expect(plan.refusals[0]).toMatch(/1 of 1 sampled values look like long tokens/);
      expect(plan.refusals[1]).toMatch(/1 of 1 sampled values look like IP addresses/);
    } finally {
      await src.query('DROP TABLE app.sessions');
    }
  });

  test('arrays and JSON are sampled as text; numbers and booleans are not', async () => {
    await src.query(`CREATE TABLE app.events (id int, tags text[], payload json, meta jsonb, hits int, ok boolean)`);
    try {
      await src.query(`INSERT INTO app.events VALUES (1, '{ada@example.com}', '{"to": "grace@example.org"}', '{"from": "192.0.2.10"}', 2026, true)`);
      const plan = await planAnonymisation(src, { ...RULES, 'app.audit': { note: 'keep' } }, DOMAIN);
      expect(plan.refusals.map((r) => r.split(': ')[0])).toEqual([
        'app.events.tags (text[]) looks personal',
        'app.events.payload (json) looks personal',
        'app.events.meta (jsonb) looks personal',
      ]);
      expect(plan.refusals[2]).toMatch(/1 of 1 sampled values look like IP addresses\. Fix: add 'app\.events': \{ meta: 'null' \}/);
    } finally {
      await src.query('DROP TABLE app.events');
    }
  });

  test('rules on a missing table or column are warnings, not refusals', async () => {
    const plan = await planAnonymisation(
      src,
      {
        ...RULES,
        'app.audit': { note: 'null' },
        'app.gone': { email: 'email' },
        'app.users': { ...RULES['app.users'], mail: 'email' },
        // Another table has the column; this one does not.
        'app.plans': { email: 'email' },
      },
      DOMAIN,
    );
    expect(plan.refusals).toEqual([]);
    expect(plan.warnings).toEqual([
      'dumps.anonymised.rules in lib/config/stages.ts names the column app.users.mail, which the dump does not have (renamed or dropped?); its rule was not used',
      'dumps.anonymised.rules in lib/config/stages.ts names the table app.gone, which the dump does not have (renamed or dropped?); its rules were not used',
      'dumps.anonymised.rules in lib/config/stages.ts names the column app.plans.email, which the dump does not have (renamed or dropped?); its rule was not used',
    ]);
  });

  test('a rule that cannot apply is refused with its fix: text rules on other types, null on NOT NULL', async () => {
    const plan = await planAnonymisation(
      src,
      {
        ...RULES,
        'app.audit': { note: 'keep' },
        'app.plans': { price_cents: 'redact', label: 'keep', id: 'hash' },
        'app.users': { ...RULES['app.users'], email: 'null', postcode: 'hash' },
      },
      DOMAIN,
    );
    expect(plan.refusals).toEqual([
      "app.plans.id is integer, not text: rule 'hash' writes text. Fix: use 'null' (or 'keep' if it is not personal) for it in dumps.anonymised.rules in lib/config/stages.ts",
      "app.plans.price_cents is integer, not text: rule 'redact' writes text. Fix: use 'null' (or 'keep' if it is not personal) for it in dumps.anonymised.rules in lib/config/stages.ts",
      "app.users.email is NOT NULL: rule 'null' cannot apply. Fix: use 'hash' or 'redact' for it in dumps.anonymised.rules in lib/config/stages.ts (text only), or make the column nullable",
      "app.users.postcode is character varying(10): rule 'hash' writes 64 characters. Fix: use 'null' or a rule that writes fewer characters for it in dumps.anonymised.rules in lib/config/stages.ts, or widen the column",
    ]);
  });

  test('a text rule must fit a varchar(n) to the character; a generated column can only be kept', async () => {
    // DOMAIN has 15 characters: an email rule writes 'user-' + 12 + '@' + 15 = 33, a name rule 'Person ' + 8 = 15.
    await src.query(`CREATE TABLE app.fits (id int, email_fits varchar(33), email_short varchar(32), name_fits varchar(15), name_short varchar(14),
                                            full_label text GENERATED ALWAYS AS (id::text || ' label') STORED)`);
    try {
      const rules = { ...RULES, 'app.audit': { note: 'keep' } } as const;
      const fits = { email_fits: 'email', email_short: 'email', name_fits: 'name', name_short: 'name' } as const;
      const plan = await planAnonymisation(src, { ...rules, 'app.fits': { ...fits, full_label: 'redact' } }, DOMAIN);
      expect(plan.refusals).toEqual([
        "app.fits.email_short is character varying(32): rule 'email' writes 33 characters. Fix: use 'null' or a rule that writes fewer characters for it in dumps.anonymised.rules in lib/config/stages.ts, or widen the column",
        "app.fits.name_short is character varying(14): rule 'name' writes 15 characters. Fix: use 'null' or a rule that writes fewer characters for it in dumps.anonymised.rules in lib/config/stages.ts, or widen the column",
        "app.fits.full_label is a generated column, computed from others: rule 'redact' cannot write it. Fix: give it 'keep' in dumps.anonymised.rules in lib/config/stages.ts and rule the columns it is computed from",
      ]);
      expect(plan.changed.filter((c) => c.table === 'fits').map((c) => c.column)).toEqual(['email_fits', 'name_fits']);
      const kept = await planAnonymisation(src, { ...rules, 'app.fits': { ...fits, email_short: 'null', name_short: 'null', full_label: 'keep' } }, DOMAIN);
      expect(kept.refusals).toEqual([]);
    } finally {
      await src.query('DROP TABLE app.fits');
    }
  });

  test('the rule each refusal suggests is one the plan accepts on that column', async () => {
    await src.query(`CREATE TABLE app.accounts (id int, work_email varchar(32), nickname varchar(14), reset_token text NOT NULL, api_key varchar(40) NOT NULL,
                                                first_name text, last_name text, full_name text GENERATED ALWAYS AS (first_name || ' ' || last_name) STORED)`);
    try {
      await src.query(`INSERT INTO app.accounts VALUES (1, 'ada@example.com', 'ada', '${'a1'.repeat(20)}', '${'b2'.repeat(20)}', 'Ada', 'Lovelace')`);
      const rules = { ...RULES, 'app.audit': { note: 'keep' } } as const;
      const uncovered = await planAnonymisation(src, rules, DOMAIN);
      const suggested = Object.fromEntries(uncovered.refusals.map((r) => r.match(/Fix: add 'app\.accounts': \{ (\w+): '(\w+)' \}/)?.slice(1, 3) ?? [r, '']));
      expect(suggested).toEqual({
        work_email: 'redact',
        nickname: 'redact',
        reset_token: 'hash',
        api_key: 'redact',
        first_name: 'name',
        last_name: 'name',
        full_name: 'keep',
      });
      expect(uncovered.refusals.find((r) => r.startsWith('app.accounts.full_name'))).toMatch(
        /Fix: add 'app\.accounts': \{ full_name: 'keep' \} to dumps\.anonymised\.rules in lib\/config\/stages\.ts and rule the columns it is computed from \(a generated column cannot be written\)$/,
      );
      expect((await planAnonymisation(src, { ...rules, 'app.accounts': suggested }, DOMAIN)).refusals).toEqual([]);
    } finally {
      await src.query('DROP TABLE app.accounts');
    }
  });
});

describe('applying the rules and verifying the copy', () => {
  const rules: AnonymisationRules = { ...RULES, 'app.audit': { note: 'keep' } };

  test('the pads make the SQL hash an HMAC-SHA256 keyed by the salt', async () => {
    const { inner, outer } = hmacPads(SALT);
    const { rows } = await dst.query(`SELECT encode(sha256($2::bytea || sha256($1::bytea || convert_to($3, 'UTF8'))), 'hex') AS h`, [inner, outer, 'Zoë']);
    expect(rows[0].h).toBe(hmac('Zoë'));
    const long = 'k'.repeat(100);
    const pads = hmacPads(long);
    const again = await dst.query(`SELECT encode(sha256($2::bytea || sha256($1::bytea || convert_to($3, 'UTF8'))), 'hex') AS h`, [pads.inner, pads.outer, 'x']);
    expect(again.rows[0].h).toBe(createHmac('sha256', long).update('x').digest('hex'));
  });

  test('a failing rule changes nothing (one transaction)', async () => {
    // The users update runs after the notes one: the notes must be rolled back too.
    await dst.query("ALTER TABLE app.users ADD CONSTRAINT no_fakes CHECK (full_name NOT LIKE 'Person %')");
    try {
      const plan = await planAnonymisation(dst, rules, DOMAIN);
      await expect(applyAnonymisation(dst, plan, { salt: SALT, reservedDomain: DOMAIN })).rejects.toThrow(
        /^Anonymising failed, nothing was changed: new row for relation "users" violates check constraint "no_fakes"/,
      );
      expect((await dst.query('SELECT body FROM app.notes ORDER BY id')).rows.map((r) => r.body)).toEqual(['call me at ada@example.com', 'nothing personal here', null]);
      const { rows } = await dst.query('SELECT email FROM app.users ORDER BY id');
      expect(rows.map((r) => r.email)).toEqual(['Ada@Example.com', 'grace@example.org', 'alan@example.net']);
    } finally {
      await dst.query('ALTER TABLE app.users DROP CONSTRAINT no_fakes');
    }
  });

  test('a short salt is refused before anything changes', async () => {
    const plan = await planAnonymisation(dst, rules, DOMAIN);
    await expect(applyAnonymisation(dst, plan, { salt: 'short', reservedDomain: DOMAIN })).rejects.toThrow(
      'The anonymisation salt is 5 characters long; at least 16 are needed. Fix: store a long random value in the salt secret.',
    );
    await expect(applyAnonymisation(dst, plan, { salt: 's'.repeat(15), reservedDomain: DOMAIN })).rejects.toThrow(/^The anonymisation salt is 15 characters long/);
  });

  test('a salt of exactly the minimum length is used; a table with only hashes binds only the pads', async () => {
    await dst.query(`CREATE TABLE app.tokens (id int PRIMARY KEY, reset_token text)`);
    try {
      await dst.query(`INSERT INTO app.tokens VALUES (1, 'r-1'), (2, NULL)`);
      const salt = 's'.repeat(16);
      const columns = (await userColumns(dst)).filter((c) => c.table === 'tokens' && c.column === 'reset_token');
      await applyAnonymisation(
        dst,
        { tables: ['app.tokens'], changed: columns.map((c) => ({ ...c, rule: 'hash' })), warnings: [], refusals: [] },
        { salt, reservedDomain: DOMAIN },
      );
      const { rows } = await dst.query('SELECT reset_token FROM app.tokens ORDER BY id');
      expect(rows).toEqual([{ reset_token: createHmac('sha256', salt).update('r-1').digest('hex') }, { reset_token: null }]);
    } finally {
      await dst.query('DROP TABLE app.tokens');
    }
  });

  test('a copy that was not anonymised fails the verifier, naming each column', async () => {
    const plan = await planAnonymisation(src, rules, DOMAIN);
    const failures = await verifyAnonymised(src, dst, plan, DOMAIN);
    expect(failures).toEqual(
      expect.arrayContaining([
        'app.users.email still holds 3 of 3 sampled original values',
        'app.users.email has 3 addresses outside example.invalid',
        "app.users.last_ip has 2 values, its rule is 'null'",
        'app.notes.body still holds 2 of 2 sampled original values',
      ]),
    );
  });

  test('each rule writes what it says, deterministically, NULL stays NULL, and no trigger fires', async () => {
    const plan = await planAnonymisation(dst, rules, DOMAIN);
    expect(plan.refusals).toEqual([]);
    // 'keep' changes nothing, so it is not among the changed columns.
    expect(plan.changed.map((c) => `${c.table}.${c.column}`)).toEqual([
      'notes.body',
      'notes.embedding',
      'users.email',
      'users.full_name',
      'users.phone',
      'users.last_ip',
      'users.postcode',
    ]);
    await applyAnonymisation(dst, plan, { salt: SALT, reservedDomain: DOMAIN });
    const users = await dst.query('SELECT email, full_name, phone, last_ip, status FROM app.users ORDER BY id');
    expect(users.rows).toEqual([
      {
        email: `user-${hmac('ada@example.com').slice(0, 12)}@${DOMAIN}`,
        full_name: `Person ${hmac('Ada Lovelace').slice(0, 8)}`,
        phone: hmac('+44 20 7946 0958'),
        last_ip: null,
        status: 'active',
      },
      { email: `user-${hmac('grace@example.org').slice(0, 12)}@${DOMAIN}`, full_name: `Person ${hmac('Grace Hopper').slice(0, 8)}`, phone: null, last_ip: null, status: 'active' },
      { email: `user-${hmac('alan@example.net').slice(0, 12)}@${DOMAIN}`, full_name: null, phone: hmac('020 7946 0000'), last_ip: null, status: 'active' },
    ]);
    const notes = await dst.query('SELECT body, embedding FROM app.notes ORDER BY id');
    expect(notes.rows).toEqual([
      { body: '[redacted]', embedding: null },
      { body: '[redacted]', embedding: null },
      { body: null, embedding: null },
    ]);
    expect((await dst.query('SELECT count(*)::int AS n FROM app.audit')).rows[0].n).toBe(0);
    expect((await dst.query('SELECT label FROM app.plans ORDER BY id')).rows).toEqual([{ label: 'Basic' }, { label: 'Team 2026-12-07 06:00:00' }]);
  });

  test('a table or column missing from the copy fails the verifier, naming it', async () => {
    await src.query(`CREATE TABLE app.only_in_dump (id int, secret text)`);
    try {
      const plan = await planAnonymisation(src, { ...rules, 'app.only_in_dump': { secret: 'null' } }, DOMAIN);
      expect(await verifyAnonymised(src, dst, plan, DOMAIN)).toEqual([
        'app.only_in_dump: relation "app.only_in_dump" does not exist',
        'app.only_in_dump.secret: relation "app.only_in_dump" does not exist',
      ]);
    } finally {
      await src.query('DROP TABLE app.only_in_dump');
    }
  });

  test('the anonymised copy passes the verifier; a lost row fails it', async () => {
    const plan = await planAnonymisation(src, rules, DOMAIN);
    expect(await verifyAnonymised(src, dst, plan, DOMAIN)).toEqual([]);
    await dst.query('BEGIN');
    try {
      await dst.query('DELETE FROM app.notes WHERE id = 3');
      expect(await verifyAnonymised(src, dst, plan, DOMAIN)).toEqual(['app.notes has 2 rows in the anonymised copy, 3 in the dump']);
    } finally {
      await dst.query('ROLLBACK');
    }
  });
});
