import { z } from 'zod';
import { originFacingPrefixList } from '../app/origin-facing';
import { APP_REGIONS, zonesOf } from './aws-catalog';
import { cidrsOverlap } from './cidr';
import { fargateSizeProblem } from './fargate';
import type { ProdRule } from './fields';
import { hasDrStack } from './regions';
import * as access from './schema/access';
import * as app from './schema/app';
import * as backup from './schema/backup';
import * as baseline from './schema/baseline';
import * as cache from './schema/cache';
import { ci } from './schema/ci';
import * as database from './schema/database';
import * as deployment from './schema/deployment';
import * as dr from './schema/dr';
import * as dumps from './schema/dumps';
import * as edge from './schema/edge';
import * as email from './schema/email';
import { image } from './schema/image';
import * as network from './schema/network';
import * as operations from './schema/operations';
import * as services from './schema/services';
import * as stage from './schema/stage';

export { cidrProblem } from './cidr';
export { FARGATE_SIZES } from './fargate';
export { LISTS_WITH_REPEATS } from './fields';
export { WAF_BODY_INSPECTION_KB } from './schema/app';
export { SNAPSHOT_HEADROOM } from './schema/backup';
export { MAX_SHIFT_MINUTES } from './schema/deployment';
export { imageReference, tagPatternMatches } from './schema/image';
export { CONFIG_FILE, LOG_RETENTION_DAYS, STAGE_NAMES, type StageName } from './schema/stage';

/**
 * Defines the whole configuration of one stage. Every setting of the app that differs between
 * stages lives here; types derive from it. Each tier (lib/config/schema/) documents its fields and
 * checks the rules among them; the rules across tiers are checked below, so a bad value fails at
 * synth with the stage, field, value and the fix.
 */
const stageShape = z
  .object({
    name: stage.name,
    account: stage.account,
    region: stage.primaryRegion,
    drRegion: stage.drRegion,
    network: network.network,
    domain: edge.domain,
    https: edge.https,
    edge: edge.edge,
    web: services.web,
    worker: services.worker,
    database: database.database,
    cache: cache.cache,
    alarms: operations.alarms,
    email: email.email,
    app: app.app,
    operations: operations.operations,
    backup: backup.backup,
    uploads: backup.uploads,
    dr: dr.dr,
    dumps: dumps.dumps,
    baseline: baseline.baseline,
    access: access.access,
    logRetentionDays: stage.logRetentionDays,
    retainOnDelete: stage.retainOnDelete,
    monthlyBudgetUsd: stage.monthlyBudgetUsd,
    image,
    ci,
  })
  .strict();

/** The schema's output before the prod rules are applied to it. */
type ParsedStage = z.output<typeof stageShape>;

/**
 * What prod must be, one row per rule: the field a failure is reported on, the rule, and the
 * message with its fix. Any other stage may choose; prod may not. Each tier keeps its rows beside
 * its fields (`prodRules`); a report lists prod's problems tier by tier, in this order.
 */
export const PROD_RULES: readonly ProdRule<ParsedStage>[] = [
  ...stage.prodRules,
  ...network.prodRules,
  ...edge.prodRules,
  ...services.prodRules,
  ...database.prodRules,
  ...cache.prodRules,
  ...email.prodRules,
  ...app.prodRules,
  ...deployment.prodRules,
  ...operations.prodRules,
  ...backup.prodRules,
  ...dr.prodRules,
  ...dumps.prodRules,
  ...baseline.prodRules,
  ...access.prodRules,
];

