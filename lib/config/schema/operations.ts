import { z } from 'zod';
import { type ProdRule, percent, unique } from '../fields';

const slackId = (what: string, pattern: RegExp, example: string, where: string) => z.string().regex(pattern, `not a Slack ${what} id. Fix: ${where}, e.g. "${example}"`);

/**
 * Who the stage's notifications reach, by severity: the paging route (topic `webapp-<stage>-page`)
 * wakes somebody; the ticket route (topic `webapp-<stage>-alarms`) is read the same working day
 * and records every notification, pages included.
 */
export const alarms = z
  .object({
    emails: unique(z.email({ message: 'not an email address. Fix: write it like "oncall@example.com"' }), 'address')
      .max(10, 'AWS Budgets notifies at most 10 email addresses. Fix: list at most 10, or subscribe a mailing list')
      .meta({
        description:
          "the ticket route: email addresses subscribed to the stage's ticket topic `webapp-<stage>-alarms` in each region the stage alarms in (every alarm and message, pages included, so a stage without a pager still hears of its pages); they also get every budget notification",
        rules: 'different valid addresses, at most 10 (AWS Budgets notifies no more)',
      }),
    httpsEndpoints: unique(
      z.url({
        protocol: /^https$/,
        message: "not an https:// URL (notifications must not travel in clear text). Fix: use the endpoint's https:// URL",
      }),
      'endpoint',
    )
      .default(() => [])
      .meta({
        description:
          'the paging route: HTTPS endpoints (a PagerDuty or Opsgenie CloudWatch integration URL) subscribed to the paging topic `webapp-<stage>-page` in each region the stage alarms in; they get the paging alarms, rules and budget notifications only ([docs/alarms.md](alarms.md), "Where notifications go")',
        rules: 'different `https://` URLs; prod: at least one, or `slack.pageChannelId`',
      }),
    slack: z
      .object({
        workspaceId: slackId(
          'workspace',
          /^T[A-Z0-9]{6,}$/,
          'T0123ABCD',
          'copy it from the AWS console, Amazon Q Developer in chat applications, after authorising the workspace there once',
        ).meta({
          description: 'the Slack workspace, authorised once in the console of the stage account (Amazon Q Developer in chat applications, "Configure new client")',
          rules: 'a workspace id: T and capitals or digits',
        }),
        pageChannelId: slackId('channel', /^[CG][A-Z0-9]{6,}$/, 'C0123ABCD', "copy it from the channel's link in Slack (the part after /archives/)")
          .optional()
          .meta({
            description: 'the channel that gets the paging route (the paging topics of every region the stage alarms in)',
            rules: 'a channel id: C or G and capitals or digits',
          }),
        ticketChannelId: slackId('channel', /^[CG][A-Z0-9]{6,}$/, 'C0456EFGH', "copy it from the channel's link in Slack (the part after /archives/)")
          .optional()
          .meta({ description: 'the channel that gets the ticket route (every notification)', rules: 'a channel id; not the paging channel' }),
      })
      .strict()
      .refine((s) => s.pageChannelId === undefined || s.pageChannelId !== s.ticketChannelId, {
        message:
          'the paging and the ticket channel are the same channel, which would get every page twice. Fix: give alarms.slack.ticketChannelId another channel, or leave it out',
        path: ['ticketChannelId'],
      })
      .optional()
      .meta({
        description:
          'Slack channels through Amazon Q Developer in chat applications (AWS Chatbot), one per route, in the stage account: the channels may only read (their role: CloudWatch read-only; their guardrail: CloudWatch read-only), in the stage region only (one configuration per channel in an account)',
        rules: 'leave out for no Slack',
      }),
  })
  .strict();

const positive = (unit: string) => `must be above 0. Fix: use ${unit}`;

/** BullMQ's queue names: what its keys are built from (`<prefix>:<name>:wait`), so no ":" and nothing blank. */
const queueName = z
  .string()
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/,
    'not a BullMQ queue name as the app spells it (letters, digits, "_", "-", ".", at most 64, no ":"). Fix: copy the name the app passes to new Queue(...)',
  );

/**
 * The app's BullMQ queues, read from the cache by the queue-health function (lib/ops/queue-health.ts):
 * what it reads, with which major of BullMQ, and when its alarms page.
 */
