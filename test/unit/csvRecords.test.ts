/**
 * The CSV reader batch scoring resumes from: whatever sizes the stream's chunks have (S3 bodies
 * arrive in network-sized ones), the records, their lines and each batch's byte offset are those
 * of the file read in one piece, and a read resumed at any batch's offset gives the records after
 * it. A failing stream is not the client's fault; a file that is not UTF-8 or not CSV is.
 */
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { BadRequestError } from '../../lib/errors.js';
import { csvRecordBatches } from '../../lib/inputs/csvRecords.js';

const FILES: Record<string, string> = {
  'CRLF with a blank line after the header': 'a,b\r\n\r\n1,2\r\n3,4\r\n5,6\r\n',
  'a quoted CRLF in the header, BOM, non-ASCII': '\uFEFF"a\r\nx",b\r\n1,"é, ü"\r\n3,4\r\n"5\r\n6",7\r\n',
  'LF, no final line break': 'a,b\n1,2\n\n3,4\n5,6',
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
