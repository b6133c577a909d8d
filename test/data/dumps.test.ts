import type { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, test } from 'vitest';
import { parseStageConfig, STAGE_NAMES, STAGES, type StageName } from '../../lib/config';
import { DUMP_CHECK_SCHEDULE } from '../../lib/data/dump-job';
import { jobsClusterName } from '../../lib/data/dump-tasks';
import { DUMP_OUTPUTS, DUMP_ROLE, dumpBucketName, dumpTaskFamily } from '../../lib/data/logical-backup-names';
import { DUMP_AGE_SCHEDULE } from '../../lib/ops/dump-age';
import { byPrefix, type Json, policyStatements, type Resource, resources, stageTemplates } from '../support/template';

/**
 * The logical backup's templates: the dump bucket, its keys and policies (who may read which
 * prefix, across accounts), its DR replica, the tasks and their schedules, the restore task of the
 * pilot light and the alarms. One synth of each stage for the file.
 */
const synthesized = stageTemplates();
const config = (name: StageName) => parseStageConfig(STAGES[name]);

interface Statement {
  Sid?: string;
  Effect: string;
  Principal?: Json;
  Action: string | string[];
  Resource: Json;
  Condition?: Record<string, Record<string, Json>>;
}
const list = <T>(v: T | T[]): T[] => (Array.isArray(v) ? v : [v]);
const text = (v: unknown) => JSON.stringify(v);

function dumpBucket(t: Template): Resource {
  const found = resources(t, 'AWS::S3::Bucket').filter((b) => /-dumps-/.test(String(b.Properties.BucketName)));
  expect(found).toHaveLength(1);
  return found[0];
}
function keyStatements(t: Template, prefix: string): Statement[] {
  const [, key] = Object.entries(t.findResources('AWS::KMS::Key')).find(([id]) => id.startsWith(prefix))!;
  return key.Properties.KeyPolicy.Statement;
}
function bucketPolicy(t: Template, bucketPrefix: string): Statement[] {
  const found = resources(t, 'AWS::S3::BucketPolicy').filter((p) => text(p.Properties.Bucket).includes(bucketPrefix));
  expect(found).toHaveLength(1);
  return found[0].Properties.PolicyDocument.Statement;
}
function managedPolicy(t: Template, prefix: string): Statement[] {
  const [, policy] = Object.entries(t.findResources('AWS::IAM::ManagedPolicy')).find(([id]) => id.startsWith(prefix))!;
  return policy.Properties.PolicyDocument.Statement;
}
const allows = (statements: Statement[], principal: string) => statements.filter((s) => s.Effect === 'Allow' && text(s.Principal).includes(principal));

