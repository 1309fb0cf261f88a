/**
 * The model as a function of its input rows, for the explainers: forward scores (kernelShap, the
 * ends of the integrated-gradients path) and gradients of target scores (the gradient methods).
 * Rows are fed in chunks that fit the memory budget (and MAX_BATCH), each one tensor: never one
 * model call per row.
 * Every tensor made here is disposed before the function returns, on error paths too.
 *
 * Gradients: tf.grad of the batch's summed target scores. Rows do not interact in a model at
 * inference (no batch statistics), so d(sum_r score_r)/d x_r = d score_r / d x_r for every row.
 * tfjs-layers (imported by the model loader, and here for clarity) registers every gradient.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers';
import type { GraphModel } from '@tensorflow/tfjs-converter';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { BadRequestError } from '../../errors.js';
import type { LoadedModel } from '../../loader/index.js';
import { checkOneRowFits, inChunks, type ChunkPlan, type Pass, type RunLimits } from '../../runtime/memory.js';
import { useOurGradients } from '../../runtime/gradients/index.js';
import { activationBytesPerRow, dynamicOpOf, predictTensors } from '../../runtime/tfModel.js';
import type { InputSpace } from './inputs.js';
import type { ScoreRule } from './target.js';

/** First output of the model on x, as [rows, width]: synchronous, for tf.tidy and tf.grad. */
function forward(loaded: LoadedModel, x: tf.Tensor): tf.Tensor2D {
  const result = loaded.manifest.format === 'layers' ? (loaded.model as LayersModel).apply(x, { training: false }) : (loaded.model as GraphModel).predict(x);
  const first = result instanceof tf.Tensor ? result : Array.isArray(result) ? result[0] : Object.values(result as tf.NamedTensorMap)[0];
  return tf.reshape(first as tf.Tensor, [x.shape[0], -1]) as tf.Tensor2D;
}

/** The same, for any model: one with dynamic ops runs asynchronously (executeAsync), outside a tidy. */
async function forwardAnyModel(loaded: LoadedModel, x: tf.Tensor): Promise<tf.Tensor2D> {
  if (dynamicOpOf(loaded.model) === undefined) return tf.tidy(() => forward(loaded, x));
  const outputs = await predictTensors(loaded.model, [x]);
  try {
    return tf.reshape(outputs[0], [x.shape[0], -1]);
  } finally {
    tf.dispose(outputs);
  }
}

/**
 * A gradient needs the forward pass on tf.grad's tape, which is synchronous: TF.js runs a graph
 * with dynamic ops only with executeAsync, so no gradient can be taken through it (a 400 naming
 * the op and the method that needs none, before any work).
 */
function checkGradientsPossible(loaded: LoadedModel): void {
  const op = dynamicOpOf(loaded.model);
  if (op === undefined) return;
  throw new BadRequestError(
    `gradients cannot be taken through graph model ${loaded.name}:${loaded.version}: its op ${op} makes TF.js run it only asynchronously (executeAsync), which no gradient follows; use method kernelShap, which needs no gradients`,
  );
}

/** Fills `out` with rows [from, to), flattened; called once per chunk, in order. */
export type RowSource = (from: number, to: number, out: Float32Array) => void;

/** The chunking of `rows` rows of a pass through the model: within the memory budget and MAX_BATCH. */
function plan(loaded: LoadedModel, pass: Pass, rows: number, limits: RunLimits, rowShape: readonly number[]): ChunkPlan {
  const activations = activationBytesPerRow(loaded.model);
  // A backward pass keeps every activation and adds its gradient and temporaries: MobileNetV2's
  // measured peak per row is 4.4 times its summed activations, so 5 is an upper estimate.
  const estimate = activations === undefined ? undefined : pass === 'gradient' ? 5 * activations : activations;
  return { model: loaded.model, name: `${loaded.name}:${loaded.version}`, pass, rows, maxRows: limits.maxBatch, budget: limits.budget, estimate, rowShape };
}

