import { Annotations, Duration, Stack, Validations } from 'aws-cdk-lib';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as targets from 'aws-cdk-lib/aws-route53-targets';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { RegionInfo } from 'aws-cdk-lib/region-info';
import { Construct } from 'constructs';
import { acknowledgeControl } from '../shared/control-tower-checks';
import { ofThisAccount } from '../shared/service-trust';
import { type SiteName, siteAliasRecords } from '../shared/site-records';
import { originFacingPrefixList } from './origin-facing';

export interface LoadBalancerProps {
  readonly vpc: ec2.IVpc;
  /** Where access logs go (an SSE-S3 bucket: ALB cannot write to SSE-KMS). */
  readonly accessLogBucket: s3.IBucket;
  /** Serve HTTPS for `recordName` in the stage's `zone`; without it the stage serves plain HTTP and says so at synth. */
  readonly domain?: SiteName;
  readonly deletionProtection: boolean;
  /** Without a domain (plain HTTP): the client blocks admitted on port 80, and no others. */
  readonly httpAllowedCidrs: readonly string[];
  /**
   * Behind CloudFront (lib/edge): internal, in the private subnets, admitting the listener port
   * only from CloudFront's origin-facing prefix list (how AWS documents admitting a VPC origin),
   * with no port-80 redirect and no alias records (the site's name points at the distribution).
   * @default false (internet-facing)
   */
  readonly behindCloudFront?: boolean;
}

/** Seconds the load balancer keeps an idle connection open; CloudFront waits as long for an answer. */
export const IDLE_TIMEOUT_SECONDS = 60;

/** How long browsers keep to HTTPS for the site: a year. */
export const HSTS_MAX_AGE_SECONDS = 31_536_000;

/** Strict-Transport-Security the load balancer adds to every HTTPS response: a year, subdomains included. */
export const HSTS = `max-age=${HSTS_MAX_AGE_SECONDS}; includeSubDomains`;

/** An HTTPS listener of the site: its certificate, TLS 1.2 and 1.3 with the restricted cipher list and post-quantum hybrid key exchange. */
export function httpsListenerProps(certificate: acm.ICertificate): elbv2.BaseApplicationListenerProps {
  return { protocol: elbv2.ApplicationProtocol.HTTPS, certificates: [certificate], sslPolicy: elbv2.SslPolicy.TLS13_12_RES_PQ };
}

/**
 * Defines the Application Load Balancer, internet-facing in the public subnets or, behind
 * CloudFront, internal in the private subnets: HTTPS with an ACM
 * certificate validated by DNS in the stage's own hosted zone (network stack), a
 * restricted post-quantum TLS 1.2/1.3 policy, HSTS, HTTP only redirecting to HTTPS, invalid header fields dropped,
 * defensive desync mitigation, access logs, and alias records. `listener` is where the web
 * service attaches.
 */
export class LoadBalancer extends Construct {
  readonly alb: elbv2.ApplicationLoadBalancer;
  readonly listener: elbv2.ApplicationListener;
  /** The site's URL, where the load balancer knows it (behind CloudFront without a domain it is the distribution's). */
  readonly url?: string;
  /** The site's name on the certificate, where the stage serves HTTPS. */
  readonly hostName?: string;
  /** The site's certificate, where the stage serves HTTPS (a traffic shift's test listener serves it too). */
  readonly certificate?: acm.ICertificate;

