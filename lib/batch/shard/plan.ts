/**
 * The plan of a sharded batch run: the source object cut into byte ranges at record boundaries,
 * each about `targetBytes`, with the line number it starts after (as the row readers count lines:
 * the newlines before it) and, for CSV, the header's columns every range after the first needs.
 *
 * Boundaries are found in one pass over the bytes, without parsing: a newline ends a record unless
 * it is inside quotes (CSV: a quote toggles, so an escaped "" toggles twice); JSON Lines records end
 * at every newline. It is the only way to be exact: a CSV cannot be cut by seeking, as nothing in the
 * bytes after an offset says whether it is inside a quoted field. The pass jumps from newline to
 * quote with Buffer.indexOf (memchr) instead of looking at every byte in JavaScript (the bench's
 * iris file, in memory: 533-723 MiB/s against 111-244; a file quoted on every row gains nothing),
 * as at high concurrency this one pass is most of a sharded run's wall time (README, "Large files").
 */
import { parse } from 'csv-parse/sync';
import { pinnableEtag, type ObjectStore } from '../../store/index.js';
import { readInParts } from '../../store/partsReader.js';

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
  /** The object's ETag and size as `head` gave them: the pass reads exactly that version. */
  etag: string;
  size: number;
  /** The size of the ranged reads the pass is made of (default: partsReader's 8 MiB). */
  readPartBytes?: number;
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
  const csv = format === 'csv';
  for await (const chunk of readInParts(store, options.key, { size: options.size, etag: pinnableEtag(options.etag), partBytes: options.readPartBytes })) {
    let i = 0;
    // The next quote at or after i (-1: none left in this chunk; JSON Lines: never looked for).
    let quote = csv ? chunk.indexOf(QUOTE) : -1;
    while (i < chunk.length) {
      if (inQuotes) {
        // Newlines up to the closing quote are inside a field: counted as lines, never cut at.
        const close = quote === -1 ? chunk.length : quote;
        for (let n = chunk.indexOf(NEWLINE, i); n !== -1 && n < close; n = chunk.indexOf(NEWLINE, n + 1)) lines += 1;
        if (quote === -1) break;
        inQuotes = false;
        i = quote + 1;
        quote = chunk.indexOf(QUOTE, i);
        continue;
      }
      const newline = chunk.indexOf(NEWLINE, i);
      if (quote !== -1 && (newline === -1 || quote < newline)) {
        inQuotes = true;
        i = quote + 1;
        quote = chunk.indexOf(QUOTE, i);
        continue;
      }
      if (newline === -1) break;
      lines += 1;
      i = newline + 1;
      if (!headerDone) {
        headerDone = true;
        header.push(chunk.subarray(0, i));
      }
      const boundary = offset + i;
      if (boundary - start >= targetBytes) {
        ranges.push({ index: ranges.length, start, end: boundary, line: startLine });
        start = boundary;
        startLine = lines;
      }
    }
    if (!headerDone) header.push(chunk);
    offset += chunk.length;
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
