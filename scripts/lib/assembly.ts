import { existsSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { isAbsolute, join, relative, resolve } from 'node:path';

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
  // The review reads the assembly of a pull request as untrusted data: a manifest must not make
  // it read (and print) a file outside the assembly, by a relative path or a link.
  const realRoot = realpathSync(root);
  const inside = (base: string, name: string, what: string): string => {
    const file = resolve(base, name);
    const real = existsSync(file) ? realpathSync(file) : file;
    const rel = relative(realRoot, real);
    if (isAbsolute(name) || rel === '' || rel.startsWith('..') || isAbsolute(rel)) {
      throw new UsageError(`${dir} is not a well-formed cloud assembly: ${what} "${name}" lies outside it. Synthesize it again (cdk synth).`);
    }
    return file;
  };
  const visit = (assemblyDir: string) => {
    const manifest = readJson<Manifest>(join(assemblyDir, 'manifest.json'), 'the manifest');
    if (manifest === null || typeof manifest !== 'object' || (manifest.artifacts !== undefined && typeof manifest.artifacts !== 'object')) {
      throw new UsageError(`${dir} is a corrupt cloud assembly: ${join(assemblyDir, 'manifest.json')} has no artifacts object. Synthesize it again (cdk synth).`);
    }
    for (const [id, artifact] of Object.entries(manifest.artifacts ?? {})) {
      if (artifact.type === 'cdk:cloud-assembly' && artifact.properties?.directoryName) {
        visit(inside(assemblyDir, artifact.properties.directoryName, `the nested assembly of ${id}`));
      } else if (artifact.type === 'aws:cloudformation:stack' && artifact.properties?.templateFile) {
        const displayName = artifact.displayName ?? id;
        stacks.push({
          displayName,
          stage: displayName.includes('/') ? displayName.split('/')[0] : '',
          stackName: artifact.properties.stackName ?? id,
          environment: artifact.environment ?? 'aws://unknown-account/unknown-region',
          template: readJson<Template>(inside(assemblyDir, artifact.properties.templateFile, `the template of ${displayName}`), `the template of ${displayName}`),
        });
      }
    }
  };
  visit(realRoot);
  return stacks;
}

/** Where a stage's stacks in an assembly deploy: one account, a home region, and each stack's region. */
export interface StageTarget {
  readonly account: string;
  /** The region of the stage's App stack, where its services run and the operator commands look. */
  readonly region: string;
  /** Every stack of the stage, with the region it deploys to (the DR and edge stacks elsewhere). */
  readonly stacks: readonly { readonly stackName: string; readonly region: string }[];
}

/**
 * Reads where a stage of a synthesized assembly deploys. A stage spans regions (its DR stack in the
 * DR region, its edge stack in us-east-1) but never accounts: every stack must name the same one.
 * The home region is the App stack's. Throws a UsageError when the stage is missing, has no App
 * stack, or spans accounts.
 */
export function stageTarget(stacks: readonly AssemblyStack[], stage: string, dir: string): StageTarget {
  const own = stacks.filter((s) => s.stage === stage && s.stackName.startsWith(`${stage}-`));
  if (own.length === 0) throw new UsageError(`${dir} holds no stack of ${stage}: synthesize it with ${stage} in it (cdk synth, or -c stages=${stage}).`);
  const place = (s: AssemblyStack) => {
    const [, , account, region] = s.environment.split('/');
    return { stackName: s.stackName, account, region };
  };
  const placed = own.map(place);
  const accounts = [...new Set(placed.map((p) => p.account))];
  if (accounts.length !== 1 || !/^\d{12}$/.test(accounts[0])) {
    throw new UsageError(
      `${dir} puts the stacks of ${stage} in ${accounts.length === 1 ? `"${accounts[0]}", which is no account id` : `several accounts (${placed.map((p) => `${p.stackName}: ${p.account}`).join(', ')})`}: a stage deploys to one account. Synthesize it again with ${stage}'s account (-c ${stage}.account=...).`,
    );
  }
  const app = placed.find((p) => p.stackName === `${stage}-App`);
  if (!app) throw new UsageError(`${dir} holds no ${stage}-App stack (it has ${placed.map((p) => p.stackName).join(', ')}): synthesize the whole stage.`);
  return { account: accounts[0], region: app.region, stacks: placed.map(({ stackName, region }) => ({ stackName, region })) };
}

/**
 * The app image a stage's assembly deploys: the repository and the tag or digest its task
 * definitions name after the registry (`.../webapp:v1.4.2`, `.../webapp@sha256:...`). Every task
 * definition of the App stack runs the same one; anything else is refused.
 */
export function assemblyImage(stacks: readonly AssemblyStack[], stage: string, dir: string): { repositoryName: string; ref: string } {
  const app = stacks.find((s) => s.stage === stage && s.stackName === `${stage}-App`);
  const images = new Set<string>();
  for (const resource of Object.values(app?.template.Resources ?? {})) {
    if (resource.Type !== 'AWS::ECS::TaskDefinition') continue;
    for (const container of (resource.Properties?.ContainerDefinitions ?? []) as { Name?: string; Image?: unknown }[]) {
      if (container.Name !== 'app') continue;
      const parts = typeof container.Image === 'string' ? [container.Image] : (((container.Image as { 'Fn::Join'?: [string, unknown[]] })?.['Fn::Join']?.[1] ?? []) as unknown[]);
      const tail = parts.at(-1);
      if (typeof tail === 'string') images.add(tail.slice(tail.lastIndexOf('/', tail.search(/[:@][^/]*$/)) + 1));
    }
  }
  if (images.size !== 1) {
    throw new UsageError(`${dir}: the ${stage}-App stack names ${images.size === 0 ? 'no app image' : `several app images (${[...images].join(', ')})`}: synthesize it again.`);
  }
  const [image] = images;
  const at = image.search(/[:@]/);
  return { repositoryName: image.slice(0, at), ref: image.slice(at + 1) };
}
