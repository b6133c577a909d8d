import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import { GuardDutyClient } from '@aws-sdk/client-guardduty';
import { IAMClient } from '@aws-sdk/client-iam';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { beforeAll, describe, expect, test } from 'vitest';
import { onCallRoleName } from '../lib/baseline/operator-roles';
import { ciRoleNames } from '../lib/ci/ci-access-stack';
import { STAGES, type StageConfig } from '../lib/config';
import { stageResourceName } from '../lib/shared/naming';
import { PROJECT_ROOT } from '../lib/shared/paths';
import { main as contain } from '../scripts/contain';
import { main as costMain } from '../scripts/cost';
import { main as dbShell } from '../scripts/db-shell';
import { main as deploy } from '../scripts/deploy';
import { main as drImages } from '../scripts/dr-images';
import { main as evidence } from '../scripts/evidence';
import { main as failback } from '../scripts/failback';
import { main as failover } from '../scripts/failover';
import { main as failoverDrill } from '../scripts/failover-drill';
import { COMMAND_ROLES, needOf, type OperatorCommand, type RoleNeed } from '../scripts/lib/credentials';
import { primaryAnswers, type RecoveryDeps } from '../scripts/lib/failover';
import type { RegionClients as IncidentRegionClients } from '../scripts/lib/incident';
import { operatorConfig } from '../scripts/lib/release';
import type { Waiting } from '../scripts/lib/restore';
import { main as local } from '../scripts/local';
import { IMAGES_FILE, main as natImage } from '../scripts/nat-image';
import { main as refreshStaging } from '../scripts/refresh-staging';
import { main as releaseTag } from '../scripts/release-tag';
import { main as repairSql } from '../scripts/repair-sql';
import { main as restart } from '../scripts/restart';
import { main as restore } from '../scripts/restore-database';
import { parseArgs as restoreDrillArgs } from '../scripts/restore-drill';
import { main as rollback } from '../scripts/rollback';
import { main as snapshots } from '../scripts/snapshots';
import { printed } from './support/console';
import { type DeployedStage, deployedStage, RECORDED, RELEASES } from './support/deployed-stage';
import { type AwsCommand, awsCommands, isSynopsis, npmArgv, npmCommands, scriptAwsCommands } from './support/doc-commands';
import { type DumpAccount, dumpAccount } from './support/dump-account';
import { startMoto } from './support/moto';
import { stubbed } from './support/stubbed';
import { synthAssembly } from './support/synth';

/** Checks `aws ...` commands against botocore's models (test/support/aws-cli-check.py): problems by command. */
function awsProblems(commands: readonly { argv: readonly string[]; complete?: boolean }[]): string[][] {
  const run = spawnSync('python3', [join(__dirname, 'support', 'aws-cli-check.py')], {
    input: JSON.stringify(commands.map((c, id) => ({ id, argv: c.argv, complete: c.complete ?? true }))),
    encoding: 'utf8',
  });
  if (run.status !== 0) throw new Error(`test/support/aws-cli-check.py failed (python3 with botocore, which moto brings: pip install -r requirements-dev.txt): ${run.stderr}`);
  return (JSON.parse(run.stdout) as { id: number; problems: string[] }[]).map((r) => r.problems);
}

const SCRIPTS = JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8')).scripts as Record<string, string>;
const where = (c: AwsCommand) => `${c.file}:${c.lineNumber}: aws ${c.argv.join(' ')}`;

