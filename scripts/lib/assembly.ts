import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** A CloudFormation template as synthesized. */
export interface Template {
  Resources?: Record<string, { Type: string; Properties?: Record<string, unknown>; DeletionPolicy?: string; UpdateReplacePolicy?: string; Metadata?: Record<string, unknown> }>;
  [section: string]: unknown;
}

/** One stack of a synthesized assembly. */
export interface AssemblyStack {
  /** Stage and stack as the CLI shows them, e.g. "prod/Data". */
  readonly displayName: string;
  /** The stage id ("prod"), or "" for a stack at the top of the assembly. */
  readonly stage: string;
  readonly stackName: string;
  /** aws://account/region */
  readonly environment: string;
  readonly template: Template;
}

/** Raised for arguments the scripts cannot work with (exit code 2). */
export class UsageError extends Error {}

interface Manifest {
  artifacts?: Record<string, { type: string; displayName?: string; environment?: string; properties?: { templateFile?: string; stackName?: string; directoryName?: string } }>;
}

/**
 * Reads every stack of a synthesized cloud assembly (`cdk.out`), nested stage assemblies included.
 * Throws a UsageError naming the folder when it is missing or is not an assembly.
 */
export function readAssembly(dir: string): AssemblyStack[] {
  const root = resolve(dir);
  if (!existsSync(root) || !statSync(root).isDirectory()) {
    throw new UsageError(`${dir} is not a folder. Pass the output folder of \`cdk synth\` (cdk.out).`);
  }
  if (!existsSync(join(root, 'manifest.json'))) {
    throw new UsageError(`${dir} is not a cloud assembly: it has no manifest.json. Pass the output folder of \`cdk synth\` (cdk.out).`);
  }
  const stacks: AssemblyStack[] = [];
  const readJson = <T>(file: string, what: string): T => {
    if (!existsSync(file)) throw new UsageError(`${dir} is an incomplete cloud assembly: ${what} ${file} is missing. Synthesize it again (cdk synth).`);
    try {
      return JSON.parse(readFileSync(file, 'utf8')) as T;
    } catch (error) {
      throw new UsageError(`${dir} is a corrupt cloud assembly: ${what} ${file} is not JSON (${(error as Error).message}). Synthesize it again (cdk synth).`);
    }
  };
  const visit = (assemblyDir: string) => {
    const manifest = readJson<Manifest>(join(assemblyDir, 'manifest.json'), 'the manifest');
    if (manifest === null || typeof manifest !== 'object' || (manifest.artifacts !== undefined && typeof manifest.artifacts !== 'object')) {
      throw new UsageError(`${dir} is a corrupt cloud assembly: ${join(assemblyDir, 'manifest.json')} has no artifacts object. Synthesize it again (cdk synth).`);
    }
    for (const [id, artifact] of Object.entries(manifest.artifacts ?? {})) {
      if (artifact.type === 'cdk:cloud-assembly' && artifact.properties?.directoryName) {
        visit(join(assemblyDir, artifact.properties.directoryName));
      } else if (artifact.type === 'aws:cloudformation:stack' && artifact.properties?.templateFile) {
        const displayName = artifact.displayName ?? id;
        stacks.push({
          displayName,
          stage: displayName.includes('/') ? displayName.split('/')[0] : '',
          stackName: artifact.properties.stackName ?? id,
          environment: artifact.environment ?? 'aws://unknown-account/unknown-region',
          template: readJson<Template>(join(assemblyDir, artifact.properties.templateFile), `the template of ${displayName}`),
        });
      }
    }
  };
  visit(root);
  return stacks;
}
