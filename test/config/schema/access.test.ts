import { describe } from 'vitest';
import { accepts, rejects } from './stage-variant';

describe('access', () => {
  describe('refuses a bad definition, naming stage, field, value and fix', () => {
    rejects([
      {
        what: 'prod without on-call people',
        stage: 'prod',
        patch: { access: { onCall: { principals: [] } } },
        field: 'access.onCall.principals',
        value: '[]',
        fix: /prod must have an on-call role, .*\. Fix: name the on-call permission set or users, e\.g\. access\.onCall\.principals: \["sso:WebappOnCall"\]/,
      },
      {
        what: 'prod not paging on break-glass use',
        stage: 'prod',
        patch: { access: { pageOnUse: false } },
        field: 'access.pageOnUse',
        value: 'false',
        fix: /prod must page when the break-glass role is used\. Fix: set access\.pageOnUse: true/,
      },
      {
        what: 'a principal that is neither a permission set nor an IAM user or role ARN',
        stage: 'staging',
        patch: { access: { onCall: { principals: ['alice'] } } },
        field: 'access.onCall.principals.0',
        value: '"alice"',
        fix: /not a principal the on-call role can trust\. Fix: write an IAM Identity Center permission set as "sso:<PermissionSetName>"/,
      },
      {
        what: 'a group ARN (a group cannot assume a role)',
        stage: 'staging',
        patch: { access: { onCall: { principals: ['arn:aws:iam::222222222222:group/oncall'] } } },
        field: 'access.onCall.principals.0',
        value: '"arn:aws:iam::222222222222:group/oncall"',
        fix: /not a principal the on-call role can trust\. Fix: /,
      },
      {
        what: 'a principal named twice',
        stage: 'staging',
        patch: { access: { onCall: { principals: ['sso:WebappOnCall', 'sso:WebappOnCall'] } } },
        field: 'access.onCall.principals.1',
        value: '"sso:WebappOnCall"',
        fix: /is listed twice: each principal once\. Fix: remove the second one/,
      },
      {
        what: 'a break-glass role created with nobody to assume it',
        stage: 'staging',
        patch: { access: { breakGlass: { createRole: true } } },
        field: 'access.breakGlass.principals',
        value: '[]',
        fix: /the break-glass role would trust nobody\. Fix: name who may assume it .*, or set access\.breakGlass\.createRole: false/,
      },
      {
        what: 'break-glass principals for a role made by hand',
        stage: 'staging',
        patch: { access: { breakGlass: { principals: ['sso:PlatformAdmin'] } } },
        field: 'access.breakGlass.principals',
        value: '["sso:PlatformAdmin"]',
        fix: /names who may assume a role this project does not create: .*\. Fix: set access\.breakGlass\.createRole: true \(import the existing role first/,
      },
    ]);
  });
  describe('takes the edges of its rules', () => {
    accepts([
      {
        what: 'users and roles of this or another account, with paths',
        stage: 'staging',
        patch: { access: { onCall: { principals: ['arn:aws:iam::999999999999:user/ops/alice', 'arn:aws:iam::222222222222:role/federated/OnCall'] } } },
      },
      { what: 'a break-glass role the baseline creates', stage: 'prod', patch: { access: { breakGlass: { createRole: true, principals: ['sso:PlatformAdmin'] } } } },
      { what: 'dev without on-call people, notifying break-glass use without a page', stage: 'dev', patch: {} },
    ]);
  });
});
