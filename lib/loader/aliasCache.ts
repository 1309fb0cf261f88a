/**
 * Resolved aliases are trusted for a short TTL, so a promotion takes effect without a redeploy
 * while a warm function does not list the store on every request. Explicit versions are immutable
 * and never need refreshing.
 */
import { formatModelRef, resolveVersion, type ModelRef } from '../registry/index.js';
import type { ObjectStore } from '../store/index.js';

interface Resolved {
  version: Promise<number>;
  expiresAt: number;
}

export class AliasCache {
  private readonly resolved = new Map<string, Resolved>();

  constructor(
    private readonly store: ObjectStore,
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  resolve(ref: ModelRef): Promise<number> {
    // Versions are immutable: an explicit one needs no lookup (loading it reports a missing one).
    if (ref.version !== undefined) return Promise.resolve(ref.version);
    const key = formatModelRef(ref);
    const hit = this.resolved.get(key);
    if (hit && hit.expiresAt > this.now()) return hit.version;
    // Single-flight: callers arriving during a refresh share it; a failure is not remembered.
    const version = resolveVersion(this.store, ref);
    this.resolved.set(key, { version, expiresAt: this.now() + this.ttlMs });
    version.catch(() => {
      if (this.resolved.get(key)?.version === version) this.resolved.delete(key);
    });
    return version;
  }

  /** Forgets the resolved aliases of one model (after this process moved one of them). */
  forget(model: string): void {
    for (const key of this.resolved.keys()) if (key === model || key.startsWith(`${model}@`)) this.resolved.delete(key);
  }

  clear(): void {
    this.resolved.clear();
  }
}
