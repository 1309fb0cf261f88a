/**
 * Scores one micro-batch of rows. Each row is judged on its own, never by its neighbours, so what
 * a row gets does not depend on where micro-batches (MAX_BATCH) or a sharded run's ranges fall:
 * its answer when it is a valid natural instance or a valid raw tensor row, else a row error
 * saying what is wrong with it. A micro-batch of both forms is scored as two groups (its natural
 * instances together, its raw rows together), not row by row. A bad row does not sink its group:
 * when the group is refused, each row is checked alone, the bad ones are reported with their
 * reason, and the good ones are scored together. Only a row's own fault (a 400, or a row of a
 * model of any size too large for the function alone) is a row error: anything else (a function
 * too small for even one row, a backend fault) fails the run as it would with any rows beside it.
 */
import { BadRequestError, PayloadTooLargeError } from '../errors.js';
import { InstanceTooLargeError } from '../inputs/budget.js';
import type { LoadedModel } from '../loader/index.js';
import type { RunLimits } from '../runtime/memory.js';
import {
  type EncodeBudget,
  formOf,
  inputFromValues,
  inputTensors,
  instanceFromCsv,
  instanceFromRecord,
  instancesPerChunk,
  missingColumnProblem,
  recordColumnNamed,
} from '../inputs/encode.js';
import { predict } from '../ops/predict.js';
import { checkInputs, chunkPassNeed } from '../ops/runModel.js';
import { NON_FINITE_OUTPUT, nonFiniteRows, toAnswers, type Answer } from '../protocol/answers.js';
import type { BatchRow } from '../inputs/jsonLines.js';
import { sizeIsOpen } from '../inputs/openSize.js';

export interface RowResult {
  row: BatchRow;
  answer?: Answer;
  error?: string;
}

/**
 * A row the model refuses: a bad instance (400), or one that takes more memory to decode than the
 * function has (413, a large photo), which is that row's problem and not the file's.
 */
const isRowProblem = (error: unknown): error is BadRequestError | InstanceTooLargeError => error instanceof BadRequestError || error instanceof InstanceTooLargeError;

/** A chunk refused for the memory its rows take together (not one row too large on its own: isRowProblem). */
const isMemoryRefusal = (error: unknown): boolean => error instanceof PayloadTooLargeError && !(error instanceof InstanceTooLargeError);

/** The row's problem without the request-path prefix (the error file gives the line instead). */
function reason(error: BadRequestError | PayloadTooLargeError): string {
  // "instances[0]: expected ..." -> "expected ...", "instances[0].b64: ..." -> "b64: ...", "instances[0] is neither ..." -> "is neither ...".
  return error.message.replace(/^instances(\[0\])?(:\s*|\.|\s+)?/, '');
}

/** Each row's answer, or why it has none. */
type Outcome = Pick<RowResult, 'answer' | 'error'>;

/**
 * Rows of one form, run through the model; natural instances are encoded a chunk at a time, as many
 * as fit the budget with the forward pass of all of them after them (ops/runModel.ts's chunkPassNeed,
 * as evaluate encodes them), so more rows than fit at once are scored, not refused as a whole for a
 * MAX_BATCH the function cannot encode at once. Not planned as a predict request is (as many rows as
 * fit beside one row's pass, forwardNeed): 134 images of a small convolution model a chunk, their
 * pass run a few rows at a time beside a wasm heap its calls had grown, took a fresh 256 MB function
 * to 244-308 MB on a file of 200 or 400 rows, or failed the run on a chunk refused once its rows were
 * encoded (planned to the last MB, then measured again): 13 runs in 27. Now 3-8 rows a chunk, 215-236 MB.
 *
 * A chunk is planned from a measure, and refused when a measure taken once its rows are encoded
 * says they do not fit after all (what the process holds moved in between: garbage, the wasm
 * heap's fragments). That chunk is then tried again with half as many rows, planned afresh, and
 * so on down to one row: only a row that does not fit alone fails the run, as a function too small
 * for the model. Before, such a chunk failed the whole file.
 */
async function run(loaded: LoadedModel, instances: unknown[], limits: RunLimits): Promise<Outcome[]> {
  const outcomes: Outcome[] = [];
  let most = Number.POSITIVE_INFINITY;
  for (let from = 0; from < instances.length; ) {
    const planned = instancesPerChunk(loaded.manifest, limits.budget, limits.maxBatch, chunkPassNeed(loaded, limits.budget));
    const to = Math.min(instances.length, from + Math.min(planned, most));
    let output: Awaited<ReturnType<typeof predict>>[number];
    try {
      [output] = await predict(loaded, inputFromValues(loaded.manifest, instances.slice(from, to)), limits);
    } catch (error) {
      // A row of a model of any size that does not fit alone is too large itself (a photo), not the
      // function too small for the model: that row's error, the file going on.
      if (isMemoryRefusal(error) && to - from === 1 && sizeIsOpen(loaded.manifest)) {
        outcomes.push({ error: reason(error as PayloadTooLargeError) });
        from = to;
        continue;
      }
      if (!isMemoryRefusal(error) || to - from === 1) throw error;
      most = Math.ceil((to - from) / 2);
      continue;
    }
    const overflowed = new Set(nonFiniteRows(output));
    outcomes.push(...toAnswers(loaded.manifest, output).map((answer, i) => (overflowed.has(i) ? { error: NON_FINITE_OUTPUT } : { answer })));
    from = to;
  }
  return outcomes;
}

