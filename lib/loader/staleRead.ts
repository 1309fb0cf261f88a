/**
 * Stale-while-error for what an answer about a loaded model reads besides the model itself (its
 * other versions, aliases, saved evaluations): when the store fails for a reason that may pass, or
 * has not answered within STALE_AFTER_MS, the answer is made from what memory holds, with a
 * warning and a StaleServes metric, as predict keeps serving the model. An authoritative answer
 * (a 4xx) is never papered over.
 */
import { logger, recordEvent } from '../observability.js';
import { isAuthoritative, SILENT, unlessSilent } from './aliasCache.js';

export async function readOrStale<T, S>(model: string, read: () => Promise<T>, inMemory: () => S): Promise<T | S> {
  const reading = read();
  try {
    const first = await unlessSilent(reading);
    if (first !== SILENT) return first;
    // Left to finish on its own: its failure is the store's, already answered for.
    reading.catch(() => undefined);
    logger.warn('store slow to answer: answering from the model in memory', { model });
    recordEvent('StaleServes', { model });
    return inMemory();
  } catch (error) {
    if (isAuthoritative(error)) throw error;
    logger.warn('store unavailable: answering from the model in memory', { model, error: error as Error });
    recordEvent('StaleServes', { model });
    return inMemory();
  }
}
