import { CreateDBInstanceCommand, CreateDBSnapshotCommand, type DBSnapshot, DescribeAccountAttributesCommand, DescribeDBSnapshotsCommand, RDSClient } from '@aws-sdk/client-rds';
import { STSClient } from '@aws-sdk/client-sts';
import { beforeAll, describe, expect, test } from 'vitest';
import { TAGS, TOOL_TAG } from '../../lambda/pre-deploy-snapshot/snapshot';
import { loadStages } from '../../lib/config';
import { UsageError } from '../../scripts/lib/assembly';
import { judge, runSnapshots, type SnapshotsClients } from '../../scripts/lib/snapshots';
import { main, parseArgs } from '../../scripts/snapshots';
import { printed } from '../support/console';
import { type Moto, roleCredentials, startMoto } from '../support/moto';

/** npm run snapshots on moto's RDS, in a region of its own. */
const REGION = 'us-west-1';
const ACCOUNT = '210000000034'; // this file's own account on the shared moto server
const AT = ['--account', ACCOUNT, '-c', `staging.region=${REGION}`, '-c', 'staging.backup.preDeploySnapshotsKept=2'];
const config = () => loadStages({ stages: 'staging', 'staging.account': ACCOUNT, 'staging.region': REGION, 'staging.backup.preDeploySnapshotsKept': '2' }).selected[0];
const DAY = 86_400_000;
let moto: Moto;
let rds: RDSClient;
let clients: SnapshotsClients;
const deleteFails = new Set<string>();

/**
 * moto's RDS has no DescribeAccountAttributes (moto 5.2: no such response), so this client answers
 * it with the quota RDS would report; every other call goes to moto. Deleting a snapshot named in
 * `deleteFails` fails as RDS would when it is in use.
 */
function withQuota(client: RDSClient, used: number, max: number): Pick<RDSClient, 'send'> {
  const send = async (command: Parameters<RDSClient['send']>[0]) => {
    if (command instanceof DescribeAccountAttributesCommand) return { AccountQuotas: [{ AccountQuotaName: 'ManualSnapshots', Used: used, Max: max }] };
    const id = (command.input as { DBSnapshotIdentifier?: string }).DBSnapshotIdentifier;
    if (command.constructor.name === 'DeleteDBSnapshotCommand' && id && deleteFails.has(id)) {
      throw Object.assign(new Error(`${id} is being copied`), { name: 'InvalidDBSnapshotStateFault' });
    }
    return client.send(command as never);
  };
  return { send } as Pick<RDSClient, 'send'>;
}

const ids = async () => ((await rds.send(new DescribeDBSnapshotsCommand({ SnapshotType: 'manual' }))).DBSnapshots ?? []).map((s) => s.DBSnapshotIdentifier).sort();

const preDeployTags = [
  { Key: TOOL_TAG, Value: 'true' },
  { Key: TAGS.stage, Value: 'staging' },
];

beforeAll(async () => {
  moto = await startMoto({ as: 'webapp-break-glass', account: ACCOUNT });
  rds = new RDSClient(moto.clientConfig(REGION));
  clients = { sts: new STSClient(moto.clientConfig(REGION)), rds: withQuota(rds, 98, 100) };
  for (const id of ['webapp-staging', 'billing']) {
    await rds.send(new CreateDBInstanceCommand({ DBInstanceIdentifier: id, Engine: 'postgres', DBInstanceClass: 'db.t4g.micro', AllocatedStorage: 20 }));
  }
  // Oldest first, so moto's creation times order them: a hand-made one, three pre-deploy ones, another instance's.
  const snapshots: [string, string, { Key: string; Value: string }[]][] = [
    ['before-upgrade', 'webapp-staging', []],
    ['predeploy-staging-v1-202612010000', 'webapp-staging', preDeployTags],
    ['predeploy-staging-v2-202612020000', 'webapp-staging', preDeployTags],
    ['predeploy-staging-v3-202612030000', 'webapp-staging', preDeployTags],
    ['billing-keep', 'billing', []],
  ];
  for (const [DBSnapshotIdentifier, DBInstanceIdentifier, Tags] of snapshots) {
    await rds.send(new CreateDBSnapshotCommand({ DBSnapshotIdentifier, DBInstanceIdentifier, Tags }));
  }
});

