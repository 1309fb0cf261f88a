/**
 * Amazon S3 (or any S3-compatible server) as the object store, through AWS SDK v3.
 * URI: s3://bucket/prefix. Create-only writes use If-None-Match: * (honoured by S3 since 2024-08).
 */
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { Readable } from 'node:stream';
import { ConflictError, NotFoundError } from '../errors.js';
import type { ListOptions, ListPage, ObjectInfo, ObjectStore, PutOptions } from './objectStore.js';

export interface S3StoreOptions {
  endpoint?: string;
  forcePathStyle?: boolean;
  region?: string;
  /** Only for S3-compatible test servers; in AWS the default credential chain is used. */
  credentials?: { accessKeyId: string; secretAccessKey: string };
}

function statusOf(error: unknown): number | undefined {
  return error instanceof S3ServiceException ? error.$metadata.httpStatusCode : undefined;
}

function isMissing(error: unknown): boolean {
  const name = (error as { name?: string }).name;
  return statusOf(error) === 404 || name === 'NoSuchKey' || name === 'NotFound';
}

export class S3Store implements ObjectStore {
  readonly uri: string;
  private readonly client: S3Client;

  constructor(
    private readonly bucket: string,
    private readonly prefix: string,
    options: S3StoreOptions = {},
  ) {
    this.prefix = prefix && !prefix.endsWith('/') ? `${prefix}/` : prefix;
    this.uri = `s3://${bucket}/${this.prefix}`;
    const clientConfig: S3ClientConfig = {
      region: options.region ?? process.env.AWS_REGION ?? 'us-east-1',
      endpoint: options.endpoint,
      forcePathStyle: options.forcePathStyle,
      credentials: options.credentials,
      // Only send/check checksums when an operation requires them: S3-compatible servers
      // (s3rver among them) store streamed bodies corrupted under the newer default.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    };
    this.client = new S3Client(clientConfig);
  }

  private key(key: string): string {
    return this.prefix + key;
  }

  private relative(fullKey: string): string {
    return fullKey.slice(this.prefix.length);
  }

  async get(key: string): Promise<Uint8Array> {
    try {
      const out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.key(key) }));
      return await out.Body!.transformToByteArray();
    } catch (error) {
      if (isMissing(error)) throw new NotFoundError(`no object ${key} in ${this.uri}`);
      throw error;
    }
  }

  async getStream(key: string): Promise<Readable> {
    try {
      const out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.key(key) }));
      return out.Body as Readable;
    } catch (error) {
      if (isMissing(error)) throw new NotFoundError(`no object ${key} in ${this.uri}`);
      throw error;
    }
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    try {
      const out = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.key(key) }));
      return { key, size: out.ContentLength ?? 0, etag: out.ETag, lastModified: out.LastModified };
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw error;
    }
  }

  async put(key: string, body: Uint8Array | string, options: PutOptions = {}): Promise<void> {
    try {
      await this.client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: this.key(key),
          Body: body,
          ContentType: options.contentType,
          IfNoneMatch: options.ifNoneMatch ? '*' : undefined,
        }),
      );
    } catch (error) {
      // 412: the key exists; 409: a concurrent conditional write to the same key is in flight.
      const status = statusOf(error);
      if (options.ifNoneMatch && (status === 412 || status === 409)) {
        throw new ConflictError(`object ${key} already exists`, { cause: error });
      }
      throw error;
    }
  }

  async putStream(key: string, body: Readable, options: Pick<PutOptions, 'contentType'> = {}): Promise<void> {
    // Multipart: the object becomes visible only when the upload completes; a failure aborts it.
    const upload = new Upload({
      client: this.client,
      params: { Bucket: this.bucket, Key: this.key(key), Body: body, ContentType: options.contentType },
    });
    await upload.done();
  }

  async delete(key: string): Promise<void> {
    await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.key(key) }));
  }

  async listPage(prefix: string, options: ListOptions = {}): Promise<ListPage> {
    const out = await this.client.send(
      new ListObjectsV2Command({
        Bucket: this.bucket,
        Prefix: this.key(prefix),
        Delimiter: options.delimiter,
        MaxKeys: options.pageSize,
        ContinuationToken: options.token,
      }),
    );
    return {
      objects: (out.Contents ?? []).map((o) => ({
        key: this.relative(o.Key!),
        size: o.Size ?? 0,
        etag: o.ETag,
        lastModified: o.LastModified,
      })),
      prefixes: (out.CommonPrefixes ?? []).map((p) => this.relative(p.Prefix!)),
      nextToken: out.IsTruncated ? out.NextContinuationToken : undefined,
    };
  }
}
