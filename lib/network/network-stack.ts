import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as route53 from 'aws-cdk-lib/aws-route53';
import type { Construct } from 'constructs';
import { refreshSourceObjects } from '../data/logical-backup-names';
import { LogsKey } from '../shared/logs-key';
import type { SiteName } from '../shared/site-records';
import { StageStack, type StageStackProps } from '../shared/stage-stack';
import { Network } from './network';
import { StageZone } from './stage-zone';

/** What the tiers after the network use of it; the other stacks take this, not the stack. */
export interface NetworkTier {
  readonly vpc: ec2.IVpc;
  /** The stage's CloudWatch Logs key: every log group of the stage is encrypted with it. */
  readonly logsKey: kms.IKey;
  /** The stage's own hosted zone, where it has a domain. */
  readonly zone?: route53.IPublicHostedZone;
  /** Where the stage serves HTTPS for its own name (`https` with a domain): the site's records and certificates. */
  readonly site?: SiteName;
}

/**
 * The stage's network, the key its logs are encrypted with and its DNS zone: the longest-lived
 * layer, which the data, app and operations stacks build on (the app's records go into the zone).
 * The stage's alarm topics (its paging and ticket routes) live here too, built by the stage from
 * lib/ops (AppStage).
 */
export class NetworkStack extends StageStack implements NetworkTier {
  readonly vpc: ec2.IVpc;
  readonly logsKey: kms.IKey;
  /** The stage's own hosted zone, where it has a domain. */
  readonly zone?: route53.IPublicHostedZone;
  readonly site?: SiteName;

  constructor(scope: Construct, id: string, props: StageStackProps) {
    super(scope, id, props);
    const { network } = this.config;
    const { refreshFrom } = this.config.dumps;

    this.logsKey = new LogsKey(this, 'LogsKey', { removalPolicy: this.statefulRemovalPolicy }).key;
    this.vpc = new Network(this, 'Network', {
      cidr: network.cidr,
      maxAzs: network.azCount,
      natGateways: network.natGateways,
      natInstanceType: network.nat === 'instance' ? network.natInstanceType : undefined,
      logsKey: this.logsKey,
      flowLogRetention: this.logRetention,
      flowLogs: network.flowLogs,
      removalPolicy: this.statefulRemovalPolicy,
      // The refresh task reads the source stage's anonymised copies; through this endpoint where
      // that bucket is in this region (S3 in another region is reached through NAT instead).
      otherAccountReads: refreshFrom ? [refreshSourceObjects(refreshFrom)] : [],
    }).vpc;
    const { domain, https } = this.config;
    if (domain) this.zone = new StageZone(this, 'Zone', domain).zone;
    if (https && domain && this.zone) this.site = { zone: this.zone, recordName: domain.recordName };
  }
}
