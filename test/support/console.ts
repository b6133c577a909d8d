import { format } from 'node:util';
import { vi } from 'vitest';

/** What a command printed: console.log as stdout, console.error as stderr, as the process would. */
export interface Printed<T> {
  readonly result: T;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs a script's exported entry in-process and collects what it prints, each line as the spawned
 * command would write it, so a test checks the stream as well as the text without paying for a
 * process that loads the AWS SDK again. Only its own spies are restored.
 */
export async function printed<T>(entry: () => T | Promise<T>): Promise<Printed<T>> {
  let stdout = '';
  let stderr = '';
  const log = vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => {
    stdout += `${format(...args)}\n`;
  });
  const error = vi.spyOn(console, 'error').mockImplementation((...args: unknown[]) => {
    stderr += `${format(...args)}\n`;
  });
  try {
    const result = await entry();
    return { result, stdout, stderr };
  } finally {
    log.mockRestore();
    error.mockRestore();
  }
}
