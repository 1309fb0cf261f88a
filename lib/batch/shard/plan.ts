/**
 * The plan of a sharded batch run: the source object cut into byte ranges at record boundaries,
 * each about `targetBytes` (smaller towards the end when several workers take them in turn), with
 * the line number it starts after (as the row readers count lines: the newlines before it) and,
 * for CSV, the header's columns every range after the first needs.
 *
 * Boundaries are found in one pass over the bytes. JSON Lines records end at every newline. A CSV
 * record ends where the row reader (inputs/csvRecords.ts: papaparse, told the line break is LF) ends
 * it, by papaparse's rules: a quote opens a quoted field only at a field's start (after a comma, a
 * newline or the file's start and its byte-order mark; elsewhere it is text, as in `27" monitor`);
 * inside, "" is a quote, and the field ends at a quote followed by a comma or a newline with nothing
 * but whitespace (String.prototype.trim's) between; any other quote is text in the field (a record
 * the reader refuses). A newline outside quoted fields ends a record. It is the only way to be
 * exact: a CSV cannot be cut by seeking, as nothing in the bytes after an offset says whether it is
 * inside a quoted field. The pass jumps from newline to quote with Buffer.indexOf (memchr) instead of
 * looking at every byte in JavaScript (the bench's iris file, in memory: 533-723 MiB/s against
 * 111-244; a file quoted on every row gains nothing), as at high concurrency this one pass is most
 * of a sharded run's wall time (README, "Large files"). Its state (inside quotes or not, the byte
 * before, a quote whose meaning the next read decides) is carried from one read to the next.
 *
 * The header is the first record that is not a blank line, read by the row reader itself
 * (csvHeader): a header it cannot read fails the plan as a BadRequestError, as the run through one
 * function fails. A header with a CR that no LF follows (a file of CR-only line breaks) is refused as
 * soon as it is seen, rather than read to the end of the file as one record; so is a header longer
than a record may be (inputs/recordLimit.ts), as the row reader refuses it.
 */
import { BadRequestError } from '../../errors.js';
import { csvHeader, LONE_CR } from '../../inputs/csvRecords.js';
import { MAX_RECORD_LENGTH, recordTooLong } from '../../inputs/recordLimit.js';
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
const COMMA = 0x2c;
const CR = 0x0d;

/** What the bytes after a quote inside a quoted field make of it. */
const ESCAPED = 0; // "": a quote in the field
const CLOSES = 1; // the field's end
const TEXT = 2; // a quote in the field that the reader reports as malformed
const UNDECIDED = 3; // the bytes that decide are in the next read

/** The length of the whitespace character (String.prototype.trim's, UTF-8) at `at`; 0 if none; -1 if cut by the buffer's end. */
function spaceAt(bytes: Buffer, at: number): number {
  const b = bytes[at];
  if (b === 0x20 || (b >= 0x09 && b <= 0x0d)) return 1;
  if (b < 0x80) return 0;
  const need = b === 0xc2 ? 2 : b === 0xe1 || b === 0xe2 || b === 0xe3 || b === 0xef ? 3 : 0;
  if (need === 0) return 0;
  if (at + need > bytes.length) return -1;
  const c = (b << 16) | (bytes[at + 1] << 8) | (need === 3 ? bytes[at + 2] : 0);
  if (need === 2) return bytes[at + 1] === 0xa0 ? 2 : 0; // U+00A0
  // U+1680, U+2000-U+200A, U+2028, U+2029, U+202F, U+205F, U+3000, U+FEFF
  const space = c === 0xe19a80 || (c >= 0xe28080 && c <= 0xe2808a) || c === 0xe280a8 || c === 0xe280a9 || c === 0xe280af || c === 0xe2819f || c === 0xe38080 || c === 0xefbbbf;
  return space ? 3 : 0;
}

/** The quote at `quote`, inside a quoted field: escaped, closing it, text, or undecided until more bytes come. */
function afterQuote(bytes: Buffer, quote: number): number {
  let at = quote + 1;
  if (at >= bytes.length) return UNDECIDED;
  if (bytes[at] === QUOTE) return ESCAPED;
  for (;;) {
    if (at >= bytes.length) return UNDECIDED;
    const b = bytes[at];
    if (b === COMMA || b === NEWLINE) return CLOSES;
    const space = spaceAt(bytes, at);
    if (space < 0) return UNDECIDED;
    if (space === 0) return TEXT;
    at += space;
  }
}

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
  /**
   * How many workers take the ranges in turn (a local run, lib/batch/shard/local.ts). With more
   * than one, the ranges shrink towards the file's end (below).
   */
  workers?: number;
}

