import { RegionInfo } from 'aws-cdk-lib/region-info';

/**
 * What exists in AWS, pinned in the repository so a typo fails at synth instead of 20 minutes into
 * a deploy. Each list says where it comes from, when it was taken, and how to refresh it; a value
 * AWS added since is rejected until the list is refreshed (the error says so).
 */

/**
 * AWS regions: the commercial, GovCloud and China regions aws-cdk-lib knows (its region-info
 * module, aws-cdk-lib 2.276.0). Refresh: upgrade aws-cdk-lib.
 */
export const AWS_REGIONS: readonly string[] = RegionInfo.regions
  .map((r) => r.name)
  .filter((name) => /^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d+$/.test(name) && !name.includes('-iso'))
  .sort();

/**
 * The partition the stacks are written for. The edge stack puts CloudFront, its certificate and
 * its web ACL in us-east-1 (lib/config/regions.ts), and the CI roles trust GitHub's OIDC tokens for
 * the audience sts.amazonaws.com (lib/ci/ci-access-stack.ts): neither exists in aws-cn or
 * aws-us-gov, so a region there is refused with this reason rather than failing mid-deploy.
 */
export const APP_PARTITION = 'aws';

/** The partition of a region aws-cdk-lib knows ("aws", "aws-cn", "aws-us-gov"). */
export function regionPartition(region: string): string | undefined {
  return RegionInfo.get(region).partition;
}

/** The regions of APP_PARTITION: where a stage, its DR copies and its image source may be. */
export const APP_REGIONS: readonly string[] = AWS_REGIONS.filter((name) => regionPartition(name) === APP_PARTITION);

/**
 * The Availability Zone letters of each region of the aws partition (a zone's name is the region
 * and a letter), as of moto 5.2.1 (requirements-dev.txt), whose zones mirror one account's
 * describe-availability-zones, checked against the AZ IDs per region of the AWS "Regions and
 * Availability Zones" guide. Regions opened before November 2012 (us-east-1, us-west-1,
 * ap-northeast-1, ...) map letters to zones per account, and an account may lack one (a constrained
 * zone is hidden from newer accounts): the list holds every letter some account sees, so a letter
 * here can still be missing from one account (the deploy then fails, and network.availabilityZones
 * names the zones that account has). Every region not listed has a, b and c (me-west-1, which
 * moto does not know yet, assumed so). Refresh, per region:
 * aws ec2 describe-availability-zones --region REGION --all-availability-zones --filters Name=zone-type,Values=availability-zone --query "AvailabilityZones[].ZoneName"
 */
const ZONE_LETTERS: Readonly<Record<string, string>> = {
  'us-east-1': 'abcdef',
  // usw1-az1, -az2 (older accounts only) and -az3: every account sees two of them.
  'us-west-1': 'abc',
  'us-west-2': 'abcd',
  // apne1-az3 (ap-northeast-1b in older accounts) is closed to newer ones, which see a, c and d.
  'ap-northeast-1': 'abcd',
  'ap-northeast-2': 'abcd',
  // cac1-az1, -az2 and -az4: there is no ca-central-1c.
  'ca-central-1': 'abd',
};

/** The Availability Zone names of a region of APP_REGIONS ("eu-west-1a", "eu-west-1b", "eu-west-1c"). */
export function zonesOf(region: string): string[] {
  return [...(ZONE_LETTERS[region] ?? 'abc')].map((letter) => `${region}${letter}`);
}

/**
 * RDS for PostgreSQL minor versions of 16 and 17 that accept new instances, as of 2026-12-01:
 * aws-cdk-lib 2.276.0's PostgresEngineVersion constants, less the minors whose standard support
 * ended (no new instances since 2026-05-01: 16.1-16.8, 17.1-17.4; RDS notice of 2026-05).
 * Refresh: aws rds describe-db-engine-versions --engine postgres --query "DBEngineVersions[?Status=='available'].EngineVersion"
 */
