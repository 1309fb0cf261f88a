/**
 * The cached model loader every handler shares. It lives at module scope: created on a cold start,
 * reused while the Lambda stays warm.
 */
import { ServiceError, UnavailableError } from '../errors.js';
import { parseModelRef, type ModelRef } from '../registry/index.js';
import type { ObjectStore } from '../store/index.js';
import { AliasCache } from './aliasCache.js';
import { ModelCache } from './modelCache.js';
import { readVersion, type LoadedModel } from './readVersion.js';

export type { LoadedModel } from './readVersion.js';

export interface LoaderOptions {
  aliasTtlMs: number;
  maxBytes: number;
  now?: () => number;
}

export class ModelLoader {
  readonly aliases: AliasCache;
  readonly cache: ModelCache;

  constructor(
    readonly store: ObjectStore,
    options: LoaderOptions,
  ) {
    this.aliases = new AliasCache(store, options.aliasTtlMs, options.now);
    this.cache = new ModelCache(options.maxBytes);
  }

  /** The version a reference means right now (alias answers may be up to the TTL old). */
  resolve(ref: ModelRef): Promise<number> {
    return this.aliases.resolve(ref);
  }

  /** Runs fn with the loaded model; it is not evicted or disposed while fn runs. */
  async withModel<T>(ref: ModelRef, fn: (model: LoadedModel) => Promise<T> | T): Promise<T> {
    const version = await this.resolve(ref).catch(unavailable(ref.name));
    const load = () => readVersion(this.store, ref.name, version).catch(unavailable(`${ref.name}:${version}`));
    return this.cache.use(`${ref.name}:${version}`, load, fn);
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
 * A model that exists but cannot be read or built (store unreachable, checksum mismatch, bad
 * topology) is a 503 with Retry-After for clients; the cause goes to the log, not the answer.
 */
function unavailable(what: string): (error: unknown) => never {
  return (error) => {
    if (error instanceof ServiceError && error.statusCode < 500) throw error;
    throw new UnavailableError(`model ${what} could not be loaded: ${(error as Error).message}`, 5, {
      cause: error,
      publicMessage: 'the model cannot be loaded right now; retry later',
    });
  };
}
