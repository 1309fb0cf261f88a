/**
 * The model as a function of its input rows, for the explainers: forward scores (kernelShap, the
 * ends of the integrated-gradients path) and gradients of target scores (the gradient methods).
 * Rows are fed in chunks that fit the memory budget (and MAX_BATCH), each one tensor: never one
 * model call per row; a model whose signature fixes its batch size gets calls of that many, the
 * last padded with copies of its last row (their outputs and gradients dropped).
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
import { needsConversion } from '../../protocol/probabilities.js';
import type { LoadedModel } from '../../loader/index.js';
import { checkOneRowFits, costPerRow, inChunks, type ChunkPlan, type Pass, type RunLimits, scaledCostPerRow } from '../../runtime/memory.js';
import { useOurGradients } from '../../runtime/gradients/index.js';
import { activationBytesPerRow, dynamicOpOf, forwardBytesPerRow, inSignatureOrder, predictTensors } from '../../runtime/tfModel.js';
import { climbTo, openDimensions, smallerRowOf } from '../../runtime/sizeLadder.js';
import { fixedBatchOf } from '../../tensors/fixedBatch.js';
import { planSizeAhead } from '../runModel.js';
import type { InputSpace } from './inputs.js';
import { fedRows, inputTensor } from './inputTensor.js';
import { outputWidth, type ScoreRule } from './target.js';

/**
 * A classifier's output rows as probabilities when its units hold logits or log-probabilities
 * (protocol/probabilities.ts): what is explained is the probability its users read, as predict answers it.
 */
function asProbabilities(loaded: LoadedModel, rows: tf.Tensor2D): tf.Tensor2D {
  if (!needsConversion(loaded.manifest)) return rows;
  if (loaded.manifest.scores === 'log-probabilities') return tf.exp(rows);
  return rows.shape[1] === 1 ? tf.sigmoid(rows) : tf.softmax(rows);
}

/** The output answers read (the signature's first: --output) of the model on x, as [rows, width] (probabilities, for a classifier): synchronous, for tf.tidy and tf.grad. */
function forward(loaded: LoadedModel, x: tf.Tensor): tf.Tensor2D {
  const result = loaded.manifest.format === 'layers' ? (loaded.model as LayersModel).apply(x, { training: false }) : (loaded.model as GraphModel).predict(x);
  const outputs = (result instanceof tf.Tensor ? [result] : Array.isArray(result) ? result : Object.values(result as tf.NamedTensorMap)) as tf.Tensor[];
  const [first] = inSignatureOrder(loaded.model, outputs);
  return asProbabilities(loaded, tf.reshape(first as tf.Tensor, [x.shape[0], -1]));
}

/** The same, for any model: one with dynamic ops runs asynchronously (executeAsync), outside a tidy. */
async function forwardAnyModel(loaded: LoadedModel, x: tf.Tensor): Promise<tf.Tensor2D> {
  if (dynamicOpOf(loaded.model) === undefined) return tf.tidy(() => forward(loaded, x));
  const outputs = await predictTensors(loaded.model, [x]);
  try {
    return tf.tidy(() => asProbabilities(loaded, tf.reshape(outputs[0], [x.shape[0], -1])));
  } finally {
    tf.dispose(outputs);
  }
}

/**
 * A 400 naming the method that needs no gradients, before any work, when none can be taken:
 * - for an int32 input (MoveNet's image; a converted uint8 one): it takes whole numbers, and a
 *   gradient needs the score as a function of a real-valued input;
 * - through a graph with dynamic ops: a gradient needs the forward pass on tf.grad's tape, which
 *   is synchronous, and TF.js runs such a graph only with executeAsync.
 */
function checkGradientsPossible(loaded: LoadedModel): void {
  const known = noGradient.get(loaded.model);
  if (known !== undefined) throw new BadRequestError(known);
  const [input] = loaded.manifest.signature.inputs;
  if (input?.dtype === 'int32') {
    throw new BadRequestError(
      `gradients cannot be taken with respect to ${loaded.name}:${loaded.version}'s input ${input.name}: it is int32 (whole numbers; a uint8 input is converted to int32), along which no gradient exists; use method kernelShap, which needs no gradients`,
    );
  }
  const op = dynamicOpOf(loaded.model);
  if (op === undefined) return;
  throw new BadRequestError(
    `gradients cannot be taken through graph model ${loaded.name}:${loaded.version}: its op ${op} makes TF.js run it only asynchronously (executeAsync), which no gradient follows; use method kernelShap, which needs no gradients`,
  );
}

