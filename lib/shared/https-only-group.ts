import * as ec2 from 'aws-cdk-lib/aws-ec2';
import type { Construct } from 'constructs';

/**
 * A security group that admits nothing and lets out only HTTPS (AWS APIs, the image registry):
 * the starting point of every task and function group of the stage. Other paths (the database,
 * the cache, the load balancer) are added where they are needed, by `connections`.
 */
export function httpsOnlySecurityGroup(scope: Construct, id: string, props: { readonly vpc: ec2.IVpc; readonly description: string; readonly httpsTo: string }): ec2.SecurityGroup {
  const group = new ec2.SecurityGroup(scope, id, { vpc: props.vpc, description: props.description, allowAllOutbound: false });
  group.addEgressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(443), props.httpsTo);
  return group;
}
