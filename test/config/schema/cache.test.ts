import { describe } from 'vitest';
import { rejects } from './stage-variant';

describe('cache', () => {
  describe('refuses a bad definition, naming stage, field, value and fix', () => {
    rejects([
      { what: 'prod without a cache replica', stage: 'prod', patch: { cache: { replicas: 0 } }, field: 'cache.replicas', value: '0', fix: /Fix: set cache.replicas: 1 or more/ },
      {
        what: 'cache node type that does not exist',
        stage: 'staging',
        patch: { cache: { nodeType: 'cache.x99.gigantic' } },
        field: 'cache.nodeType',
        value: '"cache.x99.gigantic"',
        fix: /not an ElastiCache node type that runs Valkey/,
      },
    ]);
  });
});
