import { readdirSync, readFileSync } from 'node:fs';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { describe, expect, test } from 'vitest';
import { parseStageConfig, STAGES } from '../../lib/config';
import { accountProblem, COMMAND_ROLES, needOf, type OperatorCommand, type RoleCheck, roleLine } from '../../scripts/lib/credentials';
import { MOTO_ACCOUNT, startMoto } from '../support/moto';

const staging = parseStageConfig({
  ...STAGES.staging,
  account: MOTO_ACCOUNT,
  access: {
    onCall: { principals: ['sso:WebappOnCall'] },
    breakGlass: { createRole: true, principals: ['sso:PlatformAdmin', `arn:aws:iam::${MOTO_ACCOUNT}:role/admins/ops-admin`] },
  },
});
const check = (command: OperatorCommand, acting = true, flags: string[] = []): RoleCheck => ({ command, acting, flags, config: staging });

describe('the account check operator scripts make before they touch anything (STS on moto)', () => {
  test('the right account passes; another account and no credentials are each named', async () => {
    const moto = await startMoto({ as: 'webapp-break-glass' });
    const sts = new STSClient(moto.clientConfig());
    expect(await accountProblem(sts, MOTO_ACCOUNT, 'staging', check('rollback'))).toBeUndefined();
    expect(await accountProblem(sts, '222222222222', 'staging', check('rollback'))).toBe(
      `the credentials are for account ${MOTO_ACCOUNT} (arn:aws:sts::${MOTO_ACCOUNT}:assumed-role/webapp-break-glass/test), but staging is in 222222222222. Use credentials of 222222222222 and run again.`,
    );
    const broken = { send: async () => Promise.reject(Object.assign(new Error('Could not load credentials from any providers'), { name: 'CredentialsProviderError' })) };
    expect(await accountProblem(broken, '222222222222', 'prod', check('rollback'))).toBe(
      'no usable AWS credentials (CredentialsProviderError: Could not load credentials from any providers). Sign in to the prod account 222222222222 (aws sso login, or AWS_PROFILE) and run again.',
    );
  });
});

describe('the role each command needs: the caller is the assumed-role session GetCallerIdentity returns (STS on moto)', () => {
  /** The problem `command` reports for a session of `role` (AssumeRole on moto, then the check's GetCallerIdentity). */
  const asRole = async (role: string, c: RoleCheck) => {
    const moto = await startMoto();
    const base = new STSClient(moto.clientConfig());
    const { Credentials } = await base.send(new AssumeRoleCommand({ RoleArn: `arn:aws:iam::${MOTO_ACCOUNT}:role/${role}`, RoleSessionName: 'alice' }));
    const sts = new STSClient({
      ...moto.clientConfig(),
      credentials: { accessKeyId: Credentials!.AccessKeyId!, secretAccessKey: Credentials!.SecretAccessKey!, sessionToken: Credentials!.SessionToken! },
    });
    return accountProblem(sts, MOTO_ACCOUNT, 'staging', c);
  };

  test.each([
    // [role session, command, acting, flags, passes]
    ['webapp-staging-on-call', 'rollback', true, [], true],
    ['webapp-staging-on-call', 'restore', true, [], true],
    ['webapp-staging-on-call', 'restore', true, ['--replace'], false],
    ['webapp-staging-on-call', 'restore', false, ['--replace'], true],
    ['webapp-staging-on-call', 'db-shell', true, ['--write'], false],
    ['webapp-staging-on-call', 'failover', false, [], true],
    ['webapp-staging-on-call', 'failover', true, [], false],
    ['webapp-staging-on-call', 'deploy', true, [], false],
    ['webapp-prod-on-call', 'rollback', true, [], false],
    ['webapp-staging-deploy', 'deploy', true, [], true],
    ['webapp-staging-deploy', 'release-tag', true, [], true],
    ['webapp-staging-deploy', 'failback', true, [], false],
    ['webapp-break-glass', 'failover', true, [], true],
    ['webapp-break-glass', 'db-shell', true, ['--write'], true],
    // The break-glass principals (the account's administrators) pass with their own roles.
    ['AWSReservedSSO_PlatformAdmin_0123456789abcdef', 'failover', true, [], true],
    ['ops-admin', 'refresh-staging', true, [], true],
    // Who may assume the on-call role is not the on-call role: the permission set's own session is refused.
    ['AWSReservedSSO_WebappOnCall_0123456789abcdef', 'rollback', true, [], false],
    ['AWSReservedSSO_PlatformAdminX_0123456789abcdef', 'rollback', true, [], false],
    ['developer', 'local', true, [], true],
  ] as const)('%s, %s (acting %s, %j): passes %s', async (role, command, acting, flags, passes) => {
    const problem = await asRole(role, check(command, acting, [...flags]));
    if (passes) expect(problem).toBeUndefined();
    else
      expect(problem).toMatch(
        new RegExp(`^${command}.* needs the .* role of staging \\(.*\\), and the credentials are arn:aws:sts::${MOTO_ACCOUNT}:assumed-role/${role}/alice\\. Get it: `),
      );
  });

  test('the refusal names the role needed, the role used and how to get it', async () => {
    expect(await asRole('webapp-staging-on-call', check('restore', true, ['--replace']))).toBe(
      `restore needs the break-glass role of staging (webapp-break-glass), and the credentials are arn:aws:sts::${MOTO_ACCOUNT}:assumed-role/webapp-staging-on-call/alice. Get it: aws sts assume-role --role-arn arn:aws:iam::<account>:role/webapp-break-glass --role-session-name "$USER" (or a profile with role_arn and source_profile for your aws sso login), then AWS_PROFILE=<that profile>; docs/security.md, "On-call".`,
    );
    expect(await asRole('AWSReservedSSO_WebappOnCall_0123456789abcdef', check('rollback', false))).toMatch(
      /^rollback \(its dry run\) needs the on-call role of staging \(webapp-staging-on-call or webapp-staging-deploy or webapp-break-glass\), .*--role-arn arn:aws:iam::<account>:role\/webapp-staging-on-call /,
    );
  });

  test('an IAM user passes only where it is named as a break-glass principal', async () => {
    const moto = await startMoto();
    const sts = new STSClient(moto.clientConfig());
    // moto's default caller is the user arn:aws:sts::<account>:user/moto, which no stage names.
    expect(await accountProblem(sts, MOTO_ACCOUNT, 'staging', check('rollback'))).toMatch(/^rollback needs the on-call role of staging/);
  });
});

