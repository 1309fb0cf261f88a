/** Batch options for a run that finishes in one invocation (no time limit), micro-batches of `rows`. */
import type { BatchOptions } from '../../lib/batch/run.js';
import { localLimits } from '../../lib/runtime/memory.js';

export function oneInvocation(rows: number): BatchOptions {
  return { limits: localLimits(rows), remainingMs: () => Number.POSITIVE_INFINITY, marginMs: 0, continueLater: async () => undefined };
}
