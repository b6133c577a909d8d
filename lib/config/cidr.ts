/**
 * IPv4 block arithmetic for the two kinds of blocks a stage names: the VPC's (network.cidr) and the
 * client blocks a stage without HTTPS admits (app.httpAllowedCidrs). Each function returns what is
 * wrong, with its fix, or undefined; the schema turns that into an issue.
 */

/** An IPv4 block as its first address and its prefix length. */
interface Block {
  readonly address: number;
  readonly prefix: number;
}

/** The private IPv4 ranges (RFC 1918) a VPC block must lie in, as [first address, prefix]. */
const PRIVATE_RANGES: readonly [number, number, string][] = [
  [10 << 24, 8, '10.0.0.0/8'],
  [((172 << 24) | (16 << 16)) >>> 0, 12, '172.16.0.0/12'],
  [((192 << 24) | (168 << 16)) >>> 0, 16, '192.168.0.0/16'],
];

/** An IPv4 CIDR block as an address and a prefix, or what is wrong with it (no fix: callers know the fix). */
function parseIpv4Cidr(value: string): Block | { problem: string } {
  const match = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(value);
  if (!match) return { problem: 'not an IPv4 CIDR block.' };
  const octets = match.slice(1, 5).map(Number);
  const prefix = Number(match[5]);
  if (octets.some((o) => o > 255)) return { problem: 'an octet is above 255.' };
  return { address: ((octets[0] << 24) | (octets[1] << 16) | (octets[2] << 8) | octets[3]) >>> 0, prefix };
}

/** The block `address/prefix` should be written as when host bits are set, else undefined. */
function hostBitsProblem(address: number, prefix: number): string | undefined {
  const size = 2 ** (32 - prefix);
  if (address % size === 0) return undefined;
  const base = (address - (address % size)) >>> 0;
  const dotted = [24, 16, 8, 0].map((s) => (base >>> s) & 255).join('.');
  return `host bits are set: the block starts at ${dotted}/${prefix}. Fix: use "${dotted}/${prefix}"`;
}

/** Whether two valid blocks share an address (false when either does not parse: its own check reports it). */
export function cidrsOverlap(a: string, b: string): boolean {
  const [x, y] = [parseIpv4Cidr(a), parseIpv4Cidr(b)];
  if ('problem' in x || 'problem' in y) return false;
  const [xFirst, xEnd] = blockRange(x);
  const [yFirst, yEnd] = blockRange(y);
  return xFirst < yEnd && yFirst < xEnd;
}

/** What is wrong with a VPC block: it must be private, /16 to /24, without host bits. */
export function cidrProblem(value: string): string | undefined {
  const fix = 'Fix: use a private block such as "10.10.0.0/16"';
  const parsed = parseIpv4Cidr(value);
  if ('problem' in parsed) return `${parsed.problem} ${fix}`;
  const { address, prefix } = parsed;
  if (prefix < 16 || prefix > 24) return `a VPC block must be /16 to /24 (got /${prefix}). ${fix}`;
  const hostBits = hostBitsProblem(address, prefix);
  if (hostBits) return hostBits;
  const inPrivate = PRIVATE_RANGES.some(([first, bits]) => prefix >= bits && address >>> (32 - bits) === first >>> (32 - bits));
  if (!inPrivate) {
    return `is not a private block: its addresses belong to someone on the internet, whom the VPC could no longer reach. Fix: use a block inside ${PRIVATE_RANGES.map(([, , r]) => r).join(', ')}, e.g. "10.10.0.0/16"`;
  }
  return undefined;
}

/**
 * Blocks no client on the internet comes from, so no viewer of CloudFront or of an internet-facing
 * load balancer has an address there (IANA's special-purpose registry, RFC 6890). The documentation
 * blocks (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24) are left out on purpose: dev ships one as
 * the placeholder that admits nobody until an office block replaces it.
 */
