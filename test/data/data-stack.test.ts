import { Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import { describe, expect, test } from 'vitest';
import { setupFingerprint } from '../../lambda/database-setup/fingerprint';
import { parseStageConfig, STAGE_NAMES, STAGES, type StageConfig, type StageName } from '../../lib/config';
import { Database } from '../../lib/data/database';
import { GRANTS_FOR_AWS_RESOURCES_ONLY } from '../../lib/shared/kms-grants';
import { creationSuffixed, stackOutput, stackOutputLike, synthStage, TEST_CONTEXT, testApp } from '../support/synth';
import { only, stageTemplates } from '../support/template';

const synthesized = stageTemplates();
const data = (name: StageName): Template => synthesized[name].data;

/** Fn::GetAtt of a resource whose logical id starts with `prefix`: for CDK assertions (Match) and for vitest's expect. */
const getAtt = (prefix: string, attribute: string) => ({ 'Fn::GetAtt': [Match.stringLikeRegexp(`^${prefix}`), attribute] });
const att = (prefix: string, attribute: string) => ({ 'Fn::GetAtt': [expect.stringMatching(new RegExp(`^${prefix}`)), attribute] });

describe.each(STAGE_NAMES)('%s data stack', (name) => {
  const config: StageConfig = parseStageConfig(STAGES[name]);
  const kept = config.retainOnDelete ? 'Retain' : 'Delete';

  test('is named <stage>-Data and protected outside dev', () => {
    const stack = synthesized[name].stage.data;
    expect(stack.stackName).toBe(`${name}-Data`);
    expect(stack.terminationProtection).toBe(config.retainOnDelete);
  });

  describe('keys', () => {
    // The database and backup keys are kept in every stage: the final snapshot and the vault's
    // recovery points stay encrypted with them after the stack is gone.
    test.each([
      ['DatabaseKey', ['rds', 'secretsmanager'], 'Retain'],
      ['CacheKey', ['elasticache', 'secretsmanager'], kept],
      ['UploadsKey', ['s3'], kept],
      ['BackupKey', ['backup'], 'Retain'],
    ])('%s rotates and is usable only through %j', (prefix, services, deletion) => {
      const keys = data(name).findResources('AWS::KMS::Key');
      const [, key] = Object.entries(keys).find(([id]) => id.startsWith(prefix as string))!;
      expect(key.Properties.EnableKeyRotation).toBe(true);
      expect(key.DeletionPolicy).toBe(deletion);
      const all = key.Properties.KeyPolicy.Statement as { Sid?: string; Effect: string; Action: string | string[]; Condition?: Record<string, Record<string, unknown>> }[];
      const statements = all.filter((s) => s.Effect === 'Allow');
      // The keys backups depend on: nobody but the break-glass role can schedule their deletion or
      // disable them, nobody but it and the deploy role change their policy (test/data/backup-protection.test.ts).
      const protectedKey = prefix === 'DatabaseKey' || prefix === 'BackupKey';
      // Every key also refuses grants not made for an AWS resource (lib/shared/kms-grants.ts; tested in test/baseline).
      expect(all.filter((s) => s.Effect === 'Deny' && s.Sid !== GRANTS_FOR_AWS_RESOURCES_ONLY).map((s) => s.Sid)).toEqual(
        protectedKey ? ['OnlyBreakGlassDestroysTheKey', 'OnlyDeploysAndBreakGlassChangeThePolicy'] : [],
      );
      expect(key.Properties.PendingWindowInDays).toBe(protectedKey ? 30 : undefined);
      expect(statements.slice(0, 2).map((s) => s.Sid)).toEqual(['AccountAdministersTheKey', 'AccountUsesTheKeyThroughItsServices']);
      // Grants CDK adds for secrets (the account, or one reader role) are also limited to Secrets Manager.
      for (const grant of statements.slice(2)) {
        expect(grant.Condition).toEqual({ StringEquals: { 'kms:ViaService': `secretsmanager.${config.region}.amazonaws.com` } });
      }
      // Administration never includes cryptographic use.
      expect([statements[0].Action].flat().filter((a) => /Encrypt|Decrypt|GenerateDataKey/.test(a))).toEqual([]);
      expect(statements[1].Condition).toEqual({
        StringEquals: {
          'kms:CallerAccount': config.account,
          'kms:ViaService': (services as string[]).map((s) => `${s}.${config.region}.amazonaws.com`),
        },
      });
    });
  });

  describe('PostgreSQL', () => {
    test('instance settings follow the stage config', () => {
      const { resource } = only(data(name), 'AWS::RDS::DBInstance');
      expect(resource.Properties).toMatchObject({
        Engine: 'postgres',
        EngineVersion: config.database.engineVersion,
        DBInstanceClass: `db.${config.database.instanceClass}`,
        DBInstanceIdentifier: `webapp-${name}`,
        DBName: 'app',
        Port: '5432',
        StorageType: 'gp3',
        AllocatedStorage: String(config.database.allocatedStorageGiB),
        MaxAllocatedStorage: config.database.maxAllocatedStorageGiB,
        StorageEncrypted: true,
        KmsKeyId: att('DatabaseKey', 'Arn'),
        MultiAZ: config.database.multiAz,
        DeletionProtection: config.database.deletionProtection,
        BackupRetentionPeriod: config.database.backupRetentionDays,
        PubliclyAccessible: false,
        AutoMinorVersionUpgrade: false,
        CopyTagsToSnapshot: true,
        EnableCloudwatchLogsExports: ['postgresql', 'upgrade'],
        ManageMasterUserPassword: true,
        MasterUsername: 'postgres',
        MasterUserSecret: { KmsKeyId: att('DatabaseKey', 'Arn') },
      });
      expect(resource.Properties.MasterUserPassword).toBeUndefined();
    });

    test('deletion or replacement leaves a final snapshot', () => {
      const { resource } = only(data(name), 'AWS::RDS::DBInstance');
      expect(resource.DeletionPolicy).toBe('Snapshot');
      expect(resource.UpdateReplacePolicy).toBe('Snapshot');
    });

    test('Performance Insights and enhanced monitoring only where configured', () => {
      const { resource } = only(data(name), 'AWS::RDS::DBInstance');
      if (config.database.enablePerformanceInsights) {
        expect(resource.Properties).toMatchObject({
          EnablePerformanceInsights: true,
          PerformanceInsightsKMSKeyId: att('DatabaseKey', 'Arn'),
          MonitoringInterval: 60,
        });
      } else {
        expect(resource.Properties.EnablePerformanceInsights).toBe(false);
        expect(resource.Properties.MonitoringInterval).toBeUndefined();
      }
    });

    test("TLS is forced and slow statements are logged, without their bind values (users' data)", () => {
      data(name).hasResourceProperties('AWS::RDS::DBParameterGroup', {
        Family: `postgres${config.database.engineVersion.split('.')[0]}`,
        Parameters: Match.objectLike({
          'rds.force_ssl': '1',
          log_min_duration_statement: '1000',
          log_statement: 'ddl',
          log_parameter_max_length: '0',
          log_parameter_max_length_on_error: '0',
        }),
      });
    });

    test('the instance lives in the isolated subnets', () => {
      const { resource } = only(data(name), 'AWS::RDS::DBSubnetGroup');
      const subnets = JSON.stringify(resource.Properties.SubnetIds);
      expect(subnets).toContain('IsolatedSubnet');
      expect(subnets).not.toMatch(/PrivateSubnet|PublicSubnet/);
    });

    test('exported logs go to encrypted log groups with the stage retention, created before the instance', () => {
      const t = data(name);
      for (const type of ['postgresql', 'upgrade']) {
        t.hasResource('AWS::Logs::LogGroup', {
          Properties: { LogGroupName: `/aws/rds/instance/webapp-${name}/${type}`, KmsKeyId: Match.anyValue(), RetentionInDays: config.logRetentionDays },
          DeletionPolicy: kept,
        });
      }
      const { resource } = only(t, 'AWS::RDS::DBInstance');
      expect(resource.DependsOn).toEqual([expect.stringMatching(/^DatabasePostgresqlLogs/), expect.stringMatching(/^DatabaseUpgradeLogs/)]);
    });

    test('IAM database authentication is on: the app logs in with tokens, never a password', () => {
      expect(only(data(name), 'AWS::RDS::DBInstance').resource.Properties.EnableIAMDatabaseAuthentication).toBe(true);
    });

    test('the app role may log in as the app database user only, on any instance of the stage account (restores change the resource id)', () => {
      const policy = Object.entries(data(name).findResources('AWS::IAM::ManagedPolicy')).find(([id]) => id.startsWith('DatabaseConnectwebappapp'))![1];
      expect(policy.Properties.PolicyDocument.Statement).toEqual([
        { Effect: 'Allow', Action: 'rds-db:connect', Resource: `arn:aws:rds-db:${config.region}:${config.account}:dbuser:*/webapp_app` },
      ]);
    });

    test('5432 is open only to the database setup function, the on-call shell host, the dump tasks and a repair copy in its own group; the group has no other ingress', () => {
      const t = data(name);
      expect(only(t, 'AWS::RDS::DBInstance').resource.Properties.VPCSecurityGroups).toEqual([att('DatabaseSecurityGroup', 'GroupId')]);
      const ingress = Object.values(t.findResources('AWS::EC2::SecurityGroupIngress')).filter((i) => JSON.stringify(i.Properties.GroupId).includes('DatabaseSecurityGroup'));
      expect(ingress).toHaveLength(4);
      for (const i of ingress) expect(i.Properties).toMatchObject({ IpProtocol: 'tcp', FromPort: 5432, ToPort: 5432 });
      expect(ingress.map((i) => i.Properties.SourceSecurityGroupId['Fn::GetAtt'][0]).sort()).toEqual([
        expect.stringMatching(/^DatabaseSecurityGroup/),
        expect.stringMatching(/^DatabaseSetupSecurityGroup/),
        expect.stringMatching(/^DatabaseShellSecurityGroup/),
        expect.stringMatching(/^DumpJobTasksSecurityGroup/),
      ]);
      const groups = Object.entries(t.findResources('AWS::EC2::SecurityGroup'));
      for (const [id, group] of groups.filter(([gid]) => gid.startsWith('Database') || gid.startsWith('Cache'))) {
        expect(group.Properties.SecurityGroupIngress, id).toBeUndefined();
      }
    });

    test('the database reaches out only to its own group on 5432: postgres_fdw/dblink to a repair copy restored in that group', () => {
      const t = data(name);
      const [[id, group]] = Object.entries(t.findResources('AWS::EC2::SecurityGroup')).filter(([gid]) => /^DatabaseSecurityGroup/.test(gid));
      // No inline rule: neither CDK's "disallow all" placeholder (no egress at all) nor a wider one.
      expect(group.Properties.SecurityGroupEgress).toBeUndefined();
      const egress = Object.values(t.findResources('AWS::EC2::SecurityGroupEgress', { Properties: { GroupId: { 'Fn::GetAtt': [id, 'GroupId'] } } }));
      expect(egress.map((e) => e.Properties)).toEqual([
        {
          IpProtocol: 'tcp',
          FromPort: 5432,
          ToPort: 5432,
          GroupId: { 'Fn::GetAtt': [id, 'GroupId'] },
          DestinationSecurityGroupId: { 'Fn::GetAtt': [id, 'GroupId'] },
          Description: expect.stringContaining('postgres_fdw'),
        },
      ]);
    });
  });

  describe('database setup custom resource (pgvector and the app roles)', () => {
    test('passes the instance, endpoint and minimum version, and what makes it run again: the engine version and the SQL', () => {
      data(name).hasResourceProperties('Custom::DatabaseSetup', {
        DbInstanceIdentifier: { Ref: Match.stringLikeRegexp('^DatabaseInstance') },
        Host: getAtt('DatabaseInstance', 'Endpoint.Address'),
        Port: '5432',
        DatabaseName: 'app',
        MinVersion: config.database.pgvectorMinVersion,
        EngineVersion: config.database.engineVersion,
        SetupHash: setupFingerprint('app'),
      });
      // No secret ARN: the function reads the instance's current one (a restore makes a new one).
      const [setup] = Object.values(data(name).findResources('Custom::DatabaseSetup'));
      expect(JSON.stringify(setup.Properties)).not.toContain('MasterUserSecret');
    });

    test('runs once more for an operator who passes -c rerunDatabaseSetup=<new value>, and only then', () => {
      const [setup] = Object.values(data(name).findResources('Custom::DatabaseSetup'));
      expect(setup.Properties.RunId).toBeUndefined();
      if (name !== 'dev') return;
      const rerun = synthStage('dev', { rerunDatabaseSetup: '1764576000' });
      rerun.data.hasResourceProperties('Custom::DatabaseSetup', { RunId: '1764576000' });
    });

    test('the handler runs Node.js 24 on ARM64 in the private subnets, configured with the one database it sets up', () => {
      const fn = data(name).findResources('AWS::Lambda::Function', { Properties: { Handler: 'index.onEvent' } });
      expect(Object.values(fn).map((f) => f.Properties.Environment.Variables)).toEqual([
        {
          DATABASE_INSTANCE: { Ref: expect.stringMatching(/^DatabaseInstance/) },
          DATABASE_HOST: att('DatabaseInstance', 'Endpoint.Address'),
          DATABASE_PORT: '5432',
          DATABASE_NAME: 'app',
          NODE_OPTIONS: '--enable-source-maps',
        },
      ]);
      data(name).hasResourceProperties('AWS::Lambda::Function', {
        Handler: 'index.onEvent',
        Runtime: 'nodejs24.x',
        Architectures: ['arm64'],
        VpcConfig: { SubnetIds: Match.arrayWith([stackOutputLike(Match.objectLike({ OutputName: Match.stringLikeRegexp('PrivateSubnet1') }))]) },
        LoggingConfig: { LogFormat: 'JSON', LogGroup: { Ref: Match.stringLikeRegexp('^DatabaseSetupHandlerLogs') } },
      });
    });

    test('no function adds the RDS CAs to the public roots (NODE_EXTRA_CA_CERTS): each trusts the bundle alone', () => {
      expect(JSON.stringify(data(name).toJSON())).not.toContain('NODE_EXTRA_CA_CERTS');
    });

    test("the setup's security group reaches only the database on its port, and HTTPS for the AWS APIs", () => {
      const groups = data(name).findResources('AWS::EC2::SecurityGroup', { Properties: { GroupDescription: Match.stringLikeRegexp('^Database setup custom resource') } });
      const [[id, group]] = Object.entries(groups);
      expect(group.Properties.SecurityGroupEgress).toEqual([{ CidrIp: '0.0.0.0/0', IpProtocol: 'tcp', FromPort: 443, ToPort: 443, Description: expect.stringContaining('HTTPS') }]);
      const egress = Object.values(data(name).findResources('AWS::EC2::SecurityGroupEgress', { Properties: { GroupId: { 'Fn::GetAtt': [id, 'GroupId'] } } }));
      expect(egress.map((e) => e.Properties)).toEqual([
        expect.objectContaining({
          IpProtocol: 'tcp',
          FromPort: 5432,
          ToPort: 5432,
          DestinationSecurityGroupId: { 'Fn::GetAtt': [expect.stringMatching(/^DatabaseSecurityGroup/), 'GroupId'] },
        }),
      ]);
    });

    test('the handler may find the instance, read the RDS-managed secrets and decrypt them only through Secrets Manager', () => {
      const policies = data(name).findResources('AWS::IAM::Policy', {
        Properties: { Roles: [{ Ref: Match.stringLikeRegexp('^DatabaseSetupHandlerFunctionServiceRole') }] },
      });
      expect(Object.values(policies).flatMap((p) => p.Properties.PolicyDocument.Statement)).toEqual([
        {
          Sid: 'FindTheMasterSecret',
          Effect: 'Allow',
          Action: 'rds:DescribeDBInstances',
          Resource: { 'Fn::Join': ['', [`arn:aws:rds:${config.region}:${config.account}:db:`, { Ref: expect.stringMatching(/^DatabaseInstance/) }]] },
        },
        {
          Sid: 'ReadTheMasterSecret',
          Effect: 'Allow',
          Action: 'secretsmanager:GetSecretValue',
          Resource: `arn:aws:secretsmanager:${config.region}:${config.account}:secret:rds!db-*`,
        },
        {
          Sid: 'DecryptTheMasterSecret',
          Effect: 'Allow',
          Action: 'kms:Decrypt',
          Resource: att('DatabaseKey', 'Arn'),
          Condition: { StringEquals: { 'kms:ViaService': `secretsmanager.${config.region}.amazonaws.com` } },
        },
      ]);
    });

    test('the pgvector version is the stack output PgvectorVersion; the master secret ARN is not an output (it changes on restore)', () => {
      data(name).hasOutput('PgvectorVersion', { Value: { 'Fn::GetAtt': [Match.stringLikeRegexp('^DatabaseSetup'), 'Version'] } });
      expect(Object.keys(data(name).findOutputs('DatabaseSecretArn'))).toEqual([]);
    });
  });

  describe('Valkey for BullMQ', () => {
    test('replication group settings', () => {
      const { resource } = only(data(name), 'AWS::ElastiCache::ReplicationGroup');
      const multiAz = config.cache.replicas > 0;
      expect(resource.Properties).toMatchObject({
        Engine: 'valkey',
        CacheNodeType: config.cache.nodeType,
        NumCacheClusters: 1 + config.cache.replicas,
        AutomaticFailoverEnabled: multiAz,
        MultiAZEnabled: multiAz,
        TransitEncryptionEnabled: true,
        TransitEncryptionMode: 'required',
        AtRestEncryptionEnabled: true,
        KmsKeyId: att('CacheKey', 'Arn'),
        SnapshotRetentionLimit: config.cache.snapshotRetentionDays,
        PreferredMaintenanceWindow: expect.any(String),
      });
      expect(JSON.stringify(resource.Properties.AuthToken)).toMatch(/\{\{resolve:secretsmanager:.*CacheAuthToken/);
      // The token outlives the stack where the cache's final snapshot does.
      const [, token] = Object.entries(data(name).findResources('AWS::SecretsManager::Secret')).find(([id]) => id.startsWith('CacheAuthToken'))!;
      expect(token.DeletionPolicy).toBe(config.retainOnDelete ? 'Retain' : 'Delete');
      expect(resource.DeletionPolicy).toBe(config.retainOnDelete ? 'Snapshot' : 'Delete');
      expect(resource.UpdateReplacePolicy).toBe(config.retainOnDelete ? 'Snapshot' : 'Delete');
    });

    test('keys are never evicted (BullMQ needs noeviction)', () => {
      data(name).hasResourceProperties('AWS::ElastiCache::ParameterGroup', {
        CacheParameterGroupFamily: 'valkey8',
        Properties: { 'maxmemory-policy': 'noeviction' },
      });
    });

    test('the AUTH token is generated, encrypted with the cache key and URL-safe', () => {
      data(name).hasResourceProperties('AWS::SecretsManager::Secret', {
        KmsKeyId: getAtt('CacheKey', 'Arn'),
        GenerateSecretString: { PasswordLength: 64, ExcludePunctuation: true },
      });
    });
  });

  describe('uploads bucket', () => {
    const buckets = () => {
      const all = data(name).findResources('AWS::S3::Bucket');
      const uploads = Object.entries(all).find(([id]) => id.startsWith('UploadsBucket'))![1];
      const logs = Object.entries(all).find(([id]) => id.startsWith('UploadsAccessLogs'))![1];
      return { uploads, logs };
    };

    test('versioned, SSE-KMS with a bucket key, private, logged', () => {
      const { uploads } = buckets();
      expect(uploads.Properties).toMatchObject({
        VersioningConfiguration: { Status: 'Enabled' },
        BucketEncryption: {
          ServerSideEncryptionConfiguration: [{ BucketKeyEnabled: true, ServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: att('UploadsKey', 'Arn') } }],
        },
        PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
        LoggingConfiguration: { DestinationBucketName: { Ref: expect.stringMatching(/^UploadsAccessLogs/) }, LogFilePrefix: 'uploads/' },
      });
      expect(uploads.DeletionPolicy).toBe(kept);
    });

    test('old versions expire after the configured days; multipart leftovers after 7', () => {
      const { uploads } = buckets();
      expect(uploads.Properties.LifecycleConfiguration.Rules).toEqual([
        {
          Id: 'expire-old-versions',
          Status: 'Enabled',
          NoncurrentVersionExpiration: { NoncurrentDays: config.uploads.noncurrentVersionExpirationDays },
          AbortIncompleteMultipartUpload: { DaysAfterInitiation: 7 },
        },
      ]);
    });

    test('CORS admits only the stage site, and nothing without a domain', () => {
      const { uploads } = buckets();
      if (config.domain) {
        expect(uploads.Properties.CorsConfiguration.CorsRules).toEqual([
          expect.objectContaining({ AllowedOrigins: [`https://${config.domain.recordName}`], AllowedMethods: ['GET', 'PUT', 'POST', 'HEAD'] }),
        ]);
      } else {
        expect(uploads.Properties.CorsConfiguration).toBeUndefined();
      }
    });

    test('the access-log bucket is versioned, SSE-S3, private and expires logs', () => {
      const { logs } = buckets();
      expect(logs.Properties).toMatchObject({
        VersioningConfiguration: { Status: 'Enabled' },
        BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
        PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
      });
      expect(logs.Properties.LifecycleConfiguration.Rules[0]).toMatchObject({ ExpirationInDays: config.uploads.accessLogExpirationDays });
      expect(logs.DeletionPolicy).toBe(kept);
    });

    test('uploads replicate to the DR region only where configured, with a least-privilege role', () => {
      const { uploads } = buckets();
      if (!config.uploads.replicateToDr) {
        expect(uploads.Properties.ReplicationConfiguration).toBeUndefined();
        expect(Object.keys(data(name).findResources('AWS::IAM::ManagedPolicy')).filter((id) => id.startsWith('UploadsReplication'))).toEqual([]);
        return;
      }
      const drOutput = (output: RegExp) => stackOutput({ StackName: `${name}-Dr`, Region: config.drRegion, OutputName: expect.stringMatching(output) });
      expect(uploads.Properties.ReplicationConfiguration).toEqual({
        Role: att('UploadsReplicationRole', 'Arn'),
        Rules: [
          {
            Id: 'replicate-to-dr-region',
            Status: 'Enabled',
            Priority: 0,
            Filter: { Prefix: '' },
            DeleteMarkerReplication: { Status: 'Enabled' },
            SourceSelectionCriteria: { SseKmsEncryptedObjects: { Status: 'Enabled' } },
            Destination: {
              Bucket: expect.stringMatching(new RegExp(`^arn:aws:s3:::${name}-dr`)),
              EncryptionConfiguration: { ReplicaKmsKeyID: drOutput(/UploadsReplicaKey/) },
            },
          },
        ],
      });
      const policy = Object.entries(data(name).findResources('AWS::IAM::ManagedPolicy')).find(([id]) => id.startsWith('UploadsReplicationPolicy'))![1];
      const statements = policy.Properties.PolicyDocument.Statement as { Action: string | string[]; Resource: unknown; Condition?: unknown }[];
      // No statement on "*" (CDK's own grant would give KMS on every key).
      expect(statements.map((st) => st.Resource)).not.toContain('*');
      expect(statements).toContainEqual({
        Effect: 'Allow',
        Action: ['kms:Encrypt', 'kms:GenerateDataKey'],
        Resource: drOutput(/UploadsReplicaKey/),
        Condition: { StringEquals: { 'kms:ViaService': `s3.${config.drRegion}.amazonaws.com` } },
      });
      expect(statements).toContainEqual({
        Effect: 'Allow',
        Action: 'kms:Decrypt',
        Resource: att('UploadsKey', 'Arn'),
        Condition: { StringEquals: { 'kms:ViaService': `s3.${config.region}.amazonaws.com` } },
      });
      // The replication role has no policy of its own besides the bucket's: the others are the
      // functions' (database setup and its provider; the cache event forwarder; the restore verifier and the restore role where restores are tested)
      // and the dump tasks' execution roles and schedules (lib/data/dump-job.ts).
      const policies = Object.keys(data(name).findResources('AWS::IAM::Policy'));
      expect(policies.filter((id) => !/^(DatabaseSetup|CacheEvents|RestoreTesting|DumpJob)/.test(id))).toEqual([]);
    });

    test('both buckets (and the dump bucket and its logs) refuse requests without TLS', () => {
      const policies = Object.values(data(name).findResources('AWS::S3::BucketPolicy'));
      expect(policies).toHaveLength(4);
      for (const policy of policies) {
        expect(policy.Properties.PolicyDocument.Statement).toContainEqual(
          expect.objectContaining({ Effect: 'Deny', Action: 's3:*', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        );
      }
    });
  });
});

describe('logical ids of stateful data resources are frozen', () => {
  // Renaming one of these construct ids would replace the database, the queue store, a bucket, a key
  // or the backup vault (a locked dump bucket's name is fixed: it could not even be replaced).
  test.each(STAGE_NAMES)('%s', (name) => {
    const ids = (type: string) => Object.keys(data(name).findResources(type)).sort();
    expect(ids('AWS::RDS::DBInstance')).toEqual(['DatabaseInstanceAA8A5FDE']);
    expect(ids('AWS::ElastiCache::ReplicationGroup')).toEqual(['CacheReplicationGroupBFE59FF3']);
    expect(ids('AWS::S3::Bucket')).toEqual(['DumpsAccessLogs2F364DB4', 'DumpsBucketA92B12EA', 'UploadsAccessLogsB2D59324', 'UploadsBucketC4B27CC7']);
    const anonymised = parseStageConfig(STAGES[name]).dumps.anonymised ? ['DumpsAnonymisedKeyD1A963B8'] : [];
    expect(ids('AWS::KMS::Key')).toEqual(['BackupKey1226E6A1', 'CacheKey55377725', 'DatabaseKey7998E78F', ...anonymised, 'DumpsKey96651083', 'UploadsKeyE2534F44']);
    expect(ids('AWS::Backup::BackupVault')).toEqual(['BackupVaultADF21B19']);
    expect(ids('AWS::SecretsManager::Secret')).toEqual(['CacheAuthToken04672416', ...(anonymised.length > 0 ? ['DumpJobSaltBA8D62E6'] : [])]);
  });
});

describe.each(STAGE_NAMES)('%s database backups', (name) => {
  const config = parseStageConfig(STAGES[name]);
  const fromDrStack = stackOutputLike(Match.objectLike({ StackName: `${name}-Dr`, Region: config.drRegion }));

  test('a daily AWS Backup plan keeps recovery points as configured and copies them to the DR vault where configured', () => {
    const { resource: plan } = only(data(name), 'AWS::Backup::BackupPlan');
    const [rule] = plan.Properties.BackupPlan.BackupPlanRule;
    expect(plan.Properties.BackupPlan.BackupPlanName).toBe(`webapp-${name}-database`);
    expect(rule).toMatchObject({ RuleName: 'Daily', ScheduleExpression: 'cron(0 5 * * ? *)', Lifecycle: { DeleteAfterDays: config.backup.planRetentionDays } });
    if (config.backup.drCopies) {
      expect(rule.CopyActions).toEqual([
        { DestinationBackupVaultArn: stackOutput(expect.objectContaining({ StackName: `${name}-Dr` })), Lifecycle: { DeleteAfterDays: config.backup.drCopyRetentionDays } },
      ]);
    } else {
      expect(rule.CopyActions).toBeUndefined();
    }
    data(name).hasResourceProperties('AWS::Backup::BackupSelection', {
      BackupSelection: Match.objectLike({
        Resources: [Match.objectLike({ 'Fn::Join': Match.arrayWith([Match.arrayWith([Match.stringLikeRegexp(':db:'), { Ref: Match.stringLikeRegexp('^DatabaseInstance') }])]) })],
      }),
    });
    // A retained vault keeps its name after the stack is gone: the name carries the stack's
    // creation id, so deleting and creating the stage again (dev) makes a new vault.
    data(name).hasResource('AWS::Backup::BackupVault', {
      Properties: { BackupVaultName: creationSuffixed(`webapp-${name}-`), EncryptionKeyArn: getAtt('BackupKey', 'Arn') },
      DeletionPolicy: 'Retain',
    });
  });

  test('RDS replicates its automated backups to the DR region with the DR key where configured', () => {
    const { resource: db } = only(data(name), 'AWS::RDS::DBInstance');
    if (config.backup.automatedBackupReplicationDays > 0) {
      data(name).hasResourceProperties('AWS::RDS::DBInstance', {
        AutomaticBackupReplicationRegion: config.drRegion,
        AutomaticBackupReplicationKmsKeyId: fromDrStack,
        AutomaticBackupReplicationRetentionPeriod: config.backup.automatedBackupReplicationDays,
      });
    } else {
      expect(db.Properties.AutomaticBackupReplicationRegion).toBeUndefined();
    }
  });
});

describe.each(STAGE_NAMES)('%s restore testing', (name) => {
  const config = parseStageConfig(STAGES[name]);
  const enabled = config.backup.restoreTesting !== 'off';

  test(enabled ? 'restores the newest recovery point on schedule into the isolated subnets, behind a group open only to the verifier' : 'is off', () => {
    const t = data(name);
    if (!enabled) {
      t.resourceCountIs('AWS::Backup::RestoreTestingPlan', 0);
      return;
    }
    const { resource: plan } = only(t, 'AWS::Backup::RestoreTestingPlan');
    expect(plan.Properties).toMatchObject({
      RestoreTestingPlanName: `webapp_${name}_database`,
      ScheduleExpression: config.backup.restoreTesting === 'weekly' ? 'cron(0 6 ? * MON *)' : 'cron(0 6 1 * ? *)',
      RecoveryPointSelection: { Algorithm: 'LATEST_WITHIN_WINDOW', IncludeVaults: [att('BackupVault', 'BackupVaultArn')], RecoveryPointTypes: ['SNAPSHOT'] },
    });
    const { resource: selection } = only(t, 'AWS::Backup::RestoreTestingSelection');
    expect(selection.Properties).toMatchObject({
      ProtectedResourceType: 'RDS',
      RestoreMetadataOverrides: {
        dbsubnetgroupname: { Ref: expect.stringMatching(/^DatabaseInstanceSubnetGroup/) },
        vpcsecuritygroupids: { 'Fn::Join': ['', ['["', att('RestoreTestingRestoredSecurityGroup', 'GroupId'), '"]']] },
        publiclyaccessible: 'false',
      },
      ValidationWindowHours: 2,
    });
    // The restored instance admits the verifier only, and says nothing outward.
    const restoredIngress = Object.values(t.findResources('AWS::EC2::SecurityGroupIngress')).filter((i) =>
      JSON.stringify(i.Properties.GroupId).includes('RestoreTestingRestoredSecurityGroup'),
    );
    expect(restoredIngress.map((i) => i.Properties)).toEqual([
      expect.objectContaining({ FromPort: 5432, ToPort: 5432, SourceSecurityGroupId: att('RestoreTestingVerifierSecurityGroup', 'GroupId') }),
    ]);
  });
});

const withRestoreTesting = STAGE_NAMES.filter((n) => STAGES[n].backup.restoreTesting !== 'off');
test('the shipped config tests restores in staging and prod', () => {
  expect(withRestoreTesting).toEqual(['staging', 'prod']);
});

describe.each(withRestoreTesting)('%s restore verifier', (name) => {
  const config = parseStageConfig(STAGES[name]);

  test('runs on each completed restore job and daily, and may touch only restored test instances', () => {
    const t = data(name);
    t.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: { source: ['aws.backup'], 'detail-type': ['Restore Job State Change'], detail: { $or: [{ status: ['COMPLETED'] }, { state: ['COMPLETED'] }] } },
      Targets: [Match.objectLike({ Arn: getAtt('RestoreTestingHandlerFunction', 'Arn'), RetryPolicy: { MaximumRetryAttempts: 2 } })],
    });
    t.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'cron(0 7 * * ? *)', Targets: [Match.objectLike({ Arn: getAtt('RestoreTestingHandlerFunction', 'Arn') })] });
    const [verifierPolicy] = Object.entries(t.findResources('AWS::IAM::Policy')).filter(([id]) => id.startsWith('RestoreTestingHandlerFunction'));
    const statements = verifierPolicy[1].Properties.PolicyDocument.Statement;
    expect(statements.find((s: { Sid: string }) => s.Sid === 'ResetTestInstancePassword').Resource).toEqual([
      `arn:aws:rds:${config.region}:${config.account}:db:awsbackup-restore-test-*`,
      `arn:aws:rds:${config.region}:${config.account}:db:restore-drill-${name}-*`,
    ]);
    // What scripts/restore-drill.ts reads, by fixed names (no hash).
    const outputs = Object.keys(t.findOutputs('*')).filter((k) => k.startsWith('RestoreTesting'));
    expect(outputs.map((k) => k.replace(/^RestoreTesting/, '')).sort()).toEqual([
      'DatabaseArn',
      'DatabaseKeyArn',
      'RestoreRoleArn',
      'RestoredSecurityGroupId',
      'SubnetGroupName',
      'VaultName',
      'VerifierFunctionName',
    ]);
    expect(statements.find((s: { Sid: string }) => s.Sid === 'PublishResults').Condition).toEqual({ StringEquals: { 'cloudwatch:namespace': 'webapp/RestoreTesting' } });
    const [fn] = Object.entries(t.findResources('AWS::Lambda::Function')).filter(([id]) => id.startsWith('RestoreTestingHandlerFunction'));
    const env = fn[1].Properties.Environment.Variables;
    expect(JSON.parse(env.EXPECTATIONS)).toEqual({ minVectorVersion: config.database.pgvectorMinVersion, ...config.backup.verify, roles: ['webapp_app', 'webapp_migrator'] });
    expect(env.MAX_AGE_DAYS).toBe(config.backup.restoreTesting === 'weekly' ? '8' : '32');
    expect(env.RESTORE_TESTING_PLAN_ARN).toEqual(att('RestoreTestingPlan', 'RestoreTestingPlanArn'));
    // The watchdog reads the plan's creation time for the grace period before its first test.
    expect(env.RESTORE_TESTING_PLAN_NAME).toBe(`webapp_${name}_database`);
    expect(statements.find((s: { Sid: string }) => s.Sid === 'ReadThePlan')).toEqual({
      Sid: 'ReadThePlan',
      Effect: 'Allow',
      Action: 'backup:GetRestoreTestingPlan',
      Resource: att('RestoreTestingPlan', 'RestoreTestingPlanArn'),
    });
  });
});

