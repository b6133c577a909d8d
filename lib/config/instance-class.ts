/**
 * Memory of the RDS instance classes the stages may use, so the database's max_connections can be
 * written explicitly and the connections alarm knows the limit it watches.
 * Source: Amazon RDS user guide, "Hardware specifications for DB instance classes":
 * burstable classes by size; general-purpose (m) classes have 4 GiB and memory-optimized (r)
 * classes 8 GiB per vCPU, with 2 vCPUs for "large", 4 for "xlarge" and 4N for "Nxlarge".
 */
const BURSTABLE_GIB: Readonly<Record<string, number>> = { micro: 1, small: 2, medium: 4, large: 8, xlarge: 16, '2xlarge': 32 };
const GIB_PER_VCPU: Readonly<Record<string, number>> = { m: 4, r: 8 };

/** Memory in GiB of an RDS instance class written without "db." (e.g. "t4g.micro"), or undefined if unknown. */
export function rdsClassMemoryGiB(instanceClass: string): number | undefined {
  const match = /^(t3|t4g|([mr])[5-8][a-z]*)\.(micro|small|medium|large|xlarge|(\d+)xlarge)$/.exec(instanceClass);
  if (!match) return undefined;
  const [, family, letter, size, multiple] = match;
  if (family === 't3' || family === 't4g') return BURSTABLE_GIB[size];
  const vcpus = size === 'large' ? 2 : size === 'xlarge' ? 4 : multiple ? 4 * Number(multiple) : undefined;
  return vcpus === undefined ? undefined : vcpus * GIB_PER_VCPU[letter];
}

/**
 * max_connections of RDS for PostgreSQL's default formula, LEAST({DBInstanceClassMemory/9531392}, 5000),
 * on the class's nominal memory. The engine's own value is a little lower (DBInstanceClassMemory
 * leaves out what the OS reserves), so the database construct sets this number explicitly.
 */
export function rdsMaxConnections(instanceClass: string): number {
  const gib = rdsClassMemoryGiB(instanceClass);
  if (gib === undefined) throw new Error(`no memory size known for RDS class ${instanceClass}`);
  return Math.min(Math.floor((gib * 1024 ** 3) / 9531392), 5000);
}
