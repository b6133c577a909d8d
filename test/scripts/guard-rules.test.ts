import { describe, expect, test } from 'vitest';
import { type AssemblyStack, type Template, UsageError } from '../../scripts/lib/assembly';
import { DATA_TYPES, formatFindings, type GuardResult, guard, STATEFUL_TYPES } from '../../scripts/lib/guard';

/**
 * The guard's rules on small hand-written templates: every outcome (blocked, allowed, warning,
 * nothing) of every rule, fast enough to run against each mutant. test/scripts/diff-guard.test.ts
 * runs the same rules on the real app.
 */

type Resources = NonNullable<Template['Resources']>;

const stack = (displayName: string, resources: Resources, outputs: Record<string, { Value: unknown }> = {}): AssemblyStack => ({
  displayName,
  stage: displayName.split('/')[0],
  stackName: displayName.replace('/', '-'),
  environment: 'aws://333333333333/eu-west-1',
  template: { Resources: resources, Outputs: outputs },
});

const db = (props: Record<string, unknown> = {}, policy: Partial<Resources[string]> = { DeletionPolicy: 'Snapshot', UpdateReplacePolicy: 'Snapshot' }) => ({
  Type: 'AWS::RDS::DBInstance',
  Properties: { Engine: 'postgres', Port: '5432', DBInstanceClass: 'db.m7g.large', VPCSecurityGroups: [{ 'Fn::GetAtt': ['DbGroup', 'GroupId'] }], ...props },
  ...policy,
});
const group = (description: string) => ({ Type: 'AWS::EC2::SecurityGroup', Properties: { GroupDescription: description, VpcId: 'vpc-1' } });
const bucket = (props: Record<string, unknown> = {}, policy: Partial<Resources[string]> = { DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' }) => ({
  Type: 'AWS::S3::Bucket',
  Properties: props,
  ...policy,
});
const logs = (policy: Partial<Resources[string]> = { DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' }) => ({
  Type: 'AWS::Logs::LogGroup',
  Properties: { RetentionInDays: 30 },
  ...policy,
});
const fn = (memory: number) => ({ Type: 'AWS::Lambda::Function', Properties: { MemorySize: memory, Runtime: 'nodejs24.x' } });

/** A consumer reading `output` of prod-Data, marked as lib/shared/cross-stack-reads.ts marks reads. */
const reader = (output: string, marker: string) => ({
  Type: 'AWS::EC2::SecurityGroupIngress',
  Properties: {
    SourceSecurityGroupId: {
      'Fn::Join': ['', [{ 'Fn::GetStackOutput': { StackName: 'prod-Data', OutputName: output } }, { 'Fn::Select': [0, ['', `producer:prod-Data/${output}@${marker}`]] }]],
    },
  },
});

const data = (resources: Resources = {}) =>
  stack(
    'prod/Data',
    { Db: db(), DbGroup: group('db'), OtherGroup: group('fn'), Uploads: bucket(), Logs: logs(), Fn: fn(256), ...resources },
    { DbGroupId: { Value: { 'Fn::GetAtt': ['DbGroup', 'GroupId'] } } },
  );
const app = (marker = 'aaaaaaaaaaaa') => stack('prod/App', { Ingress: reader('DbGroupId', marker) });
const lines = (result: GuardResult) => formatFindings(result, 'text').split('\n');
/** The data stack of `data()` without the named resources. */
const without = (...ids: string[]) =>
  stack('prod/Data', Object.fromEntries(Object.entries(data().template.Resources!).filter(([id]) => !ids.includes(id))), data().template.Outputs as never);
/** What the guard says of a retained data store that leaves CloudFormation, after `leaves`. */
const lost = (leaves: string, policy = 'Retain', added = '') =>
  `${leaves} orphaned (DeletionPolicy ${policy}). Its data stays in the account, outside CloudFormation, but the stage loses it: what used it gets a new, empty one or none${added}. Allow it only when cdk refactor or cdk import moves it (the same resource, its data kept), or when the stage gives it up`;

