import { z } from 'zod';
import type { ProdRule } from '../fields';

/** Mail the app sends through SES from the stage's domain. dmarcReportsTo's rule reads the domain (lib/config/schema.ts). */
export const email = z
  .object({
    requireProductionAccess: z.boolean().default(false).meta({
      description: "preflight fails (instead of warning) while SES in the stage's region is in the sandbox, where mail reaches only verified addresses",
      rules: 'prod: must be true',
    }),
    dmarcPolicy: z.enum(['none', 'quarantine', 'reject']).default('quarantine').meta({
      description:
        "the DMARC policy of the stage's domain (`_dmarc.<zone>`): what receivers do with mail that claims the domain but fails SPF and DKIM alignment; `none` only reports",
      rules: '`none`, `quarantine` or `reject`; prod: not `none`',
    }),
    dmarcReportsTo: z.email({ message: 'not an email address. Fix: write it like "dmarc@example.com"' }).optional().meta({
      description: 'where receivers send aggregate DMARC reports (rua), so someone sees what is held back',
      rules: 'an email address; required with a domain and `quarantine` or `reject`',
    }),
  })
  .strict()
  .prefault({});

type Email = z.output<typeof email>;

export const prodRules: readonly ProdRule<{ readonly email: Email }>[] = [
  {
    path: ['email', 'dmarcPolicy'],
    holds: (c) => c.email.dmarcPolicy !== 'none',
    message: 'prod must tell receivers to refuse mail that fakes its domain. Fix: set email.dmarcPolicy: "quarantine" (or "reject")',
  },
  {
    path: ['email', 'requireProductionAccess'],
    holds: (c) => c.email.requireProductionAccess,
    message: 'prod mails real users, so preflight must fail while SES is in the sandbox. Fix: set email.requireProductionAccess: true',
  },
];