describe.each(STAGE_NAMES)('%s dump bucket', (name) => {
  const c = config(name);

  test('is named for its account and region, versioned, private, TLS-only, SSE-KMS without a bucket key, and keeps dumps retentionDays', () => {
    const bucket = dumpBucket(synthesized[name].data);
    expect(bucket.Properties).toMatchObject({
      BucketName: dumpBucketName(name, c.account, c.region),
      VersioningConfiguration: { Status: 'Enabled' },
      PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [
          { BucketKeyEnabled: false, ServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: { 'Fn::GetAtt': [expect.stringMatching(/^DumpsKey/), 'Arn'] } } },
        ],
      },
      LifecycleConfiguration: {
        Rules: [
          expect.objectContaining({ Id: 'expire-dumps', ExpirationInDays: c.dumps.retentionDays, NoncurrentVersionExpiration: { NoncurrentDays: 1 } }),
          // Each expired dump leaves a delete marker, removed once it is alone.
          expect.objectContaining({ Id: 'remove-expired-delete-markers', ExpiredObjectDeleteMarker: true }),
        ],
      },
    });
    expect(bucketPolicy(synthesized[name].data, 'DumpsBucket')).toContainEqual(
      expect.objectContaining({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
    );
  });

  test('is locked as configured (Object Lock only at creation), and a governance lock is bypassed by the break-glass role alone', () => {
    const bucket = dumpBucket(synthesized[name].data);
    const policy = bucketPolicy(synthesized[name].data, 'DumpsBucket');
    const bypass = policy.filter((s) => list(s.Action).includes('s3:BypassGovernanceRetention'));
    if (c.dumps.objectLock === 'off') {
      expect(bucket.Properties.ObjectLockEnabled).toBeUndefined();
      expect(bypass).toEqual([]);
    } else {
      expect(bucket.Properties.ObjectLockEnabled).toBe(true);
      expect(bucket.Properties.ObjectLockConfiguration).toEqual({
        ObjectLockEnabled: 'Enabled',
        Rule: { DefaultRetention: { Days: c.dumps.retentionDays, Mode: c.dumps.objectLock.toUpperCase() } },
      });
      expect(bypass).toEqual([
        expect.objectContaining({ Effect: 'Deny', Condition: { ArnNotEquals: { 'aws:PrincipalArn': `arn:aws:iam::${c.account}:role/${c.backup.breakGlassRoleName}` } } }),
      ]);
      // The key of locked dumps is kept and protected like the database's: deleting it would unlock them in effect.
      const [, key] = Object.entries(synthesized[name].data.findResources('AWS::KMS::Key')).find(([id]) => id.startsWith('DumpsKey'))!;
      expect(key.DeletionPolicy).toBe('Retain');
      expect(keyStatements(synthesized[name].data, 'DumpsKey').map((s) => s.Sid)).toContain('OnlyBreakGlassDestroysTheKey');
    }
  });

  test('is replicated to a locked-alike replica in the DR region where configured, re-encrypted with the replica key', () => {
    const bucket = dumpBucket(synthesized[name].data);
    if (!c.dumps.replicateToDr) {
      expect(bucket.Properties.ReplicationConfiguration).toBeUndefined();
      return;
    }
    const replica = dumpBucket(synthesized[name].dr!);
    expect(replica.Properties.BucketName).toBe(dumpBucketName(name, c.account, c.drRegion));
    const [rule] = bucket.Properties.ReplicationConfiguration.Rules;
    expect(rule).toMatchObject({
      Destination: { Bucket: `arn:aws:s3:::${dumpBucketName(name, c.account, c.drRegion)}` },
      SourceSelectionCriteria: { SseKmsEncryptedObjects: { Status: 'Enabled' } },
      Filter: {},
    });
    expect(text(rule.Destination.EncryptionConfiguration.ReplicaKmsKeyID)).toMatch(/DumpsReplicaKey/);
    // S3 replicates a locked bucket only into a locked one.
    expect(replica.Properties.ObjectLockConfiguration).toEqual(bucket.Properties.ObjectLockConfiguration);
    expect(replica.Properties.LifecycleConfiguration).toEqual(bucket.Properties.LifecycleConfiguration);
    // The replication role reads the lock of each version, and decrypts both keys' objects.
    const replication = managedPolicy(synthesized[name].data, 'DumpsReplicationPolicy');
    expect(replication.flatMap((s) => list(s.Action))).toEqual(expect.arrayContaining(['s3:GetObjectRetention', 's3:GetObjectLegalHold', 's3:ReplicateObject']));
  });
});

