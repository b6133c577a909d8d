/**
 * Fargate task sizes Fargate offers (cpu units -> allowed memory MiB).
 * Source: Amazon ECS developer guide, "Task CPU and memory" for the Fargate launch type.
 */
export const FARGATE_SIZES: Readonly<Record<number, readonly number[]>> = {
  256: [512, 1024, 2048],
  512: range(1024, 4096, 1024),
  1024: range(2048, 8192, 1024),
  2048: range(4096, 16384, 1024),
  4096: range(8192, 30720, 1024),
  8192: range(16384, 61440, 4096),
  16384: range(32768, 122880, 8192),
};

function range(from: number, to: number, step: number): number[] {
  const out: number[] = [];
  for (let v = from; v <= to; v += step) out.push(v);
  return out;
}

/** What is wrong with a task size, on the field to fix, or undefined where Fargate offers it. */
export function fargateSizeProblem(cpu: number, memoryLimitMiB: number): { field: 'cpu' | 'memoryLimitMiB'; message: string } | undefined {
  const memories = FARGATE_SIZES[cpu];
  if (!memories) {
    return { field: 'cpu', message: `Fargate does not offer ${cpu} CPU units. Fix: use one of ${Object.keys(FARGATE_SIZES).join(', ')}` };
  }
  if (!memories.includes(memoryLimitMiB)) {
    return { field: 'memoryLimitMiB', message: `Fargate does not offer ${memoryLimitMiB} MiB with ${cpu} CPU units. Fix: use one of ${describeSizes(memories)}` };
  }
  return undefined;
}

function describeSizes(memories: readonly number[]): string {
  return memories.length > 4 ? `${memories[0]} to ${memories[memories.length - 1]} in steps of ${memories[1] - memories[0]}` : memories.join(', ');
}