export const stageConfigSchema = stageShape.superRefine((cfg, ctx) => {
  const fail = (path: (string | number)[], message: string) => ctx.addIssue({ code: 'custom', path, message });

  if (cfg.drRegion === cfg.region) {
    fail(['drRegion'], `the DR region equals the primary region ${cfg.region}, so a regional outage would take the backups too. Fix: pick another region, e.g. "eu-central-1"`);
  }
  // Behind CloudFront the load balancer admits the VPC origin from CloudFront's prefix list,
  // whose id is pinned per region (lib/app/origin-facing.ts).
  if (cfg.edge.enabled && APP_REGIONS.includes(cfg.region)) {
    const pinned = originFacingPrefixList(cfg.region);
    if ('problem' in pinned) fail(['region'], pinned.problem);
  }
  const { azCount, availabilityZones } = cfg.network;
  const zones = zonesOf(cfg.region);
  if (availabilityZones) {
    if (availabilityZones.length !== azCount) {
      fail(['network', 'availabilityZones'], `lists ${availabilityZones.length} zones but azCount is ${azCount}. Fix: list exactly ${azCount} zones or drop the list`);
    }
    const foreign = availabilityZones.filter((az) => !new RegExp(`^${cfg.region}[a-z]$`).test(az));
    if (foreign.length > 0) {
      fail(['network', 'availabilityZones'], `${foreign.join(', ')} is not a zone of ${cfg.region}. Fix: use names like "${cfg.region}a"`);
    }
    availabilityZones.forEach((az, i) => {
      if (!foreign.includes(az) && !zones.includes(az)) {
        fail(['network', 'availabilityZones', i], `${cfg.region} has no zone ${az} (lib/config/aws-catalog.ts). Fix: use ${azCount} of ${zones.join(', ')}`);
      }
    });
  } else {
    // Unset, the stacks take the region's zones a, b, c (lib/shared/stage-stack.ts): each must exist.
    const missing = ['a', 'b', 'c'].slice(0, azCount).filter((letter) => !zones.includes(`${cfg.region}${letter}`));
    if (missing.length > 0) {
      fail(
        ['network', 'availabilityZones'],
        `unset, so the zones default to ${cfg.region}a, b, c, and ${cfg.region} has no zone ${missing.map((l) => `${cfg.region}${l}`).join(', ')}. Fix: list ${azCount} of ${zones.join(', ')} in network.availabilityZones`,
      );
    }
  }
  if (cfg.https && !cfg.domain) {
    fail(['domain'], 'https is on but no domain is set, so no certificate can be issued. Fix: set domain { zoneName, hostedZoneId, recordName }, or set https: false');
  }
  if (!cfg.https) {
    const cidrs = cfg.app.httpAllowedCidrs ?? [];
    if (cidrs.length === 0) {
      fail(
        ['app', 'httpAllowedCidrs'],
        `${cfg.name} serves plain HTTP, which must not be open to the internet. Fix: list the client blocks that may reach it (office, VPN), e.g. ["198.51.100.0/24"], or serve HTTPS with a domain`,
      );
    }
  }
  if (cfg.domain) {
    const { zoneName, parentZoneName } = cfg.domain;
    if (!zoneName.endsWith(`.${parentZoneName}`)) {
      fail(
        ['domain', 'zoneName'],
        `is not a subdomain of the parent zone ${parentZoneName}, so it cannot be delegated from it. Fix: use a name ending in .${parentZoneName}, e.g. "${cfg.name}.${parentZoneName}"`,
      );
    }
  }
  const { dmarcPolicy, dmarcReportsTo } = cfg.email;
  if (cfg.domain && dmarcPolicy !== 'none' && dmarcReportsTo === undefined) {
    fail(
      ['email', 'dmarcReportsTo'],
      `unset, while email.dmarcPolicy "${dmarcPolicy}" has receivers ${dmarcPolicy === 'reject' ? 'refuse' : 'quarantine'} mail that claims ${cfg.domain.zoneName} and fails DMARC: nobody would learn what, or whose (another service sending as the domain, or spoofing). Fix: set email.dmarcReportsTo to a mailbox that reads aggregate reports, e.g. "dmarc@${cfg.domain.parentZoneName}" (an address under another domain needs the record ${cfg.domain.zoneName}._report._dmarc.<that domain> published there)${cfg.name === 'prod' ? '' : ', or set email.dmarcPolicy: "none"'}`,
    );
  }
  // Every daily AWS Backup recovery point (and its DR copy) is an RDS snapshot in its region, and so
  // is every pre-deploy snapshot and its copy: together they must fit under the manual-snapshot
  // quota, with room for the final snapshot and a hand-made one (SNAPSHOT_HEADROOM).
  const { planRetentionDays, drCopyRetentionDays, preDeploySnapshotsKept, manualSnapshotQuota, drCopies } = cfg.backup;
  const regions: [string, number, string][] = [[cfg.region, planRetentionDays, 'planRetentionDays']];
  if (drCopies) regions.push([cfg.drRegion, drCopyRetentionDays, 'drCopyRetentionDays']);
  for (const [where, days, field] of regions) {
    const held = days + preDeploySnapshotsKept + backup.SNAPSHOT_HEADROOM;
    if (held > manualSnapshotQuota) {
      fail(
        ['backup', field],
        `${where} would hold ${held} manual DB snapshots (${days} daily recovery points, ${preDeploySnapshotsKept} pre-deploy snapshots, ${backup.SNAPSHOT_HEADROOM} spare) but the quota is ${manualSnapshotQuota}. Fix: keep at most ${manualSnapshotQuota - preDeploySnapshotsKept - backup.SNAPSHOT_HEADROOM} days, lower backup.preDeploySnapshotsKept, or raise the quota in Service Quotas and set backup.manualSnapshotQuota`,
      );
    }
  }
  const { vaultLock } = cfg.backup;
  if (vaultLock.mode === 'compliance' && !cfg.retainOnDelete) {
    fail(
      ['backup', 'vaultLock', 'mode'],
      `"compliance" cannot be undone after its grace period, and ${cfg.name} is a throw-away stage (retainOnDelete: false). Fix: use mode "governance"`,
    );
  }
  const { strategy } = cfg.app.deployment;
  if (strategy !== 'rolling' && !cfg.https) {
    fail(
      ['app', 'deployment', 'strategy'],
      `"${strategy}" needs the test listener, which serves the stage's certificate, and ${cfg.name} serves plain HTTP. Fix: serve HTTPS (https: true and a domain), or use "rolling"`,
    );
  }
  if (cfg.dr.pilotLight) {
    const needs: [boolean, string, string][] = [
      [cfg.backup.drCopies, 'backup.drCopies', 'the database comes back in the DR region from its copies there'],
      [cfg.edge.enabled, 'edge.enabled', 'viewers are moved to the DR region at the edge'],
      [cfg.https, 'https', "the DR load balancer serves the site's certificate"],
    ];
    for (const [holds, field, why] of needs) {
      if (!holds) fail(['dr', 'pilotLight'], `needs ${field}: ${why}. Fix: set ${field}: true, or dr.pilotLight: false`);
    }
    if (cfg.dr.cidr !== undefined && cidrsOverlap(cfg.dr.cidr, cfg.network.cidr)) {
      fail(
        ['dr', 'cidr'],
        `overlaps network.cidr ${cfg.network.cidr}: the two networks could never be joined (peering, a VPN) and their addresses would be ambiguous in logs. Fix: use a private block that shares no address with it`,
      );
    }
  }
  const { objectLock, replicateToDr, cpu, memoryMiB, anonymised, refreshFrom } = cfg.dumps;
  if (replicateToDr && !hasDrStack(cfg)) {
    fail(
      ['dumps', 'replicateToDr'],
      `the replica bucket lives in the ${cfg.name}-Dr stack, which ${cfg.name} has only with backup.drCopies or uploads.replicateToDr. Fix: set backup.drCopies: true, or dumps.replicateToDr: false`,
    );
  }
  const size = fargateSizeProblem(cpu, memoryMiB);
  if (size) {
    const field = size.field === 'cpu' ? 'cpu' : 'memoryMiB';
    fail(['dumps', field], size.message.replace('Fix: use', `Fix: set dumps.${field} to`));
  }
  if (objectLock === 'compliance' && !cfg.retainOnDelete) {
    fail(
      ['dumps', 'objectLock'],
      `"compliance" keeps every dump, and so the bucket, for retentionDays whatever anyone does, and ${cfg.name} is a throw-away stage (retainOnDelete: false) whose bucket is deleted with it. Fix: use "governance" or "off"`,
    );
  }
  if (anonymised?.readerStage === cfg.name) {
    fail(
      ['dumps', 'anonymised', 'readerStage'],
      `a stage reads its own raw dumps; the anonymised copy is for another stage's account. Fix: name another stage (e.g. "staging"), or leave dumps.anonymised out`,
    );
  }
  if (refreshFrom?.sourceStage === cfg.name) {
    fail(
      ['dumps', 'refreshFrom', 'sourceStage'],
      `a stage cannot refresh its data from itself. Fix: name the stage that anonymises for ${cfg.name} (e.g. "prod"), or leave dumps.refreshFrom out`,
    );
  }
  if (cfg.image.promotedFrom === cfg.name) {
    fail(['image', 'promotedFrom'], `a stage cannot promote its own image. Fix: name the stage before ${cfg.name} (e.g. "staging"), or leave promotedFrom out`);
  }
  if (cfg.name === 'prod') {
    for (const rule of PROD_RULES) if (!rule.holds(cfg)) fail([...rule.path], rule.message);
  }
});

/** A stage's configuration as written in `lib/config/stages.ts`. */
export type StageConfigInput = z.input<typeof stageConfigSchema>;
/** A validated stage configuration. */
export type StageConfig = z.output<typeof stageConfigSchema>;
