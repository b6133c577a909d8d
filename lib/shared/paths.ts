import { join } from 'node:path';

/** The repository's root folder, from wherever this module runs (lib/ or a test). */
export const PROJECT_ROOT = join(__dirname, '..', '..');

/** The handler module of a project function: `lambda/<name>/index.ts`. */
export function handlerEntry(name: string): string {
  return join(PROJECT_ROOT, 'lambda', name, 'index.ts');
}
