import { describe } from 'vitest';
import { accepts, type Patch, rejects } from './stage-variant';

describe('domain, HTTPS and edge', () => {
  describe('refuses a bad definition, naming stage, field, value and fix', () => {
    rejects([
      { what: 'prod without HTTPS', stage: 'prod', patch: { https: false }, field: 'https', value: 'false', fix: /prod must serve HTTPS/ },
      {
        what: 'HTTPS stage without a domain',
        stage: 'staging',
        patch: { domain: undefined },
        field: 'domain',
        value: 'undefined',
        fix: /https is on but no domain is set.*Fix: set domain/,
      },
      {
        what: 'record outside the hosted zone',
        stage: 'staging',
        patch: { domain: { recordName: 'staging.example.org' } },
        field: 'domain.recordName',
        value: '"staging.example.org"',
        fix: /outside the hosted zone staging\.example\.com/,
      },
      {
        what: 'stage zone outside its parent',
        stage: 'prod',
        patch: { domain: { zoneName: 'app.example.org', recordName: 'app.example.org' } },
        field: 'domain.zoneName',
        value: '"app.example.org"',
        fix: /not a subdomain of the parent zone example\.com.*Fix: use a name ending in \.example\.com, e\.g\. "prod\.example\.com"/,
      },
      {
        what: 'malformed hosted zone id',
        stage: 'staging',
        patch: { domain: { hostedZoneId: 'zone-1' } },
        field: 'domain.hostedZoneId',
        value: '"zone-1"',
        fix: /not a Route 53 hosted zone id/,
      },
      {
        what: 'prod without CloudFront in front',
        stage: 'prod',
        patch: { edge: { enabled: false } },
        field: 'edge.enabled',
        value: 'false',
        fix: /prod must serve through CloudFront, its load balancer unreachable from the internet\. Fix: set edge\.enabled: true/,
      },
      {
        what: 'a cache behaviour path that is not a path pattern',
        stage: 'staging',
        patch: { edge: { immutablePaths: ['_next/static/*'] } },
        field: 'edge.immutablePaths.0',
        value: '"_next/static/*"',
        fix: /not a CloudFront path pattern\. Fix: write it like "\/_next\/static\/\*"/,
      },
      {
        what: 'wrong type',
        stage: 'dev',
        patch: { https: 'yes' } as unknown as Patch,
        field: 'https',
        value: '"yes"',
        fix: /expected boolean.*Fix: correct https in lib\/config\/stages\.ts/,
      },
    ]);
  });

  describe('takes values on the edge of each rule', () => {
    accepts([{ what: 'a site name inside the zone', stage: 'staging', patch: { domain: { recordName: 'www.staging.example.com' } } }]);
  });
});
