import { CreateStackCommand } from '@aws-sdk/client-cloudformation';
import { CreateRepositoryCommand, PutImageCommand } from '@aws-sdk/client-ecr';
import {
  CreateClusterCommand,
  CreateServiceCommand,
  DescribeServicesCommand,
  type ECSClient,
  ListServiceDeploymentsCommand,
  RegisterTaskDefinitionCommand,
  UpdateServiceCommand,
} from '@aws-sdk/client-ecs';
import { CreateDBInstanceCommand } from '@aws-sdk/client-rds';
import { PutParameterCommand } from '@aws-sdk/client-ssm';
import { beforeAll, describe, expect, test } from 'vitest';
import { releaseParameter, type StoredRelease } from '../../lambda/release-record/stored';
import { main as deploy } from '../../scripts/deploy';
import { regionClientSet } from '../../scripts/lib/dr-survey';
import { checkoutProblem, findRelease, releaseHistory } from '../../scripts/lib/release-history';
import { tagRelease } from '../../scripts/lib/release-tags';
import type { RollbackClients } from '../../scripts/lib/rollback';
import { main as rollback } from '../../scripts/rollback';
import { printed } from '../support/console';
import { imageManifest } from '../support/ecr';
import { type Moto, startMoto } from '../support/moto';

/**
 * Rollback from the release record against moto (ECS, SSM, ECR, RDS, CloudFormation): a staging
 * stage in a region no other test uses, whose record holds three releases, the newest running on
 * the web and worker services.
 */
const REGION = 'us-west-1';
const ACCOUNT = '210000000036'; // this file's own account on the shared moto server
const REGISTRY = `${ACCOUNT}.dkr.ecr.${REGION}.amazonaws.com/webapp`;
const AT = ['--account', ACCOUNT, '-c', `staging.region=${REGION}`];
const COMMITS = { old: 'a'.repeat(40), previous: 'b'.repeat(40), current: 'c'.repeat(40) };
const CLUSTER = 'staging-App-Cluster';
let moto: Moto;
let clients: RollbackClients;
const digests: Record<string, string> = {};
const taskDefinitions: Record<string, string> = {};

/**
 * moto keeps a service's PRIMARY deployment at the task definition it was created with after
 * UpdateService; ECS makes the new one PRIMARY. The answer is moto's, with that one field as ECS has it.
 */
const ecsAsAws = () =>
  ({
    send: async (command: { input: unknown }) => {
      // moto has no service deployments: none is in flight.
      if (command instanceof ListServiceDeploymentsCommand) return { serviceDeployments: [] };
      const out = (await clients.ecs.send(command as never)) as { services?: { taskDefinition?: string; deployments?: { status?: string; taskDefinition?: string }[] }[] };
      if (command instanceof DescribeServicesCommand)
        for (const s of out.services ?? []) for (const d of s.deployments ?? []) if (d.status === 'PRIMARY') d.taskDefinition = s.taskDefinition;
      return out;
    },
  }) as unknown as ECSClient;
const clientsFor = (): RollbackClients => ({ ...clients, ecs: ecsAsAws() });
const refuseCdk = (args: readonly string[]): number => {
  throw new Error(`cdk ran: ${args.join(' ')}`);
};
const at = (commit: string) => () => ({ commit });

const record = (release: string, tag: string, commit: string, migration: Partial<StoredRelease>, previous: string): StoredRelease => ({
  stage: 'staging',
  release,
  image: `webapp:${tag}`,
  digest: digests[tag],
  commit,
  snapshotId: `predeploy-staging-${release}`,
  snapshotSkipped: false,
  startedAt: '2026-12-01T10:00:00.000Z',
  migrationTask: 'skipped',
  migrationStartedAt: '2026-12-01T10:05:00.000Z',
  migrationSeconds: 0,
  migrationsApplied: null,
  completedAt: '2026-12-01T10:30:00.000Z',
  previous,
  stackRollback: false,
  ...migration,
});

