import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { launchMoto } from './moto';

/**
 * Once per run, before any test file: a temporary folder for everything the run writes (CDK puts
 * a cdk.out folder in the temp dir for each app it synthesizes without an outdir; tests and tools
 * make their own), removed after the last file; and one moto server the Lambda and script tests
 * share. Without moto the run stops here, with the install command as the first thing printed.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
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
