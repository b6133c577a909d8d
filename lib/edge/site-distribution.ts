import { Duration, Stack, Validations } from 'aws-cdk-lib';
import type * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as origins from 'aws-cdk-lib/aws-cloudfront-origins';
import type * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import { Construct, type IConstruct } from 'constructs';
import { HSTS_MAX_AGE_SECONDS } from '../app/load-balancer';
import { acknowledgeControl } from '../shared/control-tower-checks';

export interface SiteDistributionProps {
  /**
   * The site's name and a certificate for it in us-east-1 (CloudFront takes no other region's);
   * the origin is then reached over HTTPS for that name. Without one (a stage without a domain)
   * the distribution serves its own `*.cloudfront.net` name with CloudFront's certificate, and
   * reaches the load balancer's HTTP listener through the VPC origin (inside AWS's network).
   */
  readonly domain?: { readonly name: string; readonly certificate: acm.ICertificate };
  /** A viewer-request function every behaviour runs (it removes headers; a stage without a domain's allow-list). */
  readonly viewerRequest?: cloudfront.IFunction;
  /**
   * Serve IPv6 viewers too.
   * @default true
   */
  readonly enableIpv6?: boolean;
  /** The internal load balancer CloudFront reaches through a VPC origin. */
  readonly loadBalancer: elbv2.IApplicationLoadBalancer;
  /** Seconds the load balancer keeps an idle connection: CloudFront waits as long for a response. */
  readonly originReadTimeoutSeconds: number;
  /** ARN of a CLOUDFRONT-scope web ACL, where the stage has one. */
  readonly webAclArn?: string;
  readonly priceClass: cloudfront.PriceClass;
  /** Path patterns of content-hashed assets, cached for a year. */
  readonly immutablePaths: readonly string[];
}

/** The Control Tower controls a distribution without a domain of its own cannot meet. */
const NO_DOMAIN_CONTROLS: readonly string[] = ['cloudfront_custom_ssl_certificate_check', 'cloudfront_sni_enabled_check', 'cloudfront_security_policy_check'];

/** A year, the longest TTL CloudFront's cache policies take by default (and what Next.js asks of browsers). */
export const IMMUTABLE_TTL = Duration.days(365);

/**
 * Defines the site's CloudFront distribution in front of the load balancer:
 * - the origin is the load balancer through a **VPC origin**: CloudFront reaches it over the AWS
 *   network in its private subnets, and the load balancer is internal and admits CloudFront's
 *   origin-facing prefix list alone, so nothing reaches it around CloudFront (no secret header to rotate);
 * - HTTPS to the origin with the viewer's Host header forwarded on every behaviour: CloudFront
 *   checks the origin's certificate against the Host header it forwards (the load balancer's own
 *   DNS name is on no certificate), so a behaviour that dropped it would answer 502;
 * - content-hashed assets (`immutablePaths`) cached a year, keyed on the path alone, compressed;
 *   everything else passes to the app uncached with every viewer header, cookie and query string
 *   and CloudFront's viewer headers (the app decides what may be cached, as without CloudFront);
 * - HTTP/2 and HTTP/3, TLS 1.2 or later, viewers redirected to HTTPS, IPv6;
 * - a response headers policy: HSTS (a year, subdomains), nosniff, frame options, referrer
 *   policy, overriding what the app sends so no page can go out without them.
 */
export class SiteDistribution extends Construct {
  readonly distribution: cloudfront.Distribution;

