/**
 * The steps that bring a stage up in its DR region, shared by the failover (failover.ts) and the
 * failover drill (failover-drill.ts): restore the database from the replicated automated backups
 * into the pilot light, deploy the DR tiers against it, move CloudFront's viewers there, and check
 * the site. Each says from AWS whether it is done (runbook.ts), so a rerun continues where a
 * failed run stopped; none asks the primary region anything.
 */

import { InvokeCommand } from '@aws-sdk/client-lambda';
import { AddTagsToResourceCommand, type DBInstance, DeleteDBInstanceCommand, ModifyDBInstanceCommand } from '@aws-sdk/client-rds';
import { DeleteParameterCommand, PutParameterCommand } from '@aws-sdk/client-ssm';
import type { StageConfig, StageName } from '../../lib/config';
import { DATABASE_SETTINGS } from '../../lib/data/database-settings';
import { pilotLightNames, SERVING_FROM_OUTPUT } from '../../lib/dr/pilot-light-names';
import { PROJECT, projectTag } from '../../lib/shared/naming';
import { type DeployClients, planDeploy } from './deploy';
import { parameterValue, type RegionClients, type RegionClientsFor, type Survey } from './dr-survey';
import { deployArgs, describeStack, outputsOf } from './release';
import { applySettings, describe, type InstanceSettings, restoreInstance, type Waiting, waitAvailable } from './restore';
import type { Step } from './runbook';

/** The tag that says why a database in the DR region exists: a failover's (it serves) or a drill's (it goes). */
export const PURPOSE_TAG = projectTag('purpose');
export type Purpose = 'failover' | 'drill';

/** How long the primary region has to answer the probe before it counts as lost. */
export const PROBE_TIMEOUT_MS = 10_000;

/** What every recovery step works with: the stage, the clients, the clock and the CDK runner. */
export interface RecoveryContext {
  readonly config: StageConfig;
  readonly purpose: Purpose;
  readonly clientsFor: RegionClientsFor;
  readonly deployClients: (region: string) => DeployClients;
  /** Runs `npx cdk` with these arguments; its exit code. */
  readonly cdk: (args: readonly string[]) => number | Promise<number>;
  readonly fetch: typeof fetch;
  readonly wait: Waiting;
  readonly survey: Survey;
  readonly toTime: Date | 'latest';
  /** The tag or digest the DR tiers run. */
  readonly image: string;
}

const dr = (ctx: RecoveryContext): RegionClients => ctx.clientsFor(ctx.config.drRegion);

/**
 * The settings of the database restored in the DR region: the stage config's and the data stack's
 * (the primary instance they describe cannot be asked), in the pilot light's subnet group,
 * security group and parameter group, its secret and Performance Insights under the DR key.
 * Enhanced monitoring stays off: its role is the primary's data stack's, whose name that region holds.
 */
export function drDatabaseSettings(config: StageConfig, pilotLight: Readonly<Record<string, string>>, drKeyArn: string, purpose: Purpose): InstanceSettings {
  const { database } = config;
  const drill = purpose === 'drill';
  return {
    // The config names the class without the "db." RDS's API takes (the construct adds it).
    instanceClass: `db.${database.instanceClass}`,
    subnetGroup: pilotLight.DatabaseSubnetGroupName,
    securityGroups: [pilotLight.DatabaseSecurityGroupId],
    parameterGroup: pilotLight.DatabaseParameterGroupName,
    // A drill measures the restore, not the standby's cost: single-AZ, deletable.
    multiAz: drill ? false : database.multiAz,
    storageType: DATABASE_SETTINGS.storageType,
    maxAllocatedStorage: database.maxAllocatedStorageGiB,
    deletionProtection: drill ? false : database.deletionProtection,
    copyTagsToSnapshot: true,
    iamAuth: true,
    logExports: [...DATABASE_SETTINGS.logExports],
    caCertificate: DATABASE_SETTINGS.caCertificate,
    autoMinorVersionUpgrade: false,
    backupRetention: drill ? 1 : database.backupRetentionDays,
    backupWindow: DATABASE_SETTINGS.backupWindow,
    maintenanceWindow: DATABASE_SETTINGS.maintenanceWindow,
    performanceInsights: database.enablePerformanceInsights
      ? { enabled: true, kmsKeyId: drKeyArn, retentionDays: DATABASE_SETTINGS.performanceInsightsRetentionDays }
      : { enabled: false },
    monitoring: { intervalSeconds: 0 },
    masterSecretKmsKeyId: drKeyArn,
    backupReplication: [],
  };
}