describe('the aws commands the docs show and the scripts print', () => {
  const all = [...awsCommands(), ...scriptAwsCommands()];
  const partial = (...argv: string[]) => ({ argv, complete: false });
  /** Commands the check must refuse, one problem each, and commands it must pass. */
  const bad = [
    partial('ecz', 'describe-services'),
    partial('ecs', 'describe-service'),
    partial('ecs', 'update-service', '--cluster', 'c', '--desired', '0'),
    partial('ecs', 'wait', 'service-stable', '--cluster', 'c'),
    partial('kms', 'describe-key', '--key-id', 'k', '--query', 'KeyMetadata.[KeyState,CreationDte]'),
    partial('ecs', 'describe-services', '--query', 'services.deployments'),
    partial('ce', 'get-cost-and-usage', '--query', 'ResultsByTime[-1].Groups[?Metrics.UnblendedCost.Amount>`1`]'),
    partial('rds', 'describe-db-snapshots', '--query', "DBSnapshots[?AllocatedStorage=='20']"),
    partial('rds', 'describe-db-snapshots', '--query', 'DBSnapshots[?'),
    { argv: ['elbv2', 'modify-load-balancer-attributes', '--attributes', 'Key=deletion_protection.enabled,Value=false'] },
    partial('ecs', 'stop-service-deployment', '--stop-type', 'rollback'),
    partial('rds', 'describe-db-instances', '--output', 'tabel'),
    partial('sns', 'subscribe', '--topic-arn', 't', '--endpoint', 'a@example.com'),
  ];
  const good = [
    { argv: ['ecs', 'wait', 'services-stable', '--cluster', 'c', '--services', 'a', 'b'] },
    { argv: ['rds', 'modify-db-instance', '--db-instance-identifier', 'x', '--no-deletion-protection'] },
    { argv: ['cloudfront', 'create-invalidation', '--distribution-id', 'd', '--paths', '/x'] },
    partial('ce', 'get-cost-and-usage', '--query', 'ResultsByTime[-1].Groups[?to_number(Metrics.UnblendedCost.Amount)>`1`]'),
    partial('rds', 'describe-db-snapshots', '--max-items', '3', '--query', 'reverse(sort_by(DBSnapshots, &SnapshotCreateTime))[].[DBSnapshotIdentifier,Status]'),
    { argv: ['sns', 'subscribe', '--topic-arn', 't', '--protocol', 'email', '--notification-endpoint', 'a@example.com'] },
  ];
  test('are found in code blocks (a backslash continues a line; pipes, loops and xargs hold several; a $(...) or $((...)) is one value) and in inline spans across a line break', () => {
    const text = [
      'Run `aws kms enable-key',
      '--key-id <key id>` (or `aws ecs describe-services` to look).',
      '',
      '```bash',
      'for svc in a b; do',
      '  aws ecs update-service --cluster c --service $svc \\',
      '    --desired-count 0   # stop',
      'done',
      "aws ec2 describe-vpcs --query 'Vpcs[].VpcId' --output text | xargs -r aws ec2 delete-vpc --vpc-id",
      'aws ce get-cost-and-usage --time-period Start=$(date -u +%Y-%m-01),End=$(date -u +%Y-%m-02)',
      'aws logs start-query --start-time $(( $(date +%s) - 3600 )) --end-time $(date +%s) --query-string x',
      '```',
    ].join('\n');
    const found = awsCommands([{ file: 'x.md', text }]).map((c) => ({ line: c.lineNumber, argv: c.argv.join(' '), complete: c.complete }));
    expect(found).toEqual([
      { line: 6, argv: 'ecs update-service --cluster c --service $svc --desired-count 0', complete: true },
      { line: 9, argv: 'ec2 describe-vpcs --query Vpcs[].VpcId --output text', complete: true },
      { line: 9, argv: 'ec2 delete-vpc --vpc-id', complete: true },
      { line: 10, argv: 'ce get-cost-and-usage --time-period Start=X,End=X', complete: true },
      { line: 11, argv: 'logs start-query --start-time X --end-time X --query-string x', complete: true },
      { line: 1, argv: 'kms enable-key --key-id <key id>', complete: true },
      { line: 2, argv: 'ecs describe-services', complete: false },
    ]);
  });

  test("are found in the scripts' string literals, with a shell's quotes inside a template literal, a substitution as X", () => {
    const text = [
      "  const describe = (query: string) => `aws rds describe-db-instances --db-instance-identifier %{instance} --query '%{query}' --output text`;",
      "  say('watch them start with aws ecs describe-services, and the queues drain');",
      '    `\\\\set p \\`aws secretsmanager get-secret-value --secret-id "$(%{describe(\'x\')})" --query SecretString --output text | jq -r .password\\``,',
      ' * aws ecs update-service --cluster c (a comment)',
    ]
      .join('\n')
      // A script's substitutions, written %{...} here so this file's strings hold none.
      .replaceAll('%{', '${');
    const found = scriptAwsCommands([{ file: 'x.ts', text }]).map((c) => ({ line: c.lineNumber, argv: c.argv.join(' '), complete: c.complete }));
    expect(found).toEqual([
      { line: 1, argv: 'rds describe-db-instances --db-instance-identifier X --query X --output text', complete: true },
      { line: 2, argv: 'ecs describe-services', complete: false },
      { line: 3, argv: 'secretsmanager get-secret-value --secret-id X --query SecretString --output text', complete: true },
    ]);
  });

  // One python process checks them all: loading botocore's models is most of its time.
  let problems: string[][];
  beforeAll(() => {
    problems = awsProblems([...all, ...bad, ...good]);
  });

  test('each names an operation of the AWS CLI, only options it takes, and a --query that reads what the operation returns', () => {
    expect(all.length).toBeGreaterThan(70);
    expect(all.flatMap((c, i) => problems[i].map((p) => `${where(c)}\n  ${p}`))).toEqual([]);
  });

  test('the check finds a wrong service, operation, option (one the CLI renames too), value, waiter, member, missing option and a string compared with a number', () => {
    const found = problems.slice(all.length);
    expect(found.slice(0, bad.length).map((p) => p.length)).toEqual(bad.map(() => 1));
    expect(found.slice(bad.length)).toEqual(good.map(() => []));
    expect(found[4][0]).toMatch(/KeyMetadata has no member `CreationDte`/);
    expect(found[6][0]).toMatch(/compares a string with a number/);
    expect(found[9][0]).toMatch(/needs --load-balancer-arn/);
    expect(found[10][0]).toMatch(/--stop-type takes one of ABORT, ROLLBACK, not 'rollback'/);
    expect(found[12][0]).toMatch(/`aws sns subscribe` takes no --endpoint/);
  });
});

