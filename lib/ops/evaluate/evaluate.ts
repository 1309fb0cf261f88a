/**
 * The evaluate service: labelled examples (inline or streamed from a data set) go through the
 * same decode and predict path as a predict request, chunk by chunk, into streaming metrics.
 */
import { randomUUID } from 'node:crypto';
import { BadRequestError } from '../../errors.js';
import type { LoadedModel } from '../../loader/index.js';
import type { RunLimits } from '../../runtime/memory.js';
import type { Manifest } from '../../registry/index.js';
import { predict } from '../predict.js';
import { chunkPassNeed, oneRowNeed } from '../runModel.js';
import { checkFiniteOutput } from '../../protocol/answers.js';
import { asProbabilities } from '../../protocol/probabilities.js';
import { DatasetInputs, instancesPerChunk, type ModelInput } from '../../inputs/encode.js';
import { elementCount, type TensorData } from '../../tensors/data.js';
import { ClassificationAccumulator, type ClassificationReport } from './classification.js';
import { classNames, type Example } from './examples.js';
import { RegressionAccumulator, type RegressionReport } from './regression.js';
import { CURVE_POINTS } from './roc.js';
import { checkNextChunkFits } from '../../runtime/timeLimit.js';
import { recordRoom } from '../../inputs/recordRoom.js';
import { checkRegressionRow } from '../regressionOutput.js';

export interface EvaluateOptions {
  /** Rows read per chunk is limits.maxBatch; the model runs them within limits.budget. */
  limits: RunLimits;
  topK?: number;
  threshold?: number;
  /** Called after each chunk with the rows evaluated so far. */
  onProgress?: (rows: number) => Promise<void> | void;
  /** Aborted (a job's: taken over, or at its deadline): the evaluation stops before its next chunk, throwing the reason. */
  signal?: AbortSignal;
}

export interface Evaluation {
  id: string;
  model: { name: string; version: number };
  task: Manifest['task'];
  source: string;
  count: number;
  /** The headline numbers, named as in the manifest's held-out metrics. */
  metrics: Record<string, number>;
  report: ClassificationReport | RegressionReport;
  createdAt: string;
  durationMs: number;
}

export type Accumulator = { kind: 'classes'; acc: ClassificationAccumulator } | { kind: 'regression'; acc: RegressionAccumulator };

export function accumulatorFor(manifest: Manifest, options: EvaluateOptions): Accumulator {
  if (manifest.task === 'regression') return { kind: 'regression', acc: new RegressionAccumulator() };
  const binary = manifest.task === 'binary';
  // Curves thinned as they are read (runEvaluation keeps CURVE_POINTS of each): a point per distinct score would be a point per row.
  const acc = new ClassificationAccumulator(classNames(manifest), { binary, threshold: options.threshold, topK: binary ? undefined : options.topK, curvePoints: CURVE_POINTS });
  return { kind: 'classes', acc };
}

/** Rows to evaluate: their model input (natural instances or tensors) and their labels' indices or values. */
export interface LabelledChunk {
  input: ModelInput;
  truths: number[];
  /** How a message names row i of the chunk: its line in the data set, or its place among inline instances. */
  place: (i: number) => string;
}

/**
 * Examples, one at a time, as chunks of at most MAX_BATCH rows and of no more natural instances
 * than fit the budget once encoded, with the forward pass of all of them after them (runModel.ts's
 * chunkPassNeed, asked again for each chunk: the pass's cost is measured on the first): a chunk is
 * encoded at once, and MAX_BATCH rows of a large input would be a 413 for rows that fit a few at a
 * time; and rows that fill the budget, their pass run a few at a time in what they leave, took a
 * 256 MB function past its memory (runModel.ts says how). A chunk of a
 * data set also ends before its records' bytes pass their share of the budget (inputs/recordRoom.ts):
 * its records are all held until it is encoded, and 35 photos of 9 MB were more than the function
 * had. It takes one record at least: one too large is judged alone, by the encoding checks. Every row must
 * be of the first row's form (DatasetInputs): a row that is not ends the rows with a 400 naming it,
 * once the rows before it have run, so the row named is the first bad one wherever the chunks fall.
 */
async function* chunksOf(loaded: LoadedModel, examples: AsyncIterable<Example> | Iterable<Example>, limits: RunLimits): AsyncGenerator<LabelledChunk> {
  const { manifest } = loaded;
  const chunkSize = () => instancesPerChunk(manifest, limits.budget, limits.maxBatch, chunkPassNeed(loaded, limits.budget));
  let size = chunkSize();
  let room = recordRoom(limits.budget, oneRowNeed(loaded, limits.budget));
  // The bytes of the chunk's records (inline instances count none: the request holds them anyway).
  let held = 0;
  const dataset = new DatasetInputs(manifest);
  let chunk: Example[] = [];
  // Rows before this chunk: a message names an inline row by its index among all of them.
  let before = 0;
  function* flush(): Generator<LabelledChunk> {
    const rows = chunk;
    const first = before;
    const place = (i: number) => rows[i].place ?? `instances[${first + i}]`;
    const values = rows.map((e) => e.instance);
    const { input, rows: count, refused } = dataset.next(values, place);
    before += rows.length;
    chunk = [];
    held = 0;
    if (input) yield { input, truths: rows.slice(0, count).map((e) => e.truth), place };
    if (refused) throw refused;
  }
  const next = () => {
    size = chunkSize();
    room = recordRoom(limits.budget, oneRowNeed(loaded, limits.budget));
  };
  try {
    for await (const example of examples) {
      const bytes = example.bytes ?? 0;
      if (chunk.length > 0 && held + bytes > room) {
        yield* flush();
        next();
      }
      chunk.push(example);
      held += bytes;
      if (chunk.length >= size) {
        yield* flush();
        next();
      }
    }
  } catch (error) {
    // A row the data set cannot give (a line that is not JSON) comes after the chunk's rows: they run
    // first, so a bad row among them is the one named (line 10's JSON was named before line 6's image).
    if (!(error instanceof BadRequestError) || chunk.length === 0) throw error;
    yield* flush();
    throw error;
  }
  if (chunk.length > 0) yield* flush();
}

