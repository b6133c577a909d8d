import { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as events from 'aws-cdk-lib/aws-events';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sns from 'aws-cdk-lib/aws-sns';
import { describe, expect, test } from 'vitest';
import { defineRoutes } from '../../lib/ops/alarm-topic';
import { notifyingRule } from '../../lib/ops/ops-events';
import { testApp } from '../support/synth';
import { type Json, only, resources } from '../support/template';

/** The routes of one region with the given Slack settings, in a stack of their own. */
function routes(slack?: { workspaceId: string; pageChannelId?: string; ticketChannelId?: string }, suffix?: string): Template {
  const stack = new Stack(testApp(), 'Routes', { env: { account: '111111111111', region: 'eu-west-1' } });
  defineRoutes(stack, {
    stage: 'prod',
    emails: ['oncall@example.com'],
    httpsEndpoints: ['https://events.pagerduty.com/integration/abc/enqueue'],
    slack,
    suffix,
    logRetention: logs.RetentionDays.THREE_MONTHS,
  });
  return Template.fromStack(stack);
}

const topicNameOf = (t: Template, ref: Json) => t.toJSON().Resources[ref.Ref].Properties.TopicName;

describe('the routes of a region', () => {
  test('emails on the ticket topic, pagers on the paging topic, one key for both', () => {
    const t = routes();
    const subscriptions = resources(t, 'AWS::SNS::Subscription').map((s) => `${topicNameOf(t, s.Properties.TopicArn)} ${s.Properties.Protocol}`);
    expect(subscriptions.sort()).toEqual(['webapp-prod-alarms email', 'webapp-prod-page https']);
    expect(only(t, 'AWS::KMS::Key').id).toMatch(/^AlarmsKey/);
    expect(resources(t, 'AWS::Chatbot::SlackChannelConfiguration')).toEqual([]);
  });

  test('a Slack channel per route, read-only: a guardrail, a role that reads CloudWatch only, errors logged and kept', () => {
    const t = routes({ workspaceId: 'T0123ABCD', pageChannelId: 'C0123ABCD', ticketChannelId: 'C0456EFGH' });
    const channels = resources(t, 'AWS::Chatbot::SlackChannelConfiguration').map((c) => c.Properties);
    expect(channels.map((c) => [c.ConfigurationName, c.SlackChannelId, c.SnsTopicArns.map((r: Json) => topicNameOf(t, r))])).toEqual([
      ['webapp-prod-page', 'C0123ABCD', ['webapp-prod-page']],
      ['webapp-prod-alarms', 'C0456EFGH', ['webapp-prod-alarms']],
    ]);
    for (const c of channels) {
      expect(c.SlackWorkspaceId).toBe('T0123ABCD');
      // Without a guardrail, AWS applies AdministratorAccess to what the channel's members may run.
      expect(JSON.stringify(c.GuardrailPolicies)).toContain(':iam::aws:policy/CloudWatchReadOnlyAccess');
      expect(c.GuardrailPolicies).toHaveLength(1);
      expect(c.LoggingLevel).toBe('ERROR');
    }
    // The other role is CDK's log-retention function's.
    const [role] = Object.entries(t.findResources('AWS::IAM::Role'))
      .filter(([id]) => id.startsWith('ChatChannels'))
      .map(([, r]) => r.Properties);
    expect(role.AssumeRolePolicyDocument.Statement).toEqual([expect.objectContaining({ Principal: { Service: 'chatbot.amazonaws.com' }, Action: 'sts:AssumeRole' })]);
    expect(JSON.stringify(role.ManagedPolicyArns)).toContain(':iam::aws:policy/CloudWatchReadOnlyAccess');
    expect(role.ManagedPolicyArns).toHaveLength(1);
    expect(role.Policies).toBeUndefined();
    expect(resources(t, 'AWS::IAM::Policy').filter((p) => JSON.stringify(p.Properties.Roles).includes('ChatChannels'))).toEqual([]);
    for (const c of channels) expect(c.IamRoleArn['Fn::GetAtt'][0]).toMatch(/^ChatChannelsRole/);
    const retention = resources(t, 'Custom::LogRetention').map((r) => [r.Properties.LogGroupName, r.Properties.RetentionInDays, r.Properties.LogGroupRegion]);
    expect(retention).toEqual([
      ['/aws/chatbot/webapp-prod-page', 90, 'us-east-1'],
      ['/aws/chatbot/webapp-prod-alarms', 90, 'us-east-1'],
    ]);
  });

  test('a route without a channel gets no configuration', () => {
    const t = routes({ workspaceId: 'T0123ABCD', pageChannelId: 'C0123ABCD' });
    expect(resources(t, 'AWS::Chatbot::SlackChannelConfiguration').map((c) => c.Properties.ConfigurationName)).toEqual(['webapp-prod-page']);
  });
});

describe("a rule's message on routes with Slack channels", () => {
  const template = (chat: boolean) => {
    const stack = new Stack(testApp(), 'Rule', { env: { account: '111111111111', region: 'eu-west-1' } });
    const topic = new sns.Topic(stack, 'Topic');
    const field = events.EventField.fromPath('$.detail.reason');
    notifyingRule(
      stack,
      'Rule',
      { page: topic, ticket: topic, chat },
      { description: 'd', eventPattern: { source: ['aws.ecs'] }, severity: 'ticket', message: `a "quoted" ${field}. Runbook: docs/alarms.md#x` },
    );
    return only(Template.fromStack(stack), 'AWS::Events::Rule').resource.Properties.Targets[0].InputTransformer as { InputTemplate: string };
  };

  test('is the custom notification Amazon Q Developer in chat applications posts (it drops plain text); without channels, the text itself', () => {
    const chat = JSON.parse(template(true).InputTemplate.replace('<detail-reason>', 'stopped')) as Json;
    expect(chat).toEqual({ version: '1.0', source: 'custom', content: { description: 'a "quoted" stopped. Runbook: docs/alarms.md#x' } });
    expect(template(false).InputTemplate).toBe('"a \\"quoted\\" <detail-reason>. Runbook: docs/alarms.md#x"');
  });
});
