import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * The files that take longest, slowest first. Vitest orders files by the durations it cached on
 * the last run; a fresh clone (CI) has no cache and would start the full synth late, making the
 * whole suite wait on it (measured: 74 s against 58 s).
 */
const LONGEST = ['test/synth.test.ts', 'test/scripts/preflight.test.ts', 'test/workflows.test.ts', 'test/scripts/diff-guard.test.ts'];

class LongestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const rank = (f: TestSpecification) => {
      const i = LONGEST.findIndex((path) => f.moduleId.endsWith(path));
      return i === -1 ? LONGEST.length : i;
    };
    return [...(await super.sort(files))].sort((a, b) => rank(a) - rank(b));
  }
}

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    env: {
      // The AWS SDK warns once per process that its 2027 releases need Node 22; the scripts and
      // tests run on Node 24 (README, "Prerequisites"), and an install on Node 20 needs no warning
      // in every test and spawned script.
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    },
    // One moto server for the run, shared by the files that need one.
    globalSetup: ['test/support/global-setup.ts'],
    // Synthesizing a stage takes seconds; a file synthesizes each stage once in beforeAll.
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // Every core: files spend much of their time waiting on cfn-lint, moto and PGlite, and the
    // default (cores - 1) runs the suite serially on a 2-core machine (measured: 54 s against 40 s).
    maxWorkers: availableParallelism(),
    // Files in one worker share its module state, so a stage synthesized by one stack-test file is
    // reused by the next (test/support/synth.ts). Tests that change constructs build their own.
    isolate: false,
    reporters: ['default'],
    // A passing run is quiet: what tests and the functions under test print (JSON logs, CDK's
    // bundling lines) is shown only for the tests that fail.
    silent: 'passed-only',
    sequence: { sequencer: LongestFirst },
    // Transformed modules kept on disk between runs (node_modules/.experimental-vitest-cache),
    // keyed by each file's content: a warm run transforms nothing it transformed before.
    experimental: { fsModuleCache: true },
  },
});
