import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { type CloudWatchClient, PutMetricDataCommand, type StandardUnit } from '@aws-sdk/client-cloudwatch';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  type GetObjectCommandOutput,
  HeadObjectCommand,
  ListObjectsV2Command,
  type S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { DUMP_METRICS_NAMESPACE, keyTime } from '../../lib/data/logical-backup-names';

type S3 = Pick<S3Client, 'send'>;

/**
 * How far ahead of the reader's clock a key's time may be and still count as now: the job names
 * its objects with the clock of the task it ran in. Further ahead, the key was not written by the
 * job, and trusting it would keep an age alarm quiet until that date.
 */
export const CLOCK_SKEW_MS = 5 * 60_000;

export interface Newest {
  /** The newest key the job wrote under the prefix, if any. */
  readonly key?: string;
  readonly time?: Date;
  /** Keys under the prefix whose name holds no time the job writes (or one ahead of `now`, where given): left out. */
  readonly ignored: readonly string[];
}

/**
 * The newest object the job wrote under `prefix` (named by `dumpKey` or `checkKey`, so by the time
 * in its name), across every page of the listing. The one reader of "the newest dump" for the job,
 * its age function and the operator commands, so each means the same object. `extension` keeps only
 * keys ending so (`.dump`); `now` leaves out keys too far ahead of it.
 */
export async function newestUnder(s3: S3, bucket: string, prefix: string, options: { readonly extension?: string; readonly now?: Date } = {}): Promise<Newest> {
  let newest: { key: string; time: Date } | undefined;
  const ignored: string[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
    for (const { Key: key } of page.Contents ?? []) {
      if (!key) continue;
      const time = keyTime(prefix, key);
      const ahead = options.now !== undefined && time !== undefined && time.getTime() - options.now.getTime() > CLOCK_SKEW_MS;
      if (!time || ahead || (options.extension !== undefined && !key.endsWith(options.extension))) ignored.push(key);
      else if (!newest || time > newest.time) newest = { key, time };
    }
    token = page.IsTruncated === false ? undefined : page.NextContinuationToken;
  } while (token);
  return { ...newest, ignored };
}

/** The newest dump under a prefix; fails when there is none. */
export async function newestKey(s3: S3, bucket: string, prefix: string): Promise<string> {
  const { key } = await newestUnder(s3, bucket, prefix, { extension: '.dump' });
  if (!key) throw new Error(`There is no dump under s3://${bucket}/${prefix}: the nightly dump has not run or has failed (its alarm says which).`);
  return key;
}

/** An object's user metadata (`DUMP_METADATA`); fails naming the object when it is missing. */
export async function dumpMetadata(s3: S3, bucket: string, key: string): Promise<Record<string, string>> {
  try {
    return (await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }))).Metadata ?? {};
  } catch (error) {
    throw new Error(`Cannot read s3://${bucket}/${key}: ${(error as Error).name} ${(error as Error).message}`);
  }
}

/** Downloads an object to a file; returns its user metadata. */
export async function download(s3: S3, bucket: string, key: string, file: string): Promise<Record<string, string>> {
  let object: GetObjectCommandOutput;
  try {
    object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  } catch (error) {
    throw new Error(`Cannot download s3://${bucket}/${key}: ${(error as Error).name} ${(error as Error).message}`);
  }
  await pipeline(object.Body as Readable, createWriteStream(file));
  return object.Metadata ?? {};
}

/** Part size of the multipart upload: S3 takes up to 10,000 parts, so 16 MiB parts hold dumps up to 156 GiB. */
export const PART_BYTES = 16 * 1024 * 1024;

/**
 * Uploads a stream as one object, in parts (its length is unknown until it ends). `beforeComplete`
 * runs once the stream has ended: when it throws (the program writing the stream failed), the
 * upload is aborted and no object appears. Returns the object's size.
 */
export async function uploadStream(
  s3: S3,
  target: { bucket: string; key: string; metadata: Record<string, string>; kmsKeyId?: string },
  body: Readable,
  beforeComplete: () => Promise<void> = async () => {},
): Promise<number> {
  const { bucket, key } = target;
  // A named key replaces the bucket's default, without an S3 bucket key: the encryption context
  // then names the object, which the key policy's grants can be held to.
  const encryption = target.kmsKeyId ? { ServerSideEncryption: 'aws:kms' as const, SSEKMSKeyId: target.kmsKeyId, BucketKeyEnabled: false } : {};
  const { UploadId } = await s3.send(
    new CreateMultipartUploadCommand({ Bucket: bucket, Key: key, Metadata: target.metadata, ContentType: 'application/octet-stream', ...encryption }),
  );
  const parts: { ETag: string; PartNumber: number }[] = [];
  let bytes = 0;
  const sendPart = async (data: Buffer) => {
    const PartNumber = parts.length + 1;
    // S3 refuses a part for an Object Lock bucket without an integrity header (Content-MD5 or a
    // checksum); the part's MD5 is sent whatever the SDK's checksum defaults are.
    const ContentMD5 = createHash('md5').update(data).digest('base64');
    const { ETag } = await s3.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId, PartNumber, Body: data, ContentMD5 }));
    parts.push({ ETag: ETag!, PartNumber });
  };
  try {
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    for await (const chunk of body) {
      const buffer = chunk as Buffer;
      pending.push(buffer);
      pendingBytes += buffer.length;
      bytes += buffer.length;
      if (pendingBytes >= PART_BYTES) {
        await sendPart(Buffer.concat(pending));
        pending = [];
        pendingBytes = 0;
      }
    }
    if (pendingBytes > 0 || parts.length === 0) await sendPart(Buffer.concat(pending));
    await beforeComplete();
    await s3.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId, MultipartUpload: { Parts: parts } }));
  } catch (error) {
    await s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId })).catch(() => undefined);
    throw error;
  }
  return bytes;
}

/** Publishes the job's metrics (dimension Stage). */
export async function publish(
  cloudwatch: Pick<CloudWatchClient, 'send'>,
  stage: string,
  at: Date,
  metrics: readonly { name: string; value: number; unit: StandardUnit }[],
): Promise<void> {
  await cloudwatch.send(
    new PutMetricDataCommand({
      Namespace: DUMP_METRICS_NAMESPACE,
      MetricData: metrics.map((m) => ({ MetricName: m.name, Dimensions: [{ Name: 'Stage', Value: stage }], Value: m.value, Unit: m.unit, Timestamp: at })),
    }),
  );
}