/** A 413 now if not one row of this pass fits the budget (so nothing runs first only to be refused later). */
export function checkPassFits(loaded: LoadedModel, pass: Pass, limits: RunLimits, space: InputSpace): void {
  if (pass === 'gradient') checkGradientsPossible(loaded);
  checkOneRowFits(plan(loaded, pass, 1, limits, space.rowShape));
}

/** Output rows ([count][width], flat) of `count` rows produced by `source`, chunked. */
export async function forwardRows(loaded: LoadedModel, space: InputSpace, count: number, source: RowSource, limits: RunLimits): Promise<{ outputs: Float32Array; width: number }> {
  let outputs = new Float32Array(0);
  let width = 0;
  await inChunks(plan(loaded, 'forward', count, limits, space.rowShape), async (from, to) => {
    const input = new Float32Array((to - from) * space.size);
    source(from, to, input);
    const x = tf.tensor(input, [to - from, ...space.rowShape]);
    let out: tf.Tensor2D | undefined;
    try {
      out = await forwardAnyModel(loaded, x);
      const values = (await out.data()) as Float32Array;
      if (from === 0) {
        width = out.shape[1];
        outputs = new Float32Array(count * width);
      }
      outputs.set(values, from * width);
    } finally {
      tf.dispose([x, ...(out ? [out] : [])]);
    }
  });
  return { outputs, width };
}

export interface GradientChunk {
  /** Index of the first row of the chunk. */
  from: number;
  /** Gradients of the rows of the chunk, flat ([to - from][size]). */
  gradients: Float32Array;
}

/**
 * Gradients of each row's target score with respect to its input, for `count` rows from `source`,
 * with `ruleOf(row)` naming each row's target. Chunks are handed to `take` as they are computed
 * so that callers accumulate instead of holding every gradient.
 */
export async function gradientRows(
  loaded: LoadedModel,
  space: InputSpace,
  count: number,
  source: RowSource,
  ruleOf: (row: number) => ScoreRule,
  limits: RunLimits,
  take: (chunk: GradientChunk) => void,
): Promise<void> {
  checkGradientsPossible(loaded);
  useOurGradients();
  await inChunks(plan(loaded, 'gradient', count, limits, space.rowShape), async (from, to) => {
    const rows = to - from;
    const input = new Float32Array(rows * space.size);
    source(from, to, input);
    const width = ruleOf(from).weights.length;
    const weights = new Float32Array(rows * width);
    for (let r = 0; r < rows; r++) weights.set(ruleOf(from + r).weights, r * width);
    let gradient: tf.Tensor | undefined;
    try {
      gradient = tf.tidy(() => {
        const x = tf.tensor(input, [rows, ...space.rowShape]);
        const w = tf.tensor2d(weights, [rows, width]);
        return tf.grad((z: tf.Tensor) => tf.sum(tf.mul(forward(loaded, z), w)))(x);
      });
      take({ from, gradients: (await gradient.data()) as Float32Array });
    } catch (error) {
      releaseTape();
      throw gradientFailure(loaded, error);
    } finally {
      gradient?.dispose();
    }
  });
}

/**
 * When backpropagation throws (an op without a gradient), tfjs-core (4.22, engine.gradients)
 * leaves its tape behind with the tensors each op saved for its gradient: kept tensors no tidy
 * releases. Release them as the engine does after a successful pass.
 */
function releaseTape(): void {
  const state = tf.engine().state as unknown as { gradientDepth: number; activeTape: { saved?: tf.Tensor[] }[] | null };
  if (state.gradientDepth !== 0 || !state.activeTape) return;
  for (const node of state.activeTape) for (const tensor of node.saved ?? []) tensor.dispose();
  state.activeTape = null;
}

/** A graph model may use ops without a registered gradient: the client can still use kernelShap. */
function gradientFailure(loaded: LoadedModel, error: unknown): unknown {
  // tfjs-core: "Cannot compute gradient: gradient function not found for <kernel>."
  if (loaded.manifest.format !== 'graph' || !(error instanceof Error) || !/gradient/i.test(error.message)) return error;
  return new BadRequestError(`gradients cannot be taken through graph model ${loaded.name}:${loaded.version} (${error.message}); use method kernelShap, which needs no gradients`, {
    cause: error,
  });
}