/**
 * Every operator command the docs show runs its dry run here, in-process, against one world on
 * moto: staging and prod deployed in accounts of their own (AWS_<STAGE>_ACCOUNT_ID, as the
 * workflows pass it), each with the pilot light, the DR stack and edge, the releases and their
 * record, the running services and a task, the database and its snapshots, the baseline's evidence
 * bucket (test/support/deployed-stage.ts); and for the commands on logical dumps, both stages'
 * dump buckets and tasks (test/support/dump-account.ts) in two more accounts. A command runs
 * without the flag that makes it real (`--yes`), as the role its dry run needs (COMMAND_ROLES:
 * for most the stage's on-call role, who runs them at 3 a.m.); every AWS call goes to moto, and
 * `cdk` may not run at all.
 */
type Stage = 'staging' | 'prod';
interface World {
  readonly env: NodeJS.ProcessEnv;
  readonly stages: Record<Stage, DeployedStage>;
  /** The accounts with dumps, and the environment that names them. */
  readonly dumps: Record<Stage, DumpAccount> & { readonly env: NodeJS.ProcessEnv };
  /** A fixed clock, so a time the docs name (--to-time 2026-12-01T02:10:00Z) is within the point-in-time window. */
  readonly wait: Waiting;
  /** Where a command writes a file. */
  readonly dir: string;
  /** An assembly synthesized as `npm run synth` writes cdk.out (made when first asked for). */
  assembly(): string;
}
interface DryRun {
  /** Runs the script's main in-process with the world's clients; its exit code. */
  readonly run: (argv: string[], world: World, stage: DeployedStage) => Promise<number>;
  /** What its dry run prints when it reaches its plan. */
  readonly plan: RegExp;
  /** The flag that makes a run real, left out (`--yes` unless said). */
  readonly real?: string;
}

const refuseCdk = (args: readonly string[]): number => {
  throw new Error(`a dry run ran cdk ${args.join(' ')}`);
};

