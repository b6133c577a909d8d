import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type { Construct } from 'constructs';
import { LogsKey } from '../constructs/logs-key';
import { Network } from '../constructs/network';
import { StageStack, type StageStackProps } from './stage-stack';

/**
 * The stage's network and the key its logs are encrypted with: the longest-lived layer, which the
 * data, app and operations stacks build on.
 */
export class NetworkStack extends StageStack {
  readonly vpc: ec2.IVpc;
  readonly logsKey: kms.IKey;

  constructor(scope: Construct, id: string, props: StageStackProps) {
    super(scope, id, props);
    const { network } = this.config;

    this.logsKey = new LogsKey(this, 'LogsKey', { removalPolicy: this.statefulRemovalPolicy }).key;
    this.vpc = new Network(this, 'Network', {
      cidr: network.cidr,
      maxAzs: network.azCount,
      natGateways: network.natGateways,
      logsKey: this.logsKey,
      flowLogRetention: this.logRetention,
      removalPolicy: this.statefulRemovalPolicy,
    }).vpc;
  }
}
