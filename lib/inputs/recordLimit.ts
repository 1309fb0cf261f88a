/**
 * How long one record of a data file (a CSV row, its quoted line breaks and all, or a JSON line)
 * may be. A reader holds a record whole until its end, so without a bound a file with no line
 * break (or an unclosed quote) is held whole: a 10 GB upload would take the function down, and
 * parsing it in chunks would take hours before failing. 32 MiB holds a base64 photo of 24 MB;
 * the readers hold a few copies of the record, well inside a 2048 MB function.
 */
import { BadRequestError } from '../errors.js';

/** Bytes (JSON Lines, the planner) or characters (CSV text, which papaparse reads as a string). */
export const MAX_RECORD_LENGTH = 32 * 2 ** 20;

/** How long a record a reader may hold, and the error for one that starts on `line` and is longer. */
export interface RecordLimit {
  bytes: number;
  tooLong(line: number): Error;
}

export const FILE_RECORD_LIMIT: RecordLimit = { bytes: MAX_RECORD_LENGTH, tooLong: (line) => recordTooLong(line) };

export function recordTooLong(line: number): BadRequestError {
  return new BadRequestError(
    `the record that starts on line ${line} is longer than 32 MiB: a data file holds one row per line (CSV fields may hold quoted line breaks), each at most 32 MiB; a row with no line break after it, or a quote that is never closed, reads as one record`,
  );
}
