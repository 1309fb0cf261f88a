/**
 * Labelled data for training, as tensors: the instances go through the model's input transforms
 * (as in predict), the labels become one-hot rows (classification), probabilities (binary) or
 * values (regression). Held in memory: fine-tuning data is expected to fit in the function.
 */
import * as tf from '@tensorflow/tfjs-core';
import { BadRequestError } from '../../errors.js';
import type { LoadedModel } from '../../loader/index.js';
import type { Manifest } from '../../registry/index.js';
import type { ObjectStore } from '../../store/index.js';
import { type EncodeBudget, inputFromValues, inputTensors } from '../../inputs/encode.js';
import { sha256Hex } from '../../registry/index.js';
import { shuffled, uniform } from '../../random.js';
import { checkFiniteOutput } from '../../protocol/answers.js';
import type { RunLimits } from '../../runtime/memory.js';
import { checkInput, runModel } from '../runModel.js';
import { datasetKey, formatOf, readDataset } from '../evaluate/dataset.js';
import { classNames, exampleFromRow, truthOf, type Example } from '../evaluate/examples.js';
import { DEFAULT_LABEL_COLUMN, type LabelledSource } from '../labelledData.js';
import { checkOneValuePerExample } from '../regressionOutput.js';

export interface LabelledData {
  x: Float32Array;
  rowShape: number[];
  truths: number[];
  /** sha256 of the data as received (the file's bytes or the inline JSON): recorded as lineage. */
  sha256: string;
}

async function examplesOf(store: ObjectStore, manifest: Manifest, source: LabelledSource, where: string): Promise<{ examples: Example[]; sha256: string; where: string }> {
  if (source.dataset === undefined) {
    const { instances, labels } = source;
    const examples = instances.map((instance, i) => ({ instance, truth: truthOf(manifest, labels[i], `${where}labels[${i}]`) }));
    return { examples, sha256: sha256Hex(JSON.stringify({ instances, labels })), where: `${where}instances` };
  }
  const key = datasetKey(store, source.dataset);
  const examples: Example[] = [];
  let columns: string[] = [];
  try {
    for await (const row of readDataset(store, key, formatOf(key, source.format))) {
      if (columns.length === 0) columns = Object.keys(row.values);
      examples.push(exampleFromRow(manifest, row, source.labelColumn ?? DEFAULT_LABEL_COLUMN, () => columns));
    }
  } catch (error) {
    // The validation set's rows are named as its own: "line 1" alone read as the training file's.
    if (where === '' || !(error instanceof BadRequestError)) throw error;
    throw new BadRequestError(`${where}dataset ${key}: ${error.message}`);
  }
  if (examples.length === 0) throw new BadRequestError(`data set ${key} has no rows`);
  return { examples, sha256: sha256Hex(await store.get(key)), where: where === '' ? `data set ${key}` : `${where}dataset ${key}` };
}

/** Fine-tuning feeds one tensor, and a regression model's label is one value (regressionOutput.ts); the API refuses other models at submit, the worker again (the same words). */
export function checkOneInput(manifest: Manifest): void {
  if (manifest.signature.inputs.length !== 1) throw new BadRequestError(`fine-tuning supports models with one input; ${manifest.name} takes ${manifest.signature.inputs.length}`);
  checkOneValuePerExample(manifest, 'fine-tuning', 'refuse');
}

/** The base model to run the rows through, and the limits to run it in. */
export interface BaseRun {
  loaded: LoadedModel;
  limits: RunLimits;
}

/**
 * Inputs exactly as predict feeds them (natural instances through the transforms) and checked as
 * predict checks them (runModel's checkInput): rows of the wrong shape are a 400 naming it, never
 * TF.js's error from inside training. The API runs this on inline data at submit. `placeOf` names
 * a row in messages: its index among `where`'s, or a data file's line. With `base`, the base
 * model's outputs for the rows are checked as predict and evaluate check them: a row it overflows
 * on (finite values near float32's limit give NaN) is a 422 naming it. Trained on, its loss was
 * NaN from the first step, and the job failed advising a smaller learningRate, which no rate helps.
 */
