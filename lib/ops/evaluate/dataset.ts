/**
 * Data sets (CSV or JSON Lines objects in the model store) read as a stream of row objects:
 * csv-parse for CSV (header row, numbers cast), one JSON object per line for JSONL. Rows arrive in
 * order with their line numbers; memory holds one chunk, whatever the file's size.
 */
import { parse } from 'csv-parse';
import { createInterface } from 'node:readline';
import { pipeline, type Readable } from 'node:stream';
import { BadRequestError, ForbiddenError } from '../../errors.js';
import type { ObjectStore } from '../../store/index.js';

export type DatasetFormat = 'csv' | 'jsonl';

export interface DatasetRow {
  line: number;
  values: Record<string, unknown>;
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

async function* csvRows(stream: Readable): AsyncGenerator<DatasetRow> {
  // pipeline(), not pipe(): a failing source (a dropped S3 connection) must surface in the loop
  // below, not as an unhandled 'error' event that ends the process.
  const parser = pipeline(stream, parse({ columns: true, cast: true, skip_empty_lines: true, trim: true, bom: true }), () => undefined);
  let line = 1;
  try {
    for await (const values of parser) {
      line += 1;
      yield { line, values: values as Record<string, unknown> };
    }
  } catch (error) {
    throw new BadRequestError(`the CSV is malformed near line ${line + 1}: ${(error as Error).message}`);
  }
}

async function* jsonlRows(stream: Readable): AsyncGenerator<DatasetRow> {
  const lines = createInterface({ input: stream, crlfDelay: Infinity });
  let line = 0;
  for await (const text of lines) {
    line += 1;
    if (text.trim() === '') continue;
    let values: unknown;
    try {
      values = JSON.parse(text);
    } catch {
      throw new BadRequestError(`line ${line} is not valid JSON`);
    }
    if (typeof values !== 'object' || values === null || Array.isArray(values)) throw new BadRequestError(`line ${line}: expected a JSON object`);
    yield { line, values: values as Record<string, unknown> };
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
