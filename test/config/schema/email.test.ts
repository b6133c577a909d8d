import { describe } from 'vitest';
import { accepts, rejects } from './stage-variant';

describe('email', () => {
  describe('refuses a bad definition, naming stage, field, value and fix', () => {
    rejects([
      {
        what: 'a DMARC policy that quarantines mail, with nobody reading the reports',
        stage: 'staging',
        patch: { email: { dmarcReportsTo: undefined } },
        field: 'email.dmarcReportsTo',
        value: 'undefined',
        fix: /unset, while email\.dmarcPolicy "quarantine" has receivers quarantine mail that claims staging\.example\.com and fails DMARC.*Fix: set email\.dmarcReportsTo to a mailbox that reads aggregate reports, e\.g\. "dmarc@example\.com" \(an address under another domain needs the record staging\.example\.com\._report\._dmarc\.<that domain> published there\), or set email\.dmarcPolicy: "none"$/,
      },
      {
        what: "prod's DMARC policy that rejects mail, with nobody reading the reports",
        stage: 'prod',
        patch: { email: { dmarcPolicy: 'reject', dmarcReportsTo: undefined } },
        field: 'email.dmarcReportsTo',
        value: 'undefined',
        fix: /has receivers refuse mail that claims app\.example\.com .*Fix: set email\.dmarcReportsTo .*published there\)$/,
      },
      {
        what: 'prod sending mail from the SES sandbox unnoticed',
        stage: 'prod',
        patch: { email: { requireProductionAccess: false } },
        field: 'email.requireProductionAccess',
        value: 'false',
        fix: /preflight must fail while SES is in the sandbox/,
      },
    ]);
  });

  describe('takes values on the edge of each rule', () => {
    accepts([
      // DMARC reports: not asked for where nothing is held back, or where no domain publishes a policy.
      { what: 'no reports where the policy only reports', stage: 'staging', patch: { email: { dmarcPolicy: 'none', dmarcReportsTo: undefined } } },
      { what: 'no reports where no domain publishes the policy', stage: 'dev', patch: { email: { dmarcPolicy: 'reject', dmarcReportsTo: undefined } } },
    ]);
  });
});
