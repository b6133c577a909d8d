import { RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, test } from 'vitest';
import { ACCOUNT_ACTIVITIES, ACCOUNT_ACTIVITY_NAMESPACE, DEPLOY_ACTIVITIES, MAX_FILTER_PATTERN_LENGTH, TRAIL_ACTIVITIES } from '../../lib/baseline/account-activity';
import { AuditTrail, BREAK_GLASS_ASSUMED_METRIC, LOG_FILE_DELETION, LOG_FILE_OVERWRITE, TRAIL_BUCKET_CHANGES, TRAIL_BUCKET_WRITERS } from '../../lib/baseline/audit-trail';
import { accountDeployRegions, BaselineStack, baselinePlans, UPLOADS_BUCKET_LOGICAL_ID, uploadsBucketArnPrefix } from '../../lib/baseline/baseline-stack';
import { RECORDED_GLOBAL_TYPES, RECORDED_TYPES } from '../../lib/baseline/config-recorder';
import { loadStages, type StageConfig, type StageName } from '../../lib/config';
import { GRANTS_FOR_AWS_RESOURCES_ONLY } from '../../lib/shared/kms-grants';
import { ownTemplates, synthStage, TEST_CONTEXT, testApp } from '../support/synth';
import { type Json, stageTemplates } from '../support/template';

const synthesized = stageTemplates();
const { all } = loadStages({});
const config = (name: StageName): StageConfig => all.find((c) => c.name === name)!;
const baselineOf = (name: StageName, region = config(name).region): Template | undefined => synthesized[name].shared.get(`Baseline-${config(name).account}-${region}`);
const only = (t: Template, type: string): Json => {
  const found = Object.values(t.findResources(type));
  expect(found, type).toHaveLength(1);
  return found[0];
};

/**
 * The statements of a trail bucket's policy, every one: TLS only, the protections, and where the
 * trail writes (`trails`) CloudTrail's own, held to this trail.
 */
function trailBucketPolicy(id: string, cfg: StageConfig, breakGlass: string | string[], trails: boolean): Json[] {
  const deployer = `arn:aws:iam::${cfg.account}:role/cdk-hnb659fds-cfn-exec-role-${cfg.account}-${cfg.region}`;
  const trailArn = `arn:aws:cloudtrail:${cfg.region}:${cfg.account}:trail/webapp-account-trail`;
  const arn = { 'Fn::GetAtt': [id, 'Arn'] };
  const objects = { 'Fn::Join': ['', [arn, '/*']] };
  return [
    { Effect: 'Deny', Principal: { AWS: '*' }, Action: 's3:*', Resource: [arn, objects], Condition: { Bool: { 'aws:SecureTransport': 'false' } } },
    {
      Sid: 'OnlyBreakGlassDeletesLogFiles',
      Effect: 'Deny',
      Principal: { AWS: '*' },
      Action: [...LOG_FILE_DELETION].sort(),
      Resource: objects,
      Condition: { ArnNotEquals: { 'aws:PrincipalArn': breakGlass } },
    },
    {
      Sid: 'OnlyTheTrailWritesLogFiles',
      Effect: 'Deny',
      Principal: { AWS: '*' },
      Action: [...LOG_FILE_OVERWRITE].sort(),
      Resource: objects,
      Condition: { ArnNotEquals: { 'aws:PrincipalArn': breakGlass }, StringNotEquals: { 'aws:PrincipalServiceName': 'cloudtrail.amazonaws.com' } },
    },
    {
      Sid: 'OnlyDeploysAndBreakGlassChangeTheBucket',
      Effect: 'Deny',
      Principal: { AWS: '*' },
      Action: [...TRAIL_BUCKET_CHANGES].sort(),
      Resource: arn,
      Condition: { ArnNotEquals: { 'aws:PrincipalArn': [breakGlass, deployer].flat() } },
    },
    ...(trails
      ? [
          {
            Sid: 'TheTrailReadsTheBucketAcl',
            Effect: 'Allow',
            Principal: { Service: 'cloudtrail.amazonaws.com' },
            Action: 's3:GetBucketAcl',
            Resource: arn,
            Condition: { StringEquals: { 'aws:SourceArn': trailArn } },
          },
          {
            Sid: 'TheTrailWritesLogFiles',
            Effect: 'Allow',
            Principal: { Service: 'cloudtrail.amazonaws.com' },
            Action: 's3:PutObject',
            Resource: { 'Fn::Join': ['', [arn, `/AWSLogs/${cfg.account}/*`]] },
            Condition: { StringEquals: { 's3:x-amz-acl': 'bucket-owner-full-control', 'aws:SourceArn': trailArn } },
          },
        ]
      : []),
  ];
}

/** A request as a bucket policy sees it: a role's session carries its role's ARN; a service principal, its service name and no principal ARN. */
interface S3Request {
  readonly action: string;
  readonly principalArn?: string;
  readonly serviceName?: string;
}

/**
 * Whether a bucket policy's Deny statements refuse a request. A negated operator (ArnNotEquals,
 * StringNotEquals) holds where its key is missing from the request, any other does not (IAM,
 * "Condition operators"); several values of a negated operator must all differ. Only the keys
 * these policies use are understood; any other fails the test.
 */
