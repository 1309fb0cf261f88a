/**
 * What one training step of fit() takes in tensor bytes, measured on the model itself, as a
 * function of the batch size: its fixed part (the trained weights' gradients, the optimizer's
 * slots and the temporaries of its update, none of which grow with the batch) apart from its part
 * per row (the batch's rows and labels, the activations the backward pass keeps, their gradients).
 *
 * How: the step (forward and backward pass in training mode, then the optimizer's update) runs
 * under a kernel profile on 1 row and on 2; every kernel's snapshot of the bytes alive is, at batch size
 * b, exactly fixed + perRow * b (each tensor's size either grows with the batch or does not), so
 * the two runs give each kernel's line and the step's peak at any batch size is the highest line
 * there. One line for the whole step would not do: the update's peak is mostly fixed and the
 * backward pass's mostly per row, so a line through the two runs' peaks bends the wrong way.
 *
 * Batch normalization layers that are not trained run in inference mode, as in fit()
 * (batchNorm.ts). Nothing of the model changes: the update is applied to stand-in variables that
 * share the weights' data, and what training mode moves (trained batch normalization layers'
 * statistics) is put back in the same synchronous block, before any other request's code can run.
 *
 * The whole measurement is synchronous (profileKernelsSync, no await from the first byte count to
 * the last): the figures are differences of the engine's bytes alive, which count every request's
 * tensors, so under serverless offline another request's tensors allocated or freed across an
 * await (or its kernels, recorded by a tf.profile left open across one) moved the figure remembered
 * for the model, by megabytes.
 */
import * as tf from '@tensorflow/tfjs-core';
import { type LayersModel, metrics } from '@tensorflow/tfjs-layers';
import { BadRequestError } from '../../errors.js';
import type { Manifest } from '../../registry/index.js';
import { profileKernelsSync } from '../../runtime/memory.js';
import { frozenBatchNormInInference } from './batchNorm.js';
import type { FineTuneConfig } from './request.js';

type Fn = (yTrue: tf.Tensor, yPred: tf.Tensor) => tf.Tensor;
/** The loss and the metric fit() computes in each step, by task, as train.ts compiles the model: their temporaries are per row too. */
const STEP_FUNCTIONS: Record<Manifest['task'], [Fn, Fn]> = {
  classification: [metrics.categoricalCrossentropy, metrics.categoricalAccuracy],
  binary: [metrics.binaryCrossentropy, metrics.binaryAccuracy],
  regression: [metrics.meanSquaredError, metrics.meanSquaredError],
};

/** The bytes alive at one point of the step, at batch size b: fixed + perRow * b. */
export interface CostLine {
  fixed: number;
  perRow: number;
}

/** The lines that can be the highest at some batch size (no other line is higher in both parts). */
export type StepCost = CostLine[];

/** The step's peak bytes at `batchSize`, and the line that sets it. */
export function peakAt(cost: StepCost, batchSize: number): { bytes: number; line: CostLine } {
  let top = cost[0] as CostLine;
  for (const line of cost) if (line.fixed + line.perRow * batchSize > top.fixed + top.perRow * batchSize) top = line;
  return { bytes: top.fixed + top.perRow * batchSize, line: top };
}

/** The largest batch size whose step fits in `room` bytes (0 when not even one row does). */
export function largestBatch(cost: StepCost, room: number): number {
  let largest = Number.POSITIVE_INFINITY;
  for (const { fixed, perRow } of cost) {
    if (fixed > room) return 0;
    if (perRow > 0) largest = Math.min(largest, Math.floor((room - fixed) / perRow));
  }
  return Math.max(0, largest);
}

/** Keeps the lines that are highest at some batch size >= 1. */
function envelope(lines: CostLine[]): StepCost {
  const sorted = [...lines].sort((a, b) => b.fixed - a.fixed || b.perRow - a.perRow);
  const kept: CostLine[] = [];
  let steepest = Number.NEGATIVE_INFINITY;
  for (const line of sorted) {
    if (line.perRow > steepest) {
      kept.push(line);
      steepest = line.perRow;
    }
  }
  return kept;
}

/** One kernel's line from its snapshots at 1 row and at 2; the two runs must have run the same kernels. */
function linesOf(one: number[], two: number[]): CostLine[] | undefined {
  if (one.length !== two.length) return undefined;
  return one.map((bytes, i) => ({ perRow: Math.max(0, (two[i] as number) - bytes), fixed: Math.min(bytes, 2 * bytes - (two[i] as number)) }));
}

function optimizerOf(name: FineTuneConfig['optimizer']): tf.Optimizer {
  // The learning rate does not change what the update allocates.
  if (name === 'sgd') return tf.train.sgd(0.01);
  if (name === 'rmsprop') return tf.train.rmsprop(0.01);
  return tf.train.adam(0.01);
}

/** What decides a step's kernels besides the model: the loss and metric (by task), the optimizer, the layers trained. */
export interface StepKind {
  task: Manifest['task'];
  optimizer: FineTuneConfig['optimizer'];
  /** The trained layers' names: the other batch normalization layers run in inference mode. */
  trainedLayers: string[];
}

