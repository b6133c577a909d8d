import { Fn, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { httpsOnlySecurityGroup } from '../shared/https-only-group';
import type { StageDatabase } from './database';

export interface DatabaseShellProps {
  readonly vpc: ec2.IVpc;
  readonly database: StageDatabase;
}

/** Minutes a database shell host lives at most: it shuts itself down (and is terminated) after them. */
export const DB_SHELL_MAX_MINUTES = 240;

/**
 * Defines how on-call reaches the database, which sits in isolated subnets with no Exec in prod:
 * a launch template for a short-lived, minimal host (Graviton t4g.nano, Amazon Linux 2023, IMDSv2
 * only, encrypted disk, no public address, no SSH, no key pair) that `npm run db-shell` starts in a
 * private subnet on demand and that terminates itself when its time is up. People reach the
 * database through it with Session Manager port forwarding (HTTPS through NAT, every session in
 * CloudTrail), logging in with an IAM token as they would from the app. Its security group lets
 * out HTTPS (Systems Manager) and PostgreSQL to the database, and the database admits it.
 * Nothing runs, and nothing is billed, until someone starts one.
 */
export class DatabaseShell extends Construct {
  readonly launchTemplate: ec2.LaunchTemplate;
  readonly securityGroup: ec2.SecurityGroup;
  /** The private subnet the host starts in. */
  readonly subnetId: string;

  constructor(scope: Construct, id: string, props: DatabaseShellProps) {
    super(scope, id);
    this.securityGroup = httpsOnlySecurityGroup(this, 'SecurityGroup', {
      vpc: props.vpc,
      description: 'Database shell host: Session Manager over HTTPS, PostgreSQL to the database',
      httpsTo: 'HTTPS to Systems Manager (Session Manager)',
    });
    props.database.connections.allowDefaultPortFrom(this.securityGroup, 'The on-call database shell (npm run db-shell)');

    // What Session Manager needs of an instance and nothing more (its user guide's policy for a
    // custom instance role): AmazonSSMManagedInstanceCore would also let the host read every SSM
    // parameter of the account (ssm:GetParameter* on *), which a port-forwarding host never does.
    // No aws:SourceAccount: EC2 does not document sending it when it gives an instance its
    // profile's role, and a condition it does not send would leave the host without credentials.
    const role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com'),
      description: 'Database shell host: registers with Session Manager and carries its sessions, nothing else',
      inlinePolicies: {
        SessionManager: new iam.PolicyDocument({
          statements: [
            new iam.PolicyStatement({
              sid: 'SessionManagerChannels',
              actions: [
                'ssm:UpdateInstanceInformation',
                'ssmmessages:CreateControlChannel',
                'ssmmessages:CreateDataChannel',
                'ssmmessages:OpenControlChannel',
                'ssmmessages:OpenDataChannel',
              ],
              resources: ['*'],
            }),
          ],
        }),
      },
    });
    const oneHost = 'Session Manager names no resource for these actions: the host registers itself and opens its own channels; it has no other permission.';
    Validations.of(role).acknowledge({ id: 'AwsSolutions-IAM5[Resource::*]', reason: oneHost });
    Validations.of(role).acknowledge({ id: 'NIST.800.53.R5-IAMNoInlinePolicy', reason: 'The one statement Session Manager needs, kept with the role it belongs to.' });

    // The host stops itself after an hour unless `npm run db-shell` gives it another limit.
    const userData = ec2.UserData.forLinux();
    userData.addCommands('shutdown -h +60');
    this.launchTemplate = new ec2.LaunchTemplate(this, 'LaunchTemplate', {
      machineImage: ec2.MachineImage.latestAmazonLinux2023({ cpuType: ec2.AmazonLinuxCpuType.ARM_64 }),
      instanceType: ec2.InstanceType.of(ec2.InstanceClass.T4G, ec2.InstanceSize.NANO),
      securityGroup: this.securityGroup,
      role,
      userData,
      requireImdsv2: true,
      httpPutResponseHopLimit: 1,
      // Per-minute metrics while a session runs (billed per hour the host exists).
      detailedMonitoring: true,
      instanceInitiatedShutdownBehavior: ec2.InstanceInitiatedShutdownBehavior.TERMINATE,
      blockDevices: [{ deviceName: '/dev/xvda', volume: ec2.BlockDeviceVolume.ebs(8, { encrypted: true, volumeType: ec2.EbsDeviceVolumeType.GP3, deleteOnTermination: true }) }],
    });
    this.subnetId = props.vpc.privateSubnets[0]?.subnetId ?? Fn.select(0, props.vpc.selectSubnets({ subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS }).subnetIds);
  }
}