function deniedBy(statements: readonly Json[], request: S3Request): boolean {
  const context: Record<string, string | undefined> = {
    'aws:PrincipalArn': request.principalArn,
    'aws:PrincipalServiceName': request.serviceName,
    'aws:SecureTransport': 'true',
  };
  const holds = (operator: string, key: string, values: string[]): boolean => {
    if (!(key in context)) throw new Error(`no evaluation for ${key}: add it to deniedBy()`);
    const value = context[key];
    if (operator === 'ArnNotEquals' || operator === 'StringNotEquals') return value === undefined || values.every((v) => v !== value);
    if (operator === 'Bool') return value !== undefined && values.includes(value);
    throw new Error(`no evaluation for ${operator}: add it to deniedBy()`);
  };
  const applies = (st: Json) =>
    [st.Action].flat().some((a: string) => new RegExp(`^${a.replaceAll('*', '.*')}$`).test(request.action)) &&
    Object.entries((st.Condition ?? {}) as Record<string, Record<string, string | string[]>>).every(([operator, tests]) =>
      Object.entries(tests).every(([key, values]) => holds(operator, key, [values].flat())),
    );
  return statements.some((st) => st.Effect === 'Deny' && JSON.stringify(st.Principal) === '{"AWS":"*"}' && applies(st));
}

/**
 * A CloudWatch Logs JSON filter pattern (the subset the CIS checks use: `{ }`, `&&`, `||`,
 * parentheses, `=` and `!=` on quoted strings with `*` wildcards, `EXISTS` and `NOT EXISTS`)
 * applied to one event. A comparison on a field the event lacks does not match, `!=` included.
 */
function filterMatches(pattern: string, event: Json): boolean {
  const tokens = pattern.match(/\(|\)|\{|\}|&&|\|\||!=|=|NOT EXISTS|EXISTS|"[^"]*"|\$\.[A-Za-z0-9_.]+/g) ?? [];
  expect(tokens.join('').replace(/\s/g, ''), 'every token understood').toBe(pattern.replace(/\s/g, ''));
  let at = 0;
  const take = (expected?: string) => {
    const token = tokens[at++];
    if (expected !== undefined && token !== expected) throw new Error(`expected ${expected} at token ${at}, found ${token}`);
    return token;
  };
  const field = (path: string) =>
    path
      .slice(2)
      .split('.')
      .reduce<Json>((value, key) => (value === undefined || value === null ? undefined : value[key]), event);
  const glob = (value: string, quoted: string) =>
    new RegExp(
      `^${quoted
        .slice(1, -1)
        .replace(/[.+?^$()[\]{}|\\]/g, '\\$&')
        .replaceAll('*', '.*')}$`,
    ).test(value);
  const atom = (): boolean => {
    if (tokens[at] === '(') {
      take('(');
      const value = or();
      take(')');
      return value;
    }
    const value = field(take());
    const op = take();
    if (op === 'EXISTS') return value !== undefined;
    if (op === 'NOT EXISTS') return value === undefined;
    const operand = take();
    if (typeof value !== 'string') return false;
    return op === '=' ? glob(value, operand) : !glob(value, operand);
  };
  const and = (): boolean => {
    let value = atom();
    while (tokens[at] === '&&') {
      take('&&');
      value = atom() && value;
    }
    return value;
  };
  const or = (): boolean => {
    let value = and();
    while (tokens[at] === '||') {
      take('||');
      value = and() || value;
    }
    return value;
  };
  take('{');
  const matched = or();
  take('}');
  expect(at, 'the whole pattern read').toBe(tokens.length);
  return matched;
}

test('one baseline stack per account and region the stages use, the DR region included', () => {
  expect(baselinePlans(all).map((p) => `${p.account}/${p.region}${p.region === p.homeRegion ? ' (home)' : ''}`)).toEqual([
    '111111111111/eu-west-1 (home)',
    '222222222222/eu-west-1 (home)',
    '222222222222/eu-central-1',
    '333333333333/eu-west-1 (home)',
    '333333333333/eu-central-1',
  ]);
});

test('two stages in one account get one baseline stack per region, not two', () => {
  const shared = all.map((c) => (c.name === 'staging' ? { ...c, account: config('prod').account } : c));
  const plans = baselinePlans(shared).filter((p) => p.account === config('prod').account);
  expect(plans.map((p) => p.region)).toEqual(['eu-west-1', 'eu-central-1']);
  expect(plans[0].stages).toEqual(['staging', 'prod']);
});

test("the uploads bucket's ARN prefix follows the data stack's real bucket (its logical id is pinned)", () => {
  const buckets = Object.keys(synthesized.prod.data.findResources('AWS::S3::Bucket'));
  expect(buckets).toContain(UPLOADS_BUCKET_LOGICAL_ID);
  expect(uploadsBucketArnPrefix('prod')).toBe('arn:aws:s3:::prod-data-uploadsbucketc4b27cc7-');
});

