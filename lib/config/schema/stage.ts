import { z } from 'zod';
import { accountId, type ProdRule, region } from '../fields';

/** The stages this app deploys. Their names are also the `cdk.Stage` ids (`npx cdk deploy 'staging/*'`). */
export const STAGE_NAMES = ['dev', 'staging', 'prod'] as const;
export type StageName = (typeof STAGE_NAMES)[number];

/** Where a user changes a stage's settings; every error message points here. */
export const CONFIG_FILE = 'lib/config/stages.ts';

/** Retention periods CloudWatch Logs accepts, in days. */
export const LOG_RETENTION_DAYS: readonly number[] = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653];

// The fields of the stage as a whole: which stage, where, how long its logs and data outlive it, what it may cost.
export const name = z.enum(STAGE_NAMES).meta({ description: 'stage name, also the `cdk.Stage` id', rules: '`dev`, `staging` or `prod`' });

export const account = accountId.meta({ description: 'AWS account id', rules: '12 digits' });

export const primaryRegion = region.meta({
  description: 'primary region',
  rules:
    'a region of the `aws` partition (pinned list; not China or GovCloud, where the edge stack and the CI roles cannot run); with `edge.enabled`, its CloudFront prefix list id must be in `lib/app/origin-facing-prefix-lists.json`',
});

export const drRegion = region.meta({
  description: 'disaster-recovery region for backup and snapshot copies',
  rules: 'a region of the `aws` partition, not `region` (a regional outage would take the copies too)',
});

export const logRetentionDays = z
  .number()
  .int()
  .refine((d) => LOG_RETENTION_DAYS.includes(d), {
    message: `CloudWatch Logs does not offer this retention. Fix: use one of ${LOG_RETENTION_DAYS.join(', ')}`,
  })
  .meta({ description: "days CloudWatch Logs keeps the stage's logs (flow logs, containers, functions)", rules: 'a value CloudWatch offers (1, 3, 5, 7, 14, 30, 60, 90, ...)' });

export const retainOnDelete = z.boolean().meta({
  description: 'keep keys, log groups, buckets and the final database snapshot when their stack or the resource is deleted; only a throw-away stage sets false',
  rules: 'prod: must be true',
});

export const monthlyBudgetUsd = z
  .number()
  .positive('must be above 0. Fix: set the monthly budget in USD')
  .meta({ description: "monthly cost budget of the stage's account: mails at 80% actual and 100% forecast", rules: '> 0' });

export const prodRules: readonly ProdRule<{ readonly retainOnDelete: boolean }>[] = [
  { path: ['retainOnDelete'], holds: (c) => c.retainOnDelete, message: 'prod must keep its data when a stack or resource is deleted. Fix: set retainOnDelete: true' },
];
