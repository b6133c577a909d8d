import { describe } from 'vitest';
import { accepts, rejects } from './stage-variant';

describe('dr', () => {
  describe('refuses a bad definition, naming stage, field, value and fix', () => {
    rejects([
      {
        what: 'prod without a pilot light',
        stage: 'prod',
        patch: { dr: { pilotLight: false } },
        field: 'dr.pilotLight',
        value: 'false',
        fix: /within the hour.*Fix: set dr.pilotLight: true/,
      },
      {
        what: 'a pilot light without a VPC block',
        stage: 'staging',
        patch: { dr: { cidr: undefined } },
        field: 'dr.cidr',
        value: 'undefined',
        fix: /Fix: set dr.cidr to a private block/,
      },
      {
        what: 'a DR block that overlaps the primary',
        stage: 'staging',
        patch: { dr: { cidr: '10.20.128.0/17' } },
        field: 'dr.cidr',
        value: '"10.20.128.0/17"',
        fix: /overlaps network.cidr 10.20.0.0\/16/,
      },
      { what: 'a DR block that is public', stage: 'staging', patch: { dr: { cidr: '8.8.0.0/16' } }, field: 'dr.cidr', value: '"8.8.0.0/16"', fix: /is not a private block/ },
      {
        what: 'serving from the DR region with no pilot light',
        stage: 'dev',
        patch: { dr: { serveFrom: 'dr' } },
        field: 'dr.serveFrom',
        value: '"dr"',
        fix: /Fix: set dr.pilotLight: true/,
      },
      {
        what: 'a pilot light without backup copies there',
        stage: 'staging',
        patch: { backup: { drCopies: false } },
        field: 'dr.pilotLight',
        value: 'true',
        fix: /needs backup.drCopies: the database comes back/,
      },
      {
        what: 'serving from the DR region with no app tier there',
        stage: 'staging',
        patch: { dr: { serveFrom: 'dr' } },
        field: 'dr.serveFrom',
        value: '"dr"',
        fix: /maintenance page.*Fix: set dr.appTier: true/,
      },
      { what: 'a DR app tier with no pilot light', stage: 'dev', patch: { dr: { appTier: true } }, field: 'dr.appTier', value: 'true', fix: /Fix: set dr.pilotLight: true/ },
      { what: 'a drill interval beyond a year', stage: 'staging', patch: { dr: { drillIntervalDays: 400 } }, field: 'dr.drillIntervalDays', value: '400', fix: /365/ },
      { what: 'a pilot light without CloudFront', stage: 'staging', patch: { edge: { enabled: false } }, field: 'dr.pilotLight', value: 'true', fix: /needs edge.enabled/ },
    ]);
  });

  describe('accepts', () => {
    accepts([
      { what: 'dev without a pilot light (the default)', stage: 'dev', patch: {} },
      { what: 'staging serving from its DR region', stage: 'staging', patch: { dr: { serveFrom: 'dr', appTier: true } } },
      { what: 'a DR block right after the primary', stage: 'staging', patch: { dr: { cidr: '10.21.0.0/16' } } },
    ]);
  });
});
