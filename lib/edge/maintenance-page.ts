import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Duration, type RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as cr from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';
import { acknowledgeControl, acknowledgeControls } from '../shared/control-tower-checks';
import { type LogSettings, stageLogGroup } from '../shared/log-group';
import { PRIVATE_BUCKET } from '../shared/private-bucket';

/** The viewer path under which the distribution serves the maintenance page's bucket. */
export const MAINTENANCE_PATH_PATTERN = '/_maintenance/*';
/** The page CloudFront answers 502, 503 and 504 with (a path of MAINTENANCE_PATH_PATTERN). */
export const MAINTENANCE_PAGE_PATH = '/_maintenance/index.html';
/** The origin errors the page stands in for: the load balancer's own (502, 503: no healthy target, or the idle DR listener) and CloudFront's when the origin does not answer (502, 504). */
export const MAINTENANCE_ERROR_CODES = [502, 503, 504] as const;
/**
 * Seconds CloudFront keeps an error before asking the origin again: short, so the site is back
 * within seconds of recovering. CloudFront's own default is also 10 s (developer guide, "Control
 * how long CloudFront caches errors"); it is stated here so a change of that default changes nothing.
 */
export const ERROR_CACHING_SECONDS = 10;
/**
 * How long an edge keeps the page itself: a changed page reaches every edge within five
 * minutes without an invalidation; during an outage an edge asks S3 for it once in that time.
 */
const PAGE_MAX_AGE_SECONDS = 300;

/** The page as the repository holds it: plain HTML, no scripts, nothing loaded from elsewhere. */
export function maintenancePageHtml(): string {
  return readFileSync(join(__dirname, 'maintenance', 'index.html'), 'utf8');
}

export interface MaintenancePageProps extends LogSettings {
  /** What happens to the bucket when it leaves the stack. */
  readonly removalPolicy: RemovalPolicy;
}

/**
 * The status page viewers see instead of a gateway error while the stage moves between regions
 * or when its origin fails: a private bucket in us-east-1 (SSE-S3, no public access, TLS only,
 * read by CloudFront alone through origin access control, which SiteDistribution sets up) holding
 * the one page, `lib/edge/maintenance/index.html`.
 *
 * The page is written by a CDK AwsCustomResource making one S3 PutObject call with the page as
 * its body, on every deploy that changes the page. Chosen over aws-s3-deployment's
 * BucketDeployment, which copies a zipped asset with the AWS CLI: that needs a Python function
 * and a Lambda layer of the AWS CLI (a bundle of tens of MB uploaded to each deploy's asset
 * bucket) to write one small file, where AwsCustomResource is one Node.js function from
 * aws-cdk-lib calling the SDK that Lambda's runtime already has.
 */
export class MaintenancePage extends Construct {
  readonly bucket: s3.Bucket;

  constructor(scope: Construct, id: string, props: MaintenancePageProps) {
    super(scope, id);
    this.bucket = new s3.Bucket(this, 'Bucket', {
      encryption: s3.BucketEncryption.S3_MANAGED,
      ...PRIVATE_BUCKET,
      removalPolicy: props.removalPolicy,
      // Each deploy that changes the page leaves the previous one as an old version.
      lifecycleRules: [{ id: 'expire-old-pages', noncurrentVersionExpiration: Duration.days(1), abortIncompleteMultipartUploadAfter: Duration.days(1) }],
    });
    this.acknowledgeBucketFindings();

    const key = MAINTENANCE_PAGE_PATH.slice(1);
    const put: cr.AwsSdkCall = {
      service: 's3',
      action: 'PutObject',
      parameters: {
        Bucket: this.bucket.bucketName,
        Key: key,
        Body: maintenancePageHtml(),
        ContentType: 'text/html; charset=utf-8',
        CacheControl: `max-age=${PAGE_MAX_AGE_SECONDS}`,
      },
      physicalResourceId: cr.PhysicalResourceId.of(key),
      outputPaths: ['ETag'],
    };
    const writer = new cr.AwsCustomResource(this, 'Page', {
      resourceType: 'Custom::MaintenancePage',
      onCreate: put,
      onUpdate: put,
      policy: cr.AwsCustomResourcePolicy.fromStatements([new iam.PolicyStatement({ actions: ['s3:PutObject'], resources: [this.bucket.arnForObjects(key)] })]),
      installLatestAwsSdk: false,
      logGroup: stageLogGroup(this, 'WriterLogs', props),
      timeout: Duration.minutes(1),
    });
    this.acknowledgeWriterFindings(writer);
  }

  private acknowledgeBucketFindings(): void {
    const bucket = this.bucket;
    const generated = 'The bucket holds one page that every deploy writes from the repository; nothing in it is data to recover or keep elsewhere.';
    const reads =
      'CloudFront is its only reader (origin access control, its requests in the distribution access logs) and the deploy its only writer (CloudTrail records the call): access logs would add a bucket of their own for a page.';
    const sseS3 =
      'SSE-S3: the page is what every viewer may read, and a KMS key would add a key policy for CloudFront to decrypt with and a monthly key charge, protecting nothing secret.';
    for (const [id, reason] of [
      ['AwsSolutions-S1', reads],
      ['NIST.800.53.R5-S3BucketLoggingEnabled', reads],
      ['NIST.800.53.R5-S3DefaultEncryptionKMS', sseS3],
      ['NIST.800.53.R5-S3BucketReplicationEnabled', generated],
    ] as const) {
      Validations.of(bucket).acknowledge({ id, reason });
    }
    acknowledgeControls(bucket, {
      s3_bucket_default_encryption_kms_check: sseS3,
      s3_bucket_logging_enabled_check: reads,
      s3_bucket_object_lock_enabled_check: generated,
      s3_event_notifications_enabled_check: 'Only the deploy writes the page; nothing acts on a new version of it.',
    });
  }

  /** The findings on the function CDK builds for AwsCustomResource (one per stack), its role and the grant to write the page. */
  private acknowledgeWriterFindings(writer: cr.AwsCustomResource): void {
    const stack = Stack.of(this);
    const fn = stack.node.findChild(`AWS${cr.AwsCustomResource.PROVIDER_FUNCTION_UUID.replace(/-/g, '')}`);
    const deployOnly = 'It runs when a deploy changes the maintenance page: one S3 PutObject call, answered to CloudFormation.';
    for (const [id, reason] of [
      [
        'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
        'The function CDK builds for AwsCustomResource uses the AWS-maintained basic execution policy to write its logs.',
      ],
      ['NIST.800.53.R5-LambdaConcurrency', `${deployOnly} Reserved concurrency would only take from the account pool.`],
      ['NIST.800.53.R5-LambdaDLQ', `${deployOnly} CloudFormation records its failure; a DLQ would never be read.`],
      ['NIST.800.53.R5-LambdaInsideVPC', `${deployOnly} It reaches S3's public endpoint; the edge stack has no VPC in us-east-1.`],
    ] as const) {
      Validations.of(fn).acknowledge({ id, reason });
    }
    acknowledgeControl(fn, 'lambda_inside_vpc_check', `${deployOnly} It reaches S3's public endpoint; the edge stack has no VPC in us-east-1.`);
    Validations.of(writer).acknowledge({
      id: 'NIST.800.53.R5-IAMNoInlinePolicy',
      reason: "CDK writes AwsCustomResource's grant as an inline policy on its function's role; it allows s3:PutObject on the page's key alone.",
    });
  }
}