describe.each(['staging', 'prod'] as const)('%s account baseline (home region)', (name) => {
  const cfg = config(name);
  const t = () => baselineOf(name)!;

  test('a multi-region trail with log file validation, its own key, its bucket and a CloudWatch Logs copy', () => {
    const trail = only(t(), 'AWS::CloudTrail::Trail').Properties;
    expect(trail).toMatchObject({ TrailName: 'webapp-account-trail', IsMultiRegionTrail: true, IncludeGlobalServiceEvents: true, EnableLogFileValidation: true, IsLogging: true });
    expect(trail.KMSKeyId['Fn::GetAtt'][0]).toMatch(/^TrailKey/);
    // One trail bucket: prod's is created with Object Lock (its account has no trail bucket yet).
    expect(trail.S3BucketName.Ref).toMatch(/^TrailBucket/);
    expect(cfg.baseline.trail.objectLock).toBe(name === 'prod' ? 'governance' : 'off');
    expect(trail.CloudWatchLogsLogGroupArn['Fn::GetAtt'][0]).toMatch(/^TrailLogs/);
    const key = t().toJSON().Resources[trail.KMSKeyId['Fn::GetAtt'][0]].Properties;
    expect(key.EnableKeyRotation).toBe(true);
    const encrypt = key.KeyPolicy.Statement.find((s: Json) => s.Sid === 'TheTrailEncryptsLogFiles');
    expect(encrypt.Condition).toEqual({
      StringLike: { 'kms:EncryptionContext:aws:cloudtrail:arn': `arn:aws:cloudtrail:*:${cfg.account}:trail/*` },
      StringEquals: { 'aws:SourceArn': `arn:aws:cloudtrail:${cfg.region}:${cfg.account}:trail/webapp-account-trail` },
    });
  });

  test('object-level events of the uploads bucket are recorded in prod only, by its ARN prefix', () => {
    const trail = only(t(), 'AWS::CloudTrail::Trail').Properties;
    if (cfg.baseline.trail.uploadsDataEvents) {
      expect(trail.EventSelectors).toBeUndefined();
      expect(trail.AdvancedEventSelectors).toEqual([
        { Name: 'Management events', FieldSelectors: [{ Field: 'eventCategory', Equals: ['Management'] }] },
        {
          Name: 'Object events of the uploads buckets',
          FieldSelectors: [
            { Field: 'eventCategory', Equals: ['Data'] },
            { Field: 'resources.type', Equals: ['AWS::S3::Object'] },
            { Field: 'resources.ARN', StartsWith: [uploadsBucketArnPrefix(name)] },
          ],
        },
      ]);
    } else {
      expect(trail.AdvancedEventSelectors).toBeUndefined();
    }
    expect(name === 'prod').toBe(cfg.baseline.trail.uploadsDataEvents);
  });

  /** The buckets of log files: [logical id, resource], the one the trail writes to last. */
  const logBuckets = () => {
    const trailBucket = only(t(), 'AWS::CloudTrail::Trail').Properties.S3BucketName.Ref as string;
    const ids = Object.keys(t().findResources('AWS::S3::Bucket')).filter((id) => /^Trail(Locked)?Bucket/.test(id));
    return ids.sort((a, b) => Number(a === trailBucket) - Number(b === trailBucket)).map((id) => [id, t().toJSON().Resources[id]] as const);
  };
  const policyOf = (bucketId: string): Json[] =>
    Object.values(t().findResources('AWS::S3::BucketPolicy')).find((bp) => bp.Properties.Bucket.Ref === bucketId)!.Properties.PolicyDocument.Statement;

  test('the trail bucket is versioned, private, logged, TLS-only, archived and expired on schedule; in prod, locked from its creation', () => {
    const buckets = logBuckets();
    expect(buckets.map(([id]) => id)).toEqual(['TrailBucket6C1E344E']);
    const [[id, bucket]] = buckets;
    const p = bucket.Properties;
    expect(p.VersioningConfiguration, id).toEqual({ Status: 'Enabled' });
    // Log files: KMS, by the trail (its KMSKeyId); the bucket default SSE-S3 covers the digest files.
    expect(p.BucketEncryption.ServerSideEncryptionConfiguration[0].ServerSideEncryptionByDefault.SSEAlgorithm).toBe('AES256');
    expect(p.PublicAccessBlockConfiguration).toEqual({ BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true });
    expect(p.LoggingConfiguration.DestinationBucketName.Ref).toMatch(/^TrailAccessLogs/);
    expect(p.LifecycleConfiguration.Rules).toEqual([
      expect.objectContaining({
        Status: 'Enabled',
        ExpirationInDays: cfg.baseline.trail.retentionDays,
        Transitions: [{ StorageClass: 'GLACIER_IR', TransitionInDays: cfg.baseline.trail.archiveAfterDays }],
      }),
    ]);
    expect(bucket.DeletionPolicy).toBe('Retain');
    expect(policyOf(id)).toContainEqual(expect.objectContaining({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }));
    // A greenfield prod: its one trail bucket is created locked, no second bucket beside it.
    if (name === 'prod') {
      expect(p.ObjectLockEnabled).toBe(true);
      expect(p.ObjectLockConfiguration).toEqual({ ObjectLockEnabled: 'Enabled', Rule: { DefaultRetention: { Mode: 'GOVERNANCE', Days: cfg.baseline.trail.retentionDays } } });
    } else {
      expect(p.ObjectLockEnabled).toBeUndefined();
    }
  });

  test('only the break-glass role deletes or overwrites log files; only it and the deploy role change a trail bucket; CloudTrail writes as this trail only', () => {
    const breakGlass = `arn:aws:iam::${cfg.account}:role/${cfg.backup.breakGlassRoleName}`;
    const buckets = logBuckets();
    for (const [index, [id]] of buckets.entries()) {
      // Every statement of the policy: a wider one (or CDK's own, without the condition) fails here.
      expect(policyOf(id), id).toEqual(trailBucketPolicy(id, cfg, breakGlass, index === buckets.length - 1));
    }
  });

  test('a log file is written only by CloudTrail (and the break-glass role): an overwrite, which the noncurrent expiry would make final, is refused to every other principal', () => {
    const [[id]] = logBuckets();
    const statements = policyOf(id);
    const role = (name: string) => ({ principalArn: `arn:aws:iam::${cfg.account}:role/${name}` });
    const deployRole = role(`cdk-hnb659fds-cfn-exec-role-${cfg.account}-${cfg.region}`);
    // CloudTrail delivers as its service principal: a service name, no principal ARN.
    expect(deniedBy(statements, { action: 's3:PutObject', serviceName: 'cloudtrail.amazonaws.com' })).toBe(false);
    expect(deniedBy(statements, { action: 's3:PutObject', ...role(cfg.backup.breakGlassRoleName) })).toBe(false);
    for (const [who, request] of Object.entries({
      'an administrator': role('Admin'),
      'the deploy role': deployRole,
      "the stage's CI deploy role": role(`webapp-${name}-deploy`),
      'the root user': { principalArn: `arn:aws:iam::${cfg.account}:root` },
      'another service (AWS Config delivery)': { serviceName: 'config.amazonaws.com' },
      'S3 server access logging': { serviceName: 'logging.s3.amazonaws.com' },
      'an anonymous request': {},
    })) {
      for (const action of LOG_FILE_OVERWRITE) expect(deniedBy(statements, { action, ...request }), `${action} by ${who}`).toBe(true);
    }
    // The server access logs of the tampering cannot be turned off first, except by a deploy.
    expect(deniedBy(statements, { action: 's3:PutBucketLogging', ...role('Admin') })).toBe(true);
    expect(deniedBy(statements, { action: 's3:PutBucketLogging', ...deployRole })).toBe(false);
  });

  test('CloudTrail is the only service writing into a trail bucket, and the only one the overwrite protection excepts', () => {
    expect([...TRAIL_BUCKET_WRITERS]).toEqual(['cloudtrail.amazonaws.com']);
    const trailBuckets = new Set(logBuckets().map(([id]) => id));
    for (const [id] of logBuckets()) {
      const writers = policyOf(id)
        .filter((st) => st.Effect === 'Allow' && [st.Action].flat().some((a: string) => a === 's3:PutObject' || a === 's3:*'))
        .map((st) => st.Principal.Service);
      expect(
        writers.every((w: string) => (TRAIL_BUCKET_WRITERS as readonly string[]).includes(w)),
        id,
      ).toBe(true);
    }
    // AWS Config delivers to its own bucket; server access logs go to the access-log bucket.
    const ref = (v: Json) => v?.Ref as string | undefined;
    for (const channel of Object.values(t().findResources('AWS::Config::DeliveryChannel'))) expect(trailBuckets.has(ref(channel.Properties.S3BucketName)!)).toBe(false);
    for (const bucket of Object.values(t().findResources('AWS::S3::Bucket'))) {
      const target = ref(bucket.Properties.LoggingConfiguration?.DestinationBucketName);
      if (target) expect(trailBuckets.has(target)).toBe(false);
    }
  });

  test('a metric filter per CIS check, each under the pattern size limit; what deploys change counted apart, not dropped', () => {
    const filters = Object.values(t().findResources('AWS::Logs::MetricFilter'))
      .map((f) => f.Properties)
      .filter((f) => f.MetricTransformations[0].MetricName !== BREAK_GLASS_ASSUMED_METRIC);
    expect(filters.map((f) => f.MetricTransformations[0].MetricName).sort()).toEqual(TRAIL_ACTIVITIES.map((a) => a.metric).sort());
    // The cfn-exec role of every region the account's stacks deploy to, by its exact name.
    expect(accountDeployRegions(all.filter((c) => c.account === cfg.account))).toEqual(['eu-central-1', 'eu-west-1', 'us-east-1']);
    const deployRoles = ['eu-central-1', 'eu-west-1', 'us-east-1'].map((region) => `cdk-hnb659fds-cfn-exec-role-${cfg.account}-${region}`);
    const issuer = '$.userIdentity.sessionContext.sessionIssuer.userName';
    for (const f of filters) {
      const activity = TRAIL_ACTIVITIES.find((a) => a.metric === f.MetricTransformations[0].MetricName)!;
      expect(f.MetricTransformations).toEqual([{ MetricNamespace: ACCOUNT_ACTIVITY_NAMESPACE, MetricName: activity.metric, MetricValue: '1' }]);
      expect(f.FilterPattern.length, activity.metric).toBeLessThanOrEqual(MAX_FILTER_PATTERN_LENGTH);
      expect(f.LogGroupName.Ref).toMatch(/^TrailLogs/);
      expect(
        deployRoles.every((r) => f.FilterPattern.includes(`"${r}"`)),
        activity.metric,
      ).toBe(activity.deploys !== 'all');
      // No wildcard: a role named like the deploy roles is not one of them.
      expect(f.FilterPattern, activity.metric).not.toContain('*');
    }
    expect(ACCOUNT_ACTIVITIES.filter((a) => a.deploys === 'excluded').map((a) => a.metric)).toEqual(['IamPolicyChanges', 'SecurityGroupChanges', 'NetworkAclChanges']);
    // Each check that leaves the deploy role's changes out has a twin counting exactly those: the
    // same events, with the issuer test turned around, so the two add up to every event.
    expect(DEPLOY_ACTIVITIES.map((a) => a.metric)).toEqual(['IamPolicyChangesByDeploys', 'SecurityGroupChangesByDeploys', 'NetworkAclChangesByDeploys']);
    const pattern = (metric: string) => filters.find((f) => f.MetricTransformations[0].MetricName === metric)!.FilterPattern as string;
    for (const check of ACCOUNT_ACTIVITIES.filter((a) => a.deploys === 'excluded')) {
      expect(pattern(check.metric)).toBe(`{ ${check.pattern} && (($.userIdentity.type != "AssumedRole") || (${deployRoles.map((r) => `(${issuer} != "${r}")`).join(' && ')})) }`);
      expect(pattern(`${check.metric}ByDeploys`)).toBe(
        `{ ${check.pattern} && ($.userIdentity.type = "AssumedRole") && (${deployRoles.map((r) => `(${issuer} = "${r}")`).join(' || ')}) }`,
      );
    }
    expect(pattern('RootAccountUsage')).toBe('{ $.userIdentity.type = "Root" && $.userIdentity.invokedBy NOT EXISTS && $.eventType != "AwsServiceEvent" }');
  });

  test("each change counts once: the deploy roles' on the ticket, anyone else's (a role named like them too) on the check's own alarm", () => {
    const filters = Object.values(t().findResources('AWS::Logs::MetricFilter')).map((f) => f.Properties);
    const pattern = (metric: string) => filters.find((f) => f.MetricTransformations[0].MetricName === metric)!.FilterPattern as string;
    const session = (userName: string) => ({ type: 'AssumedRole', sessionContext: { sessionIssuer: { type: 'Role', userName } } });
    const deployers = ['eu-central-1', 'eu-west-1', 'us-east-1'].map((region) => session(`cdk-hnb659fds-cfn-exec-role-${cfg.account}-${region}`));
    const others = [
      session(`cdk-hnb659fds-cfn-exec-role-${cfg.account}-x`),
      session(`cdk-hnb659fds-cfn-exec-role-${cfg.account}-eu-west-1-copy`),
      session('Admin'),
      { type: 'IAMUser', userName: 'alice' },
      { type: 'Root' },
    ];
    for (const [check, eventName] of [
      ['IamPolicyChanges', 'PutRolePolicy'],
      ['SecurityGroupChanges', 'AuthorizeSecurityGroupIngress'],
      ['NetworkAclChanges', 'CreateNetworkAclEntry'],
    ]) {
      const counts = (userIdentity: Json) => [filterMatches(pattern(check), { eventName, userIdentity }), filterMatches(pattern(`${check}ByDeploys`), { eventName, userIdentity })];
      for (const identity of deployers) expect(counts(identity), `${check} by ${identity.sessionContext.sessionIssuer.userName}`).toEqual([false, true]);
      for (const identity of others) expect(counts(identity), `${check} by ${JSON.stringify(identity)}`).toEqual([true, false]);
      expect(filterMatches(pattern(check), { eventName: 'GetRole', userIdentity: others[2] })).toBe(false);
    }
  });

  test('an account whose stacks span more regions than a filter pattern can name is refused at synth, with the limit and the fix', () => {
    const stack = new Stack(testApp({ context: TEST_CONTEXT }), 'TooManyRegions', { env: { account: cfg.account, region: cfg.region } });
    const regions = ['ap-southeast-1', 'ap-southeast-2', 'eu-central-1', 'eu-west-1', 'us-east-1'];
    expect(
      () =>
        new AuditTrail(stack, 'Trail', {
          retentionDays: 365,
          archiveAfterDays: 90,
          objectLock: 'off',
          dataEventBucketPrefixes: [],
          deployRoles: regions.map((r) => `cdk-hnb659fds-cfn-exec-role-${cfg.account}-${r}`),
          breakGlassRoleNames: ['webapp-break-glass'],
          removalPolicy: RemovalPolicy.RETAIN,
        }),
    ).toThrow(/^The IamPolicyChanges metric filter of \d{12} is \d+ characters with the deploy roles of 5 regions, over CloudWatch Logs' limit of 1024\. Fix: /);
  });

  test('GuardDuty with the protections this stack needs, Fargate runtime monitoring by GuardDuty-managed agents', () => {
    const features = only(t(), 'AWS::GuardDuty::Detector').Properties.Features as Json[];
    const status = Object.fromEntries(features.map((f) => [f.Name, f.Status]));
    expect(status).toEqual({
      S3_DATA_EVENTS: 'ENABLED',
      RDS_LOGIN_EVENTS: 'ENABLED',
      LAMBDA_NETWORK_LOGS: 'ENABLED',
      EBS_MALWARE_PROTECTION: 'ENABLED',
      EKS_AUDIT_LOGS: 'DISABLED',
      RUNTIME_MONITORING: 'ENABLED',
    });
    expect(features.find((f) => f.Name === 'RUNTIME_MONITORING')!.AdditionalConfiguration).toContainEqual({ Name: 'ECS_FARGATE_AGENT_MANAGEMENT', Status: 'ENABLED' });
  });

  test('Security Hub with Foundational Security Best Practices only, on a recorder of the types it evaluates', () => {
    expect(only(t(), 'AWS::SecurityHub::Hub').Properties).toEqual({ EnableDefaultStandards: false, ControlFindingGenerator: 'SECURITY_CONTROL', AutoEnableControls: true });
    expect(only(t(), 'AWS::SecurityHub::Standard').Properties.StandardsArn).toBe(`arn:aws:securityhub:${cfg.region}::standards/aws-foundational-security-best-practices/v/1.0.0`);
    const recorder = only(t(), 'AWS::Config::ConfigurationRecorder').Properties;
    expect(recorder.RecordingGroup).toEqual({
      AllSupported: false,
      IncludeGlobalResourceTypes: false,
      RecordingStrategy: { UseOnly: 'INCLUSION_BY_RESOURCE_TYPES' },
      ResourceTypes: [...RECORDED_TYPES, ...RECORDED_GLOBAL_TYPES],
    });
    const channel = only(t(), 'AWS::Config::DeliveryChannel');
    const recorderId = Object.keys(t().findResources('AWS::Config::ConfigurationRecorder'))[0];
    expect(channel.DependsOn).toContain(recorderId);
    expect(only(t(), 'AWS::AccessAnalyzer::Analyzer').Properties).toEqual({ Type: 'ACCOUNT', AnalyzerName: 'webapp-account' });
  });

  test('its ops stack alarms on every check and routes findings as one line: medium GuardDuty findings as tickets, high ones as pages', () => {
    const alarms = Object.values(synthesized[name].ops.findResources('AWS::CloudWatch::Alarm')).map((a) => a.Properties);
    for (const activity of TRAIL_ACTIVITIES) {
      const alarm = alarms.find((a) => a.AlarmName === `${name}-${activity.alarm}`);
      expect(alarm, activity.alarm).toMatchObject({
        Namespace: ACCOUNT_ACTIVITY_NAMESPACE,
        MetricName: activity.metric,
        Statistic: 'Sum',
        Period: 300,
        Threshold: 0,
        ComparisonOperator: 'GreaterThanThreshold',
        TreatMissingData: 'notBreaching',
      });
      expect(alarm!.AlarmDescription).toContain(`Runbook: docs/alarms.md#${activity.alarm}`);
    }
    const finding = (runbook: string) =>
      Match.objectLike({ InputTransformer: Match.objectLike({ InputTemplate: Match.stringLikeRegexp(`GuardDuty finding .*Runbook: docs/alarms.md#${runbook}"$`) }) });
    // One target per topic of the route (test/ops/alarm-routes.test.ts checks which).
    synthesized[name].ops.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: { source: ['aws.guardduty'], 'detail-type': ['GuardDuty Finding'], detail: { severity: [{ numeric: ['>=', 4, '<', 7] }] } },
      Targets: [finding('guardduty-finding')],
    });
    synthesized[name].ops.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: { source: ['aws.guardduty'], 'detail-type': ['GuardDuty Finding'], detail: { severity: [{ numeric: ['>=', 7] }] } },
      Targets: [finding('guardduty-high-finding'), finding('guardduty-high-finding')],
    });
    synthesized[name].ops.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['aws.securityhub'],
        detail: { findings: { Severity: { Label: ['HIGH', 'CRITICAL'] }, Workflow: { Status: ['NEW'] }, RecordState: ['ACTIVE'], ProductName: [{ 'anything-but': 'GuardDuty' }] } },
      },
    });
  });

  test('the DR region has the regional pieces and forwards its findings to the home region, and no trail', () => {
    const dr = baselineOf(name, cfg.drRegion)!;
    expect(Object.keys(dr.findResources('AWS::CloudTrail::Trail'))).toEqual([]);
    expect(Object.keys(dr.findResources('AWS::Logs::MetricFilter'))).toEqual([]);
    only(dr, 'AWS::GuardDuty::Detector');
    only(dr, 'AWS::SecurityHub::Hub');
    const recorder = only(dr, 'AWS::Config::ConfigurationRecorder').Properties;
    expect(recorder.RecordingGroup.ResourceTypes).toEqual([...RECORDED_TYPES]);
    const rules = Object.values(dr.findResources('AWS::Events::Rule')).map((r) => r.Properties);
    expect(rules.map((r) => r.EventPattern.source)).toEqual([['aws.guardduty'], ['aws.securityhub']]);
    const homeBus = `arn:aws:events:${cfg.region}:${cfg.account}:event-bus/default`;
    for (const r of rules) expect(r.Targets[0].Arn).toBe(homeBus);
    // Same account, another region: the rule's role may put events on the home bus, nothing else
    // (no bus policy is needed within one account).
    for (const r of rules) {
      const roleId = r.Targets[0].RoleArn['Fn::GetAtt'][0];
      const policies = Object.values(dr.findResources('AWS::IAM::Policy')).filter((p) => p.Properties.Roles.some((role: Json) => role.Ref === roleId));
      expect(policies.flatMap((p) => p.Properties.PolicyDocument.Statement)).toEqual([{ Action: 'events:PutEvents', Effect: 'Allow', Resource: homeBus }]);
      const role = dr.toJSON().Resources[roleId].Properties;
      expect(role.AssumeRolePolicyDocument.Statement).toEqual([expect.objectContaining({ Principal: { Service: 'events.amazonaws.com' }, Action: 'sts:AssumeRole' })]);
    }
  });

  test('the tasks may pull GuardDuty agent images of their region only', () => {
    const statements = Object.values(synthesized[name].app.findResources('AWS::IAM::Policy')).flatMap((p) => p.Properties.PolicyDocument.Statement as Json[]);
    const pulls = statements.filter((s) => s.Sid === 'PullTheGuardDutyAgent');
    expect(pulls.length).toBe(3);
    for (const s of pulls) expect(s.Resource).toBe(`arn:aws:ecr:${cfg.region}:*:repository/aws-guardduty-agent-fargate`);
  });
});

