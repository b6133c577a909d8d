import { describe } from 'vitest';
import { accepts, type Patch, rejects } from './stage-variant';

const ELEVEN_EMAILS = Array.from({ length: 11 }, (_, i) => `oncall${i}@example.com`);

describe('alarms and operations', () => {
  describe('refuses a bad definition, naming stage, field, value and fix', () => {
    rejects([
      {
        what: 'prod pages to no pager',
        stage: 'prod',
        patch: { alarms: { httpsEndpoints: [] } },
        field: 'alarms',
        value: '{"emails":["oncall@example.com"],"httpsEndpoints":[]}',
        fix: /pages would reach no pager.*Fix: add the pager's integration URL to alarms\.httpsEndpoints.*or set alarms\.slack\.pageChannelId/,
      },
      {
        what: 'prod pages to a ticket channel only',
        stage: 'prod',
        patch: { alarms: { httpsEndpoints: [], slack: { workspaceId: 'T0123ABCD', ticketChannelId: 'C0456EFGH' } } },
        field: 'alarms',
        value: '{"emails":["oncall@example.com"],"httpsEndpoints":[],"slack":{"workspaceId":"T0123ABCD","ticketChannelId":"C0456EFGH"}}',
        fix: /pages would reach no pager/,
      },
      {
        what: 'a Slack workspace by name',
        stage: 'staging',
        patch: { alarms: { slack: { workspaceId: 'acme', pageChannelId: 'C0123ABCD' } } },
        field: 'alarms.slack.workspaceId',
        value: '"acme"',
        fix: /not a Slack workspace id\. Fix: .*after authorising the workspace/,
      },
      {
        what: 'a Slack channel by name',
        stage: 'staging',
        patch: { alarms: { slack: { workspaceId: 'T0123ABCD', pageChannelId: '#oncall' } } },
        field: 'alarms.slack.pageChannelId',
        value: '"#oncall"',
        fix: /not a Slack channel id\. Fix: copy it from the channel's link/,
      },
      {
        what: 'one Slack channel for both routes',
        stage: 'staging',
        patch: { alarms: { slack: { workspaceId: 'T0123ABCD', pageChannelId: 'C0123ABCD', ticketChannelId: 'C0123ABCD' } } },
        field: 'alarms.slack.ticketChannelId',
        value: '"C0123ABCD"',
        fix: /would get every page twice\. Fix: give alarms\.slack\.ticketChannelId another channel/,
      },
      {
        what: 'invalid alarm email',
        stage: 'staging',
        patch: { alarms: { emails: ['oncall-at-example.com'] } },
        field: 'alarms.emails.0',
        value: '"oncall-at-example.com"',
        fix: /not an email address/,
      },
      {
        what: 'more alarm emails than AWS Budgets notifies',
        stage: 'staging',
        patch: { alarms: { emails: ELEVEN_EMAILS } },
        field: 'alarms.emails',
        value: JSON.stringify(ELEVEN_EMAILS),
        fix: /at most 10 email addresses.*Fix: list at most 10/,
      },
      {
        what: 'the same alarm email twice',
        stage: 'staging',
        patch: { alarms: { emails: ['a@example.com', 'a@example.com'] } },
        field: 'alarms.emails.1',
        value: '"a@example.com"',
        fix: /listed twice: each address once/,
      },
      {
        what: 'the same alarm endpoint twice',
        stage: 'staging',
        patch: { alarms: { httpsEndpoints: ['https://x.example.com/h', 'https://x.example.com/h'] } },
        field: 'alarms.httpsEndpoints.1',
        value: '"https://x.example.com/h"',
        fix: /listed twice: each endpoint once/,
      },
      {
        what: 'zero percent',
        stage: 'dev',
        patch: { operations: { ecsCpuPercent: 0 } },
        field: 'operations.ecsCpuPercent',
        value: '0',
        fix: /must be above 0\. Fix: use a value above 0 and at most 100/,
      },
      {
        what: '5xx alarm above 100%',
        stage: 'prod',
        patch: { operations: { http5xxRatePercent: 150 } },
        field: 'operations.http5xxRatePercent',
        value: '150',
        fix: /at most 100\. Fix: use a value above 0 and at most 100/,
      },
      {
        what: 'negative alarm threshold',
        stage: 'dev',
        patch: { operations: { rdsLatencySeconds: -1 } },
        field: 'operations.rdsLatencySeconds',
        value: '-1',
        fix: /must be above 0\. Fix: use a number of seconds above 0/,
      },
      {
        what: 'unknown operations field',
        stage: 'dev',
        patch: { operations: { cpuPercent: 80 } } as unknown as Patch,
        field: 'operations.cpuPercent',
        value: '80',
        fix: /unknown field/,
      },
      {
        what: 'prod without its SLO alarms',
        stage: 'prod',
        patch: { operations: { slo: { enabled: false } } },
        field: 'operations.slo.enabled',
        value: 'false',
        fix: /prod must page when its error budget burns\. Fix: set operations\.slo\.enabled: true/,
      },
      {
        what: 'an availability objective no budget can meet',
        stage: 'staging',
        patch: { operations: { slo: { availabilityPercent: 99.999 } } },
        field: 'operations.slo.availabilityPercent',
        value: '99.999',
        fix: /a budget under 0\.01% is exhausted by a handful of failed requests\. Fix: use 90 to 99\.99/,
      },
      {
        what: 'an availability objective that allows days of errors',
        stage: 'dev',
        patch: { operations: { slo: { availabilityPercent: 80 } } },
        field: 'operations.slo.availabilityPercent',
        value: '80',
        fix: /leaves more than 3 days of errors a month\. Fix: use 90 to 99\.99/,
      },
      {
        what: 'a latency objective over most requests',
        stage: 'dev',
        patch: { operations: { slo: { latencyPercent: 40 } } },
        field: 'operations.slo.latencyPercent',
        value: '40',
        fix: /says nothing about most requests\. Fix: use 50 to 99\.9/,
      },
      {
        what: 'a latency threshold of a minute',
        stage: 'prod',
        patch: { operations: { slo: { latencyThresholdMs: 60000 } } },
        field: 'operations.slo.latencyThresholdMs',
        value: '60000',
        fix: /more than 30 s is not a latency objective\. Fix: use 10 to 30000 ms/,
      },
      {
        what: 'alarm endpoint over plain HTTP',
        stage: 'staging',
        patch: { alarms: { httpsEndpoints: ['http://events.example.com/hook'] } },
        field: 'alarms.httpsEndpoints.0',
        value: '"http://events.example.com/hook"',
        fix: /not an https:\/\/ URL/,
      },
    ]);
  });

  describe('takes values on the edge of each rule', () => {
    accepts([
      { what: 'prod alarms reaching only an HTTPS endpoint', stage: 'prod', patch: { alarms: { emails: [], httpsEndpoints: ['https://events.example.com/hook'] } } },
      { what: 'prod paging a Slack channel only', stage: 'prod', patch: { alarms: { httpsEndpoints: [], slack: { workspaceId: 'T0123ABCD', pageChannelId: 'C0123ABCD' } } } },
      { what: 'a stage with no pager (its pages reach the emails)', stage: 'staging', patch: { alarms: { httpsEndpoints: [] } } },
    ]);
  });
});
