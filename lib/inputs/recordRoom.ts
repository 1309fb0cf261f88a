/**
 * How many bytes of records (data-set rows as read: a JSON line's text, a CSV record's) a chunk may
 * hold before it is encoded. Chunks were bounded by rows (MAX_BATCH) and by the model input their
 * rows make, not by the records themselves: 35 rows of a 9 MB photo each took a 512 MB function to
 * 623 MB before one was decoded, and the measured budget, eaten by the records, then refused the
 * chunk as if not one image fitted.
 */
import type { EncodeBudget } from './budget.js';

/**
 * The share of the budget a chunk's records may take. The rest is for what is made from them while
 * they are still held: the chunk's model input, and one image decoded at a time
 * (image/workingMemory.ts, checked against the same budget, which measures the records as part of
 * the process's memory). Half keeps a record that fits alone from being refused for its neighbours.
 */
const RECORDS_SHARE = 0.5;

/**
 * The memory a record takes per byte of it while it is read: its line's bytes, their text, and the
 * values parsed from the text (a base64 photo is one string as long as the line), the first two
 * garbage until the next collection (runtime/footprint.ts collects after 48 MB of growth).
 */
const READ_COPIES = 3;

/** Bytes of records (their size in the file) a chunk may hold now; a chunk always takes at least one record, whatever its size. */
export function recordRoom(budget: EncodeBudget): number {
  return Math.floor((budget.available() * RECORDS_SHARE) / READ_COPIES);
}
