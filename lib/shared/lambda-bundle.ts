import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { type BuildOptions, buildSync, version as esbuildVersion } from 'esbuild';
import { PROJECT_ROOT } from './paths';

/** What decides a bundle besides its source files. */
export interface BundleSettings {
  /** The handler module, `lambda/<name>/index.ts`. */
  readonly entry: string;
  /** esbuild's target, `node24` for Lambda's Node.js 24 runtime. */
  readonly target: string;
  /** Modules left out of the bundle (the runtime provides them). */
  readonly external: readonly string[];
}

/** A bundle in the cache: its files, and the source files it was built from with their hashes. */
interface CacheEntry {
  readonly files: readonly string[];
  readonly inputs: Readonly<Record<string, string>>;
}

const OUTPUT = 'index.js';
const sha256 = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');

/**
 * Bundles a project function's handler with esbuild's API, in this process, and remembers the
 * result by what decides it: esbuild's version, the settings, and the bytes of every source file
 * the bundle was built from (esbuild's metafile lists them, node_modules included). A synth that
 * bundles the same handler for three stages builds it once; a synth after a change to one
 * handler rebuilds that one. CDK's own NodejsFunction spawns the esbuild CLI once per function
 * and stage, which was most of a full synth's time.
 *
 * The output does not depend on where it is written: esbuild sees one fixed output path, so the
 * source map's paths (relative to it) and so the asset hash are the same from any cdk.out.
 */
export class LambdaBundler {
  /** The bundles this process has checked or built, by key: their folder and files. */
  private readonly built = new Map<string, { readonly dir: string; readonly files: readonly string[] }>();

  /** How many bundles this bundler built rather than took from its cache. */
  builds = 0;

  /**
   * @param root the folder source paths are relative to (@default the repository)
   * @param cacheDir where bundles are kept between synths (@default node_modules/.cache/lambda-bundles)
   * @param logLevel what esbuild prints besides the errors it throws (@default 'warning')
   */
  constructor(
    private readonly root = PROJECT_ROOT,
    private readonly cacheDir = join(root, 'node_modules', '.cache', 'lambda-bundles'),
    private readonly logLevel: BuildOptions['logLevel'] = 'warning',
  ) {}

  /** Writes the bundle of `settings` into `outputDir` (index.js and its source map). */
  bundle(settings: BundleSettings, outputDir: string): void {
    const { dir, files } = this.cached(settings);
    mkdirSync(outputDir, { recursive: true });
    for (const file of files) copyFileSync(join(dir, file), join(outputDir, file));
  }

  /** The current bundle of `settings` (its folder and files), built first if no cached one is current. */
  private cached(settings: BundleSettings): { dir: string; files: readonly string[] } {
    const key = sha256(JSON.stringify([esbuildVersion, relative(this.root, settings.entry), settings.target, [...settings.external].sort()]));
    const known = this.built.get(key);
    if (known) return known;
    const dir = join(this.cacheDir, key);
    const kept = this.entry(dir);
    const files = kept && this.current(kept) ? kept.files : this.build(settings, dir);
    this.built.set(key, { dir, files });
    return { dir, files };
  }

  private entry(dir: string): CacheEntry | undefined {
    try {
      return JSON.parse(readFileSync(join(dir, 'inputs.json'), 'utf8')) as CacheEntry;
    } catch {
      return undefined;
    }
  }

  private current(entry: CacheEntry): boolean {
    return Object.entries(entry.inputs).every(([file, hash]) => {
      try {
        return sha256(readFileSync(join(this.root, file))) === hash;
      } catch {
        return false;
      }
    });
  }

  /** Builds the bundle into `dir` and returns its files. */
  private build(settings: BundleSettings, dir: string): readonly string[] {
    const options: BuildOptions = {
      entryPoints: [settings.entry],
      bundle: true,
      platform: 'node',
      format: 'cjs',
      target: settings.target,
      minify: true,
      sourcemap: true,
      external: [...settings.external],
      // One fixed path, never written (write: false): the map's source paths are relative to it.
      outfile: join(this.root, 'cdk.out', 'bundle', OUTPUT),
      absWorkingDir: this.root,
      write: false,
      metafile: true,
      logLevel: this.logLevel,
    };
    const result = buildSync(options);
    this.builds++;
    // Written beside and moved into place, so a synth stopped half-way leaves no bundle that looks complete.
    const building = `${dir}.${process.pid}.building`;
    rmSync(building, { recursive: true, force: true });
    mkdirSync(building, { recursive: true });
    const files = (result.outputFiles ?? []).map((file) => {
      const name = file.path.slice(dirname(file.path).length + 1);
      writeFileSync(join(building, name), file.contents);
      return name;
    });
    const inputs = Object.fromEntries(Object.keys(result.metafile?.inputs ?? {}).map((file) => [file, sha256(readFileSync(join(this.root, file)))]));
    writeFileSync(join(building, 'inputs.json'), JSON.stringify({ files, inputs } satisfies CacheEntry));
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dirname(dir), { recursive: true });
    renameSync(building, dir);
    return files;
  }
}

/** The one bundler of the process: stages synthesized together share its builds. */
export const PROJECT_BUNDLER = new LambdaBundler();
