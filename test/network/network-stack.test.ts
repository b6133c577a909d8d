import { spawnSync } from 'node:child_process';
import { Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { describe, expect, test } from 'vitest';
import { parseStageConfig, STAGE_NAMES, STAGES, type StageConfig, type StageName } from '../../lib/config';
import { NAT_IMAGES, NAT_USER_DATA, natImage, replaceOnBootChange } from '../../lib/network/nat-instances';
import { referencedIds } from '../../lib/shared/cross-stack-reads';
import { synthStage, TEST_CONTEXT, testApp } from '../support/synth';
import { type Json, type Resource, stageTemplates } from '../support/template';

const synthesized = stageTemplates();
const network = (name: StageName): Template => synthesized[name].network;

describe.each(STAGE_NAMES)('%s network stack', (name) => {
  const config = STAGES[name];
  const azCount = config.network.azCount;

  test('is named <stage>-Network, in the stage account and region, protected outside dev', () => {
    const stack = synthesized[name].stage.network;
    expect(stack.stackName).toBe(`${name}-Network`);
    expect(stack.account).toBe(config.account);
    expect(stack.region).toBe(config.region);
    expect(stack.terminationProtection).toBe(config.retainOnDelete);
  });

  test('VPC with the configured block and three subnet tiers per AZ', () => {
    const t = network(name);
    t.hasResourceProperties('AWS::EC2::VPC', { CidrBlock: config.network.cidr, EnableDnsHostnames: true, EnableDnsSupport: true });
    t.resourceCountIs('AWS::EC2::Subnet', azCount * 3);
    for (const tier of ['Public', 'Private', 'Isolated']) {
      const subnets = t.findResources('AWS::EC2::Subnet', {
        Properties: { Tags: Match.arrayWith([{ Key: 'aws-cdk:subnet-name', Value: tier }]) },
      });
      const zones = Object.values(subnets).map((s) => s.Properties.AvailabilityZone);
      expect(zones).toEqual(['a', 'b', 'c'].slice(0, azCount).map((l) => `${config.region}${l}`));
    }
  });

  test('public subnets do not hand out public IPs', () => {
    const subnets = network(name).findResources('AWS::EC2::Subnet');
    for (const subnet of Object.values(subnets)) expect(subnet.Properties.MapPublicIpOnLaunch).toBe(false);
  });

  test('NAT gateways, or NAT instances, as configured', () => {
    const t = network(name);
    const instances = config.network.nat === 'instance';
    t.resourceCountIs('AWS::EC2::NatGateway', instances ? 0 : config.network.natGateways);
    t.resourceCountIs('AWS::EC2::Instance', instances ? config.network.natGateways : 0);
    // Every private subnet's default route leaves through one of them.
    const privateTables = Object.keys(t.findResources('AWS::EC2::RouteTable')).filter((id) => id.includes('PrivateSubnet'));
    const routes = Object.values(t.findResources('AWS::EC2::Route')).filter((r) => privateTables.includes(r.Properties.RouteTableId.Ref));
    expect(routes).toHaveLength(privateTables.length);
    for (const r of routes) {
      expect(r.Properties.DestinationCidrBlock).toBe('0.0.0.0/0');
      if (instances) expect(Object.keys(r.Properties)).toContain('InstanceId');
      else expect(Object.keys(r.Properties)).toContain('NatGatewayId');
    }
  });

  test('a NAT instance: Graviton, IMDSv2 only, an encrypted root volume, no forwarding check, admitting only the VPC', () => {
    const parsed = parseStageConfig(STAGES[name]);
    if (parsed.network.nat !== 'instance') return;
    const t = network(name);
    for (const instance of Object.values(t.findResources('AWS::EC2::Instance'))) {
      const p = instance.Properties;
      expect(p.InstanceType).toBe(parsed.network.natInstanceType);
      expect(p.SourceDestCheck).toBe(false);
      expect(p.MetadataOptions).toEqual({ HttpTokens: 'required', HttpEndpoint: 'enabled', HttpPutResponseHopLimit: 1 });
      expect(p.BlockDeviceMappings).toEqual([{ DeviceName: '/dev/xvda', Ebs: { Encrypted: true, VolumeType: 'gp3', VolumeSize: 8, DeleteOnTermination: true } }]);
      // The AMI: pinned per region, so a new Amazon Linux release does not replace the instance on an ordinary deploy.
      expect(p.ImageId).toBe(NAT_IMAGES.images[parsed.region].imageId);
      expect(p.ImageId).toMatch(/^ami-[0-9a-f]{17}$/);
      expect(p.UserData).toEqual({ 'Fn::Base64': NAT_USER_DATA.join('\n').replace(/^/, '#!/bin/bash\n') });
      expect(p.NetworkInterfaces[0].AssociatePublicIpAddress).toBe(true);
    }
    const [group] = Object.values(t.findResources('AWS::EC2::SecurityGroup')).filter((g) => /NAT/i.test(g.Properties.GroupDescription));
    expect(group.Properties.SecurityGroupIngress).toEqual([
      expect.objectContaining({ IpProtocol: '-1', CidrIp: { 'Fn::GetAtt': [expect.stringMatching(/^NetworkVpc/), 'CidrBlock'] } }),
    ]);
  });

  test('isolated subnets have no route out', () => {
    const t = network(name);
    const isolatedTables = Object.keys(t.findResources('AWS::EC2::RouteTable')).filter((id) => id.includes('IsolatedSubnet'));
    expect(isolatedTables).toHaveLength(azCount);
    const routes = Object.values(t.findResources('AWS::EC2::Route'));
    for (const id of isolatedTables) {
      expect(routes.filter((r) => r.Properties.RouteTableId.Ref === id)).toEqual([]);
    }
  });

  test('flow logs of all traffic (rejected only where configured) go to a KMS-encrypted group with the stage retention', () => {
    const t = network(name);
    t.hasResourceProperties('AWS::EC2::FlowLog', {
      ResourceType: 'VPC',
      TrafficType: parseStageConfig(STAGES[name]).network.flowLogs === 'rejected' ? 'REJECT' : 'ALL',
      LogDestinationType: 'cloud-watch-logs',
      LogGroupName: { Ref: Match.stringLikeRegexp('^NetworkFlowLogs') },
    });
    t.hasResource('AWS::Logs::LogGroup', {
      Properties: {
        KmsKeyId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^LogsKey'), 'Arn'] },
        RetentionInDays: config.logRetentionDays,
      },
      DeletionPolicy: config.retainOnDelete ? 'Retain' : 'Delete',
      UpdateReplacePolicy: config.retainOnDelete ? 'Retain' : 'Delete',
    });
  });

  test('the logs key rotates and admits only CloudWatch Logs of this account and region', () => {
    network(name).hasResource('AWS::KMS::Key', {
      Properties: {
        EnableKeyRotation: true,
        KeyPolicy: {
          Statement: Match.arrayWith([
            Match.objectLike({
              Principal: { Service: `logs.${config.region}.amazonaws.com` },
              Condition: {
                ArnLike: { 'kms:EncryptionContext:aws:logs:arn': `arn:aws:logs:${config.region}:${config.account}:log-group:*` },
              },
            }),
          ]),
        },
      },
      DeletionPolicy: config.retainOnDelete ? 'Retain' : 'Delete',
    });
  });

  test('the flow-log role is assumable only by flow logs of this account and writes only its group', () => {
    const t = network(name);
    t.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: {
        Statement: [
          Match.objectLike({
            Principal: { Service: 'vpc-flow-logs.amazonaws.com' },
            Condition: {
              StringEquals: { 'aws:SourceAccount': config.account },
              ArnLike: { 'aws:SourceArn': `arn:aws:ec2:${config.region}:${config.account}:vpc-flow-log/*` },
            },
          }),
        ],
      },
    });
    t.hasResourceProperties('AWS::IAM::ManagedPolicy', {
      PolicyDocument: {
        Statement: [
          {
            Effect: 'Allow',
            Action: ['logs:CreateLogStream', 'logs:DescribeLogStreams', 'logs:PutLogEvents'],
            Resource: { 'Fn::GetAtt': [Match.stringLikeRegexp('^NetworkFlowLogs'), 'Arn'] },
          },
        ],
      },
    });
    // The only grant is the managed policy above: no inline AWS::IAM::Policy in the stack.
    t.resourceCountIs('AWS::IAM::Policy', 0);
  });

  test('the default security group is stripped of its rules', () => {
    network(name).hasResourceProperties('Custom::VpcRestrictDefaultSG', {
      DefaultSecurityGroupId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^NetworkVpc'), 'DefaultSecurityGroup'] },
    });
  });

  test(STAGES[name].domain ? 'the stage has its own hosted zone, kept, with the NS records to delegate as an output' : 'no domain, no zone', () => {
    const t = network(name);
    const domain = STAGES[name].domain;
    if (!domain) {
      t.resourceCountIs('AWS::Route53::HostedZone', 0);
      return;
    }
    t.hasResource('AWS::Route53::HostedZone', { Properties: { Name: `${domain.zoneName}.` }, DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
    const outputs = Object.entries(t.findOutputs('*')).filter(([k]) => k.startsWith('ZoneNameServers'));
    expect(outputs.map(([, o]) => o)).toEqual([
      {
        Value: { 'Fn::Join': [',', { 'Fn::GetAtt': ['Zone2A4024A4', 'NameServers'] }] },
        Description: `Create an NS record ${domain.zoneName} with these values in the ${domain.parentZoneName} zone`,
      },
    ]);
  });

  test('S3 is reached through a gateway endpoint on the private and isolated route tables', () => {
    network(name).hasResourceProperties('AWS::EC2::VPCEndpoint', {
      VpcEndpointType: 'Gateway',
      ServiceName: { 'Fn::Join': ['', ['com.amazonaws.', { Ref: 'AWS::Region' }, '.s3']] },
      RouteTableIds: Match.arrayWith([{ Ref: Match.stringLikeRegexp('PrivateSubnet1RouteTable') }, { Ref: Match.stringLikeRegexp('IsolatedSubnet1RouteTable') }]),
    });
  });

  test('the S3 endpoint admits exactly the buckets something in the VPC must reach, each as narrowly as it is used', () => {
    const config = parseStageConfig(STAGES[name]);
    const [endpoint] = Object.values(network(name).findResources('AWS::EC2::VPCEndpoint'));
    expect(endpoint.Properties.PolicyDocument.Statement.map(({ Sid: _, ...rest }: Json) => rest)).toEqual(neededThroughS3(name, config));
  });
});

/**
 * What the VPC of a stage must reach in S3, read from its templates rather than from the endpoint
 * policy: its own account's buckets (the uploads bucket, the database setup's and the functions'
 * reads); ECR's layer bucket where tasks pull images from ECR; CloudFormation's response buckets
 * where a custom resource is answered by a function in the VPC; Amazon Linux's package
 * repositories where an instance boots from a pinned AL2023 image (the NAT instances' script
 * installs from them); the objects of another account's bucket a task reads (staging's refresh
 * reads prod's anonymised copies). A new need, or a statement nothing needs, fails the test above.
 */
/** An ARN written as a join with the partition (`arn:${AWS::Partition}:...`), as the string it is in the aws partition. */
function withPartition(arn: Json): Json {
  const join = arn?.['Fn::Join'];
  if (join?.[0] !== '' || !join[1].every((part: Json) => typeof part === 'string' || part?.Ref === 'AWS::Partition')) return arn;
  return join[1].map((part: Json) => (typeof part === 'string' ? part : 'aws')).join('');
}

function neededThroughS3(name: StageName, config: StageConfig): Json[] {
  const templates = [synthesized[name].network, synthesized[name].data, synthesized[name].app].map((t) => t.toJSON().Resources as Record<string, Resource>);
  const all = templates.flatMap((r) => Object.values(r));
  const anyone = { AWS: '*' };
  const needed: Json[] = [{ Effect: 'Allow', Principal: anyone, Action: 's3:*', Resource: '*', Condition: { StringEquals: { 'aws:ResourceAccount': config.account } } }];
  const pullsFromEcr = all.some((r) => r.Type === 'AWS::ECS::TaskDefinition' && JSON.stringify(r.Properties.ContainerDefinitions.map((c: Json) => c.Image)).includes('.dkr.ecr.'));
  if (pullsFromEcr) needed.push({ Effect: 'Allow', Principal: anyone, Action: 's3:GetObject', Resource: `arn:aws:s3:::prod-${config.region}-starport-layer-bucket/*` });
  const answeredInVpc = templates.some((resources) =>
    Object.values(resources).some((r) => {
      if (!r.Type.startsWith('Custom::') && r.Type !== 'AWS::CloudFormation::CustomResource') return false;
      const [provider] = referencedIds(r.Properties.ServiceToken);
      return resources[provider]?.Properties?.VpcConfig !== undefined;
    }),
  );
  if (answeredInVpc) needed.push({ Effect: 'Allow', Principal: anyone, Action: 's3:PutObject', Resource: 'arn:aws:s3:::cloudformation-custom-resource-response-*/*' });
  // Objects of another account's bucket a task role reads (a refreshFrom stage's source copies).
  const otherAccountReads = all
    .filter((r) => r.Type === 'AWS::IAM::Policy' || r.Type === 'AWS::IAM::ManagedPolicy')
    .flatMap((r) => r.Properties.PolicyDocument.Statement as Json[])
    .filter((st) => [st.Action].flat().includes('s3:GetObject'))
    .flatMap((st) => [st.Resource].flat())
    .map(withPartition)
    .filter((arn): arn is string => typeof arn === 'string' && /^arn:aws:s3:::[^/]+\/.+/.test(arn) && !arn.includes(config.account));
  const reads = [...new Set(otherAccountReads)];
  if (reads.length > 0) needed.push({ Effect: 'Allow', Principal: anyone, Action: 's3:GetObject', Resource: reads.length === 1 ? reads[0] : reads });
  const pinnedAl2023 = new Set(Object.values(NAT_IMAGES.images).map((i) => i.imageId));
  if (all.some((r) => r.Type === 'AWS::EC2::Instance' && pinnedAl2023.has(r.Properties.ImageId))) {
    needed.push({ Effect: 'Allow', Principal: anyone, Action: 's3:GetObject', Resource: `arn:aws:s3:::al2023-repos-${config.region}-de612dc2/*` });
  }
  return needed;
}

describe('the NAT instance boot script', () => {
  test('passes shellcheck as the instance runs it (bash)', () => {
    const script = `#!/bin/bash\n${NAT_USER_DATA.join('\n')}\n`;
    const result = spawnSync('shellcheck', ['--severity=style', '-'], { input: script, encoding: 'utf8' });
    if (result.error) throw new Error('shellcheck is not installed or not on PATH. Install it with: sudo apt-get install -y shellcheck (Debian/Ubuntu) or brew install shellcheck');
    expect(result.stdout).toBe('');
    expect(result.status).toBe(0);
  });

  test('retries the install that races the boot-time update, stops when it never succeeds, and persists forwarding and rules', () => {
    const script = NAT_USER_DATA.join('\n');
    expect(script).toMatch(/^set -euo pipefail/);
    expect(script).toMatch(/for attempt in \$\(seq 1 30\); do\n {2}if dnf install -y --disablerepo='\*' --enablerepo=amazonlinux iptables-services; then break; fi/);
    // Without the package no rule would survive a reboot: the script stops there.
    expect(script).toContain('\nrpm -q iptables-services\n');
    expect(script).toContain('> /etc/sysctl.d/90-nat-instance.conf');
    expect(script).toContain('systemctl enable --now iptables');
    expect(script.trimEnd().endsWith('service iptables save')).toBe(true);
  });

  test('a changed script or image replaces the instance (a new logical id), which waits for the S3 endpoint it installs through', () => {
    const natIds = (script: string[], image: string) => {
      const stack = new Stack(testApp({ context: TEST_CONTEXT }), 'Nat', { env: { account: '111111111111', region: 'eu-west-1' } });
      const userData = ec2.UserData.forLinux();
      userData.addCommands(...script);
      const provider = ec2.NatProvider.instanceV2({
        instanceType: new ec2.InstanceType('t4g.nano'),
        machineImage: ec2.MachineImage.genericLinux({ 'eu-west-1': image }),
        userData,
      });
      const vpc = new ec2.Vpc(stack, 'Vpc', {
        natGatewayProvider: provider,
        natGateways: 1,
        availabilityZones: ['eu-west-1a'],
        gatewayEndpoints: { S3: { service: ec2.GatewayVpcEndpointAwsService.S3 } },
      });
      replaceOnBootChange(provider, vpc.node.findChild('S3') as ec2.GatewayVpcEndpoint);
      const instances = Template.fromStack(stack).findResources('AWS::EC2::Instance');
      for (const instance of Object.values(instances)) expect(instance.DependsOn).toEqual(expect.arrayContaining([expect.stringMatching(/^VpcS3/)]));
      return Object.keys(instances);
    };
    const first = natIds([...NAT_USER_DATA], 'ami-00000000000000001');
    expect(first).toEqual([expect.stringMatching(/^VpcPublicSubnet1NatInstance[0-9A-F]{8}[0-9a-f]{16}$/)]);
    expect(natIds([...NAT_USER_DATA], 'ami-00000000000000001')).toEqual(first);
    expect(natIds([...NAT_USER_DATA, 'echo changed'], 'ami-00000000000000001')).not.toEqual(first);
    expect(natIds([...NAT_USER_DATA], 'ami-00000000000000002')).not.toEqual(first);
  });

  test('a region without a pinned image is refused with the command that pins one', () => {
    expect(natImage('eu-west-1')).toEqual({ imageId: NAT_IMAGES.images['eu-west-1'].imageId });
    expect(natImage('xx-nowhere-1')).toEqual({ problem: expect.stringContaining('Fix: run npm run nat-image -- --region xx-nowhere-1 --write') });
  });
});

describe('logical ids of stateful network resources are frozen', () => {
  // Renaming these construct ids would replace the VPC (and everything in it), a key, the log group
  // or the ticket topic (whose email subscriptions would have to be confirmed again), and the
  // paging topic (the ARN its pagers and channel were given).
  test.each(STAGE_NAMES)('%s', (name) => {
    const t = network(name);
    expect(Object.keys(t.findResources('AWS::EC2::VPC'))).toEqual(['NetworkVpc7FB7348F']);
    expect(Object.keys(t.findResources('AWS::KMS::Key'))).toEqual(['LogsKeyFE4C4A83', 'AlarmsKey7F5A268D']);
    expect(Object.keys(t.findResources('AWS::SNS::Topic'))).toEqual(['AlarmsTopic3A2DFEBA', 'PageAlarmsTopic6720B199']);
    expect(Object.keys(t.findResources('AWS::Logs::LogGroup'))).toEqual(['NetworkFlowLogs2BEC3212']);
    expect(Object.keys(t.findResources('AWS::Route53::HostedZone'))).toEqual(STAGES[name].domain ? ['Zone2A4024A4'] : []);
  });
});

describe('overrides reach the template', () => {
  test('a custom CIDR and explicit AZ names', () => {
    const { network: t } = synthStage('dev', {
      'dev.network.cidr': '172.20.0.0/24',
      'dev.network.availabilityZones': '["eu-west-1b","eu-west-1c"]',
    });
    t.hasResourceProperties('AWS::EC2::VPC', { CidrBlock: '172.20.0.0/24' });
    // A /24 block gives /28 subnets, the smallest AWS allows.
    t.hasResourceProperties('AWS::EC2::Subnet', { CidrBlock: '172.20.0.0/28', AvailabilityZone: 'eu-west-1b' });
    t.hasResourceProperties('AWS::EC2::Subnet', { CidrBlock: '172.20.0.80/28', AvailabilityZone: 'eu-west-1c' });
  });
});
