/**
 * `npm run failback`: a stage that failed over goes back to its primary region once that region
 * answers again, with the data written in the DR region meanwhile (docs/disaster-recovery.md,
 * "Failing back"). Writes stop first (the DR services scaled to nothing: CloudFront shows the
 * maintenance page), the uploads written meanwhile are copied home, then a snapshot of the DR
 * database is copied to the primary region under the stage's database key and takes the stale
 * primary database's place (`npm run restore`'s
 * replace, which keeps the old one), the stage deploys as the pipeline would (the edge moves back),
 * the site is checked through CloudFront, and the DR tiers are taken down. Same rules as the
 * failover: dry run by default, each step read from AWS, a rerun continues.
 */
import { RegisterScalableTargetCommand } from '@aws-sdk/client-application-auto-scaling';
import { DescribeServicesCommand, type ECSClient, UpdateServiceCommand } from '@aws-sdk/client-ecs';
import { AddTagsToResourceCommand, CopyDBSnapshotCommand, CreateDBSnapshotCommand, type DBSnapshot, type RDSClient } from '@aws-sdk/client-rds';
import { CopyObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { snapshotById } from '../../lambda/pre-deploy-snapshot/snapshot';
import type { StageConfig, StageName } from '../../lib/config';
import { pilotLightNames, SERVING_FROM_OUTPUT } from '../../lib/dr/pilot-light-names';
import { projectTag, stageResourceName } from '../../lib/shared/naming';
import { accountProblem } from './credentials';
import { planDeploy } from './deploy';
import { expected, purposeOf, type RecoveryContext, retireStep, verifyStep } from './dr-steps';
import type { Survey } from './dr-survey';
import type { RecoveryDeps } from './failover';
import { deployArgs, imageRef, outputsOf, runningRelease, shellLine } from './release';
import { describe, waitAvailable } from './restore';
import { runRestore } from './restore-database';
import { dryRunEnd, minutesLine, printPlan, runSteps, type Step } from './runbook';

/** The tag the failback puts on the primary database it restored: the snapshot it came from. */
export const RESTORED_FROM_TAG = projectTag('restored-from');

export interface FailbackArgs {
  readonly stage: StageName;
  readonly yes: boolean;
  readonly account?: string;
  readonly context: Record<string, string>;
}

type Rds = Pick<RDSClient, 'send'>;

/** The snapshot the failback takes of the DR database: named after that instance's resource id, so a rerun finds it and another failover's never collides. */
export const failbackSnapshotName = (stage: string, dbiResourceId: string) => `failback-${stage}-${dbiResourceId.toLowerCase().replace(/[^a-z0-9-]/g, '')}`;

async function waitSnapshot(ctx: RecoveryContext, rds: Rds, id: string): Promise<DBSnapshot> {
  const deadline = ctx.wait.now().getTime() + 180 * 60_000;
  for (;;) {
    const found = await snapshotById(rds, id);
    if (found?.Status === 'available') return found;
    if (found?.Status === 'failed' || ctx.wait.now().getTime() >= deadline) throw new Error(`the snapshot ${id} is ${found?.Status ?? 'missing'}`);
    ctx.wait.log(`${id}: ${found?.Status ?? 'not there yet'} ${found?.PercentProgress !== undefined ? `(${found.PercentProgress}%)` : ''}`);
    await ctx.wait.sleep(30_000);
  }
}

/** The DR app tier's web and worker services (their names from its outputs). */
async function drServices(ctx: RecoveryContext): Promise<{ cluster: string; services: string[] } | undefined> {
  const outputs = await outputsOf(ctx.clientsFor(ctx.config.drRegion).cfn, pilotLightNames(ctx.config.name).drAppStackName);
  if (!outputs?.ClusterName) return undefined;
  return { cluster: outputs.ClusterName, services: [outputs.WebServiceName, outputs.WorkerServiceName].filter(Boolean) };
}

async function stopped(ecs: Pick<ECSClient, 'send'>, cluster: string, services: string[]): Promise<boolean> {
  const described = (await ecs.send(new DescribeServicesCommand({ cluster, services }))).services ?? [];
  return described.every((s) => s.desiredCount === 0 && s.runningCount === 0);
}

/** S3 copies an object of up to 5 GB in one CopyObject; larger ones take a multipart copy. */
const MAX_SINGLE_COPY_BYTES = 5 * 1024 ** 3;

type S3 = Pick<S3Client, 'send'>;

/** Every current object of a bucket by key, with its last-modified time and size. */
async function listed(s3: S3, bucket: string): Promise<Map<string, { modified: number; size: number }>> {
  const objects = new Map<string, { modified: number; size: number }>();
  let ContinuationToken: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken }));
    for (const o of page.Contents ?? []) if (o.Key) objects.set(o.Key, { modified: o.LastModified?.getTime() ?? 0, size: o.Size ?? 0 });
    ContinuationToken = page.NextContinuationToken;
  } while (ContinuationToken);
  return objects;
}

