/**
 * One error base class for the whole bundle. Subclasses carry the HTTP status they map to;
 * lib/http turns them into responses in one place, and only status < 500 shows its message.
 */
export class ServiceError extends Error {
  readonly statusCode: number = 500;
  /** Headers the answer must carry besides its body (a 405's Allow). */
  readonly headers?: Record<string, string>;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The request is malformed or does not fit the model (400). */
export class BadRequestError extends ServiceError {
  override readonly statusCode = 400;
}

/** A model, version, alias, job or object that does not exist (404). */
export class NotFoundError extends ServiceError {
  override readonly statusCode = 404;
}

/** A write lost a race or would overwrite something immutable (409). */
export class ConflictError extends ServiceError {
  override readonly statusCode = 409;
}

/** The request body is over the limit (413). */
export class PayloadTooLargeError extends ServiceError {
  override readonly statusCode = 413;
}

/** What a client reads about a damaged model version. */
export const DAMAGED_VERSION = 'the model version is damaged in the store (its files do not match its manifest): push it again, or move the alias to another version';

/**
 * What a client reads of damage known only by its class (a Step Functions Catch, a local batch
 * worker's report): a version's files, its manifest, or the alias that names it.
 */
export const DAMAGED_IN_STORE =
  'the model version or the alias naming it is damaged in the store (files that do not match the manifest, or a manifest or alias file that is not one): push the version again, or set the alias again';

/** What a client reads about a version whose files are whole but which TF.js cannot build. */
export const UNBUILDABLE_VERSION = 'the model version cannot be built (the log names why): push it again, or move the alias to another version';

/**
 * Stored bytes do not match the manifest's checksum, or whole files TF.js cannot build into a
 * model: nothing is served from them. Retrying cannot help (versions are immutable), so clients
 * get a 500 saying so, not a 503 asking them to retry; `message` (the file and checksum, the
 * builder's complaint) goes to the log only.
 */
export class IntegrityError extends ServiceError {
  override readonly statusCode = 500;
  /** What the client reads. */
  readonly publicMessage: string;
  /** What the log line says it is: damage, unless the cause is another (a version this backend cannot run). */
  readonly logAs: string;
  constructor(message: string, options?: { cause?: unknown; publicMessage?: string; logAs?: string }) {
    super(message, options);
    this.publicMessage = options?.publicMessage ?? DAMAGED_VERSION;
    this.logAs = options?.logAs ?? 'damaged in the store';
  }
}

/** A dependency (store, backend) is not usable right now; clients may retry (503). */
export class UnavailableError extends ServiceError {
  override readonly statusCode = 503;
  /** What the client reads; `message` (and the cause) may hold internals and go to the log only. */
  readonly publicMessage: string;
  constructor(
    message: string,
    readonly retryAfterSeconds = 5,
    options?: { cause?: unknown; publicMessage?: string },
  ) {
    super(message, options);
    this.publicMessage = options?.publicMessage ?? 'temporarily unavailable; retry later';
  }
}

/**
 * The store refused the call for good: access denied (IAM, a bucket policy, KMS), a bucket that is
 * not there, keys the store does not know; on disk a permission error or a path through a file.
 * A retry gets the same answer until the operator changes the configuration, so clients are not
 * told to retry (StoreRefusedError). Throttling, 5xx, timeouts and dropped connections pass.
 */
const REFUSALS = new Set(['AccessDenied', 'NoSuchBucket', 'InvalidAccessKeyId', 'SignatureDoesNotMatch', 'AllAccessDisabled', 'InvalidBucketName', 'PermanentRedirect']);
const REFUSED_SYSCALLS = new Set(['EACCES', 'EPERM', 'ENOTDIR', 'EISDIR', 'ELOOP', 'ENAMETOOLONG']);

export function isStoreRefusal(error: unknown): boolean {
  const e = error as { name?: unknown; code?: unknown; syscall?: unknown; $metadata?: { httpStatusCode?: number } } | undefined;
  if (typeof e !== 'object' || e === null) return false;
  // A HEAD's refusal has no body to name it: its status does (the SDK's own clock-skew 403 excepted).
  if (e.$metadata !== undefined) return REFUSALS.has(String(e.name)) || (e.$metadata.httpStatusCode === 403 && e.name !== 'RequestTimeTooSkewed');
  return typeof e.syscall === 'string' && REFUSED_SYSCALLS.has(String(e.code));
}

/** What a client reads when the store refused access or is misconfigured. */
export const STORE_REFUSED = 'the model store refused access or is misconfigured (the log names the cause): retrying will not help until the operator fixes it';

/**
 * The store refused a call for good (isStoreRefusal): a 500 saying so, without Retry-After; the
 * store's code and the key go to the log only. A model already loaded is still served stale meanwhile.
 */
export class StoreRefusedError extends ServiceError {
  override readonly statusCode = 500;
  readonly publicMessage = STORE_REFUSED;
}

/**
 * What a failure to read from a dependency (the store, the backend) becomes for clients: a 503
 * with Retry-After saying `publicMessage`; `message` and the cause go to the log only. A store
 * that refused access or is misconfigured is a StoreRefusedError instead: a client retrying on
 * Retry-After would never succeed. Client errors (< 500) and errors that already say what a
 * client reads (UnavailableError, IntegrityError, StoreRefusedError) pass through unchanged.
 */
export function unavailableAs(message: string, publicMessage: string): (error: unknown) => never {
  return (error) => {
    if (error instanceof ServiceError && (error.statusCode < 500 || error instanceof UnavailableError || error instanceof IntegrityError || error instanceof StoreRefusedError))
      throw error;
    if (isStoreRefusal(error)) throw new StoreRefusedError(`${message}: ${(error as Error).message}`, { cause: error });
    throw new UnavailableError(`${message}: ${(error as Error)?.message}`, 5, { cause: error, publicMessage });
  };
}

/**
 * An object's body stopped midway (the connection dropped, or its socket went silent past the
 * timeout): the SDK's answer had come, so its error carries no `$metadata`. A store failure.
 */
export class ObjectReadError extends Error {
  override name = 'ObjectReadError';
}

/**
 * The store itself failed (S3's answer after the client's retries: throttling, a 5xx, a refusal; a
 * dropped connection; a body cut off midway; a failed file system call), not what was asked of it.
 * A refusal (isStoreRefusal) stays until the operator acts; anything else may pass on a later try.
 * Every error out of the AWS SDK's calls carries `$metadata`; a system call's error names it (`syscall`).
 */
export function isStoreFailure(error: unknown): boolean {
  const e = error as { $metadata?: unknown; syscall?: unknown } | undefined;
  return error instanceof ObjectReadError || (typeof e === 'object' && e !== null && (e.$metadata !== undefined || typeof e.syscall === 'string'));
}

/**
 * What a failure recorded for later reading (a job's outcome) says: a client error in its own
 * words; a server-side one in the words it gives clients (a model that cannot be loaded now, a
 * damaged version, a refused store); a store that failed now as one, so the client knows that
 * submitting again may pass; anything else `internal`.
 */
export function recordedMessage(error: unknown, internal: string): string {
  if (error instanceof ServiceError && error.statusCode < 500) return error.message;
  const publicMessage = (error as { publicMessage?: unknown } | undefined)?.publicMessage;
  if (typeof publicMessage === 'string') return publicMessage;
  if (isStoreRefusal(error)) return STORE_REFUSED;
  if (isStoreFailure(error)) return 'the model store could not be reached (it may pass): submit it again later';
  return internal;
}

/** A read of the model store (listings, aliases, job records) failed: 503, never a bare 500. */
export const storeUnavailable = unavailableAs('the model store could not be read', 'the model store cannot be read right now; retry later');

/** A body in an encoding not read here, e.g. a compressed one (415). */
export class UnsupportedMediaTypeError extends ServiceError {
  override readonly statusCode = 415;
}

/** The request is well formed, but the model cannot answer it (e.g. its output overflowed to NaN): 422. */
export class UnprocessableError extends ServiceError {
  override readonly statusCode = 422;
}

/** The request names something it may not reach, e.g. a data set outside the model store (403). */
export class ForbiddenError extends ServiceError {
  override readonly statusCode = 403;
}

/**
 * A value the client sent, as an error message quotes it: JSON, cut short. A value too deep to
 * stringify (JSON.parse takes nesting that JSON.stringify cannot give back) is named by its type.
 */
export function quoted(value: unknown, max = 80): string {
  let text: string;
  try {
    // NaN and ±Infinity as sent (TF Serving's requests may hold the tokens), where JSON would write null.
    text = typeof value === 'number' && !Number.isFinite(value) ? String(value) : (JSON.stringify(value) ?? String(value));
  } catch {
    text = Array.isArray(value) ? 'an array' : typeof value;
  }
  return text.length > max ? `${text.slice(0, max)}...` : text;
}

/**
 * Names the client's data set gave (a CSV header, a row's fields), as an error message lists them:
 * the first `max`, each cut short, then how many more. A one-line file read as a header would
 * otherwise be echoed whole into the answer and the job record.
 */
export function namesListed(names: readonly string[], max = 20): string {
  const shown = names.slice(0, max).map((name) => (name.length > 40 ? `${name.slice(0, 40)}...` : name));
  return shown.join(', ') + (names.length > max ? `, and ${names.length - max} more` : '');
}