describe.each(STAGE_NAMES)('%s cache events', (name) => {
  test('the replication group notifies its own unencrypted topic, which ElastiCache of this account may publish to by SourceOwner, over TLS only', () => {
    const t = data(name);
    const { id: topicId, resource: topic } = only(t, 'AWS::SNS::Topic');
    expect(topicId).toMatch(/^CacheEventsTopic/);
    // ElastiCache drops notifications to an encrypted topic.
    expect(topic.Properties.KmsMasterKeyId).toBeUndefined();
    expect(only(t, 'AWS::ElastiCache::ReplicationGroup').resource.Properties.NotificationTopicArn).toEqual({ Ref: topicId });
    const [policy] = Object.values(t.findResources('AWS::SNS::TopicPolicy'));
    expect(policy.Properties.PolicyDocument.Statement).toEqual([
      // A request whose aws:SecureTransport is false; one without the key (a service's) is not matched.
      {
        Sid: 'AllowPublishThroughSSLOnly',
        Effect: 'Deny',
        Principal: '*',
        Action: 'sns:Publish',
        Resource: { Ref: topicId },
        Condition: { Bool: { 'aws:SecureTransport': 'false' } },
      },
      {
        Sid: 'ElastiCacheOfThisAccountPublishes',
        Effect: 'Allow',
        Principal: { AWS: '*' },
        Action: 'sns:Publish',
        Resource: { Ref: topicId },
        Condition: { StringEquals: { 'AWS:SourceOwner': parseStageConfig(STAGES[name]).account } },
      },
    ]);
    expect(JSON.stringify(policy)).not.toContain('aws:SourceAccount');
  });

  test('a forwarder subscribed to it may publish to the alarm topic and nothing else', () => {
    const t = data(name);
    t.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'lambda',
      TopicArn: { Ref: Match.stringLikeRegexp('^CacheEventsTopic') },
      Endpoint: getAtt('CacheEventsForwarderFunction', 'Arn'),
    });
    const [policy] = Object.entries(t.findResources('AWS::IAM::Policy'))
      .filter(([id]) => id.startsWith('CacheEventsForwarderFunctionServiceRoleDefaultPolicy'))
      .map(([, p]) => p);
    const statements = policy.Properties.PolicyDocument.Statement as { Action: string | string[]; Resource: unknown }[];
    // The alarm topic, read from the network stack.
    expect(JSON.stringify(statements.find((s) => s.Action === 'sns:Publish')?.Resource)).toMatch(new RegExp(`"StackName":"${name}-Network".*AlarmsTopic`));
    expect(statements.flatMap((s) => [s.Action].flat()).sort()).toEqual(['kms:Decrypt', 'kms:GenerateDataKey*', 'sns:Publish']);
    const fn = Object.entries(t.findResources('AWS::Lambda::Function')).find(([id]) => id.startsWith('CacheEventsForwarderFunction'))![1];
    expect(fn.Properties.Environment.Variables).toMatchObject({ STAGE: name });
    expect(JSON.stringify(fn.Properties.Environment.Variables.ALARM_TOPIC_ARN)).toContain(`${name}-Network`);
  });
});