export const queues = z
  .object({
    enabled: z.boolean().default(false).meta({
      description:
        'a function reads the queues from Valkey once a minute (`webapp/Queues`, dimensions `Stage` and `Queue`), the dashboard graphs them, and `queue-oldest-job-age` and `queue-no-progress` page ([docs/alarms.md](alarms.md))',
      rules: 'needs `names`; off in dev as shipped (5 custom metrics and 3 alarm metrics a queue); prod: must be on',
    }),
    names: unique(queueName, 'queue')
      .max(10, 'each queue costs 5 custom metrics and 2 alarms. Fix: list at most 10 queues (the ones whose jobs must not wait)')
      .default(() => [])
      .meta({ description: 'the queue names the app uses (docs/app-contract.md, "Queues")', rules: 'different names of letters, digits, `_ - .`; at most 10' }),
    bullmqMajor: z
      .union([z.literal(5), z.literal(6)], { message: "the function bundles the readers of BullMQ 5 and 6 only. Fix: use 5 or 6, the major in the app's package.json" })
      .default(5)
      .meta({ description: 'the major version of BullMQ the app uses: the function reads the queues with the same one', rules: '5 or 6' }),
    prefix: z
      .string()
      .regex(
        /^[A-Za-z0-9{][A-Za-z0-9_.{}-]{0,63}$/,
        'not a BullMQ key prefix (letters, digits, "_", "-", ".", "{}", no ":"). Fix: use the app\'s `prefix` option, "bull" unless it sets one',
      )
      .default('bull')
      .meta({ description: "BullMQ's key prefix (the `prefix` option of the app's queues)", rules: 'as the app sets it: letters, digits, `_ - . { }`, no `:`' }),
    oldestWaitingSeconds: z
      .number()
      .int()
      .min(60, 'must be at least 60 s (the queues are read once a minute). Fix: use 60 to 86400')
      .max(86400, 'must be at most a day. Fix: use 60 to 86400')
      .default(600)
      .meta({
        description: 'seconds the oldest waiting job of a queue may wait (due delayed jobs count from their due time) before `queue-oldest-job-age` pages',
        rules: '60 to 86400',
      }),
    noProgressMinutes: z
      .number()
      .int()
      .min(3, 'fewer than 3 readings page on a worker between two jobs. Fix: use 3 to 60')
      .max(60, 'a worker stalled for an hour before anyone is paged. Fix: use 3 to 60')
      .default(10)
      .meta({ description: 'minutes in a row a queue may hold waiting jobs while none completes or fails before `queue-no-progress` pages', rules: '3 to 60' }),
  })
  .strict()
  .refine((q) => !q.enabled || q.names.length > 0, {
    path: ['names'],
    message:
      'the queue check is on but names no queue, so it would watch nothing. Fix: list the app\'s queue names (docs/app-contract.md, "Queues"), or set operations.queues.enabled: false',
  })
  .prefault({});

/** The alarms' thresholds, the SLOs and the queues (docs/alarms.md). */
export const operations = z
  .object({
    http5xxRatePercent: percent
      .default(1)
      .meta({ description: 'alarm when more than this % of requests in 5 minutes get a 5xx, from the load balancer or from the app', rules: 'above 0, at most 100' }),
    p99LatencySeconds: z
      .number()
      .positive(positive('a number of seconds above 0, e.g. 2'))
      .default(2)
      .meta({ description: 'web p99 response time alarm, in seconds (10 minutes)', rules: 'above 0' }),
    ecsCpuPercent: percent.default(80).meta({ description: 'web and worker CPU alarm (5 minutes)', rules: 'above 0, at most 100' }),
    ecsMemoryPercent: percent.default(80).meta({ description: 'web and worker memory alarm (5 minutes)', rules: 'above 0, at most 100' }),
    rdsCpuPercent: percent.default(80).meta({ description: 'database CPU alarm (10 minutes)', rules: 'above 0, at most 100' }),
    rdsFreeableMemoryMiB: z
      .number()
      .int()
      .positive(positive('a whole number of MiB, e.g. 128'))
      .default(128)
      .meta({ description: 'database freeable memory alarm, in MiB (15 minutes)', rules: 'above 0' }),
    rdsFreeStoragePercent: percent.default(10).meta({ description: 'alarm when free storage is below this % of `database.allocatedStorageGiB`', rules: 'above 0, at most 100' }),
    rdsConnectionsPercent: percent
      .default(80)
      .meta({ description: "alarm above this % of max_connections (written into the parameter group from the class's memory)", rules: 'above 0, at most 100' }),
    rdsLatencySeconds: z
      .number()
      .positive(positive('a number of seconds above 0, e.g. 0.02'))
      .default(0.02)
      .meta({ description: 'database read and write latency alarm, in seconds (15 minutes)', rules: 'above 0' }),
    cacheCpuPercent: percent.default(80).meta({ description: 'Valkey engine CPU alarm, per node (evictions always alarm at > 0)', rules: 'above 0, at most 100' }),
    cacheMemoryPercent: percent.default(80).meta({ description: 'Valkey memory used alarm, per node (noeviction: writes fail when full)', rules: 'above 0, at most 100' }),
    cacheConnections: z
      .number()
      .int()
      .positive(positive('a whole number of connections, e.g. 1000'))
      .default(1000)
      .meta({ description: 'Valkey client connections alarm, per node', rules: 'above 0' }),
    sesBounceRatePercent: percent.default(5).meta({ description: 'SES reputation bounce-rate alarm (account; SES reviews accounts above 5%)', rules: 'above 0, at most 100' }),
    sesComplaintRatePercent: percent
      .default(0.1)
      .meta({ description: 'SES reputation complaint-rate alarm (account; SES reviews accounts above 0.1%)', rules: 'above 0, at most 100' }),
    queues,
    slo: z
      .object({
        enabled: z.boolean().default(true).meta({
          description: 'build the SLO burn-rate alarms and budget widgets (a stage without users has no budget to burn)',
          rules: 'off in dev as shipped; prod: must be on',
        }),
        availabilityPercent: z
          .number()
          .min(90, 'an availability objective under 90% leaves more than 3 days of errors a month. Fix: use 90 to 99.99')
          .max(99.99, 'a budget under 0.01% is exhausted by a handful of failed requests. Fix: use 90 to 99.99')
          .default(99.9)
          .meta({
            description:
              'availability objective: the % of requests answered without a 5xx from the app or the load balancer (multi-window burn-rate alarms on its 30-day error budget; docs/alarms.md, "Service-level objectives")',
            rules: '90 to 99.99',
          }),
        latencyPercent: z
          .number()
          .min(50, 'a latency objective under 50% says nothing about most requests. Fix: use 50 to 99.9')
          .max(99.9, 'above 99.9% the budget is a few slow requests. Fix: use 50 to 99.9')
          .default(95)
          .meta({ description: 'latency objective: the % of requests answered within `latencyThresholdMs` (burn-rate alarms as for availability)', rules: '50 to 99.9' }),
        latencyThresholdMs: z
          .number()
          .int()
          .min(10, 'the load balancer measures no faster than that meaningfully. Fix: use 10 to 30000 ms')
          .max(30000, 'more than 30 s is not a latency objective. Fix: use 10 to 30000 ms')
          .default(500)
          .meta({ description: 'the response time the latency objective counts a request fast within, in ms', rules: '10 to 30000' }),
      })
      .strict()
      .prefault({}),
    anomalyAlarms: z
      .boolean()
      .default(false)
      .meta({ description: 'anomaly-detection alarms on request count and p99 latency (useful after two weeks of history)', rules: 'on in prod as shipped' }),
    wafBlockedPer5Min: z
      .number()
      .int()
      .positive(positive('a whole number of requests, e.g. 1000'))
      .default(1000)
      .meta({ description: 'WAF blocked-request surge alarm: requests blocked in 5 minutes', rules: 'above 0' }),
  })
  .strict()
  .prefault({});

type Alarms = z.output<typeof alarms>;
type Operations = z.output<typeof operations>;

export const prodRules: readonly ProdRule<{ readonly alarms: Alarms; readonly operations: Operations }>[] = [
  {
    path: ['operations', 'slo', 'enabled'],
    holds: (c) => c.operations.slo.enabled,
    message: 'prod must page when its error budget burns. Fix: set operations.slo.enabled: true',
  },
  {
    path: ['operations', 'queues', 'enabled'],
    holds: (c) => c.operations.queues.enabled,
    message: "prod must page when its workers stall: nothing else sees inside the queues. Fix: set operations.queues.enabled: true with the app's queue names",
  },
  {
    path: ['alarms'],
    holds: (c) => c.alarms.httpsEndpoints.length > 0 || c.alarms.slack?.pageChannelId !== undefined,
    message:
      "prod's pages would reach no pager: emails are the ticket route, read the next working day. Fix: add the pager's integration URL to alarms.httpsEndpoints (PagerDuty, Opsgenie), or set alarms.slack.pageChannelId",
  },
];
