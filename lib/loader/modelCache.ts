/**
 * The module-scope model cache shared by every handler in a warm Lambda:
 * - single-flight: concurrent requests for one version share one load;
 * - failures are not cached (the next request tries again);
 * - bounded by weight bytes, least recently used first; an evicted model is disposed once no
 *   request is using it, so its tensors leave backend memory;
 * - a model loaded before a backend reset (lib/runtime/recovery.ts) is loaded again.
 */
import { backendGeneration } from '../runtime/recovery.js';
import { disposeModel } from '../runtime/tfModel.js';
import type { LoadedModel } from './readVersion.js';

interface Entry {
  promise: Promise<LoadedModel>;
  loaded?: LoadedModel;
  users: number;
  evicted: boolean;
  /** The backend generation it loaded under: after a backend reset its tensors are gone. */
  generation: number;
}

/** Disposes an entry's model, unless the backend it lived in was reset (its tensors went with it). */
function disposeEntry(entry: Entry): void {
  if (entry.generation === backendGeneration() && entry.loaded) disposeModel(entry.loaded.model);
}

/** How a caller waits for a promise: as it is, or within a deadline. */
export type Wait = <T>(promise: Promise<T>) => Promise<T>;

export class ModelCache {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly maxBytes: number) {}

  /**
   * Runs fn with the model for key, loading it at most once however many callers wait. `wait`
   * bounds this caller's wait for the load (it throws past it); the load goes on for the next one.
   */
  async use<T>(key: string, load: () => Promise<LoadedModel>, fn: (model: LoadedModel) => Promise<T> | T, wait: Wait = (loading) => loading): Promise<T> {
    const entry = this.entry(key, load);
    entry.users += 1;
    try {
      return await fn(await wait(entry.promise));
    } finally {
      entry.users -= 1;
      if (entry.evicted && entry.users === 0) disposeEntry(entry);
    }
  }

  private entry(key: string, load: () => Promise<LoadedModel>): Entry {
    let existing = this.entries.get(key);
    if (existing && existing.generation !== backendGeneration()) {
      // Loaded before a backend reset: reload (a request still using it has already failed).
      this.remove(key, existing);
      existing = undefined;
    }
    if (existing) {
      // Re-insert: Map order is the LRU order, oldest first.
      this.entries.delete(key);
      this.entries.set(key, existing);
      return existing;
    }
    const entry: Entry = { users: 0, evicted: false, generation: backendGeneration(), promise: Promise.resolve(undefined as never) };
    entry.promise = load().then(
      (loaded) => {
        entry.loaded = loaded;
        this.evictOver(key);
        return loaded;
      },
      (error: unknown) => {
        if (this.entries.get(key) === entry) this.entries.delete(key);
        throw error;
      },
    );
    this.entries.set(key, entry);
    return entry;
  }

  get totalBytes(): number {
    let total = 0;
    for (const entry of this.entries.values()) total += entry.loaded?.bytes ?? 0;
    return total;
  }

  /** Whether key's model is loaded now (in the backend's current generation). */
  isLoaded(key: string): boolean {
    const entry = this.entries.get(key);
    return entry?.loaded !== undefined && entry.generation === backendGeneration();
  }

  keys(): string[] {
    return [...this.entries.keys()];
  }

  /** Evicts least recently used loaded models until under the bound; never the one just loaded. */
  private evictOver(keep: string): void {
    for (const [key, entry] of this.entries) {
      if (this.totalBytes <= this.maxBytes) return;
      if (key === keep || !entry.loaded) continue;
      this.remove(key, entry);
    }
  }

  private remove(key: string, entry: Entry): void {
    this.entries.delete(key);
    entry.evicted = true;
    if (entry.users === 0) disposeEntry(entry);
  }

  /** Disposes every loaded model (tests, and a clean shutdown). */
  clear(): void {
    for (const [key, entry] of this.entries) this.remove(key, entry);
  }
}
