import { beforeAll, describe, expect, test } from 'vitest';
import { STAGE_NAMES } from '../../lib/config';
import { drAppTier, ownStacks, ownTemplates, type StageTemplates, synthStage } from '../support/synth';
import { type Json, stageTemplates } from '../support/template';

/**
 * Where each resource type keeps the physical name that must be unique in an account and region
 * (or, for hosted zones and records, in DNS). Two stages that share an account, or a parent zone,
 * must never write the same one: the second deploy would fail ("already exists") or take the
 * first stage's resource over.
 */
const NAME_OF: Record<string, (p: Json) => unknown> = {
  'AWS::S3::Bucket': (p) => p.BucketName,
  'AWS::Backup::BackupVault': (p) => p.BackupVaultName,
  'AWS::Backup::BackupPlan': (p) => p.BackupPlan?.BackupPlanName,
  'AWS::Backup::RestoreTestingPlan': (p) => p.RestoreTestingPlanName,
  'AWS::SNS::Topic': (p) => p.TopicName,
  'AWS::CloudWatch::Alarm': (p) => p.AlarmName,
  'AWS::CloudWatch::CompositeAlarm': (p) => p.AlarmName,
  'AWS::CloudWatch::Dashboard': (p) => p.DashboardName,
  'AWS::Logs::LogGroup': (p) => p.LogGroupName,
  'AWS::SecretsManager::Secret': (p) => p.Name,
  'AWS::RDS::DBInstance': (p) => p.DBInstanceIdentifier,
  'AWS::ElastiCache::ReplicationGroup': (p) => p.ReplicationGroupId,
  'AWS::WAFv2::WebACL': (p) => p.Name,
  'AWS::Budgets::Budget': (p) => p.Budget?.BudgetName,
  'AWS::IAM::Role': (p) => p.RoleName,
  'AWS::IAM::ManagedPolicy': (p) => p.ManagedPolicyName,
  'AWS::Lambda::Function': (p) => p.FunctionName,
  'AWS::ECS::Cluster': (p) => p.ClusterName,
  'AWS::Events::Rule': (p) => p.Name,
  'AWS::Scheduler::Schedule': (p) => p.Name,
  'AWS::Route53::HostedZone': (p) => p.Name,
  // A and AAAA (or MX and TXT) records share a name: the name and type together are one record. A
  // name read from another resource (SES's DKIM tokens) stays as it is, for the attribute filter below.
  'AWS::Route53::RecordSet': (p) => (p.Name === undefined || isAttribute(p.Name) ? p.Name : `${JSON.stringify(p.Name)} ${p.Type}`),
  'AWS::AccessAnalyzer::Analyzer': (p) => p.AnalyzerName,
  'AWS::CloudFront::Function': (p) => p.Name,
  'AWS::CloudTrail::Trail': (p) => p.TrailName,
  'AWS::ECR::Repository': (p) => p.RepositoryName,
  'AWS::ElastiCache::SubnetGroup': (p) => p.CacheSubnetGroupName,
  'AWS::RDS::DBSubnetGroup': (p) => p.DBSubnetGroupName,
  // A domain has one identity per account and region: the primary's and the DR region's are two.
  'AWS::SES::EmailIdentity': (p) => p.EmailIdentity,
  'AWS::Logs::DeliveryDestination': (p) => p.Name,
  'AWS::Logs::DeliverySource': (p) => p.Name,
  'AWS::Logs::ResourcePolicy': (p) => p.PolicyName,
};

/**
 * Types whose names are one namespace per account whatever the region (IAM, dashboards, budgets),
 * per partition (bucket names), or DNS: a stack in the DR region must not reuse the primary's.
 * Every other type's names are per account and region.
 */
const GLOBAL_NAMES = new Set([
  'AWS::IAM::Role',
  'AWS::IAM::ManagedPolicy',
  'AWS::S3::Bucket',
  'AWS::CloudWatch::Dashboard',
  'AWS::Budgets::Budget',
  'AWS::Route53::HostedZone',
  'AWS::Route53::RecordSet',
  'AWS::CloudFront::Function',
]);

/**
 * Properties ending in "Name" that name something else than the resource itself (what it reads,
 * points at or is keyed by), so they may repeat; every other such property of a type the
 * templates hold must be a name NAME_OF knows.
 */
const NOT_THE_RESOURCE_NAME: Record<string, string> = {
  'AWS::Logs::SubscriptionFilter LogGroupName': 'the log group it reads',
  'AWS::Logs::MetricFilter LogGroupName': 'the log group it reads',
  'AWS::Logs::Delivery DeliverySourceName': 'the source it delivers',
  'AWS::CloudTrail::Trail S3BucketName': 'the bucket it writes to',
  'AWS::CloudWatch::Alarm MetricName': 'the metric it watches',
  'AWS::SNS::Topic DisplayName': 'a label in messages, not a key',
  'AWS::CertificateManager::Certificate DomainName': 'the name it certifies',
  'AWS::RDS::DBInstance CACertificateIdentifier': 'the CA it uses',
  'AWS::RDS::DBInstance DBName': 'a database inside the instance',
  'AWS::IAM::Policy PolicyName': 'an inline policy: unique within the roles it is attached to only',
  'AWS::ApplicationAutoScaling::ScalingPolicy PolicyName': 'unique per scalable target (one service), not per account',
  'AWS::Backup::RestoreTestingSelection RestoreTestingPlanName': 'the plan it belongs to',
  'AWS::Backup::RestoreTestingSelection RestoreTestingSelectionName': 'unique within its plan, which is named per stage',
  'Custom::DatabaseSetup DatabaseName': 'the database it sets up',
  'Custom::DatabaseSetup DbInstanceIdentifier': 'the instance it sets up (the DR app tier names the restored one)',
  'Custom::PreDeploySnapshot StackName': 'the stack it tags snapshots with',
  'AWS::Logs::QueryDefinition Name': "a saved query's label, which CloudWatch does not hold unique",
};

