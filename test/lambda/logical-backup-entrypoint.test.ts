import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, test, vi } from 'vitest';
import { IMAGE_RDS_CA_BUNDLE, main } from '../../lambda/logical-backup/index';
import { PROJECT_ROOT } from '../../lib/shared/paths';

afterEach(() => vi.restoreAllMocks());

/** Runs the entrypoint and returns its exit code and what it wrote to standard error. */
async function entrypoint(argv: string[], env: Record<string, string>) {
  const errors: string[] = [];
  vi.spyOn(console, 'error').mockImplementation((line: string) => {
    errors.push(line);
  });
  return { code: await main(argv, env), errors };
}

describe('the dump job entrypoint', () => {
  test('an unknown command is refused with exit code 2, naming the commands', async () => {
    const { code, errors } = await entrypoint(['backup'], {});
    expect(code).toBe(2);
    expect(errors.at(-1)).toBe('Unknown command "backup". Fix: pass one of dump, check, anonymise, restore, refresh as the container\'s first argument.');
  });

  test('a command without its environment fails with exit code 1, naming every missing variable', async () => {
    const { code, errors } = await entrypoint(['dump'], { STAGE: 'dev' });
    expect(code).toBe(1);
    expect(errors.at(-1)).toMatch(/^The dump command's environment lacks DUMP_BUCKET, DATABASE_HOST, DATABASE_NAME, DATABASE_USER\. Fix: /);
  });

  test('the image carries the RDS CA bundle where the job reads it, readable by the postgres user', () => {
    const dockerfile = readFileSync(join(PROJECT_ROOT, 'lambda', 'logical-backup', 'Dockerfile'), 'utf8');
    expect(dockerfile).toContain(`ADD --chmod=644 https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem ${IMAGE_RDS_CA_BUNDLE}\n`);
    expect(dockerfile.indexOf(IMAGE_RDS_CA_BUNDLE)).toBeLessThan(dockerfile.indexOf('USER postgres'));
  });
});
