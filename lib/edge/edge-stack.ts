import { CfnOutput, RemovalPolicy } from 'aws-cdk-lib';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import type * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import type * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as targets from 'aws-cdk-lib/aws-route53-targets';
import type { Construct } from 'constructs';
import { SERVING_FROM_OUTPUT } from '../dr/pilot-light-names';
import { defineRoutes } from '../ops/alarm-topic';
import { AlarmSet } from '../shared/alarm-set';
import type { LogSettings } from '../shared/log-group';
import { LogsKey } from '../shared/logs-key';
import { stageResourceName } from '../shared/naming';
import { type SiteName, siteAliasRecords } from '../shared/site-records';
import { StageStack, type StageStackProps } from '../shared/stage-stack';
import { DistributionLogs } from './distribution-logs';
import { EdgeAlarms } from './edge-alarms';
import { MAINTENANCE_PATH_PATTERN, MaintenancePage } from './maintenance-page';
import { SiteDistribution } from './site-distribution';
import { ViewerRequestFunction } from './viewer-request';
import { Waf, type WafRules } from './waf';

export { EDGE_REGION } from '../config/regions';

/** What operations read of the edge: the distribution (its metrics) and its web ACL's metric name. */
export interface EdgeTier {
  readonly distributionId: string;
  readonly webAclMetricName?: string;
}

export interface EdgeStackProps extends StageStackProps {
  /**
   * The site's name (domain.recordName) and the stage's hosted zone, where the certificate's
   * validation records and the site's alias go. Without (a stage without a domain) the
   * distribution serves its own name, to `app.httpAllowedCidrs` only.
   */
  readonly domain?: SiteName;
  /** The stage's internal load balancer, the distribution's origin. */
  readonly loadBalancer: elbv2.IApplicationLoadBalancer;
  /**
   * The stage's internal load balancer in its DR region (the pilot light's). The distribution
   * gets a second VPC origin for it up front, and `dr.serveFrom` picks which of the two serves
   * the app: a deploy of this stack alone moves viewers between regions.
   * @default none: the primary region's load balancer is the app's only origin, and dr.serveFrom must be "primary"
   */
  readonly drLoadBalancer?: elbv2.IApplicationLoadBalancer;
  /** Seconds the load balancer keeps an idle connection (the origin read timeout). */
  readonly originIdleTimeoutSeconds: number;
  /** The rules of the distribution's web ACL, where the stage has a WAF. @default no web ACL */
  readonly waf?: WafRules;
}

/**
 * The stage's edge, in us-east-1: the certificate CloudFront serves, the CLOUDFRONT-scope web ACL
 * (the WAF moves here from the load balancer: behind CloudFront a regional one would see
 * CloudFront's addresses, not the viewers', so its rate limits and IP reputation would act on the
 * wrong addresses), the distribution with its VPC origin (and the DR region's, serving when
 * `dr.serveFrom` is `dr`), the maintenance page it answers gateway errors with, and the
 * viewer-request function every behaviour runs (it removes headers no viewer may send; dev: and
 * holds viewers to `app.httpAllowedCidrs`), its access logs, the site's alias
 * records, and alarms on CloudFront's and the web ACL's metrics with the stage's two routes of
 * their own here (same names and recipients as the stage region's topics; alarms notify only topics
 * of their own region).
 */
export class EdgeStack extends StageStack implements EdgeTier {
  readonly distribution: cloudfront.Distribution;
  readonly waf?: Waf;