export const RDS_POSTGRES_VERSIONS: readonly string[] = ['16.9', '16.10', '16.11', '16.12', '16.13', '17.5', '17.6', '17.7', '17.8', '17.9'];

const SMALL_TO_2XL = ['micro', 'small', 'medium', 'large', 'xlarge', '2xlarge'];
const TO_16XL = ['large', 'xlarge', '2xlarge', '4xlarge', '8xlarge', '12xlarge', '16xlarge'];
const TO_24XL = [...TO_16XL, '24xlarge'];
const TO_32XL = [...TO_24XL, '32xlarge'];
const TO_48XL = [...TO_24XL, '48xlarge'];

/**
 * RDS instance classes (without "db.") for PostgreSQL in the families the app sizes for
 * (burstable t3/t4g, general-purpose m, memory-optimized r), as of 2026-12-01, from the RDS user
 * guide "Supported DB engines for DB instance classes". Refresh:
 * aws rds describe-orderable-db-instance-options --engine postgres --engine-version 17.6 --query "OrderableDBInstanceOptions[].DBInstanceClass" --output text | tr '\t' '\n' | sort -u
 */
export const RDS_INSTANCE_CLASSES: readonly string[] = Object.entries({
  t3: SMALL_TO_2XL,
  t4g: SMALL_TO_2XL,
  m5: TO_24XL,
  m6g: TO_16XL,
  m6i: TO_32XL,
  m7g: TO_16XL,
  m7i: TO_48XL,
  m8g: TO_48XL,
  r5: TO_24XL,
  r6g: TO_16XL,
  r6i: TO_32XL,
  r7g: TO_16XL,
  r7i: TO_48XL,
  r8g: TO_48XL,
}).flatMap(([family, sizes]) => sizes.map((size) => `${family}.${size}`));

/**
 * ElastiCache node types that run Valkey, as of 2026-12-01, from the ElastiCache user guide
 * "Supported node types". Refresh:
 * aws elasticache describe-reserved-cache-nodes-offerings --product-description valkey --query "ReservedCacheNodesOfferings[].CacheNodeType" --output text | tr '\t' '\n' | sort -u
 */
export const CACHE_NODE_TYPES: readonly string[] = Object.entries({
  t3: ['micro', 'small', 'medium'],
  t4g: ['micro', 'small', 'medium'],
  m5: ['large', 'xlarge', '2xlarge', '4xlarge', '12xlarge', '24xlarge'],
  m6g: ['large', 'xlarge', '2xlarge', '4xlarge', '8xlarge', '12xlarge', '16xlarge'],
  m7g: ['large', 'xlarge', '2xlarge', '4xlarge', '8xlarge', '12xlarge', '16xlarge'],
  r5: ['large', 'xlarge', '2xlarge', '4xlarge', '12xlarge', '24xlarge'],
  r6g: ['large', 'xlarge', '2xlarge', '4xlarge', '8xlarge', '12xlarge', '16xlarge'],
  r7g: ['large', 'xlarge', '2xlarge', '4xlarge', '8xlarge', '12xlarge', '16xlarge'],
}).flatMap(([family, sizes]) => sizes.map((size) => `cache.${family}.${size}`));

/** The closest values of a list to `value` (same family or size first), for "did you mean". */
export function closest(value: string, list: readonly string[], count = 3): string[] {
  return [...list]
    .map((candidate) => ({ candidate, distance: editDistance(value.toLowerCase(), candidate.toLowerCase()) }))
    .sort((a, b) => a.distance - b.distance || a.candidate.localeCompare(b.candidate))
    .slice(0, count)
    .map((c) => c.candidate);
}

/** Levenshtein distance. */
export function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let previous = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const current = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, previous + (a[i - 1] === b[j - 1] ? 0 : 1));
      previous = current;
    }
  }
  return row[b.length];
}