/** Why a database in the DR region exists, by its tag: a failover's or a drill's. */
export const purposeOf = (db: DBInstance) => db.TagList?.find((t) => t.Key === PURPOSE_TAG)?.Value;

/** The context's `-c` keys that put the DR tiers up: the app tier, and (for a failover) the edge serving from there. */
export function drContext(config: StageConfig, purpose: Purpose): Record<string, string> {
  return { [`${config.name}.dr.appTier`]: 'true', ...(purpose === 'failover' ? { [`${config.name}.dr.serveFrom`]: 'dr' } : {}) };
}

/** Expected minutes of a step: the last drill's measurement where there is one, else the budget. */
export function expected(survey: Survey, key: string, budget: number, why: string): Pick<Step<RecoveryContext>, 'expectedMinutes' | 'basis'> {
  const measured = survey.drill?.minutes[key];
  if (measured !== undefined) return { expectedMinutes: Math.ceil(measured), basis: `measured by the drill of ${survey.drill!.at}` };
  return { expectedMinutes: budget, basis: why };
}

/** Restores the stage database in the DR region from its replicated automated backups, with its settings and secret, and publishes its endpoint. */
export function restoreStep(survey: Survey, config: StageConfig, purpose: Purpose, toTime: Date | 'latest'): Step<RecoveryContext> {
  const names = pilotLightNames(config.name);
  const id = names.databaseIdentifier;
  const when = toTime === 'latest' ? `its latest restorable time (${survey.backups?.latest.toISOString() ?? 'unknown'})` : toTime.toISOString();
  return {
    key: 'restore',
    title: `restore ${id} in ${config.drRegion} from the replicated automated backups to ${when}: db.${config.database.instanceClass}${purpose === 'drill' ? ', single-AZ' : `, Multi-AZ ${config.database.multiAz}`}, the pilot light's subnet, security and parameter groups, IAM logins, an RDS-managed master secret under the DR key; its endpoint into ${names.databaseEndpointParameter}`,
    ...expected(
      survey,
      'restore',
      30,
      'AWS documents no duration: it grows with the storage and the logs to replay; 15-30 min for tens of GiB here (docs/disaster-recovery.md, "RPO and RTO") until a drill measures it',
    ),
    async done(ctx) {
      const db = await describe(dr(ctx).rds, id);
      if (!db) return undefined;
      const found = purposeOf(db);
      if (found !== ctx.purpose) {
        throw new Error(
          `${id} exists in ${config.drRegion} for a ${found ?? 'purpose it does not name'} (tag ${PURPOSE_TAG}), not this ${ctx.purpose}: ${found === 'drill' ? `tear the drill down first: npm run failover-drill -- --stage ${config.name} --teardown --yes` : 'find out whose it is before going on (docs/disaster-recovery.md)'}`,
        );
      }
      const ready = db.DBInstanceStatus === 'available' && db.MasterUserSecret?.SecretStatus === 'active';
      const published = ready && (await parameterValue(dr(ctx).ssm, names.databaseEndpointParameter)) === db.Endpoint?.Address;
      return published ? `${id} is available at ${db.Endpoint?.Address}, its secret active and its endpoint published` : undefined;
    },
    async run(ctx) {
      const { rds } = dr(ctx);
      const { pilotLight, drBackupKeyArn, backups } = ctx.survey;
      if (!pilotLight || !drBackupKeyArn || !backups) throw new Error('the survey found no pilot light, DR key or replicated backups (see the plan)');
      const settings = drDatabaseSettings(config, pilotLight, drBackupKeyArn, ctx.purpose);
      if (!(await describe(rds, id))) {
        await restoreInstance(rds, { replicatedBackups: backups.arn, time: ctx.toTime }, id, settings, {
          // The failover's database serves at once: it keeps the stage's deletion protection.
          keepDeletionProtection: true,
          tags: [
            { Key: PURPOSE_TAG, Value: ctx.purpose },
            { Key: 'stage', Value: config.name },
            { Key: 'app', Value: PROJECT },
          ],
        });
      }
      let db = await waitAvailable(rds, id, ctx.wait);
      // A restore started by an earlier run that stopped before tagging would be refused by done(): tag it again.
      if (!purposeOf(db)) await rds.send(new AddTagsToResourceCommand({ ResourceName: db.DBInstanceArn, Tags: [{ Key: PURPOSE_TAG, Value: ctx.purpose }] }));
      if (db.MasterUserSecret?.SecretStatus !== 'active') {
        // The failover's database serves at once: it keeps the stage's deletion protection.
        await applySettings(rds, id, settings, { keepDeletionProtection: true });
        // RDS makes a secret in minutes; much longer means it cannot (the DR key's policy, say).
        db = await waitAvailable(rds, id, ctx.wait, { secret: true, minutes: 30 });
      }
      const address = db.Endpoint?.Address;
      if (!address) throw new Error(`${id} is available but has no endpoint address`);
      await dr(ctx).ssm.send(new PutParameterCommand({ Name: names.databaseEndpointParameter, Value: address, Type: 'String', Overwrite: true }));
    },
  };
}

