import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, S3Client, UploadPartCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { PART_BYTES, uploadStream } from '../../lambda/logical-backup/objects';
import { type Moto, startMoto } from '../support/moto';

/**
 * The dump's upload against moto's S3, with a bucket under Object Lock as prod's is. S3 refuses a
 * part for such a bucket without Content-MD5 or a checksum header; moto does not enforce that, so
 * the parts the job sends are recorded on their way to moto and their headers checked here.
 */
describe('the multipart upload of a dump', () => {
  let moto: Moto;
  let s3: S3Client;
  const bucket = `locked-dumps-${Date.now()}`;

  beforeAll(async () => {
    moto = await startMoto();
    s3 = new S3Client({ ...moto.clientConfig('eu-west-1'), forcePathStyle: true });
    await s3.send(new CreateBucketCommand({ Bucket: bucket, ObjectLockEnabledForBucket: true, CreateBucketConfiguration: { LocationConstraint: 'eu-west-1' } }));
  });
  afterAll(() => s3?.destroy());

  test('sends each part with its MD5, so a locked bucket takes it, and the object is the stream', async () => {
    const parts: UploadPartCommand['input'][] = [];
    const recording = {
      send: ((command: { input: unknown }) => {
        if (command instanceof UploadPartCommand) parts.push(command.input);
        return s3.send(command as never);
      }) as S3Client['send'],
    };
    // Two parts: a full one and the rest.
    const chunks = [Buffer.alloc(PART_BYTES, 7), Buffer.alloc(1000, 8)];
    const body = Buffer.concat(chunks);
    const bytes = await uploadStream(recording, { bucket, key: 'raw/2026-12-07T02-00-04Z.dump', metadata: { 'server-major': '17' } }, Readable.from(chunks));

    expect(bytes).toBe(body.length);
    expect(parts.map((p) => p.PartNumber)).toEqual([1, 2]);
    for (const part of parts)
      expect(part.ContentMD5).toBe(
        createHash('md5')
          .update(part.Body as Buffer)
          .digest('base64'),
      );
    const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'raw/2026-12-07T02-00-04Z.dump' }));
    expect(Buffer.from(await object.Body!.transformToByteArray()).equals(body)).toBe(true);
    expect(object.Metadata).toEqual({ 'server-major': '17' });
  });

  test('a writer that fails before the end leaves no object', async () => {
    await expect(
      uploadStream(s3, { bucket, key: 'raw/2026-12-08T02-00-04Z.dump', metadata: {} }, Readable.from([Buffer.from('partial')]), async () => {
        throw new Error('pg_dump exited 1');
      }),
    ).rejects.toThrow(/pg_dump exited 1/);
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'raw/2026-12-08' }));
    expect(listed.Contents ?? []).toEqual([]);
  });
});
