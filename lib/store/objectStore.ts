/**
 * The one storage interface: the registry, jobs and batch scoring only ever see this.
 * Keys are relative to the store's root (the S3 prefix or the folder), always with '/' separators.
 */
import type { Readable } from 'node:stream';
import { ConflictError, IntegrityError, isStoreFailure, isStoreRefusal, NotFoundError } from '../errors.js';

export interface ObjectInfo {
  key: string;
  size: number;
  etag?: string;
  lastModified?: Date;
}

/**
 * The version of an object as a run records it: its ETag, or its size where a store gives no ETag.
 * What the batch and import triggers compare to tell an upload from the one before it.
 */
export function versionOf(info: Pick<ObjectInfo, 'etag' | 'size'>): string {
  return info.etag ?? String(info.size);
}

export interface PutOptions {
  /** Create only: fail with ConflictError when the key exists (S3 If-None-Match: *, O_EXCL on disk). */
  ifNoneMatch?: boolean;
  /**
   * Replace only the version read: fail with ObjectChangedError (a ConflictError) unless the key
   * still holds the object with this ETag (as `head` gives it), so of two read-modify-writes of one
   * key the second fails instead of undoing the first (S3 If-Match; a lock and a check on disk).
   */
  ifMatch?: string;
  contentType?: string;
}

export interface DeleteOptions {
  /**
   * Delete only the version read: fail with ObjectChangedError (a ConflictError) unless the key
   * still holds the object with this ETag, so a delete never removes what another writer put
   * there after it read (S3 If-Match on DeleteObject; a lock and a check on disk).
   */
  ifMatch?: string;
}

export interface ConcatOptions extends Pick<PutOptions, 'contentType'> {
  ready?: (index: number) => Promise<void>;
}

export interface GetStreamOptions {
  start?: number;
  end?: number;
  /**
   * The ETag (as `head` gives it) the object must still have, or ObjectChangedError (a
   * ConflictError): a file read in several requests (ranges, parts, continuations) is then never
   * two versions stitched together.
   */
  ifMatch?: string;
}

export interface ListPage {
  objects: ObjectInfo[];
  /** With a delimiter: the "folders" directly under the prefix, each ending with the delimiter. */
  prefixes: string[];
  nextToken?: string;
}

export interface ListOptions {
  delimiter?: string;
  pageSize?: number;
  token?: string;
}

export interface ObjectStore {
  /**
   * s3://bucket/prefix or file:///abs/path, for logs and the operator's messages. Not in a missing
   * object's NotFoundError, which a client may read (a data set, a batch file): that names the key.
   */
  readonly uri: string;
  get(key: string): Promise<Uint8Array>;
  /**
   * Joins objects, in order, into `target` without passing them through this process where the
   * store can (S3: server-side copies). Optional: without it, callers stream the parts through.
   * `ready(i)` is awaited before `keys[i]` is read (all of them first where the store must size the
   * whole: S3), so a caller can start joining parts that are still being written; if it rejects,
   * nothing is written to `target`.
   */
  concat?(keys: string[], target: string, options?: ConcatOptions): Promise<void>;
  /** The object's bytes from `start` (default 0) up to `end` (exclusive; default the end). */
  getStream(key: string, options?: GetStreamOptions): Promise<Readable>;
  /** undefined when the key does not exist. */
  head(key: string): Promise<ObjectInfo | undefined>;
  put(key: string, body: Uint8Array | string, options?: PutOptions): Promise<void>;
  /** Streams a body of unknown length (multipart on S3); the object appears whole or not at all. */
  putStream(key: string, body: Readable, options?: Pick<PutOptions, 'contentType'>): Promise<void>;
  /** Deleting a missing key is not an error, unless `ifMatch` names the version to delete. */
  delete(key: string, options?: DeleteOptions): Promise<void>;
  /**
   * Removes what a write of `key` left when its process was killed mid-write, once no write of it
   * runs. Optional: S3 keeps an interrupted multipart upload out of sight (the bucket's lifecycle
   * rule ends it); a folder keeps its temporary file.
   */
  abandonWrites?(key: string): Promise<void>;
  /** As abandonWrites, for every key under `prefix`: what its owner's earlier, interrupted runs left there too. */
  abandonWritesUnder?(prefix: string): Promise<void>;
  listPage(prefix: string, options?: ListOptions): Promise<ListPage>;
}

/** Every object under a prefix, across pages. */
export async function* listAll(store: ObjectStore, prefix: string, pageSize?: number): AsyncGenerator<ObjectInfo> {
  let token: string | undefined;
  do {
    const page = await store.listPage(prefix, { token, pageSize });
    yield* page.objects;
    token = page.nextToken;
  } while (token);
}

/** The "folders" directly under a prefix, across pages. */
export async function listPrefixes(store: ObjectStore, prefix: string): Promise<string[]> {
  const out: string[] = [];
  let token: string | undefined;
  do {
    const page = await store.listPage(prefix, { delimiter: '/', token });
    out.push(...page.prefixes);
    token = page.nextToken;
  } while (token);
  return out;
}

