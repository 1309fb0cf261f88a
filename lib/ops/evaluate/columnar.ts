/**
 * The columnar path of evaluate, for CSV data sets of kinds whose instance is a row's cells
 * (tabular): papaparse splits the text into arrays of cells as it streams in, and each batch of
 * rows is written straight into one Float32Array of model inputs and an array of labels: no object
 * per row, no second decode. The answers, and the errors with their line numbers, are those of the
 * row path (dataset.ts, examples.ts).
 *
 * The parser, by bench/csvParsers.ts on our files (100k rows, rows/s): udsv 1.1M (iris) and 0.44M
 * (housing), papaparse 0.69M and 0.45M, csv-parse 0.25M and 0.17M, csv-parser, @fast-csv/parse
 * slower. udsv is not used: it assumes every row has the header's number of fields, and a short row
 * silently swallows the next line into a cell.
 */
import type { Readable } from 'node:stream';
import Papa from 'papaparse';
import { BadRequestError } from '../../errors.js';
import { inputKindOf } from '../../inputs/encode.js';
import { csvNumber } from '../../inputs/csvCells.js';
import type { Manifest } from '../../registry/index.js';
import type { LabelledChunk } from './evaluate.js';
import { truthOf } from './examples.js';

/** Whether the model's inputs can take the columnar path (the kind says how to read cells). */
export function canReadColumns(manifest: Manifest): boolean {
  const input = inputKindOf(manifest);
  return input?.kind.csvRowEncoder !== undefined;
}

/**
 * Rows of cells, trimmed, in batches of about `rows`: papaparse's step callback fills one and
 * pauses the parse until the consumer asks for the next (async iteration of its stream output
 * costs 20 times more per row).
 */
async function* cellBatches(stream: Readable, rows: number): AsyncGenerator<string[][]> {
  let batch: string[][] = [];
  let paused: Papa.Parser | undefined;
  let done = false;
  let failure: Error | undefined;
  let wake: (() => void) | undefined;
  const notify = () => {
    wake?.();
    wake = undefined;
  };
  // Decoded here, where a character split between two chunks is put back together.
  stream.setEncoding('utf8');
  stream.on('error', (error) => {
    failure = error;
    notify();
  });
  Papa.parse(stream as unknown as File, {
    skipEmptyLines: true,
    step: (result: Papa.ParseStepResult<string[]>, parser: Papa.Parser) => {
      batch.push(result.data.map((cell) => cell.trim()));
      if (batch.length >= rows) {
        parser.pause();
        paused = parser;
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
  for (;;) {
    if (!paused && !done && !failure) await new Promise<void>((resolve) => (wake = resolve));
    if (failure) throw new BadRequestError(`the data set cannot be read: ${failure.message}`);
    if (batch.length > 0) {
      const full = batch;
      batch = [];
      yield full;
    }
    if (done) return;
    const parser = paused;
    paused = undefined;
    parser?.resume();
  }
}

export async function* csvColumnChunks(stream: Readable, manifest: Manifest, labelColumn: string, batchRows: number): AsyncGenerator<LabelledChunk> {
  const input = inputKindOf(manifest);
  const makeEncoder = input?.kind.csvRowEncoder;
  if (!input || !makeEncoder) throw new Error(`${manifest.name}: no columnar CSV path for this input kind`);
  const inputName = manifest.signature.inputs[0].name;
  const width = input.kind.rowShape(input.settings).reduce((a, b) => a * b, 1);
  let header: string[] | undefined;
  let encode: ((cells: string[], out: Float32Array, offset: number) => string | undefined) | undefined;
  let labelAt = -1;
  let line = 1;
  let x = new Float32Array(batchRows * width);
  let truths: number[] = [];

  const take = (cells: string[]) => {
    if (header === undefined) {
      header = cells.map((name, i) => (i === 0 ? name.replace(/^\uFEFF/, '') : name));
      labelAt = header.indexOf(labelColumn);
      if (labelAt < 0) throw new BadRequestError(`label column ${JSON.stringify(labelColumn)} not found; the data set has columns ${header.join(', ')}`);
      encode = makeEncoder(input.settings, header);
      if (!encode) {
        const missing = (input.kind.requiredColumns(input.settings) ?? []).filter((n) => !header?.includes(n));
        throw new BadRequestError(`line 2: missing column(s) ${missing.join(', ')}; the data set has columns ${header.join(', ')}`);
      }
      return;
    }
    line += 1;
    if (cells.length !== header.length) throw new BadRequestError(`the CSV is malformed near line ${line}: ${cells.length} fields where the header has ${header.length}`);
    const problem = (encode as NonNullable<typeof encode>)(cells, x, truths.length * width);
    if (problem) throw new BadRequestError(`instances[${truths.length}]: ${problem} (line ${line})`);
    truths.push(truthOf(manifest, csvNumber(cells[labelAt]), `line ${line}, ${labelColumn}`));
  };
  const full = () => truths.length >= batchRows;
  const flush = (): LabelledChunk => {
    const rows = truths.length;
    const chunk: LabelledChunk = { input: { kind: 'tensors', tensors: [{ name: inputName, dtype: 'float32', shape: [rows, width], data: x.subarray(0, rows * width) }] }, truths };
    x = new Float32Array(batchRows * width);
    truths = [];
    return chunk;
  };

  for await (const batch of cellBatches(stream, batchRows)) {
    for (const cells of batch) {
      take(cells);
      if (full()) yield flush();
    }
  }
  if (header === undefined || (line === 1 && truths.length === 0)) throw new BadRequestError('the data set has no rows');
  if (truths.length > 0) yield flush();
}
