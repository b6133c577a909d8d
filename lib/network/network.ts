import { RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { acknowledgeControl } from '../shared/control-tower-checks';
import { acknowledgeLogGroupControls } from '../shared/log-group';
import { acknowledgeNatInstances, al2023RepositoryBucket, natInstanceProvider, replaceOnBootChange } from './nat-instances';

export interface NetworkProps {
  /** VPC IPv4 block, /16 to /24. */
  readonly cidr: string;
  /** Number of Availability Zones; the stack supplies their names. */
  readonly maxAzs: number;
  /** NAT gateways, 0 to `maxAzs`; with 0 the private subnets have no route out (only the S3 endpoint). */
  readonly natGateways: number;
  /** EC2 NAT instances of this type instead of NAT gateways (one per `natGateways`). @default NAT gateways */
  readonly natInstanceType?: string;
  /** Key that encrypts the flow-log group. */
  readonly logsKey: kms.IKey;
  /** How long flow logs are kept. */
  readonly flowLogRetention: logs.RetentionDays;
  /** Record every connection, or only refused ones. @default 'all' */
  readonly flowLogs?: 'all' | 'rejected';
  /**
   * What happens to the flow-log group when it leaves the stack.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * Object ARNs in other accounts' buckets the tasks may read through the S3 endpoint (a
   * `refreshFrom` stage's anonymised copies, `arn:aws:s3:::<bucket>/<prefix>*`).
   * @default none
   */
  readonly otherAccountReads?: readonly string[];
}

/** Subnet tiers; the names are part of the logical ids of the subnets, so they never change. */
export const SUBNETS = {
  public: 'Public',
  private: 'Private',
  isolated: 'Isolated',
} as const;

/**
 * Defines the stage's VPC: public subnets for the load balancer and NAT, private subnets with
 * egress for the services and functions, isolated subnets for the database and cache. All traffic
 * is flow-logged to an encrypted log group, the default security group admits nothing, and S3 is
 * reached through a gateway endpoint (free, and keeps image layers and uploads off the NAT) whose
 * policy admits only the stage account's buckets, ECR's layer bucket, CloudFormation's
 * custom-resource response buckets and, where NAT instances boot, Amazon Linux's repositories.
 */
export class Network extends Construct {
  readonly vpc: ec2.Vpc;
  readonly flowLogGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: NetworkProps) {
    super(scope, id);
    // Every subnet takes 1/16 of the block: 3 tiers x 3 AZs fit with room to add a tier later,
    // and a /24 VPC still gets /28 subnets, the smallest AWS allows.
    const cidrMask = Number(props.cidr.split('/')[1]) + 4;

    // NAT instances: Amazon Linux 2023 on Graviton (lib/network/nat-instances.ts), source/destination
    // check off and iptables masquerading, a public address, and a security group that admits
    // only the VPC and sends anywhere.
    const natInstances = props.natInstanceType ? natInstanceProvider({ instanceType: props.natInstanceType, region: Stack.of(this).region }) : undefined;
    this.vpc = new ec2.Vpc(this, 'Vpc', {
      ipAddresses: ec2.IpAddresses.cidr(props.cidr),
      maxAzs: props.maxAzs,
      natGateways: props.natGateways,
      natGatewayProvider: natInstances,
      restrictDefaultSecurityGroup: true,
      subnetConfiguration: [
        { name: SUBNETS.public, subnetType: ec2.SubnetType.PUBLIC, cidrMask, mapPublicIpOnLaunch: false },
        { name: SUBNETS.private, subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS, cidrMask },
        { name: SUBNETS.isolated, subnetType: ec2.SubnetType.PRIVATE_ISOLATED, cidrMask },
      ],
      gatewayEndpoints: {
        S3: { service: ec2.GatewayVpcEndpointAwsService.S3 },
      },
    });

    if (natInstances) {
      natInstances.connections.allowFrom(ec2.Peer.ipv4(this.vpc.vpcCidrBlock), ec2.Port.allTraffic(), 'Traffic of the private subnets to translate');
      acknowledgeNatInstances(natInstances);
      const group = natInstances.securityGroup.node.defaultChild!;
      const fromTheVpc = "Its only ingress is the VPC's own block (the VPC's CidrBlock attribute, which the rule cannot evaluate): the private subnets' traffic to translate.";
      for (const id of ['AwsSolutions-EC23', 'NIST.800.53.R5-EC2RestrictedCommonPorts', 'NIST.800.53.R5-EC2RestrictedSSH'])
        Validations.of(group).acknowledge({ id, reason: fromTheVpc });
    }
    // CDK's own function that strips the default security group's rules (one per stack).
    const restrictDefaultGroup = Stack.of(this).node.tryFindChild('Custom::VpcRestrictDefaultSGCustomResourceProvider');
    if (restrictDefaultGroup) {
      acknowledgeControl(
        restrictDefaultGroup,
        'lambda_inside_vpc_check',
        "CDK's provider that removes the default security group's rules while the VPC is created; it calls only the EC2 API, once per deploy, and cannot run inside the VPC it configures before that VPC has routes.",
      );
    }

    // What the VPC may reach through the S3 endpoint (CDK routes every subnet's S3 traffic through
    // it, the public ones included): the stage account's own buckets, the bucket ECR serves image
    // layers from, the buckets CloudFormation hands custom resources presigned response URLs in (a
    // function in the VPC that cannot answer hangs the deploy for an hour), and where NAT
    // instances run, Amazon Linux's package repositories (their boot script installs from there).
    // Anything else, another account's bucket included (but for the objects named in
    // `otherAccountReads`), is refused at the endpoint.
    const { account: acct, region: rgn, partition: part } = Stack.of(this);
    const s3Endpoint = this.vpc.node.findChild('S3') as ec2.GatewayVpcEndpoint;
    const anyone = [new iam.AnyPrincipal()];
    s3Endpoint.addToPolicy(
      new iam.PolicyStatement({
        sid: 'StageAccountBuckets',
        principals: anyone,
        actions: ['s3:*'],
        resources: ['*'],
        conditions: { StringEquals: { 'aws:ResourceAccount': acct } },
      }),
    );
    s3Endpoint.addToPolicy(
      new iam.PolicyStatement({ sid: 'EcrImageLayers', principals: anyone, actions: ['s3:GetObject'], resources: [`arn:${part}:s3:::prod-${rgn}-starport-layer-bucket/*`] }),
    );
    s3Endpoint.addToPolicy(
      new iam.PolicyStatement({
        sid: 'CustomResourceResponses',
        principals: anyone,
        actions: ['s3:PutObject'],
        resources: [`arn:${part}:s3:::cloudformation-custom-resource-response-*/*`],
      }),
    );
    if (props.otherAccountReads && props.otherAccountReads.length > 0) {
      s3Endpoint.addToPolicy(new iam.PolicyStatement({ sid: 'OtherAccountReads', principals: anyone, actions: ['s3:GetObject'], resources: [...props.otherAccountReads] }));
    }
    if (natInstances) {
      replaceOnBootChange(natInstances, s3Endpoint);
      s3Endpoint.addToPolicy(
        new iam.PolicyStatement({
          sid: 'AmazonLinuxRepositories',
          principals: anyone,
          actions: ['s3:GetObject'],
          resources: [`arn:${part}:s3:::${al2023RepositoryBucket(rgn)}/*`],
        }),
      );
    }

    this.flowLogGroup = new logs.LogGroup(this, 'FlowLogs', {
      encryptionKey: props.logsKey,
      retention: props.flowLogRetention,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    });
    acknowledgeLogGroupControls(this.flowLogGroup, props.logsKey, props.flowLogRetention);
    // The flow-log service writes through a role whose only policy is a managed one scoped to this
    // log group; `withoutPolicyUpdates` stops CDK adding an inline copy of the same grant.
    const { account, region, partition } = Stack.of(this);
    const flowLogRole = new iam.Role(this, 'FlowLogRole', {
      // Only flow logs of this account and region may assume it (confused-deputy guard).
      assumedBy: new iam.ServicePrincipal('vpc-flow-logs.amazonaws.com', {
        conditions: {
          StringEquals: { 'aws:SourceAccount': account },
          ArnLike: { 'aws:SourceArn': `arn:${partition}:ec2:${region}:${account}:vpc-flow-log/*` },
        },
      }),
      description: 'Writes VPC flow logs to the stage flow-log group',
    });
    flowLogRole.addManagedPolicy(
      new iam.ManagedPolicy(this, 'FlowLogWritePolicy', {
        description: 'Write VPC flow logs to the stage flow-log group',
        statements: [
          new iam.PolicyStatement({
            actions: ['logs:CreateLogStream', 'logs:PutLogEvents', 'logs:DescribeLogStreams'],
            resources: [this.flowLogGroup.logGroupArn],
          }),
        ],
      }),
    );
    this.vpc.addFlowLog('FlowLog', {
      destination: ec2.FlowLogDestination.toCloudWatchLogs(this.flowLogGroup, flowLogRole.withoutPolicyUpdates()),
      trafficType: props.flowLogs === 'rejected' ? ec2.FlowLogTrafficType.REJECT : ec2.FlowLogTrafficType.ALL,
    });

    for (const subnet of this.vpc.publicSubnets) {
      const defaultRoute = subnet.node.findChild('DefaultRoute');
      Validations.of(defaultRoute).acknowledge({
        id: 'NIST.800.53.R5-VPCNoUnrestrictedRouteToIGW',
        reason:
          'Public subnets route 0.0.0.0/0 to the internet gateway by design: they hold only the internet-facing load balancer and the NAT gateways; tasks, database and cache sit in private and isolated subnets.',
      });
    }
  }
}