/** Fills `out` with rows [from, to), flattened; called once per chunk, in order. */
export type RowSource = (from: number, to: number, out: Float32Array) => void;

/** The chunking of `rows` rows (each of `rowShape`) of a pass through the model: within the memory budget and MAX_BATCH. */
function plan(loaded: LoadedModel, pass: Pass, rows: number, limits: RunLimits, rowShape: readonly number[]): ChunkPlan {
  // A backward pass keeps every activation and adds its gradient and temporaries: MobileNetV2's
  // measured peak per row is 4.4 times its summed activations, so 5 is an upper estimate.
  const activations = pass === 'gradient' ? activationBytesPerRow(loaded.model) : undefined;
  const fromLayers = pass === 'gradient' ? (activations === undefined ? undefined : 5 * activations) : forwardBytesPerRow(loaded.model);
  // A model of any size: scaled from a row measured at another size, until measured at this one.
  const scaled = fromLayers === undefined ? scaledCostPerRow(loaded.model, pass, rowShape) : undefined;
  const batch = fixedBatchOf(loaded.manifest.signature.inputs);
  return {
    model: loaded.model,
    name: `${loaded.name}:${loaded.version}`,
    pass,
    rows,
    maxRows: limits.maxBatch,
    budget: limits.budget,
    estimate: fromLayers ?? scaled?.bytes,
    estimateBasis: scaled?.basis,
    smallerRow: smallerRowOf(openDimensions(loaded.manifest.signature.inputs, rowShape), rowShape),
    rowShape,
    batch,
    time: limits.time,
    progress: limits.progress,
  };
}

/** A 413 now if not one row of this pass fits the budget (so nothing runs first only to be refused later). */
export function checkPassFits(loaded: LoadedModel, pass: Pass, limits: RunLimits, space: InputSpace): void {
  if (pass === 'gradient') checkGradientsPossible(loaded);
  checkPassMemory(loaded, pass, limits, space.rowShape);
}

/**
 * Before a pass over rows of a size not planned, through a model whose input leaves sizes open:
 * the forward pass every method runs first planned as predict plans it, and a gradient pass from
 * smaller rows measured first (runtime/sizeLadder.ts); a 413 when a smaller row does not fit.
 */
export async function planPassAhead(loaded: LoadedModel, pass: Pass, limits: RunLimits, rowShape: readonly number[]): Promise<void> {
  await planSizeAhead(loaded, rowShape, limits);
  const open = openDimensions(loaded.manifest.signature.inputs, rowShape);
  if (pass !== 'gradient' || !open) return;
  const measure = async (shape: number[]) => {
    await measureGradientAhead(loaded, limits, shape);
  };
  const far = await climbTo({ model: loaded.model, pass, budget: limits.budget, open, measure }, rowShape);
  if (far) checkOneRowFits({ ...plan(loaded, pass, 1, limits, rowShape), estimate: far.bytes, estimateBasis: far.basis });
}

/** The same for memory alone, over rows of `rowShape`: before natural instances are encoded for the pass, refused in its own terms. */
export function checkPassMemory(loaded: LoadedModel, pass: Pass, limits: RunLimits, rowShape: readonly number[]): void {
  checkOneRowFits(plan(loaded, pass, 1, limits, rowShape));
}

/**
 * Measures one row of the gradient pass now, on a row of zeros, when rows of this shape have not
 * been measured through the model: the estimate from the model's layers is no upper bound (a
 * 320 x 320 convolution under a global average pool measures 7.2 times its summed activations,
 * estimated at 5). Whether it measured: not when already measured, when gradients cannot be taken
 * (a 400 says so in its place).
 */
export async function measureGradientAhead(loaded: LoadedModel, limits: RunLimits, rowShape: readonly number[]): Promise<boolean> {
  if (costPerRow(loaded.model, 'gradient', rowShape) !== undefined) return false;
  try {
    checkGradientsPossible(loaded);
  } catch {
    return false;
  }
  const [input] = loaded.manifest.signature.inputs;
  if (input === undefined) return false;
  const space: InputSpace = { spec: input, rowShape: [...rowShape], size: rowShape.reduce((a, b) => a * b, 1) };
  // An output of open sizes (an upscaler's image) is as wide as a row of this shape makes it: run once to know.
  const width = outputWidth(loaded.manifest) ?? (await forwardRows(loaded, space, 1, () => {}, limits)).width;
  const rule: ScoreRule = { weights: new Float32Array(width).fill(1), constant: 0 };
  await gradientRows(
    loaded,
    space,
    1,
    () => {},
    () => rule,
    limits,
    () => {},
  );
  return true;
}