/** Where the uploads were written while failed over, and where they belong. */
async function uploadBuckets(ctx: RecoveryContext): Promise<{ dr: string; primary: string } | undefined> {
  const { config } = ctx;
  const [drApp, data] = await Promise.all([
    outputsOf(ctx.clientsFor(config.drRegion).cfn, pilotLightNames(config.name).drAppStackName),
    outputsOf(ctx.clientsFor(config.region).cfn, `${config.name}-Data`),
  ]);
  return drApp?.UploadsBucketName && data?.UploadsBucketName ? { dr: drApp.UploadsBucketName, primary: data.UploadsBucketName } : undefined;
}

/**
 * The uploads the DR bucket holds and the primary's lacks, or holds older: written while failed
 * over (a replica keeps its source's last-modified time, so what replication brought is not new).
 */
async function newUploads(ctx: RecoveryContext, buckets: { dr: string; primary: string }): Promise<[string, { modified: number; size: number }][]> {
  const [dr, primary] = await Promise.all([listed(ctx.clientsFor(ctx.config.drRegion).s3, buckets.dr), listed(ctx.clientsFor(ctx.config.region).s3, buckets.primary)]);
  return [...dr].filter(([key, o]) => o.modified > (primary.get(key)?.modified ?? Number.NEGATIVE_INFINITY));
}

