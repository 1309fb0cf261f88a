/**
 * A large object read front to back as ranged reads made several at a time, each held until its
 * turn: one GET streams from S3 at the rate of one connection, and ranged GETs in parallel are how
 * S3 gives more (8 and 16 MiB are the sizes AWS suggests). Used for the one pass the batch planner
 * makes over a whole file. With an ETag, every part must have it: a file replaced during the pass
 * fails it (ObjectChangedError) instead of mixing two versions.
 */
import type { Readable } from 'node:stream';
import type { ObjectStore } from './objectStore.js';

export interface PartsReadOptions {
  size: number;
  etag?: string;
  partBytes?: number;
  /** Parts in flight: memory is about (parallel + 1) x partBytes. */
  parallel?: number;
}

interface Part {
  stream: Promise<Readable>;
  /** Kept as the chunks it arrived in: joining them would copy every byte once more. */
  chunks: Promise<Buffer[]>;
}

/** The object's bytes in order, as the chunks each part arrived in. */
export async function* readInParts(store: ObjectStore, key: string, options: PartsReadOptions): AsyncGenerator<Buffer> {
  const { size, etag, partBytes = 8 * 2 ** 20, parallel = 4 } = options;
  const inFlight: Part[] = [];
  let next = 0;
  const fill = () => {
    for (; inFlight.length < parallel && next < size; next += partBytes) {
      const stream = store.getStream(key, { start: next, end: Math.min(next + partBytes, size), ifMatch: etag });
      const chunks = stream.then((s) => s.toArray());
      // Awaited in order below, or dropped if the pass stops: a failure meanwhile is not unhandled.
      chunks.catch(() => undefined);
      inFlight.push({ stream, chunks });
    }
  };
  try {
    fill();
    while (inFlight.length > 0) {
      const part = inFlight.shift() as Part;
      const chunks = await part.chunks;
      fill();
      yield* chunks;
    }
  } finally {
    // Stopped early (the caller's error, a failed part): the reads still in flight stop too.
    for (const part of inFlight)
      part.stream.then(
        (s) => s.destroy(),
        () => undefined,
      );
  }
}
