import { describe, expect, test } from 'vitest';
import { STAGE_NAMES, type StageName } from '../../lib/config';
import { pilotLightNames } from '../../lib/dr/pilot-light-names';
import { DRILL_AGE_SCHEDULE } from '../../lib/ops/failover-drill-age';
import { byPrefix, policyStatements, resources, stageTemplates } from '../support/template';

const stages = stageTemplates();
const WITH_PILOT_LIGHT = STAGE_NAMES.filter((name) => name !== 'dev');

test('the shipped stages with a pilot light are the ones watched here', () => {
  expect(STAGE_NAMES.filter((name) => stages[name].stage.config.dr.pilotLight)).toEqual(WITH_PILOT_LIGHT);
});

describe.each(WITH_PILOT_LIGHT)('%s: the failover drill age check', (name: StageName) => {
  const ops = () => stages[name].ops;
  const config = () => stages[name].stage.config;

  test('runs on the project runtime in the private subnets, logging to an encrypted group kept for the stage retention', () => {
    const fn = byPrefix(ops(), 'AWS::Lambda::Function', 'FailoverDrillAgeHandler').Properties;
    expect(fn).toMatchObject({ Runtime: 'nodejs24.x', Architectures: ['arm64'], Handler: 'index.handler', Timeout: 60 });
    expect(fn.Environment.Variables).toEqual({
      NODE_OPTIONS: '--enable-source-maps',
      STAGE: name,
      PARAMETER_NAME: pilotLightNames(name).lastDrillParameter,
      DRILL_INTERVAL_DAYS: String(config().dr.drillIntervalDays),
    });
    expect(JSON.stringify(fn.VpcConfig.SubnetIds)).toMatch(/PrivateSubnet1.*PrivateSubnet2/);
    const logs = byPrefix(ops(), 'AWS::Logs::LogGroup', 'FailoverDrillAgeHandlerLogs').Properties;
    expect(logs.RetentionInDays).toBe(config().logRetentionDays);
    expect(JSON.stringify(logs.KmsKeyId)).toContain(`${name}-Network/PublishOutputFnGetAttLogsKey`);
    const [group] = resources(ops(), 'AWS::EC2::SecurityGroup').filter((g) => g.Properties.GroupDescription.startsWith('Failover drill age'));
    expect(group.Properties.SecurityGroupEgress).toEqual([
      { CidrIp: '0.0.0.0/0', Description: 'HTTPS to the SSM and CloudWatch APIs', FromPort: 443, IpProtocol: 'tcp', ToPort: 443 },
    ]);
  });

  test("may read exactly the stage's last-drill parameter, in its region and account, and publish only its own namespace", () => {
    const { region, account } = config();
    expect(policyStatements(ops(), /^FailoverDrillAgeHandler/)).toEqual([
      { Sid: 'ReadTheLastDrill', Effect: 'Allow', Action: 'ssm:GetParameter', Resource: `arn:aws:ssm:${region}:${account}:parameter/webapp/${name}/dr/last-drill` },
      {
        Sid: 'PublishTheDrillAge',
        Effect: 'Allow',
        Action: 'cloudwatch:PutMetricData',
        Resource: '*',
        Condition: { StringEquals: { 'cloudwatch:namespace': 'webapp/Failover' } },
      },
    ]);
  });

  test('runs once a day, on a schedule that invokes only it', () => {
    const [fnId] = Object.keys(ops().findResources('AWS::Lambda::Function')).filter((id) => id.startsWith('FailoverDrillAgeHandler'));
    const scheduled = resources(ops(), 'AWS::Events::Rule').filter((r) => r.Properties.ScheduleExpression && JSON.stringify(r.Properties.Targets).includes(fnId));
    expect(scheduled).toHaveLength(1);
    expect(scheduled[0].Properties).toMatchObject({
      ScheduleExpression: DRILL_AGE_SCHEDULE,
      State: 'ENABLED',
      Targets: [{ Arn: { 'Fn::GetAtt': [fnId, 'Arn'] }, Id: 'Target0', RetryPolicy: { MaximumRetryAttempts: 2 } }],
    });
    expect(DRILL_AGE_SCHEDULE).toBe('cron(0 8 * * ? *)');
  });
});

test('a stage without a pilot light has no drill to watch', () => {
  const ops = stages.dev.ops;
  expect(Object.keys(ops.findResources('AWS::Lambda::Function')).filter((id) => id.startsWith('FailoverDrillAge'))).toEqual([]);
  expect(JSON.stringify(ops.toJSON())).not.toContain('webapp/Failover');
});
