/** Usage the templates cannot tell; printed with every estimate. */
export const ASSUMPTIONS = {
  albLcus: 1,
  natGbProcessedPerGateway: 50,
  logGbIngestedPerGroup: 1,
  /** A project function's log group: the functions run a few times a day (deploys, schedules) and log a few JSON lines each time. */
  functionLogGbIngested: 0.05,
  flowLogGbIngested: 5,
  /** The share of flow-log records a REJECT-only flow log keeps (refused connections are a small part of the traffic). */
  rejectedFlowShare: 0.1,
  s3GbPerBucket: 10,
  /** The size of one compressed `pg_dump` (custom format) of a database of a few GB; the stage's bucket keeps one a night for `dumps.retentionDays`. */
  dumpGb: 1,
  /** How long each scheduled dump task (dump, check, anonymisation) runs: minutes for a database of a few GB (`dumps.maxMinutes` alarms at 30). */
  dumpTaskMinutes: 10,
  /** What each distribution serves a month: its data out to viewers and its requests. */
  cloudFrontGbOut: 100,
  cloudFrontRequests: 5_000_000,
  /**
   * The share of a distribution's requests whose body is over 16 KB (uploads, large forms and
   * Server Actions); each pays every further 16 KB step its web ACL inspects (an upper bound:
   * a body under the limit pays fewer).
   */
  wafLargeBodyShare: 0.01,
  /** Per account and region a baseline stack covers (its trail: per account). */
  baseline: {
    /** Management events (API calls) a month: deploys, the services' own calls, KMS. */
    managementEvents: 1_000_000,
    /** Object operations on the uploads buckets a month (data events the trail records where asked; GuardDuty analyses those of every bucket). */
    s3DataEvents: 1_000_000,
    /** VPC flow-log and DNS-log volume GuardDuty analyses a month. */
    flowAndDnsLogGb: 5,
    /** Fargate vCPUs Runtime Monitoring watches on average. */
    monitoredVcpus: 4,
    /** Security Hub control checks a month (about 50 resources, a few controls each, re-checked on change and daily). */
    securityHubChecks: 5_000,
    /** AWS Config configuration items recorded a month, and the evaluations of Security Hub's Config rules. */
    configurationItems: 1_000,
    configRuleEvaluations: 5_000,
  },
} as const;

/** The usage the estimate assumes: the defaults, or what a stage's profile (USAGE_BY_STAGE in cost.ts) changes. */
export type Usage = { -readonly [K in Exclude<keyof typeof ASSUMPTIONS, 'baseline'>]: number } & { readonly baseline: (typeof ASSUMPTIONS)['baseline'] };
