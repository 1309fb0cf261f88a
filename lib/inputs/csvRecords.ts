/**
 * CSV records streamed in batches, as papaparse splits them, with what a resumable reader needs:
 * each record's line and its text exactly as in the file (a batch output repeats it byte for byte
 * instead of re-quoting parsed cells), and each batch's byte offset (where a later read resumes).
 *
 * papaparse was chosen by bench/csvParsers.ts on our files (see ops/evaluate/columnar.ts). Its step
 * callback fills a queue, and the text stream is paused while a batch waits for its consumer (async
 * iteration of papaparse's stream output costs 20 times more per row). The bytes are decoded here,
 * once, with a fatal decoder: invalid UTF-8 fails the read instead of scoring mojibake.
 */
import { pipeline, Transform, type Readable } from 'node:stream';
import Papa from 'papaparse';
import { BadRequestError } from '../errors.js';

/** One record: its cells, the line it ends on, and its text as it was in the file (made when asked for). */
export class CsvRecord {
  constructor(
    /** The cells as text, untouched (no trimming, no casting). */
    readonly cells: string[],
    /** The line the record ends on, 1-based (a quoted cell can span lines). */
    readonly line: number,
    /** The text from the previous record's end to this one's: skipped blank lines, the record, its line break. */
    private readonly span: string,
  ) {}

  /** The record as it is in the file, without its line break. */
  get text(): string {
    const { span } = this;
    let from = 0;
    while (span.charCodeAt(from) === 10 || span.charCodeAt(from) === 13) from += 1;
    let to = span.length;
    if (span.charCodeAt(to - 1) === 10) to -= 1;
    if (span.charCodeAt(to - 1) === 13) to -= 1;
    return span.slice(from, to);
  }
}

/** A batch of records and the byte offset just past its last one (where a later read resumes). */
export interface CsvBatch {
  records: CsvRecord[];
  end: number;
}

export interface CsvStart {
  /** Byte offset of the stream's first byte in the whole object. */
  offset: number;
  /** Lines before the stream's first byte. */
  line: number;
}

class NotUtf8Error extends BadRequestError {}

/** Where the first record ends: just past the first line feed outside quotes, or -1 if not yet. */
function firstRecordEnd(text: string): number {
  let quoted = false;
  for (let i = 0; i < text.length; i += 1) {
    const c = text.charCodeAt(i);
    if (c === 34) quoted = !quoted;
    else if (c === 10 && !quoted) return i + 1;
  }
  return -1;
}

/**
 * Bytes in, text out: a character split between two chunks is put back together, a bad byte is an
 * error. The first chunk out is exactly the first record with its line break: papaparse guesses
 * the line break (\n or \r\n) from the first chunk it sees, and a chunk that ends between a \r
 * and its \n, or holds a blank line or a quoted line break, would make it guess wrong.
 */
function utf8Text(): Transform {
  // ignoreBOM keeps a byte-order mark in the text, so character counts match byte offsets.
  const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
  let held: string | undefined = '';
  return new Transform({
    readableObjectMode: true,
    transform(chunk: Buffer, _encoding, done) {
      let text: string;
      try {
        text = decoder.decode(chunk, { stream: true });
      } catch {
        return done(new NotUtf8Error('the file is not valid UTF-8 text'));
      }
      if (held !== undefined) {
        held += text;
        const end = firstRecordEnd(held);
        // A first record past 1 MiB (or a file of \r-only line breaks, not read here) is let through as it is.
        if (end < 0 && held.length < 2 ** 20) return done();
        if (end > 0) this.push(held.slice(0, end));
        text = held.slice(Math.max(end, 0));
        held = undefined;
      }
      done(null, text || undefined);
    },
    flush(done) {
      try {
        const rest = (held ?? '') + decoder.decode();
        done(null, rest || undefined);
      } catch {
        done(new NotUtf8Error('the file ends in the middle of a UTF-8 character'));
      }
    },
  });
}

function newlines(text: string): number {
  let count = 0;
  for (let at = text.indexOf('\n'); at >= 0; at = text.indexOf('\n', at + 1)) count += 1;
  return count;
}

/** Batches of about `rows` records (the last may be shorter). Blank lines are skipped but counted. */
export async function* csvRecordBatches(source: Readable, rows: number, start: CsvStart = { offset: 0, line: 0 }): AsyncGenerator<CsvBatch> {
  // pipeline(), not pipe(): an error anywhere (unreadable source, bad UTF-8) must reach the
  // iteration below instead of becoming an unhandled 'error' event that kills the process.
  const text = pipeline(source, utf8Text(), () => undefined);
  // The text from the last batch's end on: `pending` starts at character `base`, which is byte
  // `offset` of the object. Bytes are counted once per batch, not per record.
  let pending = '';
  let base = 0;
  let offset = start.offset;
  // Where papaparse's last record ended (a character index), and the line it ended on.
  let cursor = 0;
  let line = start.line;
  const queue: CsvRecord[] = [];
  const ends: number[] = [];
  let done = false;
  let failure: Error | undefined;
  let wake: (() => void) | undefined;
  const notify = () => {
    wake?.();
    wake = undefined;
  };
  // Registered before papaparse's own listener, so a chunk is here before it is parsed.
  text.on('data', (chunk: string) => {
    pending += chunk;
  });
  text.on('error', (error) => {
    failure = error;
    notify();
  });
  // Back-pressure is on the text stream, not papaparse's pause(): after a resume papaparse reports
  // cursors relative to where it paused, which would break the offsets. A chunk's records are all
  // parsed at once, so the queue holds at most a batch plus one chunk's records.
  Papa.parse(text as unknown as File, {
    delimiter: ',',
    skipEmptyLines: true,
    step: (result: Papa.ParseStepResult<string[]>, parser: Papa.Parser) => {
      if (failure) return;
      const span = pending.slice(cursor - base, result.meta.cursor - base);
      cursor = result.meta.cursor;
      const breaks = newlines(span);
      const ended = span.charCodeAt(span.length - 1) === 10;
      const record = new CsvRecord(result.data, line + breaks + (ended ? 0 : 1), span);
      line += breaks;
      if (result.errors.length > 0) {
        failure = new BadRequestError(`the CSV is malformed near line ${record.line}: ${result.errors[0].message}`);
        parser.abort();
        notify();
        return;
      }
      queue.push(record);
      ends.push(cursor);
      if (queue.length >= rows) {
        text.pause();
        notify();
      }
    },
    complete: () => {
      done = true;
      notify();
    },
    error: (error: Error) => {
      failure = error;
      notify();
    },
  });
  /** The first `count` records, with the byte offset past them; the text before them is let go. */
  const take = (count: number): CsvBatch => {
    const records = queue.splice(0, count);
    const [last] = ends.splice(0, count).slice(-1);
    offset += Buffer.byteLength(pending.slice(0, last - base));
    pending = pending.slice(last - base);
    base = last;
    return { records, end: offset };
  };
  try {
    for (;;) {
      if (queue.length < rows && !done && !failure) {
        text.resume();
        await new Promise<void>((resolve) => (wake = resolve));
      }
      // A CSV that is not UTF-8 or not CSV is the client's; a stream that fails (a dropped
      // connection) is not, and is thrown as it is, so the run is retried rather than judged.
      if (failure) throw failure;
      while (queue.length >= rows) yield take(rows);
      if (done) {
        if (queue.length > 0) yield take(queue.length);
        return;
      }
    }
  } finally {
    text.destroy();
  }
}