/** A chunk's model output (one row per truth) into the metrics. */
export function addOutputs(manifest: Manifest, accumulator: Accumulator, truths: number[], output: TensorData): void {
  const size = elementCount(output.shape.slice(1));
  // Metrics read probabilities (log loss, AUC, the binary threshold), whatever the output holds.
  const data = asProbabilities(manifest, output).data as ArrayLike<number>;
  if (accumulator.kind === 'regression') {
    checkRegressionRow(manifest, size);
    const predictions: number[] = [];
    for (let r = 0; r < truths.length; r += 1) predictions.push(data[r]);
    accumulator.acc.add(truths, predictions);
  } else if (manifest.task === 'binary' && size === 1) {
    // A one-unit sigmoid: [P(negative), P(positive)].
    const rows: number[][] = [];
    for (let r = 0; r < truths.length; r += 1) rows.push([1 - data[r], data[r]]);
    accumulator.acc.add(truths, rows);
  } else {
    accumulator.acc.addFlat(truths, data, size);
  }
}

/** The headline numbers of a report, named as in the manifest's held-out metrics. */
export function headline(manifest: Manifest, report: ClassificationReport | RegressionReport): Record<string, number> {
  if (!('accuracy' in report)) {
    const { mse, rmse, mae, r2, maxError } = report;
    return { mse, rmse, mae, ...(r2 !== undefined ? { r2 } : {}), maxError };
  }
  const positive = manifest.task === 'binary' ? report.perClass[1] : undefined;
  const summary = positive ?? { ...report.macro };
  return {
    accuracy: report.accuracy,
    logLoss: report.logLoss,
    ...(report.rocAuc !== undefined ? { auc: report.rocAuc } : {}),
    precision: summary.precision,
    recall: summary.recall,
    f1: summary.f1,
    ...(report.topK ? { [`top${report.topK.k}Accuracy`]: report.topK.accuracy } : {}),
  };
}

export async function evaluateModel(loaded: LoadedModel, examples: AsyncIterable<Example> | Iterable<Example>, source: string, options: EvaluateOptions): Promise<Evaluation> {
  return evaluateChunks(loaded, chunksOf(loaded, examples, options.limits), source, options);
}

/** Chunks of labelled rows through the predict path into streaming metrics. */
export async function evaluateChunks(loaded: LoadedModel, chunks: AsyncIterable<LabelledChunk>, source: string, options: EvaluateOptions): Promise<Evaluation> {
  const started = performance.now();
  const accumulator = accumulatorFor(loaded.manifest, options);
  let rows = 0;
  // A chunk is read (and decoded) before it is yielded: its time runs from the end of the one before.
  let chunkStarted = started;
  let lastChunkMs: number | undefined;
  for await (const chunk of chunks) {
    options.signal?.throwIfAborted(); // a chunk is plain data: nothing to free
    if (lastChunkMs !== undefined) {
      checkNextChunkFits(
        options.limits.time,
        lastChunkMs,
        `evaluate: ${rows} rows evaluated in ${((performance.now() - started) / 1000).toFixed(1)} s, and more to come`,
        "evaluate it as a job (POST .../evaluations?async=true, which has the job worker's 15 minutes) or with modelctl evaluate",
      );
    }
    // Timed here, between chunks (a data set's length is not known ahead), with a 413 that says to
    // run it as a job; not again inside the chunk, as a predict request is.
    const [output] = await predict(loaded, chunk.input, { ...options.limits, time: undefined });
    // Metrics over NaN scores would count an arbitrary class; the row is named as the data names it.
    checkFiniteOutput(output, chunk.place);
    addOutputs(loaded.manifest, accumulator, chunk.truths, output);
    rows += chunk.truths.length;
    await options.onProgress?.(rows);
    const now = performance.now();
    lastChunkMs = now - chunkStarted;
    chunkStarted = now;
  }
  const report = accumulator.acc.report();
  return {
    id: randomUUID(),
    model: { name: loaded.name, version: loaded.version },
    task: loaded.manifest.task,
    source,
    count: report.count,
    metrics: headline(loaded.manifest, report),
    report,
    createdAt: new Date().toISOString(),
    durationMs: Math.round(performance.now() - started),
  };
}
