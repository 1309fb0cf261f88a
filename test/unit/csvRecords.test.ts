/**
 * The CSV reader batch scoring resumes from: whatever sizes the stream's chunks have (S3 bodies
 * arrive in network-sized ones), the records, their lines and each batch's byte offset are those
 * of the file read in one piece, and a read resumed at any batch's offset gives the records after
 * it. A failing stream is not the client's fault; a file that is not UTF-8 or not CSV is. Records
 * end at a line feed outside quoted fields (a CR before it is the line break's), a BOM is removed
 * before parsing (and counted in the offsets), and a file of CR-only line breaks is refused. A
 * batch of long records holds about their text, not a copy of the text before each of them.
 */
import { Readable } from 'node:stream';
import { runInNewContext } from 'node:vm';
import { setFlagsFromString } from 'node:v8';
import { describe, expect, it } from 'vitest';
import { BadRequestError } from '../../lib/errors.js';
import { csvRecordBatches } from '../../lib/inputs/csvRecords.js';

const FILES: Record<string, string> = {
  'CRLF with a blank line after the header': 'a,b\r\n\r\n1,2\r\n3,4\r\n5,6\r\n',
  'a quoted CRLF in the header, BOM, non-ASCII': '\uFEFF"a\r\nx",b\r\n1,"é, ü"\r\n3,4\r\n"5\r\n6",7\r\n',
  'LF, no final line break': 'a,b\n1,2\n\n3,4\n5,6',
  'stray and spaced quotes, quoted CRs, blank CRLF lines, BOM and a quoted header':
    '\uFEFF"a","b"\r\n1,27" monitor\r\n\r\n\r\n"x\r",2\r\n3,"y\r"\r\n4, "q"\r\n5,"z" \r\n6,"w"\t,7\r\n',
};

function chunked(text: string, size: number): Readable {
  const bytes = Buffer.from(text);
  const chunks: Buffer[] = [];
  for (let at = 0; at < bytes.length; at += size) chunks.push(bytes.subarray(at, at + size));
  return Readable.from(chunks);
}

async function read(stream: Readable, start?: { offset: number; line: number }) {
  const batches: { records: [string[], number, string][]; end: number }[] = [];
  for await (const batch of csvRecordBatches(stream, 2, start)) batches.push({ records: batch.records.map((r) => [r.cells, r.line, r.text]), end: batch.end });
  return batches;
}

describe.each(Object.entries(FILES))('%s', (_name, text) => {
  it('reads the same records, lines and batch offsets in chunks of any size', async () => {
    const whole = await read(chunked(text, 1 << 16));
    expect(whole.flatMap((b) => b.records).length).toBeGreaterThan(3);
    for (const size of [1, 2, 3, 5, 7, 11]) expect([size, await read(chunked(text, size))]).toEqual([size, whole]);
  });

  it('resumes at every batch end with the records after it', async () => {
    const whole = await read(chunked(text, 1 << 16));
    const bytes = Buffer.from(text);
    for (const [i, batch] of whole.slice(0, -1).entries()) {
      const last = batch.records[batch.records.length - 1];
      // A resumed read starts after the header's batch: the header is carried by the run, not re-read.
      const rest = await read(chunked(bytes.subarray(batch.end).toString(), 3), { offset: batch.end, line: last[1] });
      expect(rest.flatMap((b) => b.records)).toEqual(whole.slice(i + 1).flatMap((b) => b.records));
      expect(rest[rest.length - 1].end).toBe(bytes.length);
    }
  });
});

describe('failures', () => {
  it('a stream that fails is thrown as it is (the run is retried), not as a client error', async () => {
    const failing = new Readable({
      read() {
        this.push(Buffer.from('a,b\n1,2\n'));
        this.destroy(new Error('read ECONNRESET'));
      },
    });
    const error = await read(failing).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect(error).not.toBeInstanceOf(BadRequestError);
    expect((error as Error).message).toMatch(/ECONNRESET/);
  });

  it.each([
    ['not UTF-8', Buffer.from([0x61, 0x0a, 0xff, 0x0a]), /not valid UTF-8/],
    ['an unterminated quote', Buffer.from('a,b\n1,"2\n3,4\n'), /malformed near line \d+: Quoted field unterminated/],
  ])('%s is a client error', async (_name, bytes, message) => {
    await expect(read(Readable.from([bytes]))).rejects.toMatchObject({ statusCode: 400, message: expect.stringMatching(message) });
  });
});

