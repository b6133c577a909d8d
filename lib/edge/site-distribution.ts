import { Duration, Lazy, Names, Stack, Validations } from 'aws-cdk-lib';
import type * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as origins from 'aws-cdk-lib/aws-cloudfront-origins';
import type * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct, type IConstruct } from 'constructs';
import { HSTS_MAX_AGE_SECONDS } from '../app/load-balancer';
import { acknowledgeControl } from '../shared/control-tower-checks';
import { ERROR_CACHING_SECONDS, MAINTENANCE_ERROR_CODES, MAINTENANCE_PAGE_PATH, MAINTENANCE_PATH_PATTERN } from './maintenance-page';

/** The region whose load balancer the distribution sends viewers to (config `dr.serveFrom`). */
export type ServeFrom = 'primary' | 'dr';

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
  /**
   * The stage's internal load balancer in its DR region (the pilot light's): a second VPC origin,
   * with the same settings, exists for it whether or not it serves.
   * @default none: the primary region's load balancer is the only origin of the app
   */
  readonly drLoadBalancer?: elbv2.IApplicationLoadBalancer;
  /**
   * Which load balancer the app's behaviours send viewers to; `dr` needs `drLoadBalancer`.
   * @default 'primary'
   */
  readonly serveFrom?: ServeFrom;
  /** Seconds the load balancer keeps an idle connection: CloudFront waits as long for a response. */
  readonly originReadTimeoutSeconds: number;
  /** The bucket holding the maintenance page (MaintenancePage), served in place of 502, 503 and 504. */
  readonly maintenanceBucket: s3.IBucket;
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
 * - with a DR load balancer, a second VPC origin for it exists up front, built by the same
 *   function (same protocol, port, TLS policy and timeouts), and `serveFrom` picks the origin of
 *   every behaviour that goes to the app: a deploy of the edge stack alone moves viewers, without
 *   waiting for a VPC origin to be created (minutes). The switch is a deploy, not an origin group:
 *   CloudFront fails over within a group only for GET, HEAD and OPTIONS (developer guide, "Request
 *   and response behavior for origin groups",
 *   https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/RequestAndResponseBehaviorOriginGroups.html),
 *   so every write would still go to the lost region. While the stage moves, a write that reaches
 *   an origin that cannot answer fails: CloudFront does not retry it elsewhere, the viewer gets the
 *   maintenance page (503) and sends it again once the site is back;
 * - a **maintenance page** (MaintenancePage's bucket, through origin access control) under
 *   MAINTENANCE_PATH_PATTERN, answered with status 503 in place of the origin's 502, 503 and 504,
 *   errors kept ERROR_CACHING_SECONDS so the site shows again within seconds of recovering;
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
    const { domain, serveFrom = 'primary' } = props;
    if (serveFrom === 'dr' && !props.drLoadBalancer) throw new Error(`${this.node.path}: serveFrom "dr" needs drLoadBalancer.`);
    const origin = loadBalancerOrigin(props.loadBalancer, `${stackName}-load-balancer`, props);

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
    const viewerRequest = props.viewerRequest ? { functionAssociations: [{ function: props.viewerRequest, eventType: cloudfront.FunctionEventType.VIEWER_REQUEST }] } : {};
    const common = {
      origin,
      viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
      responseHeadersPolicy: headers,
      compress: true,
      ...viewerRequest,
    };
    const immutableBehavior: cloudfront.BehaviorOptions = {
      ...common,
      allowedMethods: cloudfront.AllowedMethods.ALLOW_GET_HEAD,
      cachedMethods: cloudfront.CachedMethods.CACHE_GET_HEAD,
      cachePolicy: immutable,
      // Only the Host header reaches the origin for a cached asset: the origin's certificate is checked against it.
      originRequestPolicy: cloudfront.OriginRequestPolicy.HOST_HEADER_ONLY,
    };
    // S3 is reached under the bucket's own name, signed by origin access control: no viewer header
    // or query goes there. The viewer-request function runs here too (dev's allow-list holds for
    // the page as for the site); the page is cached at the edge as its Cache-Control says.
    const maintenanceBehavior: cloudfront.BehaviorOptions = {
      origin: origins.S3BucketOrigin.withOriginAccessControl(props.maintenanceBucket),
      viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
      responseHeadersPolicy: headers,
      compress: true,
      ...viewerRequest,
      allowedMethods: cloudfront.AllowedMethods.ALLOW_GET_HEAD,
      cachedMethods: cloudfront.CachedMethods.CACHE_GET_HEAD,
      cachePolicy: cloudfront.CachePolicy.CACHING_OPTIMIZED,
    };
    if (props.immutablePaths.includes(MAINTENANCE_PATH_PATTERN))
      throw new Error(`${this.node.path}: ${MAINTENANCE_PATH_PATTERN} is the maintenance page's path, not an immutable one.`);
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
      // The page's behaviour first: listed before any pattern of the app's, no pattern can take its path.
      additionalBehaviors: { [MAINTENANCE_PATH_PATTERN]: maintenanceBehavior, ...Object.fromEntries(props.immutablePaths.map((path) => [path, immutableBehavior])) },
      errorResponses: MAINTENANCE_ERROR_CODES.map((httpStatus) => ({
        httpStatus,
        responseHttpStatus: 503,
        responsePagePath: MAINTENANCE_PAGE_PATH,
        ttl: Duration.seconds(ERROR_CACHING_SECONDS),
      })),
    });
    if (props.drLoadBalancer) this.addDrOrigin(loadBalancerOrigin(props.drLoadBalancer, `${stackName}-dr-load-balancer`, props), serveFrom);
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
      "The app's origin is the stage's load balancer, already spread over its AZs; the move to the DR region's is a deploy (dr.serveFrom), not an origin group, whose failover would send only GET, HEAD and OPTIONS there and every write to the lost region.",
    );
    if (!domain) this.acknowledgeNoDomain(resource);
    if (!props.webAclArn) {
      Validations.of(resource).acknowledge({
        id: 'AwsSolutions-CFR2',
        reason: 'No web ACL by configuration (app.waf: false, cost); the schema requires the WAF in prod, where it sits on this distribution.',
      });
    }
  }

  /**
   * Lists the DR load balancer's origin beside the primary's and, serving from the DR region,
   * points every behaviour of the app at it. Done on the distribution's resource: the L2 lists
   * only origins that a behaviour uses, and names them (Origin1, Origin2) and their VPC origins
   * by first use, so handing it the DR origin for the behaviours would give the DR load
   * balancer's VPC origin the primary's logical id: CloudFormation would repoint that VPC origin
   * (minutes) and create the other anew, instead of switching. The L2 is therefore always given the
   * primary (its VPC origin and origin id as they have always been), and the DR origin is bound
   * under a construct of its own: in either region's service, both VPC origins and both origins
   * are the same, and a switch changes only the behaviours' target.
   */
  private addDrOrigin(drOrigin: cloudfront.IOrigin, serveFrom: ServeFrom): void {
    const scope = new Construct(this, 'DrOrigin');
    const bound = drOrigin.bind(scope, { originId: Names.uniqueId(scope).slice(-128) });
    const drOriginProperty = bound.originProperty!;
    const resource = this.distribution.node.defaultChild as cloudfront.CfnDistribution;
    const config = resource.distributionConfig as cloudfront.CfnDistribution.DistributionConfigProperty;
    const defaultBehavior = config.defaultCacheBehavior as cloudfront.CfnDistribution.DefaultCacheBehaviorProperty;
    const primaryId = defaultBehavior.targetOriginId;
    const serving = <T extends { targetOriginId: string }>(behavior: T): T =>
      serveFrom === 'dr' && behavior.targetOriginId === primaryId ? { ...behavior, targetOriginId: drOriginProperty.id } : behavior;
    resource.distributionConfig = {
      ...config,
      origins: Lazy.uncachedAny({ produce: (context) => [...context.resolve(config.origins), drOriginProperty] }),
      defaultCacheBehavior: serving(defaultBehavior),
      cacheBehaviors: Lazy.uncachedAny({ produce: (context) => (context.resolve(config.cacheBehaviors) as cloudfront.CfnDistribution.CacheBehaviorProperty[]).map(serving) }),
    };
  }

  /** What a stage without a domain cannot have: its own certificate, and with it TLS to the origin. */
  private acknowledgeNoDomain(resource: IConstruct): void {
    const reason =
      "A stage without a domain (dev) serves CloudFront's own *.cloudfront.net name with CloudFront's certificate; there is no name to issue a certificate for, so the origin listener is HTTP, reached through the VPC origin inside AWS's network. The schema requires a domain and HTTPS in prod.";
    Validations.of(resource).acknowledge({ id: 'AwsSolutions-CFR4', reason });
    for (const control of NO_DOMAIN_CONTROLS) acknowledgeControl(resource, control, reason);
  }
}