/** Runs a deploy of the named stacks with the DR tiers' context, as `npm run deploy -- --primary-lost` would; throws when it fails. */
export async function deployDr(ctx: RecoveryContext, only: readonly ('DrApp' | 'Edge')[], primaryLost: boolean): Promise<void> {
  const { plan } = await planDeploy(
    {
      stage: ctx.config.name as StageName,
      image: ctx.image,
      only,
      account: ctx.config.account,
      context: drContext(ctx.config, ctx.purpose),
      yes: true,
      ...(primaryLost ? { primaryLost } : {}),
    },
    {},
    ctx.deployClients,
  );
  const code = await ctx.cdk(deployArgs(plan));
  if (code !== 0) throw new Error(`cdk deploy of ${only.join(', ')} exited ${code}: read the stack events in CloudFormation (${ctx.config.drRegion})`);
}

const COMPLETE = new Set(['CREATE_COMPLETE', 'UPDATE_COMPLETE']);

/** Whether a stack exists in a COMPLETE state (not rolled back, not in progress). */
export async function stackComplete(clients: RegionClients, stackName: string): Promise<boolean> {
  const status = (await describeStack(clients.cfn, stackName))?.StackStatus;
  return status !== undefined && COMPLETE.has(status);
}

/** Deploys the pilot light with its NAT gateways and the DR app tier against the restored database. */
export function deployStep(survey: Survey, config: StageConfig, purpose: Purpose, image: string): Step<RecoveryContext> {
  const names = pilotLightNames(config.name);
  return {
    key: 'deploy',
    title: `deploy ${names.drAppStackName} in ${config.drRegion}: NAT gateways for the tasks' way out, a new, empty cache, the web and worker services of ${config.image.repositoryName} ${image} behind the pilot light's load balancer, the database setup (it checks pgvector and the app's roles again), alarms`,
    ...expected(survey, 'deploy', 20, 'AWS documents no duration for creating a cache replication group or for ECS reaching a steady state; a budget until a drill measures it'),
    async done(ctx) {
      if (!(await stackComplete(dr(ctx), names.drAppStackName))) return undefined;
      const outputs = await outputsOf(dr(ctx).cfn, names.drAppStackName);
      return outputs?.WebServiceName ? `${names.drAppStackName} is deployed (${outputs.WebServiceName})` : undefined;
    },
    async run(ctx) {
      // A failover asks the primary region nothing: the reads of it are pinned to what the stacks kept.
      await deployDr(ctx, ['DrApp'], purpose === 'failover');
    },
  };
}

