import { z } from 'zod';
import type { ProdRule } from '../fields';

const offInDev = 'off in dev as shipped (cost)';

export const baseline = z
  .object({
    trail: z
      .object({
        enabled: z.boolean().default(true).meta({
          description: "the account's multi-region CloudTrail trail (bucket, key, CloudWatch Logs copy, CIS metric filters and alarms)",
          rules: 'prod: on, or `organizationTrail` named',
        }),
        organizationTrail: z.string().min(1).optional().meta({
          description: 'with `enabled` false: the organisation trail that records the account (its name or ARN, for the record and the docs)',
          rules: 'not with `enabled`',
        }),
        retentionDays: z
          .number()
          .int()
          .min(90, 'CloudTrail evidence should outlive the 90 days of event history. Fix: use 90 or more')
          .max(36500, 'S3 Object Lock keeps an object at most 100 years, and aws-cdk-lib refuses more at synth. Fix: use 90 to 36500 days')
          .default(365)
          .meta({ description: 'days log files are kept in the trail bucket', rules: '90 to 36500 (Object Lock keeps 100 years at most); prod: 365 or more' }),
        archiveAfterDays: z
          .number()
          .int()
          .min(30, 'S3 moves objects to Glacier Instant Retrieval after 30 days at the earliest. Fix: use 30 or more')
          .default(90)
          .meta({ description: 'days after which log files move to S3 Glacier Instant Retrieval', rules: '30 or more, fewer than `retentionDays`' }),
        objectLock: z.enum(['off', 'governance', 'locked-bucket']).default('off').meta({
          description:
            'S3 Object Lock on the log files, in governance mode for `retentionDays` (deletion needs the bypass permission, which the bucket policy leaves to the break-glass role): `"governance"` creates the trail bucket locked, for an account whose trail bucket does not exist yet (one bucket, locked from the start; keep it once set: dropping it would replace that bucket); `"locked-bucket"` moves an already-deployed trail to a second bucket created locked (CloudFormation sets Object Lock only on a bucket it creates; the first, unlocked bucket stays, retained, with the earlier files until they expire); `"off"`: no lock',
          rules: 'prod: a lock (`"governance"` as shipped); `"governance"` only on a trail bucket created with it (set on a deployed unlocked bucket, it would replace the bucket)',
        }),
        uploadsDataEvents: z
          .boolean()
          .default(false)
          .meta({ description: 'record object-level (data) events of the uploads buckets of the stages in the account', rules: 'needs the trail; on in prod as shipped' }),
      })
      .strict()
      .prefault({}),
    guardDuty: z
      .object({
        enabled: z.boolean().default(true).meta({ description: 'a GuardDuty detector (S3, RDS login, EBS malware scans)', rules: offInDev }),
        runtimeMonitoring: z.boolean().default(true).meta({
          description:
            'GuardDuty Runtime Monitoring of the Fargate tasks: its agent runs as a sidecar, and GuardDuty creates a VPC endpoint in the stage VPC, outside CloudFormation (docs/runbooks.md, "Tear down a stage"); the task execution roles may pull the agent image whenever this is on, also when the organisation runs the detector',
          rules: offInDev,
        }),
      })
      .strict()
      .prefault({}),
    securityHub: z
      .boolean()
      .default(true)
      .meta({ description: 'Security Hub with AWS Foundational Security Best Practices', rules: 'needs a recorder (`configRecorder` `stack` or `organization`)' }),
    configRecorder: z.enum(['stack', 'organization', 'off']).default('stack').meta({
      description:
        "AWS Config recording, which Security Hub's controls evaluate: `stack` records the resource types this project uses, `organization` means the landing zone records them, `off` none",
    }),
    accessAnalyzer: z.boolean().default(true).meta({ description: 'an IAM Access Analyzer for the account (external access findings; free)' }),
  })
  .strict()
  .superRefine((baseline, ctx) => {
    const fail = (path: string[], message: string) => ctx.addIssue({ code: 'custom', path, message });
    const { trail } = baseline;
    if (baseline.securityHub && baseline.configRecorder === 'off') {
      fail(
        ['configRecorder'],
        'Security Hub evaluates its controls on AWS Config recordings, and none would exist. Fix: set baseline.configRecorder: "stack" (or "organization" where the landing zone records them), or baseline.securityHub: false',
      );
    }
    if (trail.enabled && trail.archiveAfterDays >= trail.retentionDays) {
      fail(
        ['trail', 'archiveAfterDays'],
        `log files would expire (after ${trail.retentionDays} days) before they are archived. Fix: use fewer days than baseline.trail.retentionDays`,
      );
    }
    if (!trail.enabled && trail.uploadsDataEvents) {
      fail(
        ['trail', 'uploadsDataEvents'],
        'data events need the trail, which is off. Fix: set baseline.trail.enabled: true, or record them in the organisation trail and set this to false',
      );
    }
    if (trail.enabled && trail.organizationTrail !== undefined) {
      fail(
        ['trail', 'organizationTrail'],
        'names an organisation trail while this stack creates a trail of its own: the account would pay for two copies of its management events. Fix: set baseline.trail.enabled: false, or drop organizationTrail',
      );
    }
  })
  .prefault({})
  .meta({
    description:
      'the security baseline of the stage\'s account (lib/baseline; docs/security.md, "Account baseline"), one stack per account and region; turn a piece off where the organisation already provides it (an AWS Control Tower landing zone has an organisation trail and AWS Config; a delegated administrator may run GuardDuty and Security Hub for every account), so nothing is created twice',
    rules: 'stages sharing an account set the same `baseline`',
  });

type Baseline = z.output<typeof baseline>;

export const prodRules: readonly ProdRule<{ readonly baseline: Baseline }>[] = [
  {
    path: ['baseline', 'trail', 'enabled'],
    holds: (c) => c.baseline.trail.enabled || c.baseline.trail.organizationTrail !== undefined,
    message:
      'prod must have an audit trail of its account. Fix: set baseline.trail.enabled: true, or name the organisation trail that records the account in baseline.trail.organizationTrail',
  },
  {
    path: ['baseline', 'trail', 'retentionDays'],
    holds: (c) => !c.baseline.trail.enabled || c.baseline.trail.retentionDays >= 365,
    message: 'prod must keep its audit trail at least a year. Fix: set baseline.trail.retentionDays: 365 or more',
  },
  {
    path: ['baseline', 'trail', 'objectLock'],
    holds: (c) => !c.baseline.trail.enabled || c.baseline.trail.objectLock !== 'off',
    message:
      'prod must keep its log files under S3 Object Lock, out of reach of an administrator who would hide their tracks. Fix: set baseline.trail.objectLock: "governance" where the trail bucket does not exist yet (it is created locked), or "locked-bucket" where the trail already runs (it moves to a bucket created with the lock; the first bucket keeps what it holds)',
  },
];