export function failbackSteps(survey: Survey, config: StageConfig, dbiResourceId: string): Step<RecoveryContext>[] {
  const names = pilotLightNames(config.name);
  const id = names.databaseIdentifier;
  const snap = failbackSnapshotName(config.name, dbiResourceId);
  return [
    {
      key: 'stop-writes',
      title: `stop writes: suspend the scaling of the web and worker services of ${names.drAppStackName} and scale them to 0 (viewers get the maintenance page; the worker finishes its running job within its stop timeout)`,
      ...expected(survey, 'stop-writes', 3, 'ECS stops the tasks after their stop timeout (app.workerStopTimeoutSeconds); a budget'),
      async done(ctx) {
        const found = await drServices(ctx);
        if (!found) return `no ${names.drAppStackName}: nothing writes in ${config.drRegion}`;
        return (await stopped(ctx.clientsFor(config.drRegion).ecs, found.cluster, found.services)) ? `${found.services.join(' and ')} run no task` : undefined;
      },
      async run(ctx) {
        const found = (await drServices(ctx))!;
        const { ecs, autoScaling } = ctx.clientsFor(config.drRegion);
        for (const service of found.services) {
          // Scaling suspended first: a scale-out (to the minimum, or on a metric) would bring tasks and their writes back after the snapshot.
          await autoScaling.send(
            new RegisterScalableTargetCommand({
              ServiceNamespace: 'ecs',
              ResourceId: `service/${found.cluster}/${service}`,
              ScalableDimension: 'ecs:service:DesiredCount',
              SuspendedState: { DynamicScalingInSuspended: true, DynamicScalingOutSuspended: true, ScheduledScalingSuspended: true },
            }),
          );
          await ecs.send(new UpdateServiceCommand({ cluster: found.cluster, service, desiredCount: 0 }));
        }
        const deadline = ctx.wait.now().getTime() + 15 * 60_000;
        while (!(await stopped(ecs, found.cluster, found.services))) {
          if (ctx.wait.now().getTime() >= deadline) throw new Error(`${found.services.join(' and ')} still run tasks after 15 minutes`);
          await ctx.wait.sleep(15_000);
        }
      },
    },
    {
      key: 'uploads',
      title: `copy the uploads written in ${config.drRegion} while failed over (new, or newer than the primary's) into the stage's bucket in ${config.region}; deletions made there are not repeated`,
      ...expected(survey, 'uploads', 10, 'one CopyObject per new upload; grows with their number; a budget'),
      async done(ctx) {
        const buckets = await uploadBuckets(ctx);
        if (!buckets) return undefined;
        const left = await newUploads(ctx, buckets);
        return left.length === 0 ? `${buckets.primary} has every upload of ${buckets.dr}` : undefined;
      },
      async run(ctx) {
        const buckets = await uploadBuckets(ctx);
        if (!buckets) throw new Error(`the uploads buckets are not known: ${names.drAppStackName} or ${config.name}-Data has no UploadsBucketName output`);
        const left = await newUploads(ctx, buckets);
        const large = left.filter(([, o]) => o.size > MAX_SINGLE_COPY_BYTES).map(([key]) => key);
        if (large.length > 0)
          throw new Error(
            `uploads over 5 GB need a multipart copy, which this step does not do: copy ${large.join(', ')} by hand (aws s3 cp s3://${buckets.dr}/<key> s3://${buckets.primary}/<key>), then run again`,
          );
        const s3 = ctx.clientsFor(config.region).s3;
        for (const [i, [key]] of left.entries()) {
          // Called in the destination's region; the copy is encrypted with the stage bucket's own default key.
          await s3.send(new CopyObjectCommand({ Bucket: buckets.primary, Key: key, CopySource: `${buckets.dr}/${encodeURIComponent(key)}` }));
          if ((i + 1) % 500 === 0) ctx.wait.log(`    ${i + 1} of ${left.length} uploads copied`);
        }
        ctx.wait.log(`    ${left.length} uploads copied from ${buckets.dr} to ${buckets.primary}`);
      },
    },
    {
      key: 'snapshot',
      title: `snapshot ${id} in ${config.drRegion} as ${snap}, with every write it took`,
      ...expected(survey, 'snapshot', 15, 'RDS documents no duration: the first snapshot of a restored instance copies all its storage; a budget'),
      async done(ctx) {
        const [here, there] = await Promise.all([snapshotById(ctx.clientsFor(config.drRegion).rds, snap), snapshotById(ctx.clientsFor(config.region).rds, snap)]);
        return here?.Status === 'available' || there ? `${snap} is taken` : undefined;
      },
      async run(ctx) {
        const { rds } = ctx.clientsFor(config.drRegion);
        if (!(await snapshotById(rds, snap))) await rds.send(new CreateDBSnapshotCommand({ DBInstanceIdentifier: id, DBSnapshotIdentifier: snap }));
        await waitSnapshot(ctx, rds, snap);
      },
    },
    {
      key: 'copy',
      title: `copy ${snap} to ${config.region}, encrypted with the stage database's key there (the stale ${stageResourceName(config.name)}'s)`,
      ...expected(survey, 'copy', 30, 'AWS documents no duration for a cross-region snapshot copy: it grows with the storage; a budget'),
      async done(ctx) {
        const there = await snapshotById(ctx.clientsFor(config.region).rds, snap);
        return there?.Status === 'available' ? `${snap} is in ${config.region}` : undefined;
      },
      async run(ctx) {
        const rds = ctx.clientsFor(config.region).rds;
        if (!(await snapshotById(rds, snap))) {
          const stale = await describe(rds, stageResourceName(config.name));
          if (!stale?.KmsKeyId)
            throw new Error(
              `${stageResourceName(config.name)} is not in ${config.region} to take its key from: restore it by the runbook (docs/disaster-recovery.md, "Failing back")`,
            );
          const source = (await snapshotById(ctx.clientsFor(config.drRegion).rds, snap))!;
          // Called in the destination region; the SDK presigns the source-region request itself when the source is an ARN of another region.
          await rds.send(
            new CopyDBSnapshotCommand({
              SourceDBSnapshotIdentifier: source.DBSnapshotArn,
              TargetDBSnapshotIdentifier: snap,
              KmsKeyId: stale.KmsKeyId,
              CopyTags: true,
            }),
          );
        }
        await waitSnapshot(ctx, rds, snap);
      },
    },
    {
      key: 'restore',
      title: `restore ${snap} in ${config.region} in place of the stale ${stageResourceName(config.name)}, with its settings (npm run restore's --replace: the stale one is kept as ${stageResourceName(config.name, 'old')})`,
      ...expected(survey, 'restore', 30, '15-30 min for tens of GiB (docs/disaster-recovery.md, "RPO and RTO"); a budget'),
      async done(ctx) {
        const current = await describe(ctx.clientsFor(config.region).rds, stageResourceName(config.name));
        return current?.TagList?.some((t) => t.Key === RESTORED_FROM_TAG && t.Value === snap) ? `${stageResourceName(config.name)} was restored from ${snap}` : undefined;
      },
      async run(ctx) {
        const primary = ctx.clientsFor(config.region);
        const dr = ctx.clientsFor(config.drRegion);
        const code = await runRestore(
          { stage: config.name as StageName, from: { snapshot: snap }, mode: 'replace', yes: true, context: {} },
          { rds: primary.rds, rdsDr: dr.rds, cloudformationDr: dr.cfn, cloudformation: primary.cfn },
          ctx.wait,
          config,
        );
        if (code !== 0) throw new Error(`the restore in ${config.region} stopped (its lines above say where): finish it by docs/disaster-recovery.md, "Restoring the database"`);
        const restored = (await waitAvailable(primary.rds, stageResourceName(config.name), ctx.wait))!;
        await primary.rds.send(new AddTagsToResourceCommand({ ResourceName: restored.DBInstanceArn, Tags: [{ Key: RESTORED_FROM_TAG, Value: snap }] }));
      },
    },
    {
      key: 'deploy',
      title: `deploy ${config.name} as the pipeline would, with dr.serveFrom "primary" (the edge moves viewers back to ${config.region}) and the database setup run again`,
      ...expected(survey, 'deploy', 20, 'a deploy of every stack of the stage; a budget'),
      async done(ctx) {
        const edge = await outputsOf(ctx.clientsFor('us-east-1').cfn, `${config.name}-Edge`);
        return edge?.[SERVING_FROM_OUTPUT] === config.region ? `${config.name}-Edge serves from ${config.region}` : undefined;
      },
      async run(ctx) {
        const context = {
          [`${config.name}.dr.serveFrom`]: 'primary',
          [`${config.name}.dr.appTier`]: 'false',
          rerunDatabaseSetup: String(Math.floor(ctx.wait.now().getTime() / 1000)),
        };
        const { plan } = await planDeploy({ stage: config.name as StageName, image: ctx.image, account: config.account, context, yes: true }, {}, ctx.deployClients);
        const code = await ctx.cdk(deployArgs(plan));
        if (code !== 0) throw new Error(`cdk deploy of ${config.name} exited ${code}: read the stack events`);
      },
    },
    verifyStep(survey, config),
    retireStep(survey, config, true),
  ];
}