/**
 * The recovery commands' dependencies on the world. Stood in for, as moto cannot: the DR region's
 * replicated automated backups (moto does not replicate) and AWS Backup's recovery points (moto
 * keeps none), both as test/scripts/failover.test.ts has them.
 */
function recoveryDeps(world: World, stage: DeployedStage): RecoveryDeps {
  const now = world.wait.now().getTime();
  const clientsFor = (region: string) => {
    const c = stage.clientsFor(region);
    if (region !== stage.config.drRegion) return c;
    const replicated = {
      DBInstanceIdentifier: stageResourceName(stage.config.name),
      DBInstanceAutomatedBackupsArn: `arn:aws:rds:${region}:${stage.account}:auto-backup:ab-primarysource`,
      DbiResourceId: 'db-PRIMARYSOURCE',
      Status: 'replicating',
      RestoreWindow: { EarliestTime: new Date(now - 7 * 86_400_000), LatestTime: new Date(now - 4 * 60_000) },
    };
    return {
      ...c,
      rds: stubbed(c.rds, { DescribeDBInstanceAutomatedBackupsCommand: () => ({ DBInstanceAutomatedBackups: [replicated] }) }),
      backup: stubbed(c.backup, { ListRecoveryPointsByBackupVaultCommand: () => ({ RecoveryPoints: [{ Status: 'COMPLETED', CreationDate: new Date(now - 5 * 3_600_000) }] }) }),
    };
  };
  return {
    clientsFor,
    deployClients: stage.deployClients,
    cdk: refuseCdk,
    fetch: (() => Promise.reject(new Error('a dry run fetched'))) as unknown as typeof fetch,
    wait: world.wait,
    primaryAnswers: (config) => primaryAnswers(config, stage.clientsFor(config.region).rds),
    dailyCost: async () => ['What the DR tiers cost while they run: priced from the synthesized templates (test/scripts/failover-cost.test.ts)'],
  };
}

/** The staging data's source is prod's dump bucket in the config's prod account, which other files' worlds use: the world's is in an account of its own. */
const refreshFrom = (w: World) => ['-c', `staging.dumps.refreshFrom.sourceAccount=${w.dumps.prod.account}`, '-c', `prod.account=${w.dumps.prod.account}`];

/**
 * How each script's dry run runs in-process, one line a script. A script the docs show that is
 * not here (nor in NOT_RUN) fails the test below: add its line.
 */
