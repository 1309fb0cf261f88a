/**
 * How many bytes of records (data-set rows as read: a JSON line's text, a CSV record's) a chunk may
 * hold before it is encoded. Chunks were bounded by rows (MAX_BATCH) and by the model input their
 * rows make, not by the records themselves: 35 rows of a 9 MB photo each took a 512 MB function to
 * 623 MB before one was decoded, and the measured budget, eaten by the records, then refused the
 * chunk as if not one image fitted.
 */
import { megabytes } from '../bytes.js';
import { PayloadTooLargeError } from '../errors.js';
import type { EncodeBudget } from './budget.js';
import { FILE_RECORD_LIMIT, MAX_RECORD_LENGTH, type RecordLimit } from './recordLimit.js';

/**
 * The share of the budget a chunk's records may take. The rest is for what is made from them while
 * they are still held: the chunk's model input, and one image decoded at a time
 * (image/workingMemory.ts, checked against the same budget, which measures the records as part of
 * the process's memory). Half keeps a record that fits alone from being refused for its neighbours.
 */
const RECORDS_SHARE = 0.5;

/**
 * The memory a record takes per byte of it while it is read: its line's bytes, their text, the
 * parser's text and the values it cuts from it (a base64 photo is one string as long as the line),
 * the record's own text (batch outputs repeat it), some of it garbage until the next collection
 * (runtime/footprint.ts collects after 48 MB of growth). In a 256 MB function reading a CSV of
 * base64 photos beside another such process, a batch sized at 3 bytes a byte (about 8 MB of
 * records) left 135 MB resident outside tensors, about 60 MB above a fresh process, and one row of
 * a 320 x 320 convolution model no longer fitted beside it.
 */
const READ_COPIES = 6;

/**
 * Bytes of records (their size in the file) a chunk may hold now; a chunk always takes at least one
 * record, whatever its size. `reserved`: what one row's work takes after its records are read (its
 * model input and one row's pass, ops/runModel.ts's oneRowNeed), kept out of the share: records
 * that took half of all the budget left a 256 MB function too little for one row of a 320 x 320
 * convolution model (150 base64 photos of 120 KB, a CSV of 18 MB), and the whole file failed as
 * "no request fits".
 */
export function recordRoom(budget: EncodeBudget, reserved = 0): number {
  return Math.floor((Math.max(0, budget.available() - reserved) * RECORDS_SHARE) / READ_COPIES);
}

/**
 * The longest record a data set's reader may hold now: the other share of the budget, at
 * READ_COPIES bytes a byte, within a file's MAX_RECORD_LENGTH. A chunk takes one record whatever
 * its size, so a record was bounded by MAX_RECORD_LENGTH alone: one JSON line of 33 MB of words
 * took a 256 MB function to 374 MB while it was read and encoded (an out-of-memory kill in Lambda),
 * and its evaluation answered 200. Past this limit, a 413 naming it and the function that reads more.
 */
export function recordLimit(budget: EncodeBudget, reserved = 0): RecordLimit {
  // A function that cannot run even one row has no such limit: that is no record's fault, and the
  // first row fails with the 413 naming what one row needs (an evaluation of nsfw in 256 MB blamed
  // its 12-byte header for being "longer than 0.0 MB").
  if (reserved > budget.available()) return FILE_RECORD_LIMIT;
  const bytes = Math.floor((Math.max(0, budget.available() - reserved) * (1 - RECORDS_SHARE)) / READ_COPIES);
  if (bytes >= MAX_RECORD_LENGTH) return FILE_RECORD_LIMIT;
  return {
    bytes,
    tooLong: (line) =>
      new PayloadTooLargeError(
        `the record that starts on line ${line} is longer than ${megabytes(bytes)}, the longest this function can read as one record ` +
          `(about ${READ_COPIES} bytes of memory a byte while it is read, with what its row takes after it; this function can give ${budget.describe()}); ` +
          `${budget.largerSettingFor(reserved + (MAX_RECORD_LENGTH * READ_COPIES) / (1 - RECORDS_SHARE))} would read records up to 32 MiB`,
      ),
  };
}
