import { z } from 'zod';
import { originFacingPrefixList } from '../app/origin-facing';
import { COLLECTOR_PORTS } from '../app/otel/collector-config';
import { RELEASE_TAG_PATTERN, releaseTag } from '../registry/release-tag';
import { PROJECT } from '../shared/naming';
import { APP_PARTITION, APP_REGIONS, AWS_REGIONS, CACHE_NODE_TYPES, closest, RDS_INSTANCE_CLASSES, RDS_POSTGRES_VERSIONS, regionPartition, zonesOf } from './aws-catalog';

/** The stages this app deploys. Their names are also the `cdk.Stage` ids (`npx cdk deploy 'staging/*'`). */
export const STAGE_NAMES = ['dev', 'staging', 'prod'] as const;
export type StageName = (typeof STAGE_NAMES)[number];

/** Where a user changes a stage's settings; every error message points here. */
export const CONFIG_FILE = 'lib/config/stages.ts';

/**
 * Fargate task sizes Fargate offers (cpu units -> allowed memory MiB).
 * Source: Amazon ECS developer guide, "Task CPU and memory" for the Fargate launch type.
 */
export const FARGATE_SIZES: Readonly<Record<number, readonly number[]>> = {
  256: [512, 1024, 2048],
  512: range(1024, 4096, 1024),
  1024: range(2048, 8192, 1024),
  2048: range(4096, 16384, 1024),
  4096: range(8192, 30720, 1024),
  8192: range(16384, 61440, 4096),
  16384: range(32768, 122880, 8192),
};

/** Minutes a traffic shift and its bake may take: CloudFormation holds the deploy (and the release record) until the web service is done. */
export const MAX_SHIFT_MINUTES = 120;

/** Manual DB snapshots kept free under the quota: the final snapshot on deletion, one taken by hand, the one being copied. */
export const SNAPSHOT_HEADROOM = 5;

/** Retention periods CloudWatch Logs accepts, in days. */
export const LOG_RETENTION_DAYS: readonly number[] = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653];

function range(from: number, to: number, step: number): number[] {
  const out: number[] = [];
  for (let v = from; v <= to; v += step) out.push(v);
  return out;
}

const accountId = z.string().regex(/^\d{12}$/, 'an AWS account id is exactly 12 digits. Fix: copy it from the console account menu, e.g. "123456789012"');

/**
 * A value from one of the pinned lists of lib/config/aws-catalog.ts; the message names the closest
 * ones and says how to refresh the list when AWS added something since.
 */
function oneOf(list: readonly string[], what: string, example: string) {
  return z.string().superRefine((value, ctx) => {
    if (list.includes(value)) return;
    ctx.addIssue({
      code: 'custom',
      message: `not ${what} (lib/config/aws-catalog.ts). Fix: use e.g. "${example}"; the closest are ${closest(value, list)
        .map((c) => `"${c}"`)
        .join(', ')} (if AWS added it since, refresh the list as that file says)`,
    });
  });
}

/** A region of the partition the stacks are written for (APP_PARTITION says why only that one). */
const region = oneOf(AWS_REGIONS, 'an AWS region', 'eu-west-1').superRefine((value, ctx) => {
  const partition = AWS_REGIONS.includes(value) ? regionPartition(value) : APP_PARTITION;
  if (partition === APP_PARTITION) return;
  ctx.addIssue({
    code: 'custom',
    message: `is in the ${partition} partition, and the stacks are written for the ${APP_PARTITION} partition: the edge stack's CloudFront distribution and certificate live in us-east-1, and the CI roles trust GitHub's tokens for sts.amazonaws.com, neither of which exists in ${partition}. Fix: use a region of the ${APP_PARTITION} partition, e.g. "eu-west-1" (${APP_REGIONS.length} are listed in lib/config/aws-catalog.ts)`,
  });
});

/**
 * A list that names each entry once (by `key`, the entry itself unless given): a repeated entry is
 * a slip, and several AWS APIs refuse it (a second cache behaviour with the same path pattern, a
 * duplicate subscription, a security group rule twice). Every list of the schema is one, except
 * LISTS_WITH_REPEATS.
 */
function unique<T extends z.ZodTypeAny>(item: T, what: string, key: (value: z.output<T>) => unknown = (value) => value) {
  return z.array(item).superRefine((list, ctx) => {
    const seen = new Set<unknown>();
    list.forEach((value, index) => {
      const id = key(value);
      if (seen.has(id)) ctx.addIssue({ code: 'custom', path: [index], message: `${JSON.stringify(id)} is listed twice: each ${what} once. Fix: remove the second one` });
      seen.add(id);
    });
  });
}

/** A command's argument list (argv): the one kind of list where the same entry may come twice (`-r a -r b`). */
const command = z.array(z.string().min(1));

/** The lists whose entries may repeat (commands); every other list of the schema refuses a repeated entry. */
export const LISTS_WITH_REPEATS: readonly string[] = ['app.workerCommand', 'app.migrationCommand'];

/** An absolute URL path or path prefix. */
const urlPath = z.string().regex(/^\/[\w\-./]*$/, 'not an absolute URL path. Fix: write it like "/api/auth/"');

/**
 * A path as a client spells it when nothing is hidden in it: no empty, "." or ".." segment, no
 * trailing slash. WAF compares the upload paths byte for byte, so another spelling would never match.
 */
const exactPath = urlPath.refine(
  // "/" and a trailing slash each leave an empty segment.
  (path) =>
    path
      .slice(1)
      .split('/')
      .every((segment) => segment !== '' && segment !== '.' && segment !== '..'),
  'is not a normalised path (an empty, "." or ".." segment, or a trailing slash): the WAF compares the request\'s path with it byte for byte, and a client spells a path without them. Fix: write the path the upload requests use, like "/api/uploads"',
);

/** KB of a request body CloudFront can hand its web ACL (AssociationConfig, DefaultSizeInspectionLimit KB_16 to KB_64). */
export const WAF_BODY_INSPECTION_KB = [16, 32, 48, 64] as const;

/** A percentage threshold: above 0 and at most 100. */
const percent = z.number().positive('must be above 0. Fix: use a value above 0 and at most 100').max(100, 'a percentage is at most 100. Fix: use a value above 0 and at most 100');

/** A domain name: labels of letters, digits and hyphens, at least two labels, no trailing dot. */
const domainName = z
  .string()
  .regex(/^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/, 'not a lower-case domain name. Fix: write it like "app.example.com" (no scheme, no trailing dot)');