  constructor(scope: Construct, id: string, props: LoadBalancerProps) {
    super(scope, id);
    const internal = props.behindCloudFront === true;
    const securityGroup = new ec2.SecurityGroup(this, 'SecurityGroup', {
      vpc: props.vpc,
      description: internal ? 'Internal load balancer behind CloudFront' : 'Internet-facing load balancer',
      allowAllOutbound: false,
    });
    this.alb = new elbv2.ApplicationLoadBalancer(this, 'Alb', {
      vpc: props.vpc,
      internetFacing: !internal,
      vpcSubnets: { subnetType: internal ? ec2.SubnetType.PRIVATE_WITH_EGRESS : ec2.SubnetType.PUBLIC },
      securityGroup,
      dropInvalidHeaderFields: true,
      desyncMitigationMode: elbv2.DesyncMitigationMode.DEFENSIVE,
      deletionProtection: props.deletionProtection,
      idleTimeout: Duration.seconds(IDLE_TIMEOUT_SECONDS),
    });
    this.logAccessLogs(props.accessLogBucket, `alb/${Stack.of(this).stackName}`);
    acknowledgeControl(
      this.alb,
      'elbv2_logging_enabled_check',
      "Access logs go to the data stack's access-log bucket, named here as Fn::GetStackOutput, which the control's rule cannot resolve (it accepts only a bucket name string).",
    );
    if (!props.deletionProtection) {
      acknowledgeControl(
        this.alb,
        'elbv2_deletion_protection_enabled_check',
        'Deletion protection is on in prod only (app.loadBalancerDeletionProtection): the load balancer holds no data, and other stages must be able to tear down.',
      );
      Validations.of(this.alb.node.defaultChild!).acknowledge({
        id: 'NIST.800.53.R5-ELBDeletionProtectionEnabled',
        reason: 'Deletion protection is on in prod only: the load balancer holds no data, and other stages must be able to tear down.',
      });
    }
    if (!internal) {
      Validations.of(securityGroup.node.defaultChild!).acknowledge({
        id: 'AwsSolutions-EC23',
        reason: 'The load balancer serves the public web site: it must accept 80 (redirect only, where HTTPS is on) and 443 from anywhere; the WAF filters in front of it.',
      });
    }

    if (props.domain) {
      const { zone } = props.domain;
      const certificate = new acm.Certificate(this, 'Certificate', {
        domainName: props.domain.recordName,
        validation: acm.CertificateValidation.fromDns(zone),
      });
      this.certificate = certificate;
      this.hostName = props.domain.recordName;
      this.listener = this.alb.addListener('Https', { ...httpsListenerProps(certificate), port: 443, open: !internal });
      // HSTS from the load balancer (response header modification), so the app cannot forget it.
      (this.listener.node.defaultChild as elbv2.CfnListener).listenerAttributes = [{ key: 'routing.http.response.strict_transport_security.header_value', value: HSTS }];
      this.url = `https://${props.domain.recordName}`;
      if (internal) {
        this.admitVpcOrigin();
        return;
      }
      const redirect = this.alb.addRedirect({ sourceProtocol: elbv2.ApplicationProtocol.HTTP, sourcePort: 80, targetProtocol: elbv2.ApplicationProtocol.HTTPS, targetPort: 443 });
      Validations.of(redirect.node.defaultChild!).acknowledge({
        id: 'NIST.800.53.R5-ELBv2ACMCertificateRequired',
        reason: 'This port-80 listener only answers with a redirect to HTTPS; it serves no content.',
      });
      siteAliasRecords(this, props.domain, new targets.LoadBalancerTarget(this.alb));
    } else {
      this.listener = this.alb.addListener('Http', { protocol: elbv2.ApplicationProtocol.HTTP, port: 80, open: false });
      if (internal) {
        // CloudFront serves HTTPS on its own name (the edge stack's SiteUrl) and holds viewers to the blocks at the edge.
        this.admitVpcOrigin();
        Annotations.of(this).addWarningV2(
          'app:httpOnly',
          `This stage has no domain: CloudFront serves it on its own *.cloudfront.net name (edge stack output SiteUrl), to ${props.httpAllowedCidrs.join(', ')} only (app.httpAllowedCidrs), and reaches this internal load balancer over HTTP inside the VPC. Set domain and https: true in lib/config/stages.ts to serve the site's own name.`,
        );
      } else {
        for (const cidr of props.httpAllowedCidrs) this.listener.connections.allowDefaultPortFrom(ec2.Peer.ipv4(cidr), 'Plain HTTP for the configured client block only');
        this.url = `http://${this.alb.loadBalancerDnsName}`;
        Annotations.of(this).addWarningV2(
          'app:httpOnly',
          `This stage has no domain, so its load balancer serves plain HTTP on port 80, to ${props.httpAllowedCidrs.join(', ')} only (app.httpAllowedCidrs). Set domain and https: true in lib/config/stages.ts to serve HTTPS.`,
        );
      }
      acknowledgeControl(
        this.listener,
        'alb_http_to_https_redirection_check',
        'A stage without a domain cannot get a certificate; it serves HTTP to app.httpAllowedCidrs by configuration (a synth warning says so). The config schema requires HTTPS in prod.',
      );
      for (const id of ['NIST.800.53.R5-ALBHttpToHttpsRedirection', 'NIST.800.53.R5-ELBv2ACMCertificateRequired']) {
        Validations.of(this.listener.node.defaultChild!).acknowledge({
          id,
          reason: 'A stage without a domain cannot get a certificate; it serves HTTP by configuration (a synth warning says so). The config schema requires HTTPS in prod.',
        });
      }
    }
  }

