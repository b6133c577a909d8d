import { z } from 'zod';
import { ANONYMISATION_RULES } from '../../data/logical-backup-names';
import { accountId, type ProdRule, region } from '../fields';
import { STAGE_NAMES } from './stage';

const TABLE_NAME = /^[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*$/;
const COLUMN_NAME = /^[a-z_][a-z0-9_]*$/;
const SCHEDULE = /^cron\((\S+ ){5}\S+\)$/;

const cron = (fallback: string, what: string) =>
  z
    .string()
    .regex(SCHEDULE, `not an EventBridge Scheduler cron expression (six fields, UTC). Fix: write it like "${fallback}"`)
    .default(fallback)
    .meta({ description: `when ${what} runs: an EventBridge Scheduler \`cron(...)\` expression in UTC`, rules: 'six fields: minutes hours day-of-month month day-of-week year' });

/**
 * How one column is anonymised (lambda/logical-backup/anonymise.ts): a deterministic fake email in
 * the reserved domain, a fake name, NULL, a keyed hash, a fixed redaction, or kept as it is.
 */
export const anonymisationRule = z.enum(ANONYMISATION_RULES);

/** The stage's nightly `pg_dump`, its checks, and the anonymised copy another stage may restore. */
export const dumps = z
  .object({
    schedule: cron('cron(0 2 * * ? *)', 'the nightly dump'),
    retentionDays: z.number().int().min(1, 'must keep a dump at least 1 day. Fix: use 1 or more').max(3650).meta({
      description: 'days a dump (and an anonymised copy) is kept in the dump bucket and its DR replica',
      rules: '1 to 3650; the Object Lock period where `objectLock` is on',
    }),
    objectLock: z.enum(['off', 'governance', 'compliance']).default('off').meta({
      description:
        'S3 Object Lock on the dump bucket, for `retentionDays`: `governance` (only the break-glass role may shorten it or delete a dump early) or `compliance` (nobody can, AWS included, until each dump is `retentionDays` old)',
      rules: 'prod: not off; compliance never with `retainOnDelete: false`',
    }),
    replicateToDr: z.boolean().default(false).meta({
      description: 'replicate every dump to a bucket in `drRegion` (in the `<stage>-Dr` stack), where `npm run restore -- --from-dump ... --region <drRegion>` reads it',
      rules: 'needs the DR stack (`backup.drCopies` or `uploads.replicateToDr`); prod: must be true',
    }),
    maxMinutes: z.number().int().min(1).max(720).default(30).meta({
      description: 'minutes a dump may take before the `<stage>-dump-slow` alarm (the full backup should finish within 30)',
      rules: '1 to 720',
    }),
    restoreCheck: z.enum(['off', 'weekly']).default('weekly').meta({
      description: "restore the newest dump into a throw-away PostgreSQL inside a task and run the restore verifier's checks on it (`backup.verify`)",
      rules: '`off` or `weekly`; prod: weekly',
    }),
    cpu: z.number().int().default(1024).meta({ description: "the dump task's CPU units", rules: 'a Fargate size with `memoryMiB`' }),
    memoryMiB: z.number().int().default(2048).meta({ description: "the dump task's memory in MiB", rules: 'a Fargate size with `cpu`' }),
    storageGiB: z.number().int().min(21).max(200).default(50).meta({
      description: 'ephemeral storage of the check, anonymisation and restore tasks, which unpack a dump into a PostgreSQL of their own (the dump itself streams to S3)',
      rules: '21 to 200 (Fargate); at least three times the database for the anonymisation',
    }),
    anonymised: z
      .object({
        readerStage: z.enum(STAGE_NAMES).meta({ description: 'the stage that may restore the anonymised copy (`npm run refresh-staging`)' }),
        readerAccount: accountId.meta({ description: "that stage's account: the only one the bucket and key policies let read the copy" }),
        schedule: cron('cron(0 5 ? * SUN *)', 'the anonymisation (after a nightly dump)'),
        maxAgeDays: z
          .number()
          .int()
          .min(1, 'must be at least 1 day. Fix: use the longest gap between two runs of anonymised.schedule, in days')
          .max(
            93,
            'must be at most 93 days: anonymise at least quarterly, or the reader stage refreshes from a copy that old. Fix: use 93 or less, with a schedule that runs as often',
          )
          .default(7)
          .meta({
            description:
              'days the newest anonymised copy may age before the `<stage>-anonymise-stale` alarm (it fires 12 hours later, so a run that starts late does not open a ticket)',
            rules: '1 to 93; at least the longest gap between two runs of `schedule` (7 for the weekly default)',
          }),
        reservedDomain: z
          .string()
          .regex(/^([a-z0-9-]+\.)*(invalid|test|example|localhost|example\.(com|net|org))$/, 'not a domain reserved by RFC 2606, which no mail reaches. Fix: use "example.invalid"')
          .default('example.invalid')
          .meta({ description: 'the domain of every fake email address', rules: 'a domain reserved by RFC 2606 (`.invalid`, `.test`, `.example`, `example.com`...)' }),
        rules: z
          .record(
            z.string().regex(TABLE_NAME, 'not a "schema.table" name in lower case. Fix: write it like "app.users"'),
            z.record(z.string().regex(COLUMN_NAME, 'not a lower-case column name. Fix: write it like "email"'), anonymisationRule),
          )
          .default(() => ({}))
          .meta({
            description:
              'per table (`schema.table`) and column, how it is anonymised: `email`, `name`, `null`, `hash`, `redact` or `keep`. A column whose name or content looks personal (email, phone, name, address, IP, token, password) and has no rule stops the job: it fails closed',
            rules: 'every personal-looking column of the dump needs a rule (the job names the missing ones)',
          }),
      })
      .strict()
      .optional()
      .meta({
        description: "an anonymised copy of the newest dump, made in this stage's account, for another stage's account to restore",
        rules: 'its stage names this one in `refreshFrom`',
      }),
    refreshFrom: z
      .object({
        sourceStage: z.enum(STAGE_NAMES).meta({ description: 'the stage whose anonymised copy this one restores' }),
        sourceAccount: accountId.meta({ description: "that stage's account (the copy's bucket and key live there)" }),
        sourceRegion: region.meta({ description: "that stage's region, where its bucket and key are" }),
      })
      .strict()
      .optional()
      .meta({ description: 'where `npm run refresh-staging` takes its data from', rules: 'that stage names this one in `anonymised.readerStage`' }),
  })
  .strict()
  .meta({ description: 'the nightly logical backup (`pg_dump`), its restore check, and the anonymised copy for another stage' });

type Dumps = z.output<typeof dumps>;

export const prodRules: readonly ProdRule<{ readonly dumps: Dumps }>[] = [
  {
    path: ['dumps', 'objectLock'],
    holds: (c) => c.dumps.objectLock !== 'off',
    message: 'prod must keep its dumps from deletion before they expire. Fix: set dumps.objectLock: "governance"',
  },
  {
    path: ['dumps', 'replicateToDr'],
    holds: (c) => c.dumps.replicateToDr,
    message: 'prod must keep its dumps outside its region. Fix: set dumps.replicateToDr: true',
  },
  {
    path: ['dumps', 'restoreCheck'],
    holds: (c) => c.dumps.restoreCheck !== 'off',
    message: 'prod must prove its dumps restore. Fix: set dumps.restoreCheck: "weekly"',
  },
];
