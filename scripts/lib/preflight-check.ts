import type { Check } from './preflight';

/** AWS's error as preflight reports it: its name and message. */
const message = (error: unknown) => `${(error as { name?: string }).name ?? 'Error'}: ${(error as Error).message}`;

/** Whether AWS's error is one of `names`, by prefix (the SDK's names end in Exception or Fault). */
export const named = (error: unknown, ...names: string[]) => names.some((n) => (error as { name?: string }).name?.startsWith(n));

/**
 * What `call` answers, or undefined where AWS answers one of `names`: what was asked for does not
 * exist, which a check reports as missing. Any other error goes on (the check could not tell).
 */
export function unlessNotFound<T>(call: Promise<T>, ...names: string[]): Promise<T | undefined> {
  return call.catch((error: unknown) => {
    if (named(error, ...names)) return undefined;
    throw error;
  });
}

/** A check that could not run, reported with the error that stopped it (status error), never thrown. */
export const couldNotCheck = (name: string, error: unknown): Check => ({ name, status: 'error', detail: `could not check: ${message(error)}` });

/** Runs one of preflight's checks; one that cannot run is reported as such. */
export async function runCheck(name: string, run: () => Promise<Omit<Check, 'name'>>): Promise<Check> {
  try {
    return { name, ...(await run()) };
  } catch (error) {
    return couldNotCheck(name, error);
  }
}
