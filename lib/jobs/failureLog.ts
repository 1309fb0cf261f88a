/**
 * A job's failure in the log at the level it deserves: one that failed on its own request (bad
 * data, an unknown label: a 4xx, which its record tells the client) is a warning, not an error
 * that sets off an operator's alarm; anything else is an error. A warning passed in (the worker
 * goes on, or stopped in time) is logged as such.
 */
import { ServiceError } from '../errors.js';
import { logger } from '../observability.js';

export function logJobFailure(what: string, error: unknown, fields: Record<string, unknown>, warning?: string): void {
  if (warning) logger.warn(warning, { ...fields, error: error as Error });
  else if (error instanceof ServiceError && error.statusCode < 500) logger.warn(`${what} failed on its request`, { ...fields, error: error as Error });
  else logger.error(`${what} failed`, { ...fields, error: error as Error });
}
