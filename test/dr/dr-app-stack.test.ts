import type { Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, test } from 'vitest';
import { DATABASE_ROLES } from '../../lambda/database-setup/roles';
import { parseStageConfig, STAGE_NAMES, STAGES, type StageName, stageStacks } from '../../lib/config';
import { DR_WEB_RULE_PRIORITY } from '../../lib/dr/dr-app-stack';
import { DR_APP_READS, pilotLightNames } from '../../lib/dr/pilot-light-names';
import { crossStackReads } from '../../lib/shared/cross-stack-reads';
import { PRIMARY_READ_PREFIX } from '../../lib/shared/stage-stack';
import type { AssemblyStack } from '../../scripts/lib/assembly';
import { guard } from '../../scripts/lib/guard';
import { drAppTier, ownStacks, type StageTemplates, stackOutput, synthStage } from '../support/synth';
import { type Json, only, resources, stageTemplates } from '../support/template';

const withPilotLight = STAGE_NAMES.filter((n) => parseStageConfig(STAGES[n]).dr.pilotLight);

/** The stages as shipped (no DR app tier), and as the failover and its drill deploy them (dr.appTier). */
const shipped = stageTemplates();
const failedOver = {} as Record<StageName, StageTemplates>;
beforeAll(() => {
  for (const name of withPilotLight) failedOver[name] = synthStage(name, drAppTier(name));
});
const drApp = (name: StageName): Template => failedOver[name].drApp!;

/** The logical id of the one resource of a type whose id starts with `prefix`. */
const idOf = (t: Template, type: string, prefix: string) => {
  const found = Object.keys(t.findResources(type)).filter((id) => id.startsWith(prefix));
  expect(found, `${type} ${prefix}`).toHaveLength(1);
  return found[0];
};
const container = (t: Template, task: 'Web' | 'Worker') => t.toJSON().Resources[idOf(t, 'AWS::ECS::TaskDefinition', `${task}Task`)].Properties.ContainerDefinitions[0];
const environment = (t: Template, task: 'Web' | 'Worker') => Object.fromEntries((container(t, task).Environment as { Name: string; Value: Json }[]).map((e) => [e.Name, e.Value]));

test('the shipped config runs no DR app tier: the failover and its drill turn it on', () => {
  for (const name of STAGE_NAMES) {
    expect(parseStageConfig(STAGES[name]).dr.appTier).toBe(false);
    expect(shipped[name].stage.drApp).toBeUndefined();
    expect(shipped[name].drApp).toBeUndefined();
  }
  expect(withPilotLight).toEqual(['staging', 'prod']);
});