/** IPv4 CIDR block with a prefix length the VPC supports (/16 to /24) and no host bits set. */
const vpcCidr = z.string().superRefine((value, ctx) => {
  const problem = cidrProblem(value);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

/** The private IPv4 ranges (RFC 1918) a VPC block must lie in, as [first address, prefix]. */
const PRIVATE_RANGES: readonly [number, number, string][] = [
  [10 << 24, 8, '10.0.0.0/8'],
  [((172 << 24) | (16 << 16)) >>> 0, 12, '172.16.0.0/12'],
  [((192 << 24) | (168 << 16)) >>> 0, 16, '192.168.0.0/16'],
];

/** An IPv4 CIDR block as an address and a prefix, or what is wrong with it (no fix: callers know the fix). */
function parseIpv4Cidr(value: string): { address: number; prefix: number } | { problem: string } {
  const match = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(value);
  if (!match) return { problem: 'not an IPv4 CIDR block.' };
  const octets = match.slice(1, 5).map(Number);
  const prefix = Number(match[5]);
  if (octets.some((o) => o > 255)) return { problem: 'an octet is above 255.' };
  return { address: ((octets[0] << 24) | (octets[1] << 16) | (octets[2] << 8) | octets[3]) >>> 0, prefix };
}

/** The block `address/prefix` should be written as when host bits are set, else undefined. */
function hostBitsProblem(address: number, prefix: number): string | undefined {
  const size = 2 ** (32 - prefix);
  if (address % size === 0) return undefined;
  const base = (address - (address % size)) >>> 0;
  const dotted = [24, 16, 8, 0].map((s) => (base >>> s) & 255).join('.');
  return `host bits are set: the block starts at ${dotted}/${prefix}. Fix: use "${dotted}/${prefix}"`;
}

export function cidrProblem(value: string): string | undefined {
  const fix = 'Fix: use a private block such as "10.10.0.0/16"';
  const parsed = parseIpv4Cidr(value);
  if ('problem' in parsed) return `${parsed.problem} ${fix}`;
  const { address, prefix } = parsed;
  if (prefix < 16 || prefix > 24) return `a VPC block must be /16 to /24 (got /${prefix}). ${fix}`;
  const hostBits = hostBitsProblem(address, prefix);
  if (hostBits) return hostBits;
  const inPrivate = PRIVATE_RANGES.some(([first, bits]) => prefix >= bits && address >>> (32 - bits) === first >>> (32 - bits));
  if (!inPrivate) {
    return `is not a private block: its addresses belong to someone on the internet, whom the VPC could no longer reach. Fix: use a block inside ${PRIVATE_RANGES.map(([, , r]) => r).join(', ')}, e.g. "10.10.0.0/16"`;
  }
  return undefined;
}

/**
 * Blocks no client on the internet comes from, so no viewer of CloudFront or of an internet-facing
 * load balancer has an address there (IANA's special-purpose registry, RFC 6890). The documentation
 * blocks (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24) are left out on purpose: dev ships one as
 * the placeholder that admits nobody until an office block replaces it.
 */
const NON_PUBLIC_BLOCKS: readonly [string, string][] = [
  ['0.0.0.0/8', '"this network"'],
  ['10.0.0.0/8', 'private, RFC 1918'],
  ['100.64.0.0/10', 'carrier-grade NAT, RFC 6598'],
  ['127.0.0.0/8', 'loopback'],
  ['169.254.0.0/16', 'link-local'],
  ['172.16.0.0/12', 'private, RFC 1918'],
  ['192.0.0.0/24', 'IETF protocol assignments'],
  ['192.168.0.0/16', 'private, RFC 1918'],
  ['198.18.0.0/15', 'benchmarking, RFC 2544'],
  ['224.0.0.0/4', 'multicast'],
  ['240.0.0.0/4', 'reserved, with the broadcast address'],
];

/** The most addresses a client allow list admits: a /8. Offices and VPNs are far smaller; more is the internet in pieces. */
const MAX_ALLOWED_ADDRESSES = 2 ** 24;

/** A block's first address and the address after its last. */
function blockRange({ address, prefix }: { address: number; prefix: number }): [number, number] {
  return [address, address + 2 ** (32 - prefix)];
}

/** The blocks of NON_PUBLIC_BLOCKS a block overlaps, with what they are. */
function nonPublicOverlaps(block: { address: number; prefix: number }): string[] {
  const [start, end] = blockRange(block);
  return NON_PUBLIC_BLOCKS.filter(([cidr]) => {
    const [first, last] = blockRange(parseIpv4Cidr(cidr) as { address: number; prefix: number });
    return start < last && first < end;
  }).map(([cidr, what]) => `${cidr} (${what})`);
}

/** What is wrong with a client address block of app.httpAllowedCidrs, or undefined. */
function clientCidrProblem(value: string): string | undefined {
  const parsed = parseIpv4Cidr(value);
  const fix = 'Fix: write it like "198.51.100.0/24"';
  if ('problem' in parsed) return `${parsed.problem} ${fix}`;
  if (parsed.prefix > 32) return `an IPv4 prefix is at most /32 (got /${parsed.prefix}). ${fix}`;
  const hostBits = hostBitsProblem(parsed.address, parsed.prefix);
  if (hostBits) return hostBits;
  const only = 'Fix: list the public blocks of your office or VPN only, e.g. "198.51.100.0/24"';
  const size = 2 ** (32 - parsed.prefix);
  if (parsed.prefix === 0) return `admits the whole internet. ${only}`;
  if (size > MAX_ALLOWED_ADDRESSES) {
    return `admits ${size.toLocaleString('en-US')} addresses, more than a /8: no office or VPN is that large, and blocks this wide add up to the internet. ${only}`;
  }
  const overlaps = nonPublicOverlaps(parsed);
  if (overlaps.length > 0) {
    return `overlaps ${overlaps.join(', ')}: no client reaches CloudFront or an internet-facing load balancer from there (a VPN or NAT shows its public address). ${only}`;
  }
  return undefined;
}

/** A client block as EC2 and the edge function read it (an IPv4 CIDR without host bits), of public addresses, at most a /8. */
const clientCidr = z.string().superRefine((value, ctx) => {
  const problem = clientCidrProblem(value);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

/** The client blocks together: each once, none inside another, and no more than MAX_ALLOWED_ADDRESSES in all. */
const clientCidrs = unique(clientCidr, 'block').superRefine((list, ctx) => {
  const blocks = list.flatMap((cidr, index) => {
    const parsed = parseIpv4Cidr(cidr);
    return 'problem' in parsed || parsed.prefix > 32 ? [] : [{ cidr, index, range: blockRange(parsed) }];
  });
  for (const { index, range } of blocks) {
    const outer = blocks.find((other) => other.range[0] <= range[0] && range[1] <= other.range[1] && other.range[1] - other.range[0] > range[1] - range[0]);
    if (outer) {
      ctx.addIssue({ code: 'custom', path: [index], message: `lies inside ${outer.cidr}, listed too. Fix: remove it, or list the smaller block instead of ${outer.cidr}` });
    }
  }
  // Addresses admitted, overlaps counted once.
  let admitted = 0;
  let reached = 0;
  for (const [start, end] of blocks.map((b) => b.range).sort((a, b) => a[0] - b[0])) {
    admitted += Math.max(0, end - Math.max(start, reached));
    reached = Math.max(reached, end);
  }
  if (admitted > MAX_ALLOWED_ADDRESSES) {
    ctx.addIssue({
      code: 'custom',
      message: `the blocks admit ${admitted.toLocaleString('en-US')} addresses together, more than a /8 (${MAX_ALLOWED_ADDRESSES.toLocaleString('en-US')}): an allow list names offices and VPNs, and this is a share of the internet. Fix: list the public blocks of your office or VPN only`,
    });
  }
});

const fargateService = z
  .object({
    /** Task CPU units (256 = 0.25 vCPU). */
    cpu: z.number().int(),
    /** Task memory in MiB; must be a size Fargate offers for `cpu`. */
    memoryLimitMiB: z.number().int(),
    desiredCount: z.number().int().min(0, 'cannot be negative. Fix: use 0 or more'),
    minCapacity: z.number().int().min(0, 'cannot be negative. Fix: use 0 or more'),
    maxCapacity: z.number().int().min(1, 'must be at least 1. Fix: use 1 or more').max(100),
    /** Run the tasks on Fargate Spot (cheaper, can be interrupted with two minutes' notice). */
    useSpot: z.boolean(),
    /** With `useSpot`: this many tasks stay on regular Fargate (ECS places them first), the rest run on Spot. */
    onDemandBase: z.number().int().min(0, 'cannot be negative. Fix: use 0 or more').default(0),
  })
  .strict()
  .superRefine((svc, ctx) => {
    const memories = FARGATE_SIZES[svc.cpu];
    if (!memories) {
      ctx.addIssue({
        code: 'custom',
        path: ['cpu'],
        message: `Fargate does not offer ${svc.cpu} CPU units. Fix: use one of ${Object.keys(FARGATE_SIZES).join(', ')}`,
      });
    } else if (!memories.includes(svc.memoryLimitMiB)) {
      ctx.addIssue({
        code: 'custom',
        path: ['memoryLimitMiB'],
        message: `Fargate does not offer ${svc.memoryLimitMiB} MiB with ${svc.cpu} CPU units. Fix: use one of ${describeSizes(memories)}`,
      });
    }
    if (svc.minCapacity > svc.maxCapacity) {
      ctx.addIssue({
        code: 'custom',
        path: ['minCapacity'],
        message: `minCapacity (${svc.minCapacity}) is above maxCapacity (${svc.maxCapacity}). Fix: lower minCapacity or raise maxCapacity`,
      });
    } else if (svc.desiredCount < svc.minCapacity || svc.desiredCount > svc.maxCapacity) {
      ctx.addIssue({
        code: 'custom',
        path: ['desiredCount'],
        message: `desiredCount must lie between minCapacity (${svc.minCapacity}) and maxCapacity (${svc.maxCapacity}). Fix: set it within that range`,
      });
    }
  });

function describeSizes(memories: readonly number[]): string {
  return memories.length > 4 ? `${memories[0]} to ${memories[memories.length - 1]} in steps of ${memories[1] - memories[0]}` : memories.join(', ');
}

/**
 * Defines the whole configuration of one stage. Every setting of the app that differs between
 * stages lives here; types derive from it, and cross-field rules are checked here so a bad value
 * fails at synth with the stage, field, value and the fix.
 */
const stageShape = z
  .object({
    /** The stage this config belongs to; also the `cdk.Stage` id. */
    name: z.enum(STAGE_NAMES),
    /** AWS account the stage deploys to. */
    account: accountId,
    /** Primary region. */
    region,
    /** Disaster-recovery region for backup and snapshot copies; must differ from `region`. */
    drRegion: region,
    network: z
      .object({
        /** VPC IPv4 block, /16 to /24. Subnets take 1/16 of it each. */
        cidr: vpcCidr,
        /** Availability Zones the VPC spans (2 or 3). */
        azCount: z.number().int().min(2, 'the database and load balancer need at least 2 AZs. Fix: use 2 or 3').max(3, 'at most 3 AZs are laid out. Fix: use 2 or 3'),
        /**
         * Availability Zone names, in order. Optional: defaults to the region's "a", "b", "c" zones.
         * Set it when an account lacks one of those (zone letters map per account).
         */
        availabilityZones: unique(z.string(), 'zone').optional(),
        /** NAT gateways (1 saves cost; one per AZ survives an AZ outage). */
        natGateways: z.number().int().min(1, 'private subnets need a NAT gateway to reach AWS APIs and the image registry. Fix: use 1 or more'),
        /**
         * What the NAT is: AWS's managed gateways, or EC2 instances (one per `natGateways`, Graviton,
         * Amazon Linux 2023) at about a tenth of the cost, with no managed failover: a failed
         * instance stops the private subnets' egress until EC2 recovers it (docs/architecture.md,
         * "NAT"). Not in prod.
         */
        nat: z.enum(['gateway', 'instance']).default('gateway'),
        /**
         * What the VPC flow log records: every connection (`all`), or only those security groups
         * and network ACLs refused (`rejected`: a tenth of the volume or less, enough to debug a
         * blocked path, not to investigate what got through). prod records all.
         */
        flowLogs: z.enum(['all', 'rejected']).default('all'),
        /** Instance type of a NAT instance (Graviton: t4g). */
        natInstanceType: z
          .string()
          .regex(/^t4g\.(nano|micro|small|medium)$/, 'a NAT instance here is a burstable Graviton type. Fix: use t4g.nano, t4g.micro, t4g.small or t4g.medium')
          .default('t4g.nano'),
      })
      .strict(),
    /**
     * Public DNS of the stage, in a hosted zone of its own in the stage account (each stage
     * account writes only to its own zone). Optional when `https` is false.
     */
    domain: z
      .object({
        /**
         * The stage's own public zone, e.g. "staging.example.com". The network stack creates it
         * (or uses `hostedZoneId`); its name servers are then delegated from `parentZoneName`.
         */
        zoneName: domainName,
        /** Record the site is served at: the zone apex or a name inside the zone. */
        recordName: domainName,
        /** The zone the stage's zone is delegated from, e.g. "example.com" (in whatever account holds it). */
        parentZoneName: domainName,
        /** An existing public zone of the stage account to use instead of creating one, e.g. "Z0123456789ABCDEFGHIJ". */
        hostedZoneId: z
          .string()
          .regex(
            /^Z[A-Z0-9]{1,31}$/,
            'not a Route 53 hosted zone id. Fix: copy the id ("Z..." ) from the hosted zone in Route 53, or leave it out to have the stack create the zone',
          )
          .optional(),
      })
      .strict()
      .optional(),
    /** Serve the site over HTTPS with an ACM certificate for `domain.recordName`. */
    https: z.boolean(),
    /**
     * A CloudFront distribution in front of the load balancer (lib/edge, a stack in us-east-1):
     * the site's name points at it, immutable assets are cached at the edge, the WAF moves to it,
     * and the load balancer becomes internal, reachable only through CloudFront's VPC origin. A
     * stage without a domain (dev) gets CloudFront's own `https://<id>.cloudfront.net` name, held
     * to `app.httpAllowedCidrs` by a function at the edge.
     */
    edge: z
      .object({
        enabled: z.boolean().default(false),
        /** Edge locations served: 100 is North America and Europe (cheapest), 200 adds most of Asia and Africa, All is every location. */
        priceClass: z.enum(['PriceClass_100', 'PriceClass_200', 'PriceClass_All']).default('PriceClass_100'),
        /**
         * Path patterns of immutable, content-hashed assets, cached for a year at the edge and in
         * browsers. Everything else passes to the app uncached.
         */
        immutablePaths: unique(z.string().regex(/^\/[\w\-./*]*$/, 'not a CloudFront path pattern. Fix: write it like "/_next/static/*"'), 'pattern')
          .min(1, 'list at least the build output\'s hashed assets. Fix: use ["/_next/static/*"]')
          .max(20, 'a distribution holds at most 25 cache behaviours. Fix: list at most 20 patterns')
          .default(() => ['/_next/static/*']),
      })
      .strict()
      .prefault({}),
    web: fargateService,
    worker: fargateService,
    database: z
      .object({
        /** RDS instance class without the "db." prefix, e.g. "t4g.micro". */
        instanceClass: z
          .string()
          .regex(/^(?!db\.)[a-z][a-z0-9-]*\.[a-z0-9]+$/, 'not an RDS instance class without its "db." prefix. Fix: write it like "t4g.micro" or "m7g.large"')
          .pipe(oneOf(RDS_INSTANCE_CLASSES, 'an RDS for PostgreSQL instance class', 'm7g.large')),
        /** Initial storage in GiB (gp3 needs at least 20). */
        allocatedStorageGiB: z.number().int().min(20, 'gp3 storage starts at 20 GiB. Fix: use 20 or more').max(65536),
        /** Storage autoscaling ceiling in GiB. */
        maxAllocatedStorageGiB: z.number().int().max(65536),
        multiAz: z.boolean(),
        /** Days of automated backups (point-in-time recovery window), 1 to 35. */
        backupRetentionDays: z
          .number()
          .int()
          .min(1, 'backups (and point-in-time recovery) need at least 1 day. Fix: use 1 to 35')
          .max(35, 'RDS keeps automated backups for at most 35 days. Fix: use 1 to 35'),
        deletionProtection: z.boolean(),
        /** PostgreSQL "major.minor", pinned so upgrades are deliberate, e.g. "17.6". */
        engineVersion: z
          .string()
          .regex(/^1[67]\.\d+$/, 'must be a PostgreSQL 16 or 17 minor version ("major.minor"), which RDS ships with pgvector 0.8. Fix: use e.g. "17.6"')
          .pipe(oneOf(RDS_POSTGRES_VERSIONS, 'a PostgreSQL minor version RDS accepts new instances on', '17.6')),

        /**
         * Let the next deploy move the instance to a new major version (RDS's in-place upgrade: the
         * parameter group of the new family, minutes of downtime, the database setup run again).
         * A deliberate step (docs/runbooks.md, "Upgrade PostgreSQL to a new major version"): the
         * review and preflight refuse a major change without it; set it back to false after.
         */
        allowMajorVersionUpgrade: z.boolean().default(false),
        /** Lowest pgvector version the deployment accepts; the stack fails when the engine offers less. */
        pgvectorMinVersion: z
          .string()
          .regex(/^\d+\.\d+(\.\d+)?$/, 'not a version number. Fix: write it like "0.8.0"')
          .default('0.8.0'),
        /** Performance Insights (7 days, free tier) and enhanced monitoring every 60 s. */
        enablePerformanceInsights: z.boolean().default(false),
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
      }),
    cache: z
      .object({
        /** ElastiCache node type, e.g. "cache.t4g.micro". */
        nodeType: z
          .string()
          .regex(/^cache\.[a-z][a-z0-9-]*\.[a-z0-9]+$/, 'not an ElastiCache node type. Fix: write it like "cache.t4g.micro"')
          .pipe(oneOf(CACHE_NODE_TYPES, 'an ElastiCache node type that runs Valkey', 'cache.t4g.small')),
        /** Read replicas besides the primary (0 to 5). A replica enables Multi-AZ failover. */
        replicas: z.number().int().min(0).max(5, 'a replication group has at most 5 replicas. Fix: use 0 to 5'),
        /** Days of daily cache snapshots (0 turns them off). */
        snapshotRetentionDays: z.number().int().min(0).max(35, 'ElastiCache keeps snapshots for at most 35 days. Fix: use 0 to 35'),
      })
      .strict(),
    alarms: z
      .object({
        /** Email addresses subscribed to the stage's alarm topic. */
        emails: unique(z.email({ message: 'not an email address. Fix: write it like "oncall@example.com"' }), 'address').max(
          10,
          'AWS Budgets notifies at most 10 email addresses. Fix: list at most 10, or subscribe a mailing list',
        ),
        /** HTTPS endpoints (PagerDuty, Opsgenie, ...) subscribed to the alarm topic. */
        httpsEndpoints: unique(
          z.url({
            protocol: /^https$/,
            message: "not an https:// URL (notifications must not travel in clear text). Fix: use the endpoint's https:// URL",
          }),
          'endpoint',
        ).default(() => []),
      })
      .strict(),
    email: z
      .object({
        /**
         * Preflight fails (instead of warning) while SES in the stage's region is still in the
         * sandbox, where mail reaches only verified addresses. Prod: must be true.
         */
        requireProductionAccess: z.boolean().default(false),
        /**
         * The DMARC policy the stage's domain publishes (`_dmarc.<zone>`): what receivers do with
         * mail that claims the domain but fails SPF and DKIM alignment. "none" only reports.
         */
        dmarcPolicy: z.enum(['none', 'quarantine', 'reject']).default('quarantine'),
        /**
         * Where receivers send aggregate DMARC reports (rua). Required where the stage has a domain
         * and the policy is "quarantine" or "reject": otherwise nobody sees what is held back.
         */
        dmarcReportsTo: z.email({ message: 'not an email address. Fix: write it like "dmarc@example.com"' }).optional(),
      })
      .strict()
      .prefault({}),
    app: z
      .object({
        /** Port the Node.js/Next.js server listens on in the container. */
        containerPort: z
          .number()
          .int()
          .min(1024, 'the container runs as a non-root user, which cannot bind ports below 1024. Fix: use e.g. 3000')
          .max(65535)
          .refine((port) => !COLLECTOR_PORTS.includes(port), {
            message: `the tracing collector beside the app listens there (lib/app/otel/collector.yaml uses ${COLLECTOR_PORTS.join(', ')}), and the containers of a task share their ports. Fix: use another port, e.g. 3000`,
          })
          .default(3000),
        /** Load balancer health check: the app answers 200 when it can serve (database and cache reachable). */
        readinessPath: z
          .string()
          .regex(/^\/[\w\-./]*$/, 'not an absolute URL path. Fix: write it like "/health/ready"')
          .default('/health/ready'),
        /** Container health check: the process is alive. */
        livenessPath: z
          .string()
          .regex(/^\/[\w\-./]*$/, 'not an absolute URL path. Fix: write it like "/health/live"')
          .default('/health/live'),
        /** Command of the BullMQ worker container (same image as the web app). */
        workerCommand: command.min(1, 'the worker needs a command. Fix: e.g. ["node", "dist/worker.js"]').default(() => ['node', 'dist/worker.js']),
        /** Seconds ECS waits after SIGTERM before killing a worker task, so a running job can finish (max 120 on Fargate). */
        workerStopTimeoutSeconds: z.number().int().min(2).max(120, 'Fargate allows at most 120 s. Fix: use 2 to 120').default(120),
        /**
         * The app's log level (LOG_LEVEL in the web, worker and migration containers; pino's names).
         * Log ingestion is paid per GB: `debug` where people debug, `info` where it is paid for.
         */
        logLevel: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
        /** ECS Exec (shell into running tasks) for debugging. */
        enableExecuteCommand: z.boolean().default(false),
        /**
         * Traces and OpenTelemetry metrics of the web and worker tasks (docs/architecture.md,
         * "Traces"): an ADOT collector sidecar receives OTLP on localhost and exports traces to X-Ray
         * and metrics to CloudWatch (EMF); the app's SDK samples `sampleRatio` of new traces.
         */
        tracing: z
          .object({
            enabled: z.boolean().default(true),
            sampleRatio: z
              .number()
              .gt(0, 'a ratio of 0 records no trace while the collector runs for nothing. Fix: use a ratio above 0 (0.05 is 5%), or set tracing.enabled: false')
              .max(1, 'a ratio is at most 1 (every trace). Fix: use 0.01 to 1')
              .default(0.1),
          })
          .strict()
          .prefault({}),
        /**
         * Command of the release's schema migration (same image), run once per release after the
         * pre-deploy snapshot and before the services update, e.g. ["node", "dist/migrate.js"].
         * Unset: no migration step.
         */
        migrationCommand: command.min(1, 'a migration needs a command. Fix: e.g. ["node", "dist/migrate.js"], or leave migrationCommand out').optional(),
        /** Minutes a migration may run before it is stopped and the deploy fails (CloudFormation waits at most an hour for it). */
        migrationTimeoutMinutes: z
          .number()
          .int()
          .min(1, 'must be at least 1 minute. Fix: use 1 to 55')
          .max(55, 'CloudFormation waits at most an hour for a custom resource, and the release needs the rest. Fix: use 1 to 55')
          .default(30),
        /**
         * How a release reaches the web service (docs/releases.md). "rolling": tasks are replaced
         * in place (100% healthy, 200% max). "blueGreen", "canary" and "linear" use ECS's own
         * traffic shifting: the new revision starts beside the old one in the second target group,
         * a smoke test runs against it through the test listener, production traffic moves (all
         * at once, a canary share first, or in equal steps), and the deployment alarms roll it
         * back during the shift and the bake. The worker has no load balancer and always rolls.
         */
        deployment: z
          .object({
            strategy: z
              .enum(['rolling', 'blueGreen', 'canary', 'linear'], {
                error: 'not a deployment strategy. Fix: use "rolling", "blueGreen", "canary" or "linear"',
              })
              .default('rolling'),
            /** Canary: the share of production traffic the new revision gets first. Linear: the share each step moves. */
            stepPercent: z
              .number()
              .min(1, 'must be at least 1%. Fix: use 1 to 50')
              .max(50, 'more than half the traffic is no canary. Fix: use 1 to 50')
              // ECS moves traffic in tenths of a percent, and aws-cdk-lib refuses anything else at synth (MustBeCanaryDeploymentStepPercent, MustBeLinearDeploymentStepPercent).
              .refine((p) => Number.isInteger(p * 10), 'ECS shifts traffic in steps of 0.1%. Fix: use at most one decimal, e.g. 10 or 12.5')
              .default(10),
            /** Canary: minutes the canary share runs before the rest moves. Linear: minutes between steps. */
            stepMinutes: z
              .number()
              .int()
              .min(5, 'the deployment alarms need 3 one-minute periods of data to fire. Fix: use 5 to 60 minutes')
              .max(60, 'CloudFormation holds the deploy for the whole shift. Fix: use 5 to 60 minutes')
              .default(10),
            /** Minutes both revisions keep running after all production traffic moved, so an alarm can still roll back at once. */
            bakeMinutes: z
              .number()
              .int()
              .min(5, 'the deployment alarms need 3 one-minute periods of data to fire. Fix: use 5 to 60 minutes')
              .max(60, 'CloudFormation holds the deploy for the whole bake. Fix: use 5 to 60 minutes')
              .default(10),
            /** Paths the smoke test requests from the new revision, besides the readiness path; each must answer 2xx within smokeLatencyMs. */
            smokePaths: unique(urlPath, 'path')
              .max(10, 'the smoke test requests each path once within its latency bound; more than 10 would outlast it. Fix: list at most 10 paths')
              .default(() => ['/']),
            /** Milliseconds a smoke-test request may take. */
            smokeLatencyMs: z.number().int().min(100, 'must be at least 100 ms. Fix: use 100 to 5000').max(5000, 'must be at most 5000 ms. Fix: use 100 to 5000').default(2000),
          })
          .strict()
          .prefault({}),
        /** Refuse to delete the load balancer (a stack update that would replace or delete it fails instead). */
        loadBalancerDeletionProtection: z.boolean().default(false),
        /** A WAF web ACL in front of the load balancer. */
        waf: z.boolean().default(true),
        /** Requests one IP may make in 5 minutes before the WAF blocks it. */
        wafRateLimitPer5Min: z.number().int().min(10, 'WAF rate limits start at 10. Fix: use 10 or more').max(2_000_000_000).default(2000),
        /** URL path prefixes of sign-in, sign-up and password reset, held to `wafAuthRateLimitPer5Min` per IP. */
        wafAuthPaths: unique(urlPath, 'path prefix')
          .min(1, 'the authentication rate limit needs at least one path. Fix: list e.g. "/api/auth/"')
          .default(() => ['/api/auth/', '/login', '/signup', '/reset-password']),
        /** Requests one IP may make to the authentication paths in 5 minutes. */
        wafAuthRateLimitPer5Min: z.number().int().min(10, 'WAF rate limits start at 10. Fix: use 10 or more').max(2_000_000_000).default(100),
        /** The exact URL paths that may receive request bodies over 8 KB (uploads); every other path keeps the common rule set's limit. */
        wafLargeBodyPaths: unique(exactPath, 'path').default(() => ['/api/uploads']),
        /** Let Next.js Server Action POSTs (header Next-Action with an action id) carry bodies over 8 KB, up to wafBodyInspectionKb. */
        wafServerActions: z.boolean().default(true),
        /** KB of a request body CloudFront hands the web ACL; Server Action bodies must fit in it. Beyond 16 KB AWS charges per request that large. */
        wafBodyInspectionKb: z
          .number()
          .refine(
            (kb): kb is (typeof WAF_BODY_INSPECTION_KB)[number] => (WAF_BODY_INSPECTION_KB as readonly number[]).includes(kb),
            `is not a size WAF inspects behind CloudFront. Fix: use one of ${WAF_BODY_INSPECTION_KB.join(', ')}`,
          )
          .default(64),
        /** Request headers carrying secrets (API keys), never written to the WAF logs; cookie and authorization always are redacted. */
        wafRedactedHeaders: unique(z.string().regex(/^[a-z0-9-]+$/, 'not a lower-case header name. Fix: write it like "x-api-key"'), 'header').default(() => ['x-api-key']),
        /**
         * Where the stage has no domain (no HTTPS of its own): the only client address blocks
         * admitted (office, VPN), by the load balancer's security group, or behind CloudFront by a
         * function at the edge. Unused with HTTPS.
         */
        httpAllowedCidrs: clientCidrs.optional(),
      })
      .strict()
      .prefault({}),
    operations: z
      .object({
        /** Alarm when more than this % of requests end in a 5xx, from the load balancer or from the app (5 min). */
        http5xxRatePercent: percent.default(1),
        /** Alarm when the p99 target response time exceeds this many seconds (5 min). */
        p99LatencySeconds: z.number().positive('must be above 0. Fix: use a number of seconds above 0, e.g. 2').default(2),
        /** Web and worker CPU alarm (5 min average). */
        ecsCpuPercent: percent.default(80),
        /** Web and worker memory alarm (5 min average). */
        ecsMemoryPercent: percent.default(80),
        /** Database CPU alarm (10 min). */
        rdsCpuPercent: percent.default(80),
        /** Database freeable memory alarm, in MiB. */
        rdsFreeableMemoryMiB: z.number().int().positive('must be above 0. Fix: use a whole number of MiB, e.g. 128').default(128),
        /** Alarm when free storage falls below this % of the allocated storage. */
        rdsFreeStoragePercent: percent.default(10),
        /** Alarm when connections exceed this % of the instance class's max_connections. */
        rdsConnectionsPercent: percent.default(80),
        /** Database read and write latency alarm, in seconds. */
        rdsLatencySeconds: z.number().positive('must be above 0. Fix: use a number of seconds above 0, e.g. 0.02').default(0.02),
        /** Valkey engine CPU alarm. */
        cacheCpuPercent: percent.default(80),
        /** Valkey memory alarm (noeviction: writes fail when full). */
        cacheMemoryPercent: percent.default(80),
        /** Valkey client connections alarm. */
        cacheConnections: z.number().int().positive('must be above 0. Fix: use a whole number of connections, e.g. 1000').default(1000),
        /** SES reputation bounce-rate alarm (SES reviews accounts above 5%). */
        sesBounceRatePercent: percent.default(5),
        /** SES reputation complaint-rate alarm (SES reviews accounts above 0.1%). */
        sesComplaintRatePercent: percent.default(0.1),
        /**
         * The worker publishes BullMQ queue metrics (webapp/Queues: Waiting, OldestWaitingSeconds;
         * docs/architecture.md, "What the worker publishes"): its task role may publish them, the
         * dashboard shows them and an alarm pages when the oldest waiting job is too old or the
         * worker stops reporting. Turn on once the app publishes them.
         */
        queueMetrics: z.boolean().default(false),
        /** Seconds the oldest waiting job may wait before the queue alarm pages (with queueMetrics). */
        queueOldestJobSeconds: z
          .number()
          .int()
          .min(60, 'must be at least 60 s (the metric comes once a minute). Fix: use 60 to 86400')
          .max(86400, 'must be at most a day. Fix: use 60 to 86400')
          .default(600),
        /**
         * The stage's service-level objectives, from the load balancer's metrics (docs/alarms.md,
         * "Service-level objectives"): the share of requests that must not fail (5xx from the app or
         * the load balancer) and the share that must be answered within `latencyThresholdMs`. Each
         * gets multi-window burn-rate alarms on its error budget (30 days).
         */
        slo: z
          .object({
            /** Build the burn-rate alarms and the budget widgets (a stage without users has no budget to burn: dev). */
            enabled: z.boolean().default(true),
            availabilityPercent: z
              .number()
              .min(90, 'an availability objective under 90% leaves more than 3 days of errors a month. Fix: use 90 to 99.99')
              .max(99.99, 'a budget under 0.01% is exhausted by a handful of failed requests. Fix: use 90 to 99.99')
              .default(99.9),
            latencyPercent: z
              .number()
              .min(50, 'a latency objective under 50% says nothing about most requests. Fix: use 50 to 99.9')
              .max(99.9, 'above 99.9% the budget is a few slow requests. Fix: use 50 to 99.9')
              .default(95),
            latencyThresholdMs: z
              .number()
              .int()
              .min(10, 'the load balancer measures no faster than that meaningfully. Fix: use 10 to 30000 ms')
              .max(30000, 'more than 30 s is not a latency objective. Fix: use 10 to 30000 ms')
              .default(500),
          })
          .strict()
          .prefault({}),
        /** Anomaly-detection alarms on request count and p99 latency (they need two weeks of history to be useful; prod). */
        anomalyAlarms: z.boolean().default(false),
        /** Requests the WAF may block in 5 minutes before the surge alarm fires. */
        wafBlockedPer5Min: z.number().int().positive('must be above 0. Fix: use a whole number of requests, e.g. 1000').default(1000),
      })
      .strict()
      .prefault({}),
    backup: z
      .object({
        /**
         * Copy database backups to `drRegion`: deploys the stage's DR stack (backup key and vault)
         * and copies each AWS Backup recovery point and each pre-deploy snapshot there.
         */
        drCopies: z.boolean(),
        /** Days RDS also keeps its automated backups in `drRegion` (point-in-time restore there); 0 turns it off. */
        automatedBackupReplicationDays: z.number().int().min(0).max(35, 'RDS keeps replicated backups for at most 35 days. Fix: use 0 to 35'),
        /** Days the daily AWS Backup recovery points of the database are kept. */
        planRetentionDays: z.number().int().min(1, 'must keep recovery points at least 1 day. Fix: use 1 or more'),
        /** Days the DR-region copies of those recovery points are kept. */
        drCopyRetentionDays: z.number().int().min(1, 'must keep copies at least 1 day. Fix: use 1 or more'),
        /**
         * AWS Backup vault lock on the stage's vaults (minimum retention = the days above).
         * "governance": removable only by a principal allowed to (the vault policy allows only the
         * break-glass role). "compliance": after `changeableForDays` nobody, not AWS support, can
         * remove it or delete a recovery point before its minimum retention; never in dev.
         */
        vaultLock: z
          .object({
            mode: z.enum(['governance', 'compliance']),
            /** Compliance only: days (3 or more) during which the lock can still be removed; after them it is permanent. */
            changeableForDays: z.number().int().min(3, 'AWS Backup needs a grace period of at least 3 days. Fix: use 3 or more').optional(),
          })
          .strict()
          .default(() => ({ mode: 'governance' as const })),
        /**
         * The IAM role (name, created outside this app by the account owner, with MFA) that alone
         * may delete recovery points, change the vault policy or lock, and schedule deletion of
         * the backup keys. No stack creates it, so no deployment can.
         */
        breakGlassRoleName: z
          .string()
          .regex(/^[\w+=,.@-]{1,64}$/, 'not an IAM role name. Fix: write the role\'s name, e.g. "webapp-break-glass"')
          .default(`${PROJECT}-break-glass`),
        /** How often AWS Backup restores the newest recovery point and the verifier checks it ("off" in throw-away stages). */
        restoreTesting: z.enum(['off', 'weekly', 'monthly']),
        /** What a restored database must contain for the restore to count as verified. */
        verify: z
          .object({
            /** Tables ("table" or "schema.table") that must exist with at least `minRows` rows. */
            tables: unique(
              z
                .object({
                  name: z.string().regex(/^[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*)?$/, 'not a plain lower-case table name. Fix: write it like "documents" or "public.documents"'),
                  minRows: z.number().int().min(0),
                })
                .strict(),
              'table',
              (table) => table.name,
            ).default(() => []),
            /** A table and vector column to run one nearest-neighbour query on. */
            vectorQuery: z
              .object({
                table: z.string().regex(/^[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*)?$/, 'not a plain lower-case table name. Fix: write it like "documents"'),
                column: z.string().regex(/^[a-z_][a-z0-9_]*$/, 'not a plain lower-case column name. Fix: write it like "embedding"'),
              })
              .strict()
              .optional(),
          })
          .strict()
          .prefault({}),
        /**
         * The account's quota of manual DB snapshots per region: 100 unless AWS raised it
         * (Service Quotas, "Manual DB instance snapshots"). Retention settings must fit under it.
         */
        manualSnapshotQuota: z.number().int().min(1).default(100),
        /** Pre-deploy snapshots kept per region (older ones of this tool are deleted). */
        preDeploySnapshotsKept: z
          .number()
          .int()
          .min(1, "the release's own snapshot must be kept. Fix: use 1 to 50")
          .max(50, 'manual snapshots count against a quota of 100 per region. Fix: use 1 to 50'),
      })
      .strict(),
    uploads: z
      .object({
        /** Days a replaced or deleted object version is kept before it expires. */
        noncurrentVersionExpirationDays: z.number().int().min(1, 'must keep old versions at least 1 day. Fix: use 1 or more'),
        /** Days the server access logs of the uploads bucket are kept. */
        accessLogExpirationDays: z.number().int().min(1, 'must keep access logs at least 1 day. Fix: use 1 or more'),
        /** Replicate every upload to a bucket in the DR region (deploys the stage's DR stack). */
        replicateToDr: z.boolean(),
      })
      .strict(),
    /**
     * The security baseline of the stage's account (lib/baseline; docs/security.md, "Account
     * baseline"): one stack per account and region, so stages sharing an account must set the
     * same values. Turn a piece off where the organisation already provides it (an AWS Control
     * Tower landing zone has an organisation trail and AWS Config; a delegated administrator may
     * run GuardDuty and Security Hub for every account): then nothing is created twice.
     */
    baseline: z
      .object({
        trail: z
          .object({
            /** A multi-region CloudTrail trail of the account, with its bucket, key and CloudWatch Logs copy. */
            enabled: z.boolean().default(true),
            /** The organisation trail that records this account when `enabled` is false (its name or ARN, for the record and the docs). */
            organizationTrail: z.string().min(1).optional(),
            /** Days log files are kept in the trail bucket. */
            retentionDays: z
              .number()
              .int()
              .min(90, 'CloudTrail evidence should outlive the 90 days of event history. Fix: use 90 or more')
              .max(36500, 'S3 Object Lock keeps an object at most 100 years, and aws-cdk-lib refuses more at synth. Fix: use 90 to 36500 days')
              .default(365),
            /** Days after which log files move to S3 Glacier Instant Retrieval. */
            archiveAfterDays: z.number().int().min(30, 'S3 moves objects to Glacier Instant Retrieval after 30 days at the earliest. Fix: use 30 or more').default(90),
            /**
             * S3 Object Lock on the log files, in governance mode for `retentionDays` (deletion
             * needs the bypass permission, which the bucket policy leaves to the break-glass role).
             * "governance": the trail bucket is created locked; for an account whose trail bucket
             * does not exist yet (a first deploy), one bucket, locked from the start. Keep it
             * once set: dropping it would replace that bucket. "locked-bucket": the trail moves to
             * a second bucket created with the lock (`LockedBucket`); the first, unlocked bucket
             * stays, retained, with the files written before, until they expire. For an account
             * whose trail already runs unlocked: CloudFormation sets Object Lock only on a bucket
             * it creates (a change of ObjectLockEnabled replaces the bucket, log files and all).
             * "off": no lock.
             */
            objectLock: z.enum(['off', 'governance', 'locked-bucket']).default('off'),
            /** Record object-level (data) events of the uploads buckets of the stages in this account. */
            uploadsDataEvents: z.boolean().default(false),
          })
          .strict()
          .prefault({}),
        guardDuty: z
          .object({
            /** A GuardDuty detector with S3 and RDS login protection. */
            enabled: z.boolean().default(true),
            /**
             * Runtime Monitoring of the Fargate tasks (GuardDuty adds its agent as a sidecar and creates
             * a VPC endpoint in the stage VPC, outside CloudFormation: docs/runbooks.md, "Tearing down a
             * stage"). The task execution roles may pull the agent image whenever this is on, also when
             * the organisation runs the detector.
             */
            runtimeMonitoring: z.boolean().default(true),
          })
          .strict()
          .prefault({}),
        /** Security Hub with AWS Foundational Security Best Practices. */
        securityHub: z.boolean().default(true),
        /**
         * AWS Config recording, which Security Hub's controls evaluate: "stack" records the resource
         * types this project uses, "organization" means the landing zone records them, "off" none.
         */
        configRecorder: z.enum(['stack', 'organization', 'off']).default('stack'),
        /** An IAM Access Analyzer for the account (external access findings; free). */
        accessAnalyzer: z.boolean().default(true),
      })
      .strict()
      .prefault({}),
    /** Days CloudWatch Logs keeps the stage's logs (flow logs, containers, functions). */
    logRetentionDays: z
      .number()
      .int()
      .refine((d) => LOG_RETENTION_DAYS.includes(d), {
        message: `CloudWatch Logs does not offer this retention. Fix: use one of ${LOG_RETENTION_DAYS.join(', ')}`,
      }),
    /**
     * Keep stateful resources (keys, log groups, buckets, final database snapshot) when their stack or
     * the resource is deleted. Only a throw-away stage should set false.
     */
    retainOnDelete: z.boolean(),
    /** Monthly cost budget in USD; notifications at 80% actual and 100% forecast. */
    monthlyBudgetUsd: z.number().positive('must be above 0. Fix: set the monthly budget in USD'),
    image: z
      .object({
        /** ECR repository name, the same in every registry the stages pull from. */
        repositoryName: z
          .string()
          .min(2)
          .max(256)
          .regex(/^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*\/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$/, 'not an ECR repository name. Fix: use lower-case letters, digits and . _ - /, e.g. "webapp"'),
        /** Image tag ("v1.4.2") or digest ("sha256:<64 hex>"). Override per deploy with -c imageTag=... */
        tag: z
          .string()
          .regex(
            /^(sha256:[a-f0-9]{64}|[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})$/,
            'neither an image tag nor a "sha256:" digest. Fix: use a tag such as "v1.4.2" (letters, digits, _ . -, up to 128) or "sha256:" followed by 64 hex digits',
          ),
        /**
         * The registry CI pushes each build to, once. Every other account and region a stage runs
         * in receives the image from it by ECR replication; the stage itself pulls from its own
         * account's registry.
         */
        source: z.object({ account: accountId, region }).strict(),
        /**
         * The stage whose running image this stage's deploys promote (prod: "staging"): that
         * stage's account gets a role that only this stage's GitHub environment may assume, to
         * read the digest its web tasks run. Unset: the stage deploys the configured tag.
         */
        promotedFrom: z.enum(STAGE_NAMES).optional(),
        /**
         * Tag patterns of builds that expire after 30 days (ECR wildcards, e.g. "pr-*") unless the
         * image was released: every image a stage deploys is tagged `release-<digest>` in its
         * registry, and the first lifecycle rule keeps those whatever else they are tagged.
         * Untagged images expire after 14 days.
         */
        expiringTagPatterns: unique(
          z
            .string()
            .regex(/^[A-Za-z0-9_.*-]{1,128}$/, 'not an ECR tag pattern. Fix: use letters, digits, _ . - and * wildcards, e.g. "pr-*"')
            .refine((p) => p.replace(/\*/g, '').length > 0, 'would expire every tag, releases included. Fix: use a prefix, e.g. "pr-*"')
            .refine(
              (p) => !tagPatternMatches(p, releaseTag(`sha256:${'0'.repeat(64)}`)),
              `selects the release tags (${RELEASE_TAG_PATTERN}), which the first lifecycle rule keeps: it could never expire them, and says otherwise. Fix: name the builds' own prefix, e.g. "pr-*"`,
            ),
          'pattern',
        ).default(() => ['pr-*', 'sha-*']),
      })
      .strict()
      .superRefine((image, ctx) => {
        const expiring = image.expiringTagPatterns.find((p) => tagPatternMatches(p, image.tag));
        if (expiring) {
          ctx.addIssue({
            code: 'custom',
            path: ['tag'],
            message: `matches the expiring tag pattern "${expiring}": the image could expire while the stage runs it. Fix: deploy a release tag or a sha256: digest`,
          });
        }
      }),
    /** The GitHub repository whose workflows deploy and review this app ("owner/name"): the CI access roles trust only it. */
    ci: z
      .object({
        repository: z.string().regex(/^[A-Za-z0-9-]{1,39}\/[A-Za-z0-9._-]{1,100}$/, 'not a GitHub repository "owner/name". Fix: write it like "acme/webapp-platform"'),
        /**
         * The repository's numeric id, which a rename or transfer does not change: the CI roles trust
         * tokens of this id only (`gh api repos/<owner>/<name> --jq .id`).
         */
        repositoryId: z.string().regex(/^[1-9]\d{0,19}$/, 'not a GitHub repository id (a number). Fix: copy it from gh api repos/<owner>/<name> --jq .id'),
        /** Create GitHub's OIDC provider in the stage account (false: the account has one already; an account has at most one per URL). */
        createOidcProvider: z.boolean(),
      })
      .strict(),
  })
  .strict();

/** The schema's output before the prod rules are applied to it. */
type ParsedStage = z.output<typeof stageShape>;

/**
 * What prod must be, one row per rule: the field a failure is reported on, the rule, and the
 * message with its fix. Any other stage may choose; prod may not.
 */
export const PROD_RULES: readonly { readonly path: readonly string[]; readonly holds: (cfg: ParsedStage) => boolean; readonly message: string }[] = [
  { path: ['backup', 'drCopies'], holds: (c) => c.backup.drCopies, message: 'prod must keep copies of its backups outside its region. Fix: set backup.drCopies: true' },
  { path: ['backup', 'restoreTesting'], holds: (c) => c.backup.restoreTesting !== 'off', message: 'prod must prove its backups restore. Fix: set backup.restoreTesting: "weekly"' },
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
  {
    path: ['app', 'deployment', 'strategy'],
    holds: (c) => c.app.deployment.strategy !== 'rolling',
    message: 'prod must shift traffic to a release gradually, behind a smoke test, with automatic rollback. Fix: set app.deployment.strategy: "canary" (or "linear", "blueGreen")',
  },
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
  {
    path: ['network', 'nat'],
    holds: (c) => c.network.nat === 'gateway',
    message: 'prod must not lose its egress (image pulls, AWS APIs) to one failed instance. Fix: set network.nat: "gateway"',
  },
  {
    path: ['operations', 'slo', 'enabled'],
    holds: (c) => c.operations.slo.enabled,
    message: 'prod must page when its error budget burns. Fix: set operations.slo.enabled: true',
  },
  {
    path: ['network', 'flowLogs'],
    holds: (c) => c.network.flowLogs === 'all',
    message: 'prod must keep a record of every connection for investigations. Fix: set network.flowLogs: "all"',
  },
  {
    path: ['web', 'useSpot'],
    holds: (c) => !c.web.useSpot,
    message: 'prod must not lose web capacity to Spot reclaims mid-request. Fix: set web.useSpot: false',
  },
  {
    path: ['worker', 'onDemandBase'],
    holds: (c) => !c.worker.useSpot || c.worker.onDemandBase >= 1,
    message: 'a Spot reclaim must never stop every prod worker at once. Fix: set worker.onDemandBase: 1 or more (or worker.useSpot: false)',
  },
  { path: ['retainOnDelete'], holds: (c) => c.retainOnDelete, message: 'prod must keep its data when a stack or resource is deleted. Fix: set retainOnDelete: true' },
  { path: ['https'], holds: (c) => c.https, message: 'prod must serve HTTPS. Fix: set https: true and a domain' },
  {
    path: ['edge', 'enabled'],
    holds: (c) => c.edge.enabled,
    message: 'prod must serve through CloudFront, its load balancer unreachable from the internet. Fix: set edge.enabled: true',
  },
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
  {
    path: ['cache', 'replicas'],
    holds: (c) => c.cache.replicas >= 1,
    message: 'prod needs a cache replica for Multi-AZ failover (BullMQ queues live there). Fix: set cache.replicas: 1 or more',
  },
  {
    path: ['web', 'minCapacity'],
    holds: (c) => c.web.minCapacity >= 2,
    message: 'prod needs at least 2 web tasks so a deploy or an AZ failure keeps serving. Fix: set web.minCapacity: 2 or more',
  },
  {
    path: ['alarms'],
    holds: (c) => c.alarms.emails.length + c.alarms.httpsEndpoints.length > 0,
    message: 'prod alarms would reach nobody. Fix: add at least one alarms.emails or alarms.httpsEndpoints entry',
  },
  {
    path: ['email', 'dmarcPolicy'],
    holds: (c) => c.email.dmarcPolicy !== 'none',
    message: 'prod must tell receivers to refuse mail that fakes its domain. Fix: set email.dmarcPolicy: "quarantine" (or "reject")',
  },
  {
    path: ['email', 'requireProductionAccess'],
    holds: (c) => c.email.requireProductionAccess,
    message: 'prod mails real users, so preflight must fail while SES is in the sandbox. Fix: set email.requireProductionAccess: true',
  },
];

export const stageConfigSchema = stageShape.superRefine((cfg, ctx) => {
  const fail = (path: (string | number)[], message: string) => ctx.addIssue({ code: 'custom', path, message });

  if (cfg.drRegion === cfg.region) {
    fail(['drRegion'], `the DR region equals the primary region ${cfg.region}, so a regional outage would take the backups too. Fix: pick another region, e.g. "eu-central-1"`);
  }
  // Behind CloudFront the load balancer admits the VPC origin from CloudFront's prefix list,
  // whose id is pinned per region (lib/app/origin-facing.ts).
  if (cfg.edge.enabled && APP_REGIONS.includes(cfg.region)) {
    const pinned = originFacingPrefixList(cfg.region);
    if ('problem' in pinned) fail(['region'], pinned.problem);
  }
  const { azCount, natGateways, availabilityZones } = cfg.network;
  if (natGateways > azCount) {
    fail(['network', 'natGateways'], `more NAT gateways than AZs (${azCount}). Fix: use 1 to ${azCount}`);
  }
  const zones = zonesOf(cfg.region);
  if (availabilityZones) {
    if (availabilityZones.length !== azCount) {
      fail(['network', 'availabilityZones'], `lists ${availabilityZones.length} zones but azCount is ${azCount}. Fix: list exactly ${azCount} zones or drop the list`);
    }
    const foreign = availabilityZones.filter((az) => !new RegExp(`^${cfg.region}[a-z]$`).test(az));
    if (foreign.length > 0) {
      fail(['network', 'availabilityZones'], `${foreign.join(', ')} is not a zone of ${cfg.region}. Fix: use names like "${cfg.region}a"`);
    }
    availabilityZones.forEach((az, i) => {
      if (!foreign.includes(az) && !zones.includes(az)) {
        fail(['network', 'availabilityZones', i], `${cfg.region} has no zone ${az} (lib/config/aws-catalog.ts). Fix: use ${azCount} of ${zones.join(', ')}`);
      }
    });
  } else {
    // Unset, the stacks take the region's zones a, b, c (lib/shared/stage-stack.ts): each must exist.
    const missing = ['a', 'b', 'c'].slice(0, azCount).filter((letter) => !zones.includes(`${cfg.region}${letter}`));
    if (missing.length > 0) {
      fail(
        ['network', 'availabilityZones'],
        `unset, so the zones default to ${cfg.region}a, b, c, and ${cfg.region} has no zone ${missing.map((l) => `${cfg.region}${l}`).join(', ')}. Fix: list ${azCount} of ${zones.join(', ')} in network.availabilityZones`,
      );
    }
  }
  if (cfg.https && !cfg.domain) {
    fail(['domain'], 'https is on but no domain is set, so no certificate can be issued. Fix: set domain { zoneName, hostedZoneId, recordName }, or set https: false');
  }
  if (!cfg.https) {
    const cidrs = cfg.app.httpAllowedCidrs ?? [];
    if (cidrs.length === 0) {
      fail(
        ['app', 'httpAllowedCidrs'],
        `${cfg.name} serves plain HTTP, which must not be open to the internet. Fix: list the client blocks that may reach it (office, VPN), e.g. ["198.51.100.0/24"], or serve HTTPS with a domain`,
      );
    }
  }
  if (cfg.domain) {
    const { zoneName, recordName, parentZoneName } = cfg.domain;
    if (recordName !== zoneName && !recordName.endsWith(`.${zoneName}`)) {
      fail(['domain', 'recordName'], `is outside the hosted zone ${zoneName}. Fix: use ${zoneName} or a name ending in .${zoneName}`);
    }
    if (!zoneName.endsWith(`.${parentZoneName}`)) {
      fail(
        ['domain', 'zoneName'],
        `is not a subdomain of the parent zone ${parentZoneName}, so it cannot be delegated from it. Fix: use a name ending in .${parentZoneName}, e.g. "${cfg.name}.${parentZoneName}"`,
      );
    }
  }
  const { dmarcPolicy, dmarcReportsTo } = cfg.email;
  if (cfg.domain && dmarcPolicy !== 'none' && dmarcReportsTo === undefined) {
    fail(
      ['email', 'dmarcReportsTo'],
      `unset, while email.dmarcPolicy "${dmarcPolicy}" has receivers ${dmarcPolicy === 'reject' ? 'refuse' : 'quarantine'} mail that claims ${cfg.domain.zoneName} and fails DMARC: nobody would learn what, or whose (another service sending as the domain, or spoofing). Fix: set email.dmarcReportsTo to a mailbox that reads aggregate reports, e.g. "dmarc@${cfg.domain.parentZoneName}" (an address under another domain needs the record ${cfg.domain.zoneName}._report._dmarc.<that domain> published there)${cfg.name === 'prod' ? '' : ', or set email.dmarcPolicy: "none"'}`,
    );
  }
  // Every daily AWS Backup recovery point (and its DR copy) is an RDS snapshot in its region, and so
  // is every pre-deploy snapshot and its copy: together they must fit under the manual-snapshot
  // quota, with room for the final snapshot and a hand-made one (SNAPSHOT_HEADROOM).
  const { planRetentionDays, drCopyRetentionDays, preDeploySnapshotsKept, manualSnapshotQuota, drCopies } = cfg.backup;
  const regions: [string, number, string][] = [[cfg.region, planRetentionDays, 'planRetentionDays']];
  if (drCopies) regions.push([cfg.drRegion, drCopyRetentionDays, 'drCopyRetentionDays']);
  for (const [where, days, field] of regions) {
    const held = days + preDeploySnapshotsKept + SNAPSHOT_HEADROOM;
    if (held > manualSnapshotQuota) {
      fail(
        ['backup', field],
        `${where} would hold ${held} manual DB snapshots (${days} daily recovery points, ${preDeploySnapshotsKept} pre-deploy snapshots, ${SNAPSHOT_HEADROOM} spare) but the quota is ${manualSnapshotQuota}. Fix: keep at most ${manualSnapshotQuota - preDeploySnapshotsKept - SNAPSHOT_HEADROOM} days, lower backup.preDeploySnapshotsKept, or raise the quota in Service Quotas and set backup.manualSnapshotQuota`,
      );
    }
  }
  const { vaultLock } = cfg.backup;
  if (vaultLock.mode === 'compliance' && vaultLock.changeableForDays === undefined) {
    fail(
      ['backup', 'vaultLock', 'changeableForDays'],
      'compliance mode needs a grace period, after which the lock can never be removed. Fix: set changeableForDays (3 or more), or use mode "governance"',
    );
  }
  if (vaultLock.mode === 'governance' && vaultLock.changeableForDays !== undefined) {
    fail(
      ['backup', 'vaultLock', 'changeableForDays'],
      `a grace period turns the lock into compliance mode, permanent after ${vaultLock.changeableForDays} days. Fix: drop changeableForDays, or set mode "compliance" if that is meant`,
    );
  }
  if (vaultLock.mode === 'compliance' && !cfg.retainOnDelete) {
    fail(
      ['backup', 'vaultLock', 'mode'],
      `"compliance" cannot be undone after its grace period, and ${cfg.name} is a throw-away stage (retainOnDelete: false). Fix: use mode "governance"`,
    );
  }
  const { wafRateLimitPer5Min, wafAuthRateLimitPer5Min } = cfg.app;
  if (wafAuthRateLimitPer5Min >= wafRateLimitPer5Min) {
    fail(
      ['app', 'wafAuthRateLimitPer5Min'],
      `is not below the per-IP limit of every path (wafRateLimitPer5Min, ${wafRateLimitPer5Min}): requests to the authentication paths count towards both, so that rule blocks first and this one never acts. Fix: use less than ${wafRateLimitPer5Min} (the default is 100), or raise app.wafRateLimitPer5Min`,
    );
  }
  const { deployment } = cfg.app;
  if (deployment.strategy !== 'rolling' && !cfg.https) {
    fail(
      ['app', 'deployment', 'strategy'],
      `"${deployment.strategy}" needs the test listener, which serves the stage's certificate, and ${cfg.name} serves plain HTTP. Fix: serve HTTPS (https: true and a domain), or use "rolling"`,
    );
  }
  if (deployment.strategy === 'linear') {
    if (deployment.stepPercent < 10) {
      fail(
        ['app', 'deployment', 'stepPercent'],
        `${deployment.stepPercent}% steps make more than 10 steps, each ${deployment.stepMinutes} minutes, while CloudFormation holds the deploy. Fix: use 10 to 50`,
      );
    }
    const minutes = Math.ceil(100 / deployment.stepPercent) * deployment.stepMinutes + deployment.bakeMinutes;
    if (minutes > MAX_SHIFT_MINUTES) {
      fail(
        ['app', 'deployment', 'stepMinutes'],
        `a linear shift of ${deployment.stepPercent}% every ${deployment.stepMinutes} minutes plus ${deployment.bakeMinutes} minutes of bake takes ${minutes} minutes, over the ${MAX_SHIFT_MINUTES} a release may hold CloudFormation. Fix: larger steps or fewer minutes`,
      );
    }
  }
  if (cfg.image.promotedFrom === cfg.name) {
    fail(['image', 'promotedFrom'], `a stage cannot promote its own image. Fix: name the stage before ${cfg.name} (e.g. "staging"), or leave promotedFrom out`);
  }
  if (cfg.backup.automatedBackupReplicationDays > 0 && !cfg.backup.drCopies) {
    fail(
      ['backup', 'automatedBackupReplicationDays'],
      "replicated backups need the DR stack's key, which only exists with backup.drCopies. Fix: set backup.drCopies: true, or set this to 0",
    );
  }
  const { baseline } = cfg;
  if (baseline.securityHub && baseline.configRecorder === 'off') {
    fail(
      ['baseline', 'configRecorder'],
      'Security Hub evaluates its controls on AWS Config recordings, and none would exist. Fix: set baseline.configRecorder: "stack" (or "organization" where the landing zone records them), or baseline.securityHub: false',
    );
  }
  if (baseline.trail.enabled && baseline.trail.archiveAfterDays >= baseline.trail.retentionDays) {
    fail(
      ['baseline', 'trail', 'archiveAfterDays'],
      `log files would expire (after ${baseline.trail.retentionDays} days) before they are archived. Fix: use fewer days than baseline.trail.retentionDays`,
    );
  }
  if (!baseline.trail.enabled && baseline.trail.uploadsDataEvents) {
    fail(
      ['baseline', 'trail', 'uploadsDataEvents'],
      'data events need the trail, which is off. Fix: set baseline.trail.enabled: true, or record them in the organisation trail and set this to false',
    );
  }
  if (baseline.trail.enabled && baseline.trail.organizationTrail !== undefined) {
    fail(
      ['baseline', 'trail', 'organizationTrail'],
      'names an organisation trail while this stack creates a trail of its own: the account would pay for two copies of its management events. Fix: set baseline.trail.enabled: false, or drop organizationTrail',
    );
  }
  if (cfg.name === 'prod') {
    for (const rule of PROD_RULES) if (!rule.holds(cfg)) fail([...rule.path], rule.message);
  }
});

/** The image reference a stage's tasks name after the registry: `webapp:v1.4.2` or `webapp@sha256:...`. */
export function imageReference(image: { readonly repositoryName: string; readonly tag: string }): string {
  return image.tag.startsWith('sha256:') ? `${image.repositoryName}@${image.tag}` : `${image.repositoryName}:${image.tag}`;
}

/** Whether an ECR lifecycle tag pattern (`*` matches anything) matches a tag. */
export function tagPatternMatches(pattern: string, tag: string): boolean {
  const regex = new RegExp(
    `^${pattern
      .split('*')
      .map((part) => part.replace(/[.]/g, '\\.'))
      .join('.*')}$`,
  );
  return regex.test(tag);
}

/** A stage's configuration as written in `lib/config/stages.ts`. */
export type StageConfigInput = z.input<typeof stageConfigSchema>;
/** A validated stage configuration. */
export type StageConfig = z.output<typeof stageConfigSchema>;
