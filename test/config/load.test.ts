import { describe, expect, test } from 'vitest';
import { STAGE_NAMES, StageConfigError, loadStageConfigs, loadStages } from '../../lib/config';

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
      'dev.domain': '{"zoneName":"dev.example.com","recordName":"dev.example.com","parentZoneName":"example.com"}',
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

  test('every stage\'s overrides are checked, also when only some stages are synthesized', () => {
    expect(loadError({ stages: 'dev', 'prod.database.multiAz': 'false' })).toMatch(/stage "prod", field "database\.multiAz", value false/);
  });

  test('-c imageTag sets only the synthesized stages', () => {
    const { selected, all } = loadStages({ stages: 'dev', imageTag: 'v2.0.0' });
    expect(selected.map((c) => c.image.tag)).toEqual(['v2.0.0']);
    expect(all.map((c) => [c.name, c.image.tag])).toEqual([['dev', 'v2.0.0'], ['staging', 'v0.1.0'], ['prod', 'v0.1.0']]);
  });

  test.each([
    [{ 'prod.image.source': '{"account":"333333333333","region":"eu-west-1"}' }, /stage "prod", field "image\.source", value \{"account":"333333333333","region":"eu-west-1"\}: differs from stage "dev" .*CI pushes each build once, to one registry.*Fix: set the same image\.source in every stage/],
    [{ 'staging.image.repositoryName': 'other' }, /stage "staging", field "image\.repositoryName", value "other": differs from stage "dev"/],
    [{ 'prod.ci.repository': 'someone/else' }, /stage "prod", field "ci\.repository", value "someone\/else": differs from stage "dev".*one repository's workflows deploy every stage/],
    [
      { 'prod.domain': '{"zoneName":"staging.example.com","recordName":"staging.example.com","parentZoneName":"example.com"}' },
      /stage "prod", field "domain\.zoneName", value "staging\.example\.com": stage "staging" uses it too: two stages would write the same DNS records\. Fix: give each stage its own name, e\.g\. "prod\.example\.com"/,
    ],
  ])('rules across stages: %j', (context, message) => {
    expect(loadError(context)).toMatch(message);
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
