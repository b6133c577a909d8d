import { defineConfig } from 'vitest/config';
import base from './vitest.config.mts';

/**
 * The suite Stryker runs against each mutant (npm run mutation): the fast tests of the modules that
 * decide safety. The tests that synthesize the whole app (templates, cdk-nag, cfn-lint, the
 * guard and cost on real assemblies) stay out: a synth per mutant would take hours, and the
 * decisions they would cover have unit tests of their own.
 */
export default defineConfig({
  ...base,
  test: {
    ...base.test,
    include: ['test/config/**/*.test.ts', 'test/lambda/**/*.test.ts', 'test/scripts/**/*.test.ts', 'test/stacks/cross-stack-marks.test.ts'],
    exclude: ['test/scripts/diff-guard.test.ts', 'test/scripts/cost.test.ts', 'node_modules/**'],
    sequence: {},
    // One file at a time, each on an empty moto (test/support/moto.ts): the runs repeat.
    fileParallelism: false,
    env: { ...base.test?.env, MOTO_RESET_PER_FILE: '1' },
  },
});
