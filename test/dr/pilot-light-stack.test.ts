import type { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, test } from 'vitest';
import { originFacingPrefixList } from '../../lib/app/origin-facing';
import { deployRegions, EDGE_REGION, parseStageConfig, STAGE_NAMES, STAGES, type StageName, stageRegions, stageStacks } from '../../lib/config';
import { DR_MAIL_FROM_SUBDOMAIN } from '../../lib/dr/dr-email';
import { pilotLightNames } from '../../lib/dr/pilot-light-names';
import { crossStackReads, readKey } from '../../lib/shared/cross-stack-reads';
import { PRIMARY_READ_PREFIX } from '../../lib/shared/stage-stack';
import { ownStacks, stackOutput, synthStage } from '../support/synth';
import { type Json, only, resources, stageTemplates } from '../support/template';

const withPilotLight = STAGE_NAMES.filter((n) => parseStageConfig(STAGES[n]).dr.pilotLight);
const withoutPilotLight = STAGE_NAMES.filter((n) => !withPilotLight.includes(n));

const synthesized = stageTemplates();
const pilotLight = (name: StageName): Template => synthesized[name].pilotLight!;

/** Logical ids of a type's resources, sorted. */
const ids = (t: Template, type: string) => Object.keys(t.findResources(type)).sort();
/** The logical id of the one resource of a type whose id starts with `prefix`. */
const idOf = (t: Template, type: string, prefix: string) => {
  const found = ids(t, type).filter((id) => id.startsWith(prefix));
  expect(found, `${type} ${prefix}`).toHaveLength(1);
  return found[0];
};
/** The logical ids of the VPC's subnets of one tier (CDK tags each with its tier's name). */
const subnetsOf = (t: Template, tier: string) =>
  Object.entries(t.findResources('AWS::EC2::Subnet'))
    .filter(([, s]) => s.Properties.Tags.some((tag: { Key: string; Value: string }) => tag.Key === 'aws-cdk:subnet-name' && tag.Value === tier))
    .map(([id]) => id)
    .sort();
/** The route tables of a tier's subnets, in their subnets' order (each subnet has its own). */
const routeTablesOf = (t: Template, tier: string) =>
  subnetsOf(t, tier).map((subnet) => {
    const [id] = Object.entries(t.findResources('AWS::EC2::SubnetRouteTableAssociation')).find(([, a]) => a.Properties.SubnetId.Ref === subnet)!;
    return t.toJSON().Resources[id].Properties.RouteTableId.Ref as string;
  });
/** CloudFront's origin-facing prefix list pinned for a region. */
const prefixList = (region: string) => (originFacingPrefixList(region) as { prefixListId: string }).prefixListId;
/** The stage zone's id, as the pilot light reads it from the network stack in the primary region. */
const stageZone = (name: StageName) => stackOutput({ StackName: `${name}-Network`, Region: STAGES[name].region, OutputName: expect.stringMatching(/^PublishOutputRefZone/) });

test('the shipped config keeps a pilot light in staging and prod only', () => {
  expect(withPilotLight).toEqual(['staging', 'prod']);
});

test.each(withoutPilotLight)('%s has no pilot-light stack', (name) => {
  expect(synthesized[name].stage.pilotLight).toBeUndefined();
  expect(synthesized[name].pilotLight).toBeUndefined();
});

test.each(STAGE_NAMES)("%s: the stacks the scripts deploy (--only, preflight's bootstraps, the CI roles' regions) are the stacks the app synthesizes", (name) => {
  const config = parseStageConfig(STAGES[name]);
  const synthesizedStacks = ownStacks(synthesized[name]).map((s) => [s.stackName, s.region]);
  expect(stageStacks(config).map(({ stack, region }) => [`${name}-${stack}`, region])).toEqual(synthesizedStacks);
  const regions = new Set(synthesizedStacks.map(([, region]) => region));
  expect(new Set(deployRegions(config))).toEqual(regions);
  expect(new Set(stageRegions(config))).toEqual(new Set([...regions].filter((r) => r !== EDGE_REGION)));
});