/**
 * The app's origin: an internal load balancer through a VPC origin, the same settings for each
 * region's. HTTPS to the site's name where the stage has a domain, else the HTTP listener inside
 * AWS's network; CloudFront waits as long as the load balancer keeps an idle connection.
 *
 * A VPC origin takes minutes to create: its status stays Deploying while CloudFront sets it up,
 * and a deploy has waited more than 15 minutes for one
 * (https://github.com/terraform-aws-modules/terraform-aws-cloudfront/issues/163). So the DR
 * region's exists before it serves, and a switch only changes the behaviours' target. VPC
 * origins are a global CloudFront resource, offered for load balancers "in any AWS commercial
 * Region" (https://aws.amazon.com/blogs/networking-and-content-delivery/introducing-cloudfront-virtual-private-cloud-vpc-origins-shield-your-web-applications-from-public-internet/);
 * the developer guide asks only that the VPC be in the distribution's account and in a supported
 * region, none in particular ("Restrict access with VPC origins",
 * https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/private-content-vpc-origins.html).
 * So the DR region's load balancer gets one from this us-east-1 stack as the primary's does.
 */
function loadBalancerOrigin(loadBalancer: elbv2.IApplicationLoadBalancer, vpcOriginName: string, props: SiteDistributionProps): cloudfront.IOrigin {
  return origins.VpcOrigin.withApplicationLoadBalancer(loadBalancer, {
    vpcOriginName,
    ...(props.domain
      ? { protocolPolicy: cloudfront.OriginProtocolPolicy.HTTPS_ONLY, httpsPort: 443, originSslProtocols: [cloudfront.OriginSslPolicy.TLS_V1_2] }
      : { protocolPolicy: cloudfront.OriginProtocolPolicy.HTTP_ONLY, httpPort: 80 }),
    readTimeout: Duration.seconds(props.originReadTimeoutSeconds),
  });
}
