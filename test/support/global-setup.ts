import type { TestProject } from 'vitest/node';
import { launchMoto } from './moto';

/**
 * Starts one moto server for the whole run (the Lambda tests share it) and stops it after the
 * last file. Without moto the run fails here, saying how to install it.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const moto = await launchMoto();
  project.provide('motoEndpoint', moto.endpoint);
  return () => moto.stop();
}