describe.each(withPilotLight)('%s with dr.appTier', (name) => {
  const config = parseStageConfig({ ...STAGES[name], dr: { ...STAGES[name].dr, appTier: true } });
  const names = pilotLightNames(name);
  const { drRegion } = config;
  /** A read of one of the pilot light's outputs, as the tier's template carries it. */
  const pilotLight = (output: string) => stackOutput({ StackName: `${name}-PilotLight`, Region: drRegion, OutputName: output });

  test('is <stage>-DrApp in the DR region, after the pilot light and the DR stack only, unprotected (the drill deletes it)', () => {
    const stack = failedOver[name].stage.drApp!;
    expect(stack.stackName).toBe(names.drAppStackName);
    expect(stack.region).toBe(drRegion);
    expect(stack.account).toBe(config.account);
    expect(stack.terminationProtection).toBe(false);
    expect(stack.dependencies.map((d) => d.stackName).sort()).toEqual([`${name}-Dr`, `${name}-PilotLight`]);
    // The stacks the scripts deploy, in their order, are the stacks the app synthesizes.
    expect(stageStacks(config).map(({ stack, region }) => [`${name}-${stack}`, region])).toEqual(ownStacks(failedOver[name]).map((s) => [s.stackName, s.region]));
  });

  test('deploying or deleting it changes no other stack: every template but its own is the same with and without it', () => {
    for (const role of ['network', 'dr', 'pilotLight', 'data', 'app', 'edge', 'ops'] as const) {
      expect(failedOver[name][role]!.toJSON(), role).toEqual(shipped[name][role]!.toJSON());
    }
  });

  test("brings the private subnets' way out: the primary's count of NAT gateways in the pilot light's public subnets, a default route in each private route table, which the services and the setup wait for", () => {
    const t = drApp(name);
    const gateways = t.findResources('AWS::EC2::NatGateway');
    expect(Object.keys(gateways)).toHaveLength(Math.min(config.network.natGateways, config.network.azCount));
    for (const [i, gateway] of Object.values(gateways).entries()) {
      expect(gateway.Properties.SubnetId).toEqual({ 'Fn::Select': [i, { 'Fn::Split': [',', pilotLight('PublicSubnetIds')] }] });
    }
    const routes = t.findResources('AWS::EC2::Route');
    expect(Object.keys(routes)).toHaveLength(config.network.azCount);
    for (const [i, route] of Object.values(routes).entries()) {
      expect(route.Properties).toMatchObject({
        DestinationCidrBlock: '0.0.0.0/0',
        RouteTableId: { 'Fn::Select': [i, { 'Fn::Split': [',', pilotLight('PrivateRouteTableIds')] }] },
      });
    }
    const routeIds = Object.keys(routes);
    const waiting = [idOf(t, 'AWS::ECS::Service', 'WebService'), idOf(t, 'AWS::ECS::Service', 'WorkerService'), only(t, 'Custom::DatabaseSetup').id];
    for (const id of waiting) expect(t.toJSON().Resources[id].DependsOn, id).toEqual(expect.arrayContaining(routeIds));
    // The pilot light idles without NAT, whatever the tier or the edge does.
    for (const stage of [shipped[name], failedOver[name]]) expect(Object.keys(stage.pilotLight!.findResources('AWS::EC2::NatGateway'))).toEqual([]);
  });

  test("the services wait for the cluster's capacity providers, so a delete removes them first (the drill's and the failback's cdk destroy)", () => {
    const t = drApp(name);
    const association = only(t, 'AWS::ECS::ClusterCapacityProviderAssociations').id;
    for (const service of ['WebService', 'WorkerService']) {
      expect(t.toJSON().Resources[idOf(t, 'AWS::ECS::Service', service)].DependsOn, service).toContain(association);
    }
  });

  test('reads of the pilot light and the DR stack exactly the outputs the failover checks for before it deploys', () => {
    const reads = crossStackReads(drApp(name).toJSON().Resources);
    const of = (stack: string) =>
      reads
        .filter((r) => r.StackName === stack)
        .map((r) => r.OutputName)
        .sort();
    expect(of(`${name}-PilotLight`)).toEqual([...DR_APP_READS.pilotLight, ...(config.uploads.replicateToDr ? [] : DR_APP_READS.pilotLightUploads)].sort());
    const replicates = config.uploads.replicateToDr;
    expect(of(`${name}-Dr`)).toEqual(DR_APP_READS.dr.filter((o) => replicates || o === 'BackupKeyArn').sort());
  });

  test('reads nothing from the primary region, so it deploys while that region is lost, and keeps no primary read', () => {
    const t = drApp(name).toJSON();
    const regions = new Set(crossStackReads(t.Resources).map((r) => r.Region));
    expect(regions).toEqual(new Set([drRegion]));
    expect(JSON.stringify(t.Outputs)).not.toContain(PRIMARY_READ_PREFIX);
  });

  test("the restored database: its endpoint a deploy-time read of the failover's SSM parameter, the web and worker tasks' and the setup's host", () => {
    const t = drApp(name);
    const parameters = Object.entries(t.toJSON().Parameters as Record<string, { Type: string; Default: string }>).filter(([, p]) => p.Default === names.databaseEndpointParameter);
    expect(parameters).toHaveLength(1);
    const [[parameter, { Type }]] = parameters;
    expect(Type).toBe('AWS::SSM::Parameter::Value<String>');
    for (const task of ['Web', 'Worker'] as const) {
      expect(environment(t, task)).toMatchObject({ DATABASE_HOST: { Ref: parameter }, DATABASE_PORT: '5432', DATABASE_USER: DATABASE_ROLES.app, DATABASE_AUTH: 'iam' });
    }
    const setup = only(t, 'Custom::DatabaseSetup').resource.Properties;
    expect(setup).toMatchObject({ DbInstanceIdentifier: names.databaseIdentifier, Host: { Ref: parameter }, Port: '5432' });
    t.resourceCountIs('AWS::RDS::DBInstance', 0);
  });

  test('the web service attaches by a rule on the pilot light listener (priority 1, every path), which keeps its idle 503 as its default', () => {
    const t = drApp(name);
    expect(DR_WEB_RULE_PRIORITY).toBe(1);
    const group = only(t, 'AWS::ElasticLoadBalancingV2::TargetGroup').id;
    expect(only(t, 'AWS::ElasticLoadBalancingV2::ListenerRule').resource.Properties).toEqual({
      ListenerArn: pilotLight('HttpsListenerArn'),
      Priority: 1,
      Conditions: [{ Field: 'path-pattern', PathPatternConfig: { Values: ['/*'] } }],
      Actions: [{ Type: 'forward', TargetGroupArn: { Ref: group } }],
    });
    // Rolling: no listener of its own (no test listener), one target group, ECS's own controller.
    t.resourceCountIs('AWS::ElasticLoadBalancingV2::Listener', 0);
    const web = t.toJSON().Resources[idOf(t, 'AWS::ECS::Service', 'WebService')].Properties;
    expect(web.LoadBalancers).toEqual([{ ContainerName: 'app', ContainerPort: config.app.containerPort, TargetGroupArn: { Ref: group } }]);
    expect(web.DeploymentController).toBeUndefined();
    expect(web.DeploymentConfiguration).toMatchObject({ MinimumHealthyPercent: 100, MaximumPercent: 200, DeploymentCircuitBreaker: { Enable: true, Rollback: true } });
  });

  test('every path it opens is a rule in its own template: load balancer to web, smoke test to load balancer, services and setup to the database, services to the cache', () => {
    const t = drApp(name);
    const gid = (prefix: string) => ({ 'Fn::GetAtt': [idOf(t, 'AWS::EC2::SecurityGroup', prefix), 'GroupId'] });
    const rule = (r: Json) => ({ ...r.Properties, Description: undefined });
    const port = config.app.containerPort;
    const [loadBalancer, database, cache] = [pilotLight('LoadBalancerSecurityGroupId'), pilotLight('DatabaseSecurityGroupId'), pilotLight('CacheSecurityGroupId')];
    const tcp = (from: number) => ({ IpProtocol: 'tcp', FromPort: from, ToPort: from, Description: undefined });
    expect(resources(t, 'AWS::EC2::SecurityGroupIngress').map(rule)).toEqual(
      expect.arrayContaining([
        { ...tcp(port), GroupId: gid('WebSecurityGroup'), SourceSecurityGroupId: loadBalancer },
        { ...tcp(443), GroupId: loadBalancer, SourceSecurityGroupId: gid('SmokeTestSecurityGroup') },
        { ...tcp(5432), GroupId: database, SourceSecurityGroupId: gid('WebSecurityGroup') },
        { ...tcp(5432), GroupId: database, SourceSecurityGroupId: gid('WorkerSecurityGroup') },
        { ...tcp(5432), GroupId: database, SourceSecurityGroupId: gid('DatabaseSetupSecurityGroup') },
        { ...tcp(6379), GroupId: cache, SourceSecurityGroupId: gid('WebSecurityGroup') },
        { ...tcp(6379), GroupId: cache, SourceSecurityGroupId: gid('WorkerSecurityGroup') },
      ]),
    );
    expect(resources(t, 'AWS::EC2::SecurityGroupIngress')).toHaveLength(7);
    expect(resources(t, 'AWS::EC2::SecurityGroupEgress').map(rule)).toEqual(
      expect.arrayContaining([{ ...tcp(port), GroupId: loadBalancer, DestinationSecurityGroupId: gid('WebSecurityGroup') }]),
    );
  });

  test("a cache of its own key in the pilot light's cache subnet group and security group, its events to the DR alarm topic", () => {
    const t = drApp(name);
    const group = only(t, 'AWS::ElastiCache::ReplicationGroup').resource.Properties;
    expect(group.CacheSubnetGroupName).toEqual(pilotLight('CacheSubnetGroupName'));
    expect(group.SecurityGroupIds).toEqual([pilotLight('CacheSecurityGroupId')]);
    expect(group.KmsKeyId).toEqual({ 'Fn::GetAtt': [idOf(t, 'AWS::KMS::Key', 'CacheKey'), 'Arn'] });
    expect(group.NumCacheClusters).toBe(1 + config.cache.replicas);
    t.resourceCountIs('AWS::ElastiCache::SubnetGroup', 0);
    const forwarder = t.toJSON().Resources[idOf(t, 'AWS::Lambda::Function', 'CacheEventsForwarder')].Properties;
    expect(group.NotificationTopicArn).toEqual({ Ref: idOf(t, 'AWS::SNS::Topic', 'CacheEventsTopic') });
    expect(forwarder.Environment.Variables.ALARM_TOPIC_ARN).toEqual({ Ref: idOf(t, 'AWS::SNS::Topic', 'AlarmsTopic') });
  });

  test('the web and worker task roles log in to the database as webapp_app, with the policy the primary gives them', () => {
    const t = drApp(name);
    const policy = idOf(t, 'AWS::IAM::ManagedPolicy', 'DatabaseConnectwebappapp');
    const document = t.toJSON().Resources[policy].Properties.PolicyDocument;
    expect(document.Statement).toEqual([{ Action: 'rds-db:connect', Effect: 'Allow', Resource: `arn:aws:rds-db:${drRegion}:${config.account}:dbuser:*/webapp_app` }]);
    const primary = shipped[name].data.toJSON().Resources[idOf(shipped[name].data, 'AWS::IAM::ManagedPolicy', 'DatabaseConnectwebappapp')].Properties.PolicyDocument;
    expect(JSON.stringify(document)).toBe(JSON.stringify(primary).replace(`:${config.region}:`, `:${drRegion}:`));
    for (const task of ['Web', 'Worker']) {
      const role = t.toJSON().Resources[idOf(t, 'AWS::IAM::Role', `${task}TaskTaskDefinitionTaskRole`)].Properties;
      expect(role.ManagedPolicyArns, task).toContainEqual({ Ref: policy });
    }
  });

  test("the tasks run the primary's image (repository and tag) from the DR region's registry", () => {
    const t = drApp(name);
    for (const task of ['Web', 'Worker'] as const) {
      const primary = JSON.stringify(container(shipped[name].app, task).Image);
      expect(primary).toContain(`/${config.image.repositoryName}:${config.image.tag}`);
      expect(JSON.stringify(container(t, task).Image)).toBe(primary.replace(`.ecr.${config.region}.`, `.ecr.${drRegion}.`));
    }
  });

  test("the tasks are the primary's: the same environment names, command, sizes and sidecars", () => {
    const t = drApp(name);
    const taskOf = (template: Template, task: 'Web' | 'Worker') => template.toJSON().Resources[idOf(template, 'AWS::ECS::TaskDefinition', `${task}Task`)].Properties;
    for (const task of ['Web', 'Worker'] as const) {
      const [dr, primary] = [taskOf(t, task), taskOf(shipped[name].app, task)];
      expect([dr.Cpu, dr.Memory, dr.RuntimePlatform], task).toEqual([primary.Cpu, primary.Memory, primary.RuntimePlatform]);
      expect(
        dr.ContainerDefinitions.map((c: { Name: string }) => c.Name),
        task,
      ).toEqual(primary.ContainerDefinitions.map((c: { Name: string }) => c.Name));
      expect(Object.keys(environment(t, task)).sort(), task).toEqual(Object.keys(environment(shipped[name].app, task)).sort());
      expect(container(t, task).Command, task).toEqual(container(shipped[name].app, task).Command);
    }
  });

  test("the uploads: the replica and its key where the stage replicates, read from the DR stack; else the pilot light's bucket, which outlives the tier", () => {
    const t = drApp(name);
    const uploads = environment(t, 'Web').UPLOADS_BUCKET;
    const [stack, bucketOutput, keyOutput] = config.uploads.replicateToDr
      ? [`${name}-Dr`, 'UploadsReplicaBucketName', 'UploadsReplicaKeyArn']
      : [`${name}-PilotLight`, 'UploadsBucketName', 'UploadsKeyArn'];
    const read = (output: string) => stackOutput({ StackName: stack, Region: drRegion, OutputName: output });
    expect(uploads).toEqual(read(bucketOutput));
    // Nothing kept in the tier: a drill leaves no bucket or key behind.
    t.resourceCountIs('AWS::S3::Bucket', 0);
    const statements = t.toJSON().Resources[idOf(t, 'AWS::IAM::ManagedPolicy', 'UploadsAccessPolicy')].Properties.PolicyDocument.Statement;
    expect(statements.map((s: Json) => s.Action)).toEqual([
      's3:ListBucket',
      ['s3:AbortMultipartUpload', 's3:DeleteObject', 's3:GetObject', 's3:PutObject'],
      ['kms:Decrypt', 'kms:GenerateDataKey'],
    ]);
    expect(statements[2]).toMatchObject({ Resource: read(keyOutput), Condition: { StringEquals: { 'kms:ViaService': `s3.${drRegion}.amazonaws.com` } } });
    const kept = Object.values(t.toJSON().Resources as Record<string, { DeletionPolicy?: string; Type: string }>).filter(
      (r) => r.DeletionPolicy === 'Retain' && r.Type !== 'AWS::Logs::LogGroup',
    );
    expect(kept.map((r) => r.Type)).toEqual([]);
    // The pilot light holds the bucket exactly where the stage has no replica.
    const buckets = Object.keys(shipped[name].pilotLight!.findResources('AWS::S3::Bucket')).filter((id) => id.startsWith('UploadsBucket'));
    expect(buckets).toHaveLength(config.uploads.replicateToDr ? 0 : 1);
  });

  test("the smoke test requests the readiness and smoke paths through the pilot light's load balancer on 443, as the site", () => {
    const t = drApp(name);
    const variables = t.toJSON().Resources[idOf(t, 'AWS::Lambda::Function', 'SmokeTestHandler')].Properties.Environment.Variables;
    expect(variables).toMatchObject({
      LOAD_BALANCER_FULL_NAME: pilotLight('LoadBalancerFullName'),
      TEST_LISTENER_PORT: '443',
      SITE_HOST_NAME: config.domain!.recordName,
      SMOKE_LATENCY_MS: String(config.app.deployment.smokeLatencyMs),
    });
    expect(JSON.parse(variables.SMOKE_PATHS)[0]).toBe(config.app.readinessPath);
  });

  test("alarms notify the DR region's routes: the web service's deployment alarms and the essentials", () => {
    const t = drApp(name);
    const topic = idOf(t, 'AWS::SNS::Topic', 'AlarmsTopic');
    const pageTopic = idOf(t, 'AWS::SNS::Topic', 'PageAlarmsTopic');
    expect(t.toJSON().Resources[topic].Properties.TopicName).toBe(`webapp-${name}-alarms-dr`);
    expect(t.toJSON().Resources[pageTopic].Properties.TopicName).toBe(`webapp-${name}-page-dr`);
    const paging = new Set([
      `${name}-DrApp-web-unhealthy-hosts`,
      `${name}-dr-db-free-storage`,
      `${name}-dr-web-5xx-rate`,
      `${name}-dr-web-tasks-below-desired`,
      `${name}-dr-worker-tasks-below-desired`,
    ]);
    const alarms = resources(t, 'AWS::CloudWatch::Alarm').map((a) => a.Properties);
    expect(alarms.map((a) => a.AlarmName).sort()).toEqual(
      [
        `${name}-DrApp-web-deploy-p99-latency`,
        `${name}-DrApp-web-target-5xx-rate`,
        `${name}-DrApp-web-unhealthy-hosts`,
        `${name}-dr-db-cpu`,
        `${name}-dr-db-free-storage`,
        `${name}-dr-web-5xx-rate`,
        `${name}-dr-web-tasks-below-desired`,
        `${name}-dr-worker-tasks-below-desired`,
      ].sort(),
    );
    for (const alarm of alarms) {
      const route = paging.has(alarm.AlarmName) ? [{ Ref: pageTopic }, { Ref: topic }] : [{ Ref: topic }];
      expect(alarm.AlarmActions, alarm.AlarmName).toEqual(route);
      expect(alarm.OKActions, alarm.AlarmName).toEqual(route);
    }
    const db = alarms.find((a) => a.AlarmName === `${name}-dr-db-cpu`)!;
    expect(db.Dimensions).toEqual([{ Name: 'DBInstanceIdentifier', Value: names.databaseIdentifier }]);
  });

  test('outputs what the failover and the drill read', () => {
    const outputs = Object.keys(drApp(name).toJSON().Outputs);
    expect(outputs).toEqual([
      'ClusterName',
      'WebServiceName',
      'WorkerServiceName',
      'SmokeTestFunctionName',
      'CacheEndpoint',
      'UploadsBucketName',
      'AlarmTopicArn',
      'PagingTopicArn',
      'PgvectorVersion',
    ]);
  });
});