test("logical ids of the baseline's stateful resources are frozen", () => {
  // Renaming one of these construct ids would replace the trail bucket (and its log files), a key
  // that decrypts them, the recorder's history, or the evidence of an incident.
  const ids = (t: Template, type: string) => Object.keys(t.findResources(type)).sort();
  const home = baselineOf('prod')!;
  expect(ids(home, 'AWS::S3::Bucket')).toEqual([
    'ConfigRecorderBucket7BB5F67E',
    'EvidenceAccessLogs6F1E67A5',
    'EvidenceBucketC67FF768',
    'TrailAccessLogsFEE33FE3',
    'TrailBucket6C1E344E',
  ]);
  expect(ids(home, 'AWS::KMS::Key')).toEqual(['EvidenceKeyB10220A2', 'RecorderKeyBFFAC79B', 'TrailKey31F874A3', 'TrailLogsKey36CD54B2']);
  expect(ids(home, 'AWS::Logs::LogGroup')).toEqual(['TrailLogs73276642']);
});

test.each(['dev', 'staging', 'prod'] as const)('every KMS key of %s and its account denies grants not made for an AWS resource (CT.KMS.PR.3)', (name) => {
  const t = synthesized[name];
  const templates = [...ownTemplates(t), ...t.shared.values()];
  const keys = templates.flatMap((template) => Object.values(template.findResources('AWS::KMS::Key')));
  expect(keys.length).toBeGreaterThan(8);
  for (const key of keys) {
    expect(key.Properties.KeyPolicy.Statement).toContainEqual({
      Sid: GRANTS_FOR_AWS_RESOURCES_ONLY,
      Effect: 'Deny',
      Principal: { AWS: '*' },
      Action: 'kms:CreateGrant',
      Resource: '*',
      Condition: { BoolIfExists: { 'kms:GrantIsForAWSResource': 'false', 'aws:PrincipalIsAWSService': 'false' } },
    });
  }
});

