import { Match } from 'aws-cdk-lib/assertions';
import { describe, expect, test } from 'vitest';
import { DATABASE_ROLES } from '../../lambda/database-setup/roles';
import { parseStageConfig, STAGE_NAMES, STAGES } from '../../lib/config';
import { stackOutput, synthStage } from '../support/synth';
import { byPrefix, only, policyStatements, stageTemplates } from '../support/template';

const stages = stageTemplates();

describe.each(STAGE_NAMES)('%s release migration', (name) => {
  const config = parseStageConfig(STAGES[name]);

  test("the shipped config migrates every release with the app image's migrate entry point", () => {
    expect(config.app.migrationCommand).toEqual(['node', 'dist/migrate.js']);
    expect(config.app.migrationTimeoutMinutes).toBe(30);
  });

  test('runs after the pre-deploy snapshot and before both services, never before the cluster is ready', () => {
    const t = stages[name].app;
    const { id: migration, resource } = only(t, 'Custom::DatabaseMigration');
    const { id: snapshot } = only(t, 'Custom::PreDeploySnapshot');
    expect(resource.DependsOn).toEqual(expect.arrayContaining([snapshot, expect.stringMatching(/^Cluster/)]));
    for (const service of Object.values(t.findResources('AWS::ECS::Service'))) expect(service.DependsOn).toEqual(expect.arrayContaining([migration, snapshot]));
    // The release id is the snapshot's: a new migration command is a new release.
    expect(resource.Properties.Release).toEqual(only(t, 'Custom::PreDeploySnapshot').resource.Properties.Release);
    expect(resource.Properties).toMatchObject({
      Stage: name,
      Container: 'app',
      StreamPrefix: 'migrationtask',
      TimeoutMinutes: '30',
      RecordPrefix: `/webapp/${name}/migrated-releases`,
    });
  });

  test('the task runs the release image with the migration command as the migration role, and gets no secret', () => {
    const t = stages[name].app;
    const task = byPrefix(t, 'AWS::ECS::TaskDefinition', 'MigrationTaskTaskDefinition');
    const web = byPrefix(t, 'AWS::ECS::TaskDefinition', 'WebTaskTaskDefinition');
    const [container] = task.Properties.ContainerDefinitions;
    expect(container.Image).toEqual(web.Properties.ContainerDefinitions[0].Image);
    expect(container.Command).toEqual(config.app.migrationCommand);
    expect(container.Environment).toContainEqual({ Name: 'DATABASE_USER', Value: DATABASE_ROLES.migrator });
    expect(container.Secrets).toBeUndefined();
    // Its one managed policy: the data stack's IAM login as the migration role.
    const role = byPrefix(t, 'AWS::IAM::Role', 'MigrationTaskTaskDefinitionTaskRole');
    expect(role.Properties.ManagedPolicyArns).toEqual([
      stackOutput({ StackName: `${name}-Data`, Region: config.region, OutputName: expect.stringMatching(/^PublishOutputRefDatabaseConnectwebappmigrator/) }),
    ]);
    stages[name].data.hasResourceProperties('AWS::IAM::ManagedPolicy', {
      PolicyDocument: {
        Statement: [Match.objectLike({ Action: 'rds-db:connect', Resource: `arn:aws:rds-db:${config.region}:${config.account}:dbuser:*/${DATABASE_ROLES.migrator}` })],
      },
    });
  });

  test('the functions may run only the migration task definition, pass only its roles, and read only its logs', () => {
    const t = stages[name].app;
    const statements = policyStatements(t, /^Migration(Handler|IsComplete)Function/);
    const sid = (s: string) => statements.find((st) => st.Sid === s);
    const family = byPrefix(t, 'AWS::ECS::TaskDefinition', 'MigrationTaskTaskDefinition').Properties.Family;
    expect(sid('RunTheMigrationTask')).toMatchObject({
      Action: 'ecs:RunTask',
      Resource: `arn:aws:ecs:${config.region}:${config.account}:task-definition/${family}:*`,
      Condition: { ArnEquals: { 'ecs:cluster': { 'Fn::GetAtt': [expect.stringMatching(/^Cluster/), 'Arn'] } } },
    });
    expect(sid('PassItsRoles')).toMatchObject({
      Action: 'iam:PassRole',
      Resource: [
        { 'Fn::GetAtt': [expect.stringMatching(/^MigrationTaskTaskDefinitionExecutionRole/), 'Arn'] },
        { 'Fn::GetAtt': [expect.stringMatching(/^MigrationTaskTaskDefinitionTaskRole/), 'Arn'] },
      ],
      Condition: { StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } },
    });
    expect(sid('TagItAtStart')?.Condition).toEqual({ StringEquals: { 'ecs:CreateAction': 'RunTask' } });
    expect(JSON.stringify(sid('ReadItsLogs')?.Resource)).toMatch(/log-group:",\{"Ref":"MigrationTaskLogs[0-9A-F]{8}"\},":log-stream:\*"/);
    expect(sid('SeeARollback')).toMatchObject({ Action: 'cloudformation:DescribeStacks', Resource: { Ref: 'AWS::StackId' } });
    // One record per database (its resource id): only under the stage's prefix, and only the stage database is read.
    expect(sid('RecordMigratedReleases')?.Resource).toBe(`arn:aws:ssm:${config.region}:${config.account}:parameter/webapp/${name}/migrated-releases/*`);
    expect(sid('IdentifyTheDatabase')?.Action).toBe('rds:DescribeDBInstances');
    expect(sid('IdentifyTheDatabase')?.Resource).toEqual({
      'Fn::Join': [
        '',
        [
          `arn:aws:rds:${config.region}:${config.account}:db:`,
          stackOutput({ StackName: `${name}-Data`, Region: config.region, OutputName: expect.stringMatching(/^PublishOutputRefDatabaseInstance/) }),
        ],
      ],
    });
    const actions = new Set(statements.flatMap((s) => [s.Action].flat()).filter((a: string) => !a.startsWith('ec2:') && !a.startsWith('logs:Create') && !a.startsWith('logs:Put')));
    expect([...actions].sort()).toEqual([
      'cloudformation:DescribeStacks',
      'ecs:DescribeTasks',
      'ecs:RunTask',
      'ecs:StopTask',
      'ecs:TagResource',
      'iam:PassRole',
      'logs:GetLogEvents',
      'rds:DescribeDBInstances',
      'ssm:GetParameter',
      'ssm:PutParameter',
    ]);
  });

  test('the task reaches the database on 5432 and HTTPS, nothing else', () => {
    const t = stages[name].app;
    t.hasResourceProperties('AWS::EC2::SecurityGroup', {
      GroupDescription: 'Migration task: to the database and HTTPS only',
      SecurityGroupEgress: [{ CidrIp: '0.0.0.0/0', FromPort: 443, ToPort: 443, IpProtocol: 'tcp', Description: 'HTTPS to AWS APIs and the image registry' }],
    });
    t.hasResourceProperties('AWS::EC2::SecurityGroupEgress', {
      FromPort: 5432,
      ToPort: 5432,
      GroupId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^MigrationTaskSecurityGroup'), 'GroupId'] },
    });
    t.hasResourceProperties('AWS::EC2::SecurityGroupIngress', {
      FromPort: 5432,
      ToPort: 5432,
      SourceSecurityGroupId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^MigrationTaskSecurityGroup'), 'GroupId'] },
    });
  });
});

test('without app.migrationCommand there is no migration step and the services wait for the snapshot only', () => {
  const t = synthStage('dev', { 'dev.app.migrationCommand': 'null' }).app;
  t.resourceCountIs('Custom::DatabaseMigration', 0);
  t.resourceCountIs('AWS::ECS::TaskDefinition', 2);
});
