/**
 * JSON Lines read as a stream of rows, each with the byte offset after it, so a batch run can stop
 * at a row boundary and a later invocation can resume there with a ranged GET (CSV files:
 * csvRecords.ts). Batch scoring and evaluate both read JSON Lines with it. Invalid UTF-8 fails the
 * read (fatal decoder) instead of scoring mojibake; a line that is not a JSON object, or is longer
 * than a record may be (recordLimit.ts: read past, not held), is a row error the caller words
 * (batch: one row of the errors file; evaluate: the data set is refused).
 */
import type { Readable } from 'node:stream';
import { BadRequestError } from '../errors.js';
import { MAX_RECORD_LENGTH } from './recordLimit.js';

export interface BatchRow {
  line: number;
  values: Record<string, unknown>;
  /** Byte offset just past this row in the source object. */
  end: number;
}

class NotUtf8Error extends BadRequestError {}

/** The row error of a line longer than a record may be (as `maxRecord` says, the caller words its own when it set one). */
export const TOO_LONG = 'the line is longer than 32 MiB (a JSON Lines file holds one object a line)';

/**
 * JSON Lines: one object a line; a line that is not one is a row error, not the end of the file.
 * `maxRecord`: the longest line held (less than MAX_RECORD_LENGTH where the memory holds less: a
 * line past it is the row error TOO_LONG, which the caller words).
 */
export async function* readJsonl(
  stream: Readable,
  resume?: { offset: number; line: number },
  maxRecord = MAX_RECORD_LENGTH,
): AsyncGenerator<BatchRow | { line: number; end: number; error: string }> {
  let offset = resume?.offset ?? 0;
  let line = resume?.line ?? 0;
  const decoder = new TextDecoder('utf-8', { fatal: true });
  const emit = (bytes: Buffer) => {
    line += 1;
    offset += bytes.length + 1;
    let text: string;
    try {
      text = decoder.decode(bytes);
    } catch {
      throw new NotUtf8Error(`line ${line} is not valid UTF-8 text`);
    }
    if (text.trim() === '') return undefined;
    try {
      const values = JSON.parse(text);
      if (typeof values !== 'object' || values === null || Array.isArray(values)) return { line, end: offset, error: 'expected a JSON object' };
      return { line, end: offset, values };
    } catch {
      return { line, end: offset, error: 'not valid JSON' };
    }
  };
  // The start of a line whose end has not been read yet: kept as the chunks it came in, joined
  // once its line feed arrives (joining at every chunk would copy a long line again and again).
  // A line longer than a record may be is let go as it is read, and is a row error at its end.
  let held: Buffer[] = [];
  let heldBytes = 0;
  let skipped = 0;
  const skip = (bytes: number) => {
    held = [];
    heldBytes = 0;
    skipped += bytes;
  };
  const tooLong = () => {
    line += 1;
    offset += skipped + 1;
    skipped = 0;
    return { line, end: offset, error: TOO_LONG };
  };
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    let from = 0;
    for (let cut = chunk.indexOf(0x0a); cut >= 0; cut = chunk.indexOf(0x0a, from)) {
      if (skipped || heldBytes + cut - from > maxRecord) {
        skip(heldBytes + cut - from);
        yield tooLong();
      } else {
        const bytes = heldBytes ? Buffer.concat([...held, chunk.subarray(from, cut)]) : chunk.subarray(from, cut);
        held = [];
        heldBytes = 0;
        const row = emit(bytes);
        if (row) yield row;
      }
      from = cut + 1;
    }
    if (from === chunk.length) continue;
    if (skipped || heldBytes + chunk.length - from > maxRecord) skip(heldBytes + chunk.length - from);
    else {
      // Copied: the stream may reuse its buffer for the next chunk.
      held.push(Buffer.from(chunk.subarray(from)));
      heldBytes += chunk.length - from;
    }
  }
  if (skipped) {
    const row = tooLong();
    yield { ...row, end: row.end - 1 };
    return;
  }
  const pending = Buffer.concat(held);
  if (pending.length) {
    const row = emit(pending);
    if (row) yield { ...row, end: row.end - 1 };
  }
}