describe('the diff guard on a failover deploy', () => {
  /** A stage's stacks as the guard reads an assembly. */
  const assembly = (name: StageName, stage: StageTemplates): AssemblyStack[] =>
    (['network', 'dr', 'pilotLight', 'drApp', 'data', 'app', 'edge', 'ops'] as const).flatMap((role) => {
      const info = stage.stage[role];
      return info
        ? [{ displayName: `${name}/${role}`, stage: name, stackName: info.stackName, environment: `aws://${info.account}/${info.region}`, template: stage[role]!.toJSON() }]
        : [];
    });

  test('staging failed over (the DR app tier up, the edge serving from it) replaces, destroys and orphans nothing stateful', () => {
    const serving = synthStage('staging', { ...drAppTier('staging'), 'staging.dr.serveFrom': 'dr' });
    const result = guard(assembly('staging', shipped.staging), assembly('staging', serving));
    expect(result.findings.filter((f) => f.severity !== 'warning')).toEqual([]);
    expect(result.exitCode).toBe(0);
    // What changes: the edge's target and its ServingFrom output, and the new tier.
    const changed = (['network', 'dr', 'pilotLight', 'data', 'app', 'edge', 'ops'] as const).filter(
      (role) => JSON.stringify(serving[role]!.toJSON()) !== JSON.stringify(shipped.staging[role]!.toJSON()),
    );
    expect(changed).toEqual(['edge']);

    // And back (the pull request that turns the tier off after a failback): the tier's stack is the
    // failback's to destroy, a warning; the edge moving back blocks nothing.
    const back = guard(assembly('staging', serving), assembly('staging', shipped.staging));
    expect(back.findings.map((f) => [f.severity, f.stackName, f.logicalId])).toEqual([['warning', 'staging-DrApp', '*']]);
    expect(back.exitCode).toBe(0);
  });
});
