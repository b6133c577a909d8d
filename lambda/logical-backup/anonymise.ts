/**
 * The anonymised copy's SQL: which columns of a restored dump look personal, the rules of
 * `dumps.anonymised.rules` applied in one transaction, and the checks the copy must pass before it
 * leaves the task. Takes connected clients (`Queryable`) so tests run it against a real PostgreSQL.
 *
 * What each rule writes (NULL stays NULL):
 * - `email`: `user-<12 hex of the keyed hash of the lower-cased address>@<reservedDomain>`: the
 *   same address always gives the same fake one (joins and unique constraints survive);
 * - `name`: `Person <8 hex of the keyed hash>`;
 * - `hash`: the keyed hash's 64 hex digits;
 * - `redact`: `[redacted]`;
 * - `null`: NULL;
 * - `keep`: the value as it is (a column that is not personal, said so in the config).
 *
 * The keyed hash is HMAC-SHA256 with the secret salt as key, so whoever holds the copy cannot
 * recover an address by hashing known ones. It is computed in SQL from the core `sha256()`
 * (PostgreSQL 11+) with the key's inner and outer pads computed here: pgcrypto's `hmac()` would
 * need the extension in the copy, and the copy should carry no extension the source did not have.
 */
import { createHash } from 'node:crypto';
import { isIPv6 } from 'node:net';
import type { AnonymisationRule } from '../../lib/data/logical-backup-names';
import type { Queryable } from '../database-setup/ensure-vector';
import { ident } from '../database-setup/roles';

/** `dumps.anonymised.rules`: per "schema.table", per column, its rule. */
export type AnonymisationRules = Readonly<Record<string, Readonly<Record<string, AnonymisationRule>>>>;

/** Where the rules live, for every message that asks for one. */
export const RULES_FIELD = 'dumps.anonymised.rules in lib/config/stages.ts';

/** One column of a user table. */
export interface UserColumn {
  readonly schema: string;
  readonly table: string;
  readonly column: string;
  /** The declared type, as `format_type` writes it ("character varying(200)", "vector(3)"). */
  readonly type: string;
  /** The type's name in pg_type ("varchar", "inet", "vector"; a domain's own name). */
  readonly typeName: string;
  /** pg_type.typcategory: "S" string, "A" array, "U" user-defined, ... */
  readonly category: string;
  readonly notNull: boolean;
  readonly generated: boolean;
  /** The declared length of a varchar(n) or char(n) column, else null. */
  readonly maxLength: number | null;
}

const qualified = (c: Pick<UserColumn, 'schema' | 'table'>) => `${c.schema}.${c.table}`;
const columnName = (c: UserColumn) => `${qualified(c)}.${c.column}`;
const tableRef = (c: Pick<UserColumn, 'schema' | 'table'>) => `${ident(c.schema)}.${ident(c.table)}`;

/**
 * Every column of every user table: ordinary and partitioned tables (not their partitions, which
 * an UPDATE of the parent reaches), outside the system schemas, not created by an extension.
 */
export async function userColumns(db: Queryable): Promise<UserColumn[]> {
  const { rows } = await db.query<{
    schema: string;
    table: string;
    column: string;
    type: string;
    type_name: string;
    category: string;
    not_null: boolean;
    generated: boolean;
    max_length: number | null;
  }>(
    `SELECT n.nspname AS schema, c.relname AS table, a.attname AS column, format_type(a.atttypid, a.atttypmod) AS type,
            t.typname AS type_name, t.typcategory::text AS category, a.attnotnull AS not_null, a.attgenerated <> '' AS generated,
            CASE WHEN t.typname IN ('varchar', 'bpchar') AND a.atttypmod > 4 THEN a.atttypmod - 4 END AS max_length
       FROM pg_catalog.pg_class c
       JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
       JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
       JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
      WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
        AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'
        AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                         WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
      ORDER BY n.nspname, c.relname, a.attnum`,
  );
  return rows.map((r) => ({
    schema: r.schema,
    table: r.table,
    column: r.column,
    type: r.type,
    typeName: r.type_name,
    category: r.category,
    notNull: r.not_null,
    generated: r.generated,
    maxLength: r.max_length,
  }));
}

