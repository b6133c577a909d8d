import { describe, expect, test } from 'vitest';
import { ORIGIN_FACING } from '../../../lib/app/origin-facing';
import { parseStageConfig } from '../../../lib/config';
import { APP_REGIONS, AWS_REGIONS, regionPartition, zonesOf } from '../../../lib/config/aws-catalog';
import { fieldPaths } from '../../../lib/config/context-keys';
import { at, errorOf, escaped, merge, rejects, variant } from './stage-variant';

describe('the stage as a whole: name, account, regions, log retention, data kept, budget', () => {
  describe('refuses a bad definition, naming stage, field, value and fix', () => {
    rejects([
      { what: 'malformed account id', stage: 'dev', patch: { account: '12345' }, field: 'account', value: '"12345"', fix: /exactly 12 digits/ },
      {
        what: 'region that is not a region',
        stage: 'dev',
        patch: { region: 'europe-west' },
        field: 'region',
        value: '"europe-west"',
        fix: /not an AWS region \(lib\/config\/aws-catalog\.ts\)\. Fix: use e\.g\. "eu-west-1"; the closest are/,
      },
      {
        what: 'region that does not exist',
        stage: 'prod',
        patch: { drRegion: 'eu-west-9' },
        field: 'drRegion',
        value: '"eu-west-9"',
        fix: /not an AWS region.*the closest are "eu-west-1", "eu-west-2", "eu-west-3"/,
      },
      {
        what: "a region behind CloudFront without a pinned id of CloudFront's origin-facing prefix list",
        stage: 'staging',
        patch: { region: 'ap-east-1' },
        field: 'region',
        value: '"ap-east-1"',
        fix: /no id of CloudFront's origin-facing prefix list \(com\.amazonaws\.global\.cloudfront\.origin-facing\) is pinned for ap-east-1 in lib\/app\/origin-facing-prefix-lists\.json.*Fix: add "ap-east-1" with the id aws ec2 describe-managed-prefix-lists --region ap-east-1 --filters Name=prefix-list-name,Values=com\.amazonaws\.global\.cloudfront\.origin-facing/,
      },
      {
        what: 'DR region equal to the primary',
        stage: 'staging',
        patch: { drRegion: 'eu-west-1' },
        field: 'drRegion',
        value: '"eu-west-1"',
        fix: /regional outage.*Fix: pick another region/,
      },
      { what: 'prod that would not keep its data', stage: 'prod', patch: { retainOnDelete: false }, field: 'retainOnDelete', value: 'false', fix: /Fix: set retainOnDelete: true/ },
      {
        what: 'log retention CloudWatch does not offer',
        stage: 'dev',
        patch: { logRetentionDays: 42 },
        field: 'logRetentionDays',
        value: '42',
        fix: /Fix: use one of 1, 3, 5, 7, 14, 30/,
      },
    ]);
  });

  describe('catalogued regions are checked against their catalog', () => {
    const regionFields = fieldPaths().filter((path) => /(^|\.)(region|drRegion)$/.test(path));

    test('the region fields are the primary, the DR and the image source region', () => {
      expect(regionFields).toEqual(['region', 'drRegion', 'image.source.region']);
    });

    test.each(regionFields.flatMap((field) => AWS_REGIONS.filter((r) => regionPartition(r) !== 'aws').map((region) => [field, region])))(
      '%s refuses %s: the stacks are written for the aws partition',
      (field, region) => {
        const drRegion = region === 'cn-north-1' ? 'cn-northwest-1' : region.replace(/west/, 'east');
        const message = errorOf(variant('staging', merge(at(field, region), field === 'region' ? { drRegion } : {})));
        expect(message).toMatch(
          new RegExp(
            `field "${escaped(field)}", value "${region}": is in the aws-(cn|us-gov) partition, and the stacks are written for the aws partition.*Fix: use a region of the aws partition`,
          ),
        );
      },
    );

    test('China and GovCloud are the regions left out; every region kept has its zones catalogued and deploys with the default zones', () => {
      expect(AWS_REGIONS.filter((r) => !APP_REGIONS.includes(r))).toEqual(['cn-north-1', 'cn-northwest-1', 'us-gov-east-1', 'us-gov-west-1']);
      for (const region of APP_REGIONS) {
        expect(zonesOf(region).length, region).toBeGreaterThanOrEqual(3);
        const drRegion = region === 'eu-west-1' ? 'eu-central-1' : 'eu-west-1';
        // Without CloudFront: a region behind it also needs its pinned prefix list (the next test).
        expect(() => parseStageConfig(variant('dev', { region, drRegion, edge: { enabled: false } })), region).not.toThrow();
      }
      // Zones listed by hand may be any the region has, also where a letter is skipped.
      expect(() =>
        parseStageConfig(variant('prod', { region: 'ca-central-1', drRegion: 'ca-west-1', network: { availabilityZones: ['ca-central-1a', 'ca-central-1b', 'ca-central-1d'] } })),
      ).not.toThrow();
    });

    test("behind CloudFront, a region needs its pinned id of CloudFront's origin-facing prefix list; without it, it does not", () => {
      const pinned = Object.keys(ORIGIN_FACING.prefixLists);
      expect(pinned.length).toBeGreaterThanOrEqual(16);
      for (const [region, id] of Object.entries(ORIGIN_FACING.prefixLists)) {
        expect(APP_REGIONS, region).toContain(region);
        expect(id, region).toMatch(/^pl-[0-9a-f]{8}$/);
        const drRegion = region === 'eu-west-1' ? 'eu-central-1' : 'eu-west-1';
        expect(() => parseStageConfig(variant('dev', { region, drRegion })), region).not.toThrow();
      }
      const unpinned = APP_REGIONS.filter((r) => !pinned.includes(r));
      expect(unpinned.length).toBeGreaterThan(0);
      for (const region of unpinned) {
        expect(errorOf(variant('dev', { region, drRegion: 'eu-west-1' })), region).toContain(
          `stage "dev", field "region", value "${region}": no id of CloudFront's origin-facing prefix list`,
        );
        expect(() => parseStageConfig(variant('dev', { region, drRegion: 'eu-west-1', edge: { enabled: false } })), region).not.toThrow();
      }
    });
  });
});
