/**
 * Compares the NAT instances' pinned Amazon Linux 2023 images (lib/network/nat-instance-images.json)
 * with the ones AWS publishes now, and with --write pins the new ones:
 *
 *   npm run nat-image -- [--region REGION ...] [--write]
 *
 * It reads AWS's public SSM parameter in each region (every pinned region unless --region names
 * some; a region not pinned yet is added by --write), with any account's credentials. Pinning a
 * new image replaces the NAT instances on the next deploy of their stage (a minute or two without
 * egress in dev and staging): refresh deliberately, for security updates, not on every release.
 *
 * Exit codes: 0 printed (or written), 1 a region could not be read, 2 bad arguments or no credentials.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { readFlags } from './lib/args';
import { UsageError } from './lib/assembly';
import { refusal } from './lib/release';

const USAGE = 'usage: nat-image [--region REGION ...] [--write]';

/** Where the pinned images live. */
export const IMAGES_FILE = join(__dirname, '..', 'lib', 'network', 'nat-instance-images.json');

interface Pinned {
  readonly parameter: string;
  readonly images: Record<string, { imageId: string; published: string }>;
}

export interface NatImageArgs {
  readonly regions: readonly string[];
  readonly write: boolean;
}

export function parseArgs(argv: readonly string[]): NatImageArgs {
  const regions: string[] = [];
  let write = false;
  for (const [flag, value = ''] of readFlags(argv, { values: ['--region'], repeatable: ['--region'], switches: ['--write'], usage: USAGE })) {
    if (flag === '--write') write = true;
    else if (!/^[a-z]{2}(-[a-z]+)+-\d$/.test(value)) throw new UsageError(`--region takes a region name like eu-west-1, not "${value}". ${USAGE}`);
    else if (!regions.includes(value)) regions.push(value);
  }
  return { regions, write };
}

/** One region's pinned and published image. */
export interface Comparison {
  readonly region: string;
  readonly pinned?: string;
  readonly current?: string;
  readonly published?: string;
  /** Why the region could not be read. */
  readonly problem?: string;
}

/** Reads the published image of each region. */
export async function compare(pinned: Pinned, regions: readonly string[], ssmFor: (region: string) => Pick<SSMClient, 'send'>): Promise<Comparison[]> {
  const out: Comparison[] = [];
  for (const region of regions) {
    const before = pinned.images[region]?.imageId;
    try {
      const { Parameter } = await ssmFor(region).send(new GetParameterCommand({ Name: pinned.parameter }));
      out.push({ region, pinned: before, current: Parameter?.Value, published: Parameter?.LastModifiedDate?.toISOString().slice(0, 10) });
    } catch (error) {
      // No credentials at all stops the run (exit 2); a region that cannot be read is reported with the rest.
      if ((error as Error).name === 'CredentialsProviderError') throw new UsageError(`no usable AWS credentials (${(error as Error).message}): any account's will do.`);
      out.push({ region, pinned: before, problem: `${(error as Error).name}: ${(error as Error).message}` });
    }
  }
  return out;
}

export function formatComparison(rows: readonly Comparison[]): string[] {
  return rows.map((r) => {
    if (r.problem) return `${r.region}: could not read (${r.problem})`;
    if (r.pinned === r.current) return `${r.region}: ${r.current} pinned, the newest (published ${r.published})`;
    return `${r.region}: ${r.pinned ?? 'nothing'} pinned, ${r.current} published ${r.published}`;
  });
}

export async function main(
  argv = process.argv.slice(2),
  { file = IMAGES_FILE, ssmFor = (region: string) => new SSMClient({ region, maxAttempts: 5 }) }: { file?: string; ssmFor?: (region: string) => Pick<SSMClient, 'send'> } = {},
): Promise<number> {
  try {
    const args = parseArgs(argv);
    const pinned = JSON.parse(readFileSync(file, 'utf8')) as Pinned;
    const rows = await compare(pinned, args.regions.length > 0 ? args.regions : Object.keys(pinned.images), ssmFor);
    for (const line of formatComparison(rows)) console.log(line);
    const changed = rows.filter((r) => r.current && r.current !== r.pinned);
    if (args.write && changed.length > 0) {
      for (const r of changed) pinned.images[r.region] = { imageId: r.current!, published: r.published ?? '' };
      const images = Object.fromEntries(Object.entries(pinned.images).sort(([a], [b]) => a.localeCompare(b)));
      writeFileSync(file, `${JSON.stringify({ ...pinned, images }, null, 2)}\n`);
      console.log(`pinned ${changed.length} new image(s) in ${file}: the next deploy of a stage with NAT instances there replaces them.`);
    } else if (changed.length > 0) {
      console.log(`dry run: ${changed.length} region(s) have a newer image. Run again with --write to pin them.`);
    }
    return rows.some((r) => r.problem) ? 1 : 0;
  } catch (error) {
    return refusal('nat-image', error);
  }
}

if (require.main === module) {
  main().then((code) => process.exit(code));
}
