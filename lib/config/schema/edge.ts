import { z } from 'zod';
import { domainName, type ProdRule, unique } from '../fields';

// How the site is reached: its DNS name, HTTPS, and CloudFront in front (lib/edge, a stack in us-east-1).

/** The zone's place under `parentZoneName` is checked in lib/config/schema.ts: its fix names the stage. */
export const domain = z
  .object({
    zoneName: domainName.meta({
      description:
        "the stage's own public zone, e.g. `staging.example.com`: the network stack creates it in the stage account (or uses `hostedZoneId`), and its name servers are delegated from `parentZoneName`",
      rules: 'inside `parentZoneName`; no two stages alike',
    }),
    recordName: domainName.meta({ description: "the site's name: the zone's apex or a name inside the zone", rules: 'inside `zoneName`; no two stages alike' }),
    parentZoneName: domainName.meta({ description: "the zone the stage's zone is delegated from, e.g. `example.com` (in whatever account holds it)" }),
    hostedZoneId: z
      .string()
      .regex(/^Z[A-Z0-9]{1,31}$/, 'not a Route 53 hosted zone id. Fix: copy the id ("Z..." ) from the hosted zone in Route 53, or leave it out to have the stack create the zone')
      .optional()
      .meta({ description: 'an existing public zone of the stage account to use instead of creating one', rules: '`Z...`' }),
  })
  .strict()
  .superRefine(({ zoneName, recordName }, ctx) => {
    if (recordName !== zoneName && !recordName.endsWith(`.${zoneName}`)) {
      ctx.addIssue({ code: 'custom', path: ['recordName'], message: `is outside the hosted zone ${zoneName}. Fix: use ${zoneName} or a name ending in .${zoneName}` });
    }
  })
  .optional()
  .meta({
    description: 'public DNS of the stage, in a hosted zone of its own in the stage account (each stage account writes only to its own zone)',
    rules: 'required when `https`',
  });

export const https = z.boolean().meta({ description: 'serve the site over HTTPS with an ACM certificate for `domain.recordName`', rules: 'needs `domain`; prod: must be true' });

export const edge = z
  .object({
    enabled: z.boolean().default(false).meta({
      description:
        "a CloudFront distribution in front of the load balancer (stack `<stage>-Edge` in us-east-1): the site's name points at it, immutable assets are cached at the edge, the WAF moves to it, and the load balancer becomes internal, reachable only through CloudFront's VPC origin",
      rules: "without a domain: CloudFront's own `*.cloudfront.net` name, held to `app.httpAllowedCidrs` by a function at the edge; prod: must be true",
    }),
    priceClass: z.enum(['PriceClass_100', 'PriceClass_200', 'PriceClass_All']).default('PriceClass_100').meta({
      description: 'edge locations served: `PriceClass_100` North America and Europe (cheapest), `PriceClass_200` adds most of Asia and Africa, `PriceClass_All` every location',
    }),
    immutablePaths: unique(z.string().regex(/^\/[\w\-./*]*$/, 'not a CloudFront path pattern. Fix: write it like "/_next/static/*"'), 'pattern')
      .min(1, 'list at least the build output\'s hashed assets. Fix: use ["/_next/static/*"]')
      .max(20, 'a distribution holds at most 25 cache behaviours. Fix: list at most 20 patterns')
      .default(() => ['/_next/static/*'])
      .meta({
        description: 'path patterns of immutable, content-hashed assets, cached a year at the edge and in browsers; everything else passes to the app uncached',
        rules: '1 to 20 different patterns',
      }),
  })
  .strict()
  .prefault({});

type Edge = z.output<typeof edge>;

export const prodRules: readonly ProdRule<{ readonly https: boolean; readonly edge: Edge }>[] = [
  { path: ['https'], holds: (c) => c.https, message: 'prod must serve HTTPS. Fix: set https: true and a domain' },
  {
    path: ['edge', 'enabled'],
    holds: (c) => c.edge.enabled,
    message: 'prod must serve through CloudFront, its load balancer unreachable from the internet. Fix: set edge.enabled: true',
  },
];
