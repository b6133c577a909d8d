import { Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as cloudtrail from 'aws-cdk-lib/aws-cloudtrail';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { accessLogBucket } from '../shared/access-log-bucket';
import { acknowledgeControl, acknowledgeControls, BUCKET_CONTROLS } from '../shared/control-tower-checks';
import { denyAllBut, protectionRoles } from '../shared/deny-all-but';
import { acknowledgeLogGroupControls } from '../shared/log-group';
import { LogsKey } from '../shared/logs-key';
import { PROJECT } from '../shared/naming';
import { PRIVATE_BUCKET } from '../shared/private-bucket';
import { ACCOUNT_ACTIVITY_NAMESPACE, activityPattern, MAX_FILTER_PATTERN_LENGTH, TRAIL_ACTIVITIES } from './account-activity';

/** The trail's name: one per account, so a fixed name (the key policy names it). */
export const TRAIL_NAME = `${PROJECT}-account-trail`;

/** Days the trail's CloudWatch Logs copy is kept: long enough to investigate an alarm; the bucket keeps the record. */
export const TRAIL_LOG_RETENTION = logs.RetentionDays.THREE_MONTHS;

/**
 * What would destroy a log file before its time: deleting it (a delete marker hides it; deleting
 * the version destroys it), and, under Object Lock, shortening its retention or bypassing
 * governance mode. Nobody needs them: S3 Lifecycle expires log files inside S3, not through a
 * principal's request. Denied to all but the break-glass role.
 */
export const LOG_FILE_DELETION = ['s3:DeleteObject', 's3:DeleteObjectVersion', 's3:PutObjectRetention', 's3:BypassGovernanceRetention'] as const;

/**
 * What would destroy a log file without deleting it: writing over its key. In a versioned bucket
 * the original becomes a noncurrent version, which the lifecycle rule's noncurrent expiry then
 * removes for good (outside Object Lock, nothing keeps it); same-account replication into the
 * bucket writes over a key the same way. Denied to all but the services that deliver log files
 * (TRAIL_BUCKET_WRITERS) and the break-glass role.
 */
export const LOG_FILE_OVERWRITE = ['s3:PutObject', 's3:ReplicateObject'] as const;

/**
 * The services that write into a trail bucket: CloudTrail alone (log and digest files). AWS
 * Config delivers to the recorder's own bucket (config-recorder.ts), and the trail buckets'
 * server access logs go to `AccessLogs`; nothing else in the baseline names a trail bucket.
 * Excepted from LOG_FILE_OVERWRITE by `aws:PrincipalServiceName`; what they may write is held by
 * their own Allow statements (CloudTrail: as this trail, under AWSLogs/<account>/).
 */
export const TRAIL_BUCKET_WRITERS = ['cloudtrail.amazonaws.com'] as const;

/**
 * What would destroy log files through the bucket, or lift the protection above, or hide the
 * tampering: a lifecycle rule that expires them tomorrow, a policy without these statements,
 * versioning suspended (a delete or overwrite then destroys), a shorter default retention, the
 * server access logs turned off first. Denied to all but the break-glass role and
 * CloudFormation's deploy role of the stack's region, which writes all of them from the template
 * on the deploys that change them.
 */
export const TRAIL_BUCKET_CHANGES = [
  's3:PutLifecycleConfiguration',
  's3:PutBucketPolicy',
  's3:DeleteBucketPolicy',
  's3:PutBucketVersioning',
  's3:PutBucketObjectLockConfiguration',
  's3:PutBucketLogging',
] as const;

/** The statement ids of the protections, in the policy of every bucket holding log files. */
export const TRAIL_BUCKET_PROTECTION_SIDS = {
  deletion: 'OnlyBreakGlassDeletesLogFiles',
  overwrite: 'OnlyTheTrailWritesLogFiles',
  changes: 'OnlyDeploysAndBreakGlassChangeTheBucket',
} as const;

/**
 * The metric counting each assumption of a break-glass role, in every region (the trail records
 * them all; EventBridge sees an AssumeRole only in the region STS served it): what the stage's
 * break-glass alarm reads (lib/ops/operator-role-use.ts).
 */
export const BREAK_GLASS_ASSUMED_METRIC = 'BreakGlassAssumed';

/** The filter pattern of BREAK_GLASS_ASSUMED_METRIC: AssumeRole of any of the roles (ARNs), allowed or refused. */
export function breakGlassAssumedPattern(roleArns: readonly string[]): string {
  return `{ ($.eventSource = "sts.amazonaws.com") && ($.eventName = "AssumeRole" || $.eventName = "AssumeRoleWithSAML" || $.eventName = "AssumeRoleWithWebIdentity") && (${roleArns.map((arn) => `($.requestParameters.roleArn = "${arn}")`).join(' || ')}) }`;
}

export interface AuditTrailProps {
  readonly retentionDays: number;
  readonly archiveAfterDays: number;
  /** S3 Object Lock on the log files: where the trail writes and which bucket is locked (lib/config/schema.ts, `baseline.trail.objectLock`). */
  readonly objectLock: 'off' | 'governance' | 'locked-bucket';
  /** S3 ARN prefixes of the buckets whose object-level events are recorded ("arn:aws:s3:::prod-data-uploadsbucket"). */
  readonly dataEventBucketPrefixes: readonly string[];
  /** The names of the roles CloudFormation deploys with in this account (one per region its stacks use): their changes are counted apart. */
  readonly deployRoles: readonly string[];
  /** The break-glass roles (names) of the stages in the account: they alone may delete log files. */
  readonly breakGlassRoleNames: readonly string[];
  readonly removalPolicy: RemovalPolicy;
}

/**
 * The account's CloudTrail trail: every region, management events (and the object-level events
 * of the named buckets), log file validation, log files encrypted with a key of their own, in a
 * versioned, TLS-only bucket with server access logs, moved to Glacier Instant Retrieval and
 * expired on schedule, under S3 Object Lock where asked, whose policy leaves deleting log files
 * to the break-glass role; and a copy in CloudWatch Logs whose metric filters count the CIS
 * checks (account-activity.ts) the stage alarms watch.
 */
export class AuditTrail extends Construct {
  readonly trail: cloudtrail.Trail;
  /** The first trail bucket (construct id `Bucket`): the trail's, unless it moved to `lockedBucket`. */
  readonly bucket: s3.Bucket;
  /** The bucket created with Object Lock, where the trail writes under `objectLock: "locked-bucket"`. */
  readonly lockedBucket?: s3.Bucket;
  /** The bucket the trail writes to. */
  readonly logBucket: s3.Bucket;
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
    // The break-glass roles alone may delete log files; they and this region's deploy role may still change the buckets.
    const roles = protectionRoles(this);
    const breakGlass = props.breakGlassRoleNames.map(roles.breakGlass);
    // Log files are KMS-encrypted by CloudTrail itself (the trail's key); a bucket's default
    // stays SSE-S3 for what CloudTrail writes without it (digest files): an SSE-KMS default would
    // ask the key for an S3 encryption context the key policy does not grant CloudTrail.
    const logFileBucket = (bucketId: string, locked: boolean, accessLogPrefix: string): s3.Bucket => {
      const bucket = new s3.Bucket(this, bucketId, {
        encryption: s3.BucketEncryption.S3_MANAGED,
        ...PRIVATE_BUCKET,
        serverAccessLogsBucket: accessLogs,
        serverAccessLogsPrefix: accessLogPrefix,
        removalPolicy: props.removalPolicy,
        ...(locked ? { objectLockEnabled: true, objectLockDefaultRetention: s3.ObjectLockRetention.governance(Duration.days(props.retentionDays)) } : {}),
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
      bucket.addToResourcePolicy(denyAllBut(TRAIL_BUCKET_PROTECTION_SIDS.deletion, LOG_FILE_DELETION, breakGlass, [bucket.arnForObjects('*')]));
      bucket.addToResourcePolicy(denyAllBut(TRAIL_BUCKET_PROTECTION_SIDS.overwrite, LOG_FILE_OVERWRITE, breakGlass, [bucket.arnForObjects('*')], TRAIL_BUCKET_WRITERS));
      bucket.addToResourcePolicy(denyAllBut(TRAIL_BUCKET_PROTECTION_SIDS.changes, TRAIL_BUCKET_CHANGES, [...breakGlass, roles.deployer], [bucket.bucketArn]));
      const encryptedByTheTrail =
        "Log files are encrypted by CloudTrail with the trail's own KMS key; the SSE-S3 default covers the digest files, which CloudTrail writes without it.";
      acknowledgeControls(bucket, { ...BUCKET_CONTROLS.serviceWritten, s3_bucket_default_encryption_kms_check: encryptedByTheTrail });
      Validations.of(bucket).acknowledge({ id: 'NIST.800.53.R5-S3DefaultEncryptionKMS', reason: encryptedByTheTrail });
      Validations.of(bucket).acknowledge({
        id: 'NIST.800.53.R5-S3BucketReplicationEnabled',
        reason: 'The trail records every region of the account into this one bucket; a copy in another region is not part of the baseline (docs/security.md, "Account baseline").',
      });
      return bucket;
    };

    // CloudFormation locks a bucket only when it creates it (a change of ObjectLockEnabled replaces
    // the bucket): "governance" creates `Bucket` locked; an account whose trail already writes to
    // an unlocked `Bucket` gets the lock in a new bucket ("locked-bucket"), and `Bucket` stays
    // (retained where the account keeps data) with the log files written before the move, until
    // they expire.
    this.bucket = logFileBucket('Bucket', props.objectLock === 'governance', 'trail/');
    if (props.objectLock === 'locked-bucket') this.lockedBucket = logFileBucket('LockedBucket', true, 'trail-locked/');
    this.logBucket = this.lockedBucket ?? this.bucket;
    if (props.objectLock !== 'governance') {
      acknowledgeControl(
        this.bucket,
        's3_bucket_object_lock_enabled_check',
        this.lockedBucket
          ? 'The log files written before the trail moved to its locked bucket: locking this bucket through CloudFormation would replace it. They expire on schedule; the bucket policy leaves deleting or overwriting them to the break-glass role.'
          : 'Object Lock is a choice of the account baseline (baseline.trail.objectLock); without it, versioning, log file validation and the bucket policy (deleting and overwriting left to the break-glass role) protect the log files.',
      );
    }

    // The statements CloudTrail documents for its bucket, held to this trail (aws:SourceArn: a
    // multi-region trail writes as its home region's ARN). CDK's Trail would add the same without
    // the condition to a bucket it is handed, so it gets a reference it cannot add to.
    this.logBucket.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'TheTrailReadsTheBucketAcl',
        principals: [cloudTrailPrincipal],
        actions: ['s3:GetBucketAcl'],
        resources: [this.logBucket.bucketArn],
        conditions: { StringEquals: { 'aws:SourceArn': trailArn } },
      }),
    );
    this.logBucket.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'TheTrailWritesLogFiles',
        principals: [cloudTrailPrincipal],
        actions: ['s3:PutObject'],
        resources: [this.logBucket.arnForObjects(`AWSLogs/${account}/*`)],
        conditions: { StringEquals: { 's3:x-amz-acl': 'bucket-owner-full-control', 'aws:SourceArn': trailArn } },
      }),
    );
    const trailTarget = s3.Bucket.fromBucketAttributes(this, 'TrailTarget', { bucketArn: this.logBucket.bucketArn, bucketName: this.logBucket.bucketName });

    const logsKey = new LogsKey(this, 'LogsKey', { removalPolicy: RemovalPolicy.RETAIN }).key;
    this.logGroup = new logs.LogGroup(this, 'Logs', { encryptionKey: logsKey, retention: TRAIL_LOG_RETENTION, removalPolicy: props.removalPolicy });
    acknowledgeLogGroupControls(this.logGroup, logsKey, TRAIL_LOG_RETENTION);

    this.trail = new cloudtrail.Trail(this, 'Trail', {
      trailName: TRAIL_NAME,
      bucket: trailTarget,
      encryptionKey: this.key,
      isMultiRegionTrail: true,
      includeGlobalServiceEvents: true,
      enableFileValidation: true,
      sendToCloudWatchLogs: true,
      cloudWatchLogGroup: this.logGroup,
      cloudWatchLogsRetention: TRAIL_LOG_RETENTION,
    });
    // CloudTrail checks the bucket policy when the trail is created or moved; and the first
    // bucket's policy loses CloudTrail's statements only once the trail has moved off it.
    this.trail.node.addDependency(this.logBucket.policy!);
    if (this.lockedBucket) this.bucket.policy!.node.addDependency(this.trail);
    // The role CloudTrail writes the CloudWatch Logs copy with trusts CloudTrail without
    // aws:SourceArn or aws:SourceAccount: CloudTrail documents that this role does not support
    // them, and a condition it does not meet would stop the copy and every alarm on it.
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

    if (breakGlass.length > 0) {
      new logs.MetricFilter(this, BREAK_GLASS_ASSUMED_METRIC, {
        logGroup: this.logGroup,
        filterPattern: logs.FilterPattern.literal(breakGlassAssumedPattern(breakGlass)),
        metricNamespace: ACCOUNT_ACTIVITY_NAMESPACE,
        metricName: BREAK_GLASS_ASSUMED_METRIC,
        metricValue: '1',
      });
    }
    for (const activity of TRAIL_ACTIVITIES) {
      const pattern = activityPattern(activity, props.deployRoles);
      if (pattern.length > MAX_FILTER_PATTERN_LENGTH) {
        throw new Error(
          `The ${activity.metric} metric filter of ${account} is ${pattern.length} characters with the deploy roles of ${props.deployRoles.length} regions, over CloudWatch Logs' limit of ${MAX_FILTER_PATTERN_LENGTH}. Fix: deploy the account's stacks to fewer regions, or split the check's event names in lib/baseline/account-activity.ts over two filters`,
        );
      }
      new logs.MetricFilter(this, activity.metric, {
        logGroup: this.logGroup,
        filterPattern: logs.FilterPattern.literal(pattern),
        metricNamespace: ACCOUNT_ACTIVITY_NAMESPACE,
        metricName: activity.metric,
        metricValue: '1',
      });
    }
  }
}
