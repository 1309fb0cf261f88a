/**
 * CSV records streamed in batches, as papaparse splits them, with what a resumable reader needs:
 * each record's line and its text exactly as in the file (a batch output repeats it byte for byte
 * instead of re-quoting parsed cells), and each batch's byte offset (where a later read resumes).
 *
 * papaparse was chosen by bench/csvParsers.ts on our files (see ops/evaluate/columnar.ts). Its step
 * callback fills a queue, and the text stream is paused while a batch waits for its consumer (async
 * iteration of papaparse's stream output costs 20 times more per row). The bytes are decoded here,
 * once, with a fatal decoder: invalid UTF-8 fails the read instead of scoring mojibake.
 *
 * Records end at a line feed outside quoted fields, wherever the read starts (a resumed run, a
 * sharded run's range: lib/batch/shard/plan.ts finds the same ends): papaparse is told the line
 * break instead of guessing it from the first chunk it sees, which at an offset inside the file
 * could guess differently. A CR before the LF belongs to the line break (CRLF files). A file whose
 * lines end in a CR alone (classic Mac OS) is refused: its header holds a CR without an LF after it.
 * A byte-order mark at the file's start is removed before parsing (a quoted first header cell is
 * then read as quoted), and counted in the byte offsets.
 */
import { pipeline, Readable, Transform } from 'node:stream';
import Papa from 'papaparse';
import { BadRequestError, quoted } from '../errors.js';
import { FILE_RECORD_LIMIT, type RecordLimit } from './recordLimit.js';

/** One record: its cells, the line it ends on, and its text as it was in the file (made when asked for). */
export class CsvRecord {
  constructor(
    /** The cells as text, untouched (no trimming, no casting). */
    readonly cells: string[],
    /** The line the record ends on, 1-based (a quoted cell can span lines). */
    readonly line: number,
    /** The record's text and its line break (blank lines before it are not part of it). */
    private readonly span: string,
  ) {}

  /** The record's length in characters, its line break and any blank lines before it included. */
  get length(): number {
    return this.span.length;
  }