export async function getJson<T = unknown>(store: ObjectStore, key: string): Promise<T> {
  return parsedJson<T>(new TextDecoder().decode(await store.get(key)), store, key);
}

/** What a client reads: the key, a path in the operator's store, goes to the log only. */
const DAMAGED_RECORD = 'a record this request reads is damaged in the store (not valid JSON; the log names it): it must be written again';

/**
 * A stored record that is not JSON is damage (a hand edit, a truncated copy), not an outage: an
 * IntegrityError (500, no Retry-After: a retry reads the same bytes), never a SyntaxError that
 * callers took for the store failing (503, retried forever).
 */
function parsedJson<T>(text: string, store: ObjectStore, key: string, etag?: string): T {
  try {
    return JSON.parse(text) as T;
  } catch (error) {
    throw new DamagedRecordError(`${store.uri.replace(/\/?$/, '/')}${key} is not valid JSON: ${(error as Error).message}`, etag, error);
  }
}

/** A stored record that is not JSON; `etag`, where the read had one, is the very version read (to write over it, and only it). */
export class DamagedRecordError extends IntegrityError {
  constructor(
    message: string,
    readonly etag: string | undefined,
    cause: unknown,
  ) {
    super(message, { cause, publicMessage: DAMAGED_RECORD });
    // Named as its kind: the batch state machine's Catch (serverless.yml) matches errors by name.
    this.name = 'IntegrityError';
  }
}

/**
 * A JSON object with the ETag of the very version read (the read is pinned to the ETag `head`
 * gave: never a newer body under an older ETag), to write back with `put(..., { ifMatch })`.
 * undefined when the key does not exist.
 */
export async function getJsonVersioned<T = unknown>(store: ObjectStore, key: string): Promise<{ value: T; etag: string } | undefined> {
  for (let attempt = 1; ; attempt += 1) {
    const info = await store.head(key);
    if (!info) return undefined;
    if (info.etag === undefined) throw new Error(`${store.uri} gave no ETag for ${key}: it cannot be written conditionally`);
    try {
      const body = Buffer.concat(await (await store.getStream(key, { ifMatch: info.etag })).toArray());
      return { value: parsedJson<T>(body.toString('utf8'), store, key, info.etag), etag: info.etag };
    } catch (error) {
      // Replaced or deleted between the head and the read: read the new state, a few times.
      if (!(error instanceof ObjectChangedError || error instanceof NotFoundError) || attempt === 5) throw error;
    }
  }
}

/**
 * A create-only write (`ifNoneMatch`) that counts a refusal as landed when the key holds these very
 * bytes: S3's client sends a write again when its answer is lost (a dropped connection, a timeout),
 * and the write that had landed then refuses the retry. For a body no other writer makes (it holds
 * a random id, a time), the same bytes can only be this write's. Any other object there is the
 * ConflictError. A failure of the store (every answer lost, past the client's retries) counts as
 * landed too when the key holds these bytes: a push whose manifest had landed said it failed, and
 * was pushed again as a second version.
 */
export async function putNew(store: ObjectStore, key: string, body: string, options: Pick<PutOptions, 'contentType'> = {}): Promise<void> {
  try {
    await store.put(key, body, { ...options, ifNoneMatch: true });
  } catch (error) {
    if (error instanceof ConflictError) {
      if (new TextDecoder().decode(await store.get(key)) !== body) throw error;
      return;
    }
    if (!isStoreFailure(error) || isStoreRefusal(error) || !(await holds(store, key, body))) throw error;
  }
}

/** Whether the key holds these bytes; false when it cannot be read now either. */
async function holds(store: ObjectStore, key: string, body: string): Promise<boolean> {
  try {
    return new TextDecoder().decode(await store.get(key)) === body;
  } catch {
    return false;
  }
}

/** The store cannot join objects server-side (an S3-compatible server without UploadPartCopy). */
export class ConcatUnsupportedError extends Error {}

/** A read pinned to an ETag (`ifMatch`) found another version of the object. */
export class ObjectChangedError extends ConflictError {
  constructor(key: string, uri: string, found: string | undefined, expected: string) {
    super(`${key} in ${uri} has changed (ETag ${found ?? 'unknown'}, expected ${expected})`);
  }
}

/**
 * A conditional delete found no object at the key: the version it named is gone, removed by
 * another delete or by this very one (S3's client retried it after its answer was lost, and the
 * retry found nothing). Unlike another ETag there, nothing was put over what the caller read.
 */
export class ObjectGoneError extends ObjectChangedError {}

/**
 * The ETag to pin reads to, from what a run recorded as its source's version: a real ETag (a quoted
 * string, as both stores give them), not the size a store without ETags leaves in its place.
 */
export function pinnableEtag(version: string | undefined): string | undefined {
  return version?.endsWith('"') ? version : undefined;
}