describe.each(withPilotLight)('%s pilot light', (name) => {
  const config = parseStageConfig(STAGES[name]);
  const { domain, drRegion } = config;

  test('is <stage>-PilotLight in the DR region of the stage account, protected as the DR stack, after the network stack only', () => {
    const stack = synthesized[name].stage.pilotLight!;
    expect(stack.stackName).toBe(pilotLightNames(name).stackName);
    expect(stack.stackName).toBe(`${name}-PilotLight`);
    expect(stack.region).toBe(drRegion);
    expect(stack.account).toBe(config.account);
    expect(stack.terminationProtection).toBe(config.retainOnDelete);
    expect(stack.terminationProtection).toBe(synthesized[name].stage.dr!.terminationProtection);
    expect(stack.dependencies).toEqual([{ stackName: `${name}-Network` }]);
  });

  test("a VPC on dr.cidr in the DR region's zones, the primary's AZ count and tiers, and no NAT of any kind", () => {
    const t = pilotLight(name);
    expect(only(t, 'AWS::EC2::VPC').resource.Properties.CidrBlock).toBe(config.dr.cidr);
    for (const tier of ['Public', 'Private', 'Isolated']) {
      const zones = subnetsOf(t, tier).map((id) => t.toJSON().Resources[id].Properties.AvailabilityZone);
      expect(zones, tier).toEqual(['a', 'b', 'c'].slice(0, config.network.azCount).map((l) => `${drRegion}${l}`));
    }
    t.resourceCountIs('AWS::EC2::NatGateway', 0);
    t.resourceCountIs('AWS::EC2::Instance', 0);
    t.resourceCountIs('AWS::EC2::EIP', 0);
    // The only default routes are the public subnets' to the internet gateway: the private ones have none yet.
    const routes = resources(t, 'AWS::EC2::Route');
    expect(routes).toHaveLength(config.network.azCount);
    for (const route of routes)
      expect(route.Properties).toEqual({
        RouteTableId: { Ref: expect.stringMatching(/PublicSubnet/) },
        DestinationCidrBlock: '0.0.0.0/0',
        GatewayId: { Ref: expect.stringMatching(/IGW/) },
      });
  });

  test("flow logs as the stage's, into a log group encrypted with the stack's own logs key", () => {
    const t = pilotLight(name);
    const key = idOf(t, 'AWS::KMS::Key', 'LogsKey');
    expect(t.toJSON().Resources[key].Properties.EnableKeyRotation).toBe(true);
    // The flow log's group, and the restore task's where the dumps are replicated here: both with this region's logs key.
    expect(ids(t, 'AWS::Logs::LogGroup')).toHaveLength(config.dumps.replicateToDr ? 2 : 1);
    for (const group of resources(t, 'AWS::Logs::LogGroup')) expect(group.Properties.KmsKeyId).toEqual({ 'Fn::GetAtt': [key, 'Arn'] });
    // Its only other key encrypts the DR app tier's uploads, where the stage has no replica.
    expect(ids(t, 'AWS::KMS::Key')).toHaveLength(config.uploads.replicateToDr ? 1 : 2);
    expect(only(t, 'AWS::EC2::FlowLog').resource.Properties.TrafficType).toBe(config.network.flowLogs === 'rejected' ? 'REJECT' : 'ALL');
  });

  test('the database and cache subnet groups have the fixed names, over the isolated subnets', () => {
    const t = pilotLight(name);
    const isolated = subnetsOf(t, 'Isolated').map((id) => ({ Ref: id }));
    expect(isolated).toHaveLength(config.network.azCount);
    const database = only(t, 'AWS::RDS::DBSubnetGroup').resource.Properties;
    expect(database.DBSubnetGroupName).toBe(pilotLightNames(name).databaseSubnetGroup);
    expect(database.SubnetIds).toEqual(isolated);
    const cache = only(t, 'AWS::ElastiCache::SubnetGroup').resource.Properties;
    expect(cache.CacheSubnetGroupName).toBe(pilotLightNames(name).cacheSubnetGroup);
    expect(cache.SubnetIds).toEqual(isolated);
  });

  test('security groups: the database and the cache admit only the app, the app lets out only HTTPS and those, the load balancer admits only CloudFront', () => {
    const t = pilotLight(name);
    const group = (prefix: string) => idOf(t, 'AWS::EC2::SecurityGroup', prefix);
    const [database, cache, app, alb] = [group('DataDatabaseSecurityGroup'), group('DataCacheSecurityGroup'), group('DataAppSecurityGroup'), group('LoadBalancerSecurityGroup')];
    // The restore task of the dump replica (dumps.replicateToDr): HTTPS out, and PostgreSQL to the database only.
    const dumps = config.dumps.replicateToDr ? group('DumpTasksSecurityGroup') : undefined;
    expect(ids(t, 'AWS::EC2::SecurityGroup')).toEqual([app, cache, database, ...(dumps ? [dumps] : []), alb].sort());
    const gid = (id: string) => ({ 'Fn::GetAtt': [id, 'GroupId'] });
    const rule = (r: Json) => ({ ...r.Properties, Description: undefined });
    const ingress = resources(t, 'AWS::EC2::SecurityGroupIngress').map(rule);
    expect(ingress).toEqual(
      expect.arrayContaining([
        { IpProtocol: 'tcp', FromPort: 5432, ToPort: 5432, GroupId: gid(database), SourceSecurityGroupId: gid(app), Description: undefined },
        { IpProtocol: 'tcp', FromPort: 6379, ToPort: 6379, GroupId: gid(cache), SourceSecurityGroupId: gid(app), Description: undefined },
        // CloudFront's origin-facing list of the DR region, not the primary's, on HTTPS only.
        { IpProtocol: 'tcp', FromPort: 443, ToPort: 443, GroupId: gid(alb), SourcePrefixListId: prefixList(drRegion), Description: undefined },
      ]),
    );
    const fromDumps = dumps ? [{ IpProtocol: 'tcp', FromPort: 5432, ToPort: 5432, GroupId: gid(database), SourceSecurityGroupId: gid(dumps), Description: undefined }] : [];
    expect(ingress).toEqual(expect.arrayContaining(fromDumps));
    expect(ingress).toHaveLength(3 + fromDumps.length);
    expect(prefixList(drRegion)).not.toBe(prefixList(config.region));
    const egress = resources(t, 'AWS::EC2::SecurityGroupEgress').map(rule);
    expect(egress).toEqual(
      expect.arrayContaining([
        { IpProtocol: 'tcp', FromPort: 5432, ToPort: 5432, GroupId: gid(app), DestinationSecurityGroupId: gid(database), Description: undefined },
        { IpProtocol: 'tcp', FromPort: 6379, ToPort: 6379, GroupId: gid(app), DestinationSecurityGroupId: gid(cache), Description: undefined },
      ]),
    );
    const toDatabase = dumps ? [{ IpProtocol: 'tcp', FromPort: 5432, ToPort: 5432, GroupId: gid(dumps), DestinationSecurityGroupId: gid(database), Description: undefined }] : [];
    expect(egress).toEqual(expect.arrayContaining(toDatabase));
    expect(egress).toHaveLength(2 + toDatabase.length);
    if (dumps) {
      expect(t.toJSON().Resources[dumps].Properties.SecurityGroupEgress).toEqual([
        { CidrIp: '0.0.0.0/0', Description: 'HTTPS to the AWS APIs and the image registry', FromPort: 443, IpProtocol: 'tcp', ToPort: 443 },
      ]);
    }
    const inline = (id: string) => t.toJSON().Resources[id].Properties;
    const nothing = [{ CidrIp: '255.255.255.255/32', Description: 'Disallow all traffic', FromPort: 252, IpProtocol: 'icmp', ToPort: 86 }];
    expect(inline(app).SecurityGroupEgress).toEqual([
      { CidrIp: '0.0.0.0/0', Description: 'HTTPS to AWS APIs and the image registry', FromPort: 443, IpProtocol: 'tcp', ToPort: 443 },
    ]);
    for (const id of [database, cache, alb]) expect(inline(id).SecurityGroupEgress, id).toEqual(nothing);
    for (const id of [database, cache, app, alb]) expect(inline(id).SecurityGroupIngress, id).toBeUndefined();
  });

  test('an internal load balancer in the private subnets, deletion protection as the primary, access logs in its own region', () => {
    const t = pilotLight(name);
    const { resource: alb } = only(t, 'AWS::ElasticLoadBalancingV2::LoadBalancer');
    expect(alb.Properties.Scheme).toBe('internal');
    expect(alb.Properties.Subnets).toEqual(subnetsOf(t, 'Private').map((id) => ({ Ref: id })));
    const attributes = Object.fromEntries(alb.Properties.LoadBalancerAttributes.map((a: { Key: string; Value: unknown }) => [a.Key, a.Value]));
    expect(attributes['deletion_protection.enabled']).toBe(String(config.app.loadBalancerDeletionProtection));
    const bucket = { id: idOf(t, 'AWS::S3::Bucket', 'AccessLogs'), resource: t.toJSON().Resources[idOf(t, 'AWS::S3::Bucket', 'AccessLogs')] };
    expect(attributes['access_logs.s3.bucket']).toEqual({ Ref: bucket.id });
    expect(bucket.resource.Properties.BucketEncryption.ServerSideEncryptionConfiguration[0].ServerSideEncryptionByDefault).toEqual({ SSEAlgorithm: 'AES256' });
    expect(bucket.resource.DeletionPolicy).toBe(config.retainOnDelete ? 'Retain' : 'Delete');
    // ELB checks its write access when logging is turned on: the bucket's policy comes first.
    expect(alb.DependsOn).toEqual(expect.arrayContaining([idOf(t, 'AWS::S3::BucketPolicy', 'AccessLogsPolicy')]));
  });

  test('its only listener serves HTTPS with the DR certificate and answers every request with a fixed 503', () => {
    const t = pilotLight(name);
    const listener = only(t, 'AWS::ElasticLoadBalancingV2::Listener').resource.Properties;
    expect(listener.Port).toBe(443);
    expect(listener.Protocol).toBe('HTTPS');
    expect(listener.Certificates).toEqual([{ CertificateArn: { Ref: only(t, 'AWS::CertificateManager::Certificate').id } }]);
    expect(listener.DefaultActions).toEqual([{ Type: 'fixed-response', FixedResponseConfig: { StatusCode: '503', ContentType: 'text/plain', MessageBody: expect.any(String) } }]);
    t.resourceCountIs('AWS::ElasticLoadBalancingV2::ListenerRule', 0);
    t.resourceCountIs('AWS::ElasticLoadBalancingV2::TargetGroup', 0);
  });

  test("the certificate is the site's, validated by DNS in the stage zone", () => {
    const cert = only(pilotLight(name), 'AWS::CertificateManager::Certificate').resource.Properties;
    expect(cert.DomainName).toBe(domain!.recordName);
    expect(cert.ValidationMethod).toBe('DNS');
    expect(cert.DomainValidationOptions).toEqual([{ DomainName: domain!.recordName, HostedZoneId: stageZone(name) }]);
  });

  test("SES: the zone's identity in the DR region, its DKIM and own MAIL FROM records in the stage zone, no DMARC and no configuration set", () => {
    const t = pilotLight(name);
    const identity = only(t, 'AWS::SES::EmailIdentity');
    const mailFrom = `${DR_MAIL_FROM_SUBDOMAIN}.${domain!.zoneName}`;
    expect(mailFrom).toBe(`mail-dr.${domain!.zoneName}`);
    // Not the primary region's: its MX names that region's feedback endpoint.
    expect(mailFrom).not.toBe(only(synthesized[name].app, 'AWS::SES::EmailIdentity').resource.Properties.MailFromAttributes.MailFromDomain);
    expect(identity.resource.Properties).toEqual({ EmailIdentity: domain!.zoneName, MailFromAttributes: { MailFromDomain: mailFrom }, Tags: expect.any(Array) });
    const records = resources(t, 'AWS::Route53::RecordSet').map((r) => r.Properties);
    const dkim = [1, 2, 3].map((n) => ({
      HostedZoneId: stageZone(name),
      Name: { 'Fn::GetAtt': [identity.id, `DkimDNSTokenName${n}`] },
      ResourceRecords: [{ 'Fn::GetAtt': [identity.id, `DkimDNSTokenValue${n}`] }],
      TTL: '1800',
      Type: 'CNAME',
    }));
    expect(records).toEqual([
      ...dkim,
      { HostedZoneId: stageZone(name), Name: `${mailFrom}.`, ResourceRecords: [`10 feedback-smtp.${drRegion}.amazonses.com`], TTL: '1800', Type: 'MX' },
      { HostedZoneId: stageZone(name), Name: `${mailFrom}.`, ResourceRecords: ['"v=spf1 include:amazonses.com ~all"'], TTL: '1800', Type: 'TXT' },
    ]);
    t.resourceCountIs('AWS::SES::ConfigurationSet', 0);
  });

  test('outputs what the failover and the edge read', () => {
    const t = pilotLight(name);
    const outputs = t.toJSON().Outputs as Record<string, { Value: unknown }>;
    const ref = (type: string, prefix = '') => ({ Ref: idOf(t, type, prefix) });
    const groupId = (prefix: string) => ({ 'Fn::GetAtt': [idOf(t, 'AWS::EC2::SecurityGroup', prefix), 'GroupId'] });
    const alb = only(t, 'AWS::ElasticLoadBalancingV2::LoadBalancer').id;
    // The edge's DR origin reads the load balancer through CDK's weak-reference outputs.
    const published = Object.entries(outputs).filter(([key]) => key.startsWith('PublishOutput'));
    expect(published.map(([, output]) => output.Value)).toEqual([{ 'Fn::GetAtt': [alb, 'DNSName'] }, { Ref: alb }]);
    const own = Object.entries(outputs).filter(([key]) => !key.startsWith('PrimaryRead') && !key.startsWith('PublishOutput'));
    expect(Object.fromEntries(own.map(([key, output]) => [key, output.Value]))).toEqual({
      VpcId: ref('AWS::EC2::VPC'),
      DatabaseSubnetGroupName: ref('AWS::RDS::DBSubnetGroup'),
      DatabaseParameterGroupName: ref('AWS::RDS::DBParameterGroup'),
      DatabaseSecurityGroupId: groupId('DataDatabaseSecurityGroup'),
      CacheSubnetGroupName: ref('AWS::ElastiCache::SubnetGroup'),
      CacheSecurityGroupId: groupId('DataCacheSecurityGroup'),
      AppSecurityGroupId: groupId('DataAppSecurityGroup'),
      LoadBalancerArn: { Ref: alb },
      LoadBalancerDnsName: { 'Fn::GetAtt': [alb, 'DNSName'] },
      LoadBalancerSecurityGroupId: groupId('LoadBalancerSecurityGroup'),
      HttpsListenerArn: ref('AWS::ElasticLoadBalancingV2::Listener'),
      // What the DR app tier reads besides (it reads outputs, so its deploys add none here).
      PrivateSubnetIds: { 'Fn::Join': [',', subnetsOf(t, 'Private').map((id) => ({ Ref: id }))] },
      PublicSubnetIds: { 'Fn::Join': [',', subnetsOf(t, 'Public').map((id) => ({ Ref: id }))] },
      PrivateRouteTableIds: { 'Fn::Join': [',', routeTablesOf(t, 'Private').map((id) => ({ Ref: id }))] },
      ...(config.uploads.replicateToDr
        ? {}
        : { UploadsBucketName: { Ref: idOf(t, 'AWS::S3::Bucket', 'UploadsBucket') }, UploadsKeyArn: { 'Fn::GetAtt': [idOf(t, 'AWS::KMS::Key', 'UploadsKey'), 'Arn'] } }),
      LogsKeyArn: { 'Fn::GetAtt': [idOf(t, 'AWS::KMS::Key', 'LogsKey'), 'Arn'] },
      LoadBalancerFullName: { 'Fn::GetAtt': [alb, 'LoadBalancerFullName'] },
      // The restore of a dump from the replica here (npm run restore -- --from-dump ... --region <drRegion>).
      ...(config.dumps.replicateToDr
        ? {
            DumpBucketName: `webapp-${name}-dumps-${config.account}-${drRegion}`,
            DumpClusterName: ref('AWS::ECS::Cluster'),
            DumpRestoreTaskDefinitionArn: ref('AWS::ECS::TaskDefinition'),
            DumpSubnetIds: { 'Fn::Join': [',', subnetsOf(t, 'Public').map((id) => ({ Ref: id }))] },
            DumpSecurityGroupId: groupId('DumpTasksSecurityGroup'),
            DumpAssignPublicIp: 'ENABLED',
          }
        : {}),
    });
  });

  test("the database restored there gets the primary's settings: the same parameter group family and parameters", () => {
    const dr = only(pilotLight(name), 'AWS::RDS::DBParameterGroup').resource.Properties;
    const primary = only(synthesized[name].data, 'AWS::RDS::DBParameterGroup').resource.Properties;
    expect(dr.Family).toBe(primary.Family);
    expect(dr.Parameters).toEqual(primary.Parameters);
    expect(dr.Parameters['rds.force_ssl']).toBe('1');
  });

  test('logical ids of its stateful resources are frozen', () => {
    // Renaming these would replace the key or the logs it encrypts, the access logs, the VPC, or a
    // subnet or security group that a database restored in the DR region holds on to.
    const t = pilotLight(name);
    // And the uploads stored there while failed over, where the stage has no replica.
    const uploads = !config.uploads.replicateToDr;
    expect(ids(t, 'AWS::KMS::Key')).toEqual(['LogsKeyFE4C4A83', ...(uploads ? ['UploadsKeyE2534F44'] : [])]);
    expect(ids(t, 'AWS::S3::Bucket')).toEqual(['AccessLogs8B620ECA', ...(uploads ? ['UploadsAccessLogsB2D59324', 'UploadsBucketC4B27CC7'] : [])]);
    expect(ids(t, 'AWS::Logs::LogGroup')).toEqual([...(config.dumps.replicateToDr ? ['DumpTasksLogsCAA1FBF2'] : []), 'NetworkFlowLogs2BEC3212']);
    expect(ids(t, 'AWS::EC2::VPC')).toEqual(['NetworkVpc7FB7348F']);
    expect(ids(t, 'AWS::RDS::DBSubnetGroup')).toEqual(['DataDatabaseSubnets85D08B2C']);
    expect(ids(t, 'AWS::ElastiCache::SubnetGroup')).toEqual(['DataCacheSubnetsC91E7773']);
    expect(ids(t, 'AWS::EC2::SecurityGroup')).toEqual([
      'DataAppSecurityGroupD827C121',
      'DataCacheSecurityGroup3936E122',
      'DataDatabaseSecurityGroup9442FA77',
      ...(config.dumps.replicateToDr ? ['DumpTasksSecurityGroupDFC98D41'] : []),
      'LoadBalancerSecurityGroupA28D6DD7',
    ]);
  });
});

