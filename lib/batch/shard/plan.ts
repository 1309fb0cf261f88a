/**
 * The plan of a sharded batch run: the source object cut into byte ranges at record boundaries,
 * each about `targetBytes`, with the line number it starts after (as the row readers count lines:
 * the newlines before it) and, for CSV, the header's columns every range after the first needs.
 *
 * Boundaries are found in one pass over the bytes, without parsing: a newline ends a record unless
 * it is inside quotes (CSV: a quote toggles, so an escaped "" toggles twice); JSON Lines records end
 * at every newline. The pass reads about 500 MB/s, far faster than scoring, and it is the only way
 * to be exact: a CSV cannot be cut by seeking, as nothing in the bytes after an offset says whether
 * it is inside a quoted field.
 */
import { parse } from 'csv-parse/sync';
import type { ObjectStore } from '../../store/index.js';

export interface ShardRange {
  index: number;
  /** Byte offsets [start, end) of the source. */
  start: number;
  end: number;
  /** Newlines before `start`: the line count the readers resume from. */
  line: number;
}

export interface ShardPlan {
  key: string;
  etag: string;
  format: 'csv' | 'jsonl';
  size: number;
  model: { name: string; version: number };
  /** CSV: the header's columns (BOM removed). */
  columns?: string[];
  ranges: ShardRange[];
  /** When the run began (the manifest's startedAt). */
  startedAt?: string;
}

const NEWLINE = 0x0a;
const QUOTE = 0x22;

export interface PlanOptions {
  key: string;
  etag: string;
  format: 'csv' | 'jsonl';
  model: { name: string; version: number };
  targetBytes: number;
}

export async function planRanges(store: ObjectStore, options: PlanOptions): Promise<ShardPlan> {
  const { format, targetBytes } = options;
  const ranges: ShardRange[] = [];
  let offset = 0;
  let lines = 0;
  let inQuotes = false;
  let start = 0;
  let startLine = 0;
  // CSV: the bytes of the header record (up to the first newline outside quotes).
  const header: Buffer[] = [];
  let headerDone = format !== 'csv';
  const stream = await store.getStream(options.key);
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      for (let i = 0; i < chunk.length; i += 1) {
        const byte = chunk[i];
        if (byte === QUOTE && format === 'csv') inQuotes = !inQuotes;
        else if (byte === NEWLINE) {
          lines += 1;
          if (inQuotes) continue;
          if (!headerDone) {
            headerDone = true;
            header.push(chunk.subarray(0, i + 1));
          }
          const boundary = offset + i + 1;
          if (boundary - start >= targetBytes) {
            ranges.push({ index: ranges.length, start, end: boundary, line: startLine });
            start = boundary;
            startLine = lines;
          }
        }
      }
      if (!headerDone) header.push(chunk);
      offset += chunk.length;
    }
  } finally {
    stream.destroy();
  }
  if (start < offset || ranges.length === 0) ranges.push({ index: ranges.length, start, end: offset, line: startLine });
  let columns: string[] | undefined;
  if (format === 'csv' && header.length > 0) {
    const text = Buffer.concat(header).toString('utf8');
    const [first] = parse(text, { bom: true, relax_column_count: true }) as string[][];
    columns = first;
  }
  return { key: options.key, etag: options.etag, format, size: offset, model: options.model, columns, ranges };
}