describe('what the records are', () => {
  it('a BOM before a quoted header: removed before parsing, counted in the offsets', async () => {
    const text = '\uFEFF"sepal_length","species"\n5.1,"setosa"\n';
    const [batch] = await read(chunked(text, 1 << 16));
    expect(batch.records).toEqual([
      [['sepal_length', 'species'], 1, '"sepal_length","species"'],
      [['5.1', 'setosa'], 2, '5.1,"setosa"'],
    ]);
    expect(batch.end).toBe(Buffer.byteLength(text));
  });

  it('a quote inside an unquoted field is text; a quoted field ends at a quote that whitespace, then a comma or the line end, follows', async () => {
    const text = 'a,b,c\n5.1,27" monitor,x\n1,"two\nlines","say ""hi"""  \n2,"q" ,y\n';
    const records = (await read(chunked(text, 3))).flatMap((b) => b.records);
    expect(records.map(([cells, line]) => [cells, line])).toEqual([
      [['a', 'b', 'c'], 1],
      [['5.1', '27" monitor', 'x'], 2],
      [['1', 'two\nlines', 'say "hi"'], 4],
      [['2', 'q', 'y'], 5],
    ]);
  });

  it("CRLF: the CR is the line break's, not the last cell's, unless a quoted cell holds it; a blank CRLF line is skipped and counted", async () => {
    const text = 'a,b\r\n1,2 \r\n\r\n3,"4\r"\r\n5,x"\r\n';
    const records = (await read(chunked(text, 2))).flatMap((b) => b.records);
    expect(records).toEqual([
      [['a', 'b'], 1, 'a,b'],
      [['1', '2 '], 2, '1,2 '],
      [['3', '4\r'], 4, '3,"4\r"'],
      [['5', 'x"'], 5, '5,x"'],
    ]);
  });

  it('a line of "" alone is blank (one empty cell): skipped and counted, and not part of the next record\'s text', async () => {
    const records = (await read(chunked('a,b\n""\n1,2\n "" \n', 2))).flatMap((b) => b.records);
    expect(records).toEqual([
      [['a', 'b'], 1, 'a,b'],
      [['1', '2'], 3, '1,2'],
      [[' "" '], 4, ' "" '],
    ]);
  });

  it('a lone CR in a row is in its cell; in the header, it is refused', async () => {
    const records = (await read(chunked('a,b\n1,2\r3\n', 4))).flatMap((b) => b.records);
    expect(records[1]).toEqual([['1', '2\r3'], 2, '1,2\r3']);
    for (const text of ['a,b\rc\n1,2\n', 'a,"b\r"\n1,2\n', 'a,b\r\r\n1,2\r\n', '\n\r\na\rb,c\n1,2\n', 'a,b\r'])
      for (const size of [1, 2, 1 << 16])
        await expect(read(chunked(text, size)), JSON.stringify(text)).rejects.toMatchObject({
          statusCode: 400,
          message: expect.stringMatching(/carriage return that no line feed follows/),
        });
  });
});

describe('a header that names a column twice', () => {
  it('is refused with a 400 naming the column and where it is (names compared as evaluate reads them: trimmed); empty names are not compared', async () => {
    for (const [text, message] of [
      ['sepal_length,sepal_length,sepal_width\n1,9,2\n', 'the CSV header names column "sepal_length" twice (columns 1 and 2): each column needs a name of its own'],
      ['\uFEFFa,b, a \n1,2,3\n', 'the CSV header names column "a" twice (columns 1 and 3): each column needs a name of its own'],
    ])
      await expect(read(chunked(text, 3)), text).rejects.toMatchObject({ statusCode: 400, message });
    expect((await read(chunked('a,b,,\n1,2,,\n', 3))).flatMap((batch) => batch.records)).toEqual([
      [['a', 'b', '', ''], 1, 'a,b,,'],
      [['1', '2', '', ''], 2, '1,2,,'],
    ]);
  });

  it('is looked for in the header only: not in rows, nor in a read that resumes past the header (its columns were taken when it was read)', async () => {
    const text = 'a,b\nx,x\n';
    expect((await read(chunked(text, 3))).flatMap((batch) => batch.records)).toEqual([
      [['a', 'b'], 1, 'a,b'],
      [['x', 'x'], 2, 'x,x'],
    ]);
    expect((await read(chunked(text.slice(4), 3), { offset: 4, line: 1 })).flatMap((batch) => batch.records)).toEqual([[['x', 'x'], 2, 'x,x']]);
  });
});

describe('CR-only line breaks (classic Mac OS)', () => {
  it('are refused with a 400 that says so, whatever the chunks', async () => {
    const text = 'sepal_length,sepal_width,petal_length,petal_width\r5.1,3.5,1.4,0.2\rx,3.0,5.2,2.3\r6.7,3.0,5.2,2.3\ry,1,1,1\r';
    for (const size of [1, 3, 1 << 16]) {
      await expect(read(chunked(text, size))).rejects.toMatchObject({ statusCode: 400, message: expect.stringMatching(/CR-only line breaks/) });
    }
  });

  it('are refused at the first chunks, not parsed to the end of the file as one header', async () => {
    let chunks = 0;
    const endless = Readable.from(
      (function* () {
        for (;;) {
          chunks += 1;
          yield Buffer.from(chunks === 1 ? 'a,b\r' : '1,2\r'.repeat(1000));
        }
      })(),
    );
    await expect(read(endless)).rejects.toMatchObject({ statusCode: 400 });
    expect(chunks).toBeLessThan(20);
  });
});

describe('memory', () => {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const heapUsed = () => {
    gc();
    gc();
    return process.memoryUsage().heapUsed;
  };

  it('a batch of long records (base64 photos in a cell) holds about their text, not a copy of all the text before each', async () => {
    // 60 records of 120 KB, read in 64 KiB chunks, kept as one batch: before, each record held its
    // own flattened copy of the batch's text up to it (60 x 30 x 120 KB: over 200 MB; 150 such
    // records of a user's file, 1.4 GB).
    const cell = 'iVBORw0KGgo'.repeat(11_000);
    const text = `id,image\n${Array.from({ length: 60 }, (_, i) => `${i},${cell}`).join('\n')}\n`;
    const before = heapUsed();
    const batches = [];
    for await (const batch of csvRecordBatches(chunked(text, 64 * 1024), 256)) batches.push(batch);
    const held = heapUsed() - before;
    expect(batches.flatMap((b) => b.records)).toHaveLength(61);
    expect(batches.at(-1)?.end).toBe(Buffer.byteLength(text));
    expect(held).toBeLessThan(4 * text.length);
  });
});
