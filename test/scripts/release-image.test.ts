import { describe, expect, test } from 'vitest';
import { STAGES } from '../../lib/config';
import { UsageError } from '../../scripts/lib/assembly';
import { main, releaseImage } from '../../scripts/release-image';
import { printed } from '../support/console';

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

  test('the command prints the reference alone on stdout (the deploy workflow reads it), exit 0', async () => {
    expect(await printed(() => main(['--stage', 'prod']))).toEqual({ result: 0, stdout: `webapp:${STAGES.prod.image.tag}\n`, stderr: '' });
  });

  test('the command refuses bad arguments and configuration on stderr, exit 2', async () => {
    expect(await printed(() => main(['--stage', 'prod', '-c', 'imageTag']))).toEqual({
      result: 2,
      stdout: '',
      stderr: 'release-image: -c takes KEY=VALUE, not "imageTag". usage: release-image --stage dev|staging|prod [-c KEY=VALUE ...]\n',
    });
    const config = await printed(() => main(['--stage', 'prod', '-c', 'imageTag=sha256:abc']));
    expect(config).toMatchObject({ result: 2, stdout: '' });
    expect(config.stderr).toMatch(/^release-image: Invalid stage configuration .*\n {2}- stage "prod", field "image.tag", value "sha256:abc": /);
  });
});