describe('the anonymised copy crosses accounts for anonymised/ only', () => {
  const prod = config('prod');
  const reader = prod.dumps.anonymised!.readerAccount;
  const prodBucket = dumpBucketName('prod', prod.account, prod.region);

  test("prod's bucket policy lets the reader account list and read anonymised/ and nothing else", () => {
    const granted = allows(bucketPolicy(synthesized.prod.data, 'DumpsBucket'), reader);
    expect(granted).toHaveLength(2);
    const get = granted.find((s) => list(s.Action).includes('s3:GetObject'))!;
    expect(list(get.Action)).toEqual(['s3:GetObject']);
    expect(text(get.Resource)).toMatch(/"\/anonymised\/\*"/);
    const ls = granted.find((s) => list(s.Action).includes('s3:ListBucket'))!;
    expect(ls.Condition).toEqual({ StringLike: { 's3:prefix': 'anonymised/*' } });
  });

  test("the raw dumps' key admits no other account; the anonymised key lets the reader decrypt through S3 for anonymised/ objects only", () => {
    expect(text(keyStatements(synthesized.prod.data, 'DumpsKey'))).not.toContain(reader);
    const granted = allows(keyStatements(synthesized.prod.data, 'DumpsAnonymisedKey'), reader);
    expect(granted).toEqual([
      expect.objectContaining({
        Action: 'kms:Decrypt',
        Condition: {
          StringEquals: { 'kms:ViaService': `s3.${prod.region}.amazonaws.com`, 'kms:CallerAccount': reader },
          StringLike: { 'kms:EncryptionContext:aws:s3:arn': `arn:aws:s3:::${prodBucket}/anonymised/*` },
        },
      }),
    ]);
  });

  test("staging's restore task may read prod's anonymised/ and decrypt it through S3, and nothing else of prod's", () => {
    const statements = managedPolicy(synthesized.staging.data, 'DumpJobTasksRestorePolicy');
    const naming = statements.filter((s) => text(s).includes(prodBucket) || text(s).includes(prod.account));
    // It reads the object the command names and lists nothing: the command lists with the operator's credentials.
    expect(naming.map((s) => s.Sid)).toEqual(['ReadTheSourceAnonymisedCopies', 'DecryptTheSourceAnonymisedCopies']);
    expect(naming[0]).toMatchObject({ Action: 's3:GetObject', Resource: `arn:aws:s3:::${prodBucket}/anonymised/*` });
    expect(naming[1]).toMatchObject({
      Action: 'kms:Decrypt',
      Resource: `arn:aws:kms:${prod.region}:${prod.account}:key/*`,
      Condition: {
        StringEquals: { 'kms:ViaService': `s3.${prod.region}.amazonaws.com` },
        StringLike: { 'kms:EncryptionContext:aws:s3:arn': `arn:aws:s3:::${prodBucket}/anonymised/*` },
      },
    });
    // Its refresh reads that bucket.
    const restore = resources(synthesized.staging.data, 'AWS::ECS::TaskDefinition').find((d) => d.Properties.Family === dumpTaskFamily('staging', 'restore'))!;
    expect(restore.Properties.ContainerDefinitions[0].Environment).toContainEqual({ Name: 'SOURCE_BUCKET', Value: prodBucket });
  });

  test.each(['dev', 'staging'] as const)('%s makes no anonymised copy: one key, no other account in its bucket policy', (name) => {
    expect(Object.keys(synthesized[name].data.findResources('AWS::KMS::Key')).filter((id) => id.startsWith('Dumps'))).toEqual([expect.stringMatching(/^DumpsKey/)]);
    expect(bucketPolicy(synthesized[name].data, 'DumpsBucket').filter((s) => s.Effect === 'Allow')).toEqual([]);
  });
});

