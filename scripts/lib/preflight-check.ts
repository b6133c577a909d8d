import type { Check } from './preflight';

/** AWS's error as preflight reports it: its name and message. */
const message = (error: unknown) => `${(error as { name?: string }).name ?? 'Error'}: ${(error as Error).message}`;

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
