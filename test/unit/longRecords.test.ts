/**
 * Records near and past the length a record may have (lib/inputs/recordLimit.ts), through both
 * row readers: one past it is a 400 naming the line it starts on, read no further than the limit
 * (a file with no line break is not read whole); a long one under it is read as it is when the
 * file comes in one piece, whatever the chunks (CSV holds chunks back while a record is long).
 */
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { csvRecordBatches } from '../../lib/inputs/csvRecords.js';
import { readJsonl } from '../../lib/inputs/jsonLines.js';
import { MAX_RECORD_LENGTH } from '../../lib/inputs/recordLimit.js';

function chunked(bytes: Buffer, size: number): Readable {
  const chunks: Buffer[] = [];
  for (let at = 0; at < bytes.length; at += size) chunks.push(bytes.subarray(at, at + size));
  return Readable.from(chunks);
}

/** An endless stream: `first`, then `filler` forever; counts the bytes taken from it. */
function endless(first: string, filler: Buffer) {
  const taken = { bytes: 0 };
  const stream = Readable.from(
    (function* () {
      taken.bytes += first.length;
      yield Buffer.from(first);
      for (;;) {
        taken.bytes += filler.length;
        yield filler;
      }
    })(),
  );
  return { stream, taken };
}

async function csvRecords(stream: Readable) {
  const records: [string[], number, number][] = [];
  for await (const batch of csvRecordBatches(stream, 1)) for (const r of batch.records) records.push([r.cells, r.line, batch.end]);
  return records;
}

async function jsonlRows(stream: Readable) {
  const rows: unknown[] = [];
  for await (const row of readJsonl(stream)) rows.push(row);
  return rows;
}

const tooLong = (line: number) => ({ statusCode: 400, message: expect.stringContaining(`the record that starts on line ${line} is longer than 32 MiB`) });

describe('CSV', () => {
  it('a quoted field of 3 MiB with line breaks in it: the records, lines and offsets of the file read whole, in chunks of any size', async () => {
    const field = `${'x'.repeat(1 << 20)}\n${'y'.repeat(1 << 20)}\r\n${'z'.repeat(1 << 20)}`;
    const bytes = Buffer.from(`a,b\n1,2\n3,"${field}"\n\n4,5\n"${field}",6\n7,8`);
    const whole = await csvRecords(Readable.from([bytes]));
    expect(whole.map(([cells, line]) => [cells.map((c) => c.length), line])).toEqual([
      [[1, 1], 1],
      [[1, 1], 2],
      [[1, field.length], 5],
      [[1, 1], 7],
      [[field.length, 1], 10],
      [[1, 1], 11],
    ]);
    for (const size of [1000, 4096, 65_536, 1 << 20]) expect([size, await csvRecords(chunked(bytes, size))]).toEqual([size, whole]);
  });

  it.each([
    ['an unquoted line', (body: string) => `a,b\n1,2\n\n3,${body}\n4,5\n`, 4],
    ['a quoted field with line breaks', (body: string) => `a,b\n1,"2\n"\n"${body.slice(0, 1000)}\n${body}",3\n`, 4],
    ['the header, after blank lines', (body: string) => `\n\n${body},b\n1,2\n`, 3],
  ])('a record longer than the limit (%s) is refused naming the line it starts on, whatever the chunks', async (_name, file, line) => {
    const bytes = Buffer.from(file('x'.repeat(MAX_RECORD_LENGTH + 1)));
    for (const size of [65_536, bytes.length]) await expect(csvRecords(chunked(bytes, size))).rejects.toMatchObject(tooLong(line));
  });

  it.each([
    ['no line break', 'a,b\n1,2\n3,', Buffer.alloc(65_536, 'x')],
    ['a quote never closed', 'a,b\n1,2\n3,"', Buffer.alloc(65_536, '\n')],
  ])('a file whose last record never ends (%s) is refused once the limit is passed, not read to its end', async (_name, first, filler) => {
    const { stream, taken } = endless(first, filler);
    await expect(csvRecords(stream)).rejects.toMatchObject(tooLong(3));
    expect(taken.bytes).toBeLessThan(3 * MAX_RECORD_LENGTH);
  });
});

describe('JSON Lines', () => {
  it('a line of 3 MiB: the rows of the file read whole, in chunks of any size', async () => {
    const text = 'x'.repeat(3 << 20);
    const bytes = Buffer.from(`{"a":1}\n{"text":"${text}"}\n\n{"a":2}`);
    const whole = await jsonlRows(Readable.from([bytes]));
    expect(whole).toEqual([
      { line: 1, end: 8, values: { a: 1 } },
      { line: 2, end: 8 + text.length + 12, values: { text } },
      { line: 4, end: bytes.length, values: { a: 2 } },
    ]);
    for (const size of [1000, 65_536, 1 << 20]) expect([size, await jsonlRows(chunked(bytes, size))]).toEqual([size, whole]);
  });

  it('a line longer than the limit is a row error naming it, read past without being held, whatever the chunks; the rows after it are read', async () => {
    const bytes = Buffer.from(`{"a":1}\n\n{"text":"${'x'.repeat(MAX_RECORD_LENGTH)}"}\n{"a":2}\n{"b":"${'y'.repeat(MAX_RECORD_LENGTH)}`);
    const long = MAX_RECORD_LENGTH + 11;
    const expected = [
      { line: 1, end: 8, values: { a: 1 } },
      { line: 3, end: 9 + long + 1, error: expect.stringContaining('longer than 32 MiB') },
      { line: 4, end: 9 + long + 9, values: { a: 2 } },
      { line: 5, end: bytes.length, error: expect.stringContaining('longer than 32 MiB') },
    ];
    for (const size of [65_536, bytes.length]) expect([size, await jsonlRows(chunked(bytes, size))]).toEqual([size, expected]);
    // A line of 128 MiB in 64 KiB chunks: what the reader holds stays under the limit and a chunk or so.
    const filler = Buffer.alloc(65_536, 'x');
    const base = process.memoryUsage().arrayBuffers;
    let peak = 0;
    const source = Readable.from(
      (function* () {
        for (let i = 0; i < (4 * MAX_RECORD_LENGTH) / filler.length; i += 1) {
          peak = Math.max(peak, process.memoryUsage().arrayBuffers - base);
          yield filler;
        }
      })(),
    );
    const rows: unknown[] = [];
    for await (const row of readJsonl(source)) rows.push(row);
    expect(peak).toBeLessThan(2 * MAX_RECORD_LENGTH);
    expect(rows).toEqual([{ line: 1, end: 4 * MAX_RECORD_LENGTH, error: expect.stringContaining('longer than 32 MiB') }]);
  });
});