  constructor(scope: Construct, id: string, props: EdgeStackProps) {
    super(scope, id, props);
    const { name, app, operations, dr } = this.config;
    if (dr.serveFrom === 'dr' && !props.drLoadBalancer) {
      throw new Error(
        `stage "${name}", field "dr.serveFrom", value "dr": the edge stack has no load balancer in the DR region to send viewers to. Fix: deploy the pilot light (dr.pilotLight) and give its load balancer to the edge stack (drLoadBalancer), or set dr.serveFrom: "primary"`,
      );
    }
    if (this.config.edge.immutablePaths.includes(MAINTENANCE_PATH_PATTERN)) {
      throw new Error(
        `stage "${name}", field "edge.immutablePaths", value ${JSON.stringify(this.config.edge.immutablePaths)}: ${MAINTENANCE_PATH_PATTERN} is where the distribution serves its maintenance page. Fix: remove it from edge.immutablePaths`,
      );
    }
    const logsKey = new LogsKey(this, 'LogsKey', { removalPolicy: this.statefulRemovalPolicy }).key;
    const logs: LogSettings = { logsKey, logRetention: this.logRetention, logRemovalPolicy: this.statefulRemovalPolicy };
    // Slack channels are configured once, in the stage region (lib/stages/app-stage.ts): AWS allows
    // one configuration per channel in an account. The pagers and emails get these routes too.
    const { emails, httpsEndpoints } = this.config.alarms;
    const routes = defineRoutes(this, {
      stage: name,
      emails,
      httpsEndpoints,
      logRetention: this.logRetention,
      removalPolicy: this.statefulRemovalPolicy,
    });

    if (props.waf) this.waf = new Waf(this, 'Waf', { name: stageResourceName(name), scope: 'CLOUDFRONT', ...props.waf, ...logs });
    const { domain } = props;
    const certificate = domain && new acm.Certificate(this, 'Certificate', { domainName: domain.recordName, validation: acm.CertificateValidation.fromDns(domain.zone) });
    const allowedCidrs = domain ? undefined : (app.httpAllowedCidrs ?? []);
    const viewerRequest = new ViewerRequestFunction(this, 'ViewerRequest', { allowedCidrs });
    // Left behind when the stack goes, in every stage: CloudFormation cannot delete a versioned
    // bucket that holds objects, and one page costs nothing; a new stack gets a new bucket (CDK names it).
    const maintenance = new MaintenancePage(this, 'Maintenance', { ...logs, removalPolicy: RemovalPolicy.RETAIN });
    this.distribution = new SiteDistribution(this, 'Site', {
      domain: domain && certificate ? { name: domain.recordName, certificate } : undefined,
      viewerRequest: viewerRequest.function,
      // An allow-list knows IPv4 blocks only: its viewers come over IPv4.
      enableIpv6: allowedCidrs === undefined,
      loadBalancer: props.loadBalancer,
      drLoadBalancer: props.drLoadBalancer,
      serveFrom: dr.serveFrom,
      originReadTimeoutSeconds: props.originIdleTimeoutSeconds,
      maintenanceBucket: maintenance.bucket,
      webAclArn: this.waf?.webAcl.attrArn,
      priceClass: this.config.edge.priceClass as cloudfront.PriceClass,
      immutablePaths: this.config.edge.immutablePaths,
    }).distribution;
    const accessLogs = new DistributionLogs(this, 'AccessLogs', { distribution: this.distribution, queryFolder: stageResourceName(name), ...logs });
    if (domain) siteAliasRecords(this, domain, new targets.CloudFrontTarget(this.distribution));
    new EdgeAlarms(this, 'EdgeAlarms', {
      alarms: new AlarmSet(name, routes),
      distributionId: this.distribution.distributionId,
      webAclMetricName: this.waf?.metricName,
      http5xxRatePercent: operations.http5xxRatePercent,
      wafBlockedPer5Min: operations.wafBlockedPer5Min,
    });
    new CfnOutput(this, 'DistributionId', { value: this.distribution.distributionId, description: 'The site distribution (invalidations, metrics)' });
    new CfnOutput(this, 'DistributionDomainName', { value: this.distribution.distributionDomainName, description: "CloudFront's name for the site" });
    new CfnOutput(this, 'AccessLogGroup', {
      value: accessLogs.logGroup.logGroupName,
      description: "The distribution's access logs (us-east-1; saved Logs Insights queries edge-5xx and edge-5xx-requests)",
    });
    new CfnOutput(this, 'SiteUrl', { value: `https://${domain?.recordName ?? this.distribution.distributionDomainName}` });
    // The failover and failback read which region the distribution sends viewers to (one deploy moves it).
    new CfnOutput(this, SERVING_FROM_OUTPUT, {
      value: dr.serveFrom === 'dr' ? this.config.drRegion : this.config.region,
      description: 'The region whose load balancer the distribution sends viewers to (dr.serveFrom)',
    });
  }

  get distributionId(): string {
    return this.distribution.distributionId;
  }

  get webAclMetricName(): string | undefined {
    return this.waf?.metricName;
  }
}
