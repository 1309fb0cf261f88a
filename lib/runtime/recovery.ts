/**
 * Recovery from backend faults. A wasm trap (an out-of-bounds access when the heap runs out, an
 * abort, `unreachable`) leaves TF.js's backend in an unknown state: its memory half-written, its
 * bookkeeping mid-operation, and every tensor in it (the cached models' weights) suspect. Left
 * alone, every later request of the warm function fails. Instead, the engine is reset (all
 * tensors dropped, a fresh wasm instance with fresh memory) and each model reloads from the store
 * on its next use: caches compare the backend generation they loaded under with the current one.
 * When the backend cannot be restarted, the process ends, so Lambda starts a clean one.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ServiceError } from '../errors.js';
import { logger, recordEvent } from '../observability.js';
import { restartBackend } from './backend.js';

/** What a trapped or exhausted wasm module, or a failed allocation for tensor data, throws. */
const FAULT_MESSAGES = /memory access out of bounds|Aborted\(|out of memory|Cannot enlarge memory|Array buffer allocation failed|unreachable|table index is out of bounds/i;

/** True for errors (or their causes) that leave the backend unusable. */
export function isBackendFault(error: unknown): boolean {
  for (let e = error, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth += 1) {
    if (e instanceof WebAssembly.RuntimeError || FAULT_MESSAGES.test(e.message)) return true;
  }
  return false;
}

let generation = 0;

/** Increments at every reset: whatever holds tensors from an older generation must drop them. */
export function backendGeneration(): number {
  return generation;
}

/**
 * Drops every tensor and the backend instance. engine.reset() disposes tensors through the old
 * backend, which may trap again: then what reset does is done by hand without touching the old
 * instance (fresh bookkeeping, flags re-read, backends unregistered; its memory goes with it).
 */
function resetEngine(): void {
  const engine = tf.engine();
  try {
    engine.reset();
  } catch {
    const internals = engine as unknown as { state: object; registry: Record<string, unknown>; backendName: string | null; backendInstance: unknown; pendingBackendInit: unknown };
    internals.state = new (internals.state.constructor as new () => object)();
    engine.ENV.reset();
    for (const name of Object.keys(internals.registry)) delete internals.registry[name];
    internals.backendName = null;
    internals.backendInstance = null;
    internals.pendingBackendInit = null;
  }
}

let recovering: Promise<void> | undefined;

/** Resets TF.js and starts the backend afresh (once, however many requests saw the fault). */
function recoverBackend(): Promise<void> {
  recovering ??= (async () => {
    generation += 1;
    resetEngine();
    await restartBackend();
  })().finally(() => {
    recovering = undefined;
  });
  return recovering;
}

/** The answer to a request that met a backend fault: a 500 whose message stays in the log. */
class BackendFaultError extends ServiceError {}

/**
 * Runs `work`; a backend fault in it resets the backend before the error goes on (as a
 * BackendFaultError, a plain 500), so the next request finds a working one. If the backend cannot
 * be started again, the process ends: under Lambda the failed request gets the platform's 5xx
 * and the next one a fresh environment, instead of every later request failing in this one.
 */
export async function withRecovery<T>(work: () => Promise<T>, exit: (code: number) => never = process.exit): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (!isBackendFault(error)) throw error;
    logger.error('backend fault: resetting TF.js; models reload on their next use', { error: error as Error });
    recordEvent('BackendResets');
    try {
      await recoverBackend();
    } catch (fatal) {
      logger.error('the backend could not be started again: ending the process', { error: fatal as Error });
      exit(1);
    }
    throw new BackendFaultError('backend fault (reset)', { cause: error });
  }
}