beforeAll(async () => {
  moto = await startMoto({ as: 'webapp-break-glass', account: ACCOUNT });
  const config = moto.clientConfig(REGION);
  clients = regionClientSet(config);
  await clients.ecr.send(new CreateRepositoryCommand({ repositoryName: 'webapp' }));
  for (const tag of ['v1.4.0', 'v1.4.1', 'v1.4.2']) {
    digests[tag] = (await clients.ecr.send(new PutImageCommand({ repositoryName: 'webapp', imageManifest: imageManifest(`rollback ${tag}`), imageTag: tag }))).image!.imageId!
      .imageDigest!;
    await tagRelease(clients.ecr, 'webapp', digests[tag]);
  }
  await clients.ecs.send(new CreateClusterCommand({ clusterName: CLUSTER }));
  for (const [family, tags] of [
    ['stagingAppWebTask', ['v1.4.1', 'v1.4.2']],
    ['stagingAppWorkerTask', ['v1.4.1', 'v1.4.2']],
  ] as const) {
    for (const tag of tags) {
      const out = await clients.ecs.send(
        new RegisterTaskDefinitionCommand({
          family,
          networkMode: 'awsvpc',
          requiresCompatibilities: ['FARGATE'],
          cpu: '1024',
          memory: '2048',
          containerDefinitions: [{ name: 'app', image: `${REGISTRY}:${tag}` }],
        }),
      );
      taskDefinitions[`${family} ${tag}`] = out.taskDefinition!.taskDefinitionArn!;
    }
  }
  for (const [service, family] of [
    ['staging-App-WebService', 'stagingAppWebTask'],
    ['staging-App-WorkerService', 'stagingAppWorkerTask'],
  ]) {
    await clients.ecs.send(
      new CreateServiceCommand({ cluster: CLUSTER, serviceName: service, taskDefinition: taskDefinitions[`${family} v1.4.2`], desiredCount: 1, launchType: 'FARGATE' }),
    );
  }
  await clients.cfn.send(
    new CreateStackCommand({
      StackName: 'staging-App',
      TemplateBody: JSON.stringify({
        Resources: { Topic: { Type: 'AWS::SNS::Topic' } },
        Outputs: { ClusterName: { Value: CLUSTER }, WebServiceName: { Value: 'staging-App-WebService' }, WorkerServiceName: { Value: 'staging-App-WorkerService' } },
      }),
    }),
  );
  await clients.rds.send(
    new CreateDBInstanceCommand({
      DBInstanceIdentifier: 'webapp-staging',
      Engine: 'postgres',
      DBInstanceClass: 'db.t4g.large',
      MasterUsername: 'webapp',
      MasterUserPassword: 'not-a-real-password',
      AllocatedStorage: 50,
      BackupRetentionPeriod: 7,
    }),
  );
  const history = [
    record('v1.4.0-aaaaaaaa', 'v1.4.0', COMMITS.old, { migrationTask: 'none' }, ''),
    record('v1.4.1-bbbbbbbb', 'v1.4.1', COMMITS.previous, { migrationTask: 'arn:aws:ecs:x:1:task/c/41', migrationsApplied: ['0041_orders'] }, 'v1.4.0-aaaaaaaa'),
    record('v1.4.2-cccccccc', 'v1.4.2', COMMITS.current, { migrationTask: 'arn:aws:ecs:x:1:task/c/42', migrationsApplied: ['0042_drop_legacy_sku'] }, 'v1.4.1-bbbbbbbb'),
  ];
  for (const r of history) await clients.ssm.send(new PutParameterCommand({ Name: releaseParameter('staging'), Value: JSON.stringify(r), Type: 'String', Overwrite: true }));
});

