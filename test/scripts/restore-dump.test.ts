import type { RunTaskCommandInput } from '@aws-sdk/client-ecs';
import { DescribeDBInstancesCommand } from '@aws-sdk/client-rds';
import { beforeAll, describe, expect, test } from 'vitest';
import { DUMP_CONTAINER, DUMP_ENV, dumpBucketName } from '../../lib/data/logical-backup-names';
import { DUMP_RESTORED_TAG, DUMP_SOURCE_TAG } from '../../scripts/lib/dump-restore';
import { operatorConfig } from '../../scripts/lib/release';
import { describe as describeInstance } from '../../scripts/lib/restore';
import { main, parseArgs } from '../../scripts/restore-database';
import { printed } from '../support/console';
import { type DumpAccount, dumpAccount, ecsOf } from '../support/dump-account';
import { type Moto, startMoto } from '../support/moto';

// `npm run restore -- --from-dump` against moto: RDS (the stage database, the new instance), S3
// (the dump bucket and its objects' metadata), CloudFormation (the stacks' outputs), STS (the
// account check), each scenario in a moto account of its own. ECS is a stand-in at the client
// boundary (test/support/dump-account.ts): moto's RunTask fails on a Fargate task definition in
// awsvpc mode, which the restore task is, and runs nothing anyway; the stand-in records the call
// and reports the task's statuses and exit code.

let moto: Moto;
/** The account every scenario with a stage database shares: each restores a dump of its own time, so a new instance of its own. */
let acct: DumpAccount;
let lines: string[];
let clock: number;

const PRIMARY = 'eu-west-1';
const DR = 'eu-central-1';
const wait = () => ({
  now: () => new Date(clock),
  sleep: async (ms: number) => {
    clock += ms;
  },
  log: (line: string) => lines.push(line),
});
/** The command as an operator runs it, with the account's clients. */
const restore = (a: DumpAccount, argv: string[]) => main([...argv, '--account', a.account], {}, undefined, wait(), { clientsFor: a.clientsFor });

beforeAll(async () => {
  moto = await startMoto();
  acct = await dumpAccount(moto, '543210980001', operatorConfig('prod', { account: '543210980001', context: {} }, {}));
  await acct.putDump(PRIMARY, 'raw/2026-12-06T02-00-04Z.dump');
  await acct.putDump(PRIMARY, 'raw/2026-12-07T02-00-04Z.dump', undefined, 'PGDMP'.repeat(1000));
  // Not a dump the job wrote: the newest is still the one above.
  await acct.putDump(PRIMARY, 'raw/notes.txt');
  await acct.putDump(PRIMARY, 'raw/2026-12-05T02-00-04Z.dump', { 'source-time': '2026-12-05T02:00:04Z' });
  await acct.putDump(DR, 'raw/2026-12-07T02-00-04Z.dump');
});

const reset = () => {
  lines = [];
  clock = Date.parse('2026-12-07T09:00:00Z');
};

