/**
 * Whether a fine-tune fits the memory budget, checked before anything is trained: when the API
 * accepts the job (with an estimate of a training step's cost) and again in the worker once the
 * data is read (with the step's cost measured on one row). A request that cannot fit is a 413
 * naming the figures and the largest batchSize (or data size) that would.
 *
 * What training holds at once: the training rows and the validation rows as tensors (one epoch's
 * shuffled copy and the held-out set); the trainable weights' gradients and the optimizer's slots
 * (Adam and RMSProp keep two per weight); and one batch's forward and backward pass.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { PayloadTooLargeError } from '../../errors.js';
import { costPerRow, measureRow, size, type MemoryBudget } from '../../runtime/memory.js';
import { activationBytesPerRow } from '../../runtime/tfModel.js';
import type { FineTuneConfig } from './request.js';

/** Optimizer state per trainable weight, in weights' worth (tf.train's Adam: m and v; RMSProp: ms and mom). */
const OPTIMIZER_SLOTS: Record<FineTuneConfig['optimizer'], number> = { adam: 2, rmsprop: 2, sgd: 0 };
/**
 * A training step's peak per row against the summed forward activations, when not yet measured:
 * MobileNetV2's measured backward pass to the input is 4.4 times them; 5 is an upper estimate.
 */
const BACKWARD_FACTOR = 5;

export interface TrainingPlan {
  model: LayersModel;
  /** name:version, for the refusal. */
  name: string;
  config: FineTuneConfig;
  /** The layers trained (their weights get gradients and optimizer state). */
  trainable: string[];
  /** Training rows and validation rows (undefined when not known yet: a data set not read). */
  rows?: number;
  /** Bytes of one input row. */
  rowBytes: number;
  budget: MemoryBudget;
}

function trainedBytes(model: LayersModel, trainable: string[]): number {
  const weights = model.layers.filter((l) => trainable.includes(l.name)).flatMap((l) => l.weights.filter((w) => w.trainable));
  return weights.reduce((sum, w) => sum + (w.shape as number[]).reduce((a, b) => a * b, 1) * 4, 0);
}

/** A training step's bytes per row: measured if it was, else estimated from the topology (undefined if neither). */
function stepBytesPerRow(model: LayersModel): number | undefined {
  const measured = costPerRow(model, 'training');
  if (measured !== undefined) return measured;
  const activations = activationBytesPerRow(model);
  return activations === undefined ? undefined : BACKWARD_FACTOR * activations;
}

/** Throws a 413 when the plan's training at `batchSize` cannot fit the budget; the figures and the largest batch that fits. */
function checkFits(plan: TrainingPlan, batchSize: number): void {
  const perRow = stepBytesPerRow(plan.model);
  if (perRow === undefined) return;
  const { optimizer } = plan.config;
  const state = trainedBytes(plan.model, plan.trainable) * (1 + OPTIMIZER_SLOTS[optimizer]);
  const data = (plan.rows ?? 0) * plan.rowBytes;
  const available = plan.budget.available();
  const room = available - state - data;
  if (room >= batchSize * perRow) return;
  const figures =
    `a training step of ${plan.name} takes ${size(perRow)} per row, its gradients and ${optimizer} state ${size(state)}` +
    (plan.rows === undefined ? '' : `, the ${plan.rows} rows of data ${size(data)}`) +
    `; this function can give ${plan.budget.describe()}`;
  const largestBatch = Math.floor(room / perRow);
  if (largestBatch >= 1) {
    throw new PayloadTooLargeError(`batchSize ${batchSize} does not fit: ${figures}. The largest batchSize that fits is ${largestBatch}`);
  }
  const rowsThatFit = Math.floor((available - state - perRow) / plan.rowBytes);
  const advice =
    rowsThatFit >= 2 && plan.rows !== undefined
      ? `at most ${rowsThatFit} rows of data fit, with batchSize 1`
      : `a function of at least ${plan.budget.functionSizeFor(state + data + perRow)} MB would train it with batchSize 1`;
  throw new PayloadTooLargeError(`no fine-tune of this size fits: ${figures}. ${advice}`);
}

/**
 * Checks the plan fits, on a measured training step: first, unless measured already, that one
 * row fits on the estimate (so measuring is safe), then measures it and checks the batch size.
 */
export async function checkTrainingFits(plan: TrainingPlan, rowShape: number[]): Promise<void> {
  if (costPerRow(plan.model, 'training') === undefined) {
    checkFits(plan, 1);
    await measureTrainingStep(plan.model, rowShape);
  }
  checkFits(plan, plan.config.batchSize);
}

/**
 * Measures a training step's bytes per row on one row (gradients of the summed outputs with
 * respect to the trainable weights; the weights are not changed), so the worker's check is exact.
 */
async function measureTrainingStep(model: LayersModel, rowShape: number[]): Promise<void> {
  const variables = model.trainableWeights.map((w) => w.read() as tf.Variable);
  if (variables.length === 0) return;
  await measureRow(model, 'training', () =>
    tf.tidy(() => {
      const x = tf.zeros([1, ...rowShape]);
      // Inference mode: in training mode batch normalization would move its statistics (this may be
      // the serving instance); the backward pass's tensors are the same but for per-channel moments.
      const { value, grads } = tf.variableGrads(() => tf.sum(model.apply(x, { training: false }) as tf.Tensor) as tf.Scalar, variables);
      tf.dispose([value, ...Object.values(grads)]);
    }),
  );
}
