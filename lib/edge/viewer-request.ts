import { Stack } from 'aws-cdk-lib';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import { Construct } from 'constructs';
import { MIDDLEWARE_SUBREQUEST_HEADER } from './waf';

/**
 * Request headers no viewer may send the app, removed from every request at the edge. The web
 * ACL sees only the first 8 KB of a request's headers; this function sees all of them (CloudFront
 * takes up to 20 KB of request line and headers), and may delete any but the read-only and
 * disallowed ones (CloudFront Developer Guide, "Restrictions on all edge functions").
 */
export const STRIPPED_REQUEST_HEADERS: readonly string[] = [MIDDLEWARE_SUBREQUEST_HEADER];

export interface ViewerRequestProps {
  /**
   * IPv4 blocks whose viewers may reach the site (app.httpAllowedCidrs: the schema checks them);
   * every other viewer gets a 403 from the edge. Unset: every viewer may.
   */
  readonly allowedCidrs?: readonly string[];
}

/** An IPv4 block as the function compares it: network address and prefix length. */
function block(cidr: string): [number, number] {
  const [address, prefix] = cidr.split('/');
  const value = address.split('.').reduce((n, octet) => n * 256 + Number(octet), 0);
  return [value, Number(prefix)];
}

/**
 * The viewer-request code: with an allow-list, a viewer outside its blocks gets a 403 from the
 * edge; every request that passes loses STRIPPED_REQUEST_HEADERS, whatever their case or number of
 * values. Plain ES5 with unsigned arithmetic (the cloudfront-js runtime), no dependencies, so a
 * test can run the same text. An IPv6 viewer matches no block: the distribution serves IPv4 only
 * where it has an allow-list.
 */
export function viewerRequestCode(props: ViewerRequestProps = {}): string {
  const { allowedCidrs } = props;
  if (allowedCidrs?.length === 0) throw new Error('An allow-list without blocks would refuse every viewer: list app.httpAllowedCidrs.');
  return [
    ...(allowedCidrs ? [`var BLOCKS = ${JSON.stringify(allowedCidrs.map(block))};`] : []),
    `var STRIPPED = ${JSON.stringify(STRIPPED_REQUEST_HEADERS)};`,
    ...(allowedCidrs
      ? [
          'function toNumber(ip) {',
          "  var parts = ip.split('.');",
          '  if (parts.length !== 4) return -1;',
          '  var n = 0;',
          '  for (var i = 0; i < 4; i++) n = n * 256 + Number(parts[i]);',
          '  return n;',
          '}',
          'function allowed(address) {',
          '  var ip = toNumber(address);',
          '  for (var i = 0; ip >= 0 && i < BLOCKS.length; i++) {',
          '    var size = Math.pow(2, 32 - BLOCKS[i][1]);',
          '    if (Math.floor(ip / size) === Math.floor(BLOCKS[i][0] / size)) return true;',
          '  }',
          '  return false;',
          '}',
        ]
      : []),
    'function handler(event) {',
    ...(allowedCidrs ? ["  if (!allowed(event.viewer.ip)) return { statusCode: 403, statusDescription: 'Forbidden' };"] : []),
    '  var headers = event.request.headers;',
    // CloudFront hands header names in lower case; compared in lower case all the same.
    '  var names = Object.keys(headers);',
    '  for (var i = 0; i < names.length; i++) {',
    '    if (STRIPPED.indexOf(names[i].toLowerCase()) !== -1) delete headers[names[i]];',
    '  }',
    '  return event.request;',
    '}',
  ].join('\n');
}

/**
 * Defines the CloudFront Function every behaviour of the distribution runs at viewer request: it
 * removes the request headers that must never reach the app (STRIPPED_REQUEST_HEADERS) and, on a
 * stage without a domain (dev), holds viewers to its client blocks, as its load balancer's
 * security group did before CloudFront stood in front (the load balancer is internal now, and the
 * edge is where viewers' addresses are known).
 */
export class ViewerRequestFunction extends Construct {
  readonly function: cloudfront.Function;

  constructor(scope: Construct, id: string, props: ViewerRequestProps = {}) {
    super(scope, id);
    const removes = `removes ${STRIPPED_REQUEST_HEADERS.join(', ')}`;
    this.function = new cloudfront.Function(this, 'Function', {
      functionName: `${Stack.of(this).stackName}-viewer-request`,
      comment: props.allowedCidrs ? `Only ${props.allowedCidrs.join(', ')} may reach the site; ${removes}` : `Every viewer; ${removes}`,
      runtime: cloudfront.FunctionRuntime.JS_2_0,
      code: cloudfront.FunctionCode.fromInline(viewerRequestCode(props)),
    });
  }
}