/**
 * What one call of this pass over rows of `rowShape` holds at its peak, for work planned before
 * it runs: the call's tensors (its rows' measured peak, or the estimate until measured), what the
 * pass may lose of the budget to its own chunks (runtime/footprint.ts), and the call's rows fed
 * and read back outside tensors.
 */
export function passCallBytes(loaded: LoadedModel, pass: Pass, limits: RunLimits, rowShape: readonly number[]): number {
  const { estimate, batch } = plan(loaded, pass, 1, limits, rowShape);
  const rowBytes = 4 * rowShape.reduce((a, b) => a * b, 1);
  return (batch ?? 1) * ((costPerRow(loaded.model, pass, rowShape) ?? estimate ?? 0) + 2 * rowBytes) + limits.budget.roomAPassMayLose();
}

/**
 * One array for the rows of a pass's chunks in turn, grown when a chunk needs more: each chunk's
 * rows are copied into the backend's memory as its input tensor is made (the cpu backend keeps the
 * array itself, until the tensor is disposed at the chunk's end), so the next chunk can take it. A
 * new array a chunk left each one garbage until the next collection: kernelShap through nsfwjs's
 * graph MobileNetV2 in a 256 MB function, 7 photos' rows a chunk, 4 MB a chunk.
 */
function stagingRows(size: number): (rows: number) => Float32Array {
  let buffer = new Float32Array(0);
  return (rows) => {
    if (buffer.length < rows * size) buffer = new Float32Array(rows * size);
    const view = buffer.subarray(0, rows * size);
    view.fill(0);
    return view;
  };
}

/** Output rows ([count][width], flat) of `count` rows produced by `source`, chunked. */
export async function forwardRows(loaded: LoadedModel, space: InputSpace, count: number, source: RowSource, limits: RunLimits): Promise<{ outputs: Float32Array; width: number }> {
  let outputs = new Float32Array(0);
  let width = 0;
  const staged = stagingRows(space.size);
  await inChunks(plan(loaded, 'forward', count, limits, space.rowShape), async (from, to) => {
    const input = staged(to - from);
    source(from, to, input);
    const x = inputTensor(space, input, to - from);
    let out: tf.Tensor2D | undefined;
    try {
      out = await forwardAnyModel(loaded, x);
      const values = (await out.data()) as Float32Array;
      if (from === 0) {
        width = out.shape[1];
        outputs = new Float32Array(count * width);
      }
      outputs.set(values.subarray(0, (to - from) * width), from * width); // without the padding rows of a fixed batch
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
  const staged = stagingRows(space.size);
  await inChunks(plan(loaded, 'gradient', count, limits, space.rowShape), async (from, to) => {
    const rows = to - from;
    const input = staged(rows);
    source(from, to, input);
    const width = ruleOf(from).weights.length;
    // Padding rows of a fixed batch weigh 0: they add nothing to the summed score.
    const fed = fedRows(space, rows);
    const weights = new Float32Array(fed * width);
    for (let r = 0; r < rows; r++) weights.set(ruleOf(from + r).weights, r * width);
    let gradient: tf.Tensor | undefined;
    try {
      gradient = tf.tidy(() => {
        const x = inputTensor(space, input, rows);
        const w = tf.tensor2d(weights, [fed, width]);
        return tf.grad((z: tf.Tensor) => tf.sum(tf.mul(forward(loaded, z), w)))(x);
      });
      take({ from, gradients: ((await gradient.data()) as Float32Array).subarray(0, rows * space.size) });
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

/**
 * By model: why gradients cannot be taken through it, once a pass has found an op without one.
 * The pass that finds it has run the model forward on the tape first (MAXIM's 27,809 nodes took
 * a process from 0.4 to 2.3 GB before the 400): later requests are refused before anything runs.
 */
const noGradient = new WeakMap<object, string>();

/** A graph model may use ops without a registered gradient: the client can still use kernelShap. */
function gradientFailure(loaded: LoadedModel, error: unknown): unknown {
  // tfjs-core: "Cannot compute gradient: gradient function not found for <kernel>."
  if (loaded.manifest.format !== 'graph' || !(error instanceof Error) || !/gradient/i.test(error.message)) return error;
  const message = `gradients cannot be taken through graph model ${loaded.name}:${loaded.version} (${error.message}); use method kernelShap, which needs no gradients`;
  noGradient.set(loaded.model, message);
  return new BadRequestError(message, { cause: error });
}