describe('npm run snapshots (RDS on moto)', () => {
  test('lists every manual snapshot of the region against the quota, newest first, each with why it is kept; deletes nothing', async () => {
    const lines: string[] = [];
    expect(await runSnapshots(parseArgs(['--stage', 'staging', ...AT]), clients, config(), new Date(Date.now() + 10 * DAY), (l) => lines.push(l))).toBe(0);
    expect(lines[0]).toBe(`${REGION} (${ACCOUNT}): 98 of 100 manual snapshots used; 5 listed here, 4 of them staging's`);
    expect(lines.slice(1, 6).map((l) => l.replace(/ {2}\S+Z {2}/, '  <time>  '))).toEqual([
      "  keep  billing-keep  billing  <time>  not staging's (instance billing)",
      '  keep  predeploy-staging-v3-202612030000  webapp-staging  <time>  the newest pre-deploy snapshot: the running release restores from it',
      '  keep  predeploy-staging-v2-202612020000  webapp-staging  <time>  pre-deploy, within backup.preDeploySnapshotsKept (2)',
      '  keep  predeploy-staging-v1-202612010000  webapp-staging  <time>  10 days old, pre-deploy beyond those kept (a prune that failed)',
      '  keep  before-upgrade  webapp-staging  <time>  10 days old',
    ]);
    expect(lines.at(-1)).toBe('To free some: npm run snapshots -- --stage staging --delete-older-than DAYS (a dry run; then add --yes).');
    expect(await ids()).toHaveLength(5);
  });

  test('--delete-older-than without --yes names what it would delete and deletes nothing', async () => {
    const run = await printed(() => main(['--stage', 'staging', ...AT, '--delete-older-than', '5'], {}, () => clients, new Date(Date.now() + 10 * DAY)));
    expect(run.result).toBe(0);
    expect(run.stdout.split('\n').filter((l) => l.includes('would delete'))).toEqual([
      expect.stringMatching(/^ {2}would delete {2}predeploy-staging-v1-202612010000 {2}webapp-staging /),
      expect.stringMatching(/^ {2}would delete {2}before-upgrade {2}webapp-staging /),
    ]);
    expect(run.stdout).toContain('dry run: nothing deleted; 2 would be. Run again with --yes.');
    expect(await ids()).toHaveLength(5);
  });

  test('nothing is deleted that is not older than the days given', async () => {
    const lines: string[] = [];
    const args = parseArgs(['--stage', 'staging', ...AT, '--delete-older-than', '30', '--yes']);
    expect(await runSnapshots(args, clients, config(), new Date(Date.now() + 10 * DAY), (l) => lines.push(l))).toBe(0);
    expect(lines.at(-1)).toMatch(/^Nothing of staging's is older than 30 days and free to delete\./);
    expect(await ids()).toHaveLength(5);
  });

  test("with --yes deletes those, and never the kept pre-deploy snapshots or another instance's; a failed deletion exits 1", async () => {
    deleteFails.add('before-upgrade');
    const lines: string[] = [];
    const args = parseArgs(['--stage', 'staging', ...AT, '--delete-older-than', '5', '--yes']);
    expect(await runSnapshots(args, clients, config(), new Date(Date.now() + 10 * DAY), (l) => lines.push(l))).toBe(1);
    expect(lines).toContain('FAILED to delete before-upgrade: InvalidDBSnapshotStateFault: before-upgrade is being copied');
    expect(lines.at(-1)).toBe('deleted 1 of 2; about 97 of 100 used now.');
    expect(await ids()).toEqual(['before-upgrade', 'billing-keep', 'predeploy-staging-v2-202612020000', 'predeploy-staging-v3-202612030000']);
    deleteFails.clear();
    expect(await runSnapshots(args, clients, config(), new Date(Date.now() + 10 * DAY), () => {})).toBe(0);
    expect(await ids()).toEqual(['billing-keep', 'predeploy-staging-v2-202612020000', 'predeploy-staging-v3-202612030000']);
  });

  test('says when the config counts another quota than the account has', async () => {
    const lines: string[] = [];
    await runSnapshots(parseArgs(['--stage', 'staging', ...AT]), { ...clients, rds: withQuota(rds, 3, 300) }, config(), new Date(), (l) => lines.push(l));
    expect(lines[1]).toBe("  the quota is 300, the config says 100: set staging.backup.manualSnapshotQuota to 300 (lib/config/stages.ts), so the config's check counts right.");
  });

  test('refuses credentials of another account: exit 2, the reason on stderr, nothing deleted', async () => {
    const run = await printed(() => main(['--stage', 'staging', '-c', `staging.region=${REGION}`, '--delete-older-than', '1', '--yes'], {}, () => clients));
    expect(run.result).toBe(2);
    expect(run.stderr).toMatch(/^snapshots: the credentials are for account 210000000034 .*, but staging is in /);
    expect(run.stdout).toBe('');
    expect(await ids()).toHaveLength(3);
  });

  test('the on-call role lists and plans; deleting takes the break-glass role, and nothing goes before it is refused', async () => {
    // The same server as the file's (startMoto again would empty it under mutation testing).
    const onCall = { endpoint: moto.endpoint, region: REGION, credentials: await roleCredentials(moto.endpoint, 'webapp-staging-on-call', ACCOUNT) };
    const asOnCall = () => ({ sts: new STSClient(onCall), rds: withQuota(new RDSClient(onCall), 98, 100) });
    const plan = await printed(() => main(['--stage', 'staging', ...AT, '--delete-older-than', '1'], {}, asOnCall));
    expect(plan.result).toBe(0);
    const refused = await printed(() => main(['--stage', 'staging', ...AT, '--delete-older-than', '1', '--yes'], {}, asOnCall));
    expect(refused.result).toBe(2);
    expect(refused.stderr).toMatch(/needs the break-glass role/);
    expect(await ids()).toHaveLength(3);
  });

  test.each([
    [['--stage', 'staging', '--yes'], /^--yes deletes, and needs --delete-older-than DAYS to say what\./],
    [['--stage', 'staging', '--delete-older-than', '0'], /^--delete-older-than takes whole days from 1 to 3650, not "0"\./],
    [['--stage', 'staging', '--delete-older-than', '1.5'], /^--delete-older-than takes whole days from 1 to 3650, not "1\.5"\./],
    [['--stage', 'qa'], /^--stage must be one of dev, staging, prod\./],
  ])('refuses %j', (argv, message) => {
    expect(() => parseArgs(argv)).toThrow(UsageError);
    expect(() => parseArgs(argv)).toThrow(message);
  });
});

describe('which snapshots may go', () => {
  const now = new Date('2026-12-31T00:00:00Z');
  const at = (daysAgo: number) => new Date(now.getTime() - daysAgo * DAY);
  const snap = (id: string, daysAgo: number, extra: Partial<DBSnapshot> = {}): DBSnapshot => ({
    DBSnapshotIdentifier: id,
    DBInstanceIdentifier: 'webapp-prod',
    SnapshotCreateTime: at(daysAgo),
    SnapshotType: 'manual',
    Status: 'available',
    ...extra,
  });
  const tagged = [
    { Key: TOOL_TAG, Value: 'true' },
    { Key: TAGS.stage, Value: 'prod' },
  ];
  const verdicts = (olderThan?: number) =>
    judge(
      [
        snap('predeploy-prod-old', 90, { TagList: tagged }),
        snap('predeploy-prod-newest', 60, { TagList: tagged }),
        snap('predeploy-prod-untagged', 80),
        snap('hand-made', 40),
        snap('young', 2),
        snap('repair-final', 50, { DBInstanceIdentifier: 'webapp-prod-repair' }),
        snap('copying', 70, { Status: 'creating' }),
        snap('backup-point', 70, { SnapshotType: 'awsbackup' }),
        snap('staging-one', 70, { DBInstanceIdentifier: 'webapp-staging' }),
        snap('prodx', 70, { DBInstanceIdentifier: 'webapp-prodx' }),
      ],
      'prod',
      1,
      now,
      olderThan,
    );

  test('the newest pre-deploy snapshot is kept however old; pre-deploy ones beyond those kept, hand-made ones and copies of the stage older than the days go', () => {
    expect(
      verdicts(30)
        .filter((v) => v.action === 'delete')
        .map((v) => v.id),
    ).toEqual(['hand-made', 'repair-final', 'predeploy-prod-untagged', 'predeploy-prod-old']);
    expect(verdicts(30).find((v) => v.id === 'predeploy-prod-newest')).toMatchObject({ action: 'keep', why: expect.stringMatching(/^the newest pre-deploy snapshot/) });
  });

  test("never: one not available, AWS Backup's, another stage's or instance's, a young one; without days, nothing", () => {
    const kept = Object.fromEntries(
      verdicts(30)
        .filter((v) => v.action === 'keep')
        .map((v) => [v.id, v.why]),
    );
    expect(kept).toEqual({
      'predeploy-prod-newest': 'the newest pre-deploy snapshot: the running release restores from it',
      copying: 'creating, not available',
      'backup-point': 'awsbackup: its backup plan deletes it',
      'staging-one': "not prod's (instance webapp-staging)",
      prodx: "not prod's (instance webapp-prodx)",
      young: '2 days old, not older than 30',
    });
    expect(verdicts().filter((v) => v.action === 'delete')).toEqual([]);
  });

  test("a pre-deploy snapshot is known by the tool's tags of this stage, or by its name: each alone keeps the newest; another stage's tags do not", () => {
    const newest = (s: DBSnapshot) => judge([s, snap('hand-made', 40)], 'prod', 1, now, 30)[0];
    expect(newest(snap('renamed-by-hand', 35, { TagList: tagged })).action).toBe('keep');
    expect(newest(snap('predeploy-prod-v2', 35)).action).toBe('keep');
    const otherStage = [
      { Key: TOOL_TAG, Value: 'true' },
      { Key: TAGS.stage, Value: 'staging' },
    ];
    expect(newest(snap('renamed-by-hand', 35, { TagList: otherStage }))).toMatchObject({ action: 'delete', why: '35 days old' });
    expect(newest(snap('predeploy-staging-v2', 35))).toMatchObject({ action: 'delete', why: '35 days old' });
  });

  test('the pre-deploy snapshots kept are the newest backup.preDeploySnapshotsKept, and a snapshot exactly the days old stays', () => {
    const three = [snap('predeploy-prod-a', 70), snap('predeploy-prod-b', 60), snap('predeploy-prod-c', 50), snap('hand-made', 30)];
    const decided = (kept: number) => Object.fromEntries(judge(three, 'prod', kept, now, 30).map((v) => [v.id, v.action]));
    expect(decided(2)).toEqual({ 'predeploy-prod-c': 'keep', 'predeploy-prod-b': 'keep', 'predeploy-prod-a': 'delete', 'hand-made': 'keep' });
    expect(decided(3)).toEqual({ 'predeploy-prod-c': 'keep', 'predeploy-prod-b': 'keep', 'predeploy-prod-a': 'keep', 'hand-made': 'keep' });
    expect(judge(three, 'prod', 2, now, 29).find((v) => v.id === 'hand-made')).toMatchObject({ action: 'delete', why: '30 days old' });
  });
});