/** Moves CloudFront's viewers to the DR load balancer: the edge stack's deploy with dr.serveFrom "dr". */
export function edgeStep(survey: Survey, config: StageConfig): Step<RecoveryContext> {
  return {
    key: 'edge',
    title: `move viewers: deploy ${config.name}-Edge (us-east-1) with dr.serveFrom "dr"; until CloudFront has the change at every edge location, viewers get the maintenance page (the lost region's origin fails)`,
    ...expected(
      survey,
      'edge',
      5,
      'CloudFront applies a distribution change once it is Deployed to every edge location (GetDistribution Status); AWS gives no figure, a budget until a drill measures it',
    ),
    async done(ctx) {
      const outputs = await outputsOf(ctx.clientsFor('us-east-1').cfn, `${config.name}-Edge`);
      return outputs?.[SERVING_FROM_OUTPUT] === config.drRegion ? `${config.name}-Edge serves from ${config.drRegion}` : undefined;
    },
    async run(ctx) {
      await deployDr(ctx, ['Edge'], true);
    },
  };
}

/** What a request through the site answered. */
async function probe(fetcher: typeof fetch, url: string): Promise<{ ok: boolean; line: string }> {
  try {
    const response = await fetcher(url, { redirect: 'manual', signal: AbortSignal.timeout(15_000) });
    // CloudFront answers the maintenance page with 503 (lib/edge/site-distribution.ts).
    const ok = response.status >= 200 && response.status < 400;
    return { ok, line: `${url}: ${response.status}${response.status === 503 ? ' (the maintenance page, or the app not ready)' : ''}` };
  } catch (error) {
    return { ok: false, line: `${url}: no answer (${(error as Error).message})` };
  }
}

/** Checks the site through CloudFront: the readiness path (the app reaching its database as webapp_app, and the cache), then the home page. */
export function verifyStep(survey: Survey, config: StageConfig): Step<RecoveryContext> {
  const site = `https://${config.domain!.recordName}`;
  const paths = [config.app.readinessPath, '/'];
  return {
    key: 'verify',
    title: `verify through CloudFront: ${paths.map((p) => `${site}${p}`).join(' and ')} answer 2xx/3xx, not the maintenance page's 503 (the readiness path answers 200 only when the app reaches its database as webapp_app and its cache)`,
    ...expected(survey, 'verify', 2, 'requests with retries for up to 2 minutes while the last change reaches the edge'),
    async done() {
      return undefined;
    },
    async run(ctx) {
      const deadline = ctx.wait.now().getTime() + 5 * 60_000;
      for (;;) {
        const results = [];
        for (const path of paths) results.push(await probe(ctx.fetch, `${site}${path}`));
        for (const r of results) ctx.wait.log(`    ${r.ok ? 'ok' : 'FAILED'} ${r.line}`);
        if (results.every((r) => r.ok)) return;
        if (ctx.wait.now().getTime() >= deadline) throw new Error(`the site does not answer through CloudFront: ${results.map((r) => r.line).join('; ')}`);
        await ctx.wait.sleep(20_000);
      }
    },
  };
}