/** What the DR tiers run: the image the primary deploys with. */
async function drImage(deps: RecoveryDeps, config: StageConfig): Promise<string | undefined> {
  const dr = deps.clientsFor(config.drRegion);
  const running = await runningRelease({ cfn: dr.cfn, ecs: dr.ecs }, config.name as StageName, pilotLightNames(config.name).drAppStackName);
  return running && imageRef(running.image);
}

export async function runFailback(args: FailbackArgs, config: StageConfig, deps: RecoveryDeps): Promise<number> {
  const say = deps.wait.log;
  const names = pilotLightNames(config.name);
  const problem = await accountProblem(deps.clientsFor(config.region).sts, config.account, config.name, { command: 'failback', acting: args.yes, config });
  if (problem) {
    say(`failback: ${problem} Nothing was changed.`);
    return 2;
  }
  const answers = await deps.primaryAnswers(config);
  if (!answers) {
    say(`REFUSED: the primary region ${config.region} does not answer yet. Nothing was changed.`);
    return 2;
  }
  const drDb = await describe(deps.clientsFor(config.drRegion).rds, names.databaseIdentifier);
  const purpose = drDb && purposeOf(drDb);
  const edge = await outputsOf(deps.clientsFor('us-east-1').cfn, `${config.name}-Edge`);
  if (!drDb || purpose !== 'failover') {
    const back = edge?.[SERVING_FROM_OUTPUT] === config.region;
    say(
      back && !drDb
        ? `${config.name} serves from ${config.region} and no failed-over database is left in ${config.drRegion}: nothing to fail back.`
        : `REFUSED: no failed-over ${names.databaseIdentifier} in ${config.drRegion} (${drDb ? `it is a ${purpose ?? 'untagged'} copy` : 'none there'}): nothing holds the writes to bring back. Nothing was changed.`,
    );
    return back && !drDb ? 0 : 2;
  }
  const image = (await drImage(deps, config)) ?? config.image.tag;
  const survey: Survey = { at: deps.wait.now() };
  const ctx: RecoveryContext = { ...deps, config, purpose: 'failover', survey, toTime: 'latest', image };
  const steps = failbackSteps(survey, config, drDb.DbiResourceId ?? drDb.DBInstanceIdentifier!);
  const rerun = shellLine(['npm', 'run', 'failback', '--', '--stage', config.name, '--yes']);
  if (!args.yes) {
    say(`Plan: fail ${config.name} back from ${config.drRegion} to ${config.region} (${answers}), image ${config.image.repositoryName} ${image}:`);
    const plan = await printPlan(steps, ctx, deps.wait);
    say(`Expected: ${plan.minutes} min, the site on its maintenance page from step 1 until the deploy moves viewers back.`);
    return dryRunEnd(deps.wait, plan.blocked, `To fail back: ${rerun}`);
  }
  const result = await runSteps(rerun, steps, ctx, deps.wait);
  say(`Minutes: ${minutesLine(result.minutes)}`);
  if (!result.completed) return 1;
  say(`BACK IN ${config.region}: ${config.name} serves from there with the data written in ${config.drRegion}.`);
  say(
    `Next: commit dr: { ..., appTier: false, serveFrom: 'primary' } for ${config.name} in lib/config/stages.ts (if it was committed as "dr"); delete ${stageResourceName(config.name, 'old')} once the failback is accepted (docs/disaster-recovery.md, "Failing back").`,
  );
  return 0;
}
