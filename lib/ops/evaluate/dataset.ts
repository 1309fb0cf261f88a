/**
 * Data sets (CSV or JSON Lines objects in the model store) read as a stream of row objects. CSV is
 * read as batch scoring reads it (inputs/csvRecords.ts, papaparse): header names trimmed, cells as
 * text, untouched, each row with the line batch's errors file gives it; numbers are read from the
 * cells where the model wants numbers (examples.ts, as batch does), so a text column stays text.
 * JSON Lines: one object a line, a byte-order mark skipped as batch skips it. Rows arrive in order
 * with their line numbers; memory holds one chunk, whatever the file's size.
 */
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { BadRequestError, ForbiddenError } from '../../errors.js';
import { csvRecordBatches } from '../../inputs/csvRecords.js';
import type { ObjectStore } from '../../store/index.js';

export type DatasetFormat = 'csv' | 'jsonl';

export interface DatasetRow {
  /** The line the record ends on, 1-based (batch's errors file names a row by the same line). */
  line: number;
  values: Record<string, unknown>;
  /** A CSV row: its values are the cells as text, numbers to be read where the model wants them. */
  fromCsv: boolean;
}

/** A data set named by URI must live in the model store; a bare key is relative to it. */
export function datasetKey(store: ObjectStore, dataset: string): string {
  let key = dataset;
  if (/^[a-z0-9]+:\/\//.test(dataset)) {
    const root = store.uri.endsWith('/') ? store.uri : `${store.uri}/`;
    if (!dataset.startsWith(root)) throw new ForbiddenError(`data set ${dataset} is outside the model store ${root}`);
    key = dataset.slice(root.length);
  }
  if (key === '' || key.split('/').some((part) => part === '..' || part === '') || key.startsWith('/')) {
    throw new BadRequestError(`invalid data set key ${JSON.stringify(key)}`);
  }
  return key;
}

export function formatOf(key: string, declared?: DatasetFormat): DatasetFormat {
  if (declared) return declared;
  if (/\.csv$/i.test(key)) return 'csv';
  if (/\.(jsonl|ndjson)$/i.test(key)) return 'jsonl';
  throw new BadRequestError(`cannot tell the format of ${key}: name it .csv, .jsonl or .ndjson, or pass "format"`);
}

/** Records per batch read from the CSV reader (it parses a whole chunk of text at a time anyway). */
const CSV_BATCH = 256;

async function* csvRows(stream: Readable): AsyncGenerator<DatasetRow> {
  let header: string[] | undefined;
  for await (const { records } of csvRecordBatches(stream, CSV_BATCH)) {
    for (const { cells, line } of records) {
      if (!header) {
        header = cells.map((name, i) => (i === 0 ? name.replace(/^\uFEFF/, '') : name).trim());
        continue;
      }
      if (cells.length !== header.length) throw new BadRequestError(`the CSV is malformed near line ${line}: ${cells.length} fields where the header has ${header.length}`);
      const names = header;
      yield { line, values: Object.fromEntries(names.map((name, i) => [name, cells[i]])), fromCsv: true };
    }
  }
}

async function* jsonlRows(stream: Readable): AsyncGenerator<DatasetRow> {
  const lines = createInterface({ input: stream, crlfDelay: Infinity });
  let line = 0;
  for await (const read of lines) {
    line += 1;
    // A byte-order mark is skipped, as batch's reader skips it (a BOM-aware decoder for each line).
    const text = read.charCodeAt(0) === 0xfeff ? read.slice(1) : read;
    if (text.trim() === '') continue;
    let values: unknown;
    try {
      values = JSON.parse(text);
    } catch {
      throw new BadRequestError(`line ${line} is not valid JSON`);
    }
    if (typeof values !== 'object' || values === null || Array.isArray(values)) throw new BadRequestError(`line ${line}: expected a JSON object`);
    yield { line, values: values as Record<string, unknown>, fromCsv: false };
  }
}

export async function* readDataset(store: ObjectStore, key: string, format: DatasetFormat): AsyncGenerator<DatasetRow> {
  const stream = await store.getStream(key);
  try {
    yield* format === 'csv' ? csvRows(stream) : jsonlRows(stream);
  } finally {
    stream.destroy();
  }
}