/** The DR app tier's smoke test, invoked: the readiness path and the home page through the DR load balancer, from inside its VPC. */
export function smokeStep(survey: Survey, config: StageConfig): Step<RecoveryContext> {
  const names = pilotLightNames(config.name);
  return {
    key: 'verify',
    title: `verify inside ${config.drRegion}: the smoke test function of ${names.drAppStackName} requests ${config.app.readinessPath} and / through the DR load balancer with the site's name (the readiness path answers 200 only when the app reaches its database as webapp_app and its cache)`,
    ...expected(survey, 'verify', 2, 'one function invocation'),
    async done() {
      return undefined;
    },
    async run(ctx) {
      const outputs = await outputsOf(dr(ctx).cfn, names.drAppStackName);
      const fn = outputs?.SmokeTestFunctionName;
      if (!fn) throw new Error(`${names.drAppStackName} has no SmokeTestFunctionName output: deploy it first`);
      const out = await dr(ctx).lambda.send(new InvokeCommand({ FunctionName: fn, Payload: new TextEncoder().encode('{}') }));
      const text = new TextDecoder().decode(out.Payload ?? new Uint8Array());
      if (out.FunctionError) throw new Error(`the smoke test function failed (${out.FunctionError}): ${text}`);
      const status = (JSON.parse(text || '{}') as { hookStatus?: string }).hookStatus;
      ctx.wait.log(`    smoke test: ${status ?? 'no answer'} (its log group has each request)`);
      if (status !== 'SUCCEEDED') throw new Error(`the smoke test answered ${status ?? 'nothing'}: read its log group in ${config.drRegion}`);
    },
  };
}

/**
 * Takes the DR tiers down again (a drill's end, or a failback's last step): destroys the DR app
 * tier's stack (its NAT gateways with it), and deletes the database restored in the DR region (a
 * failback keeps a final snapshot: its writes were copied back, but a copy costs little) and its
 * endpoint parameter. The pilot light stays as it idles.
 */
export function retireStep(survey: Survey, config: StageConfig, keepFinalSnapshot: boolean): Step<RecoveryContext> {
  const names = pilotLightNames(config.name);
  const id = names.databaseIdentifier;
  return {
    key: 'retire',
    title: `take the DR tiers down: destroy ${names.drAppStackName} (its NAT gateways with it), delete ${id} in ${config.drRegion} (${keepFinalSnapshot ? 'with a final snapshot' : 'no final snapshot, its automated backups too'}) and ${names.databaseEndpointParameter}`,
    ...expected(
      survey,
      'retire',
      30,
      "CloudFormation waits for the VPC functions' network interfaces to be released before it deletes their security groups, reported at 20 to 40 minutes; a budget",
    ),
    async done(ctx) {
      const clients = dr(ctx);
      const [stackThere, db] = await Promise.all([stackExists(clients, names.drAppStackName), describe(clients.rds, id)]);
      if (stackThere || (db && db.DBInstanceStatus !== 'deleting')) return undefined;
      return `no ${names.drAppStackName}, and no ${id} in ${config.drRegion}${db ? ' but one being deleted' : ''}`;
    },
    async run(ctx) {
      const clients = dr(ctx);
      if (await stackExists(clients, names.drAppStackName)) {
        const context = { stages: config.name, [`${config.name}.account`]: config.account, ...drContext(config, 'drill') };
        const code = await ctx.cdk(['destroy', `${config.name}/DrApp`, '--exclusively', '--force', ...Object.entries(context).flatMap(([k, v]) => ['-c', `${k}=${v}`])]);
        if (code !== 0) throw new Error(`cdk destroy of ${names.drAppStackName} exited ${code}: read its stack events (${config.drRegion})`);
      }
      const db = await describe(clients.rds, id);
      if (db && db.DBInstanceStatus !== 'deleting') {
        if (db.DeletionProtection) await clients.rds.send(new ModifyDBInstanceCommand({ DBInstanceIdentifier: id, DeletionProtection: false, ApplyImmediately: true }));
        const stamp = ctx.wait.now().toISOString().slice(0, 16).replace(/[-:T]/g, '');
        await clients.rds.send(
          new DeleteDBInstanceCommand({
            DBInstanceIdentifier: id,
            ...(keepFinalSnapshot ? { FinalDBSnapshotIdentifier: `${id}-dr-final-${stamp}` } : { SkipFinalSnapshot: true, DeleteAutomatedBackups: true }),
          }),
        );
      }
      await clients.ssm.send(new DeleteParameterCommand({ Name: names.databaseEndpointParameter })).catch((error: Error) => {
        if (error.name !== 'ParameterNotFound') throw error;
      });
    },
  };
}

async function stackExists(clients: RegionClients, stackName: string): Promise<boolean> {
  return (await describeStack(clients.cfn, stackName)) !== undefined;
}
