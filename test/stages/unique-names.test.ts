import { describe, expect, test } from 'vitest';
import { STAGE_NAMES, type StageName } from '../../lib/config';
import { ownTemplates } from '../support/synth';
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
  'AWS::Route53::HostedZone': (p) => p.Name,
  'AWS::Route53::RecordSet': (p) => p.Name,
};

const synthesized = stageTemplates();

/** Every fixed physical name a stage writes, as "Type name", from its own stacks and its CI roles. */
function names(stage: StageName): { key: string; where: string }[] {
  const t = synthesized[stage];
  const own = ownTemplates(t).map((x, i) => [`stack ${i}`, x] as const);
  const ci = [...t.shared].filter(([name]) => name.startsWith('CiAccess-')).map(([n, x]) => [n, x] as const);
  return [...own, ...ci].flatMap(([where, template]) =>
    Object.values(template.toJSON().Resources as Record<string, { Type: string; Properties?: Json }>)
      .filter((r) => NAME_OF[r.Type])
      .map((r) => ({ type: r.Type, name: NAME_OF[r.Type](r.Properties ?? {}) }))
      // A name taken from another resource's attribute (the DKIM records SES names) is that
      // resource's, unique with it; only names the templates spell out can collide.
      .filter((r) => r.name !== undefined && !isAttribute(r.name))
      // The CI stack of an account holds the roles of every stage in it: count each role for the stage it names.
      .filter((r) => !where.startsWith('CiAccess-') || JSON.stringify(r.name).includes(`webapp-${stage}-`))
      .map((r) => ({ key: `${r.type} ${JSON.stringify(r.name)}`, where: `${stage} ${where}` })),
  );
}

const isAttribute = (name: unknown) => typeof name === 'object' && name !== null && ('Fn::GetAtt' in name || 'Ref' in name);

describe('no two stages write the same physical name or DNS record', () => {
  test('every fixed name of every stage is its own', () => {
    const all = STAGE_NAMES.flatMap(names);
    expect(all.length).toBeGreaterThan(100);
    const owners = new Map<string, Set<string>>();
    for (const { key, where } of all) owners.set(key, (owners.get(key) ?? new Set()).add(where.split(' ')[0]));
    const shared = [...owners].filter(([, stages]) => stages.size > 1).map(([key, stages]) => `${key} written by ${[...stages].join(', ')}`);
    expect(shared).toEqual([]);
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