  /**
   * Behind CloudFront: the listener port admits CloudFront's origin-facing managed prefix list of
   * the stack's region, and nothing else; the only other rule of the group is the smoke test's on
   * the test listener. The VPC origin does not connect from the VPC's own addresses as far as AWS
   * documents (lib/app/origin-facing.ts), and a rule on the private subnets' blocks would also
   * admit every task, function and host there. CloudFront's service group
   * (CloudFront-VPCOrigins-Service-SG) would be narrower still, but it only exists once the edge
   * stack has created the VPC origin, after this stack.
   *
   * Quota: a managed prefix list counts as its maximum entries (55 for this one) against the group's
   * inbound rules, 60 by default (Amazon VPC user guide, "Prefix list weight"). With the smoke
   * test's rule that is 56: this group has room for no list like it, and few more rules.
   */
  private admitVpcOrigin(): void {
    const { region } = Stack.of(this);
    const pinned = originFacingPrefixList(region);
    if ('problem' in pinned) throw new Error(pinned.problem);
    this.listener.connections.allowDefaultPortFrom(ec2.Peer.prefixList(pinned.prefixListId), "CloudFront's VPC origin (the origin-facing prefix list)");
  }

  /**
   * Access logs to `bucket`, with the bucket policy CDK's logAccessLogs writes, except that its
   * statements for delivery.logs.amazonaws.com carry aws:SourceAccount (the log delivery service
   * documents it; CDK writes them without). CDK is handed a reference it cannot add statements to.
   */
  private logAccessLogs(bucket: s3.IBucket, prefix: string): void {
    const { account, region } = Stack.of(this);
    this.alb.logAccessLogs(s3.Bucket.fromBucketAttributes(this, 'AccessLogTarget', { bucketArn: bucket.bucketArn, bucketName: bucket.bucketName }), prefix);
    const logFiles = bucket.arnForObjects(`${prefix}/AWSLogs/${account}/*`);
    // The load balancer writes as Elastic Load Balancing's account of the region (a service
    // principal in the regions that have none).
    const elbAccount = RegionInfo.get(region).elbv2Account;
    bucket.addToResourcePolicy(
      new iam.PolicyStatement({
        principals: [elbAccount ? new iam.AccountPrincipal(elbAccount) : new iam.ServicePrincipal('logdelivery.elasticloadbalancing.amazonaws.com')],
        actions: ['s3:PutObject'],
        resources: [logFiles],
      }),
    );
    const logDelivery = new iam.ServicePrincipal('delivery.logs.amazonaws.com');
    bucket.addToResourcePolicy(
      new iam.PolicyStatement({
        principals: [logDelivery],
        actions: ['s3:PutObject'],
        resources: [logFiles],
        conditions: { StringEquals: { 's3:x-amz-acl': 'bucket-owner-full-control', ...ofThisAccount(this).StringEquals } },
      }),
    );
    bucket.addToResourcePolicy(
      new iam.PolicyStatement({ principals: [logDelivery], actions: ['s3:GetBucketAcl'], resources: [bucket.bucketArn], conditions: ofThisAccount(this) }),
    );
  }
}
