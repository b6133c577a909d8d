import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { type BucketLocationConstraint, CreateBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { beforeAll, describe, expect, test } from 'vitest';
import { parse } from 'yaml';
import { dumpBucketName } from '../../lib/data/logical-backup-names';
import { regionClientSet } from '../../scripts/lib/dr-survey';
import { operatorConfig } from '../../scripts/lib/release';
import { main, parseArgs } from '../../scripts/local';
import { printed } from '../support/console';
import { type Moto, startMoto } from '../support/moto';
import { stageTemplates } from '../support/template';

// The compose file `npm run local` writes, held to the synthesized dev stage: the engine versions
// are the ones its data stack gives the database and the cache, and the app's environment has
// every variable its web task gets from ECS. --with-data reads moto's S3 in an account of its own.

type Compose = {
  services: Record<
    string,
    {
      image?: string;
      build?: { context: string; target: string; args: Record<string, string> };
      environment?: Record<string, string>;
      command?: string[];
      depends_on?: Record<string, unknown>;
      volumes?: string[];
    }
  >;
};
const dir = mkdtempSync(join(tmpdir(), 'local-'));
let files = 0;
const write = async (argv: string[], clientsFor?: Parameters<typeof main>[2]) => {
  const out = join(dir, `compose-${++files}.yaml`);
  const run = await printed(() => main([...argv, '--out', out], {}, clientsFor));
  return { ...run, out, compose: run.result === 0 ? (parse(readFileSync(out, 'utf8')) as Compose) : undefined };
};
const stages = stageTemplates(['dev']);
const resources = (t: (typeof stages)['dev']['data'], type: string) => Object.values(t.findResources(type)) as { Properties: Record<string, unknown> }[];

describe('npm run local', () => {
  test("the database and the cache are of the stage's engine versions, with its cache auth as a password, and the app runs the stage's image with the environment ECS gives it", async () => {
    const { compose, out, result } = await write(['--stage', 'dev']);
    expect(result).toBe(0);
    const config = operatorConfig('dev', { context: {} }, {});
    const { database, cache, web, worker } = compose!.services;
    const [instance] = resources(stages.dev.data, 'AWS::RDS::DBInstance');
    const [group] = resources(stages.dev.data, 'AWS::ElastiCache::ReplicationGroup');
    expect(database.build).toEqual({ context: expect.any(String), target: 'database', args: { PG_VERSION: instance.Properties.EngineVersion } });
    expect(resolve(dir, database.build!.context)).toBe(resolve('lambda/logical-backup'));
    expect(readFileSync(join(resolve(dir, database.build!.context), 'Dockerfile'), 'utf8')).toMatch(/^FROM \S+postgres:\$\{PG_VERSION\}-bookworm AS database$/m);
    expect(cache.image).toBe(`valkey/valkey:${group.Properties.EngineVersion}`);
    // The stage requires an AUTH token: so does the local cache, and the app is given it.
    expect(group.Properties.AuthToken).toBeDefined();
    expect(cache.command).toEqual(['valkey-server', '--requirepass', web.environment!.REDIS_AUTH_TOKEN, '--maxmemory-policy', 'noeviction']);
    expect(web.environment!.REDIS_AUTH_TOKEN).toMatch(/^[\w-]{32}$/);
    expect(database.environment!.POSTGRES_PASSWORD).toBe(web.environment!.DATABASE_PASSWORD);
    expect(web.environment!.DATABASE_PASSWORD).not.toBe(web.environment!.REDIS_AUTH_TOKEN);

    const taskDefinitions = resources(stages.dev.app, 'AWS::ECS::TaskDefinition');
    const app = (taskDefinitions.flatMap((t) => t.Properties.ContainerDefinitions as { Name: string; Environment?: { Name: string }[]; Command?: string[] }[]) ?? []).find(
      (c) => c.Name === 'app' && c.Command === undefined,
    )!;
    const ecsNames = app.Environment!.map((e) => e.Name);
    expect(ecsNames).toContain('DATABASE_AUTH');
    // Uploads stay in AWS and email is not sent locally; the rest is what ECS sets, with the local hosts.
    expect(ecsNames.filter((n) => !(n in web.environment!) && !/^(SES_|MAIL_FROM|OTEL_)/.test(n))).toEqual([]);
    expect(web.environment).toMatchObject({ DATABASE_HOST: 'database', DATABASE_AUTH: 'password', DATABASE_NAME: 'app', REDIS_URL: 'redis://cache:6379', STAGE: 'dev' });
    expect(web.image).toBe(`${config.account}.dkr.ecr.${config.region}.amazonaws.com/${config.image.repositoryName}:${config.image.tag}`);
    expect(worker.image).toBe(web.image);
    expect(worker.command).toEqual(config.app.workerCommand);
    expect(compose!.services.load).toBeUndefined();
    expect(statSync(out).mode & 0o077).toBe(0);
  });

  test('each run generates its own passwords', async () => {
    const [a, b] = [await write(['--stage', 'staging']), await write(['--stage', 'staging'])];
    expect(a.compose!.services.cache.command![2]).not.toBe(b.compose!.services.cache.command![2]);
  });

  describe('--with-data', () => {
    let moto: Moto;
    const ACCOUNT = '543210980201';
    let clientsFor: Parameters<typeof main>[2];
    beforeAll(async () => {
      moto = await startMoto({ as: 'webapp-break-glass' });
      const assumed = (
        await new STSClient(moto.clientConfig('us-east-1')).send(new AssumeRoleCommand({ RoleArn: `arn:aws:iam::${ACCOUNT}:role/operator`, RoleSessionName: 'test' }))
      ).Credentials!;
      const credentials = { accessKeyId: assumed.AccessKeyId!, secretAccessKey: assumed.SecretAccessKey!, sessionToken: assumed.SessionToken };
      clientsFor = (region: string) => regionClientSet({ ...moto.clientConfig(region), credentials }, { forcePathStyle: true });
    });

    test('downloads the newest anonymised copy beside the file and loads it before the app starts; refuses a stage without one', async () => {
      const bucket = dumpBucketName('prod', ACCOUNT, 'eu-west-1');
      const s3 = clientsFor!('eu-west-1').s3;
      expect((await write(['--stage', 'prod', '--with-data', '--account', ACCOUNT], clientsFor)).result).toBe(1);
      await s3.send(new CreateBucketCommand({ Bucket: bucket, CreateBucketConfiguration: { LocationConstraint: 'eu-west-1' as BucketLocationConstraint } }));
      for (const key of ['anonymised/2026-12-05T05-00-00Z.dump', 'anonymised/2026-12-06T05-00-00Z.dump', 'raw/2026-12-07T02-00-00Z.dump'])
        await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: `PGDMP ${key}` }));
      const { compose, result } = await write(['--stage', 'prod', '--with-data', '--account', ACCOUNT], clientsFor);
      expect(result).toBe(0);
      expect(readFileSync(join(dir, '.local-data', '2026-12-06T05-00-00Z.dump'), 'utf8')).toBe('PGDMP anonymised/2026-12-06T05-00-00Z.dump');
      const { load, web, worker } = compose!.services;
      expect(load.command).toContain('/dump/2026-12-06T05-00-00Z.dump');
      expect(load.volumes).toEqual(['./.local-data:/dump:ro']);
      for (const app of [web, worker]) expect(app.depends_on).toMatchObject({ load: { condition: 'service_completed_successfully' } });

      const dev = await write(['--stage', 'dev', '--with-data'], clientsFor);
      expect(dev.result).toBe(2);
      expect(dev.stderr).toContain('local: dev has no anonymised copy to load');
      const other = await write(['--stage', 'prod', '--with-data', '--account', '999999999999'], clientsFor);
      expect(other.result).toBe(2);
      expect(other.stderr).toMatch(/the credentials are for account 543210980201 .* but prod is in 999999999999/);
    });
  });

  test('arguments', () => {
    expect(parseArgs(['--stage', 'dev'])).toEqual({ stage: 'dev', out: 'compose.dev.yaml', withData: false, context: {} });
    expect(() => parseArgs(['--out', 'x'])).toThrow('--stage must be one of dev, staging, prod.');
  });
});