  constructor(scope: Construct, id: string, props: SiteDistributionProps) {
    super(scope, id);
    const { stackName } = Stack.of(this);
    const { domain } = props;
    const origin = origins.VpcOrigin.withApplicationLoadBalancer(props.loadBalancer, {
      vpcOriginName: `${stackName}-load-balancer`,
      ...(domain
        ? { protocolPolicy: cloudfront.OriginProtocolPolicy.HTTPS_ONLY, httpsPort: 443, originSslProtocols: [cloudfront.OriginSslPolicy.TLS_V1_2] }
        : { protocolPolicy: cloudfront.OriginProtocolPolicy.HTTP_ONLY, httpPort: 80 }),
      readTimeout: Duration.seconds(props.originReadTimeoutSeconds),
    });

    const headers = new cloudfront.ResponseHeadersPolicy(this, 'SecurityHeaders', {
      responseHeadersPolicyName: `${stackName}-security-headers`,
      comment: 'HSTS, nosniff, frame options and referrer policy on every response',
      securityHeadersBehavior: {
        strictTransportSecurity: { accessControlMaxAge: Duration.seconds(HSTS_MAX_AGE_SECONDS), includeSubdomains: true, override: true },
        contentTypeOptions: { override: true },
        frameOptions: { frameOption: cloudfront.HeadersFrameOption.SAMEORIGIN, override: true },
        referrerPolicy: { referrerPolicy: cloudfront.HeadersReferrerPolicy.STRICT_ORIGIN_WHEN_CROSS_ORIGIN, override: true },
      },
    });
    const immutable = new cloudfront.CachePolicy(this, 'ImmutableAssets', {
      cachePolicyName: `${stackName}-immutable-assets`,
      comment: 'Content-hashed build assets: a year, keyed on the path alone',
      defaultTtl: IMMUTABLE_TTL,
      maxTtl: IMMUTABLE_TTL,
      // The origin's Cache-Control still decides a response it marks uncacheable (an error page).
      minTtl: Duration.seconds(0),
      headerBehavior: cloudfront.CacheHeaderBehavior.none(),
      cookieBehavior: cloudfront.CacheCookieBehavior.none(),
      queryStringBehavior: cloudfront.CacheQueryStringBehavior.none(),
      enableAcceptEncodingGzip: true,
      enableAcceptEncodingBrotli: true,
    });
    const common = {
      origin,
      viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
      responseHeadersPolicy: headers,
      compress: true,
      ...(props.viewerRequest ? { functionAssociations: [{ function: props.viewerRequest, eventType: cloudfront.FunctionEventType.VIEWER_REQUEST }] } : {}),
    };
    const immutableBehavior: cloudfront.BehaviorOptions = {
      ...common,
      allowedMethods: cloudfront.AllowedMethods.ALLOW_GET_HEAD,
      cachedMethods: cloudfront.CachedMethods.CACHE_GET_HEAD,
      cachePolicy: immutable,
      // Only the Host header reaches the origin for a cached asset: the origin's certificate is checked against it.
      originRequestPolicy: cloudfront.OriginRequestPolicy.HOST_HEADER_ONLY,
    };
    this.distribution = new cloudfront.Distribution(this, 'Distribution', {
      comment: `${stackName}: the site`,
      ...(domain
        ? {
            domainNames: [domain.name],
            certificate: domain.certificate,
            minimumProtocolVersion: cloudfront.SecurityPolicyProtocol.TLS_V1_2_2021,
            sslSupportMethod: cloudfront.SSLMethod.SNI,
          }
        : {}),
      httpVersion: cloudfront.HttpVersion.HTTP2_AND_3,
      enableIpv6: props.enableIpv6 ?? true,
      priceClass: props.priceClass,
      webAclId: props.webAclArn,
      defaultBehavior: {
        ...common,
        allowedMethods: cloudfront.AllowedMethods.ALLOW_ALL,
        cachePolicy: cloudfront.CachePolicy.CACHING_DISABLED,
        // Every viewer header (Host too), cookie and query string, and CloudFront's viewer headers:
        // CloudFront-Viewer-Address is the client's address the app can trust (X-Forwarded-For's
        // first entry is whatever the client sent).
        originRequestPolicy: cloudfront.OriginRequestPolicy.ALL_VIEWER_AND_CLOUDFRONT_2022,
      },
      additionalBehaviors: Object.fromEntries(props.immutablePaths.map((path) => [path, immutableBehavior])),
    });
    const resource = this.distribution.node.defaultChild!;
    const logsV2 =
      'Access logs go through CloudWatch Logs vended delivery (standard logging v2: DistributionLogs, a delivery source on this distribution); the rule knows only the legacy Logging property, which writes to an ACL-enabled bucket.';
    Validations.of(resource).acknowledge({ id: 'AwsSolutions-CFR3', reason: logsV2 });
    acknowledgeControl(resource, 'cloudfront_access_logs_enabled_check', logsV2);
    Validations.of(resource).acknowledge({
      id: 'AwsSolutions-CFR1',
      reason: 'The site serves its users wherever they are; the WAF on the distribution blocks by reputation and rate, not by country.',
    });
    acknowledgeControl(
      resource,
      'cloudfront_default_root_object_configured_check',
      'The origin is the app, which answers "/" itself (Next.js routing); a default root object names a file of a bucket origin.',
    );
    acknowledgeControl(
      resource,
      'cloudfront_origin_failover_enabled_check',
      "One origin: the stage's load balancer, already spread over the stage's AZs; a second origin would be a second region's app, which the DR design restores rather than runs.",
    );
    if (!domain) this.acknowledgeNoDomain(resource);
    if (!props.webAclArn) {
      Validations.of(resource).acknowledge({
        id: 'AwsSolutions-CFR2',
        reason: 'No web ACL by configuration (app.waf: false, cost); the schema requires the WAF in prod, where it sits on this distribution.',
      });
    }
  }

  /** What a stage without a domain cannot have: its own certificate, and with it TLS to the origin. */
  private acknowledgeNoDomain(resource: IConstruct): void {
    const reason =
      "A stage without a domain (dev) serves CloudFront's own *.cloudfront.net name with CloudFront's certificate; there is no name to issue a certificate for, so the origin listener is HTTP, reached through the VPC origin inside AWS's network. The schema requires a domain and HTTPS in prod.";
    Validations.of(resource).acknowledge({ id: 'AwsSolutions-CFR4', reason });
    for (const control of NO_DOMAIN_CONTROLS) acknowledgeControl(resource, control, reason);
  }
}
