/**
 * Streaming readers for batch files that know the byte offset after each row, so a run can stop
 * at a row boundary and a later invocation can resume there with a ranged GET. Invalid UTF-8
 * fails the read (fatal decoder) instead of scoring mojibake.
 */
import { parse } from 'csv-parse';
import { pipeline, Transform, type Readable } from 'node:stream';
import { BadRequestError } from '../errors.js';

export interface BatchRow {
  line: number;
  values: Record<string, unknown>;
  /** Byte offset just past this row in the source object. */
  end: number;
}

class NotUtf8Error extends BadRequestError {}

/** Passes bytes through unchanged (offsets stay exact) while checking they are UTF-8. */
function utf8Checked(): Transform {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      try {
        decoder.decode(chunk, { stream: true });
        done(null, chunk);
      } catch {
        done(new NotUtf8Error('the file is not valid UTF-8 text'));
      }
    },
    flush(done) {
      try {
        decoder.decode();
        done();
      } catch {
        done(new NotUtf8Error('the file ends in the middle of a UTF-8 character'));
      }
    },
  });
}

export interface CsvResume {
  columns: string[];
  offset: number;
  line: number;
}

/** CSV records as objects of strings (no casting: output keeps the original text). */
export async function* readCsv(stream: Readable, resume?: CsvResume): AsyncGenerator<BatchRow & { columns: string[] }> {
  const base = resume?.offset ?? 0;
  // pipeline(), not pipe(): an error anywhere (unreadable source, bad UTF-8) must reach the
  // iteration below instead of becoming an unhandled 'error' event that kills the process.
  const parser = pipeline(
    stream,
    utf8Checked(),
    parse({ columns: resume ? resume.columns : true, info: true, bom: !resume, skip_empty_lines: true, relax_column_count: false }),
    () => undefined,
  );
  let line = resume?.line ?? 1;
  try {
    for await (const { record, info } of parser as AsyncIterable<{ record: Record<string, string>; info: { bytes: number; lines: number } }>) {
      line = (resume?.line ?? 1) + info.lines - (resume ? 0 : 1);
      yield { line, values: record, end: base + info.bytes, columns: Object.keys(record) };
    }
  } catch (error) {
    if (error instanceof BadRequestError) throw error;
    throw new BadRequestError(`the CSV is malformed near line ${line + 1}: ${(error as Error).message}`);
  }
}

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
