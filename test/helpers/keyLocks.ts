/**
 * Readers-writer locks by key, for the S3 proxy: s3rver writes an object in place (its bytes, then
 * its metadata), so a read during a write of the same key could return a torn body under the old
 * ETag, which S3 never does. Reads of a key run together; a write waits for the reads and the
 * write before it, and reads that arrive after it wait for it.
 */
export interface KeyLocks {
  shared<T>(key: string, fn: () => Promise<T>): Promise<T>;
  exclusive<T>(key: string, fn: () => Promise<T>): Promise<T>;
}

export function keyLocks(): KeyLocks {
  const writes = new Map<string, Promise<unknown>>(); // the last write of each key, settled or not
  const reads = new Map<string, Set<Promise<unknown>>>(); // the reads of each key not yet finished

  const settled = (p: Promise<unknown>) =>
    p.then(
      () => undefined,
      () => undefined,
    );

  return {
    async shared(key, fn) {
      const before = writes.get(key);
      // Registered now, before waiting, so a write arriving meanwhile waits for this read.
      const run = (async () => {
        if (before) await settled(before);
        return fn();
      })();
      const own = reads.get(key) ?? new Set();
      reads.set(key, own.add(run));
      try {
        return await run;
      } finally {
        own.delete(run);
        if (own.size === 0 && reads.get(key) === own) reads.delete(key);
      }
    },
    async exclusive(key, fn) {
      const before = [writes.get(key), ...(reads.get(key) ?? [])].filter((p) => p !== undefined);
      const run = (async () => {
        await Promise.all(before.map(settled));
        return fn();
      })();
      writes.set(key, run);
      try {
        return await run;
      } finally {
        if (writes.get(key) === run) writes.delete(key);
      }
    },
  };
}
