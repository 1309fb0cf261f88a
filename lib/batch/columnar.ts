/**
 * Tabular CSV records scored on the columnar path: a batch's cells go straight into one
 * Float32Array of model inputs (inputs/encode.ts csvColumns), with no object per row and no second
 * decode. A row the encoder refuses is reported in the row path's own words (score.ts), so the
 * error file is the same whichever path scored the file.
 */
import type { CsvRecord } from '../inputs/csvRecords.js';
import type { CsvRowEncoder } from '../inputs/encode.js';
import type { LoadedModel } from '../loader/index.js';
import { predict } from '../ops/predict.js';
import { bestAnswers, NON_FINITE_OUTPUT, nonFiniteRows } from '../protocol/answers.js';
import type { RunLimits } from '../runtime/memory.js';
import type { Scored } from './output.js';
import { csvRecordProblem } from './score.js';

export interface ColumnarInput {
  inputName: string;
  width: number;
  encode: CsvRowEncoder;
}

export function recordOf(header: string[], cells: string[]): Record<string, string> {
  return Object.fromEntries(header.map((name, i) => [name, cells[i]]));
}

export async function scoreColumns(loaded: LoadedModel, input: ColumnarInput, header: string[], records: CsvRecord[], limits: RunLimits): Promise<Scored[]> {
  const { inputName, width, encode } = input;
  const x = new Float32Array(records.length * width);
  const results: Scored[] = [];
  const good: Scored[] = [];
  for (const record of records) {
    const scored: Scored = { line: record.line, text: record.text };
    results.push(scored);
    const problem = encode(record.cells, x, good.length * width);
    if (problem === undefined) good.push(scored);
    else scored.error = (await csvRecordProblem(loaded, recordOf(header, record.cells), limits.budget)) ?? problem;
  }
  if (good.length > 0) {
    const tensor = { name: inputName, dtype: 'float32' as const, shape: [good.length, width], data: x.subarray(0, good.length * width) };
    const [output] = await predict(loaded, { kind: 'tensors', tensors: [tensor] }, limits);
    const answers = bestAnswers(loaded.manifest, output);
    for (const [i, scored] of good.entries()) scored.answer = answers[i];
    for (const i of nonFiniteRows(output)) {
      good[i].answer = undefined;
      good[i].error = NON_FINITE_OUTPUT;
    }
  }
  return results;
}
