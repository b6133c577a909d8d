import { existsSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { STAGE_NAMES, type StageName } from '../../lib/config';
import { QUEUE_HEALTH_SCHEDULE, queueHealthEntry } from '../../lib/ops/queue-health';
import { byPrefix, policyStatements, resources, stageTemplates } from '../support/template';

const stages = stageTemplates();
const WATCHED = STAGE_NAMES.filter((name) => name !== 'dev');

test('the shipped stages that read their queues are staging and prod, with the app contract queues', () => {
  expect(STAGE_NAMES.filter((name) => stages[name].stage.config.operations.queues.enabled)).toEqual(WATCHED);
  for (const name of WATCHED) expect(stages[name].stage.config.operations.queues).toMatchObject({ names: ['email', 'default'], bullmqMajor: 5, prefix: 'bull' });
});

test('each BullMQ major has a handler module bundling its reader', () => {
  expect(queueHealthEntry(6)).toMatch(/lambda\/queue-health\/index\.ts$/);
  expect(queueHealthEntry(5)).toMatch(/lambda\/queue-health\/index-v5\.ts$/);
  for (const major of [5, 6] as const) expect(existsSync(queueHealthEntry(major))).toBe(true);
});

describe.each(WATCHED)('%s: the queue health check', (name: StageName) => {
  const ops = () => stages[name].ops;
  const config = () => stages[name].stage.config;
  const fnId = () => Object.keys(ops().findResources('AWS::Lambda::Function')).find((id) => id.startsWith('QueueHealthHandler'))!;
  const groupId = () => Object.keys(ops().findResources('AWS::EC2::SecurityGroup')).find((id) => id.startsWith('QueueHealthSecurityGroup'))!;

  test('runs on the project runtime in the private subnets, with the cache endpoint, the token secret and the queues', () => {
    const fn = byPrefix(ops(), 'AWS::Lambda::Function', 'QueueHealthHandler').Properties;
    expect(fn).toMatchObject({ Runtime: 'nodejs24.x', Architectures: ['arm64'], Handler: 'index.handler', Timeout: 30 });
    const vars = fn.Environment.Variables;
    expect(vars).toMatchObject({ STAGE: name, CACHE_PORT: '6379', QUEUES: 'email,default', PREFIX: 'bull', BULLMQ_MAJOR: '5' });
    expect(JSON.stringify(vars.CACHE_HOST)).toContain('PrimaryEndPointAddress');
    expect(JSON.stringify(vars.SECRET_ARN)).toContain('CacheAuthToken');
    expect(JSON.stringify(fn.VpcConfig.SubnetIds)).toMatch(/PrivateSubnet1.*PrivateSubnet2/);
    const logs = byPrefix(ops(), 'AWS::Logs::LogGroup', 'QueueHealthHandlerLogs').Properties;
    expect(logs.RetentionInDays).toBe(config().logRetentionDays);
  });

  test('may reach the cache on its port and the AWS APIs over HTTPS, nothing else; the cache group admits it', () => {
    const [group] = resources(ops(), 'AWS::EC2::SecurityGroup').filter((g) => g.Properties.GroupDescription.startsWith('Queue health check'));
    expect(group.Properties.SecurityGroupEgress).toEqual([
      { CidrIp: '0.0.0.0/0', Description: 'HTTPS to the Secrets Manager and CloudWatch APIs', FromPort: 443, IpProtocol: 'tcp', ToPort: 443 },
    ]);
    const egress = resources(ops(), 'AWS::EC2::SecurityGroupEgress').filter((r) => JSON.stringify(r.Properties.GroupId).includes(groupId()));
    expect(egress).toHaveLength(1);
    expect(egress[0].Properties).toMatchObject({ IpProtocol: 'tcp', FromPort: 6379, ToPort: 6379, Description: 'Queue health check reads the queues' });
    expect(JSON.stringify(egress[0].Properties.DestinationSecurityGroupId)).toContain('CacheSecurityGroup');
    const ingress = resources(ops(), 'AWS::EC2::SecurityGroupIngress').filter((r) => JSON.stringify(r.Properties.SourceSecurityGroupId).includes(groupId()));
    expect(ingress).toHaveLength(1);
    expect(ingress[0].Properties).toMatchObject({ IpProtocol: 'tcp', FromPort: 6379, ToPort: 6379, Description: 'Queue health check reads the queues' });
    expect(JSON.stringify(ingress[0].Properties.GroupId)).toContain('CacheSecurityGroup');
  });

  test('may read only the cache AUTH token, through its key, and publish only into webapp/Queues', () => {
    const statements = policyStatements(ops(), /^QueueHealthHandler/);
    expect(statements).toEqual([
      { Sid: 'ReadTheCacheToken', Effect: 'Allow', Action: 'secretsmanager:GetSecretValue', Resource: expect.anything() },
      {
        Sid: 'ThroughTheCacheKey',
        Effect: 'Allow',
        Action: 'kms:Decrypt',
        Resource: expect.anything(),
        Condition: { StringEquals: { 'kms:ViaService': `secretsmanager.${config().region}.amazonaws.com` } },
      },
      {
        Sid: 'PublishTheQueueHealth',
        Effect: 'Allow',
        Action: 'cloudwatch:PutMetricData',
        Resource: '*',
        Condition: { StringEquals: { 'cloudwatch:namespace': 'webapp/Queues' } },
      },
    ]);
    expect(JSON.stringify(statements[0].Resource)).toContain('CacheAuthToken');
    expect(JSON.stringify(statements[1].Resource)).toContain('CacheKey');
  });

  test('runs every minute, on a schedule that invokes only it, without retries', () => {
    const scheduled = resources(ops(), 'AWS::Events::Rule').filter((r) => r.Properties.ScheduleExpression && JSON.stringify(r.Properties.Targets).includes(fnId()));
    expect(scheduled).toHaveLength(1);
    expect(scheduled[0].Properties).toMatchObject({
      ScheduleExpression: QUEUE_HEALTH_SCHEDULE,
      State: 'ENABLED',
      Targets: [{ Arn: { 'Fn::GetAtt': [fnId(), 'Arn'] }, Id: 'Target0', RetryPolicy: { MaximumRetryAttempts: 0 } }],
    });
    expect(QUEUE_HEALTH_SCHEDULE).toBe('rate(1 minute)');
    // Nor does Lambda retry a failed invoke by itself (twice, by default).
    const invokeConfigs = resources(ops(), 'AWS::Lambda::EventInvokeConfig').filter((r) => JSON.stringify(r.Properties.FunctionName).includes(fnId()));
    expect(invokeConfigs.map((r) => r.Properties.MaximumRetryAttempts)).toEqual([0]);
  });

  test('pages per queue when its first job waits too long or the check is blind, and when jobs wait without progress', () => {
    const alarms = resources(ops(), 'AWS::CloudWatch::Alarm').filter((a) => (a.Properties.AlarmName as string).startsWith(`${name}-queue-`));
    const { oldestWaitingSeconds, noProgressMinutes } = config().operations.queues;
    expect(alarms.map((a) => a.Properties.AlarmName).sort()).toEqual([
      `${name}-queue-no-progress-default`,
      `${name}-queue-no-progress-email`,
      `${name}-queue-oldest-job-age-default`,
      `${name}-queue-oldest-job-age-email`,
    ]);
    const byName = (n: string) => alarms.find((a) => a.Properties.AlarmName === `${name}-${n}`)!.Properties;
    expect(byName('queue-oldest-job-age-email')).toMatchObject({
      Namespace: 'webapp/Queues',
      MetricName: 'OldestWaitingSeconds',
      Dimensions: [
        { Name: 'Queue', Value: 'email' },
        { Name: 'Stage', Value: name },
      ],
      Statistic: 'Maximum',
      Period: 60,
      Threshold: oldestWaitingSeconds,
      EvaluationPeriods: 5,
      DatapointsToAlarm: 5,
      ComparisonOperator: 'GreaterThanThreshold',
      TreatMissingData: 'breaching',
    });
    expect(byName('queue-oldest-job-age-email').AlarmDescription).toContain('Runbook: docs/alarms.md#queue-oldest-job-age');
    const noProgress = byName('queue-no-progress-default');
    expect(noProgress).toMatchObject({
      Threshold: 0,
      EvaluationPeriods: noProgressMinutes,
      DatapointsToAlarm: noProgressMinutes,
      ComparisonOperator: 'GreaterThanThreshold',
      TreatMissingData: 'notBreaching',
    });
    expect(noProgress.AlarmDescription).toContain('Runbook: docs/alarms.md#queue-no-progress');
    const [expression, ...read] = noProgress.Metrics;
    expect(expression).toMatchObject({ Expression: 'IF(waiting > 0 AND finished == 0, 1, 0)', ReturnData: true });
    expect(read.map((m: { Id: string; MetricStat: { Metric: { MetricName: string }; Stat: string } }) => [m.Id, m.MetricStat.Metric.MetricName, m.MetricStat.Stat])).toEqual([
      ['waiting', 'Waiting', 'Maximum'],
      ['finished', 'Finished', 'Sum'],
    ]);
  });

  test('the dashboard graphs the queues the function reads', () => {
    const [dashboard] = Object.values(ops().findResources('AWS::CloudWatch::Dashboard'));
    const body = JSON.stringify(dashboard.Properties.DashboardBody);
    for (const title of ['Queues: jobs waiting (with due delayed)', 'Queues: oldest waiting job (s)', 'Queues: jobs finished a minute', 'Queues: active and failed jobs']) {
      expect(body).toContain(title);
    }
    expect(body).toContain('\\"Queue\\",\\"email\\"');
  });
});

test('a stage with the queue check off reads nothing and publishes nothing (dev, as shipped)', () => {
  const { ops, app } = stages.dev;
  expect(Object.keys(ops.findResources('AWS::Lambda::Function')).filter((id) => id.startsWith('QueueHealth'))).toEqual([]);
  expect(JSON.stringify(ops.toJSON())).not.toContain('webapp/Queues');
  // The worker no longer publishes the queues itself: no task role may.
  for (const name of STAGE_NAMES) expect(JSON.stringify(stages[name].app.findResources('AWS::IAM::Policy'))).not.toContain('webapp/Queues');
  expect(JSON.stringify(app.toJSON())).not.toContain('webapp/Queues');
});
