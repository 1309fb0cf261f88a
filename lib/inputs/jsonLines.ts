/**
 * JSON Lines read as a stream of rows, each with the byte offset after it, so a batch run can stop
 * at a row boundary and a later invocation can resume there with a ranged GET (CSV files:
 * csvRecords.ts). Batch scoring and evaluate both read JSON Lines with it. Invalid UTF-8 fails the
 * read (fatal decoder) instead of scoring mojibake; a line that is not a JSON object is a row error
 * the caller words (batch: one row of the errors file; evaluate: the data set is refused).
 */
import type { Readable } from 'node:stream';
import { BadRequestError } from '../errors.js';

export interface BatchRow {
  line: number;
  values: Record<string, unknown>;
  /** Byte offset just past this row in the source object. */
  end: number;
}

class NotUtf8Error extends BadRequestError {}

/** JSON Lines: one object a line; a line that is not one is a row error, not the end of the file. */
export async function* readJsonl(stream: Readable, resume?: { offset: number; line: number }): AsyncGenerator<BatchRow | { line: number; end: number; error: string }> {
  let offset = resume?.offset ?? 0;
  let line = resume?.line ?? 0;
  let pending = Buffer.alloc(0);
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
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    let data = pending.length ? Buffer.concat([pending, chunk]) : chunk;
    for (let cut = data.indexOf(0x0a); cut >= 0; cut = data.indexOf(0x0a)) {
      const row = emit(data.subarray(0, cut));
      if (row) yield row;
      data = data.subarray(cut + 1);
    }
    pending = Buffer.from(data);
  }
  if (pending.length) {
    const row = emit(pending);
    if (row) yield { ...row, end: row.end - 1 };
  }
}
