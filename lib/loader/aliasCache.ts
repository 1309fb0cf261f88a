/**
 * Resolved aliases are trusted for a short TTL, so a promotion takes effect without a redeploy
 * while a warm function does not read the store on every request. Explicit versions are immutable
 * and never need refreshing.
 *
 * Stale-while-error: when a refresh fails for a reason that may pass (the store unreachable, a
 * 5xx, throttling), the version last confirmed keeps being served, for up to `staleMaxMs` after
 * that confirmation, with a warning and a StaleServes metric; the store is asked again after a
 * short pause, not on every request. An authoritative answer (the alias or model is gone: 404)
 * is never papered over.
 */
import { IntegrityError, ServiceError } from '../errors.js';
import { logger, recordEvent } from '../observability.js';
import { DEFAULT_ALIAS, formatModelRef, resolveVersion, type ModelRef } from '../registry/index.js';
import type { ObjectStore } from '../store/index.js';

interface Resolved {
  version: Promise<number>;
  expiresAt: number;
  /** The store has not answered this refresh yet: requests arriving meanwhile get the same bound as the one that started it. */
  pending: boolean;
}

interface Confirmed {
  version: number;
  /** When the store last confirmed it. */
  at: number;
}

/**
 * An answer from the store that a retry would not change (not found, bad name; a record that is
 * damaged, which a retry reads again): never served around. A warm function served the version
 * last confirmed over a hand-edited alias for up to an hour, where a fresh one answered 500.
 */
export function isAuthoritative(error: unknown): boolean {
  return (error instanceof ServiceError && error.statusCode < 500) || error instanceof IntegrityError;
}

export interface AliasCacheOptions {
  ttlMs: number;
  /** How long after its last confirmation a version may be served while the store fails. */
  staleMaxMs: number;
  now?: () => number;
}

/**
 * How long a request to a loaded model waits for the store (its alias, its metadata's listings)
 * before it is answered from memory: a silent store fails a call only after S3_MAX_ATTEMPTS x
 * S3_SOCKET_TIMEOUT_MS (15 s by default).
 */
const STALE_AFTER_MS = 2000;

/** What unlessSilent answers for a store that has not answered within STALE_AFTER_MS. */
export const SILENT = Symbol('silent');

/** `work`'s answer, or SILENT once the store has taken STALE_AFTER_MS over it (the work goes on). */
export async function unlessSilent<T>(work: Promise<T>): Promise<T | typeof SILENT> {
  let timer: NodeJS.Timeout | undefined;
  const silent = new Promise<typeof SILENT>((resolve) => {
    timer = setTimeout(() => resolve(SILENT), STALE_AFTER_MS);
  });
  try {
    return await Promise.race([work, silent]);
  } finally {
    clearTimeout(timer);
  }
}

export class AliasCache {
  private readonly resolved = new Map<string, Resolved>();
  private readonly confirmed = new Map<string, Confirmed>();
  private readonly now: () => number;

  constructor(
    private readonly store: ObjectStore,
    private readonly options: AliasCacheOptions,
  ) {
    this.now = options.now ?? Date.now;
  }

  resolve(ref: ModelRef): Promise<number> {
    // Versions are immutable: an explicit one needs no lookup (loading it reports a missing one).
    if (ref.version !== undefined) return Promise.resolve(ref.version);
    const key = formatModelRef(ref);
    const hit = this.resolved.get(key);
    if (hit && hit.expiresAt > this.now()) return hit.pending ? this.notLongerThan(key, ref, hit.version) : hit.version;
    // Single-flight: callers arriving during a refresh share it.
    const version = this.refresh(key, ref);
    const entry: Resolved = { version, expiresAt: this.now() + this.options.ttlMs, pending: true };
    this.resolved.set(key, entry);
    version.then(
      () => {
        entry.pending = false;
      },
      () => {
        if (this.resolved.get(key) === entry) this.resolved.delete(key);
      },
    );
    return this.notLongerThan(key, ref, version);
  }

  /**
   * The refresh's answer, or the version last confirmed once the store has been silent for
   * STALE_AFTER_MS: a silent store takes S3_MAX_ATTEMPTS x S3_SOCKET_TIMEOUT_MS to fail (15 s by
   * default), which every request to a loaded model waited, again at each refresh: the one that
   * started it and those arriving while it runs (one at a time in Lambda, many at once under
   * `npm start` or serverless offline). The refresh goes on, and its answer (a new version, or an
   * authoritative 404) counts as soon as it comes.
   */
  private async notLongerThan(key: string, ref: ModelRef, version: Promise<number>): Promise<number> {
    const last = this.confirmed.get(key);
    if (!last || this.now() - last.at > this.options.staleMaxMs) return version;
    // A refresh left running has its failure handled in resolve().
    const answer = await unlessSilent(version);
    if (answer !== SILENT) return answer;
    logger.warn('store slow to answer: serving the version last confirmed', { model: key, version: last.version });
    recordEvent('StaleServes', { model: ref.name });
    return last.version;
  }

  private async refresh(key: string, ref: ModelRef): Promise<number> {
    // A confirmation is as old as the read that made it: a slow read finishing after a newer one
    // (a refresh left running past STALE_AFTER_MS) must not put its older answer over the newer.
    const asked = this.now();
    try {
      const { version, alias } = await resolveVersion(this.store, ref);
      const confirmed = { version, at: asked };
      // The model's default and its production alias name one version while that alias exists:
      // confirmed through either, both are served while the store fails (either may be asked first).
      const same = alias === DEFAULT_ALIAS ? [formatModelRef({ name: ref.name }), formatModelRef({ name: ref.name, alias })] : [key];
      for (const k of same) if ((this.confirmed.get(k)?.at ?? Number.NEGATIVE_INFINITY) <= asked) this.confirmed.set(k, confirmed);
      return version;
    } catch (error) {
      const last = this.confirmed.get(key);
      if (isAuthoritative(error)) {
        // Gone (an alias deleted, a model removed) or damaged: never served from memory again, even
        // while the store later fails, unless a newer read confirms it meanwhile.
        if (last && last.at <= asked) this.confirmed.delete(key);
        throw error;
      }
      if (!last || this.now() - last.at > this.options.staleMaxMs) throw error;
      const staleSeconds = Math.round((this.now() - last.at) / 1000);
      logger.warn('store unavailable: serving the version last confirmed', { model: key, version: last.version, staleSeconds, error: error as Error });
      recordEvent('StaleServes', { model: ref.name });
      // Ask the store again after a pause, not on every request meanwhile.
      this.resolved.set(key, { version: Promise.resolve(last.version), expiresAt: this.now() + Math.min(this.options.ttlMs, 5000), pending: false });
      return last.version;
    }
  }

  /** The version last confirmed for this reference, if any, and when. */
  lastConfirmed(ref: ModelRef): Confirmed | undefined {
    return this.confirmed.get(formatModelRef(ref));
  }

  /** Forgets the resolved aliases of one model (after this process moved one of them). */
  forget(model: string): void {
    for (const key of this.resolved.keys()) if (key === model || key.startsWith(`${model}@`)) this.resolved.delete(key);
  }

  clear(): void {
    this.resolved.clear();
    this.confirmed.clear();
  }
}
