/**
 * Whether a fine-tune fits the memory budget, checked before anything is trained: when the API
 * accepts the job and again in the worker once the data is read. A request that cannot fit is a
 * 413 naming the figures and the largest batchSize (or data size) that would.
 *
 * What training holds at once: the training rows and the validation rows as tensors (one epoch's
 * shuffled copy and the held-out set, with their labels), and one training step, measured on the
 * model (stepCost.ts): a fixed part (the trained weights' gradients, the optimizer's slots and the
 * temporaries of its update) and a part per row of the batch (the rows, the backward pass's activations).
 */
import type * as tf from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { PayloadTooLargeError } from '../../errors.js';
import type { Manifest } from '../../registry/index.js';
import { size } from '../../bytes.js';
import { MeasuredCosts } from '../../runtime/measuredCosts.js';
import type { MemoryBudget } from '../../runtime/memory.js';
import { activationBytesPerRow } from '../../runtime/tfModel.js';
import type { FineTuneConfig } from './request.js';
import { largestBatch, measureStep, peakAt, type StepCost } from './stepCost.js';

/**
 * Before the step is measured: its peak in the trained weights' worth, all but the batch (Adam and
 * RMSProp: the gradients, two slots and about 14 temporaries of the update, all alive at once in
 * tf.train's update; SGD: the gradients and two temporaries). Measured on a dense model: 16.9, 16.9, 2.9.
 */
const UPDATE_FACTOR: Record<FineTuneConfig['optimizer'], number> = { adam: 17, rmsprop: 17, sgd: 3 };
/**
 * A training step's bytes per row against the summed forward activations, before it is measured:
 * MobileNetV2's measured backward pass to the input is 4.4 times them; 5 is an upper estimate.
 */
const BACKWARD_FACTOR = 5;
/** fit()'s own int32 indices: of every training row (its order) and of each batch's rows (measured: about 4 and 6 bytes). */
const INDEX_BYTES_PER_ROW = 4;
const INDEX_BYTES_PER_BATCH_ROW = 8;

export interface TrainingPlan {
  model: LayersModel;
  /** name:version, for the refusal. */
  name: string;
  task: Manifest['task'];
  config: FineTuneConfig;
  /** The layers trained (their weights get gradients and optimizer state). */
  trainable: string[];
  /** Training rows and validation rows (undefined when not known yet: a data set not read). */
  rows?: number;
  /**
   * The most rows one call of fit() takes whatever batchSize says: the larger of the training and
   * validation sets (fit's validation pass runs in batches of batchSize too), or a count both are
   * known not to exceed (a data set counted as far as the batch size). Undefined: not known.
   */
  rowsAtMost?: number;
  /**
   * Counts a data set not read yet, as far as `most`, into rowsAtMost: asked only when the batch
   * size does not fit, as fewer rows than it run in smaller calls (a 4-row data set was refused).
   */
  countRowsAtMost?: (most: number) => Promise<number>;
  /** Bytes of one input row. */
  rowBytes: number;
  budget: MemoryBudget;
}

/** Steps measured, by model, row shape, task, optimizer and trained layers (the most recently used: measuredCosts.ts). */
const measured = new MeasuredCosts<StepCost>();

/**
 * The trained layers as a set (sorted, each once): the request lists them, in any order and as
 * often as it likes, and a key as long as its list kept the request's size for as long as the model.
 */
const keyOf = (plan: TrainingPlan, rowShape: number[]) => [rowShape.join('x'), plan.task, plan.config.optimizer, ...[...new Set(plan.trainable)].sort()].join(' ');

function trainedVariables(plan: TrainingPlan): tf.Variable[] {
  return plan.model.layers.filter((l) => plan.trainable.includes(l.name)).flatMap((l) => l.weights.filter((w) => w.trainable).map((w) => w.read() as tf.Variable));
}

const bytesOf = (shape: readonly (number | null)[]) => shape.reduce((a: number, b) => a * (b ?? 1), 1) * 4;

/** One label row's bytes (a one-hot row or a value per output unit). */
const labelBytes = (model: LayersModel) => bytesOf((model.outputs[0]?.shape ?? []).slice(1));

/** The step before it is measured: an upper estimate from the weights and the topology (undefined when the topology does not say). */
function estimate(plan: TrainingPlan, trained: tf.Variable[]): StepCost | undefined {
  const activations = activationBytesPerRow(plan.model);
  if (activations === undefined) return undefined;
  const weights = trained.reduce((sum, v) => sum + bytesOf(v.shape), 0);
  return [{ fixed: weights * UPDATE_FACTOR[plan.config.optimizer], perRow: BACKWARD_FACTOR * activations + plan.rowBytes + labelBytes(plan.model) }];
}

