import { type BucketLocationConstraint, CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { GetParameterCommand } from '@aws-sdk/client-ssm';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { beforeAll, describe, expect, test } from 'vitest';
import { DUMP_ENV, dumpBucketName, refreshedFromParameter } from '../../lib/data/logical-backup-names';
import { operatorConfig } from '../../scripts/lib/release';
import { main, parseArgs } from '../../scripts/refresh-staging';
import { type DumpAccount, dumpAccount, dumpMetadata } from '../support/dump-account';
import { type Moto, startMoto } from '../support/moto';

// `npm run refresh-staging` against moto: staging's account (its data stack's outputs, its
// database, the SSM record) and prod's (the dump bucket with the anonymised copies), each an
// assumed role's; staging reads prod's bucket with its own credentials, as the bucket policy lets
// it (moto does not enforce the policy: test/data checks the policy in the template). ECS is the
// stand-in of test/support/dump-account.ts: moto's RunTask fails on a Fargate task in awsvpc mode.

const STAGING = '543210980101';
/** Prod's account, as staging's config names it in dumps.refreshFrom. */
const PROD = operatorConfig('staging', { context: {} }, {}).dumps.refreshFrom!.sourceAccount;
let moto: Moto;
let acct: DumpAccount;
let lines: string[];
let clock: number;
let prodS3: S3Client;
const bucket = dumpBucketName('prod', PROD, 'eu-west-1');
const deps = () => ({
  clientsFor: acct.clientsFor,
  wait: {
    now: () => new Date(clock),
    sleep: async (ms: number) => {
      clock += ms;
    },
    log: (line: string) => lines.push(line),
  },
});
const refresh = (argv: string[]) => main([...argv, '--account', STAGING], {}, deps());
const reset = () => {
  lines = [];
  clock = Date.parse('2026-12-07T09:00:00Z');
};
const putCopy = (key: string, metadata = dumpMetadata('17.6', '2026-12-06T02:00:04Z')) =>
  prodS3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: 'PGDMP', Metadata: metadata }));

beforeAll(async () => {
  moto = await startMoto();
  acct = await dumpAccount(moto, STAGING, operatorConfig('staging', { account: STAGING, context: {} }, {}));
  const assumed = (
    await new STSClient(moto.clientConfig('us-east-1')).send(new AssumeRoleCommand({ RoleArn: `arn:aws:iam::${PROD}:role/webapp-break-glass`, RoleSessionName: 'test' }))
  ).Credentials!;
  prodS3 = new S3Client({
    ...moto.clientConfig('eu-west-1'),
    forcePathStyle: true,
    credentials: { accessKeyId: assumed.AccessKeyId!, secretAccessKey: assumed.SecretAccessKey!, sessionToken: assumed.SessionToken },
  });
  await prodS3.send(new CreateBucketCommand({ Bucket: bucket, CreateBucketConfiguration: { LocationConstraint: 'eu-west-1' as BucketLocationConstraint } }));
});

const record = async () =>
  (
    await acct
      .clientsFor('eu-west-1')
      .ssm.send(new GetParameterCommand({ Name: refreshedFromParameter('staging') }))
      .catch(() => undefined)
  )?.Parameter?.Value;