export async function trainingRows(
  manifest: Manifest,
  instances: unknown[],
  where: string,
  budget: EncodeBudget,
  { placeOf = (index: number) => `${where}[${index}]`, base }: { placeOf?: (index: number) => string; base?: BaseRun } = {},
): Promise<{ x: Float32Array; rowShape: number[] }> {
  checkOneInput(manifest);
  const [tensor] = await inputTensors(manifest, inputFromValues(manifest, instances, where, placeOf), budget);
  try {
    checkInput(manifest.signature.inputs[0], tensor);
  } catch (error) {
    throw error instanceof BadRequestError ? new BadRequestError(`${where}: ${error.message}`) : error;
  }
  if (base) {
    const [output] = await runModel(base.loaded, [tensor], base.limits);
    checkFiniteOutput(output, placeOf);
  }
  return { x: Float32Array.from(tensor.data as ArrayLike<number>), rowShape: tensor.shape.slice(1) };
}

/**
 * `where` prefixes the names of inline fields in messages: '' for the training data, 'validation.' for its own.
 * `base`: the model the rows are checked on (trainingRows), for the data it is about to be trained on.
 */
export async function loadLabelledData(
  store: ObjectStore,
  { manifest }: Pick<LoadedModel, 'manifest'>,
  source: LabelledSource,
  budget: EncodeBudget,
  where = '',
  base?: BaseRun,
): Promise<LabelledData> {
  const { examples, sha256, where: origin } = await examplesOf(store, manifest, source, where);
  // A data file's row is named by its line, as evaluate names it (exampleFromRow's place); an inline one by its index.
  const rows = await trainingRows(
    manifest,
    examples.map((e) => e.instance),
    origin,
    budget,
    { placeOf: (i) => examples[i].place ?? `${origin}[${i}]`, base },
  );
  return { ...rows, truths: examples.map((e) => e.truth), sha256 };
}

/** The training target for each row, shaped like the model's output; `task`: what the model trains as (loss.ts trainingTask). */
export function targetsOf(manifest: Manifest, truths: number[], task = manifest.task): tf.Tensor {
  if (task === 'regression') return tf.tensor2d(truths, [truths.length, 1]);
  if (task === 'binary') return tf.tensor2d(truths, [truths.length, 1]);
  return tf.tidy(() => tf.cast(tf.oneHot(tf.tensor1d(truths, 'int32'), classNames(manifest).length), 'float32'));
}

/** How many of `count` rows a validation split of `fraction` holds out (at least one). */
export const heldOutCount = (count: number, fraction: number): number => Math.max(1, Math.round(count * fraction));

/** Seeded split of row indices into training and validation. */
export function splitRows(count: number, fraction: number, seed: number): { train: number[]; validation: number[] } {
  const order = shuffled(
    Array.from({ length: count }, (_, i) => i),
    uniform(seed),
  );
  const validationCount = heldOutCount(count, fraction);
  if (validationCount >= count) throw new BadRequestError(`${count} rows are too few to hold out ${fraction} for validation`);
  return { validation: order.slice(0, validationCount), train: order.slice(validationCount) };
}

/**
 * The order of `count` training rows in an epoch: a different, repeatable one every epoch. The
 * generator's state is 32 bits (uniform), and the seed is taken modulo 2^32 first, as splitRows
 * takes it: a larger seed (a timestamp) times 9973 passes 2^53, where adding the epoch was lost
 * to rounding and epochs repeated one order.
 */
export function epochOrder(count: number, seed: number, epoch: number): number[] {
  return shuffled(
    Array.from({ length: count }, (_, i) => i),
    uniform((seed >>> 0) * 9973 + epoch),
  );
}

export function pick(data: LabelledData, rows: number[]): LabelledData {
  const width = data.rowShape.reduce((a, b) => a * b, 1);
  const x = new Float32Array(rows.length * width);
  for (const [i, r] of rows.entries()) x.set(data.x.subarray(r * width, (r + 1) * width), i * width);
  return { x, rowShape: data.rowShape, truths: rows.map((r) => data.truths[r]), sha256: data.sha256 };
}
