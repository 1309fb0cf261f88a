/**
 * The sharded plan's boundary scan (lib/batch/shard/plan.ts) against csv-parse's own record
 * boundaries, on generated files that put quoted newlines, escaped quotes, CRLF, a BOM and
 * multi-byte characters across the parts the file is read in: every range must start where
 * csv-parse says a record ends, be the shortest run of records reaching the target size, and carry
 * the number of newlines before it. JSON Lines (quotes mean nothing there) cuts at every newline.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { planRanges, type ShardRange } from '../../lib/batch/shard/plan.js';
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
    if (r < 0.4) return String(Math.floor(random() * 1e6));
    if (r < 0.5) return '';
    if (r < 0.6) return 'café 日本';
    if (r < 0.75) return `"a, b${eol}c"`;
    if (r < 0.85) return `"said ""hi""${eol}${eol}twice"`;
    if (r < 0.95) return '"""quoted"""';
    return `"${'x'.repeat(Math.floor(random() * 3000))}${eol}"`;
  };
  const rows = [['id', 'text', 'note'].join(',')];
  let size = 0;
  while (size < bytes) {
    const row = [field(), field(), field()].join(',');
    rows.push(row);
    size += row.length + eol.length;
  }
  // The last record sometimes has no line end.
  const text = rows.join(eol) + (random() < 0.5 ? eol : '');
  return Buffer.from((bom ? '\uFEFF' : '') + text, 'utf8');
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

const model = { name: 'm', version: 1 };
/** What the planner is given: the file's ETag and size, and parts of an odd size so that records, quotes and characters straddle them. */
async function source(key: string) {
  const info = await store.head(key);
  return { etag: info?.etag ?? '', size: info?.size ?? 0, readPartBytes: 65_537 };
}

describe('planRanges', () => {
  for (const [seed, eol, bom] of [
    [1, '\n', false],
    [2, '\r\n', true],
    [3, '\n', true],
  ] as const) {
    it(`cuts a CSV (${JSON.stringify(eol)}${bom ? ', BOM' : ''}) exactly where csv-parse ends records`, async () => {
      const random = uniform(seed);
      const bytes = csvFile(random, 400_000, eol, bom);
      const key = `s${seed}.csv`;
      await writeFile(path.join(dir, key), bytes);
      const records = parse(bytes, { bom: true, info: true, relax_column_count: true }) as unknown as { info: { bytes: number } }[];
      // Byte offsets in the file: csv-parse counts the BOM it removes.
      const ends = records.map((r) => r.info.bytes);
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
    const records = parse(bytes, { bom: true, info: true, relax_column_count: true }) as unknown as { info: { bytes: number } }[];
    const expected = expectedRanges(
      bytes,
      records.map((r) => r.info.bytes),
      200,
    );
    for (const readPartBytes of [1, 2, 3, 7]) {
      const plan = await planRanges(store, { key: 'small.csv', ...(await source('small.csv')), readPartBytes, format: 'csv', model, targetBytes: 200 });
      expect(plan.ranges, `parts of ${readPartBytes} bytes`).toEqual(expected);
      expect(plan.columns).toEqual(['id', 'text', 'note']);
    }
  });

  it('cuts JSON Lines at every newline, quotes or not', async () => {
    const random = uniform(7);
    const lines: string[] = [];
    for (let size = 0; size < 300_000; ) {
      const line = JSON.stringify({ text: `"${'q'.repeat(Math.floor(random() * 500))}`, n: Math.floor(random() * 100) });
      lines.push(line);
      size += line.length + 1;
    }
    const bytes = Buffer.from(`${lines.join('\n')}\n`);
    await writeFile(path.join(dir, 'rows.jsonl'), bytes);
    const ends: number[] = [];
    for (let i = bytes.indexOf(0x0a); i !== -1; i = bytes.indexOf(0x0a, i + 1)) ends.push(i + 1);
    for (const targetBytes of [1, 10_000, 100_000]) {
      const plan = await planRanges(store, { key: 'rows.jsonl', ...(await source('rows.jsonl')), format: 'jsonl', model, targetBytes });
      expect(plan.ranges).toEqual(expectedRanges(bytes, ends, targetBytes));
      expect(plan.columns).toBeUndefined();
    }
  });
});