const DRY_RUNS: Record<string, DryRun> = {
  // From a checkout of the running release's commit, as the release record has it: a release the record knows deploys from its own commit.
  deploy: {
    run: (argv, w, s) =>
      deploy(
        argv,
        w.env,
        refuseCdk,
        (r) => ({ ...s.deployClients(r), ssm: s.clientsFor(r).ssm }),
        () => ({ commit: RECORDED.running.commit }),
      ),
    plan: /^dry run: nothing deployed\. Run again with --yes to deploy\.$/m,
  },
  // From a checkout of the target's commit (the release before the running one, which every rollback the docs show goes back to).
  rollback: {
    run: (argv, w, s) =>
      rollback(
        argv,
        w.env,
        refuseCdk,
        (r) => ({ ...s.deployClients(r), rds: s.clientsFor(r).rds, ssm: s.clientsFor(r).ssm }),
        w.wait.now(),
        () => ({ commit: RECORDED.previous.commit }),
      ),
    plan: /^dry run: nothing \w+\./m,
  },
  'db-shell': { run: (argv, w, s) => dbShell(argv, w.env, s.clientsFor, w.wait.now()), plan: /^dry run: nothing \w+\.|^no database shell host of \w+ is running\.$/m },
  restore: {
    run: (argv, w, s) =>
      argv.includes('--from-dump')
        ? restore(argv, w.dumps.env, undefined, w.wait, { clientsFor: w.dumps[s.config.name as Stage].clientsFor })
        : restore(
            argv,
            w.env,
            (c) => ({
              sts: s.clientsFor(c.region).sts,
              rds: s.clientsFor(c.region).rds,
              rdsDr: s.clientsFor(c.drRegion).rds,
              cloudformation: s.clientsFor(c.region).cfn,
              cloudformationDr: s.clientsFor(c.drRegion).cfn,
              ssm: s.clientsFor(c.region).ssm,
            }),
            w.wait,
          ),
    plan: /run again with --yes\.$|^Dry run: nothing changed\./im,
  },
  'release-tag': { run: (argv, w, s) => releaseTag(argv, w.env, s.clientsFor), plan: /^dry run: nothing tagged\.|^nothing to do: every image/m },
  'dr-images': {
    run: (argv, w, s) => drImages(argv, w.env, { clientsFor: s.clientsFor }),
    plan: /^dry run: nothing copied or tagged\.|^nothing to do: the DR registry holds every release/m,
  },
  failover: { run: (argv, w, s) => failover(argv, w.env, recoveryDeps(w, s)), plan: /^Dry run: nothing changed\./m },
  failback: { run: (argv, w, s) => failback(argv, w.env, recoveryDeps(w, s)), plan: /^Dry run: nothing changed\.|nothing to fail back\.$/m },
  'failover-drill': { run: (argv, w, s) => failoverDrill(argv, w.env, recoveryDeps(w, s)), plan: /^Dry run: nothing changed\./m },
  'refresh-staging': {
    run: (argv, w) => refreshStaging([...argv, ...refreshFrom(w)], w.dumps.env, { clientsFor: w.dumps.staging.clientsFor, wait: w.wait }),
    plan: /^Dry run: nothing changed\./m,
  },
  local: { run: (argv, w) => local([...argv, ...refreshFrom(w), '--out', join(w.dir, 'compose.yaml')], w.dumps.env, w.dumps.staging.clientsFor), plan: /^wrote .*compose\.yaml/m },
  'nat-image': { run: (argv, w) => natImage(argv, { file: natImages(w.dir), ssmFor: (r) => w.stages.staging.clientsFor(r).ssm }), plan: /pinned, the newest/, real: '--write' },
  cost: { run: async (argv, w) => costMain(argv.map((a) => (a === 'cdk.out' ? w.assembly() : a))), plan: /^Monthly cost estimate \(USD\)$/m },
  restart: {
    run: (argv, w, s) => restart(argv, w.env, (r) => ({ ...s.clientsFor(r), ecs: noneInFlight(s.clientsFor(r).ecs) })),
    plan: /^dry run: nothing changed\. Run again with --yes to restart\.$/m,
  },
  'repair-sql': { run: async (argv) => repairSql(argv), plan: /^BEGIN;$/m },
  snapshots: {
    run: (argv, w, s) => snapshots(argv, w.env, (r) => ({ sts: s.clientsFor(r).sts, rds: withQuota(s.clientsFor(r).rds, s.config) }), w.wait.now()),
    plan: /^To free some: npm run snapshots|^dry run: nothing deleted; \d+ would be\.|^Nothing of \w+'s is older than \d+ days/m,
  },
  contain: { run: (argv, w, s) => contain(argv, w.env, incidentClients(s), w.wait.now()), plan: /^dry run: nothing changed\. Run again with --yes\.$/m },
  evidence: { run: (argv, w, s) => evidence(argv, w.env, incidentClients(s), w.wait.now()), plan: /^dry run: nothing collected\. Run again with --yes\.$/m },
};

/** moto has no service deployments (ECS ListServiceDeployments): none is in flight, as between releases. */
const noneInFlight = <C extends { send: (command: never) => Promise<unknown> }>(ecs: C) => stubbed(ecs, { ListServiceDeploymentsCommand: () => ({ serviceDeployments: [] }) });

/** moto has no RDS DescribeAccountAttributes: the quota the config expects, the world's two manual snapshots of the stage used. */
const withQuota = <C extends { send: (command: never) => Promise<unknown> }>(rds: C, config: StageConfig) =>
  stubbed(rds, { DescribeAccountAttributesCommand: () => ({ AccountQuotas: [{ AccountQuotaName: 'ManualSnapshots', Used: 2, Max: config.backup.manualSnapshotQuota }] }) });