/** Column names that look personal, with what they look like. Matched against the lower-cased name. */
const PERSONAL_NAMES: readonly (readonly [RegExp, string])[] = [
  [/e_?mail/, 'an email address'],
  [/phone|(^|_)(mobile|tel|telephone|fax|msisdn)(_|$)/, 'a phone number'],
  [/(^|_)((first|last|full|given|family|middle|display|user|nick|maiden)_?)?name(_|$)|surname|forename|firstname|lastname|fullname|username/, "a person's name"],
  [/address|street|(^|_)city(_|$)|post_?code|postal|(^|_)zip(_?code)?(_|$)/, 'a postal address'],
  [/(^|_)ip(_|$)|ip_?addr/, 'an IP address'],
  [/token/, 'a token'],
  [/password|passwd|secret/, 'a password or secret'],
  [/birth|(^|_)dob(_|$)/, 'a date of birth'],
  [/(^|_)ssn(_|$)|social_security/, 'a social security number'],
];

/** Types whose every value is personal-looking data. */
const PERSONAL_TYPES: Readonly<Record<string, string>> = {
  inet: 'its type inet holds IP addresses',
  cidr: 'its type cidr holds IP networks',
  macaddr: 'its type macaddr holds hardware addresses',
  macaddr8: 'its type macaddr8 holds hardware addresses',
  vector: 'its type vector holds embeddings, and embeddings of personal text are personal',
  halfvec: 'its type halfvec holds embeddings, and embeddings of personal text are personal',
  sparsevec: 'its type sparsevec holds embeddings, and embeddings of personal text are personal',
};

/**
 * Whether a text holds an IPv6 address. Addresses are written compressed ("2001:db8::1", as
 * PostgreSQL's inet prints them) more often than in full, so candidates are checked with node's
 * parser rather than one pattern; "::" and "::1" alone (two colons, one group) are not someone's
 * address, and times ("12:30:45") and paths ("std::io") are not candidates.
 */
function ipv6In(v: string): boolean {
  for (const [candidate] of v.matchAll(/(?<![\w:.])[0-9a-f:.]*:[0-9a-f:.]*(?![\w:.])/gi)) {
    const address = candidate.replace(/\.+$/, '');
    if (isIPv6(address) && address.split(':').filter(Boolean).length >= 2) return true;
  }
  return false;
}

