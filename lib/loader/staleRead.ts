/**
 * Stale-while-error for what an answer about a loaded model reads besides the model itself (its
 * other versions, aliases, saved evaluations): when the store fails for a reason that may pass,
 * the answer is made from what memory holds, with a warning and a StaleServes metric, as predict
 * keeps serving the model. An authoritative answer (a 4xx) is never papered over.
 */
import { logger, recordEvent } from '../observability.js';
import { isAuthoritative } from './aliasCache.js';

export async function readOrStale<T, S>(model: string, read: () => Promise<T>, inMemory: () => S): Promise<T | S> {
  try {
    return await read();
  } catch (error) {
    if (isAuthoritative(error)) throw error;
    logger.warn('store unavailable: answering from the model in memory', { model, error: error as Error });
    recordEvent('StaleServes', { model });
    return inMemory();
  }
}