/**
 * The incident commands' clients: the world's, and the clients AccountClients lacks made with the
 * same session. A dry run reads neither GuardDuty nor the logs (it names what --yes would copy),
 * so moto's missing GetFindings needs no stand-in here.
 */
const incidentClients =
  (s: DeployedStage) =>
  (region: string): IncidentRegionClients => {
    const c = s.clientsFor(region);
    const o = s.options(region);
    return {
      sts: c.sts,
      cfn: c.cfn,
      ecs: c.ecs,
      s3: c.s3,
      logs: new CloudWatchLogsClient(o),
      guardduty: new GuardDutyClient(o),
      iam: new IAMClient(o),
      secrets: new SecretsManagerClient(o),
    };
  };

/**
 * A release's own assembly, as the deploy workflow keeps it (its `assembly` artifact) for
 * `npm run deploy -- --app`: the stage's App stack in its account, its task definition on the
 * release before the running one (what a rollback from another checkout deploys).
 */
function releaseAssembly(dir: string, s: DeployedStage): string {
  const { name, region } = s.config;
  const image = s.config.image.repositoryName;
  const out = join(dir, `release-assembly-${name}`);
  mkdirSync(out, { recursive: true });
  const template = {
    Resources: {
      WebTask: {
        Type: 'AWS::ECS::TaskDefinition',
        Properties: { ContainerDefinitions: [{ Name: 'app', Image: `${s.account}.dkr.ecr.${region}.amazonaws.com/${image}:${RELEASES.previous}` }] },
      },
    },
  };
  writeFileSync(join(out, `${name}-App.template.json`), JSON.stringify(template));
  const artifact = {
    type: 'aws:cloudformation:stack',
    environment: `aws://${s.account}/${region}`,
    displayName: `${name}/App`,
    properties: { templateFile: `${name}-App.template.json`, stackName: `${name}-App` },
  };
  writeFileSync(join(out, 'manifest.json'), JSON.stringify({ version: '48.0.0', artifacts: { [`${name}-App`]: artifact } }));
  return out;
}

/** A copy of the pinned NAT images, for a run that might write it. */
const natImages = (dir: string) => {
  const file = join(dir, 'nat-instance-images.json');
  copyFileSync(IMAGES_FILE, file);
  return file;
};

/**
 * Scripts the docs show whose commands no dry run runs here, each with why and a check that the
 * why still holds.
 */
const NOT_RUN: Record<string, { readonly why: string; readonly holds: () => void }> = {
  'restore-drill': {
    why: 'it has no dry run: every run restores a drill copy (and deletes it), so there is no plan to print without changing the account',
    holds: () => expect(() => restoreDrillArgs(['--stage', 'staging', '--yes'])).toThrow(/--yes/),
  },
  preflight: {
    why: "its verdict needs the network: it asks public DNS for the stage domain's delegation (node:dns, not injectable), and the account quotas it reads have no stand-in in moto (test/scripts/preflight.test.ts checks each check there)",
    holds: () => {
      expect(STAGES.staging.domain).toBeDefined();
      expect(readFileSync(join(PROJECT_ROOT, 'scripts', 'preflight.ts'), 'utf8')).toContain('new Resolver()');
    },
  },
};

/**
 * Commands the docs show for a state the world is not in, which they establish in the text
 * around the command: the context that state adds (as if committed to lib/config/stages.ts), or
 * what it adds to the stage's account while the command runs (`makes`, which returns its undoing).
 */
const STATES: readonly {
  readonly command: RegExp;
  readonly context?: readonly string[];
  readonly makes?: (stage: DeployedStage) => Promise<() => Promise<void>>;
  readonly because: string;
}[] = [
  {
    command: /--primary-lost --only DrApp --only Edge/,
    context: ['-c', 'staging.dr.appTier=true', '-c', 'staging.dr.serveFrom=dr'],
    because: 'docs/disaster-recovery.md, "Failing over", step 4: the stage commits dr.appTier and dr.serveFrom first',
  },
  {
    command: /^db-shell .*--instance webapp-staging-repair\b/,
    makes: (stage) => stage.repairCopy(),
    because:
      'docs/disaster-recovery.md, "Repairing from a copy": the restore alongside (--yes) made the repair copy first; between releases there is none, and the restores the docs show refuse while one is there',
  },
];

