/**
 * Amazon S3 (or any S3-compatible server) as the object store, through AWS SDK v3.
 * URI: s3://bucket/prefix. Create-only writes use If-None-Match: * (honoured by S3 since 2024-08),
 * replace-only writes If-Match: <etag> (since 2024-11).
 */
import type { S3Client, S3ClientConfig } from '@aws-sdk/client-s3';
import { PassThrough, Readable } from 'node:stream';
import { ConflictError, NotFoundError, ObjectReadError } from '../errors.js';
import { concatSteps } from './concatPlan.js';
import { ConcatUnsupportedError, ObjectChangedError, ObjectGoneError } from './objectStore.js';
import type { ConcatOptions, DeleteOptions, GetStreamOptions, ListOptions, ListPage, ObjectInfo, ObjectStore, PutOptions } from './objectStore.js';

export interface S3StoreOptions {
  endpoint?: string;
  forcePathStyle?: boolean;
  region?: string;
  /** The environment's keys (lib/config.ts), or an S3-compatible server's; unset: the SDK's default chain. */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** Attempts per call and timeouts; unset: 3 attempts, 1 s to connect, 5 s of silence on a socket. */
  retry?: { maxAttempts: number; connectionTimeoutMs: number; socketTimeoutMs: number };
}

const DEFAULT_RETRY = { maxAttempts: 3, connectionTimeoutMs: 1000, socketTimeoutMs: 5000 };

type Sdk = typeof import('@aws-sdk/client-s3');

/**
 * The SDK is imported on first use, not at module load: it costs ~250 ms to import, and a
 * function serving from a folder store (invoke local, offline, tests) should not pay for it.
 */
let sdk: Promise<Sdk> | undefined;
const loadSdk = (): Promise<Sdk> => (sdk ??= import('@aws-sdk/client-s3'));

