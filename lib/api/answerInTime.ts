/**
 * The last guard of a write's time: a request that writes to the store or starts a job, still
 * running this close to its function's timeout, is answered 503 with Retry-After while the
 * function can still answer. Past the timeout, Lambda ends the execution environment (the next
 * request starts cold) and the client gets API Gateway's bare 503 after the whole wait. On a store
 * that stops answering, each S3 call takes S3_MAX_ATTEMPTS x S3_SOCKET_TIMEOUT_MS to fail, and a
 * write route makes several in a row (an alias move reads the version's manifest and files, then
 * the alias, then writes it). Read routes have their own bounds: work planned within the time
 * (runtime/timeLimit.ts, which a guard this late would only race), a model's load and an alias's
 * refresh waited for only so long (loader/). The work is not stopped: a write it sent may still
 * land, as after a lost answer, which the message says.
 */
import { UnavailableError } from '../errors.js';
import { logger, recordEvent } from '../observability.js';
import type { TimeLimit } from '../runtime/timeLimit.js';

/** Kept to answer (the error's body, the log line) before the timeout; the event loop is free while the store is awaited. */
const ANSWER_RESERVE_MS = 1000;

const LATE = 'the request did not finish within the function\u2019s time (the model store may be slow to answer)';
const PUBLIC_MESSAGE = `${LATE}; what it was writing may still land: read it before sending it again (an alias PUT, a rollback or delete with ?from=, and a job sent with an Idempotency-Key are safe to send again)`;

class LateError extends UnavailableError {}

/** `work`'s answer, or a 503 once the function's time left is down to ANSWER_RESERVE_MS. */
export async function answerInTime<T>(work: Promise<T>, time: TimeLimit | undefined): Promise<T> {
  if (!time) return work;
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new LateError(LATE, 5, { publicMessage: PUBLIC_MESSAGE })), Math.max(0, time.remainingMs() - ANSWER_RESERVE_MS));
  });
  try {
    return await Promise.race([work, late]);
  } catch (error) {
    if (error instanceof LateError) {
      logger.warn('a write still running at its function\u2019s timeout: answered 503, its work goes on');
      recordEvent('LateAnswers');
      // Nothing awaits the work any more: how it ends is only logged.
      work.then(
        () => logger.warn('a write answered 503 for its time finished after all'),
        (failure: unknown) => logger.warn('a write answered 503 for its time failed after all', { error: failure as Error }),
      );
    }
    throw error;
  } finally {
    clearTimeout(timer);
  }
}
