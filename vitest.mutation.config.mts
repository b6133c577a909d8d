import { defineConfig } from 'vitest/config';
import base from './vitest.config.mjs';

/**
 * The suite Stryker runs against each mutant (npm run mutation): the tests of the modules in its
 * scope (stryker.config.json), which decide safety. Tests that synthesize a stage (templates,
 * cdk-nag, cfn-lint, the guard and cost on real assemblies) stay out: every mutant of
 * the config or the read marking would re-synthesize, hours in all, and the decisions they would
 * cover have unit tests of their own.
 */
export default defineConfig({
  ...base,
  test: {
    ...base.test,
    include: [
      'test/config/**/*.test.ts',
      'test/lambda/database-migration.test.ts',
      'test/lambda/database-setup.test.ts',
      'test/lambda/pre-deploy-snapshot.test.ts',
      'test/lambda/smoke-test.test.ts',
      'test/lambda/cache-events.test.ts',
      'test/scripts/deploy.test.ts',
      'test/scripts/dr-images.test.ts',
      'test/scripts/guard-rules.test.ts',
      'test/scripts/credentials.test.ts',
      'test/shared/cross-stack-marks.test.ts',
      'test/scripts/backup-cost.test.ts',
      'test/shared/control-tower-checks.test.ts',
      'test/scripts/restore-drill.test.ts',
      'test/scripts/restore-database.test.ts',
      'test/scripts/preflight.test.ts',
      'test/scripts/args.test.ts',
      'test/scripts/failover.test.ts',
      'test/scripts/dr-survey.test.ts',
      'test/scripts/runbook.test.ts',
      'test/lambda/failover-drill-age.test.ts',
      'test/lambda/logical-backup-anonymise.test.ts',
      'test/lambda/logical-backup-anonymise-detection.test.ts',
      'test/lambda/dump-age.test.ts',
      'test/scripts/rollback-record.test.ts',
      'test/lambda/release-record.test.ts',
      'test/scripts/snapshots.test.ts',
      'test/scripts/restart.test.ts',
      'test/lambda/queue-health.test.ts',
    ],
    sequence: {},
    // One file at a time, each on an empty moto (test/support/moto.ts): the runs repeat.
    fileParallelism: false,
    // No transformed modules from disk (vitest.config.mts keeps them between runs): with them,
    // Stryker's instrumented sources ran as cached before, and every mutant survived (measured:
    // 0.01 tests per mutant, a 0.5% score).
    experimental: {},
    env: { ...base.test?.env, MOTO_RESET_PER_FILE: '1' },
  },
});