/** What is wrong with one instance alone (decoded and checked against the signature, not run), in the error file's words; undefined when nothing is. */
async function instanceProblem(loaded: LoadedModel, instance: unknown, budget: EncodeBudget): Promise<string | undefined> {
  try {
    checkInputs(loaded.manifest.signature.inputs, await inputTensors(loaded.manifest, inputFromValues(loaded.manifest, [instance]), budget));
    return undefined;
  } catch (error) {
    if (!isRowProblem(error)) throw error;
    return reason(error);
  }
}

/** What is wrong with one CSV record for this model, in the words the error file uses; undefined when nothing is. */
export async function csvRecordProblem(loaded: LoadedModel, values: Record<string, unknown>, budget: EncodeBudget): Promise<string | undefined> {
  const problem = await instanceProblem(loaded, instanceFromCsv(loaded.manifest, values), budget);
  return problem === undefined ? undefined : inColumn(recordColumnNamed(loaded.manifest, values), problem);
}

/** Rows of one form: scored together, or when refused, the bad ones found alone and the good ones scored together. */
async function scoreGroup(loaded: LoadedModel, instances: unknown[], limits: RunLimits): Promise<Outcome[]> {
  if (instances.length === 0) return [];
  try {
    return await run(loaded, instances, limits);
  } catch (error) {
    if (!isRowProblem(error)) throw error;
  }
  // Find the rows the model refuses, one by one (decoding and checking only: no model call per row).
  const outcomes: Outcome[] = instances.map(() => ({}));
  const good: number[] = [];
  for (const [i, instance] of instances.entries()) {
    const problem = await instanceProblem(loaded, instance, limits.budget);
    if (problem === undefined) good.push(i);
    else outcomes[i].error = problem;
  }
  if (good.length === 0) return outcomes;
  try {
    const scored = await run(
      loaded,
      good.map((i) => instances[i]),
      limits,
    );
    for (const [j, i] of good.entries()) outcomes[i] = scored[j];
  } catch (error) {
    if (!isRowProblem(error)) throw error;
    // Rows that pass alone but not together (raw rows of two shapes a model of free dimensions takes): one by one.
    for (const i of good) {
      try {
        [outcomes[i]] = await run(loaded, [instances[i]], limits);
      } catch (inner) {
        if (!isRowProblem(inner)) throw inner;
        outcomes[i] = { error: reason(inner) };
      }
    }
  }
  return outcomes;
}

export async function scoreRows(loaded: LoadedModel, rows: BatchRow[], fromCsv: boolean, limits: RunLimits): Promise<RowResult[]> {
  const { manifest } = loaded;
  const instances = rows.map((row) => (fromCsv ? instanceFromCsv : instanceFromRecord)(manifest, row.values));
  const results: RowResult[] = rows.map((row) => ({ row }));
  // Each row in its own form: a group of each, in input order within it, answers put back in the rows' order.
  const groups = { natural: [] as number[], raw: [] as number[], neither: [] as number[] };
  for (const [i, instance] of instances.entries()) {
    // A record in which no column holds the instance (an id beside a column not named image): said so, not "is neither an instance nor a raw row".
    const missing = instance === undefined ? missingColumnProblem(manifest, rows[i].values) : undefined;
    if (missing) results[i].error = missing;
    else groups[formOf(manifest, instance)].push(i);
  }
  for (const i of groups.neither) results[i].error = (await instanceProblem(loaded, instances[i], limits.budget)) ?? 'could not be scored';
  for (const group of [groups.natural, groups.raw]) {
    const outcomes = await scoreGroup(
      loaded,
      group.map((i) => instances[i]),
      limits,
    );
    for (const [j, i] of group.entries()) Object.assign(results[i], outcomes[j]);
  }
  // A row's own problem names the column its instance is in; a missing column's says so already.
  for (const [i, result] of results.entries()) {
    if (result.error === undefined || result.error === NON_FINITE_OUTPUT || instances[i] === undefined) continue;
    result.error = inColumn(recordColumnNamed(manifest, result.row.values), result.error);
  }
  return results;
}

/**
 * A row's problem named by the column its instance is in, when one column holds it ("image: not
 * valid base64", "image.b64: ..." for a nested value), as a tabular row's names its feature.
 */
function inColumn(column: string | undefined, problem: string): string {
  // Already its subject: "image is 2048x2048; decoding it ... takes".
  if (column === undefined || problem.startsWith(`${column} `)) return problem;
  // A path into the value: "[3][4][0]: ..." (a raw row's element) joins the column's name as is.
  if (problem.startsWith('[')) return `${column}${problem}`;
  // A predicate whose subject was the instance: "is neither an instance ... nor a raw tensor row".
  if (problem.startsWith('is ')) return `${column} ${problem}`;
  return /^[\w.[\]]+: /.test(problem) ? `${column}.${problem}` : `${column}: ${problem}`;
}
