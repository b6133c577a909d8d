import { describe } from 'vitest';
import { rejects } from './stage-variant';

describe('ci', () => {
  describe('refuses a bad definition, naming stage, field, value and fix', () => {
    rejects([
      {
        what: 'GitHub repository without an owner',
        stage: 'dev',
        patch: { ci: { repository: 'webapp-platform' } },
        field: 'ci.repository',
        value: '"webapp-platform"',
        fix: /not a GitHub repository "owner\/name"/,
      },
    ]);
  });
});