describe('guard rules', () => {
  test('no change: nothing found, exit 0', () => {
    const result = guard([data(), app()], [data(), app()]);
    expect(result).toEqual({ findings: [], notes: [], exitCode: 0 });
    expect(lines(result)).toEqual(['OK: no stateful resource is replaced, destroyed or orphaned.']);
  });

  test('a stateless change passes', () => {
    expect(guard([data()], [data({ Fn: fn(512) })]).exitCode).toBe(0);
  });

  test('a property that replaces a stateful resource blocks, naming it', () => {
    const result = guard([data()], [data({ Db: db({ Port: '5433' }) })]);
    expect(result.exitCode).toBe(1);
    expect(result.findings).toEqual([
      { severity: 'blocked', stage: 'prod', stack: 'prod/Data', stackName: 'prod-Data', logicalId: 'Db', type: 'AWS::RDS::DBInstance', reason: 'replaced because Port changed' },
    ]);
    expect(lines(result).at(-1)).toMatch(/^BLOCKED: 1 stateful resource\(s\) would be replaced, destroyed or orphaned/);
  });

  test('a property that may replace it blocks as "possibly replaced"', () => {
    const result = guard([data()], [data({ Db: db({ MultiAZ: true }) })]);
    expect(result.findings.map((f) => [f.severity, f.reason])).toEqual([['blocked', 'possibly replaced because MultiAZ changed']]);
  });

  test('an in-place change of a stateful resource passes', () => {
    expect(guard([data()], [data({ Db: db({ DBInstanceClass: 'db.m7g.xlarge' }) })]).findings).toEqual([]);
  });

  test('a changed type is a cause of its own', () => {
    const result = guard([data()], [data({ Uploads: { ...bucket(), Type: 'AWS::S3Express::DirectoryBucket' } })]);
    expect(result.findings[0]).toMatchObject({ severity: 'blocked', logicalId: 'Uploads', reason: expect.stringMatching(/^replaced because .*Type changed/) });
  });

  test('a replaced resource whose old copy is retained says the stack moves to a new, empty one', () => {
    const result = guard([data()], [data({ Uploads: bucket({ BucketName: 'fixed' }) })]);
    expect(result.findings[0].reason).toBe('replaced because BucketName changed (the old one is kept, but the stack moves to a new, empty one)');
  });

  test('a removed resource: deleted blocks; orphaned under Retain blocks for a data store, warns for a log group', () => {
    const result = guard([data()], [without('Db', 'Uploads', 'Logs')]);
    expect(result.findings.map((f) => [f.severity, f.logicalId, f.reason])).toEqual([
      ['blocked', 'Db', 'removed from the template: deleted (DeletionPolicy Snapshot)'],
      ['blocked', 'Uploads', lost('removed from the template:')],
      ['warning', 'Logs', 'removed from the template: orphaned (DeletionPolicy Retain keeps it, outside CloudFormation)'],
    ]);
    expect(result.exitCode).toBe(1);
    expect(guard([data()], [without('Uploads')]).exitCode).toBe(1);
  });

  test('a removed stack: its stateful resources are deleted or orphaned (blocked), its retained log groups orphaned (warning)', () => {
    const result = guard([data(), app()], [app()]);
    expect(result.findings.map((f) => [f.severity, f.logicalId])).toEqual([
      ['blocked', 'Db'],
      ['blocked', 'DbGroup'],
      ['blocked', 'Uploads'],
      ['warning', 'Logs'],
    ]);
    expect(result.findings[0].reason).toBe('stack removed: the resource would be deleted (DeletionPolicy Snapshot)');
    expect(result.findings[2].reason).toBe(lost('stack removed: the resource would be'));
    expect(result.findings[3].reason).toBe('stack removed: the resource would be orphaned (DeletionPolicy Retain keeps it, outside CloudFormation)');
  });

  test('only warnings: exit 0 with the warnings verdict', () => {
    const result = guard([data()], [without('Logs')]);
    expect(result.exitCode).toBe(0);
    expect(lines(result).at(-1)).toMatch(/^OK with warnings/);
  });

  describe('a retained data store or key leaving CloudFormation', () => {
    /** Every kind of resource that holds a user's data or that such data needs; a type taken out of DATA_TYPES fails here. */
    const kinds = [
      'AWS::RDS::DBInstance',
      'AWS::RDS::DBCluster',
      'AWS::ElastiCache::ReplicationGroup',
      'AWS::ElastiCache::CacheCluster',
      'AWS::ElastiCache::ServerlessCache',
      'AWS::S3::Bucket',
      'AWS::Backup::BackupVault',
      'AWS::Route53::HostedZone',
      'AWS::ECR::Repository',
      'AWS::SecretsManager::Secret',
      'AWS::EFS::FileSystem',
      'AWS::DynamoDB::Table',
      'AWS::DynamoDB::GlobalTable',
      'AWS::KMS::Key',
    ];
    const kept = (Type: string, DeletionPolicy = 'Retain') => ({ Type, Properties: {}, DeletionPolicy, UpdateReplacePolicy: DeletionPolicy });

    test.each(kinds)('%s: removed from its template, with its stack, or under another logical id, it blocks', (type) => {
      const before = [stack('prod/Data', { Store: kept(type), Fn: fn(256) }), app()];
      const removed = guard(before, [stack('prod/Data', { Fn: fn(256) }), app()]);
      expect(removed.findings).toEqual([
        { severity: 'blocked', stage: 'prod', stack: 'prod/Data', stackName: 'prod-Data', logicalId: 'Store', type, reason: lost('removed from the template:') },
      ]);
      expect(removed.exitCode).toBe(1);
      const gone = guard(before, [app()]);
      expect(gone.findings.map((f) => [f.severity, f.logicalId, f.reason])).toEqual([['blocked', 'Store', lost('stack removed: the resource would be')]]);
      const renamed = guard(before, [stack('prod/Data', { StoreRenamed: kept(type), Fn: fn(256) }), app()]);
      expect(renamed.findings.map((f) => [f.severity, f.logicalId, f.reason])).toEqual([
        ['blocked', 'Store', lost('removed from the template:', 'Retain', ' (new in the head with this type: prod/Data/StoreRenamed)')],
      ]);
    });

    test('RetainExceptOnCreate leaves the same way, and says so', () => {
      const result = guard([stack('prod/Data', { Key: kept('AWS::KMS::Key', 'RetainExceptOnCreate') })], [stack('prod/Data', {})]);
      expect(result.findings.map((f) => [f.severity, f.reason])).toEqual([['blocked', lost('removed from the template:', 'RetainExceptOnCreate')]]);
    });

    test('only the data types block: a log group and the network under the data warn when they leave', () => {
      const others = [...STATEFUL_TYPES].filter((t) => !DATA_TYPES.has(t));
      expect(others.sort()).toEqual(['AWS::EC2::Subnet', 'AWS::EC2::VPC', 'AWS::ElastiCache::SubnetGroup', 'AWS::Logs::LogGroup', 'AWS::RDS::DBSubnetGroup']);
      for (const type of others) {
        const result = guard([stack('prod/Data', { Thing: kept(type) }), app()], [app()]);
        expect(
          result.findings.map((f) => [f.severity, f.reason]),
          type,
        ).toEqual([['warning', 'stack removed: the resource would be orphaned (DeletionPolicy Retain keeps it, outside CloudFormation)']]);
        expect(result.exitCode).toBe(0);
      }
    });

    test('a move to another stack of the stage names the new one; one already there, in another stage or of another type is not named', () => {
      const withArchive = (s: AssemblyStack) => stack(s.displayName, { ...s.template.Resources!, Archive: bucket() }, s.template.Outputs as never);
      const moved = guard([withArchive(data()), app()], [withArchive(without('Uploads')), stack('prod/App', { ...app().template.Resources!, Uploads: bucket() })]);
      expect(moved.findings.map((f) => [f.logicalId, f.reason])).toEqual([
        ['Uploads', lost('removed from the template:', 'Retain', ' (new in the head with this type: prod/App/Uploads)')],
      ]);
      const staging = (resources: Resources) => stack('staging/Data', resources);
      const elsewhere = guard([data(), staging({})], [stack('prod/Data', { ...without('Uploads').template.Resources!, NewLogs: logs() }), staging({ Uploads: bucket() })]);
      expect(elsewhere.findings.map((f) => [f.logicalId, f.reason])).toEqual([['Uploads', lost('removed from the template:')]]);
    });

    test('--allow accepts it by logical id or by stage/Stack/logicalId', () => {
      for (const entry of ['Uploads', 'prod/Data/Uploads']) {
        const result = guard([data()], [without('Uploads')], [entry]);
        expect(result.findings.map((f) => [f.severity, f.logicalId])).toEqual([['allowed', 'Uploads']]);
        expect(result.notes).toEqual([]);
        expect(result.exitCode).toBe(0);
      }
      const gone = guard([data(), app()], [app()], ['prod/Data/Uploads', 'Db', 'DbGroup']);
      expect(gone.findings.map((f) => f.severity)).toEqual(['allowed', 'allowed', 'allowed', 'warning']);
      expect(gone.exitCode).toBe(0);
    });
  });

  test('the security group a database sits in is protected; another is not', () => {
    const result = guard([data()], [data({ DbGroup: group('db, new'), OtherGroup: group('fn, new') })]);
    const blocked = result.findings.filter((f) => f.severity === 'blocked').map((f) => f.logicalId);
    expect(blocked).toEqual(['DbGroup']);
  });

  test('a replaced resource another stack reads: a warning when the read changed with it, blocked when it did not', () => {
    const fresh = guard([data(), app('aaaaaaaaaaaa')], [data({ OtherGroup: group('x'), DbGroup: group('db, new') }), app('bbbbbbbbbbbb')]);
    expect(fresh.findings.filter((f) => f.reason.includes('reads it'))).toEqual([
      expect.objectContaining({
        severity: 'warning',
        logicalId: 'DbGroup',
        reason: 'replaced; prod-App reads it by Fn::GetStackOutput (DbGroupId) and reads it again on its next deploy (its producer marker changed)',
      }),
    ]);
    const stale = guard([data(), app('aaaaaaaaaaaa')], [data({ DbGroup: group('db, new') }), app('aaaaaaaaaaaa')]);
    expect(stale.findings.filter((f) => f.reason.includes('reads it'))).toEqual([
      expect.objectContaining({
        severity: 'blocked',
        reason: 'replaced, and prod-App reads it by Fn::GetStackOutput (DbGroupId) with an unchanged reference: it would keep the old value',
      }),
    ]);
    // A stateless resource that nobody reads is replaced without a word.
    expect(guard([data()], [data({ OtherGroup: group('x') })]).findings).toEqual([]);
  });

  test('--allow by logical id or stack path turns blocked into allowed; warnings stay warnings', () => {
    for (const entry of ['Db', 'prod/Data/Db']) {
      const result = guard([data()], [data({ Db: db({ Port: '5433' }) })], [entry]);
      expect(result.findings[0].severity).toBe('allowed');
      expect(result.exitCode).toBe(0);
      expect(lines(result).at(-1)).toBe('OK: only resources a maintainer allowed are replaced, destroyed or orphaned.');
    }
    const orphaned = guard([data()], [without('Logs')], ['Logs']);
    expect(orphaned.findings[0].severity).toBe('warning');
    expect(orphaned.notes).toEqual([
      '--allow Logs matched nothing: no blocked resource has that logical id or stack path (a typo, or the change moved). Nothing was allowed by it.',
    ]);
  });

  test('a bare id across two stages allows neither; the path allows one; a typo is reported', () => {
    const staging = (resources: Resources = {}) => stack('staging/Data', { Db: db(), DbGroup: group('db'), ...resources });
    const base = [data(), staging()];
    const head = [data({ Db: db({ Port: '5433' }) }), staging({ Db: db({ Port: '5433' }) })];
    const bare = guard(base, head, ['Db']);
    expect(bare.findings.map((f) => f.severity)).toEqual(['blocked', 'blocked']);
    expect(bare.notes[0]).toMatch(/^--allow Db is ambiguous: it names blocked resources in prod, staging\. Allow each by its stack path \(prod\/Data\/Db, staging\/Data\/Db\)/);
    const scoped = guard(base, head, ['staging/Data/Db']);
    expect(scoped.findings.map((f) => [f.stage, f.severity])).toEqual([
      ['prod', 'blocked'],
      ['staging', 'allowed'],
    ]);
    expect(scoped.exitCode).toBe(1);
    expect(guard(base, head, ['prod/Data/Dbb']).notes).toHaveLength(1);
  });

  test('assemblies of different stages cannot be compared', () => {
    expect(() => guard([data()], [stack('dev/Data', {})])).toThrow(UsageError);
    expect(() => guard([data()], [stack('dev/Data', {})])).toThrow(
      'the assemblies hold different stages (base: prod; head: dev). Synthesize both with the same -c stages (or none).',
    );
  });

  test('RetainExceptOnCreate counts as retained; an unset policy as Delete', () => {
    const kept = guard([data({ Logs: logs({ DeletionPolicy: 'RetainExceptOnCreate' }) })], [without('Logs')]);
    expect(kept.findings).toEqual([
      expect.objectContaining({
        severity: 'warning',
        logicalId: 'Logs',
        reason: 'removed from the template: orphaned (DeletionPolicy RetainExceptOnCreate keeps it, outside CloudFormation)',
      }),
    ]);
    const unset = guard([data({ Uploads: bucket({}, {}) })], [stack('prod/Data', { Db: db(), DbGroup: group('db') })]);
    expect(unset.findings.find((f) => f.logicalId === 'Uploads')).toMatchObject({ severity: 'blocked', reason: 'removed from the template: deleted (DeletionPolicy Delete)' });
    const gone = guard([data({ Uploads: bucket({}, {}) }), app()], [app()]);
    expect(gone.findings.find((f) => f.logicalId === 'Uploads')?.reason).toBe('stack removed: the resource would be deleted (DeletionPolicy Delete)');
    // A replaced bucket without a retain policy says nothing of an old copy kept.
    expect(guard([data({ Uploads: bucket({}, {}) })], [data({ Uploads: bucket({ BucketName: 'x' }, {}) })]).findings[0].reason).toBe('replaced because BucketName changed');
  });

  test('only groups that a database or cache sits in are protected, found through Ref as well as GetAtt', () => {
    const cache = { Type: 'AWS::ElastiCache::ReplicationGroup', Properties: { SecurityGroupIds: [{ Ref: 'CacheGroup' }], Description: 'q' } };
    const notADb = { Type: 'AWS::Lambda::Function', Properties: { VpcConfig: { SecurityGroupIds: [{ 'Fn::GetAtt': ['FnGroup', 'GroupId'] }] } } };
    const base = [
      stack('prod/Data', {
        Cache: cache,
        CacheGroup: group('cache'),
        Fn: notADb,
        FnGroup: group('fn'),
        Db: db({ VPCSecurityGroups: [{ 'Fn::GetAtt': ['Uploads', 'Arn'] }] }),
        Uploads: bucket(),
      }),
    ];
    const head = [
      stack('prod/Data', {
        Cache: cache,
        CacheGroup: group('cache, new'),
        Fn: notADb,
        FnGroup: group('fn, new'),
        Db: db({ VPCSecurityGroups: [{ 'Fn::GetAtt': ['Uploads', 'Arn'] }] }),
        Uploads: bucket(),
      }),
    ];
    expect(guard(base, head).findings.map((f) => [f.severity, f.logicalId])).toEqual([['blocked', 'CacheGroup']]);
  });

  test('stacks outside any stage (the shared ones) do not count as a stage', () => {
    const shared = { ...stack('CiAccess-333333333333', {}), stage: '' };
    expect(guard([data(), shared], [data()]).exitCode).toBe(0);
    expect(() => guard([data(), shared], [shared])).toThrow('the assemblies hold different stages (base: prod; head: none).');
  });

  describe('listener rules ECS re-weights', () => {
    const rule = (priority: number, weights = [100, 0]) => ({
      Type: 'AWS::ElasticLoadBalancingV2::ListenerRule',
      Properties: {
        ListenerArn: { Ref: 'Listener' },
        Priority: priority,
        Conditions: [{ Field: 'path-pattern', PathPatternConfig: { Values: ['/*'] } }],
        Actions: [
          {
            Type: 'forward',
            ForwardConfig: {
              TargetGroups: [
                { TargetGroupArn: { Ref: 'Blue' }, Weight: weights[0] },
                { TargetGroupArn: { Ref: 'Green' }, Weight: weights[1] },
              ],
            },
          },
        ],
      },
    });
    const service = (advanced: boolean) => ({
      Type: 'AWS::ECS::Service',
      Properties: {
        LoadBalancers: [
          {
            TargetGroupArn: { Ref: 'Blue' },
            ...(advanced
              ? {
                  AdvancedConfiguration: {
                    AlternateTargetGroupArn: { Ref: 'Green' },
                    ProductionListenerRule: { Ref: 'Production' },
                    TestListenerRule: { Ref: 'Test' },
                    RoleArn: 'arn',
                  },
                }
              : {}),
          },
        ],
      },
    });
    const web = (resources: Resources) => stack('prod/App', { Service: service(true), Production: rule(1), Test: rule(1), Other: rule(5), ...resources });

    test('updating the production or test rule blocks, saying CloudFormation would write its weights back', () => {
      const result = guard([web({})], [web({ Production: rule(1, [50, 50]) })]);
      expect(result.exitCode).toBe(1);
      expect(result.findings).toEqual([
        expect.objectContaining({
          severity: 'blocked',
          logicalId: 'Production',
          type: 'AWS::ElasticLoadBalancingV2::ListenerRule',
          reason: expect.stringMatching(/^updated: ECS sets this listener rule's target-group weights on every release, and CloudFormation would write the template weights back/),
        }),
      ]);
    });

    test('replacing or removing one blocks too; --allow accepts it', () => {
      const moved = guard([web({})], [web({ Test: { ...rule(1), Properties: { ...rule(1).Properties, ListenerArn: { Ref: 'OtherListener' } } } })]);
      expect(moved.findings.map((f) => [f.logicalId, f.reason.split(':')[0]])).toEqual([['Test', 'replaced']]);
      const { Production: _gone, ...rest } = web({}).template.Resources!;
      const removed = guard([web({})], [stack('prod/App', { ...rest, Service: service(false) })]);
      expect(removed.findings.map((f) => [f.logicalId, f.reason.split(':')[0]])).toEqual([['Production', 'removed']]);
      expect(guard([web({})], [web({ Production: rule(1, [50, 50]) })], ['prod/App/Production']).exitCode).toBe(0);
    });

    test('a rule no service shifts may change, and a stage that starts shifting has nothing to report', () => {
      expect(guard([web({})], [web({ Other: rule(6) })]).findings).toEqual([]);
      const rolling = stack('prod/App', { Service: service(false), Other: rule(5) });
      expect(guard([rolling], [web({})]).findings).toEqual([]);
    });
  });

  test('a resource new in the head is not a finding', () => {
    expect(guard([data()], [data({ NewDb: db() })]).findings).toEqual([]);
  });

  test("readers: only reads of that stack's outputs in that region count, a new reader is a warning, and each output is named once", () => {
    const readerOf = (stackName: string, output: string, region?: string) => ({
      Type: 'AWS::EC2::SecurityGroupIngress',
      Properties: { SourceSecurityGroupId: { 'Fn::GetStackOutput': { StackName: stackName, OutputName: output, ...(region ? { Region: region } : {}) } } },
    });
    const changed = data({ DbGroup: group('db, new') });
    const consumers = (resources: Resources) => stack('prod/App', resources);
    const readersIn = (head: AssemblyStack[], base: AssemblyStack[] = [data(), ...head.slice(1)]) =>
      guard(base, head)
        .findings.filter((f) => f.reason.includes('reads it'))
        .map((f) => [f.severity, f.reason]);
    // Another stack's output of the same name, another region, another output: not readers.
    expect(
      readersIn([changed, consumers({ A: readerOf('prod-Other', 'DbGroupId'), B: readerOf('prod-Data', 'DbGroupId', 'eu-central-1'), C: readerOf('prod-Data', 'NotIt') })]),
    ).toEqual([]);
    // The same region spelt out is a reader; two reads of one output name it once; the producer itself is not its own reader.
    const twice = readersIn([
      stack('prod/Data', { ...changed.template.Resources!, Self: readerOf('prod-Data', 'DbGroupId') }, changed.template.Outputs as never),
      consumers({ A: readerOf('prod-Data', 'DbGroupId', 'eu-west-1'), B: readerOf('prod-Data', 'DbGroupId') }),
    ]);
    expect(twice).toEqual([['blocked', 'replaced, and prod-App reads it by Fn::GetStackOutput (DbGroupId) with an unchanged reference: it would keep the old value']]);
    // A reader that did not exist in the base resolves on its first deploy: a warning.
    expect(readersIn([changed, consumers({ A: readerOf('prod-Data', 'DbGroupId') })], [data()])).toEqual([
      ['warning', 'replaced; prod-App reads it by Fn::GetStackOutput (DbGroupId) and reads it again on its next deploy (its producer marker changed)'],
    ]);
    // One of two reads changed: not all stale, so CloudFormation re-reads the template's changed ones. A warning.
    const mixedBase = [data(), consumers({ A: readerOf('prod-Data', 'DbGroupId'), B: reader('DbGroupId', 'aaaaaaaaaaaa') })];
    expect(readersIn([changed, consumers({ A: readerOf('prod-Data', 'DbGroupId'), B: reader('DbGroupId', 'bbbbbbbbbbbb') })], mixedBase)).toEqual([
      ['warning', expect.stringContaining('reads it again on its next deploy')],
    ]);
    // Reads inside lists are found.
    expect(readersIn([changed, consumers({ A: { Type: 'X', Properties: { Groups: [readerOf('prod-Data', 'DbGroupId').Properties.SourceSecurityGroupId] } } })])).toHaveLength(1);
  });

  test('text output: one line per finding with its stage (or "-"), then the notes, then the verdict', () => {
    const result = guard([data()], [data({ Db: db({ Port: '5433' }) })], ['Nope']);
    expect(lines(result)).toEqual([
      'BLOCKED stage prod, stack prod-Data, Db (AWS::RDS::DBInstance): replaced because Port changed',
      'NOTE --allow Nope matched nothing: no blocked resource has that logical id or stack path (a typo, or the change moved). Nothing was allowed by it.',
      expect.stringMatching(/^BLOCKED: 1 stateful resource/),
    ]);
    const shared = { ...stack('CiAccess-333333333333', { Db: db() }), stage: '' };
    expect(lines(guard([shared], [{ ...shared, template: { Resources: { Db: db({ Port: '1' }) } } }]))[0]).toBe(
      'BLOCKED stage -, stack CiAccess-333333333333, Db (AWS::RDS::DBInstance): replaced because Port changed',
    );
    const warned = guard([data()], [without('Logs')]);
    expect(formatFindings(warned, 'markdown').split('\n')[2]).toMatch(/^:warning: OK with warnings/);
  });

  test('markdown: a table of findings and the notes', () => {
    const result = guard([data()], [data({ Db: db({ Port: '5433' }) })], ['Nope']);
    const md = formatFindings(result, 'markdown');
    expect(md.split('\n').slice(0, 3)).toEqual(['### Stateful-resource guard', '', expect.stringMatching(/^:no_entry: BLOCKED: 1 stateful/)]);
    expect(md).toContain('| blocked | prod | prod-Data | `Db` | AWS::RDS::DBInstance | replaced because Port changed |');
    expect(md).toContain(':warning: --allow Nope matched nothing');
    expect(formatFindings(guard([data()], [data()]), 'markdown')).toBe(
      '### Stateful-resource guard\n\n:white_check_mark: OK: no stateful resource is replaced, destroyed or orphaned.',
    );
  });
});

describe('the database engine version moves forward only, to a new major only when the change allows it', () => {
  const at = (version: string, allow?: boolean) => data({ Db: db({ EngineVersion: version, ...(allow ? { AllowMajorVersionUpgrade: true } : {}) }) });
  const engine = (from: string, to: string, allow?: boolean) => guard([at(from)], [at(to, allow)]).findings.filter((f) => f.logicalId === 'Db');

  test('a minor upgrade, and a major one that allows it, pass', () => {
    expect(engine('17.5', '17.6')).toEqual([]);
    expect(engine('16.9', '17.6', true)).toEqual([]);
  });

  test('a major upgrade without AllowMajorVersionUpgrade blocks, naming the runbook (CloudFormation would fail the update)', () => {
    expect(engine('16.9', '17.6')).toEqual([
      expect.objectContaining({
        severity: 'blocked',
        reason:
          'PostgreSQL 16.9 to 17.6 is a major version upgrade, which the instance update refuses without database.allowMajorVersionUpgrade (and the stack would roll back). Fix: follow docs/runbooks.md, "Upgrade PostgreSQL to a new major version"',
      }),
    ]);
  });

  test('a lower version blocks, minor or major, allowed or not: RDS never downgrades', () => {
    expect(engine('17.6', '17.5').map((f) => f.reason)).toEqual([expect.stringMatching(/^PostgreSQL 17\.6 cannot go back to 17\.5: RDS upgrades in place, never down\./)]);
    expect(engine('17.6', '16.13', true).map((f) => f.severity)).toEqual(['blocked']);
  });
});