describe('every operator command states its role, in one table', () => {
  const sources = (dir: string) =>
    readdirSync(dir)
      .filter((f) => f.endsWith('.ts'))
      .map((f) => ({ file: `${dir}/${f}`, text: readFileSync(`${dir}/${f}`, 'utf8') }));
  const all = [...sources('scripts'), ...sources('scripts/lib')].filter((s) => !s.file.endsWith('/credentials.ts'));

  test("each check names a command of the table, and each command's usage line names the role it needs", () => {
    const calls = all.flatMap(({ file, text }) => [...text.matchAll(/accountProblem\([^;]*?command: '([\w-]+)'/g)].map((m) => ({ file, command: m[1] })));
    expect(all.filter((s) => s.text.includes('accountProblem(')).length, 'every call names its command').toBe(new Set(calls.map((c) => c.file)).size);
    expect(new Set(calls.map((c) => c.command))).toEqual(new Set(Object.keys(COMMAND_ROLES)));
    for (const command of Object.keys(COMMAND_ROLES)) {
      const script = `scripts/${command === 'restore' ? 'restore-database' : command}.ts`;
      expect(readFileSync(script, 'utf8'), script).toContain(`\${roleLine('${command}')}`);
    }
  });

  test('a mode flag raises only an acting run; the usage line reads the table', () => {
    expect(needOf({ command: 'db-shell', acting: true, flags: ['--write'] })).toBe('break-glass');
    expect(needOf({ command: 'db-shell', acting: false, flags: ['--write'] })).toBe('on-call');
    expect(roleLine('restore')).toBe('role: needs the on-call role; --replace: the break-glass role (docs/security.md, "On-call")');
    expect(roleLine('failover')).toBe('role: needs the break-glass role to act, the on-call role for a dry run (docs/security.md, "On-call")');
  });

  test("docs/commands.md states each command's role as the table does", () => {
    const doc = readFileSync('docs/commands.md', 'utf8');
    for (const command of Object.keys(COMMAND_ROLES) as OperatorCommand[]) expect(doc, command).toContain(`| \`${command}\` | ${roleLine(command).replace(/^role: /, '')} |`);
  });
});
