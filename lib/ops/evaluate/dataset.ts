/**
 * Data sets (CSV or JSON Lines objects in the model store) read as a stream of row objects. CSV is
 * read as batch scoring reads it (inputs/csvRecords.ts, papaparse): header names trimmed, cells as
 * text, untouched, each row with the line batch's errors file gives it; numbers are read from the
 * cells where the model wants numbers (examples.ts, as batch does), so a text column stays text.
 * JSON Lines: one object a line, a byte-order mark skipped as batch skips it. Rows arrive in order
 * with their line numbers; memory holds one chunk, whatever the file's size.
 */
import type { Readable } from 'node:stream';
import { BadRequestError, ForbiddenError, NotFoundError, quoted, ServiceError } from '../../errors.js';
import { csvRecordBatches } from '../../inputs/csvRecords.js';
import { readJsonl, TOO_LONG } from '../../inputs/jsonLines.js';
import { FILE_RECORD_LIMIT, type RecordLimit } from '../../inputs/recordLimit.js';
import type { ObjectStore } from '../../store/index.js';

export type DatasetFormat = 'csv' | 'jsonl';

export interface DatasetRow {
  /** The line the record ends on, 1-based (batch's errors file names a row by the same line). */
  line: number;
  values: Record<string, unknown>;
  /** A CSV row: its values are the cells as text, numbers to be read where the model wants them. */
  fromCsv: boolean;
  /** The record's size in the file (bytes of a JSON line, characters of a CSV record): about what its values hold in memory. */
  bytes: number;
}

/** A data set named by URI must live in the model store; a bare key is relative to it. */
export function datasetKey(store: ObjectStore, dataset: string): string {
  let key = dataset;
  if (/^[a-z0-9]+:\/\//.test(dataset)) {
    const root = store.uri.endsWith('/') ? store.uri : `${store.uri}/`;
    // The store's own URI is not named: a read-role caller learns no bucket it was not told.
    if (!dataset.startsWith(root)) throw new ForbiddenError(`data set ${dataset} is outside the model store: name it by its key in the store (e.g. _datasets/iris-test.csv)`);
    key = dataset.slice(root.length);
  }
  if (key === '' || key.split('/').some((part) => part === '..' || part === '') || key.startsWith('/')) {
    throw new BadRequestError(`invalid data set key ${quoted(key)}`);
  }
  // S3's limit on a key, 1,024 bytes of UTF-8; and no control characters (S3 advises against them; a NUL no file system takes).
  if (Buffer.byteLength(key) > 1024) throw new BadRequestError(`data set key of ${Buffer.byteLength(key)} bytes: a key in the store is at most 1024 bytes`);
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
  if (/[\u0000-\u001f\u007f]/.test(key)) throw new BadRequestError(`invalid data set key ${quoted(key)}: it holds a control character`);
  return key;
}

/**
 * A job's data set checked when the job is submitted: a key that is not one, outside the store, of
 * no format read here, or of no object is a 4xx then, not a job accepted (and a worker started)
 * only to fail. Its rows are the worker's to read.
 */
export async function checkDatasetFound(store: ObjectStore, source: { dataset?: string; format?: DatasetFormat }, field = 'dataset'): Promise<void> {
  if (source.dataset === undefined) return;
  let key: string;
  try {
    key = datasetKey(store, source.dataset);
    formatOf(key, source.format);
  } catch (error) {
    // The request's own data set is what these words are about; a second one (validation) is named.
    if (field === 'dataset' || !(error instanceof ServiceError)) throw error;
    throw new (error.constructor as new (message: string) => ServiceError)(`${field}: ${error.message}`);
  }
  if (!(await store.head(key))) throw new NotFoundError(`${field} ${key}: no such object in the model store`);
}

export function formatOf(key: string, declared?: DatasetFormat): DatasetFormat {
  if (declared) return declared;
  if (/\.csv$/i.test(key)) return 'csv';
  if (/\.(jsonl|ndjson)$/i.test(key)) return 'jsonl';
  throw new BadRequestError(`cannot tell the format of ${key}: name it .csv, .jsonl or .ndjson, or pass "format"`);
}

/** Records per batch read from the CSV reader (it parses a whole chunk of text at a time anyway). */
const CSV_BATCH = 256;

async function* csvRows(stream: Readable, room?: () => number, limit?: RecordLimit): AsyncGenerator<DatasetRow> {
  let header: string[] | undefined;
  for await (const { records } of csvRecordBatches(stream, CSV_BATCH, undefined, room, limit)) {
    for (const record of records) {
      const { cells, line } = record;
      if (!header) {
        header = cells.map((name, i) => (i === 0 ? name.replace(/^\uFEFF/, '') : name).trim());
        continue;
      }
      if (cells.length !== header.length) throw new BadRequestError(`the CSV is malformed near line ${line}: ${cells.length} fields where the header has ${header.length}`);
      const names = header;
      yield { line, values: Object.fromEntries(names.map((name, i) => [name, cells[i]])), fromCsv: true, bytes: record.length };
    }
  }
}

/** JSON Lines as batch reads them (inputs/jsonLines.ts: a BOM skipped, invalid UTF-8 refused); a line that is not a JSON object refuses the data set. */
async function* jsonlRows(stream: Readable, limit?: RecordLimit): AsyncGenerator<DatasetRow> {
  let start = 0;
  for await (const row of readJsonl(stream, undefined, limit?.bytes)) {
    if ('error' in row && row.error === TOO_LONG && limit) throw limit.tooLong(row.line);
    if ('error' in row) throw new BadRequestError(row.error === 'not valid JSON' ? `line ${row.line} is not valid JSON` : `line ${row.line}: ${row.error}`);
    // From the end of the row before: blank lines between count too, a few bytes.
    yield { line: row.line, values: row.values, fromCsv: false, bytes: row.end - start };
    start = row.end;
  }
}

/**
 * The rows of a data set; `room` bounds the characters of the CSV records read ahead at once, `limit`
 * one record's (inputs/recordRoom.ts).
 */
export async function* readDataset(store: ObjectStore, key: string, format: DatasetFormat, room?: () => number, limit?: RecordLimit): AsyncGenerator<DatasetRow> {
  const stream = await store.getStream(key);
  try {
    yield* format === 'csv' ? csvRows(stream, room, limit) : jsonlRows(stream, limit);
  } finally {
    stream.destroy();
  }
}

/**
 * The data set's rows counted as far as `most` (reading stops there), each as long as a file's
 * record may be: a fine-tune's step takes at most the rows there are (ops/fineTune/budget.ts).
 */
export async function rowsUpTo(store: ObjectStore, source: { dataset: string; format?: DatasetFormat }, most: number): Promise<number> {
  const key = datasetKey(store, source.dataset);
  let rows = 0;
  for await (const _row of readDataset(store, key, formatOf(key, source.format), undefined, FILE_RECORD_LIMIT)) {
    rows += 1;
    if (rows >= most) break;
  }
  return rows;
}
