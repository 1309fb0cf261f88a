/**
 * The columnar path of evaluate, for CSV data sets of kinds whose instance is a row's cells
 * (tabular): papaparse splits the text into arrays of cells as it streams in (inputs/csvRecords.ts),
 * and each batch of rows is written straight into one Float32Array of model inputs and an array of
 * labels: no object per row, no second decode. The answers, and the errors with their line numbers, are those of the
 * row path (dataset.ts, examples.ts).
 *
 * The parser, by bench/csvParsers.ts on our files (100k rows, rows/s): udsv 1.1M (iris) and 0.44M
 * (housing), papaparse 0.69M and 0.45M, csv-parse 0.25M and 0.17M, csv-parser, @fast-csv/parse
 * slower. udsv is not used: it assumes every row has the header's number of fields, and a short row
 * silently swallows the next line into a cell.
 */
import type { Readable } from 'node:stream';
import { BadRequestError, namesListed } from '../../errors.js';
import { csvColumns, type CsvRowEncoder } from '../../inputs/encode.js';
import { csvNumber } from '../../inputs/csvCells.js';
import { csvRecordBatches } from '../../inputs/csvRecords.js';
import type { Manifest } from '../../registry/index.js';
import type { LabelledChunk } from './evaluate.js';
import { LabelColumnError, truthOf } from './examples.js';

export async function* csvColumnChunks(stream: Readable, manifest: Manifest, labelColumn: string, batchRows: number): AsyncGenerator<LabelledChunk> {
  let header: string[] | undefined;
  let columns: { inputName: string; width: number; encode: CsvRowEncoder } | undefined;
  let labelAt = -1;
  let x = new Float32Array(0);
  let truths: number[] = [];
  /** The line of each row of the chunk being filled. */
  let lines: number[] = [];

  const takeHeader = (cells: string[]) => {
    header = cells.map((name, i) => (i === 0 ? name.replace(/^\uFEFF/, '') : name).trim());
    labelAt = header.indexOf(labelColumn);
    if (labelAt < 0) throw new LabelColumnError(labelColumn, header);
    const plan = csvColumns(manifest, header);
    if (!plan) throw new Error(`${manifest.name}: no columnar CSV path for this input kind`);
    if ('missing' in plan) throw new BadRequestError(`line 2: missing column(s) ${plan.missing.join(', ')}; the data set has columns ${namesListed(header)}`);
    columns = plan;
    x = new Float32Array(batchRows * plan.width);
  };
  const flush = (plan: NonNullable<typeof columns>): LabelledChunk => {
    const rows = truths.length;
    const chunkLines = lines;
    const chunk: LabelledChunk = {
      input: { kind: 'tensors', tensors: [{ name: plan.inputName, dtype: 'float32', shape: [rows, plan.width], data: x.subarray(0, rows * plan.width) }] },
      truths,
      place: (i) => `line ${chunkLines[i]}`,
    };
    x = new Float32Array(batchRows * plan.width);
    truths = [];
    lines = [];
    return chunk;
  };

  let rows = 0;
  for await (const { records } of csvRecordBatches(stream, batchRows)) {
    for (const { cells: raw, line } of records) {
      const cells = raw.map((cell) => cell.trim());
      if (!header || !columns) {
        takeHeader(cells);
        continue;
      }
      if (cells.length !== header.length) throw new BadRequestError(`the CSV is malformed near line ${line}: ${cells.length} fields where the header has ${header.length}`);
      const problem = columns.encode(cells, x, truths.length * columns.width);
      // Named by its line, as the row path names it: its index in the chunk would move with MAX_BATCH.
      if (problem) throw new BadRequestError(`line ${line}: ${problem}`);
      truths.push(truthOf(manifest, csvNumber(cells[labelAt]), `line ${line}, ${labelColumn}`));
      lines.push(line);
      rows += 1;
      if (truths.length >= batchRows) yield flush(columns);
    }
  }
  if (!columns || rows === 0) throw new BadRequestError('the data set has no rows');
  if (truths.length > 0) yield flush(columns);
}
