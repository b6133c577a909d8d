import { z } from 'zod';
import { type ProdRule, unique } from '../fields';

/**
 * Who may assume an operator role: an IAM Identity Center permission set by its name
 * (`sso:<PermissionSetName>`: its roles are `AWSReservedSSO_<name>_<hash>`, and the hash changes
 * when the set is assigned anew, so the trust matches the name), or a named IAM user or role by
 * its ARN (of this or another account).
 */
export const PRINCIPAL = /^(sso:[\w+=,.@-]{1,32}|arn:aws:iam::\d{12}:(user|role)\/([\w+=,.@-]+\/)*[\w+=,.@-]{1,64})$/;

const principals = (role: string) =>
  unique(
    z
      .string()
      .regex(
        PRINCIPAL,
        `not a principal the ${role} role can trust. Fix: write an IAM Identity Center permission set as "sso:<PermissionSetName>" (e.g. "sso:WebappOnCall"), or an IAM user or role by its ARN (e.g. "arn:aws:iam::123456789012:user/alice")`,
      ),
    'principal',
  ).default(() => []);

export const access = z
  .object({
    onCall: z
      .object({
        principals: principals('on-call').meta({
          description:
            'who may assume the stage\'s on-call role `webapp-<stage>-on-call` (created in the account baseline): `"sso:<PermissionSetName>"` or an IAM user/role ARN. The role reads (ViewOnlyAccess and the reads the commands need, no data) and does what the on-call commands do to this stage alone: roll back, restore alongside, open a read-only database shell, stop a task (docs/security.md, "On-call"). Empty: no role',
          rules: 'principals as described, each once; prod: at least one',
        }),
      })
      .strict()
      .prefault({}),
    breakGlass: z
      .object({
        createRole: z.boolean().default(false).meta({
          description:
            'create the break-glass role (`backup.breakGlassRoleName`, AdministratorAccess) in the account baseline, trusting `breakGlass.principals`. Off: the role is made by hand (an account whose role already exists keeps it, or imports it into the baseline stack first: docs/security.md, "Break-glass"), since CloudFormation cannot create a role whose name exists',
          rules: 'needs `breakGlass.principals`',
        }),
        principals: principals('break-glass').meta({
          description:
            "who may assume the break-glass role (with `createRole`), as `onCall.principals`; they also pass every command's role check when they call with their own role (they are the account's administrators)",
          rules: 'principals as described, each once; only with `createRole`',
        }),
      })
      .strict()
      .prefault({}),
    pageOnUse: z.boolean().default(true).meta({
      description:
        "page (an alarm in the stage's composite) each time someone assumes the break-glass role; every use of either role is a notification on the alarm topic regardless (an alarm: $0.10 a month)",
      rules: 'prod: true',
    }),
  })
  .strict()
  .superRefine(({ breakGlass }, ctx) => {
    if (breakGlass.createRole && breakGlass.principals.length === 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['breakGlass', 'principals'],
        message: 'the break-glass role would trust nobody. Fix: name who may assume it (e.g. ["sso:WebappBreakGlass"]), or set access.breakGlass.createRole: false',
      });
    }
    if (!breakGlass.createRole && breakGlass.principals.length > 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['breakGlass', 'principals'],
        message:
          'names who may assume a role this project does not create: the trust of a role made by hand is edited by hand. Fix: set access.breakGlass.createRole: true (import the existing role first, docs/security.md, "Break-glass"), or drop the principals',
      });
    }
  })
  .prefault({})
  .meta({
    description:
      'the roles people act with in the stage\'s account (lib/baseline/operator-roles.ts; docs/security.md, "On-call" and "Break-glass"): assumable only by the principals named here, with MFA where IAM sees it, and each use notified',
    rules: 'stages sharing an account and a `backup.breakGlassRoleName` set the same `breakGlass`',
  });

type Access = z.output<typeof access>;

export const prodRules: readonly ProdRule<{ readonly access: Access }>[] = [
  {
    path: ['access', 'onCall', 'principals'],
    holds: (c) => c.access.onCall.principals.length > 0,
    message:
      'prod must have an on-call role, so the person woken at night acts with only what the commands need. Fix: name the on-call permission set or users, e.g. access.onCall.principals: ["sso:WebappOnCall"]',
  },
  {
    path: ['access', 'pageOnUse'],
    holds: (c) => c.access.pageOnUse,
    message: 'prod must page when the break-glass role is used. Fix: set access.pageOnUse: true',
  },
];
