import { Match, type Template } from 'aws-cdk-lib/assertions';
import { describe, expect, test } from 'vitest';
import { ORIGIN_FACING } from '../../lib/app/origin-facing';
import { COLLECTOR_CACHE } from '../../lib/app/trace-collector';
import { parseStageConfig, STAGE_NAMES, STAGES, type StageConfig, type StageName } from '../../lib/config';
import { MANAGED_RULE_GROUPS } from '../../lib/edge/waf';
import { stackOutput, stackOutputLike, synthStage } from '../support/synth';
import { byPrefix, type Json, only, policyStatements, stageTemplates } from '../support/template';

const synthesized = stageTemplates();
const app = (name: StageName): Template => synthesized[name].app;

const container = (t: Template, task: 'WebTask' | 'WorkerTask'): Json => byPrefix(t, 'AWS::ECS::TaskDefinition', `${task}TaskDefinition`).Properties.ContainerDefinitions[0];

describe.each(STAGE_NAMES)('%s app stack', (name) => {
  const config: StageConfig = parseStageConfig(STAGES[name]);

  test('is named <stage>-App', () => {
    expect(synthesized[name].stage.app.stackName).toBe(`${name}-App`);
  });

  test('every task definition stays ACTIVE when a release replaces it, so rollback --fast can point a service back at it', () => {
    // ECS refuses an INACTIVE revision, and CloudFormation deregisters what it replaces unless retained.
    const definitions = Object.entries(app(name).findResources('AWS::ECS::TaskDefinition'));
    expect(definitions.length).toBeGreaterThanOrEqual(2);
    for (const [id, definition] of definitions) expect(definition.UpdateReplacePolicy, id).toBe('Retain');
  });

  test('cluster with enhanced Container Insights and both Fargate capacity providers', () => {
    app(name).hasResourceProperties('AWS::ECS::Cluster', { ClusterSettings: [{ Name: 'containerInsights', Value: 'enhanced' }] });
    app(name).hasResourceProperties('AWS::ECS::ClusterCapacityProviderAssociations', { CapacityProviders: Match.arrayWith(['FARGATE', 'FARGATE_SPOT']) });
  });

  describe.each([
    ['WebTask', 'web'],
    ['WorkerTask', 'worker'],
  ] as const)('%s', (task, sizing) => {
    test('ARM64, sized from config, same image', () => {
      const def = byPrefix(app(name), 'AWS::ECS::TaskDefinition', `${task}TaskDefinition`).Properties;
      expect(def).toMatchObject({
        Cpu: String(config[sizing].cpu),
        Memory: String(config[sizing].memoryLimitMiB),
        RuntimePlatform: { CpuArchitecture: 'ARM64', OperatingSystemFamily: 'LINUX' },
        RequiresCompatibilities: ['FARGATE'],
      });
      expect(JSON.stringify(container(app(name), task).Image)).toContain(`/${config.image.repositoryName}:${config.image.tag}`);
    });

    test('non-root, read-only root filesystem, scratch volumes for /tmp and .next/cache, JSON logs', () => {
      const c = container(app(name), task);
      // ECS Exec (dev) needs a writable root filesystem: AWS does not support it on a read-only one.
      expect(c).toMatchObject({ User: '1000:1000', ReadonlyRootFilesystem: !config.app.enableExecuteCommand, Essential: true });
      expect(c.MountPoints).toEqual([
        { ContainerPath: '/tmp', ReadOnly: false, SourceVolume: 'tmp' },
        { ContainerPath: '/app/.next/cache', ReadOnly: false, SourceVolume: 'nextCache' },
      ]);
      expect(c.LogConfiguration).toMatchObject({ LogDriver: 'awslogs', Options: { mode: 'non-blocking' } });
    });

    test('no database password reaches the container: it logs in as the app role with IAM tokens', () => {
      const c = container(app(name), task);
      // The only secret is the Valkey AUTH token; nothing of the database's master secret.
      expect(c.Secrets.map((s: Json) => s.Name)).toEqual(['REDIS_AUTH_TOKEN']);
      expect(JSON.stringify(c)).not.toMatch(/MasterUserSecret|DATABASE_PASSWORD|rds!db/);
      const env = c.Environment as { Name: string; Value: unknown }[];
      expect(env.map((e) => e.Name).filter((n) => /PASSWORD|SECRET|TOKEN|CREDENTIAL|KEY/i.test(n))).toEqual([]);
      expect(JSON.stringify(env)).not.toMatch(/resolve:secretsmanager|AuthToken/);
      const value = (n: string) => env.find((e) => e.Name === n)?.Value;
      expect(env.map((e) => e.Name)).toEqual(
        expect.arrayContaining([
          'NODE_ENV',
          'STAGE',
          'DATABASE_HOST',
          'DATABASE_PORT',
          'DATABASE_NAME',
          'DATABASE_USER',
          'DATABASE_AUTH',
          'AWS_REGION',
          'REDIS_URL',
          'UPLOADS_BUCKET',
        ]),
      );
      expect([value('DATABASE_USER'), value('DATABASE_AUTH'), value('DATABASE_PORT'), value('DATABASE_NAME'), value('AWS_REGION')]).toEqual([
        'webapp_app',
        'iam',
        '5432',
        'app',
        config.region,
      ]);
      expect(JSON.stringify(value('REDIS_URL'))).toContain('rediss://');
      // The app's log level per stage: debug where people debug, info where ingestion is paid for.
      expect(value('LOG_LEVEL')).toBe(config.app.logLevel);
      expect(config.app.logLevel).toBe(name === 'dev' ? 'debug' : 'info');
    });

    test('the execution role pulls the image, writes its logs and reads the AUTH token, nothing else', () => {
      const role = byPrefix(app(name), 'AWS::IAM::Role', `${task}TaskDefinitionExecutionRole`);
      expect(role.Properties.ManagedPolicyArns).toBeUndefined();
      const policy = byPrefix(app(name), 'AWS::IAM::Policy', `${task}TaskDefinitionExecutionRoleDefaultPolicy`);
      const statements = policy.Properties.PolicyDocument.Statement as Json[];
      const repository = (name: string) => `arn:aws:ecr:${config.region}:${config.account}:repository/${name}`;
      // The trace collector's image comes through the registry's pull-through cache of ECR Public (CDK sorts the ARNs).
      const collector = config.app.tracing.enabled ? [repository(COLLECTOR_CACHE.repositoryName)] : [];
      const resource = (r: Json) => (typeof r === 'string' ? r : Array.isArray(r) && r.every((x) => typeof x === 'string') ? r : 'ref');
      expect(statements.map((s) => [s.Action, resource(s.Resource)])).toEqual([
        [
          ['ecr:BatchCheckLayerAvailability', 'ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer'],
          collector.length > 0 ? [...collector, repository(config.image.repositoryName)] : repository(config.image.repositoryName),
        ],
        ['ecr:GetAuthorizationToken', '*'],
        [['logs:CreateLogStream', 'logs:PutLogEvents'], 'ref'],
        [['secretsmanager:DescribeSecret', 'secretsmanager:GetSecretValue'], 'ref'],
        ...(config.app.tracing.enabled ? [[['ecr:BatchImportUpstreamImage', 'ecr:CreateRepository'], collector[0]]] : []),
        // GuardDuty's Fargate agent, which ECS adds as a sidecar where Runtime Monitoring runs.
        ...(config.baseline.guardDuty.runtimeMonitoring
          ? [[['ecr:BatchCheckLayerAvailability', 'ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer'], `arn:aws:ecr:${config.region}:*:repository/aws-guardduty-agent-fargate`]]
          : []),
        ['kms:Decrypt', 'ref'],
      ]);
      expect(statements.at(-1)!.Condition).toEqual({ StringEquals: { 'kms:ViaService': `secretsmanager.${config.region}.amazonaws.com` } });
    });

    test('the task role has only the database login, uploads and SES policies (and ECS Exec channels where configured)', () => {
      const role = byPrefix(app(name), 'AWS::IAM::Role', `${task}TaskDefinitionTaskRole`);
      const managed = JSON.stringify(role.Properties.ManagedPolicyArns);
      expect(managed).toContain('DatabaseConnectwebappapp');
      expect(managed).toContain('UploadsObjectAccessPolicy');
      expect(role.Properties.ManagedPolicyArns).toHaveLength(config.domain ? 3 : 2);
      expect(managed.includes('EmailSendPolicy')).toBe(config.domain !== undefined);
      const inline = Object.entries(app(name).findResources('AWS::IAM::Policy')).filter(([id]) => id.startsWith(`${task}TaskDefinitionTaskRoleDefaultPolicy`));
      const statements = inline.flatMap(([, p]) => p.Properties.PolicyDocument.Statement as Json[]);
      // The trace collector: X-Ray, and events into the app-metrics log group only.
      const collector = statements.filter((s) => s.Sid === 'CollectorWritesTraces' || s.Sid === 'CollectorWritesMetrics');
      expect(collector.length).toBe(config.app.tracing.enabled ? 2 : 0);
      for (const s of collector.filter((c) => c.Sid === 'CollectorWritesMetrics')) {
        expect(JSON.stringify(s.Resource)).toMatch(/AppMetricsLogs/);
        expect(s.Action).toEqual(['logs:CreateLogStream', 'logs:DescribeLogStreams', 'logs:PutLogEvents']);
      }
      const rest = statements.filter((s) => !collector.includes(s));
      if (config.app.enableExecuteCommand) {
        const actions = rest.flatMap((s) => [s.Action].flat());
        expect(actions.every((a: string) => a.startsWith('ssmmessages:') || a.startsWith('logs:') || a.startsWith('kms:'))).toBe(true);
      } else {
        expect(rest).toEqual([]);
      }
    });
  });

  test('uploads policy: objects of the uploads bucket only, KMS only through S3', () => {
    const policy = byPrefix(synthesized[name].data, 'AWS::IAM::ManagedPolicy', 'UploadsObjectAccessPolicy').Properties.PolicyDocument.Statement;
    expect(policy).toEqual([
      { Effect: 'Allow', Action: 's3:ListBucket', Resource: { 'Fn::GetAtt': ['UploadsBucketC4B27CC7', 'Arn'] } },
      {
        Effect: 'Allow',
        Action: ['s3:AbortMultipartUpload', 's3:DeleteObject', 's3:GetObject', 's3:PutObject'],
        Resource: { 'Fn::Join': ['', [{ 'Fn::GetAtt': ['UploadsBucketC4B27CC7', 'Arn'] }, '/*']] },
      },
      {
        Effect: 'Allow',
        Action: ['kms:Decrypt', 'kms:GenerateDataKey'],
        Resource: { 'Fn::GetAtt': ['UploadsKeyE2534F44', 'Arn'] },
        Condition: { StringEquals: { 'kms:ViaService': `s3.${config.region}.amazonaws.com` } },
      },
    ]);
  });

  test(
    config.app.enableExecuteCommand ? 'ECS Exec sessions are encrypted with their own key and logged to an encrypted log group' : 'no ECS Exec configuration where Exec is off',
    () => {
      const cluster = byPrefix(app(name), 'AWS::ECS::Cluster', 'Cluster').Properties;
      if (!config.app.enableExecuteCommand) {
        expect(cluster.Configuration).toBeUndefined();
        return;
      }
      expect(cluster.Configuration.ExecuteCommandConfiguration).toEqual({
        KmsKeyId: { 'Fn::GetAtt': [expect.stringMatching(/^ExecKey/), 'Arn'] },
        Logging: 'OVERRIDE',
        LogConfiguration: { CloudWatchLogGroupName: { Ref: expect.stringMatching(/^ExecLogs/) }, CloudWatchEncryptionEnabled: true },
      });
      const [execLogs] = Object.entries(app(name).findResources('AWS::Logs::LogGroup')).filter(([id]) => id.startsWith('ExecLogs'));
      expect(execLogs[1].Properties.KmsKeyId).toBeDefined();
      expect(execLogs[1].Properties.RetentionInDays).toBe(config.logRetentionDays);
    },
  );

  test('web service: zero-downtime deploys rolled back by the circuit breaker and three named alarms', () => {
    const svc = byPrefix(app(name), 'AWS::ECS::Service', 'WebService').Properties;
    expect(svc).toMatchObject({
      DesiredCount: config.web.desiredCount,
      CapacityProviderStrategy: [{ CapacityProvider: config.web.useSpot ? 'FARGATE_SPOT' : 'FARGATE', Weight: 1 }],
      EnableExecuteCommand: config.app.enableExecuteCommand,
      DeploymentConfiguration: {
        MinimumHealthyPercent: 100,
        MaximumPercent: 200,
        DeploymentCircuitBreaker: { Enable: true, Rollback: true },
        Alarms: {
          Enable: true,
          Rollback: true,
          AlarmNames: [{ Ref: expect.stringMatching(/^WebTarget5xxRate/) }, { Ref: expect.stringMatching(/^WebUnhealthyHosts/) }, { Ref: expect.stringMatching(/^WebP99Latency/) }],
        },
      },
      NetworkConfiguration: { AwsvpcConfiguration: { AssignPublicIp: 'DISABLED' } },
    });
    for (const alarmName of [`${name}-App-web-target-5xx-rate`, `${name}-App-web-unhealthy-hosts`, `${name}-App-web-deploy-p99-latency`]) {
      app(name).hasResourceProperties('AWS::CloudWatch::Alarm', { AlarmName: alarmName, ComparisonOperator: 'GreaterThanThreshold', EvaluationPeriods: 3 });
    }
    app(name).hasResourceProperties('AWS::CloudWatch::Alarm', { AlarmName: `${name}-App-web-deploy-p99-latency`, Threshold: config.operations.p99LatencySeconds });
  });

  test('target group checks readiness, slow start and a short deregistration for Node.js', () => {
    const tg = byPrefix(app(name), 'AWS::ElasticLoadBalancingV2::TargetGroup', 'WebTargets').Properties;
    expect(tg).toMatchObject({ HealthCheckPath: config.app.readinessPath, Matcher: { HttpCode: '200' }, Port: config.app.containerPort, TargetType: 'ip' });
    expect(tg.TargetGroupAttributes).toEqual(
      expect.arrayContaining([
        { Key: 'deregistration_delay.timeout_seconds', Value: '30' },
        { Key: 'slow_start.duration_seconds', Value: '60' },
      ]),
    );
  });

  test('container health check on the liveness path', () => {
    // The exec form: no shell in the image is needed (distroless has none).
    const [form, command, flag, script] = container(app(name), 'WebTask').HealthCheck.Command;
    expect([form, command, flag]).toEqual(['CMD', 'node', '-e']);
    expect(script).toContain(`http://127.0.0.1:${config.app.containerPort}${config.app.livenessPath}`);
  });

  test("both services wait for the cluster's capacity providers (and the pre-deploy snapshot)", () => {
    const [association] = Object.keys(app(name).findResources('AWS::ECS::ClusterCapacityProviderAssociations'));
    for (const prefix of ['WebService', 'WorkerService']) {
      const service = byPrefix(app(name), 'AWS::ECS::Service', prefix);
      expect(service.DependsOn).toEqual(expect.arrayContaining([association, expect.stringMatching(/^PreDeploySnapshot/)]));
    }
  });

  const shifts = config.app.deployment.strategy !== 'rolling';
  test(`scaling: web on CPU${shifts ? ' only (requests per target would follow one target group)' : ' and requests per target'}, worker on CPU; out fast, in after 5 minutes`, () => {
    const targets = Object.entries(app(name).findResources('AWS::ApplicationAutoScaling::ScalableTarget'));
    const bounds = Object.fromEntries(targets.map(([id, t]) => [id.startsWith('Web') ? 'web' : 'worker', [t.Properties.MinCapacity, t.Properties.MaxCapacity]]));
    expect(bounds).toEqual({ web: [config.web.minCapacity, config.web.maxCapacity], worker: [config.worker.minCapacity, config.worker.maxCapacity] });
    const policies = Object.values(app(name).findResources('AWS::ApplicationAutoScaling::ScalingPolicy')).map((p) => p.Properties.TargetTrackingScalingPolicyConfiguration);
    expect(policies.map((p) => p.PredefinedMetricSpecification.PredefinedMetricType).sort()).toEqual([
      ...(shifts ? [] : ['ALBRequestCountPerTarget']),
      'ECSServiceAverageCPUUtilization',
      'ECSServiceAverageCPUUtilization',
    ]);
    for (const p of policies) expect([p.ScaleOutCooldown, p.ScaleInCooldown]).toEqual([60, 300]);
  });

  test('worker: the worker command, time to finish a job on SIGTERM, no load balancer', () => {
    const c = container(app(name), 'WorkerTask');
    expect(c.Command).toEqual(config.app.workerCommand);
    expect(c.StopTimeout).toBe(config.app.workerStopTimeoutSeconds);
    const svc = byPrefix(app(name), 'AWS::ECS::Service', 'WorkerService').Properties;
    expect(svc.LoadBalancers).toEqual([]);
    expect(svc.DeploymentConfiguration.DeploymentCircuitBreaker).toEqual({ Enable: true, Rollback: true });
    // All on Fargate, all on Spot, or the on-demand base first and every further worker on Spot.
    const { useSpot, onDemandBase } = config.worker;
    expect(svc.CapacityProviderStrategy).toEqual(
      !useSpot
        ? [{ CapacityProvider: 'FARGATE', Weight: 1 }]
        : onDemandBase > 0
          ? [
              { CapacityProvider: 'FARGATE', Base: onDemandBase, Weight: 0 },
              { CapacityProvider: 'FARGATE_SPOT', Weight: 1 },
            ]
          : [{ CapacityProvider: 'FARGATE_SPOT', Weight: 1 }],
    );
  });

  test('task security groups admit nothing from outside and let out HTTPS, PostgreSQL and Valkey only', () => {
    for (const prefix of ['WebSecurityGroup', 'WorkerSecurityGroup']) {
      const sg = byPrefix(app(name), 'AWS::EC2::SecurityGroup', prefix).Properties;
      expect(sg.SecurityGroupIngress).toBeUndefined();
      expect(sg.SecurityGroupEgress).toEqual([{ CidrIp: '0.0.0.0/0', Description: 'HTTPS to AWS APIs and the image registry', FromPort: 443, IpProtocol: 'tcp', ToPort: 443 }]);
    }
    const egressPorts = Object.values(app(name).findResources('AWS::EC2::SecurityGroupEgress'))
      .map((e) => e.Properties.FromPort)
      .sort();
    // The load balancer to the web tasks, the web and worker tasks to the database and the cache,
    // the migration task to the database, the token rotation to the cache; where traffic shifts,
    // the smoke test to the test listener.
    const smokeTest = shifts ? [8443] : [];
    expect(egressPorts).toEqual([3000, 5432, 5432, 5432, 6379, 6379, 6379, ...smokeTest]);
    const ingress = Object.values(app(name).findResources('AWS::EC2::SecurityGroupIngress'))
      .map((i) => i.Properties.FromPort)
      .sort();
    // Behind CloudFront, also the listener from CloudFront's prefix list (the edge stack's tests pin it).
    const listener = config.edge.enabled ? [config.https ? 443 : 80] : [];
    expect(ingress).toEqual([3000, 5432, 5432, 5432, 6379, 6379, 6379, ...smokeTest, ...listener].sort());
  });

  test('load balancer: internet-facing (internal behind CloudFront), invalid headers dropped, defensive desync, access logs, deletion protection in prod', () => {
    const alb = byPrefix(app(name), 'AWS::ElasticLoadBalancingV2::LoadBalancer', 'LoadBalancerAlb').Properties;
    expect(alb.Scheme).toBe(config.edge.enabled ? 'internal' : 'internet-facing');
    expect(alb.LoadBalancerAttributes).toEqual(
      expect.arrayContaining([
        { Key: 'routing.http.drop_invalid_header_fields.enabled', Value: 'true' },
        { Key: 'routing.http.desync_mitigation_mode', Value: 'defensive' },
        { Key: 'access_logs.s3.enabled', Value: 'true' },
        { Key: 'deletion_protection.enabled', Value: String(config.app.loadBalancerDeletionProtection) },
      ]),
    );
  });

  // The stage's own zone, read from its network stack.
  const stageZone = stackOutputLike(Match.objectLike({ StackName: `${name}-Network`, OutputName: Match.stringLikeRegexp('RefZone2A4024A4') }));

  test("every DNS record goes into the stage's own zone, never another stage's", () => {
    for (const record of Object.values(app(name).findResources('AWS::Route53::RecordSet'))) {
      expect(JSON.stringify(record.Properties.HostedZoneId)).toMatch(new RegExp(`"StackName":"${name}-Network".*RefZone2A4024A4`));
    }
  });

  if (parseStageConfig(STAGES[name]).https) {
    test(`HTTPS with a DNS-validated certificate, the restricted post-quantum TLS policy and HSTS; ${config.edge.enabled ? 'no port 80 and no records behind CloudFront' : 'HTTP only redirects'}`, () => {
      const t = app(name);
      t.hasResourceProperties('AWS::CertificateManager::Certificate', {
        DomainName: config.domain!.recordName,
        ValidationMethod: 'DNS',
        // Validated in the stage's own zone, which the network stack holds.
        DomainValidationOptions: [{ DomainName: config.domain!.recordName, HostedZoneId: stageZone }],
      });
      t.hasResourceProperties('AWS::ElasticLoadBalancingV2::Listener', {
        Port: 443,
        Protocol: 'HTTPS',
        SslPolicy: 'ELBSecurityPolicy-TLS13-1-2-Res-PQ-2025-09',
        ListenerAttributes: [{ Key: 'routing.http.response.strict_transport_security.header_value', Value: 'max-age=31536000; includeSubDomains' }],
      });
      if (config.edge.enabled) {
        // Viewers reach CloudFront, which redirects to HTTPS itself; the site's records are the edge stack's.
        expect(Object.values(t.findResources('AWS::ElasticLoadBalancingV2::Listener')).map((l) => l.Properties.Port)).not.toContain(80);
        expect(Object.values(t.findResources('AWS::Route53::RecordSet')).map((r) => r.Properties.Name)).not.toContain(`${config.domain!.recordName}.`);
        return;
      }
      t.hasResourceProperties('AWS::ElasticLoadBalancingV2::Listener', {
        Port: 80,
        Protocol: 'HTTP',
        DefaultActions: [{ Type: 'redirect', RedirectConfig: { Protocol: 'HTTPS', Port: '443', StatusCode: 'HTTP_301' } }],
      });
      for (const type of ['A', 'AAAA']) t.hasResourceProperties('AWS::Route53::RecordSet', { Name: `${config.domain!.recordName}.`, Type: type, HostedZoneId: stageZone });
    });
  } else {
    test(
      config.edge.enabled
        ? 'no domain, behind CloudFront: an internal HTTP listener the VPC origin reaches, the client blocks held at the edge, and synth says so'
        : 'no domain: HTTP only, to the configured client blocks only, and synth says so',
      () => {
        const t = app(name);
        t.resourceCountIs('AWS::CertificateManager::Certificate', 0);
        t.hasResourceProperties('AWS::ElasticLoadBalancingV2::Listener', { Port: 80, Protocol: 'HTTP', DefaultActions: [Match.objectLike({ Type: 'forward' })] });
        const description = config.edge.enabled ? 'Internal load balancer behind CloudFront' : 'Internet-facing load balancer';
        const [[groupId, group]] = Object.entries(t.findResources('AWS::EC2::SecurityGroup', { Properties: { GroupDescription: description } }));
        const ingress = [
          ...(group.Properties.SecurityGroupIngress ?? []),
          ...Object.values(t.findResources('AWS::EC2::SecurityGroupIngress', { Properties: { GroupId: { 'Fn::GetAtt': [groupId, 'GroupId'] } } })).map((r) => r.Properties),
        ];
        // Behind CloudFront its VPC origin, by CloudFront's origin-facing prefix list of the region; otherwise the client blocks themselves.
        const admitted = config.edge.enabled ? [{ SourcePrefixListId: ORIGIN_FACING.prefixLists[config.region] }] : config.app.httpAllowedCidrs!.map((cidr) => ({ CidrIp: cidr }));
        expect(admitted.length).toBeGreaterThan(0);
        expect(ingress).toEqual(admitted.map((source) => expect.objectContaining({ ...source, FromPort: 80, ToPort: 80, IpProtocol: 'tcp' })));
        expect(JSON.stringify(ingress)).not.toContain('0.0.0.0/0');
        expect(synthesized[name].stage.app.warnings).toContainEqual(
          expect.stringMatching(
            config.edge.enabled
              ? `CloudFront serves it on its own \\*\\.cloudfront\\.net name .*to ${config.app.httpAllowedCidrs!.join(', ')} only`
              : `serves plain HTTP on port 80, to ${config.app.httpAllowedCidrs!.join(', ')} only`,
          ),
        );
      },
    );
  }

  test(
    config.app.waf ? `WAF: rate limit and managed rules, ${config.edge.enabled ? 'on the distribution (edge stack)' : 'associated'} and logged` : 'no WAF (configured off)',
    () => {
      // Behind CloudFront the web ACL is the distribution's, in the edge stack (test/edge).
      const t = config.edge.enabled ? synthesized[name].edge! : app(name);
      if (!config.app.waf) {
        t.resourceCountIs('AWS::WAFv2::WebACL', 0);
        return;
      }
      const acl = byPrefix(t, 'AWS::WAFv2::WebACL', 'WafWebAcl').Properties;
      expect(acl.Scope).toBe(config.edge.enabled ? 'CLOUDFRONT' : 'REGIONAL');
      const rules = acl.Rules as Json[];
      expect(rules.map((r) => r.Priority)).toEqual(rules.map((_, i) => i));
      expect(rules.map((r) => r.Name)).toEqual([
        'block-middleware-subrequest',
        'rate-limit-per-ip',
        'auth-rate-limit-per-ip',
        'AWSManagedRulesAmazonIpReputationList',
        'AWSManagedRulesCommonRuleSet',
        'large-bodies-only-where-allowed',
        'AWSManagedRulesKnownBadInputsRuleSet',
        'AWSManagedRulesSQLiRuleSet',
      ]);
      expect(rules.filter((r) => r.Statement.ManagedRuleGroupStatement).map((r) => r.Statement.ManagedRuleGroupStatement.Name)).toEqual([...MANAGED_RULE_GROUPS]);
      const rule = (n: string) => rules.find((r) => r.Name === n)!;
      const header = (h: string) => ({
        ByteMatchStatement: {
          FieldToMatch: { Headers: { MatchPattern: { IncludedHeaders: [h] }, MatchScope: 'KEY', OversizeHandling: 'CONTINUE' } },
          PositionalConstraint: 'EXACTLY',
          SearchString: h,
          TextTransformations: [{ Priority: 0, Type: 'LOWERCASE' }],
        },
      });
      const path = (p: string) => ({
        ByteMatchStatement: { FieldToMatch: { UriPath: {} }, PositionalConstraint: 'STARTS_WITH', SearchString: p, TextTransformations: [{ Priority: 0, Type: 'NONE' }] },
      });
      // CVE-2025-29927: a request with the header skips Next.js middleware on unpatched versions.
      expect(rule('block-middleware-subrequest')).toMatchObject({ Action: { Block: {} }, Statement: header('x-middleware-subrequest') });
      expect(rule('rate-limit-per-ip')).toMatchObject({
        Action: { Block: {} },
        Statement: { RateBasedStatement: { Limit: config.app.wafRateLimitPer5Min, AggregateKeyType: 'IP' } },
      });
      expect(rule('auth-rate-limit-per-ip')).toMatchObject({
        Action: { Block: {} },
        Statement: {
          RateBasedStatement: {
            Limit: config.app.wafAuthRateLimitPer5Min,
            AggregateKeyType: 'IP',
            ScopeDownStatement: { OrStatement: { Statements: config.app.wafAuthPaths.map(path) } },
          },
        },
      });
      // The body-size rule counts; ours blocks what it labels except on the exact upload paths and,
      // behind CloudFront, Server Action POSTs whose body the web ACL inspects whole
      // (test/edge/edge-stack.test.ts sends the bypasses through these statements).
      expect(rule('AWSManagedRulesCommonRuleSet').Statement.ManagedRuleGroupStatement.RuleActionOverrides).toEqual([{ Name: 'SizeRestrictions_BODY', ActionToUse: { Count: {} } }]);
      const none = [{ Priority: 0, Type: 'NONE' }];
      const exactPath = (p: string) => ({ ByteMatchStatement: { FieldToMatch: { UriPath: {} }, PositionalConstraint: 'EXACTLY', SearchString: p, TextTransformations: none } });
      const inspectedKb = config.edge.enabled ? config.app.wafBodyInspectionKb : 8;
      const serverAction = {
        AndStatement: {
          Statements: [
            { ByteMatchStatement: { FieldToMatch: { Method: {} }, PositionalConstraint: 'EXACTLY', SearchString: 'POST', TextTransformations: none } },
            { RegexMatchStatement: { FieldToMatch: { SingleHeader: { Name: 'next-action' } }, RegexString: '^([0-9a-f]{40}|[0-9a-f]{42})$', TextTransformations: none } },
            {
              NotStatement: {
                Statement: {
                  SizeConstraintStatement: { FieldToMatch: { Body: { OversizeHandling: 'MATCH' } }, ComparisonOperator: 'GT', Size: inspectedKb * 1024, TextTransformations: none },
                },
              },
            },
          ],
        },
      };
      const allowed = [...config.app.wafLargeBodyPaths.map(exactPath), ...(config.app.wafServerActions && inspectedKb > 8 ? [serverAction] : [])];
      expect(rule('large-bodies-only-where-allowed')).toEqual({
        Name: 'large-bodies-only-where-allowed',
        Priority: 5,
        Action: { Block: {} },
        Statement: {
          AndStatement: {
            Statements: [
              { LabelMatchStatement: { Scope: 'LABEL', Key: 'awswaf:managed:aws:core-rule-set:SizeRestrictions_Body' } },
              { NotStatement: { Statement: allowed.length === 1 ? allowed[0] : { OrStatement: { Statements: allowed } } } },
            ],
          },
        },
        VisibilityConfig: expect.objectContaining({ MetricName: expect.stringMatching(/-large-body$/) }),
      });
      expect(acl.AssociationConfig).toEqual(config.edge.enabled ? { RequestBody: { CLOUDFRONT: { DefaultSizeInspectionLimit: `KB_${inspectedKb}` } } } : undefined);
      // A distribution names its web ACL itself; only a load balancer's needs an association.
      t.resourceCountIs('AWS::WAFv2::WebACLAssociation', config.edge.enabled ? 0 : 1);
      t.hasResourceProperties('AWS::Logs::LogGroup', { LogGroupName: `aws-waf-logs-${name}-${config.edge.enabled ? 'Edge' : 'App'}`, RetentionInDays: config.logRetentionDays });
      // Secrets stay out of the logs; only decisions worth reading are kept.
      t.hasResourceProperties('AWS::WAFv2::LoggingConfiguration', {
        RedactedFields: ['cookie', 'authorization', ...config.app.wafRedactedHeaders].map((n) => ({ SingleHeader: { Name: n } })),
        LoggingFilter: {
          DefaultBehavior: 'DROP',
          Filters: [{ Behavior: 'KEEP', Requirement: 'MEETS_ANY', Conditions: ['BLOCK', 'COUNT', 'EXCLUDED_AS_COUNT'].map((a) => ({ ActionCondition: { Action: a } })) }],
        },
      });
      t.resourceCountIs('AWS::WAFv2::LoggingConfiguration', 1);
    },
  );

  test(config.domain ? 'SES: domain identity with DKIM and MAIL FROM, configuration set with reputation metrics and events' : 'no SES without a domain', () => {
    const t = app(name);
    if (!config.domain) {
      t.resourceCountIs('AWS::SES::EmailIdentity', 0);
      return;
    }
    t.hasResourceProperties('AWS::SES::EmailIdentity', {
      EmailIdentity: config.domain.zoneName,
      MailFromAttributes: { MailFromDomain: `mail.${config.domain.zoneName}` },
      ConfigurationSetAttributes: { ConfigurationSetName: { Ref: Match.stringLikeRegexp('^EmailConfigurationSet') } },
    });
    // Aliases (the edge stack's, behind CloudFront), 3 DKIM CNAMEs, MAIL FROM MX + TXT, DMARC TXT.
    t.resourceCountIs('AWS::Route53::RecordSet', (config.edge.enabled ? 0 : 2) + 3 + 2 + 1);
    t.hasResourceProperties('AWS::Route53::RecordSet', {
      Name: `_dmarc.${config.domain.zoneName}.`,
      Type: 'TXT',
      ResourceRecords: [`"v=DMARC1; p=${config.email.dmarcPolicy}; adkim=r; aspf=r; rua=mailto:${config.email.dmarcReportsTo}"`],
    });
    t.hasResourceProperties('AWS::SES::ConfigurationSet', { ReputationOptions: { ReputationMetricsEnabled: true } });
    const destinations = Object.values(t.findResources('AWS::SES::ConfigurationSetEventDestination')).map((d) => d.Properties.EventDestination);
    expect(destinations).toHaveLength(2);
    for (const d of destinations) expect([...d.MatchingEventTypes].sort()).toEqual(['bounce', 'complaint', 'delivery', 'reject']);
    t.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue() });
  });

  describe('cache AUTH token rotation', () => {
    const fromData = (output: RegExp) => stackOutput(expect.objectContaining({ StackName: `${name}-Data`, OutputName: expect.stringMatching(output) }));
    const secret = () => fromData(/^PublishOutputRefCacheAuthToken/);
    const fnId = () => Object.keys(app(name).findResources('AWS::Lambda::Function')).find((id) => id.startsWith('CacheTokenRotationHandlerFunction'))!;

    test("Secrets Manager rotates the token monthly, in a window after the cache's maintenance window, with the rotation function, never as part of a deploy", () => {
      const { resource: schedule } = only(app(name), 'AWS::SecretsManager::RotationSchedule');
      expect(schedule.Properties).toEqual({
        SecretId: secret(),
        RotationLambdaARN: { 'Fn::GetAtt': [fnId(), 'Arn'] },
        // The first Sunday of each month, 06:00 to 08:00 UTC: a rotation restarts both services.
        RotationRules: { ScheduleExpression: 'cron(0 6 ? * SUN#1 *)', Duration: '2h' },
        // A rotation restarts both services; a deploy must not start one.
        RotateImmediatelyOnUpdate: false,
      });
      // The window opens on the day of the cache's maintenance window, once that has closed, and
      // closes the same UTC day (Secrets Manager refuses a window into the next one).
      const maintenance = only(synthesized[name].data, 'AWS::ElastiCache::ReplicationGroup').resource.Properties.PreferredMaintenanceWindow;
      const [, day, endHour, endMinute] = /^(\w{3}):\d\d:\d\d-\w{3}:(\d\d):(\d\d)$/.exec(maintenance)!;
      const [, startHour, weekday] = /^cron\(0 (\d+) \? \* (\w{3})#1 \*\)$/.exec(schedule.Properties.RotationRules.ScheduleExpression)!;
      expect(weekday).toBe(day.toUpperCase());
      expect(Number(startHour) * 60).toBeGreaterThanOrEqual(Number(endHour) * 60 + Number(endMinute));
      expect(Number(startHour) + Number.parseInt(schedule.Properties.RotationRules.Duration, 10)).toBeLessThanOrEqual(24);
      const permissions = Object.entries(app(name).findResources('AWS::Lambda::Permission')).filter(([, p]) => JSON.stringify(p.Properties.FunctionName).includes(fnId()));
      expect(permissions.map(([, p]) => p.Properties)).toEqual(
        expect.arrayContaining([
          { Action: 'lambda:InvokeFunction', FunctionName: { 'Fn::GetAtt': [fnId(), 'Arn'] }, Principal: 'secretsmanager.amazonaws.com', SourceAccount: config.account },
        ]),
      );
      expect(permissions).toHaveLength(2);
      // Creating the schedule runs testSecret, which AUTHs against the cache: the permission and
      // the network path (the group and both its rules) must exist first.
      const [secretsManagerPermission] = permissions.find(([, p]) => p.Properties.Principal === 'secretsmanager.amazonaws.com')!;
      const path = ['AWS::EC2::SecurityGroup', 'AWS::EC2::SecurityGroupEgress', 'AWS::EC2::SecurityGroupIngress'].flatMap((type) =>
        Object.keys(app(name).findResources(type)).filter((id) => id.startsWith('CacheTokenRotationSecurityGroup')),
      );
      expect(path).toHaveLength(3);
      expect([...schedule.DependsOn].sort()).toEqual([secretsManagerPermission, ...path].sort());
    });

    test('the settle step runs every 15 minutes', () => {
      const rule = Object.values(app(name).findResources('AWS::Events::Rule')).find((r) => JSON.stringify(r.Properties.Targets).includes(fnId()))!;
      expect(rule.Properties).toMatchObject({
        ScheduleExpression: 'rate(15 minutes)',
        Targets: [{ Arn: { 'Fn::GetAtt': [fnId(), 'Arn'] }, Input: '{"action":"settle"}', RetryPolicy: { MaximumRetryAttempts: 0 } }],
      });
    });

    test('its role: this secret, the cache key through Secrets Manager, this replication group, the two services and their tasks; nothing else', () => {
      const cluster = { Ref: expect.stringMatching(/^Cluster/) };
      expect(policyStatements(app(name), /^CacheTokenRotationHandlerFunctionServiceRoleDefaultPolicy/)).toEqual([
        {
          Sid: 'RotateTheToken',
          Effect: 'Allow',
          Action: ['secretsmanager:DescribeSecret', 'secretsmanager:GetSecretValue', 'secretsmanager:PutSecretValue', 'secretsmanager:UpdateSecretVersionStage'],
          Resource: secret(),
        },
        { Sid: 'GenerateTokens', Effect: 'Allow', Action: 'secretsmanager:GetRandomPassword', Resource: '*' },
        {
          Sid: 'ThroughTheCacheKey',
          Effect: 'Allow',
          Action: ['kms:Decrypt', 'kms:GenerateDataKey'],
          Resource: fromData(/^PublishOutputFnGetAttCacheKey.*Arn/),
          Condition: { StringEquals: { 'kms:ViaService': `secretsmanager.${config.region}.amazonaws.com` } },
        },
        {
          Sid: 'ChangeTheGroupsToken',
          Effect: 'Allow',
          Action: ['elasticache:DescribeReplicationGroups', 'elasticache:ModifyReplicationGroup'],
          Resource: { 'Fn::Join': ['', [`arn:aws:elasticache:${config.region}:${config.account}:replicationgroup:`, fromData(/^PublishOutputRefCacheReplicationGroup/)]] },
        },
        {
          Sid: 'RestartTheServices',
          Effect: 'Allow',
          Action: ['ecs:DescribeServices', 'ecs:UpdateService'],
          Resource: [{ Ref: expect.stringMatching(/^WebService/) }, { Ref: expect.stringMatching(/^WorkerService/) }],
        },
        { Sid: 'ListTheirTasks', Effect: 'Allow', Action: 'ecs:ListTasks', Resource: '*', Condition: { ArnEquals: { 'ecs:cluster': { 'Fn::GetAtt': [cluster.Ref, 'Arn'] } } } },
        {
          Sid: 'ReadTheirTasks',
          Effect: 'Allow',
          Action: 'ecs:DescribeTasks',
          Resource: { 'Fn::Join': ['', [`arn:aws:ecs:${config.region}:${config.account}:task/`, cluster, '/*']] },
        },
      ]);
    });

    test('it reaches the cache: the cache group admits it on 6379, its own group lets out HTTPS and 6379 only', () => {
      const group = byPrefix(app(name), 'AWS::EC2::SecurityGroup', 'CacheTokenRotationSecurityGroup').Properties;
      expect(group.SecurityGroupIngress).toBeUndefined();
      expect(group.SecurityGroupEgress).toEqual([
        { CidrIp: '0.0.0.0/0', Description: 'HTTPS to the Secrets Manager, ElastiCache and ECS APIs', FromPort: 443, IpProtocol: 'tcp', ToPort: 443 },
      ]);
      const own = { 'Fn::GetAtt': [expect.stringMatching(/^CacheTokenRotationSecurityGroup/), 'GroupId'] };
      const cacheGroup = fromData(/^PublishOutputFnGetAttCacheSecurityGroup/);
      const mine = (type: string) => Object.values(app(name).findResources(type)).filter((r) => JSON.stringify(r.Properties).includes('CacheTokenRotationSecurityGroup'));
      expect(mine('AWS::EC2::SecurityGroupEgress').map((r) => r.Properties)).toEqual([
        { Description: 'AUTH token rotation tests tokens', GroupId: own, DestinationSecurityGroupId: cacheGroup, IpProtocol: 'tcp', FromPort: 6379, ToPort: 6379 },
      ]);
      expect(mine('AWS::EC2::SecurityGroupIngress').map((r) => r.Properties)).toEqual([
        { Description: 'AUTH token rotation tests tokens', GroupId: cacheGroup, SourceSecurityGroupId: own, IpProtocol: 'tcp', FromPort: 6379, ToPort: 6379 },
      ]);
    });

    test('its settings: the stage, the secret, the group and its endpoint, the cluster and both services', () => {
      const fn = app(name).findResources('AWS::Lambda::Function')[fnId()].Properties;
      expect(fn.Timeout).toBe(900);
      expect(fn.Environment.Variables).toEqual({
        NODE_OPTIONS: '--enable-source-maps',
        STAGE: name,
        SECRET_ARN: secret(),
        REPLICATION_GROUP_ID: fromData(/^PublishOutputRefCacheReplicationGroup/),
        CACHE_HOST: fromData(/^PublishOutputFnGetAttCacheReplicationGroup.*PrimaryEndPointAddress/),
        CACHE_PORT: '6379',
        CLUSTER: { Ref: expect.stringMatching(/^Cluster/) },
        SERVICES: {
          'Fn::Join': ['', [{ 'Fn::GetAtt': [expect.stringMatching(/^WebService/), 'Name'] }, ',', { 'Fn::GetAtt': [expect.stringMatching(/^WorkerService/), 'Name'] }]],
        },
      });
    });
  });

  test('outputs for people and scripts', () => {
    const outputs = Object.keys(app(name).findOutputs('*'));
    // The site's URL is the edge stack's where CloudFront serves its own name (no domain).
    const siteUrlHere = !(config.edge.enabled && !config.domain);
    expect(outputs.includes('SiteUrl')).toBe(siteUrlHere);
    if (config.edge.enabled) expect(Object.keys(synthesized[name].edge!.findOutputs('*'))).toContain('SiteUrl');
    expect(outputs).toEqual(
      expect.arrayContaining([
        'AlbDnsName',
        'ClusterName',
        'WebServiceName',
        'WorkerServiceName',
        'WebLogGroup',
        'WorkerLogGroup',
        'MigrationLogGroup',
        'PreDeploySnapshotLogGroup',
        'PreDeploySnapshotPollLogGroup',
        'CacheTokenRotationFunctionName',
      ]),
    );
  });
});

test('-c imageTag with a digest deploys that exact image', () => {
  const digest = `sha256:${'b'.repeat(64)}`;
  const { app: t } = synthStage('staging', { imageTag: digest });
  const image = JSON.stringify(byPrefix(t, 'AWS::ECS::TaskDefinition', 'WebTaskTaskDefinition').Properties.ContainerDefinitions[0].Image);
  expect(image).toContain(`/webapp@${digest}`);
});