describe.each(withPilotLight)('%s deploys outside its primary region while that region is lost', (name) => {
  const primary = STAGES[name].region;
  /** The primary-region reads of a template, as `<stack>/<output>`. */
  const primaryReads = (t: Template) =>
    crossStackReads(t.toJSON().Resources)
      .filter((r) => (r.Region ?? primary) === primary)
      .map(readKey)
      .sort();
  /** What the template keeps of those reads: its outputs described with PRIMARY_READ_PREFIX, and the read each holds. */
  const kept = (t: Template) =>
    Object.values((t.toJSON().Outputs ?? {}) as Record<string, { Description?: string; Value: Json }>)
      .filter((o) => o.Description?.startsWith(PRIMARY_READ_PREFIX))
      .map((o) => [o.Description!.slice(PRIMARY_READ_PREFIX.length), readKey(crossStackReads(o.Value)[0])])
      .sort();

  test('the edge and the pilot light keep every value they read from the primary region as an output (the failover pins them)', () => {
    for (const t of [pilotLight(name), synthesized[name].edge!]) {
      const reads = primaryReads(t);
      expect(reads.length).toBeGreaterThan(0);
      expect(kept(t)).toEqual(reads.map((key) => [key, key]));
    }
    // The stacks in the primary region deploy only while it answers: they keep nothing.
    for (const t of [synthesized[name].app, synthesized[name].data, synthesized[name].ops]) expect(kept(t)).toEqual([]);
  });

  test('pinned with what they kept, neither reads the primary region any more, and nothing else changes', () => {
    const pins = Object.fromEntries([pilotLight(name), synthesized[name].edge!].flatMap((t) => kept(t).map(([key]) => [key, `pinned:${key}`])));
    const pinned = synthStage(name, { pinnedReads: JSON.stringify(pins) });
    for (const [before, after] of [
      [pilotLight(name), pinned.pilotLight!],
      [synthesized[name].edge!, pinned.edge!],
    ]) {
      expect(primaryReads(after)).toEqual([]);
      // Each read became its pinned value, in place: the template is the same with the values written in.
      const written = JSON.stringify(after.toJSON().Resources);
      for (const key of primaryReads(before)) expect(written).toContain(`"pinned:${key}"`);
      expect(Object.keys(after.toJSON().Resources)).toEqual(Object.keys(before.toJSON().Resources));
    }
    // The stacks in the primary region are not touched: they deploy only while it answers.
    expect(pinned.app.toJSON()).toEqual(synthesized[name].app.toJSON());
  });
});

test("a source registry's deploy waits for the registries of its own account it replicates to", () => {
  const shared = synthesized.staging.stage.shared;
  const source = shared.find((s) => s.stackName === 'Registry-222222222222-eu-west-1-webapp')!;
  expect(shared.some((s) => s.stackName === 'Registry-222222222222-eu-central-1-webapp')).toBe(true);
  expect(source.dependencies.map((d) => d.stackName)).toContain('Registry-222222222222-eu-central-1-webapp');
});