const synthesized = stageTemplates();
/**
 * The DR app tier of each stage with a pilot light, as the failover and its drill deploy it: its
 * names must not collide with the stage's other stacks either (the other stacks are the same with
 * it; test/dr/dr-app-stack.test.ts).
 */
const drApps = new Map<string, StageTemplates>();
beforeAll(() => {
  for (const stage of STAGE_NAMES) if (synthesized[stage].pilotLight) drApps.set(stage, synthStage(stage, drAppTier(stage)));
});

interface Written {
  readonly key: string;
  readonly stack: string;
}

/** Every stack the stages synthesize (their own and the account stacks), each once. */
function allStacks(): { name: string; account: string; region: string; template: ReturnType<typeof ownTemplates>[number] }[] {
  const stacks = new Map<string, { name: string; account: string; region: string; template: ReturnType<typeof ownTemplates>[number] }>();
  for (const stage of STAGE_NAMES) {
    const t = synthesized[stage];
    const infos = ownStacks(t);
    for (const [i, template] of ownTemplates(t).entries())
      stacks.set(infos[i].stackName, { name: infos[i].stackName, account: infos[i].account, region: infos[i].region, template });
    for (const info of t.stage.shared) stacks.set(info.stackName, { name: info.stackName, account: info.account, region: info.region, template: t.shared.get(info.stackName)! });
    const failedOver = drApps.get(stage);
    if (failedOver) {
      const info = failedOver.stage.drApp!;
      stacks.set(info.stackName, { name: info.stackName, account: info.account, region: info.region, template: failedOver.drApp! });
    }
  }
  return [...stacks.values()];
}

/** Every fixed physical name the stacks write, keyed by its namespace: account (and region where regional), type and name. */
function written(): Written[] {
  return allStacks().flatMap(({ name, account, region, template }) =>
    Object.values(template.toJSON().Resources as Record<string, { Type: string; Properties?: Json }>)
      .filter((r) => NAME_OF[r.Type])
      .map((r) => ({ type: r.Type, value: NAME_OF[r.Type](r.Properties ?? {}) }))
      // A name taken from another resource's attribute (the DKIM records SES names) is that
      // resource's, unique with it; only names the templates spell out can collide.
      .filter((r) => r.value !== undefined && !isAttribute(r.value))
      .map((r) => ({ key: `${GLOBAL_NAMES.has(r.type) ? account : `${account}/${region}`} ${r.type} ${JSON.stringify(r.value)}`, stack: name })),
  );
}

const isAttribute = (name: unknown) => typeof name === 'object' && name !== null && ('Fn::GetAtt' in name || 'Ref' in name);

describe('no two resources write the same physical name or DNS record', () => {
  test('every fixed name is written once in its namespace: per account for global types, per account and region for the rest', () => {
    const all = written();
    expect(all.length).toBeGreaterThan(150);
    expect(all.filter((w) => w.stack.endsWith('-DrApp')).length).toBeGreaterThan(0);
    const writers = new Map<string, string[]>();
    for (const { key, stack } of all) writers.set(key, [...(writers.get(key) ?? []), stack]);
    expect([...writers].filter(([, stacks]) => stacks.length > 1).map(([key, stacks]) => `${key} written by ${stacks.join(', ')}`)).toEqual([]);
  });

  test('every property that names a resource is one the check reads', () => {
    const unread = new Set<string>();
    for (const { template } of allStacks()) {
      for (const r of Object.values(template.toJSON().Resources as Record<string, { Type: string; Properties?: Json }>)) {
        for (const [key, value] of Object.entries(r.Properties ?? {})) {
          if (!/Name$|Identifier$|^ReplicationGroupId$/.test(key) || typeof value !== 'string') continue;
          const entry = `${r.Type} ${key}`;
          if (NOT_THE_RESOURCE_NAME[entry] || String(NAME_OF[r.Type]?.(r.Properties ?? {})).includes(value)) continue;
          unread.add(entry);
        }
      }
    }
    expect([...unread].sort()).toEqual([]);
  });

  test('each stage with a domain has its own zone, and only writes records into it', () => {
    const zones = STAGE_NAMES.flatMap((n) => Object.values(synthesized[n].network.findResources('AWS::Route53::HostedZone')).map((z) => z.Properties.Name));
    expect(zones).toEqual(['staging.example.com.', 'app.example.com.']);
    for (const stage of STAGE_NAMES) {
      const t = synthesized[stage];
      for (const template of ownTemplates(t)) {
        for (const record of Object.values(template.findResources('AWS::Route53::RecordSet'))) {
          expect(JSON.stringify(record.Properties.HostedZoneId), `${stage} record ${JSON.stringify(record.Properties.Name)}`).toContain(`"StackName":"${stage}-Network"`);
        }
      }
    }
  });
});
