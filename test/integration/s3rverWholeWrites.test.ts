/**
 * The local S3 (scripts/local/s3.ts, every s3rver of the tests and `npm start`) shows a PUT whole
 * or not at all, as S3 does: readers of an object being overwritten get the old bytes or the new,
 * never a prefix (s3rver alone wrote in place: a batch run's state read mid-rewrite was cut short).
 */
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { type S3rverHandle, startS3rver } from '../helpers/s3rver.js';

let s3: S3rverHandle;
let client: S3Client;
beforeAll(async () => {
  s3 = await startS3rver();
  client = new S3Client(s3.s3Options);
});
afterAll(async () => {
  client.destroy();
  await s3.stop();
});

test('an object read while it is overwritten is always one whole version', async () => {
  // Versions of different lengths (up to 2 MiB), each valid JSON whose length says it is whole.
  const versions = [1, 40, 400, 2000].map((kib, i) => JSON.stringify({ i, pad: 'x'.repeat(kib * 1024) }));
  const key = 'state/run.json';
  await client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: key, Body: versions[0] }));
  let writing = true;
  const writer = (async () => {
    for (let n = 0; n < 60; n++) await client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: key, Body: versions[n % versions.length] }));
    writing = false;
  })();
  const seen: string[] = [];
  while (writing) {
    const answer = await client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: key }));
    seen.push(await answer.Body!.transformToString());
  }
  await writer;
  const torn = seen.filter((text) => !versions.includes(text));
  expect(seen.length).toBeGreaterThan(10);
  expect(torn.map((text) => text.length)).toEqual([]);
}, 60_000);

test('a multipart upload completes to the parts it was given, whole', async () => {
  const { Upload } = await import('@aws-sdk/lib-storage');
  const body = Buffer.alloc(11 * 1024 * 1024);
  for (let i = 0; i < body.length; i += 4) body.writeUInt32LE(i, i);
  await new Upload({ client, params: { Bucket: s3.bucket, Key: 'big.bin', Body: body }, partSize: 5 * 1024 * 1024 }).done();
  const answer = await client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: 'big.bin' }));
  expect(Buffer.from(await answer.Body!.transformToByteArray()).equals(body)).toBe(true);
}, 60_000);
