/**
 * The NAT instances' pinned Amazon Linux 2023 images (lib/network/nat-instance-images.json) against
 * the ones AWS publishes in each region's public SSM parameter, for `npm run nat-image`.
 */
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { UsageError } from './assembly';

/** The pinned images, as the file holds them: the SSM parameter AWS publishes them in, and the image per region. */
export interface Pinned {
  readonly parameter: string;
  readonly images: Record<string, { imageId: string; published: string }>;
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

/** A region's SSM client, with any account's credentials: the parameter is public. */
export const ssmClient = (region: string): Pick<SSMClient, 'send'> => new SSMClient({ region, maxAttempts: 5 });
