import { Match } from 'aws-cdk-lib/assertions';
import { describe, expect, test } from 'vitest';
import { STAGE_NAMES, STAGES } from '../../lib/config';
import { creationSuffixed, synthStage } from '../support/synth';
import { resources, stageTemplates } from '../support/template';

const withReplica = STAGE_NAMES.filter((n) => STAGES[n].uploads.replicateToDr);
const withDr = STAGE_NAMES.filter((n) => STAGES[n].uploads.replicateToDr || STAGES[n].backup.drCopies);
const withoutDr = STAGE_NAMES.filter((n) => !withDr.includes(n));

const synthesized = stageTemplates();

test('the shipped config copies backups in staging and prod and replicates uploads in prod', () => {
  expect(withDr).toEqual(['staging', 'prod']);
  expect(withReplica).toEqual(['prod']);
});

test.each(withoutDr)('%s has no DR stack (nothing is copied)', (name) => {
  expect(synthesized[name].stage.dr).toBeUndefined();
});

describe.each(withDr)('%s DR stack', (name) => {
  const config = STAGES[name];

  test('lives in the DR region of the stage account, protected', () => {
    const stack = synthesized[name].stage.dr!;
    expect(stack.stackName).toBe(`${name}-Dr`);
    expect(stack.region).toBe(config.drRegion);
    expect(stack.account).toBe(config.account);
    expect(stack.terminationProtection).toBe(config.retainOnDelete);
  });

  test("a rotating key that RDS, AWS Backup and Secrets Manager (a restored database's master secret) use in the DR region encrypts the retained DR vault", () => {
    const t = synthesized[name].dr!;
    const [[keyId, key]] = Object.entries(t.findResources('AWS::KMS::Key')).filter(([id]) => id.startsWith('BackupKey'));
    expect(key.Properties.EnableKeyRotation).toBe(true);
    const use = (key.Properties.KeyPolicy.Statement as { Sid: string; Condition?: Record<string, Record<string, unknown>> }[]).find(
      (st) => st.Sid === 'AccountUsesTheKeyThroughItsServices',
    )!;
    expect(use.Condition!.StringEquals['kms:ViaService']).toEqual([
      `rds.${config.drRegion}.amazonaws.com`,
      `backup.${config.drRegion}.amazonaws.com`,
      `secretsmanager.${config.drRegion}.amazonaws.com`,
    ]);
    expect(key.DeletionPolicy).toBe('Retain');
    t.hasResource('AWS::Backup::BackupVault', {
      Properties: { BackupVaultName: creationSuffixed(`webapp-${name}-dr-`), EncryptionKeyArn: { 'Fn::GetAtt': [keyId, 'Arn'] } },
      DeletionPolicy: 'Retain',
    });
  });

  test("forwards the calls that would change or destroy the DR key to the stage region's default bus, where the ops stack watches them", () => {
    const t = synthesized[name].dr!;
    const rules = resources(t, 'AWS::Events::Rule');
    expect(rules).toHaveLength(1);
    // Its semantics, with the ops stack's rules, are tested on events in test/ops/protected-key-changes.test.ts.
    expect(rules[0].Properties.EventPattern).toEqual({
      source: ['aws.kms'],
      'detail-type': ['AWS API Call via CloudTrail'],
      detail: {
        eventSource: ['kms.amazonaws.com'],
        eventName: ['ScheduleKeyDeletion', 'DisableKey', 'PutKeyPolicy', 'DisableKeyRotation'],
        requestParameters: { keyId: [{ suffix: { 'equals-ignore-case': { Ref: 'BackupKey1226E6A1' } } }] },
      },
    });
    expect(rules[0].Properties.Targets).toEqual([
      {
        Id: 'Target0',
        Arn: `arn:aws:events:${config.region}:${config.account}:event-bus/default`,
        RoleArn: { 'Fn::GetAtt': [expect.stringMatching(/^ForwardBackupKeyChangesEventsRole/), 'Arn'] },
      },
    ]);
  });

  test('outputs the DR key ARN (the database restore restarts the backup replication with it)', () => {
    synthesized[name].dr!.hasOutput('BackupKeyArn', { Value: { 'Fn::GetAtt': ['BackupKey1226E6A1', 'Arn'] } });
  });

  test('logical ids of its keys and vault are frozen', () => {
    const t = synthesized[name].dr!;
    expect(Object.keys(t.findResources('AWS::KMS::Key')).sort()).toEqual([
      'BackupKey1226E6A1',
      ...(config.dumps?.replicateToDr ? ['DumpsReplicaKeyE8B3567F'] : []),
      ...(config.uploads.replicateToDr ? ['UploadsReplicaKey133A8F9C'] : []),
    ]);
    expect(Object.keys(t.findResources('AWS::Backup::BackupVault'))).toEqual(['BackupVault3A9C5852']);
  });
});

describe.each(withReplica)('%s DR uploads replica', (name) => {
  test('the replica bucket is versioned, encrypted with its own key, private, TLS-only and retained', () => {
    const t = synthesized[name].dr!;
    t.hasResource('AWS::S3::Bucket', {
      Properties: {
        // A generated physical name: the source bucket in another region must be able to name it.
        BucketName: Match.stringLikeRegexp(`^${name}-dr`),
        VersioningConfiguration: { Status: 'Enabled' },
        BucketEncryption: {
          ServerSideEncryptionConfiguration: [
            {
              BucketKeyEnabled: true,
              ServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: { 'Fn::GetAtt': [Match.stringLikeRegexp('^UploadsReplicaKey'), 'Arn'] } },
            },
          ],
        },
        PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
      },
      DeletionPolicy: 'Retain',
    });
    t.hasResourceProperties('AWS::S3::BucketPolicy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) },
    });
  });

  test('outputs the replica and its key, which the DR app tier reads', () => {
    const t = synthesized[name].dr!;
    t.hasOutput('UploadsReplicaBucketName', { Value: { Ref: 'UploadsReplicaBucket0E3E47C4' } });
    t.hasOutput('UploadsReplicaKeyArn', { Value: { 'Fn::GetAtt': ['UploadsReplicaKey133A8F9C', 'Arn'] } });
  });

  test('logical ids of the replica and its key are frozen', () => {
    const t = synthesized[name].dr!;
    expect(Object.keys(t.findResources('AWS::S3::Bucket')).sort()).toEqual([
      ...(STAGES[name].dumps?.replicateToDr ? ['DumpsReplicaBucket7ADC59CD'] : []),
      'UploadsReplicaBucket0E3E47C4',
    ]);
  });
});

test('turning replication on for a stage adds its DR stack and the replication rule', () => {
  const { stage, data } = synthStage('staging', { 'staging.uploads.replicateToDr': 'true' });
  expect(stage.dr?.region).toBe(STAGES.staging.drRegion);
  const uploads = Object.entries(data.findResources('AWS::S3::Bucket')).find(([id]) => id.startsWith('UploadsBucket'))![1];
  expect(uploads.Properties.ReplicationConfiguration.Rules[0].Id).toBe('replicate-to-dr-region');
});
