import { mkdirSync, mkdtempSync, rmSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { fixtureDir, pruneFixtures } from './fixture-cache';
import { launchMoto } from './moto';

/**
 * Once per run, before any test file: the synthesized fixtures' folder of this source
 * (test/support/fixture-cache.ts), a temporary folder for everything the run writes (CDK puts
 * a cdk.out folder in the temp dir for each app it synthesizes without an outdir; tests and tools
 * make their own), removed after the last file; and one moto server the Lambda and script tests
 * share. Without moto the run stops here, with the install command as the first thing printed.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  // This run's synthesized fixtures live under the source hash; older hashes' beyond the newest few go.
  const fixtures = fixtureDir();
  mkdirSync(fixtures, { recursive: true });
  utimesSync(fixtures, new Date(), new Date());
  pruneFixtures();
  const runDir = mkdtempSync(join(tmpdir(), 'webapp-tests-'));
  // Test workers start after this and inherit it: os.tmpdir() answers TMPDIR.
  process.env.TMPDIR = runDir;
  let moto: Awaited<ReturnType<typeof launchMoto>>;
  try {
    moto = await launchMoto();
  } catch (error) {
    rmSync(runDir, { recursive: true, force: true });
    // Thrown, vitest would go on to report "No test files found", which misleads: stop here.
    process.stderr.write(`\n${(error as Error).message}\n\n`);
    process.exit(1);
  }
  project.provide('motoEndpoint', moto.endpoint);
  return async () => {
    await moto.stop();
    rmSync(runDir, { recursive: true, force: true });
  };
}
