/**
 * The cached model loader every handler shares. It lives at module scope: created on a cold start,
 * reused while the Lambda stays warm.
 */
import { type IntegrityError, StoreRefusedError, UnavailableError, unavailableAs } from '../errors.js';
import { logger, recordEvent } from '../observability.js';
import { formatModelRef, parseModelRef, type ModelRef } from '../registry/index.js';
import type { ObjectStore } from '../store/index.js';
import type { TimeLimit } from '../runtime/timeLimit.js';
import { AliasCache } from './aliasCache.js';
import { ModelCache, type Wait } from './modelCache.js';
import { knownRefusal, readVersion, versionRefused, type LoadedModel } from './readVersion.js';

export type { LoadedModel } from './readVersion.js';
export { readOrStale } from './staleRead.js';

export interface LoaderOptions {
  aliasTtlMs: number;
  maxBytes: number;
  /** MODEL_STALE_MAX_SECONDS: how long a model may be served past its last confirmation while the store fails (default one hour). */
  staleMaxMs?: number;
  now?: () => number;
}

const ONE_HOUR_MS = 3_600_000;

/**
 * What a request keeps, of its function's time, for its work and answer once its model is loaded:
 * 3 s, or a quarter of a shorter time (a function set to a few seconds still loads from a fast store).
 */
const answerReserveMs = (remainingMs: number) => Math.min(3000, remainingMs / 4);

/** A request's wait for its model ran out while the load goes on: a 503, or TF Serving's status LOADING. */
export class StillLoadingError extends UnavailableError {}

/**
 * A request's wait for its model, bounded by the function's time left less answerReserveMs. A
 * cold load from a store that answers slowly (each call on its last attempt) could otherwise run
 * past the timeout (29 s behind API Gateway): a 504 after the whole wait, the execution environment
 * ended with the load, and the next request cold again. Past the bound the request gets a 503 with
 * Retry-After, and the load goes on: a retry that reaches this function finds it loaded or joins it.
 */
function waitWithin(time: TimeLimit | undefined, what: string): Wait {
  if (!time) return (promise) => promise;
  const remaining = time.remainingMs();
  const deadline = performance.now() + remaining - answerReserveMs(remaining);
  return <T>(promise: Promise<T>) => {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new StillLoadingError(`${what}: not loaded within the request's time (the store answers slowly); the load goes on`, 5, {
              publicMessage: `model ${what} is still loading from the model store; retry in a few seconds`,
            }),
          ),
        Math.max(0, deadline - performance.now()),
      );
    });
    // A promise settled already wins the race: its callbacks run before any timer's.
    return Promise.race([promise, late]).finally(() => clearTimeout(timer));
  };
}

export class ModelLoader {
  readonly aliases: AliasCache;
  readonly cache: ModelCache;

  constructor(
    readonly store: ObjectStore,
    options: LoaderOptions,
  ) {
    this.aliases = new AliasCache(store, { ttlMs: options.aliasTtlMs, staleMaxMs: options.staleMaxMs ?? ONE_HOUR_MS, now: options.now });
    this.cache = new ModelCache(options.maxBytes);
  }

  /** The version a reference means right now (alias answers may be up to the TTL old). */
  resolve(ref: ModelRef): Promise<number> {
    return this.aliases.resolve(ref);
  }

  /**
   * Runs fn with the loaded model; it is not evicted or disposed while fn runs. `time`: a request's
   * (HTTP, answered within the function's timeout): it waits for the model within that time (waitWithin).
   */
  async withModel<T>(ref: ModelRef, fn: (model: LoadedModel) => Promise<T> | T, time?: TimeLimit): Promise<T> {
    const wait = waitWithin(time, formatModelRef(ref));
    const previous = ref.version === undefined ? this.aliases.lastConfirmed(ref)?.version : undefined;
    const version = await wait(this.resolve(ref).catch(unavailable(ref.name)));
    const load = (v: number) => () => readVersion(this.store, ref.name, v).catch(unavailable(`${ref.name}:${v}`));
    const key = `${ref.name}:${version}`;
    if (previous !== undefined && previous !== version && !this.cache.isLoaded(key) && this.cache.isLoaded(`${ref.name}:${previous}`)) {
      // The alias moved to a version not loaded yet: load it first, and if the store fails
      // meanwhile, keep serving the one loaded (stale-while-error) rather than answer 503.
      try {
        await this.cache.use(key, load(version), () => undefined, wait);
      } catch (error) {
        if (!(error instanceof UnavailableError || error instanceof StoreRefusedError)) throw error;
        logger.warn('new version cannot be loaded: serving the one loaded', { model: formatModelRef(ref), version: previous, wanted: version, error });
        recordEvent('StaleServes', { model: ref.name });
        return this.cache.use(`${ref.name}:${previous}`, load(previous), fn, wait);
      }
    }
    return this.cache.use(key, load(version), fn, wait);
  }

  /** Why a version could not be served the last time this function tried it, if it could not: no load is tried. */
  refusalOf(name: string, version: number): IntegrityError | undefined {
    return knownRefusal(this.store, name, version);
  }

  /** The version a load's IntegrityError was of (an alias may have moved since), if a load threw it. */
  versionRefused(error: IntegrityError): number | undefined {
    return versionRefused(error);
  }

  /** An alias of this model moved here: this warm instance sees it at once (others within the TTL). */
  aliasMoved(model: string): void {
    this.aliases.forget(model);
  }

  /** Loads models ahead of the first request, e.g. MODEL_PRELOAD=iris@production,digits. */
  async preload(refs: string[]): Promise<void> {
    await Promise.all(refs.map((text) => this.withModel(parseModelRef(text), () => undefined)));
  }

  clear(): void {
    this.cache.clear();
    this.aliases.clear();
  }
}

/**
 * A model that exists but cannot be read or built now (store unreachable, bad topology) is a 503
 * with Retry-After for clients; a store that refused access or is misconfigured a StoreRefusedError
 * (500, no Retry-After); one whose stored files fail their checksums is an IntegrityError
 * (500: a retry reads the same bytes). The cause goes to the log, not the answer.
 */
const unavailable = (what: string) => unavailableAs(`model ${what} could not be loaded`, 'the model cannot be loaded right now; retry later');