describe('dev account baseline, as shipped', () => {
  test('trail and access analyzer only: no detector, hub or recorder, and their alarms and rules absent', () => {
    const t = baselineOf('dev')!;
    only(t, 'AWS::CloudTrail::Trail');
    only(t, 'AWS::AccessAnalyzer::Analyzer');
    for (const type of ['AWS::GuardDuty::Detector', 'AWS::SecurityHub::Hub', 'AWS::Config::ConfigurationRecorder']) expect(Object.keys(t.findResources(type)), type).toEqual([]);
    // Rules on a pattern (the schedules, such as the dump ages', have none).
    const sources = Object.values(synthesized.dev.ops.findResources('AWS::Events::Rule'))
      .filter((r) => r.Properties.EventPattern)
      .map((r) => r.Properties.EventPattern.source[0]);
    expect(sources).not.toContain('aws.guardduty');
    expect(sources).not.toContain('aws.securityhub');
    const statements = JSON.stringify(synthesized.dev.app.findResources('AWS::IAM::Policy'));
    expect(statements).not.toContain('aws-guardduty-agent-fargate');
  });
});

describe('an account with the baseline turned off', () => {
  const off = JSON.stringify({
    trail: { enabled: false },
    guardDuty: { enabled: false, runtimeMonitoring: false },
    securityHub: false,
    configRecorder: 'off',
    accessAnalyzer: false,
  });
  const { stage, ops, app, shared } = synthStage('dev', { 'dev.baseline': off });

  test('has no baseline stack, no account alarms, no finding rules, no agent grant', () => {
    expect([...shared.keys()].filter((k) => k.startsWith('Baseline-'))).toEqual([]);
    const alarmNames = Object.values(ops.findResources('AWS::CloudWatch::Alarm')).map((a) => a.Properties.AlarmName as string);
    expect(alarmNames.filter((n) => n.includes('-account-'))).toEqual([]);
    expect(JSON.stringify(ops.toJSON())).not.toContain(ACCOUNT_ACTIVITY_NAMESPACE);
    expect(JSON.stringify(app.toJSON())).not.toContain('aws-guardduty-agent-fargate');
    expect(stage.config.baseline.trail.enabled).toBe(false);
  });
});