/** Content that looks personal, tested on sampled values of text, JSON and array columns. */
const PERSONAL_CONTENT: readonly (readonly [string, (value: string) => boolean])[] = [
  ['email addresses', (v) => /[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}/.test(v)],
  // International (+44 20 7946 0958) or national with a trunk 0 (020 7946 0958); dates and times start otherwise.
  ['phone numbers', (v) => /(^|[^\w+])(\+\d[\d ().-]{7,}\d|0\d{2,4}[ -]?\d{3,4}[ -]?\d{3,4})(?![\w-])/.test(v)],
  ['IP addresses', (v) => /(^|[^\d.])((25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(25[0-5]|2[0-4]\d|1?\d?\d)(?![\d.])/.test(v) || ipv6In(v)],
  [
    'long tokens',
    (v) => (v.match(/[A-Za-z0-9_\-+/=]{32,}/g) ?? []).some((t) => /\d/.test(t) && /[A-Za-z]/.test(t) && !/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(t)),
  ],
];

/** Values sampled per column for the content test. */
export const SAMPLE_SIZE = 200;

const sampled = (c: UserColumn) => c.category === 'S' || c.category === 'A' || c.typeName === 'json' || c.typeName === 'jsonb';

/**
 * Why a column looks personal (empty: it does not), from its name, its type and `sample`: values of
 * the column as text (empty where the column is not sampled).
 */
export function looksPersonal(c: UserColumn, sample: readonly string[]): string[] {
  const reasons: string[] = [];
  const name = c.column.toLowerCase();
  for (const [pattern, what] of PERSONAL_NAMES) if (pattern.test(name)) reasons.push(`its name looks like ${what}`);
  const byType = PERSONAL_TYPES[c.typeName];
  if (byType) reasons.push(byType);
  for (const [what, test] of PERSONAL_CONTENT) {
    const hits = sample.filter(test).length;
    if (hits > 0) reasons.push(`${hits} of ${sample.length} sampled values look like ${what}`);
  }
  return reasons;
}

/** Why a column looks personal (empty: it does not). Samples its content where it holds text. */
export async function whyPersonal(db: Queryable, c: UserColumn): Promise<string[]> {
  if (!sampled(c)) return looksPersonal(c, []);
  const { rows } = await db.query<{ v: string }>(`SELECT left(${ident(c.column)}::text, 4000) AS v FROM ${tableRef(c)} WHERE ${ident(c.column)} IS NOT NULL LIMIT ${SAMPLE_SIZE}`);
  return looksPersonal(
    c,
    rows.map((r) => r.v),
  );
}

/** A column and the rule that applies to it. */
export interface RuledColumn extends UserColumn {
  readonly rule: AnonymisationRule;
}

export interface AnonymisationPlan {
  /** Every user table ("schema.table"), for the row counts. */
  readonly tables: readonly string[];
  /** The columns a rule other than `keep` changes. */
  readonly changed: readonly RuledColumn[];
  /** Rules naming a table or column the dump does not have (renamed or dropped): reported, not refused. */
  readonly warnings: readonly string[];
  /** What stops the job: uncovered personal columns and rules that cannot apply, each with its fix. */
  readonly refusals: readonly string[];
}

const TEXT_RULES: readonly AnonymisationRule[] = ['email', 'name', 'hash', 'redact'];

/** The longest value a text rule writes (an email's with the reserved domain). */
function written(rule: AnonymisationRule, reservedDomain: string): number {
  return { email: 'user-'.length + 12 + 1 + reservedDomain.length, name: 'Person '.length + 8, hash: 64, redact: '[redacted]'.length }[rule as 'email'] ?? 0;
}

/**
 * The suggested rule for an uncovered column, from why it looks personal: the one its kind of data
 * calls for if the plan would accept it on this column, else the first of `hash`, `redact`, `null`
 * that it would (a NOT NULL column cannot take `null`, a varchar(n) only what fits), so following
 * the fix does not lead to another refusal. A generated column can only be kept.
 */
export function suggestedRule(c: UserColumn, reasons: readonly string[], reservedDomain: string): AnonymisationRule {
  if (c.generated) return 'keep';
  if (c.category !== 'S') return 'null';
  const wanted: AnonymisationRule = reasons.some((r) => r.includes('email'))
    ? 'email'
    : reasons.some((r) => r.includes("person's name"))
      ? 'name'
      : reasons.some((r) => /token|password|secret/.test(r))
        ? 'null'
        : 'redact';
  const accepted = (rule: AnonymisationRule) => (rule === 'null' ? !c.notNull : c.maxLength === null || written(rule, reservedDomain) <= c.maxLength);
  const candidates: readonly AnonymisationRule[] = [wanted, 'hash', 'redact', 'null'];
  return candidates.find(accepted) ?? wanted;
}

/**
 * Matches the rules against the restored dump's columns: a personal-looking column without a rule
 * is refused, as is a rule that cannot apply (a text rule on a non-text column, `null` on a NOT NULL
 * column, any change to a generated column). Changes nothing.
 */
export async function planAnonymisation(db: Queryable, rules: AnonymisationRules, reservedDomain: string): Promise<AnonymisationPlan> {
  const columns = await userColumns(db);
  const tables = [...new Set(columns.map(qualified))];
  const warnings: string[] = [];
  const refusals: string[] = [];
  const changed: RuledColumn[] = [];
  for (const [table, ruled] of Object.entries(rules)) {
    if (!tables.includes(table)) {
      warnings.push(`${RULES_FIELD} names the table ${table}, which the dump does not have (renamed or dropped?); its rules were not used`);
      continue;
    }
    for (const column of Object.keys(ruled)) {
      if (!columns.some((c) => qualified(c) === table && c.column === column)) {
        warnings.push(`${RULES_FIELD} names the column ${table}.${column}, which the dump does not have (renamed or dropped?); its rule was not used`);
      }
    }
  }
  for (const c of columns) {
    const rule = rules[qualified(c)]?.[c.column];
    const where = columnName(c);
    if (rule === undefined) {
      const reasons = await whyPersonal(db, c);
      if (reasons.length > 0) {
        const fix = `add '${qualified(c)}': { ${c.column}: '${suggestedRule(c, reasons, reservedDomain)}' } to ${RULES_FIELD}`;
        refusals.push(
          c.generated
            ? `${where} (${c.type}) looks personal: ${reasons.join('; ')}. Fix: ${fix} and rule the columns it is computed from (a generated column cannot be written)`
            : `${where} (${c.type}) looks personal: ${reasons.join('; ')}. Fix: ${fix} ('keep' if it is not personal)`,
        );
      }
      continue;
    }
    if (rule === 'keep') continue;
    if (c.generated) {
      refusals.push(
        `${where} is a generated column, computed from others: rule '${rule}' cannot write it. Fix: give it 'keep' in ${RULES_FIELD} and rule the columns it is computed from`,
      );
    } else if (TEXT_RULES.includes(rule) && c.category !== 'S') {
      refusals.push(`${where} is ${c.type}, not text: rule '${rule}' writes text. Fix: use 'null' (or 'keep' if it is not personal) for it in ${RULES_FIELD}`);
    } else if (c.maxLength !== null && written(rule, reservedDomain) > c.maxLength) {
      refusals.push(
        `${where} is ${c.type}: rule '${rule}' writes ${written(rule, reservedDomain)} characters. Fix: use 'null' or a rule that writes fewer characters for it in ${RULES_FIELD}, or widen the column`,
      );
    } else if (rule === 'null' && c.notNull) {
      refusals.push(`${where} is NOT NULL: rule 'null' cannot apply. Fix: use 'hash' or 'redact' for it in ${RULES_FIELD} (text only), or make the column nullable`);
    } else {
      changed.push({ ...c, rule });
    }
  }
  return { tables, changed, warnings, refusals };
}

/** The refusal's text: every uncovered column or unusable rule on its own line, and that nothing was written. */
export function refusalMessage(refusals: readonly string[]): string {
  const n = refusals.length;
  return [`Refusing to anonymise: ${n} ${n === 1 ? 'problem' : 'problems'} with ${RULES_FIELD}; no anonymised copy was written.`, ...refusals.map((r) => `  - ${r}`)].join('\n');
}

/** HMAC-SHA256's inner and outer key pads (RFC 2104) for a salt. */
export function hmacPads(salt: string): { inner: Buffer; outer: Buffer } {
  let key = Buffer.from(salt, 'utf8');
  if (key.length > 64) key = createHash('sha256').update(key).digest();
  const block = Buffer.alloc(64);
  key.copy(block);
  return { inner: Buffer.from(block.map((b) => b ^ 0x36)), outer: Buffer.from(block.map((b) => b ^ 0x5c)) };
}

/** Shortest salt accepted: the keyed hash is only as strong as its key. */
export const MIN_SALT_LENGTH = 16;

/** SQL computing the hex HMAC-SHA256 of a text expression; $1 and $2 are the inner and outer pads. */
const hmacHex = (text: string) => `encode(sha256($2::bytea || sha256($1::bytea || convert_to(${text}, 'UTF8'))), 'hex')`;

function ruleExpression(rule: AnonymisationRule, column: string): string {
  const c = ident(column);
  switch (rule) {
    case 'email':
      return `'user-' || left(${hmacHex(`lower(${c}::text)`)}, 12) || '@' || $3::text`;
    case 'name':
      return `'Person ' || left(${hmacHex(`${c}::text`)}, 8)`;
    case 'hash':
      return hmacHex(`${c}::text`);
    case 'redact':
      return `CASE WHEN ${c} IS NULL THEN NULL ELSE '[redacted]' END`;
    case 'null':
      return 'NULL';
    case 'keep':
      return c;
  }
}

/**
 * Applies the plan's rules in one transaction, with triggers and foreign-key checks off (the
 * rows stay the rows: an audit trigger must not copy originals elsewhere). All or nothing.
 */
export async function applyAnonymisation(db: Queryable, plan: AnonymisationPlan, settings: { salt: string; reservedDomain: string }): Promise<void> {
  if (settings.salt.length < MIN_SALT_LENGTH) {
    throw new Error(
      `The anonymisation salt is ${settings.salt.length} characters long; at least ${MIN_SALT_LENGTH} are needed. Fix: store a long random value in the salt secret.`,
    );
  }
  const { inner, outer } = hmacPads(settings.salt);
  const byTable = new Map<string, RuledColumn[]>();
  for (const c of plan.changed) byTable.set(qualified(c), [...(byTable.get(qualified(c)) ?? []), c]);
  await db.query('BEGIN');
  try {
    await db.query('SET LOCAL session_replication_role = replica');
    for (const columns of byTable.values()) {
      const assignments = columns.map((c) => `${ident(c.column)} = ${ruleExpression(c.rule, c.column)}`).join(', ');
      // Only the parameters the statement uses: PostgreSQL refuses a bind with more.
      const values = assignments.includes('$3') ? [inner, outer, settings.reservedDomain] : assignments.includes('$1') ? [inner, outer] : [];
      await db.query(`UPDATE ${tableRef(columns[0])} SET ${assignments}`, values);
    }
    await db.query('COMMIT');
  } catch (error) {
    await db.query('ROLLBACK');
    throw new Error(`Anonymising failed, nothing was changed: ${(error as Error).message}`);
  }
}

/** Original values sampled per changed column for the verifier. */
export const VERIFY_SAMPLE = 100;

/**
 * Checks the restored anonymised copy (`copy`) against the restored raw dump (`source`): the same
 * rows per table; no sampled original of a changed column left in it; every `email` column null
 * or in the reserved domain; every `null` column null. Returns each failure (empty: it passed).
 */
export async function verifyAnonymised(source: Queryable, copy: Queryable, plan: AnonymisationPlan, reservedDomain: string): Promise<string[]> {
  const failures: string[] = [];
  const count = async (db: Queryable, sql: string, values?: unknown[]) => Number((await db.query<{ n: string }>(sql, values)).rows[0]?.n ?? Number.NaN);
  for (const table of plan.tables) {
    const [schema, name] = table.split('.');
    const sql = `SELECT count(*)::text AS n FROM ${tableRef({ schema, table: name })}`;
    try {
      const [before, after] = [await count(source, sql), await count(copy, sql)];
      if (before !== after) failures.push(`${table} has ${after} rows in the anonymised copy, ${before} in the dump`);
    } catch (error) {
      failures.push(`${table}: ${(error as Error).message}`);
    }
  }
  for (const c of plan.changed) {
    const where = columnName(c);
    const col = ident(c.column);
    try {
      const { rows } = await source.query<{ v: string }>(`SELECT DISTINCT ${col}::text AS v FROM ${tableRef(c)} WHERE ${col} IS NOT NULL LIMIT ${VERIFY_SAMPLE}`);
      const originals = rows.map((r) => r.v);
      const left = await count(copy, `SELECT count(*)::text AS n FROM ${tableRef(c)} WHERE ${col}::text = ANY($1::text[])`, [originals]);
      if (left > 0) failures.push(`${where} still holds ${left} of ${originals.length} sampled original values`);
      if (c.rule === 'null') {
        const set = await count(copy, `SELECT count(*)::text AS n FROM ${tableRef(c)} WHERE ${col} IS NOT NULL`);
        if (set > 0) failures.push(`${where} has ${set} values, its rule is 'null'`);
      }
      if (c.rule === 'email') {
        const outside = await count(copy, `SELECT count(*)::text AS n FROM ${tableRef(c)} WHERE ${col} IS NOT NULL AND ${col}::text NOT LIKE '%@' || $1::text`, [reservedDomain]);
        if (outside > 0) failures.push(`${where} has ${outside} addresses outside ${reservedDomain}`);
      }
    } catch (error) {
      failures.push(`${where}: ${(error as Error).message}`);
    }
  }
  return failures;
}