describe.each(STAGE_NAMES)('%s dump tasks', (name) => {
  const c = config(name);
  const definitions = () =>
    resources(synthesized[name].data, 'AWS::ECS::TaskDefinition').filter(
      (d) => String(d.Properties.Family).includes(`webapp-${name}-`) && /-(dump|anonymise|restore)-task$/.test(d.Properties.Family),
    );
  const schedules = () => resources(synthesized[name].data, 'AWS::Scheduler::Schedule');

  test('run in the stage jobs cluster, ARM64, at the configured size, as families dump, restore and (where anonymised) anonymise', () => {
    expect(resources(synthesized[name].data, 'AWS::ECS::Cluster').map((r) => r.Properties.ClusterName)).toContain(jobsClusterName(name));
    expect(
      definitions()
        .map((d) => d.Properties.Family)
        .sort(),
    ).toEqual([dumpTaskFamily(name, 'dump'), dumpTaskFamily(name, 'restore'), ...(c.dumps.anonymised ? [dumpTaskFamily(name, 'anonymise')] : [])].sort());
    for (const d of definitions()) {
      expect(d.Properties).toMatchObject({
        Cpu: String(c.dumps.cpu),
        Memory: String(c.dumps.memoryMiB),
        EphemeralStorage: { SizeInGiB: c.dumps.storageGiB },
        RuntimePlatform: { CpuArchitecture: 'ARM64' },
      });
    }
  });

  test('the dump logs in as the dump role with IAM, and the database admits the tasks', () => {
    const dump = definitions().find((d) => d.Properties.Family === dumpTaskFamily(name, 'dump'))!;
    expect(dump.Properties.ContainerDefinitions[0].Environment).toContainEqual({ Name: 'DATABASE_USER', Value: DUMP_ROLE });
    const role = synthesized[name].data.toJSON().Resources[dump.Properties.TaskRoleArn['Fn::GetAtt'][0]];
    expect(text(role.Properties.ManagedPolicyArns)).toMatch(/DatabaseConnectwebappdump/);
    const ingress = resources(synthesized[name].data, 'AWS::EC2::SecurityGroupIngress').filter((r) =>
      String(text(r.Properties.SourceSecurityGroupId)).includes('DumpJobTasksSecurityGroup'),
    );
    expect(ingress).toEqual([
      expect.objectContaining({
        Properties: expect.objectContaining({ FromPort: 5432, ToPort: 5432, GroupId: { 'Fn::GetAtt': [expect.stringMatching(/^DatabaseSecurityGroup/), 'GroupId'] } }),
      }),
    ]);
  });

  test('EventBridge Scheduler starts the nightly dump, the weekly check where configured and the anonymisation where configured, with the command as an override and retries', () => {
    const byName = Object.fromEntries(schedules().map((s) => [s.Properties.Name, s.Properties]));
    const expected: Record<string, [string, string]> = {
      [`webapp-${name}-dump`]: [c.dumps.schedule, 'dump'],
      ...(c.dumps.restoreCheck === 'weekly' ? { [`webapp-${name}-check`]: [DUMP_CHECK_SCHEDULE, 'check'] } : {}),
      ...(c.dumps.anonymised ? { [`webapp-${name}-anonymise`]: [c.dumps.anonymised.schedule, 'anonymise'] } : {}),
    };
    expect(Object.keys(byName).sort()).toEqual(Object.keys(expected).sort());
    for (const [scheduleName, [expression, command]] of Object.entries(expected)) {
      const s = byName[scheduleName];
      expect(s.ScheduleExpression).toBe(expression);
      expect(text(s.Target.Arn)).toContain(':scheduler:::aws-sdk:ecs:runTask');
      expect(text(s.Target.Input)).toContain(`\\"ContainerOverrides\\":[{\\"Name\\":\\"dump\\",\\"Command\\":[\\"${command}\\"]}]`);
      expect(text(s.Target.Input)).toContain(`\\"AssignPublicIp\\":\\"DISABLED\\"`);
      expect(s.Target.RetryPolicy).toEqual({ MaximumEventAgeInSeconds: 3600, MaximumRetryAttempts: 5 });
    }
  });

  test('outputs what the restore commands read', () => {
    const outputs = synthesized[name].data.toJSON().Outputs;
    for (const output of Object.values(DUMP_OUTPUTS)) expect(outputs[output], output).toBeDefined();
    expect(outputs[DUMP_OUTPUTS.bucket].Value).toBe(dumpBucketName(name, c.account, c.region));
    expect(outputs[DUMP_OUTPUTS.publicIp].Value).toBe('DISABLED');
  });

  test('the dump task may write dumps under raw/ and, where the check runs, its pass markers under checks/, nothing else', () => {
    const statements = managedPolicy(synthesized[name].data, 'DumpJobDumpPolicy');
    const writes = statements.filter((st) => list(st.Action).some((a) => a.startsWith('s3:Put')));
    const bucket = `arn:aws:s3:::${dumpBucketName(name, c.account, c.region)}`;
    expect(writes.map((st) => [st.Sid, st.Resource])).toEqual([
      ['WriteDumps', `${bucket}/raw/*`],
      ...(c.dumps.restoreCheck !== 'off' ? [['WriteCheckMarkers', `${bucket}/checks/*`]] : []),
    ]);
  });

  test('an hourly function publishes the age of the newest dump, passed check and anonymised copy the stage makes, listing only those prefixes', () => {
    const ops = synthesized[name].ops;
    const watched = ['dump', ...(c.dumps.restoreCheck !== 'off' ? ['check'] : []), ...(c.dumps.anonymised ? ['anonymised'] : [])];
    const fn = byPrefix(ops, 'AWS::Lambda::Function', 'DumpAgeHandler').Properties;
    expect(fn).toMatchObject({ Runtime: 'nodejs24.x', Architectures: ['arm64'], Handler: 'index.handler', Timeout: 60 });
    expect(fn.Environment.Variables).toEqual({
      NODE_OPTIONS: '--enable-source-maps',
      STAGE: name,
      DUMP_BUCKET: dumpBucketName(name, c.account, c.region),
      WATCHED: watched.join(','),
    });
    expect(byPrefix(ops, 'AWS::Logs::LogGroup', 'DumpAgeHandlerLogs').Properties.RetentionInDays).toBe(c.logRetentionDays);
    const prefixes = { dump: 'raw/', check: 'checks/', anonymised: 'anonymised/' } as Record<string, string>;
    expect(policyStatements(ops, /^DumpAgeHandler/)).toEqual([
      {
        Sid: 'ListTheWatchedPrefixes',
        Effect: 'Allow',
        Action: 's3:ListBucket',
        Resource: `arn:aws:s3:::${dumpBucketName(name, c.account, c.region)}`,
        Condition: { StringEquals: { 's3:prefix': watched.map((w) => prefixes[w]) } },
      },
      { Sid: 'PublishTheDumpAges', Effect: 'Allow', Action: 'cloudwatch:PutMetricData', Resource: '*', Condition: { StringEquals: { 'cloudwatch:namespace': 'webapp/Dumps' } } },
    ]);
    const [fnId] = Object.keys(ops.findResources('AWS::Lambda::Function')).filter((id) => id.startsWith('DumpAgeHandler'));
    const rules = resources(ops, 'AWS::Events::Rule').filter((r) => text(r.Properties.Targets).includes(fnId));
    expect(rules.map((r) => r.Properties)).toEqual([
      expect.objectContaining({ ScheduleExpression: DUMP_AGE_SCHEDULE, State: 'ENABLED', Targets: [expect.objectContaining({ RetryPolicy: { MaximumRetryAttempts: 2 } })] }),
    ]);
    expect(DUMP_AGE_SCHEDULE).toBe('cron(10 * * * ? *)');
  });

  test('the alarms watch the age of the dump, of its passed check where it runs and of the anonymised copy where the stage makes one, and their failures', () => {
    const names = resources(synthesized[name].ops, 'AWS::CloudWatch::Alarm')
      .map((a) => a.Properties.AlarmName as string)
      .filter((n) => new RegExp(`^${name}-(dump|anonymise)-`).test(n));
    expect(names.sort()).toEqual(
      [
        `${name}-dump-slow`,
        `${name}-dump-stale`,
        ...(c.dumps.restoreCheck !== 'off' ? [`${name}-dump-check-stale`, `${name}-dump-check-failed`] : []),
        ...(c.dumps.anonymised ? [`${name}-anonymise-stale`, `${name}-anonymise-failed`] : []),
      ].sort(),
    );
    const alarm = (suffix: string) => resources(synthesized[name].ops, 'AWS::CloudWatch::Alarm').find((a) => a.Properties.AlarmName === `${name}-${suffix}`)!.Properties;
    // Hourly ages: any reading above the limit in three hours breaches; no reading (no object yet) does not.
    const age = (metric: string, hours: number) => ({
      Namespace: 'webapp/Dumps',
      MetricName: metric,
      Dimensions: [{ Name: 'Stage', Value: name }],
      Statistic: 'Maximum',
      Period: 3600,
      EvaluationPeriods: 3,
      DatapointsToAlarm: 1,
      ComparisonOperator: 'GreaterThanThreshold',
      Threshold: hours,
      TreatMissingData: 'notBreaching',
    });
    // A failed run: its result below 1 on the day it ran; a day without a run is not a failure.
    const failure = (metric: string) => ({
      MetricName: metric,
      Statistic: 'Minimum',
      Period: 86400,
      EvaluationPeriods: 1,
      ComparisonOperator: 'LessThanThreshold',
      Threshold: 1,
      TreatMissingData: 'notBreaching',
    });
    expect(alarm('dump-stale')).toMatchObject(age('HoursSinceDump', 26));
    // A failed dump is the failed-job rule's to tell (test/ops/ops-stack.test.ts), at once and with its task.
    expect(alarm('dump-slow')).toMatchObject({ MetricName: 'DumpSeconds', Statistic: 'Maximum', Threshold: c.dumps.maxMinutes * 60, TreatMissingData: 'notBreaching' });
    if (c.dumps.restoreCheck !== 'off') {
      expect(alarm('dump-check-stale')).toMatchObject(age('HoursSinceCheck', 7 * 24 + 12));
      expect(alarm('dump-check-failed')).toMatchObject(failure('RestoreCheckSucceeded'));
    }
    if (c.dumps.anonymised) {
      expect(alarm('anonymise-stale')).toMatchObject(age('HoursSinceAnonymised', c.dumps.anonymised.maxAgeDays * 24 + 12));
      expect(alarm('anonymise-failed')).toMatchObject(failure('AnonymisedSucceeded'));
    }
  });
});