const bytesOf = (t: { shape: readonly number[] }) => t.shape.reduce((a, b) => a * b, 1) * 4;

/**
 * Holds on the model's variables' current data (a variable made from a tensor shares its data: no
 * bytes), so that what training mode writes (batch normalization's moving statistics) can be put back.
 */
function holdWeights(model: LayersModel): { heldBytes: number; restore: () => void } {
  const variables = model.weights.map((w) => w.read() as tf.Variable);
  const held = variables.map((v) => tf.variable(v, false));
  const heldBytes = held.reduce((sum, v) => sum + bytesOf(v), 0);
  const restore = () => {
    variables.forEach((v, i) => {
      const was = held[i] as tf.Variable;
      if (v.dataId !== was.dataId) v.assign(was);
    });
    tf.dispose(held);
  };
  return { heldBytes, restore };
}

/**
 * TF.js's words when no trained weight reaches the loss (trainableLayers that only feed another
 * output than the first, which fine-tune trains): the request's fault, a 400.
 */
function notTrainable(error: unknown): unknown {
  if (error instanceof Error && /Cannot find a connection between any variable and the result of the loss/.test(error.message)) {
    return new BadRequestError("no layer in trainableLayers feeds the output fine-tune trains (the model's first): choose layers it depends on");
  }
  return error;
}

/**
 * The bytes alive after each kernel of one step on `rows` rows, above what was alive before it:
 * the backward pass's with the optimizer's slots added (they are alive in every step after the
 * first), then the update's.
 */
function stepSnapshots(model: LayersModel, trained: tf.Variable[], rowShape: number[], step: StepKind, rows: number): number[] {
  const [loss, metric] = STEP_FUNCTIONS[step.task];
  const outShape = (model.outputs[0]?.shape ?? []).slice(1) as number[];
  // Held before the bytes are counted from, and not counted: the holds are not the step's.
  const { heldBytes, restore } = holdWeights(model);
  const before = tf.memory().numBytes - heldBytes;
  let tensors: tf.Tensor[] = [];
  let grads: tf.NamedTensorMap = {};
  let backward: number[];
  try {
    backward = profileKernelsSync(() => {
      const flags = trained.map((v) => v.trainable);
      // variableGrads skips variables not marked trainable (a layer frozen in the stored model, which a fine-tune may unfreeze).
      for (const v of trained) v.trainable = true;
      const restoreBatchNorm = frozenBatchNormInInference(model, step.trainedLayers);
      try {
        // In a tidy: when the pass throws, what it made so far (rows, labels, the loss) goes with it.
        const kept = tf.tidy(() => {
          // fit() slices each batch's rows and labels out of the data: they are alive throughout the step.
          const x = tf.zeros([rows, ...rowShape]);
          const y = tf.zeros([rows, ...outShape]);
          const step = tf.variableGrads(() => {
            const out = [model.apply(x, { training: true }) as tf.Tensor | tf.Tensor[]].flat()[0] as tf.Tensor;
            tf.mean(metric(y, out));
            return tf.mean(loss(y, out)) as tf.Scalar;
          }, trained);
          return { x, y, value: step.value, grads: step.grads };
        });
        tensors = [kept.x, kept.y, kept.value];
        grads = kept.grads;
      } finally {
        // In the same synchronous block as the pass: no other request sees the moved statistics.
        restore();
        restoreBatchNorm();
        trained.forEach((v, i) => {
          v.trainable = flags[i] as boolean;
        });
      }
    });
  } catch (error) {
    throw notTrainable(error);
  }
  // Stand-ins share the weights' data (no bytes), and take the update in their place.
  const standIns = trained.map((v) => tf.variable(v, false));
  const standInBytes = standIns.reduce((sum, v) => sum + bytesOf(v), 0);
  const updater = optimizerOf(step.optimizer);
  try {
    const beforeUpdate = tf.memory().numBytes;
    const update = profileKernelsSync(() => updater.applyGradients(Object.fromEntries(standIns.map((s, i) => [s.name, grads[(trained[i] as tf.Variable).name] as tf.Tensor]))));
    const slots = tf.memory().numBytes - beforeUpdate;
    return [...backward.map((b) => b - before - heldBytes + slots), ...update.map((b) => b - before - standInBytes)];
  } finally {
    tf.dispose([...tensors, ...Object.values(grads), ...standIns]);
    updater.dispose();
  }
}

/**
 * Measures the step on 1 row and, when `twoRowsFit` says 2 rows' step fits, on 2; with one run
 * only, every byte is counted as per row (an upper bound: no part of a step shrinks with the batch).
 */
export function measureStep(model: LayersModel, trained: tf.Variable[], rowShape: number[], step: StepKind, twoRowsFit: (oneRowPeak: number) => boolean): StepCost {
  const one = stepSnapshots(model, trained, rowShape, step, 1);
  const peak = Math.max(1, ...one);
  const lines = twoRowsFit(peak) ? linesOf(one, stepSnapshots(model, trained, rowShape, step, 2)) : undefined;
  return envelope(lines ?? [{ fixed: 0, perRow: peak }]);
}