describe('the release history', () => {
  test('is the parameter history, oldest first; a release is found by its id, its tag or its digest', async () => {
    const history = await releaseHistory(clients.ssm, 'staging');
    expect(history.map((r) => r.release)).toEqual(['v1.4.0-aaaaaaaa', 'v1.4.1-bbbbbbbb', 'v1.4.2-cccccccc']);
    for (const name of ['v1.4.1-bbbbbbbb', 'v1.4.1', digests['v1.4.1']]) expect(findRelease(history, name)?.release).toBe('v1.4.1-bbbbbbbb');
    expect(findRelease(history, 'v9')).toBeUndefined();
    expect(await releaseHistory(clients.ssm, 'prod')).toEqual([]);
  });

  test('a checkout of another commit, or with uncommitted changes, may not deploy a recorded release', async () => {
    const [, previous] = await releaseHistory(clients.ssm, 'staging');
    expect(checkoutProblem('staging', previous, { commit: COMMITS.previous })).toBeUndefined();
    expect(checkoutProblem('staging', previous, { commit: COMMITS.current })).toMatch(
      new RegExp(
        `^the release v1\\.4\\.1-bbbbbbbb of staging was built from commit ${COMMITS.previous}, but this checkout is ${COMMITS.current}: .* Fix: git checkout ${COMMITS.previous} `,
      ),
    );
    expect(checkoutProblem('staging', previous, { commit: COMMITS.previous, why: 'the checkout has uncommitted changes' })).toMatch(/but the checkout has uncommitted changes/);
    expect(checkoutProblem('staging', { ...previous, commit: '' }, { commit: COMMITS.current })).toBeUndefined();
  });
});

