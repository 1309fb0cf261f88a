/**
 * The one place errors become responses. A client error (< 500) shows its message; a server
 * error shows a fixed sentence and the request id, never a stack or an internal message (that goes
 * to the log, with the same request id).
 */
import { ZodError } from 'zod';
import { IntegrityError, isStoreFailure, isStoreRefusal, ServiceError, STORE_REFUSED, StoreRefusedError, UnavailableError } from '../errors.js';
import { logger } from '../observability.js';
import type { Reply } from './router.js';
import { describeIssues } from './zodIssues.js';

export function errorReply(error: unknown, requestId: string): Reply {
  if (error instanceof ZodError) return { status: 400, body: { error: describeIssues(error) } };
  if (error instanceof ServiceError && error.statusCode < 500) return { status: error.statusCode, headers: error.headers, body: { error: error.message } };
  if (error instanceof UnavailableError) {
    logger.warn('unavailable', { requestId, error });
    return {
      status: 503,
      headers: { 'retry-after': String(error.retryAfterSeconds) },
      body: { error: error.publicMessage, requestId },
    };
  }
  if (error instanceof StoreRefusedError || isStoreRefusal(error)) {
    // Access denied, a missing bucket, a folder that is a file: a retry gets the same answer until
    // the operator acts, so no Retry-After. The store's code goes to the log, not the answer.
    const cause = (error instanceof StoreRefusedError ? error.cause : error) as { name?: string; code?: string };
    logger.error('the model store refused the call (access or configuration)', { requestId, code: cause?.code ?? cause?.name, error: error as Error });
    return { status: 500, body: { error: STORE_REFUSED, requestId } };
  }
  if (isStoreFailure(error)) {
    // The store failed a read or write past the S3 client's retries (an alias move, a saved
    // evaluation, a job record): the client may retry, as for a failed read (storeUnavailable).
    logger.warn('store failure', { requestId, error: error as Error });
    return { status: 503, headers: { 'retry-after': '5' }, body: { error: 'the model store is not available right now; retry later', requestId } };
  }
  if (error instanceof IntegrityError) {
    logger.error(error.logAs, { requestId, error });
    return { status: 500, body: { error: error.publicMessage, requestId } };
  }
  logger.error('unhandled error', { requestId, error: error as Error });
  return { status: 500, body: { error: 'internal error', requestId } };
}