function statusOf(error: unknown): number | undefined {
  return (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
}

/** The key is not there. A missing bucket is a 404 too, but it says nothing of the key: a misconfiguration, not "no such model". */
function isMissing(error: unknown): boolean {
  const name = (error as { name?: string }).name;
  if (name === 'NoSuchBucket') return false;
  return statusOf(error) === 404 || name === 'NoSuchKey' || name === 'NotFound';
}

/** Why a body stopped midway, as a store failure (the SDK's own error there is a bare one). */
const cutOff = (key: string, error: unknown) => new ObjectReadError(`reading ${key} stopped midway: ${(error as Error)?.message}`, { cause: error });

/**
 * A GetObject body whose failure midway is an ObjectReadError: a dropped connection (Node's
 * 'aborted') or a silent socket (the SDK's TimeoutError) was an unknown error, so an evaluation
 * answered 500 "internal error" and a batch run recorded its file failed for good.
 */
function readable(body: Readable, key: string): Readable {
  const out = new PassThrough();
  body.on('error', (error) => out.destroy(cutOff(key, error)));
  out.on('close', () => body.destroy());
  return body.pipe(out);
}

export class S3Store implements ObjectStore {
  readonly uri: string;
  private readonly clientConfig: S3ClientConfig;
  private client?: S3Client;
  /** The bucket exists (HeadBucket answered, or is being asked): checkBucket asks once. */
  private bucketSeen?: Promise<boolean>;

  constructor(
    private readonly bucket: string,
    private readonly prefix: string,
    options: S3StoreOptions = {},
  ) {
    this.prefix = prefix && !prefix.endsWith('/') ? `${prefix}/` : prefix;
    this.uri = `s3://${bucket}/${this.prefix}`;
    const retry = options.retry ?? DEFAULT_RETRY;
    this.clientConfig = {
      region: options.region ?? 'us-east-1',
      endpoint: options.endpoint,
      forcePathStyle: options.forcePathStyle,
      credentials: options.credentials,
      // Set here rather than left to the SDK's defaults (no timeouts at all): a store that stops
      // answering must fail a call in seconds, so a loaded model can be served stale meanwhile.
      // Standard mode: exponential backoff with jitter, throttling and 5xx retried. No timeout on
      // a whole request: weights files are large; a socket silent for socketTimeoutMs fails it.
      maxAttempts: retry.maxAttempts,
      retryMode: 'standard',
      requestHandler: { connectionTimeout: retry.connectionTimeoutMs, socketTimeout: retry.socketTimeoutMs },
      // Only send/check checksums when an operation requires them: S3-compatible servers
      // (s3rver among them) store streamed bodies corrupted under the newer default.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    };
  }

  /** The client and the SDK's commands, created on first use. */
  private async s3(): Promise<{ client: S3Client; sdk: Sdk }> {
    const loaded = await loadSdk();
    this.client ??= new loaded.S3Client(this.clientConfig);
    return { client: this.client, sdk: loaded };
  }

  private key(key: string): string {
    return this.prefix + key;
  }

  /**
   * The error of a call, named with the call and its object (`storeCall`, not enumerable, so not in
   * a client's answer): "AWS answered InternalError" or "socket hang up" alone left a modelctl user
   * guessing which of a push's writes failed.
   */
  private named(error: unknown, operation: string, key: string): unknown {
    if (typeof error === 'object' && error !== null && !('storeCall' in error)) {
      Object.defineProperty(error, 'storeCall', { value: `${operation} ${this.uri}${key}`, enumerable: false });
    }
    return error;
  }

  private relative(fullKey: string): string {
    return fullKey.slice(this.prefix.length);
  }

  async get(key: string): Promise<Uint8Array> {
    const { client, sdk } = await this.s3();
    try {
      const out = await client.send(new sdk.GetObjectCommand({ Bucket: this.bucket, Key: this.key(key) }));
      if (!out.Body) throw new Error(`S3 answered GetObject ${key} without a body`);
      return await out.Body.transformToByteArray().catch((error: unknown) => {
        throw cutOff(key, error);
      });
    } catch (error) {
      if (isMissing(error)) throw new NotFoundError(`no object ${key}`);
      throw this.named(error, 'GetObject', key);
    }
  }

  async getStream(key: string, options: GetStreamOptions = {}): Promise<Readable> {
    const { client, sdk } = await this.s3();
    const { start = 0, end, ifMatch } = options;
    try {
      if (end !== undefined && end <= start) return Readable.from([]);
      // HTTP ranges are inclusive at both ends.
      const range = start > 0 || end !== undefined ? `bytes=${start}-${end === undefined ? '' : end - 1}` : undefined;
      const out = await client.send(new sdk.GetObjectCommand({ Bucket: this.bucket, Key: this.key(key), Range: range, IfMatch: ifMatch }));
      // S3 refuses a changed object itself (412); the answer's own ETag is checked too, for
      // S3-compatible stores that ignore If-Match.
      if (ifMatch !== undefined && out.ETag !== ifMatch) {
        (out.Body as Readable).destroy();
        throw new ObjectChangedError(key, this.uri, out.ETag, ifMatch);
      }
      return readable(out.Body as Readable, key);
    } catch (error) {
      if (isMissing(error)) throw new NotFoundError(`no object ${key}`);
      if (ifMatch !== undefined && statusOf(error) === 412) throw new ObjectChangedError(key, this.uri, undefined, ifMatch);
      // A range that starts at or past the end (a batch run that stopped right after its last row
      // resumes at the object's size): S3 answers 416, where a read from the end has no bytes, as on disk.
      // S3 checks If-Match first, so a replaced object is still a 412.
      if (statusOf(error) === 416) return Readable.from([]);
      throw this.named(error, 'GetObject', key);
    }
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    const { client, sdk } = await this.s3();
    try {
      const out = await client.send(new sdk.HeadObjectCommand({ Bucket: this.bucket, Key: this.key(key) }));
      return { key, size: out.ContentLength ?? 0, etag: out.ETag, lastModified: out.LastModified };
    } catch (error) {
      if (!isMissing(error)) throw this.named(error, 'HeadObject', key);
      await this.checkBucket(client, sdk);
      return undefined;
    }
  }

  /**
   * A HEAD answer has no body, so HeadObject's 404 is the same for a missing key and a missing
   * bucket: the bucket is asked for once (HeadBucket), so a misspelt bucket is named as such (as
   * GetObject and ListObjectsV2 name it), not read as "no such object". Only a 404 counts: another
   * answer (403 without s3:ListBucket) leaves the key missing, as before; a bucket seen, or refused, is not asked again.
   */
  private async checkBucket(client: S3Client, sdk: Sdk): Promise<void> {
    this.bucketSeen ??= client.send(new sdk.HeadBucketCommand({ Bucket: this.bucket })).then(
      () => true,
      (error: unknown) => {
        const status = statusOf(error);
        // A refusal (403: no s3:ListBucket) will be refused again: kept, so a missing key costs no second request each time.
        if (status === 403) return false;
        this.bucketSeen = undefined;
        if (status !== 404) return false;
        throw Object.assign(new sdk.NoSuchBucket({ message: 'The specified bucket does not exist', $metadata: (error as { $metadata: object }).$metadata }), {
          BucketName: this.bucket,
        });
      },
    );
    await this.bucketSeen;
  }

  async put(key: string, body: Uint8Array | string, options: PutOptions = {}): Promise<void> {
    const { client, sdk } = await this.s3();
    try {
      await client.send(
        new sdk.PutObjectCommand({
          Bucket: this.bucket,
          Key: this.key(key),
          Body: body,
          // Said, not left to the SDK: an empty body had none, and the SDK warned on the console
          // (not the function's log) that it might be a stream of unknown length.
          ContentLength: typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength,
          ContentType: options.contentType,
          IfNoneMatch: options.ifNoneMatch ? '*' : undefined,
          IfMatch: options.ifMatch,
        }),
      );
    } catch (error) {
      // 412: the key exists (or, with If-Match, has another ETag); 409: a concurrent conditional
      // write to the same key is in flight; 404 with If-Match: the key is gone.
      const status = statusOf(error);
      if (options.ifNoneMatch && (status === 412 || status === 409)) {
        throw new ConflictError(`object ${key} already exists`, { cause: error });
      }
      if (options.ifMatch !== undefined && (status === 412 || status === 409 || isMissing(error))) {
        throw new ObjectChangedError(key, this.uri, undefined, options.ifMatch);
      }
      throw this.named(error, 'PutObject', key);
    }
  }

  async putStream(key: string, body: Readable, options: Pick<PutOptions, 'contentType'> = {}): Promise<void> {
    // Multipart: the object becomes visible only when the upload completes; a failure aborts it.
    const { client } = await this.s3();
    const { Upload } = await import('@aws-sdk/lib-storage');
    // leavePartsOnError: lib-storage aborts a failed upload itself, but when that abort fails too it
    // throws the abort's error in place of the failure (a part's 500 read as the abort's
    // AccessDenied or reset), so the abort is this catch's, which keeps the cause.
    const upload = new Upload({
      client,
      leavePartsOnError: true,
      params: { Bucket: this.bucket, Key: this.key(key), Body: body, ContentType: options.contentType },
    });
    try {
      await upload.done();
    } catch (error) {
      if (upload.uploadId) await this.abortUpload(key, upload.uploadId);
      throw this.named(error, 'PutObject', key);
    }
  }

  /**
   * Ends a failed multipart upload, best effort: its failure must not hide the one that caused it,
   * and an upload left open is ended by the bucket's lifecycle rule (README, "Deploying").
   */
  private async abortUpload(key: string, UploadId: string): Promise<void> {
    const { client, sdk } = await this.s3();
    await client.send(new sdk.AbortMultipartUploadCommand({ Bucket: this.bucket, Key: this.key(key), UploadId })).catch(() => undefined);
  }

  /**
   * A multipart upload whose parts are server-side copies of the sources (UploadPartCopy) where they
   * are large enough, and uploads of the small ones gathered (concatPlan.ts). An S3-compatible server
   * without UploadPartCopy (s3rver) fails it with ConcatUnsupportedError: callers stream instead.
   */
  async concat(keys: string[], target: string, options: ConcatOptions = {}): Promise<void> {
    // The plan of copies needs every part's size: all of them ready first.
    for (const index of keys.keys()) await options.ready?.(index);
    const { client, sdk } = await this.s3();
    const sizes = await Promise.all(keys.map(async (k) => (await this.head(k))?.size ?? Number.NaN));
    if (sizes.some((n) => Number.isNaN(n))) throw new NotFoundError(`cannot join ${target}: a part is missing`);
    const steps = concatSteps(sizes);
    if (steps.length === 0) return this.put(target, new Uint8Array(0), options);
    const { UploadId } = await client.send(new sdk.CreateMultipartUploadCommand({ Bucket: this.bucket, Key: this.key(target), ContentType: options.contentType }));
    const parts: { PartNumber: number; ETag?: string }[] = [];
    try {
      for (const [i, step] of steps.entries()) {
        const PartNumber = i + 1;
        if (step.kind === 'copy') {
          const out = await client.send(
            new sdk.UploadPartCopyCommand({
              Bucket: this.bucket,
              Key: this.key(target),
              UploadId,
              PartNumber,
              CopySource: `${this.bucket}/${encodeURIComponent(this.key(keys[step.source])).replace(/%2F/g, '/')}`,
              CopySourceRange: `bytes=${step.start}-${step.end - 1}`,
            }),
          );
          parts.push({ PartNumber, ETag: out.CopyPartResult?.ETag });
        } else {
          const chunks: Uint8Array[] = [];
          for (const piece of step.pieces) {
            for await (const chunk of await this.getStream(keys[piece.source], { start: piece.start, end: piece.end })) chunks.push(chunk as Uint8Array);
          }
          const out = await client.send(new sdk.UploadPartCommand({ Bucket: this.bucket, Key: this.key(target), UploadId, PartNumber, Body: Buffer.concat(chunks) }));
          parts.push({ PartNumber, ETag: out.ETag });
        }
      }
      await client.send(new sdk.CompleteMultipartUploadCommand({ Bucket: this.bucket, Key: this.key(target), UploadId, MultipartUpload: { Parts: parts } }));
    } catch (error) {
      if (UploadId) await this.abortUpload(target, UploadId);
      if ((error as { name?: string }).name === 'NotImplemented' || statusOf(error) === 501)
        throw new ConcatUnsupportedError(`${this.uri} cannot copy parts server-side`, { cause: error });
      throw this.named(error, 'CompleteMultipartUpload', target);
    }
  }

  async delete(key: string, options: DeleteOptions = {}): Promise<void> {
    const { client, sdk } = await this.s3();
    try {
      await client.send(new sdk.DeleteObjectCommand({ Bucket: this.bucket, Key: this.key(key), IfMatch: options.ifMatch }));
    } catch (error) {
      // 412: another ETag; 409: a concurrent write in flight; 404: the key gone (told apart: nothing was put over it).
      const status = statusOf(error);
      if (options.ifMatch !== undefined && isMissing(error)) throw new ObjectGoneError(key, this.uri, undefined, options.ifMatch);
      if (options.ifMatch !== undefined && (status === 412 || status === 409)) throw new ObjectChangedError(key, this.uri, undefined, options.ifMatch);
      throw this.named(error, 'DeleteObject', key);
    }
  }

  async listPage(prefix: string, options: ListOptions = {}): Promise<ListPage> {
    const { client, sdk } = await this.s3();
    const out = await client
      .send(
        new sdk.ListObjectsV2Command({
          Bucket: this.bucket,
          Prefix: this.key(prefix),
          Delimiter: options.delimiter,
          MaxKeys: options.pageSize,
          ContinuationToken: options.token,
        }),
      )
      .catch((error: unknown) => {
        throw this.named(error, 'ListObjectsV2', prefix);
      });
    // The SDK reads any 200 body as a listing, an empty one when it is not XML (a proxy's or
    // gateway's HTML page): taken as such, every model would look deleted (404). A ListObjectsV2
    // result always names its bucket and says whether it is truncated.
    if (out.Name === undefined && out.KeyCount === undefined && out.IsTruncated === undefined) {
      throw new Error(`S3 answered ListObjectsV2 on ${this.uri}${prefix} with a body that is not a listing`);
    }
    return {
      objects: (out.Contents ?? []).map((o) => ({
        key: this.relative(o.Key ?? ''),
        size: o.Size ?? 0,
        etag: o.ETag,
        lastModified: o.LastModified,
      })),
      prefixes: (out.CommonPrefixes ?? []).map((p) => this.relative(p.Prefix ?? '')),
      nextToken: out.IsTruncated ? out.NextContinuationToken : undefined,
    };
  }
}
