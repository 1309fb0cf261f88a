/**
 * The cached model loader every handler shares. It lives at module scope: created on a cold start,
 * reused while the Lambda stays warm.
 */
import { StoreRefusedError, UnavailableError, unavailableAs } from '../errors.js';
import { logger, recordEvent } from '../observability.js';
import { formatModelRef, parseModelRef, type ModelRef } from '../registry/index.js';
import type { ObjectStore } from '../store/index.js';
import { AliasCache } from './aliasCache.js';
import { ModelCache } from './modelCache.js';
import { readVersion, type LoadedModel } from './readVersion.js';

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

  /** Runs fn with the loaded model; it is not evicted or disposed while fn runs. */
  async withModel<T>(ref: ModelRef, fn: (model: LoadedModel) => Promise<T> | T): Promise<T> {
    const previous = ref.version === undefined ? this.aliases.lastConfirmed(ref)?.version : undefined;
    const version = await this.resolve(ref).catch(unavailable(ref.name));
    const load = (v: number) => () => readVersion(this.store, ref.name, v).catch(unavailable(`${ref.name}:${v}`));
    const key = `${ref.name}:${version}`;
    if (previous !== undefined && previous !== version && !this.cache.isLoaded(key) && this.cache.isLoaded(`${ref.name}:${previous}`)) {
      // The alias moved to a version not loaded yet: load it first, and if the store fails
      // meanwhile, keep serving the one loaded (stale-while-error) rather than answer 503.
      try {
        await this.cache.use(key, load(version), () => undefined);
      } catch (error) {
        if (!(error instanceof UnavailableError || error instanceof StoreRefusedError)) throw error;
        logger.warn('new version cannot be loaded: serving the one loaded', { model: formatModelRef(ref), version: previous, wanted: version, error });
        recordEvent('StaleServes', { model: ref.name });
        return this.cache.use(`${ref.name}:${previous}`, load(previous), fn);
      }
    }
    return this.cache.use(key, load(version), fn);
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
