import { describe } from 'vitest';
import { rejects } from './stage-variant';

describe('image', () => {
  describe('refuses a bad definition, naming stage, field, value and fix', () => {
    rejects([
      {
        what: 'image tag that would expire',
        stage: 'staging',
        patch: { image: { tag: 'pr-42' } },
        field: 'image.tag',
        value: '"pr-42"',
        fix: /matches the expiring tag pattern "pr-\*": the image could expire while the stage runs it\. Fix: deploy a release tag or a sha256: digest/,
      },
      {
        what: 'expiring pattern that matches every tag',
        stage: 'dev',
        patch: { image: { expiringTagPatterns: ['*'] } },
        field: 'image.expiringTagPatterns.0',
        value: '"*"',
        fix: /would expire every tag, releases included/,
      },
      {
        what: 'expiring pattern that selects the release tags',
        stage: 'dev',
        patch: { image: { expiringTagPatterns: ['pr-*', 'rel*'] } },
        field: 'image.expiringTagPatterns.1',
        value: '"rel*"',
        fix: /selects the release tags \(release-\*\), which the first lifecycle rule keeps: it could never expire them, and says otherwise\. Fix: name the builds' own prefix/,
      },
      {
        what: 'image source that is not an account',
        stage: 'dev',
        patch: { image: { source: { account: 'staging' } } },
        field: 'image.source.account',
        value: '"staging"',
        fix: /exactly 12 digits/,
      },
      {
        what: 'image tag with a space',
        stage: 'dev',
        patch: { image: { tag: 'v1 beta' } },
        field: 'image.tag',
        value: '"v1 beta"',
        fix: /neither an image tag nor a "sha256:" digest/,
      },
      {
        what: 'digest that is too short',
        stage: 'prod',
        patch: { image: { tag: 'sha256:abc123' } },
        field: 'image.tag',
        value: '"sha256:abc123"',
        fix: /neither an image tag nor a "sha256:" digest/,
      },
      {
        what: 'a stage promoting its own image',
        stage: 'staging',
        patch: { image: { promotedFrom: 'staging' } },
        field: 'image.promotedFrom',
        value: '"staging"',
        fix: /cannot promote its own image/,
      },
    ]);
  });
});
