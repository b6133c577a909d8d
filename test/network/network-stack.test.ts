import { Match, type Template } from 'aws-cdk-lib/assertions';
import { describe, expect, test } from 'vitest';
import { parseStageConfig, STAGE_NAMES, STAGES, type StageName } from '../../lib/config';
import { synthStage } from '../support/synth';
import { stageTemplates } from '../support/template';

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
      // The AMI: AWS's public SSM parameter of the latest Amazon Linux 2023 for ARM, read at deploy time (no lookup at synth).
      const parameter = t.toJSON().Parameters[p.ImageId.Ref];
      expect(parameter).toEqual({ Type: 'AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>', Default: '/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-6.1-arm64' });
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

  test("the S3 endpoint admits only the stage account's buckets, ECR's layer bucket and CloudFormation's response buckets", () => {
    const config = parseStageConfig(STAGES[name]);
    const [endpoint] = Object.values(network(name).findResources('AWS::EC2::VPCEndpoint'));
    expect(endpoint.Properties.PolicyDocument.Statement).toEqual([
      {
        Sid: 'StageAccountBuckets',
        Effect: 'Allow',
        Principal: { AWS: '*' },
        Action: 's3:*',
        Resource: '*',
        Condition: { StringEquals: { 'aws:ResourceAccount': config.account } },
      },
      { Sid: 'EcrImageLayers', Effect: 'Allow', Principal: { AWS: '*' }, Action: 's3:GetObject', Resource: `arn:aws:s3:::prod-${config.region}-starport-layer-bucket/*` },
      { Sid: 'CustomResourceResponses', Effect: 'Allow', Principal: { AWS: '*' }, Action: 's3:PutObject', Resource: 'arn:aws:s3:::cloudformation-custom-resource-response-*/*' },
    ]);
  });
});

describe('logical ids of stateful network resources are frozen', () => {
  // Renaming these construct ids would replace the VPC (and everything in it), a key, the log group
  // or the alarm topic (whose email subscriptions would have to be confirmed again).
  test.each(STAGE_NAMES)('%s', (name) => {
    const t = network(name);
    expect(Object.keys(t.findResources('AWS::EC2::VPC'))).toEqual(['NetworkVpc7FB7348F']);
    expect(Object.keys(t.findResources('AWS::KMS::Key'))).toEqual(['LogsKeyFE4C4A83', 'AlarmsKey7F5A268D']);
    expect(Object.keys(t.findResources('AWS::SNS::Topic'))).toEqual(['AlarmsTopic3A2DFEBA']);
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
