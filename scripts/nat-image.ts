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
import { readFlags } from './lib/args';
import { UsageError } from './lib/assembly';
import { compare, formatComparison, type Pinned, ssmClient } from './lib/nat-image';
import { refusal } from './lib/release';

const USAGE = 'usage: nat-image [--region REGION ...] [--write]';

/** Where the pinned images live. */
export const IMAGES_FILE = join(__dirname, '..', 'lib', 'network', 'nat-instance-images.json');

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

export async function main(argv = process.argv.slice(2), { file = IMAGES_FILE, ssmFor = ssmClient }: { file?: string; ssmFor?: typeof ssmClient } = {}): Promise<number> {
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
