import { describe, expect, test } from 'vitest';
import { STAGE_NAMES, StageConfigError, loadStageConfigs } from '../../lib/config';

function loadError(context: Record<string, unknown>): string {
  try {
    loadStageConfigs(context);
  } catch (error) {
    expect(error).toBeInstanceOf(StageConfigError);
    return (error as Error).message;
  }
  throw new Error('expected the context to be rejected');
}

describe('loadStageConfigs', () => {
  test('loads all three stages by default, in order', () => {
    expect(loadStageConfigs({}).map((c) => c.name)).toEqual([...STAGE_NAMES]);
  });

  test('-c stages narrows the stages synthesized', () => {
    expect(loadStageConfigs({ stages: 'staging,prod' }).map((c) => c.name)).toEqual(['staging', 'prod']);
    expect(loadStageConfigs({ stages: ['dev'] }).map((c) => c.name)).toEqual(['dev']);
  });

  test('an unknown stage in -c stages fails and lists the stages', () => {
    expect(loadError({ stages: 'dev,qa' })).toMatch(/unknown stage "qa" in -c stages\. Fix: use one of dev, staging, prod/);
  });

  test('an override for an unknown stage fails', () => {
    expect(loadError({ 'qa.account': '123456789012' })).toMatch(/unknown stage "qa" in -c qa\.account/);
  });

  test('-c <stage>.<field> overrides one stage, read as the type it replaces', () => {
    const [dev, staging] = loadStageConfigs({
      stages: 'dev,staging',
      'staging.account': '012345678901',
      'staging.web.desiredCount': '3',
      'staging.database.multiAz': 'false',
      'dev.alarms.emails': '["a@example.com","b@example.com"]',
    });
    expect(staging.account).toBe('012345678901');
    expect(staging.web.desiredCount).toBe(3);
    expect(staging.database.multiAz).toBe(false);
    expect(dev.alarms.emails).toEqual(['a@example.com', 'b@example.com']);
    expect(dev.account).toBe('111111111111');
  });

  test('an object override (a domain for dev) is read as JSON', () => {
    const [dev] = loadStageConfigs({
      stages: 'dev',
      'dev.https': 'true',
      'dev.domain': '{"zoneName":"example.com","hostedZoneId":"Z123","recordName":"dev.example.com"}',
    });
    expect(dev.domain?.recordName).toBe('dev.example.com');
  });

  test('-c imageTag sets the image of every stage', () => {
    const digest = `sha256:${'a'.repeat(64)}`;
    expect(loadStageConfigs({ imageTag: digest }).map((c) => c.image.tag)).toEqual([digest, digest, digest]);
  });

  test('a bad override names the -c key it came from', () => {
    expect(loadError({ 'prod.database.multiAz': 'false' })).toMatch(
      /stage "prod", field "database\.multiAz", value false: .*Fix: set database\.multiAz: true \(this value came from -c prod\.database\.multiAz\)/,
    );
  });

  test('a bad image tag from -c imageTag is rejected for each stage', () => {
    const message = loadError({ imageTag: 'not a tag' });
    for (const stage of STAGE_NAMES) expect(message).toContain(`stage "${stage}", field "image.tag", value "not a tag"`);
  });

  test('CDK context keys (feature flags, lookups) are not taken for overrides', () => {
    expect(() =>
      loadStageConfigs({
        '@aws-cdk/core:enablePartitionLiterals': true,
        'availability-zones:account=111111111111:region=eu-west-1': ['eu-west-1a'],
        'aws:cdk:enable-path-metadata': true,
      }),
    ).not.toThrow();
  });
});
