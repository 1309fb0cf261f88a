/**
 * The sharded plan's boundary scan (lib/batch/shard/plan.ts) against the row reader's own record
 * ends (inputs/csvRecords.ts, which every range is read with), on generated files that put quoted
 * newlines, escaped quotes, stray quotes in unquoted fields (`27" monitor`), closing quotes followed
 * by whitespace, CRLF, a BOM and multi-byte characters across the parts the file is read in: every
 * range must start where the reader ends a record, be the shortest run of records reaching the
 * target size, and carry the number of newlines before it. JSON Lines (quotes mean nothing there)
 * cuts at every newline. The header is read as the reader reads it, and one it cannot read is a
 * BadRequestError (the Plan state catches that name).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { planRanges, type ShardRange } from '../../lib/batch/shard/plan.js';
import { BadRequestError } from '../../lib/errors.js';
import { csvRecordBatches } from '../../lib/inputs/csvRecords.js';
import { MAX_RECORD_LENGTH } from '../../lib/inputs/recordLimit.js';
import { uniform } from '../../lib/random.js';
import { FolderStore } from '../../lib/store/folder.js';

let dir: string;
let store: FolderStore;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'shard-plan-'));
  store = new FolderStore(dir);
});
afterAll(() => rm(dir, { recursive: true, force: true }));

function csvFile(random: () => number, bytes: number, eol: string, bom: boolean): Buffer {
  const field = () => {
    const r = random();
    if (r < 0.3) return String(Math.floor(random() * 1e6));
    if (r < 0.35) return '';
    if (r < 0.4) return 'café 日本';
    if (r < 0.45) return '27" monitor';
    if (r < 0.5) return 'a"b""';
    if (r < 0.55) return ' "not, quoted"';
    if (r < 0.6) return `"a, b${eol}c"`;
    if (r < 0.65) return `"said ""hi""${eol}${eol}twice"`;
    if (r < 0.7) return '"""quoted"""';
    // A closing quote with whitespace before the delimiter or the line end still closes the field.
    if (r < 0.75) return `"spaced, ""out""${eol}" ${'\t\u00a0\u3000'[Math.floor(random() * 3)]}`;
    if (r < 0.8) return '"q" ';
    if (r < 0.85) return `"${eol}"`;
    if (r < 0.9) return '"';
    return `"${'x'.repeat(Math.floor(random() * 3000))}${eol}"`;
  };
  const rows = [['id', 'text', 'note'].join(',')];
  let size = 0;
  while (size < bytes) {
    // A lone quote is a field of its own only where it is text (not at a field's start).
    const row = [field(), field(), field()].map((cell, i) => (cell === '"' ? (i === 0 ? 'x"' : 'y"') : cell)).join(',');
    rows.push(row);
    size += row.length + eol.length;
  }
  // The last record sometimes has no line end (a last line of text: a quoted field that whitespace follows to the file's end is unterminated).
  const text = rows.join(eol) + (random() < 0.5 ? eol : `${eol}end`);
  return Buffer.from((bom ? '\uFEFF' : '') + text, 'utf8');
}

/** The byte offset past each record, as the row reader reads the file (one record a batch); it must read it all. */
async function recordEnds(bytes: Buffer): Promise<number[]> {
  const ends: number[] = [];
  for await (const batch of csvRecordBatches(Readable.from([bytes]), 1)) ends.push(batch.end);
  expect(ends[ends.length - 1]).toBe(bytes.length);
  return ends;
}

/** The plan the scan must give, from a list of record ends: greedy, cut only after a newline. */
function expectedRanges(bytes: Buffer, recordEnds: number[], targetBytes: number): ShardRange[] {
  const newlines: number[] = [];
  for (let i = bytes.indexOf(0x0a); i !== -1; i = bytes.indexOf(0x0a, i + 1)) newlines.push(i);
  const newlinesBefore = (offset: number) => newlines.filter((i) => i < offset).length;
  const ranges: ShardRange[] = [];
  let start = 0;
  for (const end of recordEnds) {
    if (bytes[end - 1] !== 0x0a || end - start < targetBytes) continue;
    ranges.push({ index: ranges.length, start, end, line: newlinesBefore(start) });
    start = end;
  }
  if (start < bytes.length || ranges.length === 0) ranges.push({ index: ranges.length, start, end: bytes.length, line: newlinesBefore(start) });
  return ranges;
}

/** The store, recording where each read it is asked for starts. */
function countingReads(): { reads: number[]; counting: FolderStore } {
  const reads: number[] = [];
  const counting = Object.create(store) as FolderStore;
  counting.getStream = (key, options) => {
    reads.push(options?.start ?? 0);
    return store.getStream(key, options);
  };
  return { reads, counting };
}

