import { describe } from 'vitest';
import { rejects } from './stage-variant';

describe('baseline', () => {
  describe('refuses a bad definition, naming stage, field, value and fix', () => {
    rejects([
      {
        what: 'prod without an audit trail or an organisation trail',
        stage: 'prod',
        patch: { baseline: { trail: { enabled: false, uploadsDataEvents: false } } },
        field: 'baseline.trail.enabled',
        value: 'false',
        fix: /prod must have an audit trail of its account\. Fix: set baseline\.trail\.enabled: true, or name the organisation trail/,
      },
      {
        what: 'prod keeping its trail less than a year',
        stage: 'prod',
        patch: { baseline: { trail: { retentionDays: 180 } } },
        field: 'baseline.trail.retentionDays',
        value: '180',
        fix: /prod must keep its audit trail at least a year\. Fix: set baseline\.trail\.retentionDays: 365 or more/,
      },
      {
        what: 'prod log files without Object Lock',
        stage: 'prod',
        patch: { baseline: { trail: { objectLock: 'off' } } },
        field: 'baseline.trail.objectLock',
        value: '"off"',
        fix: /prod must keep its log files under S3 Object Lock, .*\. Fix: set baseline\.trail\.objectLock: "governance" where the trail bucket does not exist yet \(it is created locked\), or "locked-bucket" where the trail already runs \(it moves to a bucket created with the lock; the first bucket keeps what it holds\)/,
      },
      {
        what: 'a trail of its own and an organisation trail',
        stage: 'staging',
        patch: { baseline: { trail: { organizationTrail: 'arn:aws:cloudtrail:eu-west-1:999999999999:trail/org' } } },
        field: 'baseline.trail.organizationTrail',
        value: '"arn:aws:cloudtrail:eu-west-1:999999999999:trail/org"',
        fix: /two copies of its management events\. Fix: set baseline\.trail\.enabled: false, or drop organizationTrail/,
      },
      {
        what: 'Security Hub without a recorder',
        stage: 'staging',
        patch: { baseline: { configRecorder: 'off' } },
        field: 'baseline.configRecorder',
        value: '"off"',
        fix: /Security Hub evaluates its controls on AWS Config recordings, and none would exist\. Fix: set baseline\.configRecorder: "stack"/,
      },
      {
        what: 'trail log files expiring before they are archived',
        stage: 'staging',
        patch: { baseline: { trail: { archiveAfterDays: 365 } } },
        field: 'baseline.trail.archiveAfterDays',
        value: '365',
        fix: /would expire \(after 365 days\) before they are archived\. Fix: use fewer days than baseline\.trail\.retentionDays/,
      },
      {
        what: 'data events without the trail',
        stage: 'dev',
        patch: { baseline: { trail: { enabled: false, uploadsDataEvents: true } } },
        field: 'baseline.trail.uploadsDataEvents',
        value: 'true',
        fix: /data events need the trail, which is off\. Fix: set baseline\.trail\.enabled: true/,
      },
      {
        what: 'a trail kept less than CloudTrail keeps its event history',
        stage: 'dev',
        patch: { baseline: { trail: { retentionDays: 30 } } },
        field: 'baseline.trail.retentionDays',
        value: '30',
        fix: /should outlive the 90 days of event history\. Fix: use 90 or more/,
      },
      {
        what: 'trail retention longer than S3 Object Lock keeps anything',
        stage: 'prod',
        patch: { baseline: { trail: { retentionDays: 40000 } } },
        field: 'baseline.trail.retentionDays',
        value: '40000',
        fix: /S3 Object Lock keeps an object at most 100 years.*Fix: use 90 to 36500 days/,
      },
    ]);
  });
});
