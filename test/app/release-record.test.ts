import { Match } from 'aws-cdk-lib/assertions';
import { describe, expect, test } from 'vitest';
import { parseStageConfig, STAGE_NAMES, STAGES } from '../../lib/config';
import { RELEASE_METRICS_NAMESPACE } from '../../lib/shared/naming';
import { synthStage } from '../support/synth';
import { only, policyStatements, stageTemplates } from '../support/template';

const stages = stageTemplates();

describe.each(STAGE_NAMES)('%s release record', (name) => {
  const config = parseStageConfig(STAGES[name]);

  test('is written after both services reached the release, from the snapshot and the migration', () => {
    const t = stages[name].app;
    const { resource } = only(t, 'Custom::ReleaseRecord');
    const { id: snapshot, resource: snapshotResource } = only(t, 'Custom::PreDeploySnapshot');
    const { id: migration } = only(t, 'Custom::DatabaseMigration');
    const services = Object.keys(t.findResources('AWS::ECS::Service'));
    expect(services).toHaveLength(2);
    expect(resource.DependsOn).toEqual(expect.arrayContaining(services));
    expect(resource.Properties).toMatchObject({
      Stage: name,
      Release: snapshotResource.Properties.Release,
      Image: `webapp:${config.image.tag}`,
      SnapshotId: { 'Fn::GetAtt': [snapshot, 'SnapshotId'] },
      StartedAt: { 'Fn::GetAtt': [snapshot, 'StartedAt'] },
      MigrationSeconds: { 'Fn::GetAtt': [migration, 'DurationSeconds'] },
      MigrationTask: { 'Fn::GetAtt': [migration, 'TaskArn'] },
      MigrationStartedAt: { 'Fn::GetAtt': [migration, 'StartedAt'] },
      MigrationLogGroup: { Ref: expect.stringMatching(/^MigrationTaskLogs/) },
      MigrationStreamPrefix: 'migrationtask/app',
    });
    // A deploy that does not name its commit (a bare cdk deploy) records none.
    expect(resource.Properties.Commit).toBeUndefined();
  });

  test('may publish only its own metric namespace and to the default event bus, write only its stage parameter, read only the image and the migration log', () => {
    const statements = policyStatements(stages[name].app, /^ReleaseRecordHandlerFunction/);
    expect(statements.filter((s) => s.Sid)).toEqual([
      {
        Sid: 'PublishTheReleaseMetric',
        Effect: 'Allow',
        Action: 'cloudwatch:PutMetricData',
        Resource: '*',
        Condition: { StringEquals: { 'cloudwatch:namespace': RELEASE_METRICS_NAMESPACE } },
      },
      { Sid: 'PublishTheReleaseEvent', Effect: 'Allow', Action: 'events:PutEvents', Resource: `arn:aws:events:${config.region}:${config.account}:event-bus/default` },
      {
        Sid: 'WriteTheReleaseRecord',
        Effect: 'Allow',
        Action: ['ssm:GetParameter', 'ssm:GetParameterHistory', 'ssm:PutParameter'],
        Resource: `arn:aws:ssm:${config.region}:${config.account}:parameter/webapp/${name}/releases/current`,
      },
      { Sid: 'SeeARollback', Effect: 'Allow', Action: 'cloudformation:DescribeStacks', Resource: { Ref: 'AWS::StackId' } },
      { Sid: 'ReadTheImageDigest', Effect: 'Allow', Action: 'ecr:DescribeImages', Resource: `arn:aws:ecr:${config.region}:${config.account}:repository/webapp` },
      {
        Sid: 'ReadTheMigrationReport',
        Effect: 'Allow',
        Action: 'logs:GetLogEvents',
        Resource: { 'Fn::Join': ['', [`arn:aws:logs:${config.region}:${config.account}:log-group:`, { Ref: expect.stringMatching(/^MigrationTaskLogs/) }, ':log-stream:*']] },
      },
    ]);
  });

  test('the dashboard graphs the releases and their migration time', () => {
    const [dashboard] = Object.values(stages[name].ops.findResources('AWS::CloudWatch::Dashboard'));
    const body = JSON.stringify(dashboard.Properties.DashboardBody);
    expect(body).toContain(`\\"title\\":\\"Releases\\"`);
    expect(body).toMatch(new RegExp(`${RELEASE_METRICS_NAMESPACE}\\\\",\\\\"Release\\\\",\\\\"Stage\\\\",\\\\"${name}`));
  });
});

test('without a migration step the record carries no migration; -c commit is recorded', () => {
  const t = synthStage('dev', { 'dev.app.migrationCommand': 'null', commit: '0123456789abcdef0123456789abcdef01234567' }).app;
  const { resource } = only(t, 'Custom::ReleaseRecord');
  expect(resource.Properties.MigrationSeconds).toBeUndefined();
  expect(resource.Properties.MigrationTask).toBeUndefined();
  expect(resource.Properties.MigrationLogGroup).toBeUndefined();
  expect(resource.Properties.Commit).toBe('0123456789abcdef0123456789abcdef01234567');
  t.hasResourceProperties('Custom::ReleaseRecord', { SnapshotId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^PreDeploySnapshot'), 'SnapshotId'] } });
});
