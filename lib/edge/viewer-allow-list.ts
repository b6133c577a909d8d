import { Stack } from 'aws-cdk-lib';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import { Construct } from 'constructs';

export interface ViewerAllowListProps {
  /** IPv4 blocks whose viewers may reach the site (app.httpAllowedCidrs: the schema checks them). */
  readonly cidrs: readonly string[];
}

/** An IPv4 block as the function compares it: network address and prefix length. */
function block(cidr: string): [number, number] {
  const [address, prefix] = cidr.split('/');
  const value = address.split('.').reduce((n, octet) => n * 256 + Number(octet), 0);
  return [value, Number(prefix)];
}

/**
 * The viewer-request code: requests from the blocks pass, every other one gets a 403 from the
 * edge. Plain ES5 with unsigned arithmetic (the cloudfront-js runtime), no dependencies, so a test
 * can run the same text. An IPv6 viewer matches no block: the distribution serves IPv4 only where
 * it has an allow-list.
 */
export function allowListCode(cidrs: readonly string[]): string {
  return [
    `var BLOCKS = ${JSON.stringify(cidrs.map(block))};`,
    'function toNumber(ip) {',
    "  var parts = ip.split('.');",
    '  if (parts.length !== 4) return -1;',
    '  var n = 0;',
    '  for (var i = 0; i < 4; i++) n = n * 256 + Number(parts[i]);',
    '  return n;',
    '}',
    'function handler(event) {',
    '  var ip = toNumber(event.viewer.ip);',
    '  for (var i = 0; ip >= 0 && i < BLOCKS.length; i++) {',
    '    var size = Math.pow(2, 32 - BLOCKS[i][1]);',
    '    if (Math.floor(ip / size) === Math.floor(BLOCKS[i][0] / size)) return event.request;',
    '  }',
    "  return { statusCode: 403, statusDescription: 'Forbidden' };",
    '}',
  ].join('\n');
}

/**
 * Defines the CloudFront Function that holds a stage without a domain (dev) to its client blocks,
 * as its load balancer's security group did before CloudFront stood in front: the load balancer is
 * internal now, and the edge is where viewers' addresses are known.
 */
export class ViewerAllowList extends Construct {
  readonly function: cloudfront.Function;

  constructor(scope: Construct, id: string, props: ViewerAllowListProps) {
    super(scope, id);
    if (props.cidrs.length === 0) throw new Error('An allow-list without blocks would refuse every viewer: list app.httpAllowedCidrs.');
    this.function = new cloudfront.Function(this, 'Function', {
      functionName: `${Stack.of(this).stackName}-viewer-allow-list`,
      comment: `Only ${props.cidrs.join(', ')} may reach the site`,
      runtime: cloudfront.FunctionRuntime.JS_2_0,
      code: cloudfront.FunctionCode.fromInline(allowListCode(props.cidrs)),
    });
  }
}
