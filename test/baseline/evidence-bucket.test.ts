import { Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { describe, expect, test } from 'vitest';
import { LOG_FILE_DELETION, TRAIL_BUCKET_CHANGES } from '../../lib/baseline/audit-trail';
import { BASELINE_OUTPUTS } from '../../lib/baseline/baseline-stack';
import { EVIDENCE_ACCESS, EVIDENCE_KEY_USE, EVIDENCE_RETENTION_DAYS, EvidenceBucket } from '../../lib/baseline/evidence-bucket';
import { loadStages, STAGE_NAMES } from '../../lib/config';
import { TEST_CONTEXT, testApp } from '../support/synth';
import { type Json, stageTemplates } from '../support/template';

/** The evidence bucket alone, in a stack of its own: the policies are the subject, not the baseline around them. */
const ACCOUNT = '111122223333';
const stack = new Stack(testApp({ context: TEST_CONTEXT }), 'Evidence', { env: { account: ACCOUNT, region: 'eu-west-1' } });
new EvidenceBucket(stack, 'Evidence', { breakGlassRoleNames: ['webapp-break-glass', 'other-break-glass'], onCallRoleNames: ['webapp-on-call'] });
const template = Template.fromStack(stack);
const role = (name: string) => `arn:aws:iam::${ACCOUNT}:role/${name}`;
const breakGlass = [role('webapp-break-glass'), role('other-break-glass')];
const responders = [...breakGlass, role('webapp-on-call')];
const deployer = `arn:aws:iam::${ACCOUNT}:role/cdk-hnb659fds-cfn-exec-role-${ACCOUNT}-eu-west-1`;

const bucketId = Object.entries(template.findResources('AWS::S3::Bucket')).find(([, r]) => (r as Json).Properties?.ObjectLockEnabled)![0];
const keyId = Object.keys(template.findResources('AWS::KMS::Key'))[0];

describe('the evidence bucket', () => {
  test('is encrypted with its own rotating key, versioned, private and locked in governance mode for a year', () => {
    template.hasResource('AWS::S3::Bucket', {
      Properties: {
        BucketEncryption: {
          ServerSideEncryptionConfiguration: [
            { BucketKeyEnabled: true, ServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: { 'Fn::GetAtt': [keyId, 'Arn'] } } },
          ],
        },
        VersioningConfiguration: { Status: 'Enabled' },
        PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
        ObjectLockEnabled: true,
        ObjectLockConfiguration: { ObjectLockEnabled: 'Enabled', Rule: { DefaultRetention: { Mode: 'GOVERNANCE', Days: EVIDENCE_RETENTION_DAYS } } },
        LoggingConfiguration: { DestinationBucketName: Match.anyValue(), LogFilePrefix: 'evidence/' },
      },
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
    });
    template.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
    expect(Object.values(template.findResources('AWS::KMS::Key')).map((k) => (k as Json).DeletionPolicy)).toEqual(['Retain']);
  });

  test('its policy is exactly: TLS only, responders alone read and write, break-glass alone deletes, deploys and break-glass alone change it', () => {
    const arn = { 'Fn::GetAtt': [bucketId, 'Arn'] };
    const objects = { 'Fn::Join': ['', [arn, '/*']] };
    const [policy] = Object.values(template.findResources('AWS::S3::BucketPolicy', { Properties: { Bucket: { Ref: bucketId } } })) as Json[];
    expect(policy.Properties.PolicyDocument.Statement).toEqual([
      { Effect: 'Deny', Principal: { AWS: '*' }, Action: 's3:*', Resource: [arn, objects], Condition: { Bool: { 'aws:SecureTransport': 'false' } } },
      {
        Sid: 'OnlyRespondersReadAndWriteEvidence',
        Effect: 'Deny',
        Principal: { AWS: '*' },
        Action: [...EVIDENCE_ACCESS].sort(),
        Resource: [arn, objects],
        Condition: { ArnNotEquals: { 'aws:PrincipalArn': responders } },
      },
      {
        Sid: 'RespondersReadAndWriteEvidence',
        Effect: 'Allow',
        Principal: { AWS: '*' },
        Action: [...EVIDENCE_ACCESS].sort(),
        Resource: [arn, objects],
        Condition: { ArnEquals: { 'aws:PrincipalArn': responders } },
      },
      {
        Sid: 'OnlyBreakGlassDeletesEvidence',
        Effect: 'Deny',
        Principal: { AWS: '*' },
        Action: [...LOG_FILE_DELETION].sort(),
        Resource: objects,
        Condition: { ArnNotEquals: { 'aws:PrincipalArn': breakGlass } },
      },
      {
        Sid: 'OnlyDeploysAndBreakGlassChangeTheBucket',
        Effect: 'Deny',
        Principal: { AWS: '*' },
        Action: [...TRAIL_BUCKET_CHANGES].sort(),
        Resource: arn,
        Condition: { ArnNotEquals: { 'aws:PrincipalArn': [...breakGlass, deployer] } },
      },
    ]);
  });

  test('its key is used only by the responders, and by them only through S3', () => {
    const statements = (template.findResources('AWS::KMS::Key')[keyId] as Json).Properties.KeyPolicy.Statement as Json[];
    expect(statements.find((s) => s.Sid === 'OnlyRespondersUseTheEvidenceKey')).toEqual({
      Sid: 'OnlyRespondersUseTheEvidenceKey',
      Effect: 'Deny',
      Principal: { AWS: '*' },
      Action: [...EVIDENCE_KEY_USE].sort(),
      Resource: '*',
      Condition: { ArnNotEquals: { 'aws:PrincipalArn': responders } },
    });
    expect(statements.find((s) => s.Sid === 'RespondersUseTheEvidenceKeyThroughS3')).toEqual({
      Sid: 'RespondersUseTheEvidenceKeyThroughS3',
      Effect: 'Allow',
      Principal: { AWS: '*' },
      Action: ['kms:Decrypt', 'kms:DescribeKey', 'kms:GenerateDataKey*'],
      Resource: '*',
      Condition: { ArnEquals: { 'aws:PrincipalArn': responders }, StringEquals: { 'kms:ViaService': 's3.eu-west-1.amazonaws.com' } },
    });
  });

  test('without an on-call role, the break-glass roles alone reach it', () => {
    const alone = new Stack(testApp({ context: TEST_CONTEXT }), 'Alone', { env: { account: ACCOUNT, region: 'eu-west-1' } });
    new EvidenceBucket(alone, 'Evidence', { breakGlassRoleNames: ['webapp-break-glass'] });
    Template.fromStack(alone).hasResourceProperties('AWS::S3::BucketPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Sid: 'OnlyRespondersReadAndWriteEvidence', Condition: { ArnNotEquals: { 'aws:PrincipalArn': role('webapp-break-glass') } } }),
        ]),
      },
    });
  });
});

