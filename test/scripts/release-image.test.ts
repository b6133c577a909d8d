import { describe, expect, test } from 'vitest';
import { STAGES } from '../../lib/config';
import { UsageError } from '../../scripts/lib/assembly';
import { releaseImage } from '../../scripts/release-image';

describe("release-image: the image reference a stage deploys, with the deploy's overrides", () => {
  test('the configured tag, or the digest every stage gets from -c imageTag', () => {
    expect(releaseImage(['--stage', 'prod'])).toBe(`webapp:${STAGES.prod.image.tag}`);
    const digest = `sha256:${'a'.repeat(64)}`;
    expect(releaseImage(['--stage', 'staging', '-c', `imageTag=${digest}`])).toBe(`webapp@${digest}`);
    expect(releaseImage(['--stage', 'dev', '--context', 'dev.image.tag=v9.9.9'])).toBe('webapp:v9.9.9');
  });

  test('a -c without KEY=VALUE, or an unknown stage, is a usage error', () => {
    expect(() => releaseImage(['--stage', 'prod', '-c', 'imageTag'])).toThrow(
      new UsageError('-c takes KEY=VALUE, not "imageTag". usage: release-image --stage dev|staging|prod [-c KEY=VALUE ...]'),
    );
    expect(() => releaseImage(['--stage', 'qa'])).toThrow(/--stage must be one of dev, staging, prod/);
  });
});
