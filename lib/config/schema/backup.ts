import { z } from 'zod';
import { PROJECT } from '../../shared/naming';
import { type ProdRule, unique } from '../fields';

/** Manual DB snapshots kept free under the quota: the final snapshot on deletion, one taken by hand, the one being copied. */
export const SNAPSHOT_HEADROOM = 5;

const TABLE_NAME = /^[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*)?$/;

/** The database's backups, their copies in `drRegion`, and their protection. Their quota per region is checked in lib/config/schema.ts. */
export const backup = z
  .object({
    drCopies: z.boolean().meta({
      description: 'DR key and vault in `drRegion` (adds the `<stage>-Dr` stack); each AWS Backup recovery point and each pre-deploy snapshot is copied there',
      rules: 'prod: must be true; staging true, dev false',
    }),
    automatedBackupReplicationDays: z
      .number()
      .int()
      .min(0)
      .max(35, 'RDS keeps replicated backups for at most 35 days. Fix: use 0 to 35')
      .meta({ description: 'days RDS also keeps its automated backups in `drRegion` (point-in-time restore there); 0: off', rules: '0 to 35; needs `drCopies`' }),
    planRetentionDays: z
      .number()
      .int()
      .min(1, 'must keep recovery points at least 1 day. Fix: use 1 or more')
      .meta({ description: 'days the daily AWS Backup recovery points of the database are kept', rules: '1 or more; see `manualSnapshotQuota`' }),
    drCopyRetentionDays: z
      .number()
      .int()
      .min(1, 'must keep copies at least 1 day. Fix: use 1 or more')
      .meta({ description: 'days the copies of those recovery points in `drRegion` are kept', rules: '1 or more; see `manualSnapshotQuota`' }),
    vaultLock: z
      .object({
        mode: z.enum(['governance', 'compliance']),
        changeableForDays: z.number().int().min(3, 'AWS Backup needs a grace period of at least 3 days. Fix: use 3 or more').optional(),
      })
      .strict()
      .superRefine(({ mode, changeableForDays }, ctx) => {
        if (mode === 'compliance' && changeableForDays === undefined) {
          ctx.addIssue({
            code: 'custom',
            path: ['changeableForDays'],
            message: 'compliance mode needs a grace period, after which the lock can never be removed. Fix: set changeableForDays (3 or more), or use mode "governance"',
          });
        }
        if (mode === 'governance' && changeableForDays !== undefined) {
          ctx.addIssue({
            code: 'custom',
            path: ['changeableForDays'],
            message: `a grace period turns the lock into compliance mode, permanent after ${changeableForDays} days. Fix: drop changeableForDays, or set mode "compliance" if that is meant`,
          });
        }
      })
      .default(() => ({ mode: 'governance' as const }))
      .meta({
        description:
          'AWS Backup vault lock on both vaults, minimum retention = the plan\'s (or the DR copies\') days: `{ mode: "governance" }` (removable only by a principal allowed to: the vault policy allows only the break-glass role), or `{ mode: "compliance", changeableForDays }` (permanent after that many days: nobody, not AWS support, can then shorten retention or delete a recovery point early)',
        rules: 'governance everywhere as shipped; compliance needs `changeableForDays` >= 3 and never in dev or a stage with `retainOnDelete: false`',
      }),
    breakGlassRoleName: z
      .string()
      .regex(/^[\w+=,.@-]{1,64}$/, 'not an IAM role name. Fix: write the role\'s name, e.g. "webapp-break-glass"')
      .default(`${PROJECT}-break-glass`)
      .meta({
        description:
          "the role (created by hand at path `/`, outside this app, with MFA) that alone may delete recovery points, lift the vault policy or lock, schedule deletion of (or disable) the database, backup and DR keys, and delete or overwrite trail log files; it and CloudFormation's deploy role alone may change those keys' policies. No stack creates it, so no deployment can. The policies name its exact ARN `arn:aws:iam::<account>:role/<name>`: a role under another path matches none of them (`npm run preflight` checks it)",
        rules: 'an IAM role name',
      }),
    restoreTesting: z.enum(['off', 'weekly', 'monthly']).meta({
      description: 'how often AWS Backup restores the newest recovery point for the verifier to check',
      rules: '`off`, `weekly`, `monthly`; prod: not off (weekly), staging monthly',
    }),
    verify: z
      .object({
        tables: unique(
          z
            .object({
              name: z.string().regex(TABLE_NAME, 'not a plain lower-case table name. Fix: write it like "documents" or "public.documents"'),
              minRows: z.number().int().min(0),
            })
            .strict(),
          'table',
          (table) => table.name,
        )
          .default(() => [])
          .meta({
            description:
              'tables (`{ name, minRows }`, name `table` or `schema.table`) a restored database must have, each with at least `minRows` rows, for the restore to count as verified',
            rules: 'plain lower-case names, each table once',
          }),
        vectorQuery: z
          .object({
            table: z.string().regex(TABLE_NAME, 'not a plain lower-case table name. Fix: write it like "documents"'),
            column: z.string().regex(/^[a-z_][a-z0-9_]*$/, 'not a plain lower-case column name. Fix: write it like "embedding"'),
          })
          .strict()
          .optional()
          .meta({ description: 'a `{ table, column }` of a vector column the verifier runs one nearest-neighbour query on', rules: 'plain lower-case names' }),
      })
      .strict()
      .prefault({}),
    manualSnapshotQuota: z
      .number()
      .int()
      .min(1)
      .default(100)
      .meta({
        description: 'the account\'s quota of manual DB snapshots per region (Service Quotas, "Manual DB instance snapshots"; 100 unless AWS raised it)',
        rules: `daily recovery points (or DR copies) + pre-deploy snapshots + ${SNAPSHOT_HEADROOM} must fit under it, per region`,
      }),
    preDeploySnapshotsKept: z
      .number()
      .int()
      .min(1, "the release's own snapshot must be kept. Fix: use 1 to 50")
      .max(50, 'manual snapshots count against a quota of 100 per region. Fix: use 1 to 50')
      .meta({ description: 'pre-deploy snapshots kept per region (older ones of the tool are deleted)', rules: '1 to 50' }),
  })
  .strict()
  .superRefine(({ automatedBackupReplicationDays, drCopies }, ctx) => {
    if (automatedBackupReplicationDays > 0 && !drCopies) {
      ctx.addIssue({
        code: 'custom',
        path: ['automatedBackupReplicationDays'],
        message: "replicated backups need the DR stack's key, which only exists with backup.drCopies. Fix: set backup.drCopies: true, or set this to 0",
      });
    }
  });

export const prodRules: readonly ProdRule<{ readonly backup: z.output<typeof backup> }>[] = [
  { path: ['backup', 'drCopies'], holds: (c) => c.backup.drCopies, message: 'prod must keep copies of its backups outside its region. Fix: set backup.drCopies: true' },
  { path: ['backup', 'restoreTesting'], holds: (c) => c.backup.restoreTesting !== 'off', message: 'prod must prove its backups restore. Fix: set backup.restoreTesting: "weekly"' },
];

/** The uploads bucket's versions, logs and copy. */
export const uploads = z
  .object({
    noncurrentVersionExpirationDays: z
      .number()
      .int()
      .min(1, 'must keep old versions at least 1 day. Fix: use 1 or more')
      .meta({ description: 'days a replaced or deleted upload version is kept before it expires', rules: '1 or more' }),
    accessLogExpirationDays: z
      .number()
      .int()
      .min(1, 'must keep access logs at least 1 day. Fix: use 1 or more')
      .meta({ description: "days the uploads bucket's server access logs are kept", rules: '1 or more' }),
    replicateToDr: z.boolean().meta({ description: 'replicate every upload to a bucket in `drRegion` (adds the `<stage>-Dr` stack)', rules: 'on in prod as shipped' }),
  })
  .strict();
