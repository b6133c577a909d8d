import { z } from 'zod';
import { COLLECTOR_PORTS } from '../../app/otel/collector-config';
import { clientCidrProblem, clientCidrsProblems } from '../cidr';
import { command, exactPath, type ProdRule, unique, urlPath } from '../fields';
import { deployment } from './deployment';

/** KB of a request body CloudFront can hand its web ACL (AssociationConfig, DefaultSizeInspectionLimit KB_16 to KB_64). */
export const WAF_BODY_INSPECTION_KB = [16, 32, 48, 64] as const;

const wafRateLimit = z.number().int().min(10, 'WAF rate limits start at 10. Fix: use 10 or more').max(2_000_000_000);

/** The client blocks a stage without HTTPS admits: each a public block without host bits, once, none inside another, at most a /8 in all. */
const clientCidrs = unique(
  z.string().superRefine((value, ctx) => {
    const problem = clientCidrProblem(value);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  }),
  'block',
).superRefine((list, ctx) => {
  for (const { index, message } of clientCidrsProblems(list)) ctx.addIssue({ code: 'custom', ...(index === undefined ? {} : { path: [index] }), message });
});

/** The web app and worker containers, how a release reaches them, and the WAF in front. */
export const app = z
  .object({
    containerPort: z
      .number()
      .int()
      .min(1024, 'the container runs as a non-root user, which cannot bind ports below 1024. Fix: use e.g. 3000')
      .max(65535)
      .refine((port) => !COLLECTOR_PORTS.includes(port), {
        message: `the tracing collector beside the app listens there (lib/app/otel/collector.yaml uses ${COLLECTOR_PORTS.join(', ')}), and the containers of a task share their ports. Fix: use another port, e.g. 3000`,
      })
      .default(3000)
      .meta({
        description: 'port the server listens on',
        rules: `>= 1024 (the container runs as a non-root user); not ${COLLECTOR_PORTS.join(', ')} (the tracing collector's)`,
      }),
    readinessPath: z
      .string()
      .regex(/^\/[\w\-./]*$/, 'not an absolute URL path. Fix: write it like "/health/ready"')
      .default('/health/ready')
      .meta({ description: 'load balancer health check: the app answers 200 when it can serve (database and cache reachable)', rules: 'an absolute path' }),
    livenessPath: z
      .string()
      .regex(/^\/[\w\-./]*$/, 'not an absolute URL path. Fix: write it like "/health/live"')
      .default('/health/live')
      .meta({ description: 'container health check: the process is alive', rules: 'an absolute path' }),
    workerCommand: command
      .min(1, 'the worker needs a command. Fix: e.g. ["node", "dist/worker.js"]')
      .default(() => ['node', 'dist/worker.js'])
      .meta({ description: 'command of the worker container (same image as the web app)', rules: 'e.g. `["node", "dist/worker.js"]`' }),
    workerStopTimeoutSeconds: z
      .number()
      .int()
      .min(2)
      .max(120, 'Fargate allows at most 120 s. Fix: use 2 to 120')
      .default(120)
      .meta({ description: 'seconds a worker task gets after SIGTERM to finish its job before ECS kills it', rules: '2 to 120' }),
    logLevel: z.enum(['debug', 'info', 'warn', 'error']).default('info').meta({
      description: "the app's log level, as `LOG_LEVEL` in the web, worker and migration containers (pino's names); log ingestion is paid per GB",
      rules: '`debug`, `info`, `warn`, `error`; `debug` in dev, `info` elsewhere as shipped',
    }),
    enableExecuteCommand: z.boolean().default(false).meta({
      description: "ECS Exec into running tasks; AWS does not support it with a read-only root filesystem, so the containers' root filesystem is writable where it is on",
      rules: 'prod: must be false',
    }),
    tracing: z
      .object({
        enabled: z.boolean().default(true).meta({
          description:
            'an ADOT collector sidecar in the web and worker tasks: it receives OTLP on localhost and exports traces to X-Ray and metrics to CloudWatch (EMF; docs/architecture.md, "Traces")',
          rules: 'the collector takes 64 CPU units and 128 MiB of each task (the smallest Fargate size leaves the app 384 MiB)',
        }),
        sampleRatio: z
          .number()
          .gt(0, 'a ratio of 0 records no trace while the collector runs for nothing. Fix: use a ratio above 0 (0.05 is 5%), or set tracing.enabled: false')
          .max(1, 'a ratio is at most 1 (every trace). Fix: use 0.01 to 1')
          .default(0.1)
          .meta({ description: "the share of new traces the app's SDK samples", rules: 'above 0, at most 1' }),
      })
      .strict()
      .prefault({}),
    migrationCommand: command.min(1, 'a migration needs a command. Fix: e.g. ["node", "dist/migrate.js"], or leave migrationCommand out').optional().meta({
      description:
        "command of the release's schema migration (same image, as the migration role), run once per release after the pre-deploy snapshot and before the services update; the deploy fails, and the services stay on the old release, when it exits non-zero, cannot start or runs past `migrationTimeoutMinutes` (docs/releases.md)",
      rules: 'unset: no migration step (`-c <stage>.app.migrationCommand=null`); shipped: `["node", "dist/migrate.js"]` in every stage',
    }),
    migrationTimeoutMinutes: z
      .number()
      .int()
      .min(1, 'must be at least 1 minute. Fix: use 1 to 55')
      .max(55, 'CloudFormation waits at most an hour for a custom resource, and the release needs the rest. Fix: use 1 to 55')
      .default(30)
      .meta({ description: 'minutes a migration may run before it is stopped and the deploy fails', rules: '1 to 55 (CloudFormation waits at most an hour for it)' }),
    deployment,
    loadBalancerDeletionProtection: z
      .boolean()
      .default(false)
      .meta({ description: 'refuse to delete the load balancer: a change that would replace or remove it fails instead', rules: 'prod: must be true' }),
    waf: z.boolean().default(true).meta({ description: 'a WAF web ACL on the load balancer (on the distribution where `edge.enabled`)', rules: 'prod: must be true' }),
    wafRateLimitPer5Min: wafRateLimit.default(2000).meta({ description: 'requests one IP may make in 5 minutes before the WAF blocks it', rules: '10 or more' }),
    wafAuthPaths: unique(urlPath, 'path prefix')
      .min(1, 'the authentication rate limit needs at least one path. Fix: list e.g. "/api/auth/"')
      .default(() => ['/api/auth/', '/login', '/signup', '/reset-password'])
      .meta({
        description: 'URL path prefixes of sign-in, sign-up and password reset, held to `wafAuthRateLimitPer5Min` per IP',
        rules: 'different absolute paths, at least one',
      }),
    wafAuthRateLimitPer5Min: wafRateLimit.default(100).meta({
      description: 'requests one IP may make to the authentication paths in 5 minutes',
      rules: '10 or more, below `wafRateLimitPer5Min` (else that rule blocks first)',
    }),
    wafLargeBodyPaths: unique(exactPath, 'path')
      .default(() => ['/api/uploads'])
      .meta({
        description:
          'the exact paths (uploads) whose request bodies over 8 KB pass the common rule set, compared byte for byte (`/api/uploads-evil` or `/api/uploads/../admin` is no upload); every other path keeps its 8 KB limit',
        rules: 'different normalised absolute paths (no empty, `.` or `..` segment, no trailing slash)',
      }),
    wafServerActions: z.boolean().default(true).meta({
      description:
        'behind CloudFront, let Next.js Server Action POSTs (header `Next-Action` holding an action id) carry bodies over 8 KB, up to `wafBodyInspectionKb`, so the managed rules read all of it; a load balancer inspects 8 KB, fixed, and its Server Actions keep the 8 KB limit',
    }),
    wafBodyInspectionKb: z
      .number()
      .refine(
        (kb): kb is (typeof WAF_BODY_INSPECTION_KB)[number] => (WAF_BODY_INSPECTION_KB as readonly number[]).includes(kb),
        `is not a size WAF inspects behind CloudFront. Fix: use one of ${WAF_BODY_INSPECTION_KB.join(', ')}`,
      )
      .default(64)
      .meta({
        description:
          'KB of a request body CloudFront hands the web ACL; Server Action bodies must fit in it (beyond 16 KB AWS charges $0.30 per million requests that large per further 16 KB)',
        rules: WAF_BODY_INSPECTION_KB.join(', '),
      }),
    wafRedactedHeaders: unique(z.string().regex(/^[a-z0-9-]+$/, 'not a lower-case header name. Fix: write it like "x-api-key"'), 'header')
      .default(() => ['x-api-key'])
      .meta({
        description: 'request headers carrying secrets that never reach the WAF logs (cookie and authorization always are redacted; only BLOCK and COUNT decisions are logged)',
        rules: 'different lower-case header names',
      }),
    httpAllowedCidrs: clientCidrs.optional().meta({
      description:
        'a stage without HTTPS admits only these client blocks (office, VPN): on port 80 by the load balancer, or behind CloudFront by a function at the edge, over its HTTPS name',
      rules:
        'required without HTTPS; different public blocks (no private, carrier-grade NAT, loopback, link-local, multicast or reserved addresses), none inside another, at most a `/8` in all; dev ships the documentation range 198.51.100.0/24: replace it with your office or VPN',
    }),
  })
  .strict()
  .superRefine(({ wafRateLimitPer5Min, wafAuthRateLimitPer5Min }, ctx) => {
    if (wafAuthRateLimitPer5Min >= wafRateLimitPer5Min) {
      ctx.addIssue({
        code: 'custom',
        path: ['wafAuthRateLimitPer5Min'],
        message: `is not below the per-IP limit of every path (wafRateLimitPer5Min, ${wafRateLimitPer5Min}): requests to the authentication paths count towards both, so that rule blocks first and this one never acts. Fix: use less than ${wafRateLimitPer5Min} (the default is 100), or raise app.wafRateLimitPer5Min`,
      });
    }
  })
  .prefault({});

export const prodRules: readonly ProdRule<{ readonly app: z.output<typeof app> }>[] = [
  {
    path: ['app', 'enableExecuteCommand'],
    holds: (c) => !c.app.enableExecuteCommand,
    message: 'prod must not allow shells into running tasks. Fix: set app.enableExecuteCommand: false',
  },
  { path: ['app', 'waf'], holds: (c) => c.app.waf, message: 'prod must sit behind the WAF. Fix: set app.waf: true' },
  {
    path: ['app', 'loadBalancerDeletionProtection'],
    holds: (c) => c.app.loadBalancerDeletionProtection,
    message: 'prod must not lose its load balancer (and DNS name) to a stack change. Fix: set app.loadBalancerDeletionProtection: true',
  },
];