/** The smallest range the tail is cut into: a range's own costs (its parts, its counts, a message each way) stay small beside it. */
const TAIL_MIN_BYTES = 2 ** 20;

/**
 * The size the range starting at `start` is cut at. Workers take ranges in turn, so the last one
 * to start decides when the run ends: with equal ranges the others wait up to a whole range for it
 * (in the bench, one of two cores idle for 0.3-0.4 s of 10). As in guided scheduling, a range
 * takes at most an equal share of half what is left (remaining / (2 x workers)), so the last
 * ranges shrink to TAIL_MIN_BYTES and end at about the same time. One worker waits for no one.
 */
function rangeBytesAt(start: number, options: PlanOptions): number {
  const workers = options.workers ?? 1;
  if (workers <= 1) return options.targetBytes;
  const share = Math.floor((options.size - start) / (2 * workers));
  return Math.min(options.targetBytes, Math.max(TAIL_MIN_BYTES, share));
}

export async function planRanges(store: ObjectStore, options: PlanOptions): Promise<ShardPlan> {
  const { format } = options;
  const csv = format === 'csv';
  const ranges: ShardRange[] = [];
  // Bytes read so far, and newlines among them outside a quote left undecided.
  let offset = 0;
  let lines = 0;
  let start = 0;
  let startLine = 0;
  let cutAt = rangeBytesAt(0, options);
  const boundary = (end: number) => {
    if (end - start < cutAt) return;
    ranges.push({ index: ranges.length, start, end, line: startLine });
    start = end;
    startLine = lines;
    cutAt = rangeBytesAt(start, options);
  };

  // CSV: inside a quoted field; the byte before the buffer scanned; the file starts with a BOM.
  let inQuotes = false;
  let before = NEWLINE;
  const head: number[] = [];
  let bom = false;
  // A quote whose meaning depends on bytes not read yet: it and the bytes after it, scanned again with the next read.
  let carry: Buffer | undefined;
  // The header: the reads up to its end (csvHeader reads it), where the record now read began
  // (blank lines come before the header), and whether a CR ended the last read before it ended.
  const headerParts: Buffer[] = [];
  let headerPartsEnd = 0;
  let headerEnd = csv ? -1 : 0;
  let recordStart = 0;
  let recordStartLine = 0;
  let crLast = false;

  /** Bytes [from, to) of the file, from the last of headerParts back (a line is near the end of what was read). */
  const headerBytes = (from: number, to: number): Buffer => {
    const pieces: Buffer[] = [];
    let end = headerPartsEnd;
    for (let i = headerParts.length - 1; i >= 0 && end > from; i -= 1) {
      const part = headerParts[i];
      const start = end - part.length;
      if (start < to) pieces.unshift(part.subarray(Math.max(0, from - start), Math.min(part.length, to - start)));
      end = start;
    }
    return pieces.length === 1 ? pieces[0] : Buffer.concat(pieces);
  };

  /**
   * Whether the record in bytes [from, to) of the file (its line feed at `to`; the header not found
   * yet, so they are in headerParts) is one the reader skips as blank: one empty cell (nothing, a
   * CR, or "" and whitespace).
   */
  const blank = (from: number, to: number): boolean => {
    if (to === from) return true;
    const bytes = headerBytes(from, to);
    if (bytes.length === 1) return bytes[0] === CR;
    if (bytes[0] !== QUOTE || bytes[1] !== QUOTE) return false;
    for (let at = 2; at < bytes.length; ) {
      const space = spaceAt(bytes, at);
      if (space <= 0) return false;
      at += space;
    }
    return true;
  };

  /** Scans `bytes`, which start at byte `from` of the file. */
  const scanCsv = (bytes: Buffer, from: number) => {
    const length = bytes.length;
    let i = 0;
    let quote = bytes.indexOf(QUOTE);
    let newline = bytes.indexOf(NEWLINE);
    while (i < length) {
      if (quote !== -1 && quote < i) quote = bytes.indexOf(QUOTE, i);
      if (inQuotes) {
        // Newlines up to the closing quote are inside a field: counted as lines, never cut at.
        const close = quote === -1 ? length : quote;
        if (newline !== -1 && newline < i) newline = bytes.indexOf(NEWLINE, i);
        while (newline !== -1 && newline < close) {
          lines += 1;
          newline = bytes.indexOf(NEWLINE, newline + 1);
        }
        if (quote === -1) break;
        const verdict = afterQuote(bytes, quote);
        if (verdict === UNDECIDED) {
          carry = bytes.subarray(quote);
          before = quote > 0 ? bytes[quote - 1] : before;
          return;
        }
        if (verdict === CLOSES) inQuotes = false;
        i = quote + (verdict === ESCAPED ? 2 : 1);
        continue;
      }
      if (newline !== -1 && newline < i) newline = bytes.indexOf(NEWLINE, i);
      if (quote !== -1 && (newline === -1 || quote < newline)) {
        // A quote opens a quoted field only at a field's start; elsewhere it is text.
        const prior = quote > 0 ? bytes[quote - 1] : before;
        if (prior === COMMA || prior === NEWLINE || (bom && from + quote === 3)) inQuotes = true;
        i = quote + 1;
        continue;
      }
      if (newline === -1) break;
      lines += 1;
      i = newline + 1;
      const end = from + i;
      if (headerEnd < 0) {
        // A blank line (after the BOM at the file's start) is skipped by the reader: the header comes after it.
        if (blank(recordStart === 0 && bom ? 3 : recordStart, end - 1)) {
          recordStart = end;
          recordStartLine = lines;
        } else headerEnd = end;
      }
      // Not before the header's end: the first range reads the header (range.ts); a range that
      // began among the blank lines before it would take the header for a row.
      if (headerEnd >= 0) boundary(end);
    }
    carry = undefined;
    if (length > 0) before = bytes[length - 1];
  };

  /** A CR no LF follows in the header (the part of `part`, at byte `from`, before the header's end) fails the plan now, as csvHeader would. */
  const checkHeaderCr = (part: Buffer, from: number) => {
    const limit = headerEnd < 0 ? part.length : headerEnd - from;
    if (limit <= 0) return;
    if (crLast && part[0] !== NEWLINE) throw new BadRequestError(LONE_CR);
    crLast = false;
    for (let cr = part.indexOf(CR); cr !== -1 && cr < limit; cr = part.indexOf(CR, cr + 1)) {
      if (cr + 1 === part.length) crLast = true;
      else if (part[cr + 1] !== NEWLINE) throw new BadRequestError(LONE_CR);
    }
  };

  for await (const part of readInParts(store, options.key, { size: options.size, etag: pinnableEtag(options.etag), partBytes: options.readPartBytes })) {
    if (!csv) {
      for (let newline = part.indexOf(NEWLINE); newline !== -1; newline = part.indexOf(NEWLINE, newline + 1)) {
        lines += 1;
        boundary(offset + newline + 1);
      }
      offset += part.length;
      continue;
    }
    for (let i = 0; head.length < 3 && i < part.length; i += 1) head.push(part[i]);
    bom = head[0] === 0xef && head[1] === 0xbb && head[2] === 0xbf;
    const header = headerEnd < 0;
    if (header) {
      headerParts.push(part);
      headerPartsEnd += part.length;
    }
    if (carry) scanCsv(Buffer.concat([carry, part]), offset - carry.length);
    else scanCsv(part, offset);
    if (header) checkHeaderCr(part, offset);
    offset += part.length;
    // The header is held until its end: a file with no line break (or an unclosed quote) would be held whole.
    if ((headerEnd < 0 ? offset : headerEnd) - recordStart > MAX_RECORD_LENGTH) throw recordTooLong(recordStartLine + 1);
  }
  // A quote still undecided is at the file's end, or followed by whitespace only: no newline after it, nothing more to cut.
  if (start < offset || ranges.length === 0) ranges.push({ index: ranges.length, start, end: offset, line: startLine });
  let columns: string[] | undefined;
  if (csv && headerParts.length > 0) {
    const bytes = Buffer.concat(headerParts);
    columns = await csvHeader(headerEnd < 0 ? bytes : bytes.subarray(0, headerEnd)).catch((error: unknown) => {
      // The Plan state catches a BadRequestError by its name: a subclass (invalid UTF-8) is given that name.
      throw error instanceof BadRequestError ? new BadRequestError(error.message) : error;
    });
    // As the run through one function takes the header (lib/batch/run.ts).
    if (columns) columns = columns.map((cell, i) => (i === 0 ? cell.replace(/^\uFEFF/, '') : cell));
  }
  return { key: options.key, etag: options.etag, format, size: offset, model: options.model, columns, ranges };
}
