import { copyFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Stack } from 'aws-cdk-lib';
import { Platform } from 'aws-cdk-lib/aws-ecr-assets';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import type { IConstruct } from 'constructs';
import { PROJECT_BUNDLER } from '../shared/lambda-bundle';
import { PROJECT_ROOT } from '../shared/paths';

const JOB_DIR = join(PROJECT_ROOT, 'lambda', 'logical-backup');

/** The asset folders this process made: the job bundled beside the Dockerfile, or the Dockerfile alone. */
const folders = new Map<boolean, string>();

/**
 * The folder the image is built from: lambda/logical-backup/index.ts bundled by the project's
 * bundler (Node.js 24, nothing external: the image has no node_modules) beside a copy of the
 * Dockerfile. Only a stack the synth bundles gets the bundle (`cdk deploy <other stack>` and the
 * tests' templates skip it, as for the Lambda functions); its hash then covers the Dockerfile alone.
 */
function assetFolder(bundled: boolean): string {
  const known = folders.get(bundled);
  if (known) return known;
  const dir = mkdtempSync(join(tmpdir(), 'dump-job-image-'));
  copyFileSync(join(JOB_DIR, 'Dockerfile'), join(dir, 'Dockerfile'));
  if (bundled) PROJECT_BUNDLER.bundle({ entry: join(JOB_DIR, 'index.ts'), target: 'node24', external: [] }, dir);
  folders.set(bundled, dir);
  return dir;
}

/**
 * The dump job's image (lambda/logical-backup/Dockerfile, target `job`) for ARM64 Fargate, with
 * PostgreSQL of `engineVersion`: its pg_dump reads that server, and its own server restores the
 * dump for the check and the anonymisation.
 */
export function dumpJobImage(scope: IConstruct, engineVersion: string): ecs.ContainerImage {
  return ecs.ContainerImage.fromAsset(assetFolder(Stack.of(scope).bundlingRequired), {
    target: 'job',
    buildArgs: { PG_VERSION: engineVersion },
    platform: Platform.LINUX_ARM64,
  });
}