describe.each(STAGE_NAMES)('%s database shell', (name) => {
  test('a launch template for a minimal host: Graviton nano, IMDSv2 only, encrypted disk, terminated when it shuts down, no key pair', () => {
    const { resource } = only(data(name), 'AWS::EC2::LaunchTemplate');
    const lt = resource.Properties.LaunchTemplateData;
    expect(lt).toMatchObject({
      InstanceType: 't4g.nano',
      InstanceInitiatedShutdownBehavior: 'terminate',
      MetadataOptions: { HttpTokens: 'required', HttpPutResponseHopLimit: 1 },
      BlockDeviceMappings: [{ DeviceName: '/dev/xvda', Ebs: { Encrypted: true, VolumeType: 'gp3', VolumeSize: 8, DeleteOnTermination: true } }],
      SecurityGroupIds: [att('DatabaseShellSecurityGroup', 'GroupId')],
    });
    expect(lt.KeyName).toBeUndefined();
    expect(JSON.stringify(lt.ImageId)).toMatch(/al2023-ami-kernel.*arm64|SsmParameterValue/);
    expect(Buffer.from(lt.UserData['Fn::Base64'], 'utf8').toString()).toContain('shutdown -h +60');
  });

  test('its role may register with Session Manager and nothing else; its group lets out HTTPS and PostgreSQL to the database only', () => {
    const t = data(name);
    const role = Object.entries(t.findResources('AWS::IAM::Role')).find(([id]) => id.startsWith('DatabaseShellRole'))![1];
    // Session Manager's own channels, not AmazonSSMManagedInstanceCore (which reads every SSM parameter).
    expect(role.Properties.ManagedPolicyArns).toBeUndefined();
    expect(role.Properties.Policies).toEqual([
      {
        PolicyName: 'SessionManager',
        PolicyDocument: {
          Version: '2012-10-17',
          Statement: [
            {
              Sid: 'SessionManagerChannels',
              Effect: 'Allow',
              Action: [
                'ssm:UpdateInstanceInformation',
                'ssmmessages:CreateControlChannel',
                'ssmmessages:CreateDataChannel',
                'ssmmessages:OpenControlChannel',
                'ssmmessages:OpenDataChannel',
              ],
              Resource: '*',
            },
          ],
        },
      },
    ]);
    // EC2 does not document aws:SourceAccount for instance profiles (test/stages/service-principals.test.ts).
    expect(role.Properties.AssumeRolePolicyDocument.Statement[0].Condition).toBeUndefined();
    expect(Object.keys(t.findResources('AWS::IAM::Policy')).filter((id) => id.startsWith('DatabaseShell'))).toEqual([]);
    const group = Object.entries(t.findResources('AWS::EC2::SecurityGroup')).find(([id]) => id.startsWith('DatabaseShellSecurityGroup'))![1];
    expect(group.Properties.SecurityGroupIngress).toBeUndefined();
    expect(group.Properties.SecurityGroupEgress).toEqual([
      { CidrIp: '0.0.0.0/0', Description: 'HTTPS to Systems Manager (Session Manager)', FromPort: 443, IpProtocol: 'tcp', ToPort: 443 },
    ]);
    const egress = Object.values(t.findResources('AWS::EC2::SecurityGroupEgress')).filter((e) => JSON.stringify(e.Properties.GroupId).includes('DatabaseShellSecurityGroup'));
    expect(egress.map((e) => [e.Properties.FromPort, JSON.stringify(e.Properties.DestinationSecurityGroupId).includes('DatabaseSecurityGroup')])).toEqual([[5432, true]]);
    expect(Object.keys(t.findOutputs('*'))).toEqual(expect.arrayContaining(['DatabaseShellLaunchTemplateId', 'DatabaseShellSubnetId']));
    // The on-call people's login: read-only webapp_oncall, by a managed policy to attach to their role.
    const policy = Object.entries(t.findResources('AWS::IAM::ManagedPolicy')).find(([id]) => id.includes('Connectwebapponcall'));
    expect(policy![1].Properties.PolicyDocument.Statement).toEqual([
      {
        Effect: 'Allow',
        Action: 'rds-db:connect',
        Resource: `arn:aws:rds-db:${parseStageConfig(STAGES[name]).region}:${parseStageConfig(STAGES[name]).account}:dbuser:*/webapp_oncall`,
      },
    ]);
    expect(t.findOutputs('OnCallDatabasePolicyArn').OnCallDatabasePolicyArn.Value).toEqual({ Ref: policy![0] });
  });
});

