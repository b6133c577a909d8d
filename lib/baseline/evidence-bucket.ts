import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { accessLogBucket } from '../shared/access-log-bucket';
import { acknowledgeControls } from '../shared/control-tower-checks';
import { denyAllBut, protectionRoles } from '../shared/deny-all-but';
import { PRIVATE_BUCKET } from '../shared/private-bucket';
import { ServiceKey } from '../shared/service-key';
import { LOG_FILE_DELETION, TRAIL_BUCKET_CHANGES } from './audit-trail';

/** Days each piece of evidence stays under Object Lock (governance mode): a year, the longest an incident's review is expected to take. */
export const EVIDENCE_RETENTION_DAYS = 365;

/** Where the incident commands write: `incidents/<stage>/<task id>/<collected at>/`. */
export const EVIDENCE_PREFIX = 'incidents/';

/** Reading and writing evidence: the object actions the responders alone may use. */
export const EVIDENCE_ACCESS = ['s3:GetObject', 's3:GetObjectVersion', 's3:GetObjectAttributes', 's3:PutObject', 's3:ListBucket', 's3:ListBucketVersions'] as const;

/** Using the evidence key: what reading and writing evidence asks of KMS (through S3). */
export const EVIDENCE_KEY_USE = ['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey*', 'kms:ReEncrypt*'] as const;

/** The statement ids of the bucket's protections. */
export const EVIDENCE_BUCKET_SIDS = {
  access: 'OnlyRespondersReadAndWriteEvidence',
  grant: 'RespondersReadAndWriteEvidence',
  deletion: 'OnlyBreakGlassDeletesEvidence',
  changes: 'OnlyDeploysAndBreakGlassChangeTheBucket',
  keyUse: 'OnlyRespondersUseTheEvidenceKey',
  keyGrant: 'RespondersUseTheEvidenceKeyThroughS3',
} as const;

export interface EvidenceBucketProps {
  /** The break-glass roles (names) of the account's stages: they read, write and alone may delete evidence. */
  readonly breakGlassRoleNames: readonly string[];
  /**
   * The roles (names, at path `/`) the account's on-call people act as: they read and write evidence.
   * @default only the break-glass roles
   */
  readonly onCallRoleNames?: readonly string[];
}

/**
 * Where the incident commands (`npm run contain`, `npm run evidence`) keep what they collect from
 * a task: encrypted with a key of its own, versioned, TLS only, never public, with server access
 * logs, each object under Object Lock in governance mode for EVIDENCE_RETENTION_DAYS. The bucket
 * and key policies leave reading and writing to the on-call and break-glass roles (by
 * `aws:PrincipalArn`, so a role that does not exist yet breaks no deploy; an administrator reads
 * it by assuming one, which the trail records), deleting evidence to the break-glass roles, and
 * changing the bucket to those and CloudFormation's deploy role. Always retained: it outlives the
 * stack like the incident it documents.
 */
export class EvidenceBucket extends Construct {
  readonly bucket: s3.Bucket;
  readonly key: kms.IKey;

  constructor(scope: Construct, id: string, props: EvidenceBucketProps) {
    super(scope, id);
    const roles = protectionRoles(this);
    const breakGlass = props.breakGlassRoleNames.map(roles.breakGlass);
    const responders = [...breakGlass, ...(props.onCallRoleNames ?? []).map(roles.breakGlass)];
    const one = (values: readonly string[]) => (values.length === 1 ? values[0] : [...values]);

    const key = new ServiceKey(this, 'Key', { description: 'Evidence of security incidents (the evidence bucket)', services: ['s3'] }).key;
    key.addToResourcePolicy(denyAllBut(EVIDENCE_BUCKET_SIDS.keyUse, EVIDENCE_KEY_USE, responders));
    // The roles may not exist when this deploys (the break-glass role is made by hand): a
    // principal ARN of a missing role fails the policy, a condition on it does not.
    key.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: EVIDENCE_BUCKET_SIDS.keyGrant,
        principals: [new iam.AnyPrincipal()],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*', 'kms:DescribeKey'],
        resources: ['*'],
        conditions: { ArnEquals: { 'aws:PrincipalArn': one(responders) }, StringEquals: { 'kms:ViaService': `s3.${key.stack.region}.amazonaws.com` } },
      }),
    );
    this.key = key;

    const accessLogs = accessLogBucket(this, 'AccessLogs', { expirationDays: EVIDENCE_RETENTION_DAYS, removalPolicy: RemovalPolicy.RETAIN, of: 'the evidence bucket' });
    this.bucket = new s3.Bucket(this, 'Bucket', {
      encryption: s3.BucketEncryption.KMS,
      encryptionKey: key,
      bucketKeyEnabled: true,
      ...PRIVATE_BUCKET,
      serverAccessLogsBucket: accessLogs,
      serverAccessLogsPrefix: 'evidence/',
      removalPolicy: RemovalPolicy.RETAIN,
      objectLockEnabled: true,
      objectLockDefaultRetention: s3.ObjectLockRetention.governance(Duration.days(EVIDENCE_RETENTION_DAYS)),
      // Evidence is kept until someone decides otherwise; only what never finished uploading goes.
      lifecycleRules: [{ id: 'abort-incomplete-uploads', abortIncompleteMultipartUploadAfter: Duration.days(7) }],
    });
    const objects = this.bucket.arnForObjects('*');
    this.bucket.addToResourcePolicy(denyAllBut(EVIDENCE_BUCKET_SIDS.access, EVIDENCE_ACCESS, responders, [this.bucket.bucketArn, objects]));
    this.bucket.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: EVIDENCE_BUCKET_SIDS.grant,
        principals: [new iam.AnyPrincipal()],
        actions: [...EVIDENCE_ACCESS],
        resources: [this.bucket.bucketArn, objects],
        conditions: { ArnEquals: { 'aws:PrincipalArn': one(responders) } },
      }),
    );
    this.bucket.addToResourcePolicy(denyAllBut(EVIDENCE_BUCKET_SIDS.deletion, LOG_FILE_DELETION, breakGlass, [objects]));
    this.bucket.addToResourcePolicy(denyAllBut(EVIDENCE_BUCKET_SIDS.changes, TRAIL_BUCKET_CHANGES, [...breakGlass, roles.deployer], [this.bucket.bucketArn]));

    acknowledgeControls(this.bucket, {
      s3_event_notifications_enabled_check: 'Only the incident commands write here, during an incident; nothing acts on new evidence, and CloudTrail records the writes.',
    });
    Validations.of(this.bucket).acknowledge({
      id: 'NIST.800.53.R5-S3BucketReplicationEnabled',
      reason: 'Evidence is collected into the account of the incident; a copy in another region is not part of the baseline (docs/security.md, "Account baseline").',
    });
  }
}
