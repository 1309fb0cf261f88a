/**
 * A large object read front to back as ranged reads made several at a time, each held whole
 * until its turn: one GET streams from S3 at the rate of one connection, and ranged GETs in
 * parallel are how S3 gives more (8 and 16 MiB are the sizes AWS suggests). Used for the one pass
 * the batch planner makes over a whole file. Every part must have the ETag the caller planned
 * for: a file replaced during the pass fails it (ConflictError) instead of mixing two versions.
 */
import type { ObjectStore } from './objectStore.js';

export interface PartsReadOptions {
  size: number;
  etag: string;
  partBytes?: number;
  /** Parts in flight: memory is about (parallel + 1) x partBytes. */
  parallel?: number;
}

/** The object's bytes in order, as the chunks each part arrived in. */
export async function* readInParts(store: ObjectStore, key: string, options: PartsReadOptions): AsyncGenerator<Buffer> {
  const { size, etag, partBytes = 8 * 2 ** 20, parallel = 4 } = options;
  // A part is kept as the chunks it arrived in: joining them would copy every byte once more.
  const read = async (start: number): Promise<Buffer[]> => {
    const stream = await store.getStream(key, { start, end: Math.min(start + partBytes, size), ifMatch: etag });
    return stream.toArray();
  };
  const inFlight: Promise<Buffer[]>[] = [];
  let next = 0;
  const fill = () => {
    for (; inFlight.length < parallel && next < size; next += partBytes) {
      const part = read(next);
      // Awaited in order below; until then a failure must not count as unhandled.
      part.catch(() => undefined);
      inFlight.push(part);
    }
  };
  fill();
  while (inFlight.length > 0) {
    const part = await (inFlight.shift() as Promise<Buffer[]>);
    fill();
    yield* part;
  }
}
