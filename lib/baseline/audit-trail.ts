import { Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as cloudtrail from 'aws-cdk-lib/aws-cloudtrail';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { accessLogBucket } from '../shared/access-log-bucket';
import { acknowledgeControl, acknowledgeControls, BUCKET_CONTROLS } from '../shared/control-tower-checks';
import { acknowledgeLogGroupControls } from '../shared/log-group';
import { LogsKey } from '../shared/logs-key';
import { PROJECT } from '../shared/naming';
import { PRIVATE_BUCKET } from '../shared/private-bucket';
import { ACCOUNT_ACTIVITIES, ACCOUNT_ACTIVITY_NAMESPACE, activityPattern } from './account-activity';

/** The trail's name: one per account, so a fixed name (the key policy names it). */
export const TRAIL_NAME = `${PROJECT}-account-trail`;

/** Days the trail's CloudWatch Logs copy is kept: long enough to investigate an alarm; the bucket keeps the record. */
export const TRAIL_LOG_RETENTION = logs.RetentionDays.THREE_MONTHS;

export interface AuditTrailProps {
  readonly retentionDays: number;
  readonly archiveAfterDays: number;
  readonly objectLock: 'off' | 'governance';
  /** S3 ARN prefixes of the buckets whose object-level events are recorded ("arn:aws:s3:::prod-data-uploadsbucket"). */
  readonly dataEventBucketPrefixes: readonly string[];
  /** The name (with `*` wildcards) of the roles CloudFormation deploys with in this account: their changes are not alarmed. */
  readonly deployRole: string;
  readonly removalPolicy: RemovalPolicy;
}

/**
 * The account's CloudTrail trail: every region, management events (and the object-level events
 * of the named buckets), log file validation, log files encrypted with a key of their own, in a
 * versioned, TLS-only bucket with server access logs, moved to Glacier Instant Retrieval and
 * expired on schedule, under S3 Object Lock where asked; and a copy in CloudWatch Logs whose
 * metric filters count the CIS checks (account-activity.ts) the stage alarms watch.
 */
export class AuditTrail extends Construct {
  readonly trail: cloudtrail.Trail;
  readonly bucket: s3.Bucket;
  readonly logGroup: logs.LogGroup;
  readonly key: kms.Key;

  constructor(scope: Construct, id: string, props: AuditTrailProps) {
    super(scope, id);
    const { account, region, partition } = Stack.of(this);
    const trailArn = `arn:${partition}:cloudtrail:${region}:${account}:trail/${TRAIL_NAME}`;

    // CloudTrail encrypts each log file with this key (the policy CloudTrail documents: the trail
    // may encrypt, principals of the account may decrypt the account's log files).
    this.key = new kms.Key(this, 'Key', { description: 'CloudTrail log files of the account', enableKeyRotation: true, removalPolicy: RemovalPolicy.RETAIN });
    const cloudTrailPrincipal = new iam.ServicePrincipal('cloudtrail.amazonaws.com');
    const contextOfThisAccount = { 'kms:EncryptionContext:aws:cloudtrail:arn': `arn:${partition}:cloudtrail:*:${account}:trail/*` };
    this.key.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'TheTrailEncryptsLogFiles',
        principals: [cloudTrailPrincipal],
        actions: ['kms:GenerateDataKey*'],
        resources: ['*'],
        conditions: { StringLike: contextOfThisAccount, StringEquals: { 'aws:SourceArn': trailArn } },
      }),
    );
    this.key.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'TheTrailDescribesTheKey',
        principals: [cloudTrailPrincipal],
        actions: ['kms:DescribeKey'],
        resources: ['*'],
        conditions: { StringEquals: { 'aws:SourceArn': trailArn } },
      }),
    );
    this.key.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'TheAccountReadsItsLogFiles',
        principals: [new iam.AccountRootPrincipal()],
        actions: ['kms:Decrypt', 'kms:ReEncryptFrom'],
        resources: ['*'],
        conditions: { StringEquals: { 'kms:CallerAccount': account }, StringLike: contextOfThisAccount },
      }),
    );

    const accessLogs = accessLogBucket(this, 'AccessLogs', { expirationDays: props.retentionDays, removalPolicy: props.removalPolicy, of: 'the trail bucket' });

    // Log files are KMS-encrypted by CloudTrail itself (the trail's key); the bucket's default
    // stays SSE-S3 for what CloudTrail writes without it (digest files): an SSE-KMS default would
    // ask the key for an S3 encryption context the key policy does not grant CloudTrail.
    this.bucket = new s3.Bucket(this, 'Bucket', {
      encryption: s3.BucketEncryption.S3_MANAGED,
      ...PRIVATE_BUCKET,
      serverAccessLogsBucket: accessLogs,
      serverAccessLogsPrefix: 'trail/',
      removalPolicy: props.removalPolicy,
      ...(props.objectLock === 'governance' ? { objectLockEnabled: true, objectLockDefaultRetention: s3.ObjectLockRetention.governance(Duration.days(props.retentionDays)) } : {}),
      lifecycleRules: [
        {
          id: 'archive-then-expire-log-files',
          transitions: [{ storageClass: s3.StorageClass.GLACIER_INSTANT_RETRIEVAL, transitionAfter: Duration.days(props.archiveAfterDays) }],
          expiration: Duration.days(props.retentionDays),
          noncurrentVersionExpiration: Duration.days(30),
          abortIncompleteMultipartUploadAfter: Duration.days(7),
        },
      ],
    });
    const encryptedByTheTrail =
      "Log files are encrypted by CloudTrail with the trail's own KMS key; the SSE-S3 default covers the digest files, which CloudTrail writes without it.";
    acknowledgeControls(this.bucket, { ...BUCKET_CONTROLS.serviceWritten, s3_bucket_default_encryption_kms_check: encryptedByTheTrail });
    Validations.of(this.bucket).acknowledge({ id: 'NIST.800.53.R5-S3DefaultEncryptionKMS', reason: encryptedByTheTrail });
    if (props.objectLock === 'off') {
      acknowledgeControl(
        this.bucket,
        's3_bucket_object_lock_enabled_check',
        'Object Lock is a choice of the account baseline (baseline.trail.objectLock: "governance"); without it, versioning and log file validation show any change to a log file.',
      );
    }
    Validations.of(this.bucket).acknowledge({
      id: 'NIST.800.53.R5-S3BucketReplicationEnabled',
      reason: 'The trail records every region of the account into this one bucket; a copy in another region is not part of the baseline (docs/security.md, "Account baseline").',
    });

    const logsKey = new LogsKey(this, 'LogsKey', { removalPolicy: RemovalPolicy.RETAIN }).key;
    this.logGroup = new logs.LogGroup(this, 'Logs', { encryptionKey: logsKey, retention: TRAIL_LOG_RETENTION, removalPolicy: props.removalPolicy });
    acknowledgeLogGroupControls(this.logGroup, logsKey, TRAIL_LOG_RETENTION);

    this.trail = new cloudtrail.Trail(this, 'Trail', {
      trailName: TRAIL_NAME,
      bucket: this.bucket,
      encryptionKey: this.key,
      isMultiRegionTrail: true,
      includeGlobalServiceEvents: true,
      enableFileValidation: true,
      sendToCloudWatchLogs: true,
      cloudWatchLogGroup: this.logGroup,
      cloudWatchLogsRetention: TRAIL_LOG_RETENTION,
    });
    const logsRolePolicy = this.trail.node.tryFindChild('LogsRole')?.node.tryFindChild('DefaultPolicy');
    if (logsRolePolicy) {
      Validations.of(logsRolePolicy).acknowledge({
        id: 'NIST.800.53.R5-IAMNoInlinePolicy',
        reason: "CloudTrail's role for its CloudWatch Logs copy: CDK writes its one grant (create streams and put events in the trail's log group) inline.",
      });
    }
    // Object-level events of the uploads buckets: their names are generated, so the selector
    // matches their ARN prefix, which only advanced event selectors can; those then have to
    // select the management events too.
    if (props.dataEventBucketPrefixes.length > 0) {
      const cfn = this.trail.node.defaultChild as cloudtrail.CfnTrail;
      cfn.addPropertyDeletionOverride('EventSelectors');
      cfn.addPropertyOverride('AdvancedEventSelectors', [
        { Name: 'Management events', FieldSelectors: [{ Field: 'eventCategory', Equals: ['Management'] }] },
        {
          Name: 'Object events of the uploads buckets',
          FieldSelectors: [
            { Field: 'eventCategory', Equals: ['Data'] },
            { Field: 'resources.type', Equals: ['AWS::S3::Object'] },
            { Field: 'resources.ARN', StartsWith: props.dataEventBucketPrefixes.map((prefix) => `${prefix}`) },
          ],
        },
      ]);
    }

    for (const activity of ACCOUNT_ACTIVITIES) {
      new logs.MetricFilter(this, activity.metric, {
        logGroup: this.logGroup,
        filterPattern: logs.FilterPattern.literal(activityPattern(activity, props.deployRole)),
        metricNamespace: ACCOUNT_ACTIVITY_NAMESPACE,
        metricName: activity.metric,
        metricValue: '1',
      });
    }
  }
}
