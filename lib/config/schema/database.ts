import { z } from 'zod';
import { RDS_INSTANCE_CLASSES, RDS_POSTGRES_VERSIONS } from '../aws-catalog';
import { oneOf, type ProdRule } from '../fields';

/** The RDS for PostgreSQL instance (with pgvector). */
export const database = z
  .object({
    instanceClass: z
      .string()
      .regex(/^(?!db\.)[a-z][a-z0-9-]*\.[a-z0-9]+$/, 'not an RDS instance class without its "db." prefix. Fix: write it like "t4g.micro" or "m7g.large"')
      .pipe(oneOf(RDS_INSTANCE_CLASSES, 'an RDS for PostgreSQL instance class', 'm7g.large'))
      .meta({
        description: 'RDS instance class without `db.` (`t4g.micro`)',
        rules: 'a class RDS offers for PostgreSQL in the t3, t4g, m5-m8g, r5-r8g families (pinned list; their memory sets max_connections)',
      }),
    allocatedStorageGiB: z
      .number()
      .int()
      .min(20, 'gp3 storage starts at 20 GiB. Fix: use 20 or more')
      .max(65536)
      .meta({ description: 'gp3 storage allocated, in GiB', rules: '20 to 65536' }),
    maxAllocatedStorageGiB: z
      .number()
      .int()
      .max(65536)
      .meta({ description: 'storage autoscaling ceiling, in GiB', rules: 'at least 10% above `allocatedStorageGiB` (RDS refuses less), at most 65536' }),
    multiAz: z.boolean().meta({ description: 'a standby instance in another zone, which takes over when the primary fails', rules: 'prod: must be true' }),
    backupRetentionDays: z
      .number()
      .int()
      .min(1, 'backups (and point-in-time recovery) need at least 1 day. Fix: use 1 to 35')
      .max(35, 'RDS keeps automated backups for at most 35 days. Fix: use 1 to 35')
      .meta({ description: 'days of automated backups: the point-in-time recovery window', rules: '1 to 35' }),
    deletionProtection: z.boolean().meta({ description: 'RDS refuses to delete the instance while this is on', rules: 'prod: must be true' }),
    engineVersion: z
      .string()
      .regex(/^1[67]\.\d+$/, 'must be a PostgreSQL 16 or 17 minor version ("major.minor"), which RDS ships with pgvector 0.8. Fix: use e.g. "17.6"')
      .pipe(oneOf(RDS_POSTGRES_VERSIONS, 'a PostgreSQL minor version RDS accepts new instances on', '17.6'))
      .meta({ description: 'PostgreSQL `major.minor`, pinned so upgrades are deliberate', rules: 'a 16.x or 17.x minor RDS still accepts new instances on (pinned list)' }),
    allowMajorVersionUpgrade: z.boolean().default(false).meta({
      description:
        'let the next deploy move the instance to a new major version in place (the parameter group of the new family, minutes of downtime, the database setup run again; docs/runbooks.md, "Upgrade PostgreSQL to a new major version")',
      rules: 'the review and preflight refuse a major change without it; turn it off after',
    }),
    pgvectorMinVersion: z
      .string()
      .regex(/^\d+\.\d+(\.\d+)?$/, 'not a version number. Fix: write it like "0.8.0"')
      .default('0.8.0')
      .meta({ description: 'lowest pgvector version a deploy accepts: the stack fails when the engine offers less', rules: '`x.y` or `x.y.z`' }),
    enablePerformanceInsights: z.boolean().default(false).meta({ description: 'Performance Insights (7 days, free tier) and enhanced monitoring every 60 s' }),
  })
  .strict()
  .superRefine((db, ctx) => {
    // RDS refuses a storage-autoscaling ceiling less than 10% above the allocated storage ("Invalid max storage size"; RDS user guide, "Managing capacity automatically with Amazon RDS storage autoscaling").
    const least = Math.ceil((db.allocatedStorageGiB * 11) / 10);
    if (db.maxAllocatedStorageGiB < least) {
      ctx.addIssue({
        code: 'custom',
        path: ['maxAllocatedStorageGiB'],
        message: `RDS refuses an autoscaling ceiling less than 10% above the allocated ${db.allocatedStorageGiB} GiB (26% or more also spares its "storage threshold reached" event). Fix: ${least <= 65536 ? `set it to ${least} or more` : `lower allocatedStorageGiB to ${Math.floor(655360 / 11)} or less (the ceiling is at most 65536)`}`,
      });
    }
  });

type Database = z.output<typeof database>;

export const prodRules: readonly ProdRule<{ readonly database: Database }>[] = [
  {
    path: ['database', 'multiAz'],
    holds: (c) => c.database.multiAz,
    message: 'prod must run the database Multi-AZ so one AZ failure does not stop it. Fix: set database.multiAz: true',
  },
  {
    path: ['database', 'deletionProtection'],
    holds: (c) => c.database.deletionProtection,
    message: 'prod must protect its database from deletion. Fix: set database.deletionProtection: true',
  },
];