describe('the baseline stacks as synthesized', () => {
  const synthesized = stageTemplates(STAGE_NAMES);
  const { all } = loadStages({});
  const baselines = () =>
    STAGE_NAMES.flatMap((name) => {
      const config = all.find((c) => c.name === name)!;
      const home = synthesized[name].shared.get(`Baseline-${config.account}-${config.region}`);
      return home ? [{ name, home }] : [];
    });

  test("the home region's baseline has the evidence bucket and the outputs the incident runbook reads", () => {
    expect(baselines().length).toBeGreaterThan(0);
    for (const { home } of baselines()) {
      const locked = home.findResources('AWS::S3::Bucket', { Properties: { ObjectLockConfiguration: { Rule: { DefaultRetention: { Days: EVIDENCE_RETENTION_DAYS } } } } });
      expect(Object.keys(locked).filter((id) => id.startsWith('EvidenceBucket'))).toHaveLength(1);
      const detector = Object.keys(home.findResources('AWS::GuardDuty::Detector')).length > 0;
      const expected = Object.values(BASELINE_OUTPUTS).filter((o) => detector || o !== BASELINE_OUTPUTS.detector);
      expect(Object.keys(home.toJSON().Outputs ?? {})).toEqual(expect.arrayContaining(expected));
    }
  });
});
