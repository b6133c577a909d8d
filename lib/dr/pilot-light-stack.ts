import { CfnOutput, Fn, Stack, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type { Construct } from 'constructs';
import { LoadBalancer } from '../app/load-balancer';
import type { StageConfig } from '../config';
import { rdsMaxConnections } from '../config/instance-class';
import { dumpExpectations } from '../data/data-stack';
import { DATABASE_NAME, DATABASE_PORT } from '../data/database';
import { DumpTasks } from '../data/dump-tasks';
import { dumpBucketName } from '../data/logical-backup-names';
import { UploadsBucket } from '../data/uploads-bucket';
import { Network } from '../network/network';
import { accessLogBucket } from '../shared/access-log-bucket';
import { LogsKey } from '../shared/logs-key';
import { ServiceKey } from '../shared/service-key';
import type { SiteName } from '../shared/site-records';
import { StageStack, type StageStackProps } from '../shared/stage-stack';
import { DataPlaceholders } from './data-placeholders';
import { DrEmailIdentity } from './dr-email';
import { pilotLightNames } from './pilot-light-names';

export interface PilotLightStackProps extends StageStackProps {
  /**
   * The site's name in the stage's zone (network stack; Route 53 zones are global): the load
   * balancer's certificate is for it and validated there, and the SES identity's records go there.
   */
  readonly site: SiteName;
}

/** The DR region's zones (`a`, `b`, ... for `network.azCount`): the config's own zone names are the primary region's. */
export function drAvailabilityZones(config: StageConfig): string[] {
  return ['a', 'b', 'c'].slice(0, config.network.azCount).map((letter) => `${config.drRegion}${letter}`);
}

/** The status the idle load balancer answers with: CloudFront shows its maintenance page for it. */
export const IDLE_STATUS_CODE = 503;

/**
 * The stage's pilot light in its DR region (`dr.pilotLight`): what takes long to create, or needs
 * the lost region to create, made before a disaster, so a region loss is a database restore and a
 * deploy (docs/disaster-recovery.md, "When the primary region is lost"). It holds a VPC like the
 * primary's (its own block, `dr.cidr`, the same AZ count and subnet tiers, flow logs) without NAT,
 * which the failover turns on; the subnet groups and security groups the database, cache and app
 * land in; an internal load balancer behind CloudFront with the site's certificate, answering 503
 * until the DR app tier attaches to its listener; and the domain's SES identity in this region.
 * Idle, it costs the load balancer, the key and the logs (no NAT, no tasks, no database).
 */
export class PilotLightStack extends StageStack {
  readonly vpc: ec2.IVpc;
  /** The idle internal load balancer, which CloudFront's DR origin points at. */
  readonly loadBalancer: elbv2.IApplicationLoadBalancer;
  /** Its HTTPS listener: the DR app tier attaches its target groups here. */
  readonly listener: elbv2.IApplicationListener;
  readonly data: DataPlaceholders;
  readonly email: DrEmailIdentity;
  /** Where the DR app tier stores uploads, for a stage without an uploads replica (`uploads.replicateToDr` off). */
  readonly uploads?: UploadsBucket;
  /** This region's key for log groups (a KMS key serves only its region); the DR app tier's log groups use it too. */
  readonly logsKey: kms.IKey;
  /** The restore task of the dump replica (`dumps.replicateToDr`): `npm run restore -- --from-dump ... --region <drRegion>`. */
  readonly dumpTasks?: DumpTasks;

  constructor(scope: Construct, id: string, props: PilotLightStackProps) {
    super(scope, id, props);
    const { name, network, dr, app, uploads } = this.config;
    const names = pilotLightNames(name);
    const removalPolicy = this.statefulRemovalPolicy;

    // This region's own key for its log groups: a KMS key serves only its region.
    const logsKey = new LogsKey(this, 'LogsKey', { removalPolicy }).key;
    this.logsKey = logsKey;
    this.vpc = new Network(this, 'Network', {
      cidr: dr.cidr!,
      maxAzs: network.azCount,
      // No NAT while idle: the DR app tier brings its own gateways and routes (lib/dr/dr-nat.ts).
      natGateways: 0,
      logsKey,
      flowLogRetention: this.logRetention,
      flowLogs: network.flowLogs,
      removalPolicy,
    }).vpc;

    this.data = new DataPlaceholders(this, 'Data', {
      vpc: this.vpc,
      databaseSubnetGroupName: names.databaseSubnetGroup,
      cacheSubnetGroupName: names.cacheSubnetGroup,
      engineVersion: this.config.database.engineVersion,
      maxConnections: rdsMaxConnections(this.config.database.instanceClass),
    });

    // The load balancer writes its access logs into a bucket of its own region, as the primary's do.
    const accessLogs = accessLogBucket(this, 'AccessLogs', { expirationDays: uploads.accessLogExpirationDays, removalPolicy, of: 'the DR load balancer' });
    const front = new LoadBalancer(this, 'LoadBalancer', {
      vpc: this.vpc,
      accessLogBucket: accessLogs,
      domain: props.site,
      deletionProtection: app.loadBalancerDeletionProtection,
      httpAllowedCidrs: [],
      behindCloudFront: true,
    });
    // Nothing behind it yet: every request gets 503, which CloudFront turns into its maintenance
    // page. The DR app tier adds a listener rule that forwards every path to its targets, so this
    // default stays and the stack's template does not change at failover.
    // ELB checks it may write to the bucket when logging is turned on: in one stack, the bucket's
    // policy must exist first (the primary's bucket is in the data stack, deployed before).
    front.alb.node.addDependency(accessLogs);
    front.listener.addAction('Idle', {
      action: elbv2.ListenerAction.fixedResponse(IDLE_STATUS_CODE, { contentType: 'text/plain', messageBody: 'This region is not serving the site.' }),
    });
    Validations.of(front.alb.node.defaultChild!).acknowledge({
      id: 'NIST.800.53.R5-ALBWAFEnabled',
      reason: 'The web ACL sits on the CloudFront distribution (edge stack), the only way to this internal load balancer.',
    });
    this.loadBalancer = front.alb;
    this.listener = front.listener;

    this.email = new DrEmailIdentity(this, 'Email', { zone: props.site.zone });

    // Where a stage without an uploads replica stores uploads while failed over: here, not in the
    // DR app tier, so it outlives the tier (a drill leaves nothing behind) and what was uploaded
    // stays until the failback copies it home. Empty while idle: a key and two empty buckets.
    if (!uploads.replicateToDr) {
      const key = new ServiceKey(this, 'UploadsKey', { description: `${name}: uploads stored in the DR region while failed over`, services: ['s3'], removalPolicy }).key;
      this.uploads = new UploadsBucket(this, 'Uploads', {
        key,
        ...uploads,
        corsOrigins: this.config.domain ? [`https://${this.config.domain.recordName}`] : [],
        removalPolicy,
      });
    }

    // What the failover reads (scripts find the stack by pilotLightNames().stackName).
    if (this.config.dumps.replicateToDr) {
      // The replica and its key live in the Dr stack: named here by the replica's fixed name, and
      // any key of this account and region through S3 for that bucket's objects (the key's id is
      // the Dr stack's; the master secret of a database restored here is encrypted with its backup key).
      const { partition, account, region } = Stack.of(this);
      const anyKey = `arn:${partition}:kms:${region}:${account}:key/*`;
      const bucketName = dumpBucketName(name, this.config.account, this.config.drRegion);
      this.dumpTasks = new DumpTasks(this, 'DumpTasks', {
        vpc: this.vpc,
        // No NAT until a failover: the task reaches S3, ECR and the logs through a public address.
        subnets: { subnetType: ec2.SubnetType.PUBLIC },
        assignPublicIp: true,
        stage: name,
        dumps: this.config.dumps,
        engineVersion: this.config.database.engineVersion,
        store: { bucketName, keyArn: anyKey },
        databaseName: DATABASE_NAME,
        expectations: dumpExpectations(this.config),
        masterSecretKeyArn: anyKey,
        logsKey,
        logRetention: this.logRetention,
        logRemovalPolicy: removalPolicy,
      });
      this.dumpTasks.securityGroup.connections.allowTo(this.data.databaseSecurityGroup, ec2.Port.tcp(DATABASE_PORT), 'Restore task to PostgreSQL');
      const replicaKey =
        "The dump replica's key lives in the Dr stack, whose key id this stack does not know; the conditions hold the grant to S3 decrypting objects of the replica bucket.";
      this.dumpTasks.acknowledgeWildcards(this.dumpTasks.restorePolicy, [
        [
          `Resource::${anyKey}`,
          `${replicaKey} The master secret: any key of this account through Secrets Manager (the restored instance's secret is encrypted with the Dr stack's backup key).`,
        ],
      ]);
      this.dumpTasks.outputs(this, bucketName);
    }

    const output = (id: string, value: string, description: string) => new CfnOutput(this, id, { value, description });
    output('VpcId', this.vpc.vpcId, 'The DR VPC');
    output('DatabaseSubnetGroupName', this.data.databaseSubnetGroup.ref, 'RDS subnet group the database is restored into');
    output('DatabaseParameterGroupName', this.data.databaseParameterGroup.bindToInstance({}).parameterGroupName, "The primary's database settings, for the restored instance");
    output('DatabaseSecurityGroupId', this.data.databaseSecurityGroup.securityGroupId, 'Security group of the restored database');
    output('CacheSubnetGroupName', this.data.cacheSubnetGroup.ref, 'ElastiCache subnet group of the DR cache');
    output('CacheSecurityGroupId', this.data.cacheSecurityGroup.securityGroupId, 'Security group of the DR cache');
    output('AppSecurityGroupId', this.data.appSecurityGroup.securityGroupId, "Security group of the DR app's tasks");
    output('LoadBalancerArn', this.loadBalancer.loadBalancerArn, 'The idle internal load balancer');
    output('LoadBalancerDnsName', this.loadBalancer.loadBalancerDnsName, "The load balancer's name (CloudFront's DR origin)");
    output('LoadBalancerSecurityGroupId', front.alb.connections.securityGroups[0].securityGroupId, "The load balancer's security group (admits CloudFront's origin-facing list)");
    output('HttpsListenerArn', this.listener.listenerArn, 'The HTTPS listener the DR app tier attaches to');
    // What the DR app tier reads besides (lib/dr/dr-app-stack.ts): by these outputs, not by
    // references, which would add outputs here whenever the tier is deployed.
    output(
      'PrivateSubnetIds',
      Fn.join(
        ',',
        this.vpc.privateSubnets.map((s) => s.subnetId),
      ),
      "The DR VPC's private subnets, comma-separated (the DR app's tasks and functions)",
    );
    const joined = (values: string[]) => Fn.join(',', values);
    output('PublicSubnetIds', joined(this.vpc.publicSubnets.map((s) => s.subnetId)), "The DR VPC's public subnets, comma-separated (the DR app tier's NAT gateways)");
    output(
      'PrivateRouteTableIds',
      joined(this.vpc.privateSubnets.map((s) => s.routeTable.routeTableId)),
      "The private subnets' route tables, comma-separated (the DR app tier's default routes to its NAT gateways)",
    );
    if (this.uploads) {
      output('UploadsBucketName', this.uploads.bucket.bucketName, 'The uploads bucket of the DR app tier (a stage without an uploads replica)');
      output('UploadsKeyArn', this.uploads.bucket.encryptionKey!.keyArn, "That bucket's key");
    }
    output('LogsKeyArn', logsKey.keyArn, "This region's CloudWatch Logs key (the DR app tier's log groups)");
    output('LoadBalancerFullName', front.alb.loadBalancerFullName, "The load balancer's full name (app/<name>/<id>), the dimension of its metrics");
  }

  override get availabilityZones(): string[] {
    return drAvailabilityZones(this.config);
  }
}
