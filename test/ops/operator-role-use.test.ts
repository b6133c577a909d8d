import { randomUUID } from 'node:crypto';
import { CloudWatchLogsClient, CreateLogGroupCommand, FilterLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { CreateEventBusCommand, EventBridgeClient, PutEventsCommand, PutRuleCommand, PutTargetsCommand } from '@aws-sdk/client-eventbridge';
import { describe, expect, test } from 'vitest';
import { BREAK_GLASS_ASSUMED_METRIC } from '../../lib/baseline/audit-trail';
import { loadStages, type StageName } from '../../lib/config';
import { WITH_READ_ONLY_MANAGEMENT_EVENTS } from '../../lib/ops/operator-role-use';
import { MOTO_ACCOUNT, startMoto } from '../support/moto';
import { type Json, resources, stageTemplates } from '../support/template';

/**
 * The rules on the uses of the people's roles, taken from the synthesized ops stacks and run by
 * moto's EventBridge against what CloudTrail delivers for an AssumeRole. Moto delivers to log
 * groups, not SNS topics, so each rule's target here is a log group with the template's input
 * transformer.
 */
const stages = stageTemplates();
const { all } = loadStages({});
const config = (name: StageName) => all.find((c) => c.name === name)!;

const ruleOf = (name: StageName, id: string): Json | undefined =>
  Object.entries(stages[name].ops.findResources('AWS::Events::Rule')).find(([logicalId]) => logicalId.startsWith(`OperatorRoleUse${id}`))?.[1];

/** The template's value with the partition resolved (the ARNs are joined with AWS::Partition). */
const resolved = (node: Json): Json => {
  if (Array.isArray(node)) return node.map(resolved);
  if (node === null || typeof node !== 'object') return node;
  if (node.Ref === 'AWS::Partition') return 'aws';
  if (node['Fn::Join']) return (resolved(node['Fn::Join'][1]) as string[]).join(node['Fn::Join'][0]);
  return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, resolved(v)]));
};

/** CloudTrail's record of an AssumeRole of `roleArn` (the detail EventBridge receives). */
const assumeRole = (account: string, roleArn: string, errorCode?: string): Json => ({
  eventVersion: '1.08',
  userIdentity: { type: 'AssumedRole', arn: `arn:aws:sts::${account}:assumed-role/AWSReservedSSO_WebappOnCall_0123456789abcdef/alice` },
  eventSource: 'sts.amazonaws.com',
  eventName: 'AssumeRole',
  awsRegion: 'eu-west-1',
  sourceIPAddress: '198.51.100.7',
  requestParameters: { roleArn, roleSessionName: 'alice' },
  readOnly: true,
  ...(errorCode ? { errorCode } : {}),
});

describe('each use of an operator role is told on the alarm topic', () => {
  test.each(['staging', 'prod'] as const)(
    '%s: AssumeRole of its on-call role (a ticket) and of the break-glass role (a page) reach their rules, nothing else does',
    async (name) => {
      const moto = await startMoto();
      const events = new EventBridgeClient(moto.clientConfig());
      const logs = new CloudWatchLogsClient(moto.clientConfig());
      const { account, backup } = config(name);
      const role = (n: string) => `arn:aws:iam::${account}:role/${n}`;
      const suffix = randomUUID().slice(0, 8);
      const bus = `roles-${suffix}`;
      await events.send(new CreateEventBusCommand({ Name: bus }));
      const rules = { onCall: ruleOf(name, 'OnCallUsed')!, breakGlass: ruleOf(name, 'BreakGlassUsed')! };
      for (const [kind, rule] of Object.entries(rules)) {
        // AssumeRole is a read-only management event: a plain ENABLED rule never receives it.
        expect(rule.Properties.State).toBe(WITH_READ_ONLY_MANAGEMENT_EVENTS);
        expect(rule.Properties.Targets).toHaveLength(1);
        await logs.send(new CreateLogGroupCommand({ logGroupName: `${kind}-${suffix}` }));
        await events.send(new PutRuleCommand({ Name: `${kind}-${suffix}`, EventBusName: bus, EventPattern: JSON.stringify(resolved(rule.Properties.EventPattern)) }));
        await events.send(
          new PutTargetsCommand({
            Rule: `${kind}-${suffix}`,
            EventBusName: bus,
            Targets: [
              { Id: 'topic', Arn: `arn:aws:logs:eu-west-1:${MOTO_ACCOUNT}:log-group:${kind}-${suffix}`, InputTransformer: resolved(rule.Properties.Targets[0].InputTransformer) },
            ],
          }),
        );
      }
      const calls = [
        assumeRole(account, role(`webapp-${name}-on-call`)),
        assumeRole(account, role(backup.breakGlassRoleName)),
        // A refused attempt is news too.
        assumeRole(account, role(backup.breakGlassRoleName), 'AccessDenied'),
        assumeRole(account, role('webapp-dev-on-call')),
        assumeRole(account, role(`${backup.breakGlassRoleName}-2`)),
      ];
      const entries = [
        ...calls.map((detail) => ({ Source: 'aws.sts', Detail: JSON.stringify(detail) })),
        // The same detail from another source matches nothing.
        { Source: 'my.app', Detail: JSON.stringify(calls[1]) },
      ].map((e) => ({ ...e, DetailType: 'AWS API Call via CloudTrail', EventBusName: bus }));
      expect((await events.send(new PutEventsCommand({ Entries: entries }))).FailedEntryCount).toBe(0);
      const delivered = async (kind: string) =>
        ((await logs.send(new FilterLogEventsCommand({ logGroupName: `${kind}-${suffix}` }))).events ?? []).map((e) => JSON.parse(e.message!) as string);
      const onCall = await delivered('onCall');
      const breakGlass = await delivered('breakGlass');
      expect(onCall).toHaveLength(1);
      expect(onCall[0]).toMatch(
        new RegExp(
          `^webapp-${name}-on-call assumed by arn:aws:sts::${account}:assumed-role/AWSReservedSSO_WebappOnCall_0123456789abcdef/alice in eu-west-1 from 198\\.51\\.100\\.7 \\(session alice; .*\\)\\. Runbook: docs/alarms\\.md#on-call-role-used$`,
        ),
      );
      expect(breakGlass).toHaveLength(2);
      expect(breakGlass.every((m) => m.startsWith(`${backup.breakGlassRoleName} assumed by `) && m.endsWith('Runbook: docs/alarms.md#break-glass-used'))).toBe(true);
      expect(breakGlass.some((m) => m.includes('error code if refused: AccessDenied'))).toBe(true);
    },
  );

  test('break-glass pages from the trail count, which every region feeds, where the stage pages on it; dev only notifies', () => {
    for (const name of ['staging', 'prod'] as const) {
      const [alarm] = resources(stages[name].ops, 'AWS::CloudWatch::Alarm').filter((a) => a.Properties.AlarmName === `${name}-break-glass-used`);
      expect(alarm.Properties).toMatchObject({ MetricName: BREAK_GLASS_ASSUMED_METRIC, Threshold: 0, EvaluationPeriods: 1, TreatMissingData: 'notBreaching' });
    }
    expect(config('dev').access.pageOnUse).toBe(false);
    expect(resources(stages.dev.ops, 'AWS::CloudWatch::Alarm').filter((a) => a.Properties.AlarmName === 'dev-break-glass-used')).toEqual([]);
    expect(ruleOf('dev', 'BreakGlassUsed')).toBeDefined();
    // dev names no on-call people: no role, no rule.
    expect(ruleOf('dev', 'OnCallUsed')).toBeUndefined();
  });
});
