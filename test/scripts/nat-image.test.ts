import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SSMClient } from '@aws-sdk/client-ssm';
import { beforeAll, describe, expect, test, vi } from 'vitest';
import { NAT_IMAGES } from '../../lib/network/nat-instances';
import { IMAGES_FILE, main, parseArgs } from '../../scripts/nat-image';
import { type Moto, startMoto } from '../support/moto';

/**
 * `npm run nat-image` against moto, which serves AWS's public Amazon Linux parameters as AWS
 * published them when moto recorded them: the pinned file is a copy with one image made stale.
 */
let moto: Moto;
const ssmFor = (region: string) => new SSMClient(moto.clientConfig(region));

beforeAll(async () => {
  moto = await startMoto();
});

function staleCopy(): string {
  const file = join(mkdtempSync(join(tmpdir(), 'nat-image-')), 'images.json');
  copyFileSync(IMAGES_FILE, file);
  const pinned = JSON.parse(readFileSync(file, 'utf8'));
  pinned.images['eu-west-1'] = { imageId: 'ami-0000000000000000a', published: '2025-01-01' };
  delete pinned.images['eu-central-1'];
  writeFileSync(file, JSON.stringify(pinned));
  return file;
}

describe('npm run nat-image', () => {
  test('the pinned images are the ones AWS published (as moto recorded them)', async () => {
    const lines: string[] = [];
    vi.spyOn(console, 'log').mockImplementation((line: string) => {
      lines.push(line);
    });
    expect(await main(['--region', 'eu-west-1', '--region', 'eu-central-1'], { ssmFor })).toBe(0);
    vi.restoreAllMocks();
    expect(lines).toEqual([
      expect.stringMatching(new RegExp(`^eu-west-1: ${NAT_IMAGES.images['eu-west-1'].imageId} pinned, the newest \\(published \\d{4}-\\d{2}-\\d{2}\\)$`)),
      expect.stringMatching(new RegExp(`^eu-central-1: ${NAT_IMAGES.images['eu-central-1'].imageId} pinned, the newest`)),
    ]);
  });

  test('says which regions have a newer image, and pins them (a new region too) only with --write', async () => {
    const file = staleCopy();
    const lines: string[] = [];
    vi.spyOn(console, 'log').mockImplementation((line: string) => {
      lines.push(line);
    });
    expect(await main(['--region', 'eu-west-1', '--region', 'eu-central-1'], { file, ssmFor })).toBe(0);
    expect(lines).toContain(`eu-west-1: ami-0000000000000000a pinned, ${NAT_IMAGES.images['eu-west-1'].imageId} published ${NAT_IMAGES.images['eu-west-1'].published}`);
    expect(lines.at(-1)).toBe('dry run: 2 region(s) have a newer image. Run again with --write to pin them.');
    expect(JSON.parse(readFileSync(file, 'utf8')).images['eu-west-1'].imageId).toBe('ami-0000000000000000a');

    expect(await main(['--region', 'eu-west-1', '--region', 'eu-central-1', '--write'], { file, ssmFor })).toBe(0);
    vi.restoreAllMocks();
    const written = JSON.parse(readFileSync(file, 'utf8'));
    expect(written.images['eu-west-1']).toEqual(NAT_IMAGES.images['eu-west-1']);
    expect(written.images['eu-central-1']).toEqual(NAT_IMAGES.images['eu-central-1']);
    expect(Object.keys(written.images)).toEqual(Object.keys(written.images).sort());
  });

  test('bad arguments are refused with the usage', () => {
    expect(() => parseArgs(['--region', 'Europe'])).toThrow('--region takes a region name like eu-west-1, not "Europe". usage: nat-image [--region REGION ...] [--write]');
    expect(() => parseArgs(['--force'])).toThrow(/unknown argument "--force"/);
  });
});