const model = { name: 'm', version: 1 };
/** What the planner is given: the file's ETag and size, and parts of an odd size so that records, quotes and characters straddle them. */
async function source(key: string) {
  const info = await store.head(key);
  return { etag: info?.etag ?? '', size: info?.size ?? 0, readPartBytes: 65_537 };
}

/** A JSON Lines file of at least `size` bytes in the store's folder, rows `{text, n}` drawn from a seeded generator: its bytes, its lines, and where each line ends. */
async function jsonlFile(key: string, size: number, text: (random: () => number) => string) {
  const random = uniform(7);
  const lines: string[] = [];
  for (let total = 0; total < size; ) {
    const line = JSON.stringify({ text: text(random), n: Math.floor(random() * 100) });
    lines.push(line);
    total += line.length + 1;
  }
  const bytes = Buffer.from(`${lines.join('\n')}\n`);
  await writeFile(path.join(dir, key), bytes);
  const ends: number[] = [];
  for (let i = bytes.indexOf(0x0a); i !== -1; i = bytes.indexOf(0x0a, i + 1)) ends.push(i + 1);
  return { bytes, lines, ends };
}

describe('planRanges', () => {
  for (const [seed, eol, bom] of [
    [1, '\n', false],
    [2, '\r\n', true],
    [3, '\n', true],
  ] as const) {
    it(`cuts a CSV (${JSON.stringify(eol)}${bom ? ', BOM' : ''}) exactly where the row reader ends records`, async () => {
      const random = uniform(seed);
      const bytes = csvFile(random, 400_000, eol, bom);
      const key = `s${seed}.csv`;
      await writeFile(path.join(dir, key), bytes);
      const ends = await recordEnds(bytes);
      for (const targetBytes of [1, 4096, 65_536, 150_000, 10_000_000]) {
        const plan = await planRanges(store, { key, ...(await source(key)), format: 'csv', model, targetBytes });
        expect(plan.ranges, `target ${targetBytes}`).toEqual(expectedRanges(bytes, ends, targetBytes));
        expect(plan.columns).toEqual(['id', 'text', 'note']);
        expect(plan.size).toBe(bytes.length);
      }
    });
  }

  it('gives the same plan whatever the reads split: inside quotes, between "" and \\r\\n, inside a character', async () => {
    const random = uniform(11);
    const bytes = csvFile(random, 3_000, '\r\n', true);
    await writeFile(path.join(dir, 'small.csv'), bytes);
    const expected = expectedRanges(bytes, await recordEnds(bytes), 200);
    for (const readPartBytes of [1, 2, 3, 7]) {
      const plan = await planRanges(store, { key: 'small.csv', ...(await source('small.csv')), readPartBytes, format: 'csv', model, targetBytes: 200 });
      expect(plan.ranges, `parts of ${readPartBytes} bytes`).toEqual(expected);
      expect(plan.columns).toEqual(['id', 'text', 'note']);
    }
  });

  it('cuts JSON Lines at every newline, quotes or not', async () => {
    const { bytes, ends } = await jsonlFile('rows.jsonl', 300_000, (random) => `"${'q'.repeat(Math.floor(random() * 500))}`);
    for (const targetBytes of [1, 10_000, 100_000]) {
      const plan = await planRanges(store, { key: 'rows.jsonl', ...(await source('rows.jsonl')), format: 'jsonl', model, targetBytes });
      expect(plan.ranges).toEqual(expectedRanges(bytes, ends, targetBytes));
      expect(plan.columns).toBeUndefined();
    }
  });

  it('with several workers, the ranges shrink towards the end so that the last ones finish together; one worker gets equal ranges', async () => {
    const MiB = 2 ** 20;
    const { bytes, lines, ends } = await jsonlFile('tail.jsonl', 12 * MiB, (random) => 'w'.repeat(Math.floor(random() * 200)));
    const targetBytes = 4 * MiB;
    const tailSource = await source('tail.jsonl');
    const plan = (workers?: number) => planRanges(store, { key: 'tail.jsonl', ...tailSource, format: 'jsonl', model, targetBytes, workers });
    const one = await plan(1);
    expect(one.ranges).toEqual(expectedRanges(bytes, ends, targetBytes));
    expect((await plan(undefined)).ranges).toEqual(one.ranges);

    const { ranges } = await plan(2);
    // Whole records, in order, covering the file.
    expect(ranges[0].start).toBe(0);
    expect(ranges.at(-1)?.end).toBe(bytes.length);
    for (const [i, r] of ranges.entries()) {
      expect(r.index).toBe(i);
      if (i > 0) expect(r.start).toBe(ranges[i - 1].end);
      expect(r.line).toBe(ends.filter((end) => end <= r.start).length);
      expect(ends).toContain(r.end);
    }
    // Each range is the shortest run of records reaching a quarter of what is left (2 workers), at
    // least 1 MiB and at most the target, so the last ones are about 1 MiB, not 4.
    const longestLine = Math.max(...lines.map((l) => l.length + 1));
    for (const r of ranges.slice(0, -1)) {
      const cut = Math.min(targetBytes, Math.max(MiB, Math.floor((bytes.length - r.start) / 4)));
      expect(r.end - r.start).toBeGreaterThanOrEqual(cut);
      expect(r.end - r.start).toBeLessThan(cut + longestLine);
    }
    const last = ranges.at(-1) as ShardRange;
    expect(last.end - last.start).toBeLessThan(MiB + longestLine);
    expect(ranges.length).toBeGreaterThan(one.ranges.length);
  });

  it('cuts where the reader does at every target: a stray quote in an unquoted field, a quoted newline, "" and a closing quote that whitespace follows', async () => {
    const text = [
      'sepal_length,sepal_width,petal_length,petal_width,note',
      '5.1,3.5,1.4,0.2,27" monitor',
      '6.7,3.0,5.2,2.3,a',
      '5.0,3.4,1.5,0.2,"two\nlines"',
      '6.3,3.3,6.0,2.5,b"',
      '4.9,3.0,1.4,0.2,"say ""hi""\n" ',
      '7.0,3.2,4.7,1.4,"x"  ,y',
      '5.5,2.4,3.8,1.1,c',
      '',
    ].join('\n');
    const bytes = Buffer.from(text);
    await writeFile(path.join(dir, 'stray.csv'), bytes);
    const ends = await recordEnds(bytes);
    for (const readPartBytes of [1, 3, 65_537]) {
      for (let targetBytes = 1; targetBytes <= 60; targetBytes += 1) {
        const plan = await planRanges(store, { key: 'stray.csv', ...(await source('stray.csv')), readPartBytes, format: 'csv', model, targetBytes });
        expect(plan.ranges, `target ${targetBytes}, parts of ${readPartBytes}`).toEqual(expectedRanges(bytes, ends, targetBytes));
      }
    }
  });

  it.each([
    ['a stray quote', 'a,no"te\n1,2\n', ['a', 'no"te']],
    ['a BOM and quoted cells', '\uFEFF"a","b ""c""",d\n1,2,3\n', ['a', 'b "c"', 'd']],
    ['a quoted newline and CRLF', '"a\r\nx",b\r\n1,2\r\n', ['a\r\nx', 'b']],
    ['blank lines before it (after a BOM, LF and CRLF)', '\uFEFF\n\r\n\na,b\r\n1,2\r\n', ['a', 'b']],
    ['no line end', 'a,"b"', ['a', 'b']],
  ])('reads a header with %s as the row reader reads it', async (_name, text, columns) => {
    await writeFile(path.join(dir, 'header.csv'), text);
    for (const readPartBytes of [1, 2, 65_537]) {
      const plan = await planRanges(store, { key: 'header.csv', ...(await source('header.csv')), readPartBytes, format: 'csv', model, targetBytes: 1 });
      expect(plan.columns).toEqual(columns);
      const [first] = await csvRecordBatches(Readable.from([Buffer.from(text)]), 1)
        .next()
        .then((r) => (r.value ? r.value.records : []));
      expect(first.cells).toEqual(columns);
    }
  });

  it.each([
    ['an unterminated quote', Buffer.from('a,"b\n1,2\n'), /malformed near line 2: Quoted field unterminated/],
    ['a closing quote followed by text', Buffer.from('a,"b"c\n1,2\n'), /malformed near line \d+: Trailing quote on quoted field is malformed/],
    ['bytes that are not UTF-8', Buffer.from([0x61, 0xff, 0x0a, 0x31, 0x0a]), /not valid UTF-8/],
    ['CR-only line breaks', Buffer.from('a,b\r1,2\r3,4\r'), /carriage return that no line feed follows/],
    ['a column named twice', Buffer.from('a,b,a\n1,2,3\n'), /names column "a" twice \(columns 1 and 3\)/],
    ['longer than a record may be, after blank lines', Buffer.from(`\n\n${'x'.repeat(MAX_RECORD_LENGTH + 1)},b\n1,2\n`), /the record that starts on line 3 is longer than 32 MiB/],
    ['never ended: a quote never closed', Buffer.from(`a,"b\n${'\n'.repeat(MAX_RECORD_LENGTH + 1)}`), /the record that starts on line 1 is longer than 32 MiB/],
  ])('a header it cannot read (%s) fails the plan with a BadRequestError, by that name', async (_name, bytes, message) => {
    await writeFile(path.join(dir, 'bad-header.csv'), bytes);
    const error = await planRanges(store, { key: 'bad-header.csv', ...(await source('bad-header.csv')), format: 'csv', model, targetBytes: 1 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BadRequestError);
    expect((error as Error).name).toBe('BadRequestError');
    expect((error as Error).message).toMatch(message);
    // The run through one function refuses it in the same words.
    await expect(csvRecordBatches(Readable.from([bytes]), 1).next()).rejects.toThrow((error as Error).message);
  });

  it('a file of CR-only line breaks is refused at its first reads, not read to its end as one header', async () => {
    const bytes = Buffer.from(`a,b\r${'1,2\r'.repeat(100_000)}`);
    await writeFile(path.join(dir, 'mac.csv'), bytes);
    const { reads, counting } = countingReads();
    const plan = planRanges(counting, { key: 'mac.csv', ...(await source('mac.csv')), readPartBytes: 4096, format: 'csv', model, targetBytes: 1 });
    await expect(plan).rejects.toThrow(/carriage return that no line feed follows/);
    expect(reads.length).toBeLessThan(10);
  });

  it('a header that never ends is refused once it is longer than a record may be, not read to the end of the file', async () => {
    const bytes = Buffer.concat([Buffer.from('a,"b\n'), Buffer.alloc(2 * MAX_RECORD_LENGTH, 'x')]);
    await writeFile(path.join(dir, 'endless.csv'), bytes);
    const { reads, counting } = countingReads();
    const plan = planRanges(counting, { key: 'endless.csv', ...(await source('endless.csv')), readPartBytes: 1 << 20, format: 'csv', model, targetBytes: 1 });
    await expect(plan).rejects.toThrow(/the record that starts on line 1 is longer than 32 MiB/);
    // The reads run a few parts ahead of the scan.
    expect(Math.max(...reads)).toBeLessThan(MAX_RECORD_LENGTH + (8 << 20));
  });

  it('any small file of commas, quotes, line breaks and whitespace: read range by range, the records of the file read whole, or its refusal in the same words', async () => {
    const random = uniform(5);
    const alphabet = ['a', ',', ',', '"', '"', '""', '\n', '\n', '\r\n', '\r', ' ', '\t', '\u00a0', 'é'];
    const memory = (bytes: Buffer) =>
      ({ getStream: async (_key: string, r: { start: number; end: number }) => Readable.from([bytes.subarray(r.start, r.end)]) }) as unknown as FolderStore;
    const readAll = async (bytes: Buffer, start?: { offset: number; line: number }) => {
      const records: [string[], number, string][] = [];
      for await (const batch of csvRecordBatches(Readable.from([bytes]), 2, start))
        records.push(...batch.records.map((r): [string[], number, string] => [r.cells, r.line, r.text]));
      return records;
    };
    let accepted = 0;
    for (let n = 0; n < 400; n += 1) {
      let text = random() < 0.2 ? '\uFEFF' : '';
      for (let i = Math.floor(random() * 30); i >= 0; i -= 1) text += alphabet[Math.floor(random() * alphabet.length)];
      const bytes = Buffer.from(text);
      const whole = await readAll(bytes).catch((error: Error) => error.message);
      if (typeof whole !== 'string') accepted += 1;
      for (const [readPartBytes, targetBytes] of [
        [1, 1],
        [2, 3],
        [7, 2],
      ]) {
        const sharded = await (async () => {
          const plan = await planRanges(memory(bytes), { key: 'k', etag: '', size: bytes.length, readPartBytes, format: 'csv', model, targetBytes });
          expect(plan.columns).toEqual(typeof whole === 'string' ? expect.anything() : whole[0]?.[0]);
          const records: [string[], number, string][] = [];
          for (const range of plan.ranges) records.push(...(await readAll(bytes.subarray(range.start, range.end), { offset: range.start, line: range.line })));
          return records;
        })().catch((error: Error) => error.message);
        expect(sharded, JSON.stringify(text)).toEqual(whole);
      }
    }
    expect(accepted).toBeGreaterThan(100);
  });
});