describe('npm run rollback from the record', () => {
  test('the dry run names the running release and the target with commits, digests and migrations, warns of the newer migration, and prints the exact command', async () => {
    const out = await printed(() => rollback(['--stage', 'staging', ...AT], {}, refuseCdk, clientsFor, new Date(), at(COMMITS.previous)));
    expect(out.stderr).toBe('');
    expect(out.result).toBe(0);
    expect(out.stdout).toContain(
      `running: v1.4.2-cccccccc (image webapp:v1.4.2, ${digests['v1.4.2']}, commit cccccccccccc, migration started 2026-12-01T10:05:00.000Z (0042_drop_legacy_sku)`,
    );
    expect(out.stdout).toContain(
      `target:  v1.4.1-bbbbbbbb (image webapp:v1.4.1, ${digests['v1.4.1']}, commit bbbbbbbbbbbb, migration started 2026-12-01T10:05:00.000Z (0041_orders), completed 2026-12-01T10:30:00.000Z) (the release before the running one)`,
    );
    expect(out.stdout).toContain(
      'WARNING: the target predates the migrations of v1.4.2-cccccccc (migration started 2026-12-01T10:05:00.000Z (0042_drop_legacy_sku)). A code rollback does not undo schema changes',
    );
    expect(out.stdout).toContain('docs/runbooks.md, "Roll back a release that damaged data"');
    expect(out.stdout).toContain('-c imageTag=v1.4.1');
    expect(out.stdout).toContain(`To roll back: npm run rollback -- --stage staging --to v1.4.1 --from v1.4.2-cccccccc --account ${ACCOUNT} -c staging.region=${REGION} --yes`);
  });

  test('--yes needs --from, and --from must name what runs; --to takes a tag and says what it takes when it names nothing', async () => {
    const bare = await printed(() => rollback(['--stage', 'staging', ...AT, '--yes'], {}, refuseCdk, clientsFor, new Date(), at(COMMITS.previous)));
    expect(bare.result).toBe(2);
    expect(bare.stderr).toMatch(/^rollback: --yes needs --from <the release you mean to roll back>.*: npm run rollback -- --stage staging --to v1\.4\.1 --from v1\.4\.2-cccccccc /);
    const wrong = await printed(() => rollback(['--stage', 'staging', ...AT, '--from', 'v1.4.1', '--yes'], {}, refuseCdk, clientsFor, new Date(), at(COMMITS.previous)));
    expect(wrong.result).toBe(2);
    expect(wrong.stderr).toMatch(/^rollback: --from v1\.4\.1 is not what staging runs: the record and ECS say v1\.4\.2-cccccccc \(v1\.4\.2, sha256:/);
    const older = await printed(() => rollback(['--stage', 'staging', ...AT, '--to', 'v1.4.0'], {}, refuseCdk, clientsFor, new Date(), at(COMMITS.old)));
    expect(older.result).toBe(0);
    expect(older.stdout).toContain('target:  v1.4.0-aaaaaaaa (image webapp:v1.4.0');
    expect(older.stdout).toContain('the migrations of v1.4.1-bbbbbbbb (migration started 2026-12-01T10:05:00.000Z (0041_orders)); v1.4.2-cccccccc');
    const unknown = await printed(() => rollback(['--stage', 'staging', ...AT, '--to', 'v0.9'], {}, refuseCdk, clientsFor, new Date(), at(COMMITS.old)));
    expect(unknown.result).toBe(2);
    expect(unknown.stderr).toBe(
      'rollback: --to v0.9 names no recorded release of staging. --to takes a release id, an image tag or a digest; the newest: v1.4.2-cccccccc (v1.4.2), v1.4.1-bbbbbbbb (v1.4.1), v1.4.0-aaaaaaaa (v1.4.0).\n',
    );
  });

  test('a checkout of another commit than the target prints the plan, then refuses with how to get it', async () => {
    const out = await printed(() => rollback(['--stage', 'staging', ...AT, '--from', 'v1.4.2', '--yes'], {}, refuseCdk, clientsFor, new Date(), at(COMMITS.current)));
    expect(out.result).toBe(2);
    expect(out.stdout).toContain('target:  v1.4.1-bbbbbbbb');
    expect(out.stderr).toContain(`rollback: the release v1.4.1-bbbbbbbb of staging was built from commit ${COMMITS.previous}, but this checkout is ${COMMITS.current}`);
    expect(out.stderr).toContain(`Fix: git checkout ${COMMITS.previous} and run the command again from there`);
  });

  test('with --from and the target checked out, --yes deploys the target to the App stack', async () => {
    const runs: string[][] = [];
    const code = await printed(() =>
      rollback(
        ['--stage', 'staging', ...AT, '--from', digests['v1.4.2'], '--yes'],
        {},
        (args) => {
          runs.push([...args]);
          return 0;
        },
        clientsFor,
        new Date(),
        at(COMMITS.previous),
      ),
    );
    expect(code.stderr).toBe('');
    expect(code.result).toBe(0);
    expect(runs).toHaveLength(1);
    expect(runs[0]).toEqual(expect.arrayContaining(['staging/App', '--exclusively', '-c', 'imageTag=v1.4.1']));
  });

  test('--fast points web and worker back at the revisions of the recorded target, and prints the command with --fast', async () => {
    const out = await printed(() => rollback(['--stage', 'staging', ...AT, '--fast'], {}, refuseCdk, clientsFor, new Date(), at(COMMITS.previous)));
    expect(out.stderr).toBe('');
    expect(out.result).toBe(0);
    expect(out.stdout).toContain(`staging-App-WebService: back to ${taskDefinitions['stagingAppWebTask v1.4.1']}`);
    expect(out.stdout).toContain(`staging-App-WorkerService: back to ${taskDefinitions['stagingAppWorkerTask v1.4.1']}`);
    expect(out.stdout).toContain('To point the services back, then deploy: npm run rollback -- --stage staging --fast --to v1.4.1 --from v1.4.2-cccccccc');
  });

  test('after ECS rolled a release back by itself, rollback refuses to go back a second release and says what runs', async () => {
    // The web service runs v1.4.1 again (a deployment alarm's rollback), while the record still says v1.4.2.
    await clients.ecs.send(new UpdateServiceCommand({ cluster: CLUSTER, service: 'staging-App-WebService', taskDefinition: taskDefinitions['stagingAppWebTask v1.4.1'] }));
    try {
      const out = await printed(() => rollback(['--stage', 'staging', ...AT], {}, refuseCdk, clientsFor, new Date(), at(COMMITS.previous)));
      expect(out.result).toBe(2);
      expect(out.stdout).toBe('');
      expect(out.stderr).toBe(
        'rollback: the release record says staging runs v1.4.2-cccccccc (v1.4.2), but staging-App-WebService runs v1.4.1 (release v1.4.1-bbbbbbbb). ECS rolled the release back by itself (circuit breaker or a deployment alarm) or the services were changed by hand: a rollback from the record would go back a second release. ' +
          'Fix: if what runs is where staging should be, make CloudFormation and the record say so: npm run deploy -- --stage staging --only App --image v1.4.1; then roll back from there if you still need to.\n',
      );
    } finally {
      await clients.ecs.send(new UpdateServiceCommand({ cluster: CLUSTER, service: 'staging-App-WebService', taskDefinition: taskDefinitions['stagingAppWebTask v1.4.2'] }));
    }
  });

  test('the worker counts too: a worker on another image than the record refuses as well', async () => {
    await clients.ecs.send(new UpdateServiceCommand({ cluster: CLUSTER, service: 'staging-App-WorkerService', taskDefinition: taskDefinitions['stagingAppWorkerTask v1.4.1'] }));
    try {
      const out = await printed(() => rollback(['--stage', 'staging', ...AT], {}, refuseCdk, clientsFor, new Date(), at(COMMITS.previous)));
      expect(out.result).toBe(2);
      expect(out.stderr).toContain('but staging-App-WorkerService runs v1.4.1 (release v1.4.1-bbbbbbbb)');
    } finally {
      await clients.ecs.send(new UpdateServiceCommand({ cluster: CLUSTER, service: 'staging-App-WorkerService', taskDefinition: taskDefinitions['stagingAppWorkerTask v1.4.2'] }));
    }
  });
});

describe('npm run deploy and the record', () => {
  test('--image takes a recorded release id; this checkout must be its commit, which the deploy passes on for the record', async () => {
    const ok = await printed(() => deploy(['--stage', 'staging', ...AT, '--image', 'v1.4.1-bbbbbbbb'], {}, refuseCdk, clientsFor, at(COMMITS.previous)));
    expect(ok.stderr).toBe('');
    expect(ok.result).toBe(0);
    expect(ok.stdout).toContain('  image:   webapp v1.4.1 (release v1.4.1-bbbbbbbb of the staging record)');
    expect(ok.stdout).toContain(`-c imageTag=v1.4.1 -c staging.region=${REGION} -c commit=${COMMITS.previous}`);
  });

  test('--image of a recorded release from a checkout of another commit refuses, exit 2, saying how to get the commit or the assembly', async () => {
    for (const image of ['v1.4.1', digests['v1.4.1']]) {
      const out = await printed(() => deploy(['--stage', 'staging', ...AT, '--image', image], {}, refuseCdk, clientsFor, at(COMMITS.current)));
      expect(out.result).toBe(2);
      expect(out.stdout).toBe('');
      expect(out.stderr).toContain(`deploy: the release v1.4.1-bbbbbbbb of staging was built from commit ${COMMITS.previous}, but this checkout is ${COMMITS.current}`);
      expect(out.stderr).toContain('npm run deploy -- --stage staging --app release-assembly');
    }
  });

  test('an emergency deploy without the snapshot says what it costs; a checkout with uncommitted changes records no commit', async () => {
    const out = await printed(() =>
      deploy(['--stage', 'staging', ...AT, '-c', 'skipPreDeploySnapshot=true'], {}, refuseCdk, clientsFor, () => ({
        commit: COMMITS.current,
        why: 'the checkout has uncommitted changes',
      })),
    );
    expect(out.result).toBe(0);
    expect(out.stdout).not.toContain('-c commit=');
    expect(out.stdout).toContain('  note:    the checkout has uncommitted changes: the release record gets no commit');
    expect(out.stdout).toContain(
      '  note:    WITHOUT the pre-deploy snapshot (-c skipPreDeploySnapshot=true): this release has no snapshot of its own, so there is no pre-release restore point and no snapshot for a rollback or a half-applied migration to return to. Point-in-time restore (',
    );
    expect(out.stdout).toContain('The release record marks it (snapshotSkipped), and the ops stack opens a ticket.');
  });
});