describe('engine versions: minor upgrades keep the parameter group, a major one takes the new family', () => {
  /** The database construct alone, in a stack of its own, on the given engine version. */
  const databaseOn = (engineVersion: string, allowMajorVersionUpgrade?: boolean) => {
    const stack = new Stack(testApp({ context: TEST_CONTEXT }), 'Db', { env: { account: '111111111111', region: 'eu-west-1' } });
    const vpc = new ec2.Vpc(stack, 'Vpc', {
      subnetConfiguration: [{ name: 'Isolated', subnetType: ec2.SubnetType.PRIVATE_ISOLATED }],
      availabilityZones: ['eu-west-1a', 'eu-west-1b'],
    });
    const key = new kms.Key(stack, 'Key');
    new Database(stack, 'Database', {
      vpc,
      instanceIdentifier: 'webapp-dev',
      engineVersion,
      allowMajorVersionUpgrade,
      instanceClass: 't4g.micro',
      allocatedStorageGiB: 20,
      maxAllocatedStorageGiB: 40,
      multiAz: false,
      deletionProtection: false,
      backupRetentionDays: 1,
      enablePerformanceInsights: false,
      key,
      logsKey: key,
      logRetention: logs.RetentionDays.ONE_MONTH,
    });
    return Template.fromStack(stack);
  };
  const parameterGroup = (t: Template) => Object.entries(t.findResources('AWS::RDS::DBParameterGroup'));

  test('17.5 and 17.6 have the same parameter group, id and properties: a minor upgrade neither replaces it nor leaves a reboot pending', () => {
    const [minor, next] = [databaseOn('17.5'), databaseOn('17.6')];
    expect(parameterGroup(next)).toEqual(parameterGroup(minor));
    expect(parameterGroup(next)[0][1].Properties).toMatchObject({ Family: 'postgres17', Description: 'PostgreSQL 17 settings for webapp-dev' });
    expect(next.findResources('AWS::RDS::DBInstance')).not.toEqual(minor.findResources('AWS::RDS::DBInstance'));
  });

  test('16 to 17 moves to the postgres17 family, and only a change that allows it says AllowMajorVersionUpgrade', () => {
    expect(parameterGroup(databaseOn('16.9'))[0][1].Properties.Family).toBe('postgres16');
    const instance = (t: Template) => Object.values(t.findResources('AWS::RDS::DBInstance'))[0].Properties;
    expect(instance(databaseOn('17.6'))).not.toHaveProperty('AllowMajorVersionUpgrade');
    expect(instance(databaseOn('17.6', true))).toMatchObject({ EngineVersion: '17.6', AllowMajorVersionUpgrade: true });
  });
});