describe('npm run refresh-staging', () => {
  test('refuses without a copy to take; the plan names the newest copy and what the data is now; --yes refreshes, records it, and a rerun does nothing', async () => {
    reset();
    expect(await refresh([])).toBe(1);
    expect(lines.join('\n')).toContain(`CANNOT START:\n  - s3://${bucket}/anonymised/ holds no anonymised copy yet`);

    await putCopy('anonymised/2026-12-05T02-00-04Z.dump', dumpMetadata('17.6', '2026-12-05T02:00:04Z'));
    await putCopy('anonymised/2026-12-06T02-00-04Z.dump');
    // A raw dump is never a refresh's source, however new.
    await putCopy('raw/2026-12-07T02-00-04Z.dump');
    reset();
    expect(await refresh([])).toBe(0);
    const text = lines.join('\n');
    expect(text).toContain(`copy: s3://${bucket}/anonymised/2026-12-06T02-00-04Z.dump (0.0 KiB), taken 2026-12-06T02:00:04.000Z from PostgreSQL 17.6 (database app)`);
    expect(text).toContain('now:  no refresh recorded');
    expect(text).toMatch(
      /1\. replace every table of database app of webapp-staging with the copy \(the restore task's refresh: webapp-staging-restore-task in cluster webapp-staging-jobs/,
    );
    expect(text).toContain('Dry run: nothing changed. To refresh: npm run refresh-staging -- --stage staging --yes');
    expect(acct.ecs.runs).toEqual([]);
    expect(await record()).toBeUndefined();

    reset();
    expect(await refresh(['--yes'])).toBe(0);
    const run = acct.ecs.runs[0];
    expect(run.overrides?.containerOverrides?.[0].command).toEqual(['refresh']);
    expect(run.startedBy).toBe('refresh-staging-202612060200');
    const env = Object.fromEntries(run.overrides!.containerOverrides![0].environment!.map((e) => [e.name, e.value]));
    expect(env).toMatchObject({ [DUMP_ENV.sourceBucket]: bucket, [DUMP_ENV.key]: 'anonymised/2026-12-06T02-00-04Z.dump', [DUMP_ENV.databaseName]: 'app' });
    expect(env[DUMP_ENV.masterSecret]).toMatch(/^arn:aws:secretsmanager:eu-west-1:543210980101:secret:/);
    expect(JSON.parse((await record())!)).toEqual({ sourceStage: 'prod', sourceTime: '2026-12-06T02:00:04.000Z', key: 'anonymised/2026-12-06T02-00-04Z.dump' });

    reset();
    expect(await refresh(['--yes'])).toBe(0);
    expect(lines[0]).toMatch(/^1\/1 .*: done already \(\/webapp\/staging\/data\/refreshed-from says the data is anonymised\/2026-12-06T02-00-04Z\.dump already\)$/);
    expect(acct.ecs.runs).toHaveLength(1);
  });

  test('a failed task records nothing (exit 1); a copy of a newer major than the stage runs is refused', async () => {
    await putCopy('anonymised/2026-12-07T02-00-04Z.dump', dumpMetadata('17.6', '2026-12-07T02:00:04Z'));
    acct.ecs.exitCode = 3;
    reset();
    expect(await refresh(['--yes'])).toBe(1);
    acct.ecs.exitCode = 0;
    expect(lines.join('\n')).toMatch(/STOPPED at step 1 \(refresh\) .*stopped with exit code 3/);
    expect(JSON.parse((await record())!).key).toBe('anonymised/2026-12-06T02-00-04Z.dump');

    await putCopy('anonymised/2026-12-08T02-00-04Z.dump', dumpMetadata('18.1', '2026-12-08T02:00:04Z'));
    reset();
    expect(await refresh(['--yes'])).toBe(2);
    expect(lines[0]).toBe(
      'REFUSED: the dump is of PostgreSQL 18.1, and pg_restore does not go onto an older major (17.6). Fix: upgrade staging to PostgreSQL 18 first (docs/runbooks.md, "Upgrade PostgreSQL to a new major version")',
    );
  });

  test('refuses prod, a stage without refreshFrom, another account and bad arguments, changing nothing', async () => {
    const runs = acct.ecs.runs.length;
    for (const [stage, message] of [
      ['prod', "refresh-staging: prod is never overwritten with another stage's data. Nothing was changed."],
      ['dev', 'refresh-staging: dev has no dumps.refreshFrom, so no stage to take its data from. Fix: set it in lib/config/stages.ts'],
    ]) {
      reset();
      expect(await refresh(['--stage', stage, '--yes'])).toBe(2);
      expect(lines[0]).toContain(message);
    }
    reset();
    expect(await main(['--account', '999999999999'], {}, deps())).toBe(2);
    expect(lines[0]).toMatch(/^refresh-staging: the credentials are for account 543210980101 .* but staging is in 999999999999\./);
    expect(acct.ecs.runs).toHaveLength(runs);
    expect(parseArgs([])).toEqual({ stage: 'staging', yes: false, context: {} });
    expect(() => parseArgs(['--stage', 'qa'])).toThrow('--stage must be one of dev, staging, prod.');
  });
});