describe('npm run restore -- --from-dump', () => {
  test('the dry run names the newest dump, its time and server, the new instance as the stage database has it, and the task; it changes nothing', async () => {
    reset();
    const out = await printed(() => restore(acct, ['--stage', 'prod', '--from-dump', 'latest']));
    expect(out.result).toBe(0);
    const text = lines.join('\n');
    const bucket = dumpBucketName('prod', acct.account, PRIMARY);
    const { primary } = acct.keys;
    const place = acct.places[PRIMARY];
    expect(text).toContain(`dump: s3://${bucket}/raw/2026-12-07T02-00-04Z.dump (4.9 KiB), taken 2026-12-07T02:00:04.000Z from PostgreSQL 17.6 (database app)`);
    expect(text).toContain(
      `1. create webapp-prod-dump-202612070200: PostgreSQL 17.6 (the stage's), db.m7g.large, 120 GiB gp3, single-AZ, subnet group ${place.subnetGroup}, security groups ${place.securityGroup}, parameter group ${place.parameterGroup} (the stage's), encrypted with ${primary}`,
    );
    expect(text).toMatch(
      /2\. run the restore task \(webapp-prod-restore-task in cluster webapp-prod-jobs \(prod-Data\), subnets subnet-\S+ subnet-\S+, security group sg-\S+, no public IP\)/,
    );
    expect(text).toContain('Dry run: nothing changed. To restore: npm run restore -- --stage prod --from-dump raw/2026-12-07T02-00-04Z.dump --yes');
    expect(await describeInstance(acct.clientsFor(PRIMARY).rds, 'webapp-prod-dump-202612070200')).toBeUndefined();
    expect(acct.ecs.runs).toEqual([]);
  });

  test('--yes creates the instance (stage key, managed secret, IAM logins), runs the restore task into it, tags it restored; a rerun finds both steps done', async () => {
    reset();
    expect(await restore(acct, ['--stage', 'prod', '--from-dump', 'latest', '--yes'])).toBe(0);
    const rds = acct.clientsFor(PRIMARY).rds;
    const db = (await rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: 'webapp-prod-dump-202612070200' }))).DBInstances![0];
    const bucket = dumpBucketName('prod', acct.account, PRIMARY);
    expect(db).toMatchObject({
      Engine: 'postgres',
      EngineVersion: '17.6',
      DBInstanceClass: 'db.m7g.large',
      AllocatedStorage: 120,
      StorageEncrypted: true,
      KmsKeyId: acct.keys.primary,
      DBName: 'app',
      MasterUsername: 'postgres',
      IAMDatabaseAuthenticationEnabled: true,
      MultiAZ: false,
      DeletionProtection: false,
      PubliclyAccessible: false,
      DBSubnetGroup: expect.objectContaining({ DBSubnetGroupName: acct.places[PRIMARY].subnetGroup }),
      VpcSecurityGroups: [expect.objectContaining({ VpcSecurityGroupId: acct.places[PRIMARY].securityGroup })],
      DBParameterGroups: [expect.objectContaining({ DBParameterGroupName: acct.places[PRIMARY].parameterGroup })],
      MasterUserSecret: expect.objectContaining({ KmsKeyId: acct.keys.primary }),
    });
    expect(db.TagList).toContainEqual({ Key: DUMP_SOURCE_TAG, Value: `${bucket}/raw/2026-12-07T02-00-04Z.dump` });
    expect(db.TagList?.find((t) => t.Key === DUMP_RESTORED_TAG)).toBeDefined();
    expect(acct.ecs.runs).toHaveLength(1);
    const run = acct.ecs.runs[0] as RunTaskCommandInput;
    expect(run).toMatchObject({
      cluster: 'webapp-prod-jobs',
      taskDefinition: expect.stringMatching(/:task-definition\/webapp-prod-restore-task:3$/),
      launchType: 'FARGATE',
      startedBy: 'webapp-prod-dump-202612070200',
      networkConfiguration: { awsvpcConfiguration: { subnets: acct.places[PRIMARY].subnets, assignPublicIp: 'DISABLED' } },
    });
    const container = run.overrides!.containerOverrides![0];
    expect(container.name).toBe(DUMP_CONTAINER);
    expect(container.command).toEqual(['restore']);
    expect(Object.fromEntries(container.environment!.map((e) => [e.name, e.value]))).toEqual({
      [DUMP_ENV.stage]: 'prod',
      [DUMP_ENV.bucket]: bucket,
      [DUMP_ENV.key]: 'raw/2026-12-07T02-00-04Z.dump',
      [DUMP_ENV.databaseHost]: db.Endpoint!.Address,
      [DUMP_ENV.databasePort]: '5432',
      [DUMP_ENV.databaseName]: 'app',
      [DUMP_ENV.masterSecret]: db.MasterUserSecret!.SecretArn,
    });
    expect(lines).toContain(
      `RESTORED FROM DUMP: webapp-prod-dump-202612070200 at ${db.Endpoint!.Address}:${db.Endpoint!.Port}, database app, the data of 2026-12-07T02:00:04.000Z.`,
    );

    reset();
    expect(await restore(acct, ['--stage', 'prod', '--from-dump', 'raw/2026-12-07T02-00-04Z.dump', '--yes'])).toBe(0);
    expect(lines.filter((l) => l.includes(': done already ('))).toHaveLength(2);
    expect(acct.ecs.runs).toHaveLength(1);
  });

  test('a task that fails stops the run (exit 1) with the rerun; the rerun waits for a task still running instead of starting another', async () => {
    reset();
    acct.ecs.exitCode = 1;
    expect(await restore(acct, ['--stage', 'prod', '--from-dump', 'raw/2026-12-06T02-00-04Z.dump', '--yes'])).toBe(1);
    acct.ecs.exitCode = 0;
    const text = lines.join('\n');
    expect(text).toMatch(/STOPPED at step 2 \(restore\) after .* the restore task \S+ stopped with exit code 1 \(Error\)/);
    expect(text).toContain('run the same command again: npm run restore -- --stage prod --from-dump raw/2026-12-06T02-00-04Z.dump --yes (it continues from step 2)');
    expect((await describeInstance(acct.clientsFor(PRIMARY).rds, 'webapp-prod-dump-202612060200'))?.TagList?.find((t) => t.Key === DUMP_RESTORED_TAG)).toBeUndefined();

    reset();
    const runs = acct.ecs.runs.length;
    acct.ecs.running.set('webapp-prod-dump-202612060200', 'arn:aws:ecs:eu-west-1:543210980001:task/webapp-prod-jobs/still-running');
    expect(await restore(acct, ['--stage', 'prod', '--from-dump', 'raw/2026-12-06T02-00-04Z.dump', '--yes'])).toBe(0);
    expect(lines.find((l) => l.startsWith('1/2 '))).toMatch(/: done already \(webapp-prod-dump-202612060200 is available\)$/);
    expect(lines.join('\n')).toContain('still running (arn:aws:ecs:eu-west-1:543210980001:task/webapp-prod-jobs/still-running): waiting for it instead of starting another');
    expect(acct.ecs.runs).toHaveLength(runs);
  });

  test("refuses a major older than the dump's and a dump without the job's metadata; a newer major gets the engine default group, said so", async () => {
    reset();
    expect(await restore(acct, ['--stage', 'prod', '--from-dump', 'latest', '--engine-version', '16.9'])).toBe(1);
    expect(lines.join('\n')).toContain(
      'CANNOT START:\n  - the dump is of PostgreSQL 17.6, and pg_restore does not go onto an older major (16.9). Fix: restore onto PostgreSQL 17.x or newer (--engine-version 17.<minor>)',
    );
    reset();
    expect(await restore(acct, ['--stage', 'prod', '--from-dump', 'latest', '--engine-version', '16.9', '--yes'])).toBe(2);
    expect(lines.at(-1)).toBe('Nothing was changed.');
    reset();
    expect(await restore(acct, ['--stage', 'prod', '--from-dump', 'raw/2026-12-05T02-00-04Z.dump', '--yes'])).toBe(2);
    expect(lines[0]).toMatch(/^REFUSED: s3:\/\/\S+\/raw\/2026-12-05T02-00-04Z\.dump has no server-major metadata/);
    reset();
    expect(await restore(acct, ['--stage', 'prod', '--from-dump', 'raw/2026-01-01T00-00-00Z.dump'])).toBe(1);
    expect(lines.join('\n')).toMatch(/the dump bucket \S+ in eu-west-1 has no object raw\/2026-01-01T00-00-00Z\.dump\. Fix: list the dumps/);
    reset();
    expect(await restore(acct, ['--stage', 'prod', '--from-dump', 'latest', '--engine-version', '18.1'])).toBe(0);
    expect(lines.join('\n')).toMatch(
      /PostgreSQL 18\.1 \(a newer major than the stage's 17\.6\).*parameter group default\.postgres18 \(the engine's default of family postgres18: the stage's settings .* are not in it/,
    );
    expect(acct.ecs.runs.every((r) => r.startedBy !== 'webapp-prod-dump-202612050200')).toBe(true);
  });

  test("--region <drRegion> restores the replica with the pilot light's groups, the DR key and a public IP for the task", async () => {
    reset();
    expect(await restore(acct, ['--stage', 'prod', '--from-dump', 'latest', '--region', DR, '--yes'])).toBe(0);
    const db = (await describeInstance(acct.clientsFor(DR).rds, 'webapp-prod-dump-202612070200'))!;
    expect(db).toMatchObject({
      KmsKeyId: acct.keys.dr,
      DBInstanceClass: 'db.m7g.large',
      AllocatedStorage: 100,
      DBSubnetGroup: expect.objectContaining({ DBSubnetGroupName: acct.places[DR].subnetGroup }),
      DBParameterGroups: [expect.objectContaining({ DBParameterGroupName: acct.places[DR].parameterGroup })],
      MasterUserSecret: expect.objectContaining({ KmsKeyId: acct.keys.dr }),
    });
    const run = ecsOf(acct, DR).runs[0];
    expect(run.networkConfiguration?.awsvpcConfiguration).toMatchObject({ subnets: acct.places[DR].subnets, assignPublicIp: 'ENABLED' });
    expect(run.overrides?.containerOverrides?.[0].environment).toContainEqual({ name: DUMP_ENV.bucket, value: dumpBucketName('prod', acct.account, DR) });
  });

  test('refuses what it cannot do, changing nothing: another region, no stage database to copy the settings of, another account, bad arguments', async () => {
    reset();
    expect(await restore(acct, ['--stage', 'prod', '--from-dump', 'latest', '--region', 'us-east-1'])).toBe(2);
    expect(lines[0]).toBe("restore: --region us-east-1 is neither prod's region eu-west-1 nor its DR region eu-central-1. Nothing was changed.");
    reset();
    expect(await restore(acct, ['--stage', 'dev', '--from-dump', 'latest', '--region', 'eu-central-1'])).toBe(2);
    expect(lines[0]).toMatch(/^restore: dev has no dumps\.replicateToDr \(no replica there\) and dr\.pilotLight \(no restore task there\) in eu-central-1\. Fix:/);

    const bare = await dumpAccount(moto, '543210980002', operatorConfig('prod', { account: '543210980002', context: {} }, {}), { stageDatabase: false });
    await bare.putDump(PRIMARY, 'raw/2026-12-07T02-00-04Z.dump');
    reset();
    expect(await restore(bare, ['--stage', 'prod', '--from-dump', 'latest'])).toBe(1);
    expect(lines.join('\n')).toContain(
      'CANNOT START:\n  - webapp-prod does not exist in eu-west-1, whose class, network and key the new instance takes. Restore the replica in the DR region instead: --region eu-central-1',
    );
    reset();
    const other = await printed(() => main(['--stage', 'prod', '--from-dump', 'latest', '--account', '999999999999'], {}, undefined, wait(), { clientsFor: bare.clientsFor }));
    expect(other.result).toBe(2);
    expect(lines[0]).toMatch(/^restore: the credentials are for account 543210980002 .* but prod is in 999999999999\./);
    expect(bare.ecs.runs).toEqual([]);

    expect(parseArgs(['--stage', 'prod', '--from-dump', 'latest'])).toEqual({ stage: 'prod', from: { dump: 'latest' }, yes: false, context: {} });
    for (const [argv, message] of [
      [['--from-dump', 'latest', '--snapshot', 's'], 'name exactly one of --snapshot, --to-time, --before-release and --from-dump'],
      [['--from-dump', 'latest', '--replace'], '--replace does not go with --from-dump'],
      [['--to-time', 'latest', '--region', 'eu-central-1'], '--region and --engine-version go with --from-dump only'],
      [['--from-dump', '/etc/passwd'], '--from-dump takes "latest" or a key of the dump bucket (raw/2026-12-07T02-00-04Z.dump), not "/etc/passwd"'],
      [['--from-dump', 'latest', '--engine-version', '17'], '--engine-version takes a PostgreSQL major.minor (17.6), not "17"'],
      [['--from-dump', 'latest', '--region', 'mars'], '--region takes an AWS region (eu-central-1), not "mars"'],
    ] as const) {
      expect(() => parseArgs(['--stage', 'prod', ...argv])).toThrow(message);
    }
  });
});