const NON_PUBLIC_BLOCKS: readonly [string, string][] = [
  ['0.0.0.0/8', '"this network"'],
  ['10.0.0.0/8', 'private, RFC 1918'],
  ['100.64.0.0/10', 'carrier-grade NAT, RFC 6598'],
  ['127.0.0.0/8', 'loopback'],
  ['169.254.0.0/16', 'link-local'],
  ['172.16.0.0/12', 'private, RFC 1918'],
  ['192.0.0.0/24', 'IETF protocol assignments'],
  ['192.168.0.0/16', 'private, RFC 1918'],
  ['198.18.0.0/15', 'benchmarking, RFC 2544'],
  ['224.0.0.0/4', 'multicast'],
  ['240.0.0.0/4', 'reserved, with the broadcast address'],
];

/** The most addresses a client allow list admits: a /8. Offices and VPNs are far smaller; more is the internet in pieces. */
const MAX_ALLOWED_ADDRESSES = 2 ** 24;

/** A block's first address and the address after its last. */
function blockRange({ address, prefix }: Block): [number, number] {
  return [address, address + 2 ** (32 - prefix)];
}

/** The blocks of NON_PUBLIC_BLOCKS a block overlaps, with what they are. */
function nonPublicOverlaps(block: Block): string[] {
  const [start, end] = blockRange(block);
  return NON_PUBLIC_BLOCKS.filter(([cidr]) => {
    const [first, last] = blockRange(parseIpv4Cidr(cidr) as Block);
    return start < last && first < end;
  }).map(([cidr, what]) => `${cidr} (${what})`);
}

/** What is wrong with one client address block of app.httpAllowedCidrs, or undefined. */
export function clientCidrProblem(value: string): string | undefined {
  const parsed = parseIpv4Cidr(value);
  const fix = 'Fix: write it like "198.51.100.0/24"';
  if ('problem' in parsed) return `${parsed.problem} ${fix}`;
  if (parsed.prefix > 32) return `an IPv4 prefix is at most /32 (got /${parsed.prefix}). ${fix}`;
  const hostBits = hostBitsProblem(parsed.address, parsed.prefix);
  if (hostBits) return hostBits;
  const only = 'Fix: list the public blocks of your office or VPN only, e.g. "198.51.100.0/24"';
  const size = 2 ** (32 - parsed.prefix);
  if (parsed.prefix === 0) return `admits the whole internet. ${only}`;
  if (size > MAX_ALLOWED_ADDRESSES) {
    return `admits ${size.toLocaleString('en-US')} addresses, more than a /8: no office or VPN is that large, and blocks this wide add up to the internet. ${only}`;
  }
  const overlaps = nonPublicOverlaps(parsed);
  if (overlaps.length > 0) {
    return `overlaps ${overlaps.join(', ')}: no client reaches CloudFront or an internet-facing load balancer from there (a VPN or NAT shows its public address). ${only}`;
  }
  return undefined;
}

/**
 * What is wrong with the client blocks together (each is checked alone by clientCidrProblem): a
 * block inside another one listed (reported on its index), or more than MAX_ALLOWED_ADDRESSES in
 * all (reported on the list).
 */
export function clientCidrsProblems(list: readonly string[]): { index?: number; message: string }[] {
  const problems: { index?: number; message: string }[] = [];
  const blocks = list.flatMap((cidr, index) => {
    const parsed = parseIpv4Cidr(cidr);
    return 'problem' in parsed || parsed.prefix > 32 ? [] : [{ cidr, index, range: blockRange(parsed) }];
  });
  for (const { index, range } of blocks) {
    const outer = blocks.find((other) => other.range[0] <= range[0] && range[1] <= other.range[1] && other.range[1] - other.range[0] > range[1] - range[0]);
    if (outer) problems.push({ index, message: `lies inside ${outer.cidr}, listed too. Fix: remove it, or list the smaller block instead of ${outer.cidr}` });
  }
  // Addresses admitted, overlaps counted once.
  let admitted = 0;
  let reached = 0;
  for (const [start, end] of blocks.map((b) => b.range).sort((a, b) => a[0] - b[0])) {
    admitted += Math.max(0, end - Math.max(start, reached));
    reached = Math.max(reached, end);
  }
  if (admitted > MAX_ALLOWED_ADDRESSES) {
    problems.push({
      message: `the blocks admit ${admitted.toLocaleString('en-US')} addresses together, more than a /8 (${MAX_ALLOWED_ADDRESSES.toLocaleString('en-US')}): an allow list names offices and VPNs, and this is a share of the internet. Fix: list the public blocks of your office or VPN only`,
    });
  }
  return problems;
}