test('the anonymised copy of a schedule less often than weekly may be given more days before it is stale', () => {
  const prod = structuredClone(STAGES.prod);
  const anonymised = { ...prod.dumps!.anonymised!, maxAgeDays: 31 };
  expect(parseStageConfig({ ...prod, dumps: { ...prod.dumps!, anonymised } }).dumps.anonymised?.maxAgeDays).toBe(31);
  expect(config('prod').dumps.anonymised?.maxAgeDays).toBe(7);
  expect(() => parseStageConfig({ ...prod, dumps: { ...prod.dumps!, anonymised: { ...anonymised, maxAgeDays: 120 } } })).toThrow(/maxAgeDays.*must be at most 93 days/s);
});

describe.each(['staging', 'prod'] as const)('%s pilot light restore task', (name) => {
  const c = config(name);

  test('runs in the public subnets with a public address (no NAT), reads the replica, and the DR database admits it', () => {
    const t = synthesized[name].pilotLight!;
    expect(resources(t, 'AWS::ECS::Cluster').map((r) => r.Properties.ClusterName)).toEqual([jobsClusterName(name)]);
    const outputs = t.toJSON().Outputs;
    expect(outputs[DUMP_OUTPUTS.publicIp].Value).toBe('ENABLED');
    expect(outputs[DUMP_OUTPUTS.bucket].Value).toBe(dumpBucketName(name, c.account, c.drRegion));
    expect(text(outputs[DUMP_OUTPUTS.subnets].Value)).toMatch(/PublicSubnet/);
    expect(text(outputs[DUMP_OUTPUTS.subnets].Value)).not.toMatch(/PrivateSubnet/);
    const ingress = resources(t, 'AWS::EC2::SecurityGroupIngress').filter((r) => String(text(r.Properties.SourceSecurityGroupId)).includes('DumpTasksSecurityGroup'));
    expect(ingress).toEqual([
      expect.objectContaining({ Properties: expect.objectContaining({ FromPort: 5432, GroupId: { 'Fn::GetAtt': [expect.stringMatching(/DatabaseSecurityGroup/), 'GroupId'] } }) }),
    ]);
    const read = managedPolicy(t, 'DumpTasksRestorePolicy').find((s) => s.Sid === 'DecryptDumps')!;
    expect(read.Condition?.StringLike).toEqual({ 'kms:EncryptionContext:aws:s3:arn': [`arn:aws:s3:::${dumpBucketName(name, c.account, c.drRegion)}/*`] });
  });
});
