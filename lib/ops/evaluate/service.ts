/** Evaluate from a request: build the examples (inline or streamed), run, optionally save. */
import { BadRequestError, ConflictError } from '../../errors.js';
import type { LoadedModel } from '../../loader/index.js';
import type { RunLimits } from '../../runtime/memory.js';
import { keys, type Manifest } from '../../registry/index.js';
import { getJson, putNew, type ObjectStore } from '../../store/index.js';
import { datasetKey, formatOf, readDataset } from './dataset.js';
import { canReadColumns } from '../../inputs/encode.js';
import { recordLimit, recordRoom } from '../../inputs/recordRoom.js';
import { oneRowNeed } from '../runModel.js';
import { DEFAULT_LABEL_COLUMN } from '../labelledData.js';
import { lastDimension } from '../../tensors/data.js';
import { csvColumnChunks } from './columnar.js';
import { evaluateChunks, evaluateModel, type EvaluateOptions, type Evaluation } from './evaluate.js';
import { exampleFromRow, inlineExamples, type Example } from './examples.js';
import type { EvaluateRequest } from './request.js';
import { thinCurve } from './roc.js';
import { checkOneValuePerExample } from '../regressionOutput.js';

/** How a caller names the two options in its messages: the body's fields, or modelctl's flags. */
export interface OptionNames {
  topK: string;
  threshold: string;
}

/**
 * Options of another task would be ignored without a word (the accumulator reads threshold for a
 * binary model only, topK for a multiclass one only): refused, as explain refuses another method's
 * parameters.
 */
export function checkEvaluateOptions(
  manifest: Manifest,
  request: Pick<EvaluateRequest, 'topK' | 'threshold'>,
  names: OptionNames = { topK: 'topK', threshold: 'threshold' },
): void {
  if (request.threshold !== undefined && manifest.task !== 'binary') {
    throw new BadRequestError(
      `${names.threshold}: ${manifest.name} is a ${manifest.task} model; a threshold applies to binary models only (the positive class is predicted when its probability is above it)`,
    );
  }
  if (request.topK !== undefined && manifest.task !== 'classification') {
    throw new BadRequestError(`${names.topK}: ${manifest.name} is a ${manifest.task} model; top-k accuracy applies to multiclass models only`);
  }
  // Of k at least the classes, every row's truth is among its top k: an accuracy of 1 that says nothing (scikit-learn warns so).
  const classes = request.topK !== undefined && manifest.task === 'classification' ? (manifest.labels?.length ?? lastDimension(manifest.signature.outputs[0].shape)) : 0;
  if (request.topK !== undefined && classes > 0 && request.topK >= classes) {
    throw new BadRequestError(
      `${names.topK}: ${manifest.name} has ${classes} classes, so its top-${request.topK} accuracy would be 1 whatever it predicts: ask for fewer than ${classes}`,
    );
  }
  checkOneValuePerExample(manifest, 'evaluate', 'allow');
}

async function* datasetExamples(store: ObjectStore, loaded: LoadedModel, key: string, request: EvaluateRequest, limits: RunLimits): AsyncGenerator<Example> {
  let columns: string[] = [];
  const reserved = () => oneRowNeed(loaded, limits.budget);
  const rows = readDataset(store, key, formatOf(key, request.format), () => recordRoom(limits.budget, reserved()), recordLimit(limits.budget, reserved()));
  for await (const row of rows) {
    if (columns.length === 0) columns = Object.keys(row.values);
    yield exampleFromRow(loaded.manifest, row, request.labelColumn ?? DEFAULT_LABEL_COLUMN, () => columns);
  }
  if (columns.length === 0) throw new BadRequestError(`data set ${key} has no rows`);
}

export async function runEvaluation(
  store: ObjectStore,
  loaded: LoadedModel,
  request: EvaluateRequest,
  limits: RunLimits,
  /**
   * A job's: its progress record, the signal that stops the evaluation (then nothing is saved), and
   * its id, which names the evaluation (saveOnce).
   */
  { onProgress, signal, jobId }: Pick<EvaluateOptions, 'onProgress' | 'signal'> & { jobId?: string } = {},
  /** Where the data set is read from: the model store for the API; any folder or bucket for the CLI. */
  dataStore: ObjectStore = store,
): Promise<Evaluation> {
  checkEvaluateOptions(loaded.manifest, request);
  const options = { limits, topK: request.topK, threshold: request.threshold, onProgress, signal };
  let evaluation: Evaluation;
  if (request.dataset === undefined) evaluation = await evaluateModel(loaded, inlineExamples(loaded.manifest, request), 'inline', options);
  else {
    const source = datasetKey(dataStore, request.dataset);
    if (formatOf(source, request.format) === 'csv' && canReadColumns(loaded.manifest)) {
      // Tabular CSV: cells straight into model inputs, no object per row (columnar.ts).
      const stream = await dataStore.getStream(source);
      try {
        evaluation = await evaluateChunks(loaded, csvColumnChunks(stream, loaded.manifest, request.labelColumn ?? DEFAULT_LABEL_COLUMN, limits.maxBatch), source, options);
      } finally {
        stream.destroy();
      }
    } else evaluation = await evaluateModel(loaded, datasetExamples(dataStore, loaded, source, request, limits), source, options);
  }
  if ('rocCurves' in evaluation.report && evaluation.report.rocCurves) {
    evaluation.report.rocCurves = evaluation.report.rocCurves.map((c) => ({ ...c, points: thinCurve(c.points) }));
  }
  if (jobId !== undefined) evaluation.id = jobId;
  if (!request.save) return evaluation;
  signal?.throwIfAborted();
  return saveOnce(store, evaluation, jobId !== undefined);
}

/**
 * Saves the evaluation next to its version, never inside its manifest (versions stay immutable),
 * create-only. A job's is saved under the job's id (`ofJob`): two attempts of one job that both
 * finish (one taken over without learning it: its store could not reach the job record) write the
 * same key, so one saves it and the other answers with the one saved, instead of two side by side;
 * so do two sends under one Idempotency-Key (keyedSave.ts).
 */
export async function saveOnce(store: ObjectStore, evaluation: Evaluation, ofJob: boolean): Promise<Evaluation> {
  const key = keys.evaluation(evaluation.model.name, evaluation.model.version, evaluation.id);
  try {
    // Create-only; a retry of this very write after its answer was lost is not a conflict (putNew).
    await putNew(store, key, JSON.stringify(evaluation), { contentType: 'application/json' });
    return evaluation;
  } catch (error) {
    if (!ofJob || !(error instanceof ConflictError)) throw error;
    return getJson<Evaluation>(store, key);
  }
}
