import { describe, expect, test } from 'vitest';
import { COLLECTOR_PORTS } from '../../../lib/app/otel/collector-config';
import { accepts, errorOf, rejects, variant } from './stage-variant';

describe('app', () => {
  describe('refuses a bad definition, naming stage, field, value and fix', () => {
    rejects([
      {
        what: 'tracing that samples nothing',
        stage: 'staging',
        patch: { app: { tracing: { sampleRatio: 0 } } },
        field: 'app.tracing.sampleRatio',
        value: '0',
        fix: /a ratio of 0 records no trace while the collector runs for nothing\. Fix: use a ratio above 0/,
      },
      {
        what: 'a sampling ratio above every trace',
        stage: 'prod',
        patch: { app: { tracing: { sampleRatio: 2 } } },
        field: 'app.tracing.sampleRatio',
        value: '2',
        fix: /a ratio is at most 1 \(every trace\)\. Fix: use 0\.01 to 1/,
      },
      {
        what: 'a plain-HTTP stage open to everyone',
        stage: 'dev',
        patch: { app: { httpAllowedCidrs: undefined } },
        field: 'app.httpAllowedCidrs',
        value: 'undefined',
        fix: /dev serves plain HTTP, which must not be open to the internet\. Fix: list the client blocks/,
      },
      {
        what: 'a plain-HTTP stage admitting 0.0.0.0/0',
        stage: 'dev',
        patch: { app: { httpAllowedCidrs: ['198.51.100.0/24', '0.0.0.0/0'] } },
        field: 'app.httpAllowedCidrs.1',
        value: '"0.0.0.0/0"',
        fix: /admits the whole internet\. Fix: list the public blocks of your office or VPN only/,
      },
      {
        what: 'a client block with an octet above 255',
        stage: 'dev',
        patch: { app: { httpAllowedCidrs: ['198.51.300.0/24'] } },
        field: 'app.httpAllowedCidrs.0',
        value: '"198.51.300.0/24"',
        fix: /an octet is above 255\. Fix: write it like "198\.51\.100\.0\/24"/,
      },
      {
        what: 'a client block with host bits set',
        stage: 'dev',
        patch: { app: { httpAllowedCidrs: ['198.51.100.7/24'] } },
        field: 'app.httpAllowedCidrs.0',
        value: '"198.51.100.7/24"',
        fix: /host bits are set: the block starts at 198\.51\.100\.0\/24\. Fix: use "198\.51\.100\.0\/24"/,
      },
      {
        what: 'a client block with a prefix above 32',
        stage: 'dev',
        patch: { app: { httpAllowedCidrs: ['198.51.100.7/33'] } },
        field: 'app.httpAllowedCidrs.0',
        value: '"198.51.100.7/33"',
        fix: /an IPv4 prefix is at most \/32 \(got \/33\)/,
      },
      {
        what: 'a client block that is no CIDR',
        stage: 'dev',
        patch: { app: { httpAllowedCidrs: ['my office'] } },
        field: 'app.httpAllowedCidrs.0',
        value: '"my office"',
        fix: /not an IPv4 CIDR block/,
      },
      {
        what: 'an authentication path that is no path',
        stage: 'prod',
        patch: { app: { wafAuthPaths: ['api/auth'] } },
        field: 'app.wafAuthPaths.0',
        value: '"api/auth"',
        fix: /not an absolute URL path\. Fix: write it like "\/api\/auth\/"/,
      },
      { what: 'no authentication path', stage: 'prod', patch: { app: { wafAuthPaths: [] } }, field: 'app.wafAuthPaths', value: '[]', fix: /needs at least one path/ },
      {
        what: 'an upload path with a ".." segment (WAF compares paths byte for byte)',
        stage: 'prod',
        patch: { app: { wafLargeBodyPaths: ['/api/uploads/../files'] } },
        field: 'app.wafLargeBodyPaths.0',
        value: '"/api/uploads/../files"',
        fix: /is not a normalised path .*byte for byte.* Fix: write the path the upload requests use, like "\/api\/uploads"/,
      },
      {
        what: 'an upload path with a trailing slash',
        stage: 'staging',
        patch: { app: { wafLargeBodyPaths: ['/api/uploads/'] } },
        field: 'app.wafLargeBodyPaths.0',
        value: '"/api/uploads/"',
        fix: /is not a normalised path/,
      },
      {
        what: 'an upload path with an empty segment',
        stage: 'staging',
        patch: { app: { wafLargeBodyPaths: ['/api//uploads'] } },
        field: 'app.wafLargeBodyPaths.0',
        value: '"/api//uploads"',
        fix: /is not a normalised path/,
      },
      {
        what: 'a body inspection size CloudFront does not offer',
        stage: 'prod',
        patch: { app: { wafBodyInspectionKb: 128 as never } },
        field: 'app.wafBodyInspectionKb',
        value: '128',
        fix: /is not a size WAF inspects behind CloudFront\. Fix: use one of 16, 32, 48, 64/,
      },
      {
        what: "an authentication rate limit under WAF's minimum",
        stage: 'staging',
        patch: { app: { wafAuthRateLimitPer5Min: 5 } },
        field: 'app.wafAuthRateLimitPer5Min',
        value: '5',
        fix: /WAF rate limits start at 10/,
      },
      {
        what: 'a redacted header in capitals',
        stage: 'prod',
        patch: { app: { wafRedactedHeaders: ['X-Api-Key'] } },
        field: 'app.wafRedactedHeaders.0',
        value: '"X-Api-Key"',
        fix: /not a lower-case header name/,
      },
      {
        what: 'prod with ECS Exec',
        stage: 'prod',
        patch: { app: { enableExecuteCommand: true } },
        field: 'app.enableExecuteCommand',
        value: 'true',
        fix: /prod must not allow shells/,
      },
      { what: 'prod without the WAF', stage: 'prod', patch: { app: { waf: false } }, field: 'app.waf', value: 'false', fix: /prod must sit behind the WAF/ },
      {
        what: 'prod without load balancer deletion protection',
        stage: 'prod',
        patch: { app: { loadBalancerDeletionProtection: false } },
        field: 'app.loadBalancerDeletionProtection',
        value: 'false',
        fix: /prod must not lose its load balancer/,
      },
      {
        what: 'the whole internet in two halves',
        stage: 'dev',
        patch: { app: { httpAllowedCidrs: ['0.0.0.0/1', '128.0.0.0/1'] } },
        field: 'app.httpAllowedCidrs.0',
        value: '"0.0.0.0/1"',
        fix: /admits 2,147,483,648 addresses, more than a \/8: no office or VPN is that large.*Fix: list the public blocks of your office or VPN only/,
      },
      {
        what: 'a share of the internet in /8 pieces',
        stage: 'dev',
        patch: { app: { httpAllowedCidrs: ['11.0.0.0/8', '12.0.0.0/8'] } },
        field: 'app.httpAllowedCidrs',
        value: '["11.0.0.0/8","12.0.0.0/8"]',
        fix: /the blocks admit 33,554,432 addresses together, more than a \/8 \(16,777,216\).*Fix: list the public blocks/,
      },
      {
        what: 'a client block inside another listed block',
        stage: 'dev',
        patch: { app: { httpAllowedCidrs: ['198.51.100.0/24', '198.51.100.128/25'] } },
        field: 'app.httpAllowedCidrs.1',
        value: '"198.51.100.128/25"',
        fix: /lies inside 198\.51\.100\.0\/24, listed too\. Fix: remove it/,
      },
      {
        what: 'an authentication rate limit the global one always reaches first',
        stage: 'staging',
        patch: { app: { wafAuthRateLimitPer5Min: 3000 } },
        field: 'app.wafAuthRateLimitPer5Min',
        value: '3000',
        fix: /is not below the per-IP limit of every path \(wafRateLimitPer5Min, 2000\).*Fix: use less than 2000/,
      },
    ]);
  });

  describe('takes values on the edge of each rule', () => {
    accepts([
      { what: 'two client blocks', stage: 'dev', patch: { app: { httpAllowedCidrs: ['203.0.113.7/32', '198.51.100.0/24'] } } },
      // A /8 alone is as much as an allow list admits.
      { what: 'a /8 alone', stage: 'dev', patch: { app: { httpAllowedCidrs: ['11.0.0.0/8'] } } },
      // The collector's ports are reserved, their neighbours are not.
      { what: "a port beside the collector's", stage: 'dev', patch: { app: { containerPort: 4319 } } },
    ]);
  });

  test("the collector's ports are read from its configuration", () => {
    expect(COLLECTOR_PORTS).toEqual([13133, 4317, 4318]);
  });

  test.each(COLLECTOR_PORTS)("containerPort %i is the tracing collector's", (port) => {
    expect(errorOf(variant('dev', { app: { containerPort: port } }))).toContain(
      `field "app.containerPort", value ${port}: the tracing collector beside the app listens there (lib/app/otel/collector.yaml uses ${COLLECTOR_PORTS.join(', ')}), and the containers of a task share their ports. Fix: use another port, e.g. 3000`,
    );
  });

  test.each([
    ['10.20.0.0/16', '10.0.0.0/8 (private, RFC 1918)'],
    ['172.31.0.0/16', '172.16.0.0/12 (private, RFC 1918)'],
    ['192.168.1.0/24', '192.168.0.0/16 (private, RFC 1918)'],
    ['100.64.0.0/10', '100.64.0.0/10 (carrier-grade NAT, RFC 6598)'],
    ['127.0.0.1/32', '127.0.0.0/8 (loopback)'],
    ['169.254.169.254/32', '169.254.0.0/16 (link-local)'],
    ['224.0.0.0/8', '224.0.0.0/4 (multicast)'],
    ['100.0.0.0/8', '100.64.0.0/10 (carrier-grade NAT, RFC 6598)'],
  ])('no viewer comes from %s, which overlaps %s', (cidr, overlap) => {
    expect(errorOf(variant('dev', { app: { httpAllowedCidrs: ['198.51.100.0/24', cidr] } }))).toContain(
      `field "app.httpAllowedCidrs.1", value "${cidr}": overlaps ${overlap}: no client reaches CloudFront or an internet-facing load balancer from there (a VPN or NAT shows its public address). Fix: list the public blocks of your office or VPN only`,
    );
  });
});