/** Commands whose documented answer in deployed stages between releases is a refusal. */
const REFUSALS: readonly { readonly command: RegExp; readonly exitCode: number; readonly says: RegExp; readonly because: string }[] = [
  {
    command: /^failover --stage/,
    exitCode: 2,
    says: /^REFUSED: the primary region eu-west-1 still answers/m,
    because: 'a failover while the primary region answers splits the writes; the docs run it when that region is lost',
  },
];

const ACCOUNTS: Record<Stage, string> = { staging: '765432100021', prod: '765432100022' };
const DUMPS: Record<Stage, string> = { staging: '765432100023', prod: '765432100024' };
const stageOf = (argv: readonly string[]): Stage => (argv[argv.indexOf('--stage') + 1] === 'prod' ? 'prod' : 'staging');

describe('the npm commands the docs show', () => {
  let world: World;
  const runnable = npmCommands().filter((c) => c.args !== '' && !isSynopsis(c.args) && (c.name in DRY_RUNS || c.name in NOT_RUN));
  const operator = npmCommands().filter((c) => c.args !== '' && !isSynopsis(c.args) && /^tsx scripts\//.test(SCRIPTS[c.name] ?? ''));

  /** The world as a caller with the role a need asks for finds it (the stage's on-call role for an on-call dry run), made once a need. */
  const worlds = new Map<RoleNeed, Promise<World>>();
  const worldAs = (need: RoleNeed): Promise<World> => {
    // A command that asks for no role runs as the world was made (break-glass).
    if (need === 'any') return Promise.resolve(world);
    const made =
      worlds.get(need) ??
      (async () => {
        const role = (config: StageConfig) =>
          ({ 'on-call': onCallRoleName(config.name), deploy: ciRoleNames(config.name).deploy, 'break-glass': config.backup.breakGlassRoleName })[need];
        const [staging, prod, dumpStaging, dumpProd] = await Promise.all([
          world.stages.staging.as(role(world.stages.staging.config)),
          world.stages.prod.as(role(world.stages.prod.config)),
          world.dumps.staging.as(role(world.stages.staging.config)),
          world.dumps.prod.as(role(world.stages.prod.config)),
        ]);
        return { ...world, stages: { staging, prod }, dumps: { ...world.dumps, staging: dumpStaging, prod: dumpProd } };
      })();
    worlds.set(need, made);
    return made;
  };

  beforeAll(async () => {
    const moto = await startMoto();
    const env = { AWS_STAGING_ACCOUNT_ID: ACCOUNTS.staging, AWS_PROD_ACCOUNT_ID: ACCOUNTS.prod };
    const now = new Date('2026-12-01T03:00:00Z');
    let assembly: string | undefined;
    // The four accounts are independent: moto builds them side by side.
    const [staging, prod, dumpStaging, dumpProd] = await Promise.all([
      deployedStage(moto, operatorConfig('staging', { context: {} }, env), { preDeploy: 'predeploy-staging-v1-4-2-3f9a1c2e-202612010200', manual: 'before-major-upgrade-staging' }),
      deployedStage(moto, operatorConfig('prod', { context: {} }, env), { preDeploy: 'predeploy-prod-v1-4-2-3f9a1c2e-202612010200', manual: 'before-major-upgrade-prod' }),
      dumpAccount(moto, DUMPS.staging, operatorConfig('staging', { account: DUMPS.staging, context: {} }, {})),
      dumpAccount(moto, DUMPS.prod, operatorConfig('prod', { account: DUMPS.prod, context: {} }, {})),
    ]);
    const dumps = { env: { AWS_STAGING_ACCOUNT_ID: DUMPS.staging, AWS_PROD_ACCOUNT_ID: DUMPS.prod }, staging: dumpStaging, prod: dumpProd };
    for (const region of ['eu-west-1', 'eu-central-1']) await dumps.prod.putDump(region, 'raw/2026-11-30T02-00-04Z.dump');
    await dumps.prod.putDump('eu-west-1', 'anonymised/2026-11-30T03-00-04Z.dump');
    const dir = mkdtempSync(join(tmpdir(), 'docs-commands-'));
    world = {
      env,
      stages: { staging, prod },
      dumps,
      wait: { now: () => now, sleep: async () => {}, log: (line) => console.log(line) },
      dir,
      assembly: () => {
        assembly ??= synthAssembly(join(dir, 'cdk.out'));
        return assembly;
      },
    };
  });

  test('each operator script the docs run has a dry run here, or a reason it has none', () => {
    const missing = [...new Set(operator.map((c) => c.name))].filter((name) => !(name in DRY_RUNS) && !(name in NOT_RUN));
    expect(
      missing.map((name) => `npm run ${name}: add a line to DRY_RUNS in test/docs-commands.test.ts saying how its dry run runs in-process (its main, with the world's clients)`),
    ).toEqual([]);
    for (const { holds } of Object.values(NOT_RUN)) holds();
  });

  test('every dry run the docs show reaches its plan against deployed stages (or the refusal the docs expect)', async () => {
    const failures: string[] = [];
    const used = new Set<object>();
    let ran = 0;
    // A command the docs show in several places runs once; a failure names every place.
    const places = new Map<string, string[]>();
    for (const c of runnable) places.set(`${c.name} ${c.args}`, [...(places.get(`${c.name} ${c.args}`) ?? []), `${c.file}:${c.lineNumber}`]);
    const once = runnable.filter((c, i) => runnable.findIndex((d) => d.name === c.name && d.args === c.args) === i);
    for (const c of once) {
      if (c.name in NOT_RUN) continue;
      const { run, plan, real = '--yes' } = DRY_RUNS[c.name];
      const need = c.name in COMMAND_ROLES ? needOf({ command: c.name as OperatorCommand, acting: false }) : 'any';
      const acting = await worldAs(need);
      const stage = acting.stages[stageOf(npmArgv(c.args))];
      const filled = npmArgv(c.args, {
        '--account': stage.account,
        'sha256:': stage.runningDigest,
        '--task': stage.task,
        '--to': RECORDED.previous.release,
        '--from': RECORDED.running.release,
        '--before-release': RECORDED.running.release,
        ...(c.args.includes('--app') ? { '--app': releaseAssembly(world.dir, stage) } : {}),
      }).filter((a) => a !== real);
      const state = STATES.find((s) => s.command.test(`${c.name} ${filled.join(' ')}`));
      const argv = [...filled, ...(state?.context ?? [])];
      const line = `${c.name} ${argv.join(' ')}`;
      const refusal = REFUSALS.find((r) => r.command.test(line));
      for (const u of [state, refusal]) if (u) used.add(u);
      const undo = await state?.makes?.(stage);
      const out = await printed(() => run(argv, acting, stage)).finally(undo);
      ran++;
      const text = out.stdout + out.stderr;
      const ok = refusal ? out.result === refusal.exitCode && refusal.says.test(text) : out.result === 0 && plan.test(out.stdout);
      if (!ok)
        failures.push(
          `${places.get(`${c.name} ${c.args}`)!.join(', ')}: npm run ${c.name} -- ${argv.join(' ')}\n  exit ${out.result}, expected ${refusal ? `${refusal.exitCode} (${refusal.because})` : `0 and ${plan}`}\n${text.replace(/^/gm, '  | ')}`,
        );
    }
    expect(failures).toEqual([]);
    expect(ran).toBeGreaterThan(30);
    // An entry no command needs any more would hide the next one that does.
    expect([...STATES, ...REFUSALS].filter((u) => !used.has(u)).map((u) => String(u.command))).toEqual([]);
  });
});