  /** The record as it is in the file, without its line break. */
  get text(): string {
    const { span } = this;
    let to = span.length;
    if (span.charCodeAt(to - 1) === 10) to -= 1;
    if (span.charCodeAt(to - 1) === 13) to -= 1;
    return span.slice(0, to);
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

/** Why a CSV whose header holds a carriage return without a line feed after it is refused (the planner refuses it in the same words). */
export const LONE_CR =
  "the CSV header holds a carriage return that no line feed follows: lines must end in LF or CRLF (a file with CR-only line breaks, as classic Mac OS wrote them, must be converted first, for example with tr '\\r' '\\n')";

/**
 * A header that names a column twice, refused where the header is read, for every reader of CSV
 * (evaluate's data sets, batch files, the sharded planner): a row is read as a record of name ->
 * cell, so one of the two cells would be dropped without a word (batch scored 1,9,2,3,4 under
 * sepal_length,sepal_length,... with the 1 and never read the 9). Names are compared trimmed, as
 * evaluate reads them, so one file means the same in evaluate and in batch. Empty names are not
 * compared: a spreadsheet's export may end its header in empty columns (a,b,,), which no model reads.
 */
function duplicateColumn(cells: string[]): BadRequestError | undefined {
  const seen = new Map<string, number>();
  for (const [i, cell] of cells.entries()) {
    const name = cell.trim();
    if (name === '') continue;
    const first = seen.get(name);
    if (first !== undefined)
      return new BadRequestError(`the CSV header names column ${quoted(name)} twice (columns ${first + 1} and ${i + 1}): each column needs a name of its own`);
    seen.set(name, i);
  }
  return undefined;
}

/** Whether `text` holds a carriage return that no line feed follows. */
function hasLoneCr(text: string): boolean {
  for (let at = text.indexOf('\r'); at >= 0; at = text.indexOf('\r', at + 1)) if (text.charCodeAt(at + 1) !== 10) return true;
  return false;
}

/**
 * Bytes in, text out: a character split between two chunks is put back together, a bad byte is an
 * error. At the file's start (`fileStart`), a byte-order mark is taken out of the text (`onBom` is
 * told its bytes), and a carriage return that no line feed follows before the file's first line
 * feed fails the read at once: it is in the header (LONE_CR), and a file of CR-only line breaks
 * would otherwise be parsed as one record as long as the file.
 */
function utf8Text(fileStart: boolean, onBom: (bytes: number) => void): Transform {
  // ignoreBOM keeps a byte-order mark in the text: it is removed below, at the file's start only.
  const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
  let bomToCheck = fileStart;
  let beforeFirstLf = fileStart;
  // The text so far ended in a carriage return (before the first line feed).
  let crLast = false;
  const loneCr = (text: string): boolean => {
    if (crLast && text.charCodeAt(0) !== 10) return true;
    const lf = text.indexOf('\n');
    const end = lf < 0 ? text.length : lf;
    const cr = text.indexOf('\r');
    if (cr >= 0 && cr < end - 1) return true;
    crLast = lf < 0 && cr === text.length - 1;
    if (lf >= 0) beforeFirstLf = false;
    return false;
  };
  return new Transform({
    readableObjectMode: true,
    transform(chunk: Buffer, _encoding, done) {
      let text: string;
      try {
        text = decoder.decode(chunk, { stream: true });
      } catch {
        return done(new NotUtf8Error('the file is not valid UTF-8 text'));
      }
      if (bomToCheck && text) {
        bomToCheck = false;
        if (text.charCodeAt(0) === 0xfeff) {
          text = text.slice(1);
          onBom(3);
        }
      }
      if (beforeFirstLf && text && loneCr(text)) return done(new BadRequestError(LONE_CR));
      done(null, text || undefined);
    },
    flush(done) {
      let rest: string;
      try {
        rest = decoder.decode();
      } catch {
        return done(new NotUtf8Error('the file ends in the middle of a UTF-8 character'));
      }
      if (beforeFirstLf && crLast) return done(new BadRequestError(LONE_CR));
      done(null, rest || undefined);
    },
  });
}

/** Unparsed text from which chunks are held back (shorter records pass straight through). */
const HOLD_FROM = 256 * 1024;

/**
 * Passes text through, except while one record is long. papaparse parses a record that spans
 * chunks again from its start with each chunk, so a record of n chunks costs n² (a 32 MiB field in
 * 64 KiB chunks took 90 s). While the unparsed text (`unparsed()`: the record papaparse has not
 * ended) is long, chunks are held until they are as long as it, so each parse of the record covers
 * at least twice what the last one did: linear. A record not ended within MAX_RECORD_LENGTH
 * characters (or the memory-bound `maxRecord`) fails the read (`tooLong`) before more is read; one that ends is measured where it is
 * parsed.
 */
function longRecords(unparsed: () => number, maxRecord: number, tooLong: () => Error): Transform {
  let held: string[] = [];
  let heldLength = 0;
  return new Transform({
    objectMode: true,
    transform(text: string, _encoding, done) {
      const tail = unparsed();
      if (tail > maxRecord) return done(tooLong());
      held.push(text);
      heldLength += text.length;
      if (tail >= HOLD_FROM && heldLength < tail) return done();
      const out = held.length === 1 ? held[0] : held.join('');
      held = [];
      heldLength = 0;
      done(null, out);
    },
    flush(done) {
      done(null, held.length > 0 ? held.join('') : undefined);
    },
  });
}

const NON_ASCII = /[\u0080-\uffff]/;

function newlines(text: string): number {
  let count = 0;
  for (let at = text.indexOf('\n'); at >= 0; at = text.indexOf('\n', at + 1)) count += 1;
  return count;
}

/** The index of the first character at or after `from` that is not whitespace as String.prototype.trim sees it (papaparse's test). */
function pastSpaces(text: string, from: number): number {
  let at = from;
  while (at < text.length && text[at].trim() === '' && text.charCodeAt(at) !== 10) at += 1;
  return at;
}

/**
 * Whether the last field of the record text[from, to) (a line feed at to - 1, blank lines perhaps
 * before it) is unquoted, found by papaparse's rules: a field is quoted when it starts with a
 * quote; inside, "" is a quote and the field ends at a quote followed by the delimiter or the line
 * feed, with only whitespace between.
 */
function lastFieldUnquoted(text: string, from: number, to: number): boolean {
  const firstQuote = text.indexOf('"', from);
  if (firstQuote < 0 || firstQuote >= to) return true;
  let at = from;
  for (;;) {
    if (text.charCodeAt(at) === 34) {
      let quote = at;
      let next = -1;
      while (next < 0) {
        quote = text.indexOf('"', quote + 1);
        if (quote < 0 || quote >= to) return false;
        if (text.charCodeAt(quote + 1) === 34) {
          quote += 1;
          continue;
        }
        const after = pastSpaces(text, quote + 1);
        const c = text.charCodeAt(after);
        if (c === 44 || c === 10) next = after;
      }
      if (next >= to - 1) return false;
      at = next + 1;
      continue;
    }
    const comma = text.indexOf(',', at);
    const lf = text.indexOf('\n', at);
    if (comma >= 0 && comma < lf) at = comma + 1;
    else if (lf >= to - 1) return true;
    else at = lf + 1;
  }
}

/**
 * The header of a CSV, from the bytes of the file up to its first record's end (blank lines may
 * come first), read as csvRecordBatches reads a file's first record: a header it cannot read is the
 * same client error. Undefined when the bytes hold no record.
 */
export async function csvHeader(bytes: Buffer): Promise<string[] | undefined> {
  for await (const { records } of csvRecordBatches(Readable.from([bytes]), 1)) return records[0].cells;
  return undefined;
}

/**
 * Batches of about `rows` records (the last may be shorter). Blank lines are skipped but counted.
 * `room()`, when given, bounds a batch's characters too (large records: inputs/recordRoom.ts): a
 * batch ends with the record that reaches it, so it holds one record at least.
 */
export async function* csvRecordBatches(
  source: Readable,
  rows: number,
  start: CsvStart = { offset: 0, line: 0 },
  room: () => number = () => Number.POSITIVE_INFINITY,
  recordLimit: RecordLimit = FILE_RECORD_LIMIT,
): AsyncGenerator<CsvBatch> {
  const fileStart = start.offset === 0;
  // The text not yet parsed into a record: `pending` starts at character `base` of the stream's
  // text, byte `offset` of the object. It is cut after every record, as a record's text is a slice
  // of it: cut once a batch, every record sliced after a chunk was appended held its own flattened
  // copy of all the batch's text before it (V8 flattens the appended string to slice it), and 150
  // records of 120 KB (base64 photos) held 1.4 GB.
  let pending = '';
  // Whether `pending` is all ASCII, so that its characters are its bytes (Buffer.byteLength of
  // every record cost a quarter of the time papaparse takes over short rows).
  let pendingAscii = true;
  let base = 0;
  let offset = start.offset;
  // The next record is the file's header (the stream starts at the top of the file).
  let header = fileStart;
  // Where papaparse's last record ended (a character index), and the line it ended on.
  let cursor = 0;
  let line = start.line;
  // pipeline(), not pipe(): an error anywhere (unreadable source, bad UTF-8) must reach the
  // iteration below instead of becoming an unhandled 'error' event that kills the process.
  const text = pipeline(
    source,
    utf8Text(fileStart, (bytes) => (offset += bytes)),
    longRecords(
      () => base + pending.length - cursor,
      recordLimit.bytes,
      () => recordLimit.tooLong(line + 1),
    ),
    () => undefined,
  );
  const queue: CsvRecord[] = [];
  // The byte offset past each queued record.
  const ends: number[] = [];
  // The queue's characters, and the most the next batch may hold (asked again after each batch).
  let queuedChars = 0;
  let limit = room();
  /** Records in the next batch: 0 while it may take more. */
  const full = (): number => {
    let chars = 0;
    for (let i = 0; i < queue.length && i < rows; i++) {
      chars += queue[i].length;
      if (chars >= limit) return i + 1;
    }
    return queue.length >= rows ? rows : 0;
  };
  let done = false;
  let failure: Error | undefined;
  let wake: (() => void) | undefined;
  const notify = () => {
    wake?.();
    wake = undefined;
  };
  // Registered before papaparse's own listener, so a chunk is here before it is parsed.
  text.on('data', (chunk: string) => {
    pendingAscii = (pendingAscii || !NON_ASCII.test(pending)) && !NON_ASCII.test(chunk);
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
    newline: '\n',
    // Blank lines are skipped below rather than by papaparse, so that a record's text starts where it does.
    skipEmptyLines: false,
    step: (result: Papa.ParseStepResult<string[]>, parser: Papa.Parser) => {
      if (failure) return;
      const end = result.meta.cursor;
      const cells = result.data;
      const clean = result.errors.length === 0;
      if (clean && pending.charCodeAt(end - base - 1) === 10 && pending.charCodeAt(end - base - 2) === 13) {
        // CRLF: the CR is the line break's, not the last cell's (a quoted cell keeps a CR of its own).
        const last = cells[cells.length - 1];
        if (last.endsWith('\r') && lastFieldUnquoted(pending, cursor - base, end - base)) cells[cells.length - 1] = last.slice(0, -1);
      }
      const span = pending.slice(cursor - base, end - base);
      if (span.length > recordLimit.bytes) {
        failure = recordLimit.tooLong(line + 1);
        parser.abort();
        notify();
        return;
      }
      cursor = end;
      offset += pendingAscii ? span.length : Buffer.byteLength(span);
      pending = pending.slice(end - base);
      base = end;
      const breaks = newlines(span);
      // The file's first record (blank lines before it too) must hold no CR that no LF follows.
      if (header && hasLoneCr(span)) {
        failure = new BadRequestError(LONE_CR);
        parser.abort();
        notify();
        return;
      }
      // A blank line (LF or CRLF, or "" alone: one empty cell, as papaparse's skipEmptyLines sees it): skipped, its lines counted.
      if (clean && cells.length === 1 && cells[0] === '') {
        line += breaks;
        return;
      }
      const ended = span.charCodeAt(span.length - 1) === 10;
      const record = new CsvRecord(cells, line + breaks + (ended ? 0 : 1), span);
      line += breaks;
      if (!clean) {
        failure = new BadRequestError(`the CSV is malformed near line ${record.line}: ${result.errors[0].message}`);
        parser.abort();
        notify();
        return;
      }
      const duplicate = header ? duplicateColumn(cells) : undefined;
      if (duplicate) {
        failure = duplicate;
        parser.abort();
        notify();
        return;
      }
      header = false;
      queue.push(record);
      ends.push(offset);
      queuedChars += record.length;
      if (queue.length >= rows || queuedChars >= limit) {
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
  /** The first `count` records, with the byte offset past them. */
  const take = (count: number): CsvBatch => {
    const records = queue.splice(0, count);
    for (const record of records) queuedChars -= record.length;
    limit = room();
    const [end] = ends.splice(0, count).slice(-1);
    return { records, end };
  };
  try {
    for (;;) {
      if (full() === 0 && !done && !failure) {
        text.resume();
        await new Promise<void>((resolve) => (wake = resolve));
      }
      // A CSV that is not UTF-8 or not CSV is the client's; a stream that fails (a dropped
      // connection) is not, and is thrown as it is, so the run is retried rather than judged.
      if (failure) throw failure;
      for (let count = full(); count > 0; count = full()) yield take(count);
      if (done) {
        if (queue.length > 0) yield take(queue.length);
        return;
      }
    }
  } finally {
    text.destroy();
  }
}