/** The step with fit()'s indices of the batch's rows. */
const withIndices = (cost: StepCost): StepCost => cost.map((l) => ({ fixed: l.fixed, perRow: l.perRow + INDEX_BYTES_PER_BATCH_ROW }));

/**
 * Throws a 413 when the plan's training at `batchSize` cannot fit the budget; the figures and the
 * largest batch that fits. A step takes at most the training rows: 4 rows train in steps of 4
 * whatever batchSize says (costed at 32, they were refused in a function where they fit).
 */
function checkFits(plan: TrainingPlan, cost: StepCost, batchSize: number): void {
  const { optimizer } = plan.config;
  const dataRowBytes = plan.rowBytes + labelBytes(plan.model) + INDEX_BYTES_PER_ROW;
  const data = (plan.rows ?? 0) * dataRowBytes;
  const stepRows = Math.max(1, Math.min(batchSize, plan.rowsAtMost ?? batchSize));
  const { bytes, line } = peakAt(cost, stepRows);
  const available = plan.budget.availableFor(data + bytes);
  const room = available - data;
  if (bytes <= room) return;
  const figures =
    `a training step of ${plan.name} takes ${size(bytes)} at batchSize ${stepRows}${stepRows < batchSize ? ` (the data's ${stepRows} rows: fewer than batchSize ${batchSize})` : ''}: ${size(line.perRow)} per row and ${size(line.fixed)} besides ` +
    `(the gradients of the ${plan.trainable.length} trained layers' weights, ${optimizer}'s state and update)` +
    (plan.rows === undefined ? '' : `, the ${plan.rows} rows of data ${size(data)}`) +
    `; this function can give ${plan.budget.describe()}`;
  // Named for the client's next request, measured afresh (promisable), as a count of instances is.
  const largest = largestBatch(cost, Math.min(room, plan.budget.promisable() - data));
  if (largest >= 1) {
    throw new PayloadTooLargeError(`batchSize ${batchSize} does not fit: ${figures}. The largest batchSize that fits is ${largest}`);
  }
  const oneRow = peakAt(cost, 1).bytes;
  const rowsThatFit = Math.floor((available - oneRow) / dataRowBytes);
  const advice =
    rowsThatFit >= 2 && plan.rows !== undefined
      ? `at most ${rowsThatFit} rows of data fit, with batchSize 1`
      : `${plan.budget.largerSettingFor(oneRow + data)} would train it with batchSize 1`;
  throw new PayloadTooLargeError(`no fine-tune of this size fits: ${figures}. ${advice}`);
}

/**
 * Checks the plan fits, on a measured training step: first, unless measured already, that one
 * row fits on the estimate (so measuring is safe), then measures the step and checks the batch size.
 */
export async function checkTrainingFits(plan: TrainingPlan, rowShape: number[]): Promise<void> {
  const trained = trainedVariables(plan);
  if (trained.length === 0) return;
  const key = keyOf(plan, rowShape);
  let cost = measured.get(plan.model, key);
  if (cost === undefined) {
    const guess = estimate(plan, trained);
    if (guess !== undefined) checkFits(plan, guess, 1);
    const available = plan.budget.available();
    // The second run (2 rows) only when it is sure to fit: from 1 row to 2 a step grows by at most
    // its 1 row's peak (no part of it shrinks with the batch), and by at most the estimate per row.
    const perRowGuess = guess?.[0]?.perRow ?? Number.POSITIVE_INFINITY;
    const twoRowsFit = (oneRow: number) => oneRow + Math.min(oneRow, perRowGuess) <= available;
    cost = withIndices(measureStep(plan.model, trained, rowShape, { task: plan.task, optimizer: plan.config.optimizer, trainedLayers: plan.trainable }, twoRowsFit));
    measured.set(plan.model, key, cost);
  }
  const { batchSize } = plan.config;
  try {
    checkFits(plan, cost, batchSize);
  } catch (error) {
    if (!(error instanceof PayloadTooLargeError) || plan.rowsAtMost !== undefined || !plan.countRowsAtMost) throw error;
    const rows = await plan.countRowsAtMost(batchSize);
    if (rows >= batchSize) throw error;
    checkFits({ ...plan, rowsAtMost: rows }, cost, batchSize);
  }
}
