import { DescribeScalableTargetsCommand } from '@aws-sdk/client-application-auto-scaling';
import { ListRecoveryPointsByBackupVaultCommand } from '@aws-sdk/client-backup';
import { DescribeStackResourcesCommand, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { CreateSubnetCommand, CreateVpcCommand } from '@aws-sdk/client-ec2';
import { DescribeServicesCommand } from '@aws-sdk/client-ecs';
import { CreateKeyCommand } from '@aws-sdk/client-kms';
import { InvokeCommand } from '@aws-sdk/client-lambda';
import {
  CreateDBInstanceCommand,
  CreateDBParameterGroupCommand,
  CreateDBSubnetGroupCommand,
  DescribeDBInstanceAutomatedBackupsCommand,
  DescribeDBSnapshotsCommand,
  RDSClient,
  RestoreDBInstanceToPointInTimeCommand,
  type RestoreDBInstanceToPointInTimeCommandInput,
} from '@aws-sdk/client-rds';
import { type BucketLocationConstraint, CreateBucketCommand, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { GetParameterCommand } from '@aws-sdk/client-ssm';
import { beforeAll, describe, expect, test } from 'vitest';
import { DR_APP_READS, pilotLightNames, SERVING_FROM_OUTPUT } from '../../lib/dr/pilot-light-names';
import { main as failbackMain, parseArgs as parseFailback } from '../../scripts/failback';
import { main as failoverMain, parseArgs as parseFailover } from '../../scripts/failover';
import { main as drillMain, parseArgs as parseDrill } from '../../scripts/failover-drill';
import { PURPOSE_TAG } from '../../scripts/lib/dr-steps';
import { type RegionClients, type Survey, surveyProblems } from '../../scripts/lib/dr-survey';
import { RESTORED_FROM_TAG, runFailback } from '../../scripts/lib/failback';
import { type FailoverArgs, primaryAnswers, type RecoveryDeps, runFailover } from '../../scripts/lib/failover';
import { runDrill } from '../../scripts/lib/failover-drill';
import { operatorConfig } from '../../scripts/lib/release';
import { describe as describeInstance } from '../../scripts/lib/restore';
import { printed } from '../support/console';
import { type AccountClients, createStack, deleteStack, drServices, type StageAccount, stageAccount, updateStack } from '../support/dr-region';
import { type Moto, startMoto } from '../support/moto';
import { stubbed } from '../support/stubbed';

// moto in three regions of an account of each scenario's own (the primary, the DR region, us-east-1
// for the edge). Stubbed at the client boundary, because moto cannot: the DR region's replicated
// automated backups (moto does not replicate; the stub lists them and restores from a stand-in
// instance, as moto ignores SourceDBInstanceAutomatedBackupsArn), AWS Backup's recovery points
// (moto keeps none), the smoke test's invocation (moto runs functions only in Docker) and the
// requests through CloudFront (no distribution). The CDK CLI is a fake that changes the stacks in
// moto as the deploy would.

let moto: Moto;
beforeAll(async () => {
  moto = await startMoto();
});

const T0 = Date.parse('2026-12-07T03:00:00Z');
const config = (account: string) => operatorConfig('staging', { account, context: {} }, {});
type Config = ReturnType<typeof config>;

interface Harness {
  readonly deps: RecoveryDeps;
  readonly lines: string[];
  readonly cdkCalls: string[][];
  readonly restores: RestoreDBInstanceToPointInTimeCommandInput[];
  /** Command names (or cdk "deploy DrApp", "deploy Edge") that fail once, in order of use. */
  readonly failOnce: Set<string>;
  site: 'up' | 'down';
  primary: 'answers' | 'lost';
  clock: number;
}

function harness(acct: StageAccount, cfg: Config): Harness {
  const h = { lines: [] as string[], cdkCalls: [] as string[][], restores: [] as RestoreDBInstanceToPointInTimeCommandInput[], failOnce: new Set<string>() } as unknown as Harness;
  Object.assign(h, { site: 'up', primary: 'lost', clock: T0 });
  const replicated = () => ({
    DBInstanceIdentifier: 'webapp-staging',
    DBInstanceAutomatedBackupsArn: `arn:aws:rds:${cfg.drRegion}:${acct.account}:auto-backup:ab-primarysource`,
    DbiResourceId: 'db-PRIMARYSOURCE',
    Status: 'replicating',
    RestoreWindow: { EarliestTime: new Date(T0 - 7 * 86_400_000), LatestTime: new Date(T0 - 4 * 60_000) },
  });
  const clientsFor = (region: string): RegionClients => {
    const c = acct.clientsFor(region);
    if (region !== cfg.drRegion) return c;
    return {
      ...c,
      rds: stubbed(
        c.rds,
        {
          DescribeDBInstanceAutomatedBackupsCommand: () => ({ DBInstanceAutomatedBackups: [replicated()] }),
          RestoreDBInstanceToPointInTimeCommand: (input: RestoreDBInstanceToPointInTimeCommandInput) => {
            h.restores.push(input);
            const { SourceDBInstanceAutomatedBackupsArn: _, ...rest } = input;
            return c.rds.send(new RestoreDBInstanceToPointInTimeCommand({ ...rest, SourceDBInstanceIdentifier: 'replicated-backups' }));
          },
        },
        h.failOnce,
      ),
      backup: stubbed(
        c.backup,
        { ListRecoveryPointsByBackupVaultCommand: () => ({ RecoveryPoints: [{ Status: 'COMPLETED', CreationDate: new Date(T0 - 5 * 3_600_000) }] }) },
        h.failOnce,
      ),
      lambda: stubbed(
        c.lambda,
        { InvokeCommand: () => ({ Payload: new TextEncoder().encode(JSON.stringify({ hookStatus: h.site === 'up' ? 'SUCCEEDED' : 'FAILED' })) }) },
        h.failOnce,
      ),
      ssm: stubbed(c.ssm, {}, h.failOnce),
    };
  };
  const cdk = async (args: readonly string[]) => {
    h.cdkCalls.push([...args]);
    const stacks = args.filter((a) => a.startsWith('staging/')).map((a) => a.slice('staging/'.length));
    const key = `${args[0]} ${stacks.join(' ')}`;
    if (h.failOnce.delete(key)) return 1;
    const context = Object.fromEntries(args.flatMap((a, i) => (args[i - 1] === '-c' ? [a.split(/=(.*)/s).slice(0, 2)] : [])));
    await deployed(acct, cfg, args[0], stacks, context);
    return 0;
  };
  const fetcher = (async () => new Response(h.site === 'up' ? 'ok' : 'maintenance', { status: h.site === 'up' ? 200 : 503 })) as unknown as typeof fetch;
  Object.assign(h, {
    deps: {
      clientsFor,
      deployClients: acct.deployClients,
      cdk,
      fetch: fetcher,
      wait: {
        now: () => new Date(h.clock),
        sleep: async (ms: number) => {
          h.clock += ms;
        },
        log: (line: string) => h.lines.push(line),
      },
      primaryAnswers: async () => (h.primary === 'answers' ? 'RDS in eu-west-1 describes webapp-staging as available' : undefined),
      dailyCost: async () => ['What the DR tiers cost while they run: priced from the synthesized templates (test/scripts/failover-cost.test.ts)'],
    } satisfies RecoveryDeps,
  });
  return h;
}

/** What a deploy or destroy of these stacks leaves in moto, as CloudFormation would. */
async function deployed(acct: StageAccount, cfg: Config, verb: string, stacks: string[], context: Record<string, string>): Promise<void> {
  const dr = acct.clientsFor(cfg.drRegion);
  const names = pilotLightNames(cfg.name);
  const every = stacks.includes('*');
  const serveFrom = context[`${cfg.name}.dr.serveFrom`] ?? cfg.dr.serveFrom;
  if (verb === 'destroy') {
    for (const stack of stacks) await deleteStack(dr.cfn, `${cfg.name}-${stack}`);
    return;
  }
  if (stacks.includes('DrApp')) {
    // The tier's own NAT gateway comes and goes with its stack.
    const nat = {
      Eip: { Type: 'AWS::EC2::EIP', Properties: { Domain: 'vpc' } },
      Nat: { Type: 'AWS::EC2::NatGateway', Properties: { SubnetId: acct.drSubnets[0], AllocationId: { 'Fn::GetAtt': ['Eip', 'AllocationId'] } } },
    };
    let exists = await outputs(dr, names.drAppStackName);
    if (!exists) {
      const uploads = `${cfg.name}-dr-uploads-${acct.account}`;
      await dr.s3.send(new CreateBucketCommand({ Bucket: uploads, CreateBucketConfiguration: { LocationConstraint: cfg.drRegion as BucketLocationConstraint } }));
      exists = { ...(await drServices(dr.ecs, dr.autoScaling, cfg, `${acct.account}.dkr.ecr.${cfg.drRegion}.amazonaws.com/webapp@${acct.digest}`)), UploadsBucketName: uploads };
    }
    await updateStack(dr.cfn, names.drAppStackName, exists, nat);
  }
  if (stacks.includes('Edge') || every) {
    await updateStack(acct.clientsFor('us-east-1').cfn, `${cfg.name}-Edge`, { [SERVING_FROM_OUTPUT]: serveFrom === 'dr' ? cfg.drRegion : cfg.region });
  }
}

async function outputs(c: AccountClients, stackName: string): Promise<Record<string, string | { value: string; description: string }> | undefined> {
  const stack = await c.cfn.send(new DescribeStacksCommand({ StackName: stackName })).then(
    (out) => out.Stacks?.[0],
    () => undefined,
  );
  return stack && Object.fromEntries((stack.Outputs ?? []).map((o) => [o.OutputKey!, o.Description ? { value: o.OutputValue!, description: o.Description } : o.OutputValue!]));
}

const parameter = (c: AccountClients, name: string) =>
  c.ssm.send(new GetParameterCommand({ Name: name })).then(
    (out) => out.Parameter?.Value,
    () => undefined,
  );
const natGateways = async (c: AccountClients, stack: string) =>
  ((await c.cfn.send(new DescribeStackResourcesCommand({ StackName: stack })).catch(() => ({ StackResources: [] }))).StackResources ?? []).filter(
    (r) => r.ResourceType === 'AWS::EC2::NatGateway',
  ).length;
const servingFrom = async (acct: StageAccount) => (await outputs(acct.clientsFor('us-east-1'), 'staging-Edge'))?.[SERVING_FROM_OUTPUT];

/** The account the full failover leaves serving from its DR region, which the failback brings back. */
let served: { acct: StageAccount; cfg: Config; h: Harness };

const failover = (overrides: Partial<FailoverArgs> = {}): FailoverArgs => ({ stage: 'staging', toTime: 'latest', primaryLost: false, yes: true, context: {}, ...overrides });

let accounts = 0;
/** A fresh stage account: every scenario starts from the pilot light alone. */
async function fresh(): Promise<{ acct: StageAccount; cfg: Config; h: Harness }> {
  const account = `43210900${String(++accounts).padStart(4, '0')}`;
  const cfg = config(account);
  const acct = await stageAccount(moto, account, cfg);
  return { acct, cfg, h: harness(acct, cfg) };
}

/** One account for the tests that change nothing. */
let untouched: Awaited<ReturnType<typeof fresh>>;
beforeAll(async () => {
  untouched = await fresh();
});

describe('npm run failover', () => {
  test('the dry run reads the DR region alone and prints the plan: what survives, the RPO, each step with its expected minutes and basis, the RTO budget, the cost and the losses', async () => {
    const { acct, cfg, h } = untouched;
    expect(await runFailover(failover({ yes: false }), cfg, h.deps)).toBe(0);
    const text = h.lines.join('\n');
    expect(text).toContain(`What survives in ${cfg.drRegion}`);
    expect(text).toContain('replicated automated backups restorable to 2026-12-07T02:56:00.000Z');
    expect(text).toMatch(/RPO: the writes of the last 4 minutes before that are lost \(within the 15-minute RPO\)/);
    expect(text).toMatch(/vault copy: newest 2026-12-06T22:00:00.000Z in webapp-staging-dr-0123456789ab/);
    expect(text).toContain(`image: webapp ${acct.digest}`);
    for (const step of ['1. restore webapp-staging in eu-central-1', '2. deploy staging-DrApp in eu-central-1: NAT gateways', '3. move viewers', '4. verify through CloudFront'])
      expect(text).toContain(step);
    expect(text).toMatch(/expected 30 min \(AWS documents no duration/);
    expect(text).toContain('RTO budget: 58 min (the survey 1, then the steps) of the 60-minute objective.');
    expect(text).toContain('What the DR tiers cost while they run');
    expect(text).toMatch(/every BullMQ job in the lost region's cache/);
    expect(text).toContain('Dry run: nothing changed. To fail over: npm run failover -- --stage staging --latest --yes');
    // Nothing changed: no database, no deploy.
    expect(await describeInstance(acct.clientsFor(cfg.drRegion).rds, 'webapp-staging')).toBeUndefined();
    expect(h.cdkCalls).toEqual([]);
  });

  test('refuses while the primary region answers, unless --primary-lost says the loss is meant', async () => {
    const { cfg, h } = untouched;
    h.lines.length = 0;
    h.primary = 'answers';
    expect(await runFailover(failover(), cfg, h.deps)).toBe(2);
    expect(h.lines.join('\n')).toMatch(/^REFUSED: the primary region eu-west-1 still answers \(RDS in eu-west-1 describes webapp-staging as available\)/m);
    expect(h.restores).toEqual([]);
    h.lines.length = 0;
    expect(await runFailover(failover({ yes: false, primaryLost: true }), cfg, h.deps)).toBe(0);
    expect(h.lines.join('\n')).toContain('--primary-lost says to go on');
    h.primary = 'lost';
  });

  test('refuses what it cannot restore: a time outside the replicated window, and no release image in the DR registry', async () => {
    const { cfg, h } = untouched;
    expect(await runFailover(failover({ toTime: new Date(T0) }), cfg, h.deps)).toBe(2);
    expect(h.lines.join('\n')).toContain('REFUSED: --to-time 2026-12-07T03:00:00.000Z is outside the restorable window');
    expect(await runFailover(failover({ image: 'v9.9.9' }), cfg, h.deps)).toBe(2);
    expect(h.lines.join('\n')).toContain('REFUSED: no release image in the eu-central-1 registry webapp');
    expect(h.restores).toEqual([]);
  });

  test('fails over: the database restored from the replicated backups into the pilot light, the DR tiers deployed with the reads of the lost region pinned, the edge moved, the site checked', async () => {
    served = await fresh();
    const { acct, cfg, h } = served;
    expect(await runFailover(failover(), cfg, h.deps)).toBe(0);
    const dr = acct.clientsFor(cfg.drRegion);
    expect(h.restores).toEqual([
      expect.objectContaining({
        SourceDBInstanceAutomatedBackupsArn: `arn:aws:rds:eu-central-1:${acct.account}:auto-backup:ab-primarysource`,
        TargetDBInstanceIdentifier: 'webapp-staging',
        UseLatestRestorableTime: true,
        DBSubnetGroupName: 'webapp-staging-dr-database',
        DBParameterGroupName: 'pilot-light-parameters',
        DBInstanceClass: `db.${cfg.database.instanceClass}`,
        MultiAZ: cfg.database.multiAz,
        EnableIAMDatabaseAuthentication: true,
        PubliclyAccessible: false,
      }),
    ]);
    const db = (await describeInstance(dr.rds, 'webapp-staging'))!;
    expect(db.TagList).toContainEqual({ Key: PURPOSE_TAG, Value: 'failover' });
    expect(db.MasterUserSecret).toMatchObject({ SecretStatus: 'active', KmsKeyId: acct.drKey });
    // The stage's database now: protected as the data stack protects it.
    expect(db.DeletionProtection).toBe(cfg.database.deletionProtection);
    expect(await parameter(dr, pilotLightNames('staging').databaseEndpointParameter)).toBe(db.Endpoint!.Address);
    const [tiers, edge] = h.cdkCalls;
    expect(tiers.slice(0, 3)).toEqual(['deploy', 'staging/DrApp', '--exclusively']);
    expect(tiers).toEqual(expect.arrayContaining(['staging.dr.appTier=true', 'staging.dr.serveFrom=dr', `imageTag=${acct.digest}`]));
    expect(tiers.find((a) => a.startsWith('pinnedReads='))).toContain('Z0123456789ABCDEFGHIJ');
    expect(edge.slice(0, 3)).toEqual(['deploy', 'staging/Edge', '--exclusively']);
    expect(await servingFrom(acct)).toBe('eu-central-1');
    expect(await natGateways(dr, 'staging-DrApp')).toBe(1);
    const text = h.lines.join('\n');
    expect(text).toContain('ok https://staging.example.com/health/ready: 200');
    expect(text).toMatch(/^Minutes: survey 0, restore [\d.]+, deploy [\d.]+, edge [\d.]+, verify [\d.]+ \(total [\d.]+ min\)$/m);
    expect(text).toContain('SERVING FROM eu-central-1');

    // Run again: everything is done but the check.
    h.lines.length = 0;
    expect(await runFailover(failover(), cfg, h.deps)).toBe(0);
    expect(h.lines.filter((l) => l.includes('done already'))).toHaveLength(3);
    expect(h.restores).toHaveLength(1);
    expect(h.cdkCalls).toHaveLength(2);
  });

  test('stopped at any step, it says so, and a rerun continues from there: interrupted after each step in turn, then it completes', async () => {
    const { acct, cfg, h } = await fresh();
    const failures = [
      ['restore', 'PutParameterCommand'],
      ['deploy', 'deploy DrApp'],
      ['edge', 'deploy Edge'],
      ['verify', 'site'],
    ] as const;
    for (const [i, [step, failure]] of failures.entries()) {
      const index = i + 1;
      h.site = failure === 'site' ? 'down' : 'up';
      if (failure !== 'site') h.failOnce.add(failure);
      h.lines.length = 0;
      expect(await runFailover(failover(), cfg, h.deps), step).toBe(1);
      const text = h.lines.join('\n');
      expect(text).toMatch(new RegExp(`^STOPPED at step ${index} \\(${step}\\)`, 'm'));
      expect(text).toContain(`run the same command again: npm run failover -- --stage staging --latest --yes (it continues from step ${index})`);
      // Nothing after it started; the restore was asked for once, whatever step stopped (a
      // rerun after the restore step stopped waits for that restore and publishes its endpoint).
      expect(h.restores, step).toHaveLength(1);
      expect(
        h.lines.filter((l) => l.includes('done already')),
        step,
      ).toHaveLength(Math.max(0, i - 1));
      expect(h.lines.filter((l) => /^\d\/4 /.test(l)).map((l) => l.slice(0, 3))).toEqual([1, 2, 3, 4].slice(0, index).map((n) => `${n}/4`));
    }
    h.site = 'up';
    h.lines.length = 0;
    expect(await runFailover(failover(), cfg, h.deps)).toBe(0);
    expect(h.lines.filter((l) => l.includes('done already'))).toHaveLength(3);
    // One restore in all; the tier deployed once more than it failed, the edge likewise.
    expect(h.restores).toHaveLength(1);
    expect(h.cdkCalls.filter((c) => c.includes('staging/DrApp'))).toHaveLength(2);
    expect(h.cdkCalls.filter((c) => c.includes('staging/Edge'))).toHaveLength(2);
    expect(await servingFrom(acct)).toBe('eu-central-1');
  });
});

describe('npm run failback', () => {
  test('brings the writes of the DR region back: writes stopped, a snapshot copied home and restored in place of the stale database, the stage deployed, the DR tiers taken down', async () => {
    const { acct, cfg, h } = served;
    const primary = acct.clientsFor(cfg.region);
    // The stale primary database, as the data stack made it, the region back.
    const key = (await primary.kms.send(new CreateKeyCommand({}))).KeyMetadata!.Arn!;
    await primary.rds.send(new CreateDBParameterGroupCommand({ DBParameterGroupName: 'stage-parameters', DBParameterGroupFamily: 'postgres17', Description: 'stage' }));
    const vpc = (await primary.ec2.send(new CreateVpcCommand({ CidrBlock: cfg.network.cidr }))).Vpc!.VpcId!;
    const subnets = [];
    for (const [i, zone] of ['a', 'b'].entries()) {
      subnets.push((await primary.ec2.send(new CreateSubnetCommand({ VpcId: vpc, CidrBlock: `10.20.${i}.0/24`, AvailabilityZone: `${cfg.region}${zone}` }))).Subnet!.SubnetId!);
    }
    await primary.rds.send(new CreateDBSubnetGroupCommand({ DBSubnetGroupName: 'stage-database', DBSubnetGroupDescription: 'stage', SubnetIds: subnets }));
    await primary.rds.send(
      new CreateDBInstanceCommand({
        DBInstanceIdentifier: 'webapp-staging',
        Engine: 'postgres',
        DBInstanceClass: 'db.t4g.small',
        AllocatedStorage: 20,
        StorageType: 'gp3',
        MasterUsername: 'postgres',
        ManageMasterUserPassword: true,
        MasterUserSecretKmsKeyId: key,
        StorageEncrypted: true,
        KmsKeyId: key,
        EnableIAMDatabaseAuthentication: true,
        DBParameterGroupName: 'stage-parameters',
        DBSubnetGroupName: 'stage-database',
        BackupRetentionPeriod: 7,
        CopyTagsToSnapshot: true,
      }),
    );
    // The uploads: one the primary had (replicated before the loss, so not newer in the DR bucket), one written while failed over.
    const primaryUploads = `staging-uploads-${acct.account}`;
    await primary.s3.send(new CreateBucketCommand({ Bucket: primaryUploads, CreateBucketConfiguration: { LocationConstraint: cfg.region as BucketLocationConstraint } }));
    await createStack(primary.cfn, 'staging-Data', { UploadsBucketName: primaryUploads });
    const drUploads = (await outputs(acct.clientsFor(cfg.drRegion), 'staging-DrApp'))!.UploadsBucketName as string;
    const put = (c: AccountClients, Bucket: string, Key: string, Body: string) => c.s3.send(new PutObjectCommand({ Bucket, Key, Body }));
    await put(acct.clientsFor(cfg.drRegion), drUploads, 'avatars/before-the-loss.png', 'replicated');
    await put(primary, primaryUploads, 'avatars/before-the-loss.png', 'the original');
    await put(acct.clientsFor(cfg.drRegion), drUploads, 'avatars/while-failed-over.png', 'new');
    h.primary = 'answers';
    h.lines.length = 0;
    expect(await runFailback({ stage: 'staging', yes: false, context: {} }, cfg, h.deps)).toBe(0);
    expect(h.lines.join('\n')).toMatch(/1\. stop writes: suspend the scaling of the web and worker services of staging-DrApp and scale them to 0/);
    expect(h.lines.join('\n')).toContain('Dry run: nothing changed. To fail back: npm run failback -- --stage staging --yes');

    h.lines.length = 0;
    const code = await runFailback({ stage: 'staging', yes: true, context: {} }, cfg, h.deps);
    const text = h.lines.join('\n');
    expect(code, text).toBe(0);
    expect(text).toContain('BACK IN eu-west-1');
    const body = async (Key: string) => (await primary.s3.send(new GetObjectCommand({ Bucket: primaryUploads, Key }))).Body!.transformToString();
    expect(await body('avatars/while-failed-over.png')).toBe('new');
    expect(await body('avatars/before-the-loss.png')).toBe('the original');
    expect(text).toContain('1 uploads copied');
    const current = (await describeInstance(primary.rds, 'webapp-staging'))!;
    const snapshot = current.TagList?.find((t) => t.Key === RESTORED_FROM_TAG)?.Value;
    expect(snapshot).toMatch(/^failback-staging-db-/);
    expect((await primary.rds.send(new DescribeDBSnapshotsCommand({ DBSnapshotIdentifier: snapshot }))).DBSnapshots?.[0]?.KmsKeyId).toBe(key);
    expect(await describeInstance(primary.rds, 'webapp-staging-old')).toBeDefined();
    expect(await servingFrom(acct)).toBe('eu-west-1');
    const dr = acct.clientsFor(cfg.drRegion);
    // Scaling could not bring the writers back while the snapshot was taken.
    const targets = (await dr.autoScaling.send(new DescribeScalableTargetsCommand({ ServiceNamespace: 'ecs' }))).ScalableTargets ?? [];
    expect(targets.map((t) => [t.ResourceId, t.SuspendedState])).toEqual(
      ['web', 'worker'].map((service) => [
        `service/staging-dr/staging-dr-${service}`,
        { DynamicScalingInSuspended: true, DynamicScalingOutSuspended: true, ScheduledScalingSuspended: true },
      ]),
    );
    expect(await outputs(dr, 'staging-DrApp')).toBeUndefined();
    expect(['deleting', undefined]).toContain((await describeInstance(dr.rds, 'webapp-staging'))?.DBInstanceStatus);
    expect(await natGateways(dr, 'staging-DrApp')).toBe(0);
    const deploy = h.cdkCalls.find((c: string[]) => c[1] === 'staging/*')!;
    expect(deploy).toEqual(expect.arrayContaining(['staging.dr.serveFrom=primary', 'staging.dr.appTier=false']));
    expect(deploy.some((a: string) => a.startsWith('rerunDatabaseSetup='))).toBe(true);
  });

  test('refuses while the primary region does not answer, and finds nothing to do once back', async () => {
    const { cfg, h } = untouched;
    h.primary = 'lost';
    expect(await runFailback({ stage: 'staging', yes: true, context: {} }, cfg, h.deps)).toBe(2);
    expect(h.lines.join('\n')).toContain('REFUSED: the primary region eu-west-1 does not answer yet');
    h.primary = 'answers';
    expect(await runFailback({ stage: 'staging', yes: true, context: {} }, cfg, h.deps)).toBe(0);
    expect(h.lines.join('\n')).toContain('nothing to fail back');
    h.primary = 'lost';
  });
});

describe('npm run failover-drill', () => {
  /** The drill's account: the second test starts where the first left it, torn down. */
  let drilled: Awaited<ReturnType<typeof fresh>>;
  test('restores, deploys and smoke-tests a copy beside the running stage, takes it down, and records its minutes for the alarm and the failover plan', async () => {
    drilled = await fresh();
    const { acct, cfg, h } = drilled;
    h.primary = 'answers';
    expect(await runDrill({ stage: 'staging', teardown: false, yes: false, context: {} }, cfg, h.deps)).toBe(0);
    expect(h.lines.join('\n')).toContain("Plan: drill staging's failover into eu-central-1 beside the primary");
    expect(h.cdkCalls).toEqual([]);

    h.clock = T0 + 60_000;
    expect(await runDrill({ stage: 'staging', teardown: false, yes: true, context: {} }, cfg, h.deps)).toBe(0);
    const dr = acct.clientsFor(cfg.drRegion);
    expect(h.restores).toEqual([expect.objectContaining({ MultiAZ: false, DeletionProtection: false, TargetDBInstanceIdentifier: 'webapp-staging' })]);
    // Viewers never moved; the tiers came and went.
    expect(await servingFrom(acct)).toBe('eu-west-1');
    expect(h.cdkCalls.some((c) => c.includes('staging/Edge'))).toBe(false);
    expect(h.cdkCalls.find((c) => c[0] === 'deploy')).not.toContain('staging.dr.serveFrom=dr');
    expect(h.cdkCalls.map((c) => c[0])).toEqual(['deploy', 'destroy']);
    expect(await outputs(dr, 'staging-DrApp')).toBeUndefined();
    expect(['deleting', undefined]).toContain((await describeInstance(dr.rds, 'webapp-staging'))?.DBInstanceStatus);
    expect(await natGateways(dr, 'staging-DrApp')).toBe(0);
    expect(h.lines.join('\n')).toContain('smoke test: SUCCEEDED');

    const names = pilotLightNames('staging');
    const at = await parameter(acct.clientsFor(cfg.region), names.lastDrillParameter);
    expect(Date.parse(at!)).toBeGreaterThan(T0);
    const recorded = JSON.parse((await parameter(dr, names.drillMinutesParameter))!);
    expect(Object.keys(recorded.minutes)).toEqual(['survey', 'restore', 'deploy', 'verify', 'retire']);

    // The failover's plan now quotes the drill's measurements.
    h.lines.length = 0;
    h.primary = 'lost';
    await runFailover(failover({ yes: false }), cfg, h.deps);
    expect(h.lines.join('\n')).toContain(`measured by the drill of ${at}`);
  });

  test('refuses when the primary region does not answer (that is a failover), and a failover refuses while a drill copy is up', async () => {
    const { cfg, h } = drilled;
    h.primary = 'lost';
    h.lines.length = 0;
    expect(await runDrill({ stage: 'staging', teardown: false, yes: true, context: {} }, cfg, h.deps)).toBe(2);
    expect(h.lines.join('\n')).toContain('this is no time for a drill. Fail over: npm run failover -- --stage staging');

    h.primary = 'answers';
    h.failOnce.add('deploy DrApp');
    expect(await runDrill({ stage: 'staging', teardown: false, yes: true, context: {} }, cfg, h.deps)).toBe(1);
    expect(h.lines.join('\n')).toContain('npm run failover-drill -- --stage staging --teardown --yes');
    h.primary = 'lost';
    h.lines.length = 0;
    expect(await runFailover(failover(), cfg, h.deps)).toBe(1);
    expect(h.lines.join('\n')).toContain('tear the drill down first: npm run failover-drill -- --stage staging --teardown --yes');
    h.primary = 'answers';
    expect(await runDrill({ stage: 'staging', teardown: true, yes: true, context: {} }, cfg, h.deps)).toBe(0);
    expect(h.lines.join('\n')).toContain('TORN DOWN');
  });
});

describe('what stops a failover before it starts', () => {
  test('a pilot light or DR stack deployed before the outputs the DR app tier reads, or before the DR key served Secrets Manager: redeploy them first', () => {
    const pilotLight = Object.fromEntries([...DR_APP_READS.pilotLight, ...DR_APP_READS.pilotLightUploads].map((o) => [o, 'x']));
    const drOutputs = { BackupKeyArn: 'arn:key', BackupKeyServices: 'rds backup secretsmanager', UploadsReplicaBucketName: 'b', UploadsReplicaKeyArn: 'arn:key' };
    const survey: Survey = {
      at: new Date(T0),
      pilotLight,
      drOutputs,
      drBackupKeyArn: 'arn:key',
      image: { ref: 'v1', digest: 'sha256:1' },
      backups: { arn: 'arn:ab', latest: new Date(T0) },
    };
    const prod = operatorConfig('prod', { account: '123456789012', context: {} }, {});
    expect(surveyProblems(prod, survey, 'latest')).toEqual([]);
    const { PrivateRouteTableIds: _, ...older } = pilotLight;
    const { UploadsReplicaKeyArn: __, ...olderDr } = drOutputs;
    expect(surveyProblems(prod, { ...survey, pilotLight: older, drOutputs: { ...olderDr, BackupKeyServices: 'rds backup' } }, 'latest')).toEqual([
      'the DR app tier reads outputs the deployed stacks lack (prod-PilotLight PrivateRouteTableIds, prod-Dr UploadsReplicaKeyArn, prod-Dr BackupKeyServices (with secretsmanager)): deploy them again with this version first: npm run deploy -- --stage prod --primary-lost --only PilotLight --only Dr --yes',
    ]);
    // Staging keeps no uploads replica: it needs neither of its outputs.
    const { UploadsReplicaBucketName: ___, ...noReplica } = olderDr;
    expect(surveyProblems(config('123456789012'), { ...survey, drOutputs: { ...noReplica, BackupKeyServices: 'rds backup secretsmanager' } }, 'latest')).toEqual([]);
  });
});

describe('whether the primary region answers', () => {
  test('an RDS answer of any kind is the region answering; no connection is the region lost', async () => {
    const cfg = config('123456789012');
    expect(await primaryAnswers(cfg, new RDSClient(moto.clientConfig('eu-west-1')))).toBe('RDS in eu-west-1 describes webapp-staging as not found');
    const closed = new RDSClient({ ...moto.clientConfig('eu-west-1'), endpoint: 'http://127.0.0.1:9', maxAttempts: 1 });
    expect(await primaryAnswers(cfg, closed)).toBeUndefined();
  });
});

describe('the command lines', () => {
  test('failover takes --latest or --to-time, not both; failback its stage; the drill --teardown without an image', () => {
    expect(parseFailover(['--stage', 'prod'])).toMatchObject({ stage: 'prod', toTime: 'latest', yes: false, primaryLost: false });
    expect(parseFailover(['--stage', 'prod', '--to-time', '2026-12-07T03:10:00Z', '--primary-lost', '--yes'])).toMatchObject({
      toTime: new Date('2026-12-07T03:10:00Z'),
      primaryLost: true,
      yes: true,
    });
    expect(() => parseFailover(['--stage', 'prod', '--latest', '--to-time', '2026-12-07T03:10:00Z'])).toThrow(/give --latest or --to-time, not both/);
    expect(() => parseFailover(['--stage', 'prod', '--to-time', 'yesterday'])).toThrow(/--to-time takes an ISO time with its zone/);
    expect(parseFailback(['--stage', 'staging', '--yes'])).toMatchObject({ stage: 'staging', yes: true });
    expect(() => parseDrill(['--stage', 'staging', '--teardown', '--image', 'v1.0.0'])).toThrow(/--teardown takes the drill down and deploys no image/);
  });

  test("the three commands' dry runs as the runbook writes them, end to end: exit 0 and the plan; bad arguments exit 2 and change nothing", async () => {
    const { acct, h } = untouched;
    const run = async (entry: typeof failoverMain, argv: string[], primary: Harness['primary']) => {
      h.primary = primary;
      h.lines.length = 0;
      const code = await entry(argv, {}, h.deps);
      return { code, text: h.lines.join('\n') };
    };
    const account = ['--account', acct.account];
    const failover = await run(failoverMain, ['--stage', 'staging', ...account], 'lost');
    expect(failover.code, failover.text).toBe(0);
    expect(failover.text).toContain('Dry run: nothing changed. To fail over: npm run failover -- --stage staging --latest --yes');
    const failback = await run(failbackMain, ['--stage', 'staging', ...account], 'answers');
    expect(failback.code, failback.text).toBe(0);
    expect(failback.text).toContain('nothing to fail back');
    const drill = await run(drillMain, ['--stage', 'staging', ...account], 'answers');
    expect(drill.code, drill.text).toBe(0);
    expect(drill.text).toContain('Dry run: nothing changed. To run it: npm run failover-drill -- --stage staging --yes');
    const teardown = await run(drillMain, ['--stage', 'staging', '--teardown', ...account], 'answers');
    expect(teardown.code, teardown.text).toBe(0);
    expect(teardown.text).toContain('done already');
    // Credentials of another account: each command says whose they are and changes nothing.
    for (const entry of [failoverMain, failbackMain, drillMain]) {
      const other = await run(entry, ['--stage', 'staging', '--account', '999999999999', '--yes'], 'answers');
      expect(other.code, other.text).toBe(2);
      expect(other.text).toMatch(new RegExp(`the credentials are for account ${acct.account} .*but staging is in 999999999999.*Nothing was changed\\.$`));
    }
    const refusal = await printed(() => failoverMain(['--stage', 'staging', '--to-time', 'soon'], {}, h.deps));
    expect(refusal.result).toBe(2);
    expect(refusal.stderr).toMatch(/^failover: --to-time takes an ISO time/);
    expect(h.cdkCalls).toEqual([]);
    h.primary = 'lost';
  });
});

// Keep the imports of commands the stubs name in use: a rename breaks the stub's key silently otherwise.
void [DescribeDBInstanceAutomatedBackupsCommand, ListRecoveryPointsByBackupVaultCommand, InvokeCommand, DescribeServicesCommand];
