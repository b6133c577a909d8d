import { createHash } from 'node:crypto';
import { Stack, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { acknowledgeControls } from '../shared/control-tower-checks';
import PINNED from './nat-instance-images.json';

/**
 * The Amazon Linux 2023 image (arm64) of the NAT instances, pinned per region: resolving the
 * public SSM parameter at deploy time would replace every NAT instance (and cut the private
 * subnets' egress while it boots) on the first ordinary deploy after AWS publishes a new image.
 * The ids are the parameter's values as published on the date beside each; `npm run nat-image`
 * compares them with today's and rewrites the file with `--write`.
 */
export const NAT_IMAGES: {
  readonly parameter: string;
  readonly images: Readonly<Record<string, { readonly imageId: string; readonly published: string }>>;
} = PINNED;

/**
 * The S3 bucket Amazon Linux 2023 serves its package repositories from in a region (AL2023 user
 * guide, "Accessing AL2023 repositories through an Amazon S3 gateway endpoint"): a NAT instance in
 * a public subnet reaches it through the VPC's S3 gateway endpoint, whose policy must admit it.
 */
export const al2023RepositoryBucket = (region: string) => `al2023-repos-${region}-de612dc2`;

/** The image pinned for `region`, or a message that says how to pin one. */
export function natImage(region: string): { imageId: string } | { problem: string } {
  const pinned = NAT_IMAGES.images[region];
  if (pinned) return { imageId: pinned.imageId };
  return {
    problem: `no NAT instance image is pinned for ${region} (lib/network/nat-instance-images.json). Fix: run npm run nat-image -- --region ${region} --write with credentials of any account, or use network.nat: "gateway"`,
  };
}

/**
 * The NAT instance's boot script. It replaces CDK's default user data, which races the boot-time
 * package update (aws/aws-cdk#36717) and does not stop when the install fails. Each step here is
 * safe to run again; the install is retried, and without iptables-services the script fails
 * rather than leave rules that a reboot loses. IP forwarding goes into sysctl.d and the rules into
 * /etc/sysconfig/iptables, which the iptables service restores at every boot.
 */
export const NAT_USER_DATA: readonly string[] = [
  'set -euo pipefail',
  'echo "net.ipv4.ip_forward=1" > /etc/sysctl.d/90-nat-instance.conf',
  'sysctl -p /etc/sysctl.d/90-nat-instance.conf',
  // dnf holds a lock while the boot-time update runs: wait it out, 30 tries 10 s apart. Only the
  // main repository, which the S3 endpoint admits (the others, kernel live patches, are not needed).
  'for attempt in $(seq 1 30); do',
  "  if dnf install -y --disablerepo='*' --enablerepo=amazonlinux iptables-services; then break; fi",
  '  echo "dnf install failed (attempt $attempt of 30); retrying in 10 s" >&2',
  '  sleep 10',
  'done',
  'rpm -q iptables-services',
  'systemctl enable --now iptables',
  "interface=$(ip -o route show default | awk '{print $5; exit}')",
  'iptables -t nat -C POSTROUTING -o "$interface" -j MASQUERADE 2>/dev/null || iptables -t nat -A POSTROUTING -o "$interface" -j MASQUERADE',
  // The service's default rules reject forwarded packets: forwarding is what the instance is for.
  'iptables -F FORWARD',
  'service iptables save',
];

export interface NatInstancesOptions {
  /** Instance type, a Graviton (arm64) burstable type. */
  readonly instanceType: string;
  /** The region the instances run in (its pinned image). */
  readonly region: string;
}

/**
 * Defines the NAT instances' provider: the pinned AL2023 image on Graviton, the boot script
 * above, a public address, and a security group that lets out anything (the VPC adds what it
 * admits).
 */
export function natInstanceProvider(options: NatInstancesOptions): ec2.NatInstanceProviderV2 {
  const image = natImage(options.region);
  if ('problem' in image) throw new Error(image.problem);
  const userData = ec2.UserData.forLinux();
  userData.addCommands(...NAT_USER_DATA);
  return ec2.NatProvider.instanceV2({
    instanceType: new ec2.InstanceType(options.instanceType),
    machineImage: ec2.MachineImage.genericLinux({ [options.region]: image.imageId }),
    userData,
    associatePublicIpAddress: true,
    defaultAllowedTraffic: ec2.NatTrafficDirection.OUTBOUND_ONLY,
  });
}

/**
 * Makes each NAT instance a new resource whenever its boot script or image changes. A changed
 * UserData alone only stops and starts an instance, and cloud-init runs the script once per
 * instance, so the new script would never run; a new logical id (the way CDK's
 * `userDataCausesReplacement` does it) replaces the instance, which boots with it. The instances
 * also wait for the S3 endpoint their script installs through.
 */
export function replaceOnBootChange(provider: ec2.NatInstanceProviderV2, endpoint: ec2.GatewayVpcEndpoint): void {
  for (const instance of provider.gatewayInstances) {
    const cfn = instance.node.defaultChild as ec2.CfnInstance;
    const stack = Stack.of(instance);
    const fingerprint = createHash('sha256')
      .update(JSON.stringify(stack.resolve([cfn.userData, cfn.imageId])))
      .digest('hex')
      .slice(0, 16);
    cfn.overrideLogicalId(`${stack.getLogicalId(cfn)}${fingerprint}`);
    instance.node.addDependency(endpoint);
  }
}

/** What the NAT instances are by design, acknowledged on each (they exist only where config asks, never in prod). */
export function acknowledgeNatInstances(provider: ec2.NatInstanceProviderV2): void {
  const why = {
    publicIp: "A NAT instance translates the private subnets' traffic to its own public address: it needs one. Its security group admits only the VPC.",
    single:
      'One NAT instance per configured NAT (network.nat: "instance", never in prod): a cost choice with no managed failover, written down in docs/architecture.md, "NAT"; EC2 recovers the instance on hardware failure.',
  };
  for (const instance of provider.gatewayInstances) {
    const cfn = instance.node.defaultChild as ec2.CfnInstance;
    // What the provider does not expose: an encrypted gp3 root volume, and IMDSv2 only.
    cfn.blockDeviceMappings = [{ deviceName: '/dev/xvda', ebs: { encrypted: true, volumeType: 'gp3', volumeSize: 8, deleteOnTermination: true } }];
    cfn.metadataOptions = { httpTokens: 'required', httpEndpoint: 'enabled', httpPutResponseHopLimit: 1 };
    for (const [id, reason] of Object.entries({
      'AwsSolutions-EC28':
        "Basic monitoring of a NAT instance in a non-prod stage: CloudWatch's 5-minute metrics are enough to see it is up; detailed monitoring would add more than the instance costs.",
      'AwsSolutions-EC29': why.single,
      'NIST.800.53.R5-EC2InstanceNoPublicIp': why.publicIp,
      'NIST.800.53.R5-EC2InstanceDetailedMonitoringEnabled': 'Basic monitoring of a NAT instance in a non-prod stage; see AwsSolutions-EC28.',
      'NIST.800.53.R5-EC2InstanceProfileAttached': 'The NAT instance calls no AWS API; it needs no role.',
      'NIST.800.53.R5-EC2InstancesInVPC': "It is in the VPC's public subnet, named in its network interface (where the public address is set), which the rule does not read.",
    })) {
      Validations.of(cfn).acknowledge({ id, reason });
    }
    acknowledgeControls(instance, {
      ec2_instance_nitro_encryption_in_transit_check:
        "The NAT instance forwards the tasks' connections to the internet and AWS APIs, which are TLS end to end; instance-to-instance encryption does not apply to it.",
      ec2_instance_no_public_ip_check: why.publicIp,
      ec2_instance_detailed_monitoring_enabled_check: 'Basic monitoring of a NAT instance in a non-prod stage; detailed monitoring would add more than the instance costs.',
    });
  }
}
