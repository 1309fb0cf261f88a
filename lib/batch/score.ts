/**
 * Scores one micro-batch of rows. A bad row must not sink the batch: when the batch as a whole
 * is refused, each row is checked alone, the bad ones are reported with their reason, and the
 * good ones are scored together.
 */
import { BadRequestError } from '../errors.js';
import type { LoadedModel } from '../loader/index.js';
import type { RunLimits } from '../runtime/memory.js';
import { type EncodeBudget, inputFromValues, inputTensors, instanceFromCsv, instanceFromRecord } from '../inputs/encode.js';
import { predict } from '../ops/predict.js';
import { NON_FINITE_OUTPUT, nonFiniteRows, toAnswers, type Answer } from '../protocol/answers.js';
import type { BatchRow } from '../inputs/jsonLines.js';

export interface RowResult {
  row: BatchRow;
  answer?: Answer;
  error?: string;
}

/** The row's problem without the request-path prefix (the error file gives the line instead). */
function reason(error: unknown): string {
  // "instances[0]: expected ..." -> "expected ...", "instances[0].b64: ..." -> "b64: ...".
  return error instanceof BadRequestError ? error.message.replace(/^instances(\[0\])?(:\s*|\.)?/, '') : 'could not be scored';
}

/** Each row's answer, or why it has none. */
type Outcome = Pick<RowResult, 'answer' | 'error'>;

async function run(loaded: LoadedModel, instances: unknown[], limits: RunLimits): Promise<Outcome[]> {
  const [output] = await predict(loaded, inputFromValues(loaded.manifest, instances), limits);
  const overflowed = new Set(nonFiniteRows(output));
  return toAnswers(loaded.manifest, output).map((answer, i) => (overflowed.has(i) ? { error: NON_FINITE_OUTPUT } : { answer }));
}

async function instanceProblem(loaded: LoadedModel, instance: unknown, budget: EncodeBudget): Promise<string | undefined> {
  try {
    await inputTensors(loaded.manifest, inputFromValues(loaded.manifest, [instance]), budget);
    return undefined;
  } catch (error) {
    return reason(error);
  }
}

/** What is wrong with one CSV record for this model, in the words the error file uses; undefined when nothing is. */
export function csvRecordProblem(loaded: LoadedModel, values: Record<string, unknown>, budget: EncodeBudget): Promise<string | undefined> {
  return instanceProblem(loaded, instanceFromCsv(loaded.manifest, values), budget);
}

export async function scoreRows(loaded: LoadedModel, rows: BatchRow[], fromCsv: boolean, limits: RunLimits): Promise<RowResult[]> {
  const instances = rows.map((row) => (fromCsv ? instanceFromCsv : instanceFromRecord)(loaded.manifest, row.values));
  try {
    const outcomes = await run(loaded, instances, limits);
    return rows.map((row, i) => ({ row, ...outcomes[i] }));
  } catch (error) {
    if (!(error instanceof BadRequestError)) throw error;
  }
  // Find the rows the model refuses, one by one (decoding only: no model call per row).
  const results: RowResult[] = rows.map((row) => ({ row }));
  const good: number[] = [];
  for (const [i, instance] of instances.entries()) {
    const problem = await instanceProblem(loaded, instance, limits.budget);
    if (problem === undefined) good.push(i);
    else results[i].error = problem;
  }
  if (good.length > 0) {
    try {
      const outcomes = await run(
        loaded,
        good.map((i) => instances[i]),
        limits,
      );
      for (const [j, i] of good.entries()) Object.assign(results[i], outcomes[j]);
    } catch (error) {
      if (!(error instanceof BadRequestError)) throw error;
      // Rows that decode alone but not together (e.g. mixed raw/natural): score them one by one.
      for (const i of good) {
        try {
          Object.assign(results[i], (await run(loaded, [instances[i]], limits))[0]);
        } catch (inner) {
          results[i].error = reason(inner);
        }
      }
    }
  }
  return results;
}