describe('an account whose landing zone records AWS Config (configRecorder: "organization")', () => {
  test('keeps its Security Hub and creates no recorder of its own, which would be a second one in the region', () => {
    const prod = config('prod');
    const settings = { ...prod.baseline, configRecorder: 'organization' as const };
    const [plan] = baselinePlans([{ ...prod, baseline: settings }]);
    const app = testApp({ context: TEST_CONTEXT });
    const stack = new BaselineStack(app, 'Baseline', { env: { account: plan.account, region: plan.region }, plan });
    const t = Template.fromStack(stack);
    only(t, 'AWS::SecurityHub::Hub');
    only(t, 'AWS::GuardDuty::Detector');
    expect(Object.keys(t.findResources('AWS::Config::ConfigurationRecorder'))).toEqual([]);
    expect(Object.keys(t.findResources('AWS::Config::DeliveryChannel'))).toEqual([]);
  });
});

describe('an account whose trail already ran unlocked moves it to a bucket created locked (objectLock: "locked-bucket"), shared by two stages', () => {
  // prod's account, with a second stage whose break-glass role has another name.
  const prod = config('prod');
  const settings = { ...prod.baseline, trail: { ...prod.baseline.trail, objectLock: 'locked-bucket' as const } };
  const stageConfigs = [
    { ...config('staging'), account: prod.account, baseline: settings, backup: { ...config('staging').backup, breakGlassRoleName: 'staging-break-glass' } },
    { ...prod, baseline: settings },
  ];
  const breakGlass = [`arn:aws:iam::${prod.account}:role/staging-break-glass`, `arn:aws:iam::${prod.account}:role/${prod.backup.breakGlassRoleName}`];
  let t: Template;
  beforeAll(() => {
    const [plan] = baselinePlans(stageConfigs);
    const app = testApp({ context: TEST_CONTEXT });
    t = Template.fromStack(new BaselineStack(app, 'Baseline', { env: { account: plan.account, region: plan.region }, plan }));
  });
  const policyOf = (bucketId: string): Json[] =>
    Object.values(t.findResources('AWS::S3::BucketPolicy')).find((bp) => bp.Properties.Bucket.Ref === bucketId)!.Properties.PolicyDocument.Statement;

  test('the trail writes to a second bucket, created locked; the first keeps its logical id, unlocked, with the files written before', () => {
    // Frozen: renaming either construct would replace a bucket and its log files.
    const buckets = Object.keys(t.findResources('AWS::S3::Bucket')).filter((id) => id.startsWith('Trail'));
    expect(buckets.sort()).toEqual(['TrailAccessLogsFEE33FE3', 'TrailBucket6C1E344E', 'TrailLockedBucketB3C59BC1']);
    expect(only(t, 'AWS::CloudTrail::Trail').Properties.S3BucketName).toEqual({ Ref: 'TrailLockedBucketB3C59BC1' });
    const resources = t.toJSON().Resources;
    expect(resources.TrailBucket6C1E344E.Properties.ObjectLockEnabled).toBeUndefined();
    expect(resources.TrailBucket6C1E344E.DeletionPolicy).toBe('Retain');
    const locked = resources.TrailLockedBucketB3C59BC1.Properties;
    expect(locked.ObjectLockEnabled).toBe(true);
    expect(locked.ObjectLockConfiguration).toEqual({ ObjectLockEnabled: 'Enabled', Rule: { DefaultRetention: { Mode: 'GOVERNANCE', Days: prod.baseline.trail.retentionDays } } });
    expect(locked.LoggingConfiguration.LogFilePrefix).toBe('trail-locked/');
    // The first bucket's policy drops CloudTrail's statements only after the trail has moved.
    const firstPolicyId = Object.entries(t.findResources('AWS::S3::BucketPolicy')).find(([, bp]) => bp.Properties.Bucket.Ref === 'TrailBucket6C1E344E')![0];
    expect(resources[firstPolicyId].DependsOn).toContain(Object.keys(t.findResources('AWS::CloudTrail::Trail'))[0]);
  });

  test("both buckets keep every protection, each stage's break-glass role excepted; only the locked one admits the trail", () => {
    expect(policyOf('TrailBucket6C1E344E')).toEqual(trailBucketPolicy('TrailBucket6C1E344E', prod, breakGlass, false));
    expect(policyOf('TrailLockedBucketB3C59BC1')).toEqual(trailBucketPolicy('TrailLockedBucketB3C59BC1', prod, breakGlass, true));
    // The first bucket's old files, outside any lock: nobody but the break-glass roles overwrites them.
    expect(deniedBy(policyOf('TrailBucket6C1E344E'), { action: 's3:PutObject', principalArn: `arn:aws:iam::${prod.account}:role/Admin` })).toBe(true);
    expect(deniedBy(policyOf('TrailBucket6C1E344E'), { action: 's3:PutObject', principalArn: breakGlass[0] })).toBe(false);
  });
});
