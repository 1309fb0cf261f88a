/**
 * Runs a loaded model on plain tensors: checks them against the signature, runs the rows in chunks
 * that fit the memory budget (and MAX_BATCH), or of the batch size the signature fixes, and merges
 * the outputs back in order. Scalar inputs go whole with every chunk.
 * Every tensor created here is disposed, on the error paths too.
 */
import * as tf from '@tensorflow/tfjs-core';
import { BadRequestError, ServiceError, UnprocessableError } from '../errors.js';
import type { LoadedModel } from '../loader/index.js';
import { instanceBytes, instanceRowShape, type RunNeed } from '../inputs/encode.js';
import { type ChunkPlan, checkOneRowFits, costPerRow, inChunks, measureRow, type MemoryBudget, rowsPerChunk, type RunLimits, scaledCostPerRow } from '../runtime/memory.js';
import { climbTo, openDimensions, smallerRowOf } from '../runtime/sizeLadder.js';
import { forwardBytesPerRow, predictTensors } from '../runtime/tfModel.js';
import { concatRows, elementCount, fitsShape, sliceRows, type TensorData, type TensorSpec } from '../tensors/data.js';
import { anyRows, fixedBatchOf, padRows } from '../tensors/fixedBatch.js';
import { mapValues } from '../tensors/mapValues.js';
import { checkValuesFit, declaredRange } from '../tensors/valueRanges.js';

const COMPATIBLE: Record<string, string[]> = {
  float32: ['float32', 'int32', 'bool'],
  int32: ['int32', 'bool'],
  bool: ['bool'],
  string: ['string'],
};

/**
 * What a client sends for an input of each dtype, in both protocols' words: a request's values are
 * read as TF.js holds them (OIP's FP16 and FP64 as float32, INT8 to UINT32 as int32), so the
 * datatype a refusal names may not be the one sent.
 */
const WHAT_FITS: Record<string, string> = {
  float32: 'numbers (OIP: FP32, FP16, FP64, an integer datatype or BOOL)',
  int32: 'integers (OIP: INT32, INT8, INT16, INT64, UINT8, UINT16, UINT32, UINT64 or BOOL)',
  bool: 'booleans (OIP: BOOL)',
  string: 'strings (OIP: BYTES)',
};

/** What values of each dtype were sent as, in both protocols' words (OIP's datatypes are read into these). */
const SENT_AS: Record<string, string> = {
  float32: 'floating-point values (OIP: FP16, FP32 or FP64)',
  int32: 'integers',
  bool: 'booleans',
  string: 'strings (OIP: BYTES)',
};

/**
 * Whether a tensor fits the model input it is for (dtype, shape, value count): a 400 naming what
 * does not. With `anyRowCount`, the first dimension is free even where the model fixes it: runModel
 * feeds such a model calls of its batch size.
 */
export function checkInput(spec: TensorSpec, input: TensorData, anyRowCount = false): void {
  const where = `input ${spec.name}`;
  if (!COMPATIBLE[spec.dtype]?.includes(input.dtype)) {
    // Named as metadata names it: a declared uint8 input is one, though TF.js holds it as int32.
    throw new BadRequestError(
      `${where}: ${SENT_AS[input.dtype] ?? input.dtype} do not fit the model's ${spec.declaredDtype ?? spec.dtype} input: send ${WHAT_FITS[spec.dtype] ?? spec.dtype}`,
    );
  }
  if (!fitsShape(anyRowCount ? anyRows(spec.shape) : spec.shape, input.shape)) {
    const fixed = anyRowCount && spec.shape !== null && (spec.shape[0] ?? -1) > 0;
    throw new BadRequestError(
      `${where}: shape [${input.shape}] does not fit the model's [${spec.shape}] (-1 = any size${fixed ? `; any number of rows, fed ${spec.shape?.[0]} at a time, its fixed batch size` : ''})`,
    );
  }
  if (elementCount(input.shape) !== input.data.length) {
    throw new BadRequestError(`${where}: shape [${input.shape}] needs ${elementCount(input.shape)} values, got ${input.data.length}`);
  }
  // A narrower integer the model declares (uint8): its range, as TF Serving keeps to it.
  const narrow = declaredRange(spec);
  checkValuesFit(spec.dtype, input.data, narrow ? `${where} (${spec.declaredDtype})` : where, narrow);
}

/** Orders the request's tensors as the model's inputs, by name (a single input may be unnamed). */
function matchInputs(specs: TensorSpec[], inputs: TensorData[]): TensorData[] {
  // One input may come unnamed (a bare tensor); a name that is not the model's is a mistake, as with several.
  if (specs.length === 1 && inputs.length === 1 && (inputs[0].name === '' || inputs[0].name === specs[0].name)) return inputs;
  const seen = new Set<string>();
  const twice = inputs.find((t) => seen.size === seen.add(t.name).size);
  if (twice) throw new BadRequestError(`input ${twice.name} sent more than once`);
  const byName = new Map(inputs.map((t) => [t.name, t]));
  const extra = inputs.filter((t) => !specs.some((s) => s.name === t.name)).map((t) => t.name);
  if (extra.length > 0) throw new BadRequestError(`unknown input(s) ${extra.join(', ')}: the model takes ${specs.map((s) => s.name).join(', ')}`);
  const missing = specs.filter((s) => !byName.has(s.name)).map((s) => s.name);
  if (missing.length > 0) throw new BadRequestError(`missing input(s) ${missing.join(', ')}: the model takes ${specs.map((s) => s.name).join(', ')}`);
  return specs.map((s) => byName.get(s.name) as TensorData);
}

function toTensor(t: TensorData, spec: TensorSpec): tf.Tensor {
  const dtype = spec.dtype === 'string' ? 'string' : spec.dtype;
  const values =
    t.dtype === 'bool' && dtype !== 'bool'
      ? mapValues<Float32Array | Int32Array>(dtype === 'int32' ? Int32Array : Float32Array, t.data as ArrayLike<number>, (v) => (v ? 1 : 0))
      : t.data;
  return tf.tensor(values as number[], t.shape, dtype as tf.DataType);
}

async function runChunk(loaded: LoadedModel, inputs: TensorData[]): Promise<TensorData[]> {
  const { signature } = loaded.manifest;
  const feeds = inputs.map((t, i) => toTensor(t, signature.inputs[i]));
  let outputs: tf.Tensor[] = [];
  try {
    outputs = await predictTensors(loaded.model, feeds);
    return await Promise.all(
      outputs.map(async (t, i) => ({
        name: signature.outputs[i]?.name ?? `output_${i}`,
        shape: t.shape,
        dtype: t.dtype as TensorData['dtype'],
        data: (await t.data()) as TensorData['data'],
      })),
    );
  } finally {
    tf.dispose([...feeds, ...outputs]);
  }
}

/**
 * Whether an input's first dimension counts rows (and is split into chunks with the others). An
 * input the model declares a scalar has no rows and goes whole with every chunk, as does one of
 * unknown rank sent as a scalar (e.g. a ratio); one of unknown rank sent with dimensions is taken
 * as batched like the rest (a recurrent state of [rows, h, w, c]).
 */
function isBatched(spec: TensorSpec, input: TensorData): boolean {
  return (spec.shape ?? input.shape).length > 0;
}

/** The number of rows, one for all batched inputs (a 400 if they differ); 1 when no input has rows. */
function rowCount(specs: TensorSpec[], inputs: TensorData[]): number {
  const batched = inputs.filter((t, i) => isBatched(specs[i], t));
  if (batched.length === 0) return 1;
  const [first] = batched;
  const other = batched.find((t) => t.shape[0] !== first.shape[0]);
  if (other) {
    throw new BadRequestError(
      `all inputs must have the same number of rows (first dimension): ${first.name} has ${first.shape[0]}, ${other.name} ${other.shape[0]} (scalars excepted: an input of unknown rank sent as a scalar goes whole with every row)`,
    );
  }
  if (first.shape[0] === 0) throw new BadRequestError(`input ${first.name}: shape [${first.shape}] has no rows: send at least one instance`);
  return first.shape[0];
}

/**
 * The request's tensors in the model's input order, each checked against its input, with one
 * number of rows: a 400 naming what does not fit. Also what a job's submission checks before it
 * is accepted, so the job would not fail on it.
 */
export function checkInputs(specs: TensorSpec[], requestInputs: TensorData[]): TensorData[] {
  const inputs = matchInputs(specs, requestInputs);
  for (const [i, t] of inputs.entries()) checkInput(specs[i], t, true);
  rowCount(specs, inputs);
  // A row of no values ([1, 0, 0, 3] to a model of free sizes): TF.js's kernels then read memory
  // that holds nothing of the request (a detector answered 200 with detections made up, other
  // ones each time). Rows themselves are counted above.
  for (const t of inputs) {
    if (t.shape.slice(1).includes(0))
      throw new BadRequestError(`input ${t.name}: shape [${t.shape}] has a dimension of 0, so each row holds no values: send rows of at least one value`);
  }
  return inputs;
}

/** Why the rows ran in more than one chunk, for a 422 that says chunks cannot give an output. */
function chunkReason(batch: number | undefined): string {
  return batch === undefined ? 'the memory budget, MAX_BATCH' : `the model's fixed batch size, ${batch}`;
}

/**
 * One output's chunks joined along rows. An output without rows (a scalar, e.g. computed from
 * scalar inputs alone) comes once: the same in every chunk, or the model computed it across the
 * rows, which chunks cannot give (a 422 saying so). So is an output whose first dimension does
 * not count the chunk's rows (a detector's boxes after non-max suppression, [boxes, 4]), or whose
 * other dimensions differ from chunk to chunk (boxes kept per image): joined, its rows would mix.
 */
function mergeChunks(loaded: LoadedModel, chunks: Chunk[], i: number, batch: number | undefined): TensorData {
  const parts = chunks.map((c) => c.outputs[i]);
  const [first] = parts;
  const model = `${loaded.name}:${loaded.version}`;
  if (first.shape.length > 0) {
    const rowShape = first.shape.slice(1).join();
    const unjoinable = chunks.find((c, k) => parts[k].shape[0] !== c.rows || parts[k].shape.slice(1).join() !== rowShape);
    if (unjoinable === undefined) return concatRows(parts);
    throw new UnprocessableError(
      `output ${first.name} of ${model} is not one row per instance (it answered shape [${unjoinable.outputs[i].shape}] for ${unjoinable.rows} of them, [${first.shape}] for ${chunks[0].rows}), and the rows ran in chunks (${chunkReason(batch)}) that cannot be joined: send ${batch ?? 'fewer'} instance(s) per request`,
    );
  }
  if (parts.every((p) => Object.is(p.data[0], first.data[0]))) return first;
  throw new UnprocessableError(
    `output ${first.name} of ${model} is one value for all rows, computed across them, and the rows ran in chunks (${chunkReason(batch)}): send ${batch ?? 'fewer'} row(s) per request`,
  );
}

/** One chunk's outputs and the rows it ran (padding dropped). */
interface Chunk {
  rows: number;
  outputs: TensorData[];
}

/**
 * A padded call's outputs, cut back to the chunk's own rows. An output whose first dimension is not
 * the call's rows cannot be cut (a 422: only whole calls of the batch size can be served).
 */
function dropPadding(loaded: LoadedModel, outputs: TensorData[], rows: number, batch: number): TensorData[] {
  return outputs.map((t) => {
    if (t.shape.length === 0) return t;
    if (t.shape[0] === batch) return sliceRows(t, 0, rows);
    throw new UnprocessableError(
      `output ${t.name} of ${loaded.name}:${loaded.version} has shape [${t.shape}] for a call of ${batch} rows (the model's fixed batch size): its first dimension does not count rows, so a call padded to ${batch} cannot be cut back: send a multiple of ${batch} instances`,
    );
  });
}

/**
 * An input of unknown rank is taken in any shape, and one with open dimensions in any size, so a
 * shape the model cannot use is only found as it runs (an image model whose layers need sides
 * that are multiples of 64, as MAXIM's: a 100 x 100 image failed a reshape inside it): TF.js's
 * refusal (a plain Error, e.g. shapes that do not broadcast) is then the client's to fix, a 422
 * naming the inputs not checked. Anything else (a wasm trap is a RuntimeError) stays what it is.
 */
function uncheckedShapeFailure(loaded: LoadedModel, inputs: TensorData[], error: unknown): unknown {
  const open = (shape: number[] | null) => shape === null || shape.slice(1).some((d) => d < 0);
  const unchecked = loaded.manifest.signature.inputs.flatMap((spec, i) => (open(spec.shape) ? [`${spec.name} [${inputs[i].shape}]`] : []));
  if (unchecked.length === 0 || !(error instanceof Error) || error instanceof ServiceError || error.name !== 'Error') return error;
  return new UnprocessableError(
    `model ${loaded.name}:${loaded.version} could not run on these inputs (${error.message}); its signature leaves the shape of ${unchecked.join(', ')} open, so it was not checked: send the shapes the model's authors use`,
    { cause: error },
  );
}

/**
 * One row's forward pass before it is measured at this shape: from a layers model's topology
 * when its sizes are all known, else scaled from a row measured at another size (memory.ts's scaledCostPerRow).
 */
function forwardEstimate(loaded: LoadedModel, rowShape: readonly number[]): { estimate?: number; estimateBasis?: string } {
  const fromLayers = forwardBytesPerRow(loaded.model);
  if (fromLayers !== undefined) return { estimate: fromLayers };
  const scaled = scaledCostPerRow(loaded.model, 'forward', rowShape);
  return scaled ? { estimate: scaled.bytes, estimateBasis: scaled.basis } : {};
}

/**
 * Before rows of a size not planned run through a model whose input leaves sizes open (an image
 * model of any size, its first request, or a size far from those it ran): smaller rows of zeros
 * measured first (runtime/sizeLadder.ts), so the rows' pass is planned and a photo too large for
 * the function refused with the figures, naming a size that fits, before it runs.
 */
export async function planSizeAhead(loaded: LoadedModel, rowShape: readonly number[], limits: RunLimits): Promise<void> {
  const [spec] = loaded.manifest.signature.inputs;
  const open = openDimensions(loaded.manifest.signature.inputs, rowShape);
  if (!open || (spec.dtype !== 'float32' && spec.dtype !== 'int32') || forwardBytesPerRow(loaded.model) !== undefined) return;
  const rows = fixedBatchOf(loaded.manifest.signature.inputs) ?? 1;
  const measure = async (shape: number[]) => {
    const values = rows * shape.reduce((a, b) => a * b, 1);
    const zeros: TensorData = { name: spec.name, dtype: spec.dtype, shape: [rows, ...shape], data: spec.dtype === 'int32' ? new Int32Array(values) : new Float32Array(values) };
    await measureRow(loaded.model, 'forward', () => runChunk(loaded, [zeros]), shape, rows);
  };
  const far = await climbTo({ model: loaded.model, pass: 'forward', budget: limits.budget, open, measure }, rowShape);
  if (far) checkOneRowFits({ ...forwardPlan(loaded, 1, rowShape, limits), estimate: far.bytes, estimateBasis: far.basis });
}

/**
 * The chunking of `rows` rows through the model's forward pass. `rowShape` is the batched inputs'
 * row shapes (-1 between two): the cost per row is remembered per shape.
 */
export function forwardPlan(loaded: LoadedModel, rows: number, rowShape: readonly number[], limits: RunLimits): ChunkPlan {
  return {
    model: loaded.model,
    name: `${loaded.name}:${loaded.version}`,
    pass: 'forward',
    rows,
    maxRows: limits.maxBatch,
    budget: limits.budget,
    ...forwardEstimate(loaded, rowShape),
    smallerRow: smallerRowOf(openDimensions(loaded.manifest.signature.inputs, rowShape), rowShape),
    rowShape,
    batch: fixedBatchOf(loaded.manifest.signature.inputs),
    time: limits.time,
    progress: limits.progress,
  };
}

/** An output's values per row, in bytes (4 a value; 0 when its shape leaves a size free). */
function outputRowBytes(spec: TensorSpec): number {
  const dims = spec.shape?.slice(1);
  return dims?.every((d) => d >= 0) ? 4 * dims.reduce((a, b) => a * b, 1) : 0;
}

/**
 * What running the model on its natural instances holds besides their rows at its peak
 * (inputs/budget.ts): one call's forward pass (a row's measured peak, or the estimate from the
 * model's layers until measured) with what it may lose of `budget` to its own chunks
 * (runtime/footprint.ts), a copy of the call's rows outside tensors (a layers model's predict
 * slices its input, which the wasm backend reads back whole), and each row's outputs read back.
 * Nothing for a model of raw tensors only.
 */
export function forwardNeed(loaded: LoadedModel, budget: MemoryBudget): RunNeed {
  const rowShape = instanceRowShape(loaded.manifest);
  if (rowShape === undefined) return { perCall: 0, perRow: 0, what: 'running the model on {them}' };
  const { inputs, outputs } = loaded.manifest.signature;
  const pass = costPerRow(loaded.model, 'forward', rowShape) ?? forwardEstimate(loaded, rowShape).estimate ?? 0;
  const rowBytes = 4 * rowShape.reduce((a, b) => a * b, 1);
  return {
    perCall: (fixedBatchOf(inputs) ?? 1) * (pass + rowBytes) + budget.roomAPassMayLose(),
    perRow: outputs.reduce((sum, spec) => sum + outputRowBytes(spec), 0),
    what: 'running the model on {them}',
  };
}

/**
 * What running the model on a chunk of natural instances in one call holds besides their rows, for
 * work that takes its rows a chunk at a time and chooses the chunk (evaluate, batch scoring): the forward pass of
 * every row of the chunk, with its copy of them, and the room the pass may lose to its own chunks.
 * forwardNeed counts one call's pass, so that a request may send the most rows it can, its pass then
 * run a few rows at a time in what the rows leave. Planned so chunk after chunk, an evaluation held
 * a chunk of rows (77 MB of 224 x 224 x 3 images) beside a wasm heap that its calls of changing
 * sizes had grown past what the budget gave them (82 to 192 MB), and a fresh 256 MB function
 * peaked at 250 to 300 MB. Planned with the whole pass, a chunk's rows are a few MB and it runs in
 * a call or two. A model whose signature fixes its batch size runs calls of that size whatever the
 * chunk: forwardNeed.
 */
export function chunkPassNeed(loaded: LoadedModel, budget: MemoryBudget): RunNeed {
  const oneCall = forwardNeed(loaded, budget);
  const rowShape = instanceRowShape(loaded.manifest);
  if (rowShape === undefined || fixedBatchOf(loaded.manifest.signature.inputs) !== undefined) return oneCall;
  const pass = costPerRow(loaded.model, 'forward', rowShape) ?? forwardEstimate(loaded, rowShape).estimate ?? 0;
  const rowBytes = 4 * rowShape.reduce((a, b) => a * b, 1);
  return { perCall: budget.roomAPassMayLose(), perRow: oneCall.perRow + pass + rowBytes, what: oneCall.what };
}

/**
 * What one natural instance takes once its record is read: its model input and the pass of one
 * row (chunkPassNeed). A chunk's records leave this much of the budget (inputs/recordRoom.ts).
 * Nothing for a model of raw tensors only.
 */
export function oneRowNeed(loaded: LoadedModel, budget: MemoryBudget): number {
  const bytes = instanceBytes(loaded.manifest);
  if (bytes === undefined) return 0;
  const need = chunkPassNeed(loaded, budget);
  return bytes + need.perCall + need.perRow;
}

export async function runModel(loaded: LoadedModel, requestInputs: TensorData[], limits: RunLimits): Promise<TensorData[]> {
  const specs = loaded.manifest.signature.inputs;
  const inputs = checkInputs(specs, requestInputs);
  const rows = rowCount(specs, inputs);
  const batched = inputs.map((t, i) => isBatched(specs[i], t));
  const rowShape = inputs.filter((_, i) => batched[i]).flatMap((t, i) => [...(i > 0 ? [-1] : []), ...t.shape.slice(1)]);
  if (inputs.length === 1 && batched[0]) await planSizeAhead(loaded, rowShape, limits);
  const chunks: Chunk[] = [];
  // The answer's size, judged from the first chunk's outputs before the next runs (predict's).
  const afterFirstChunk = () => {
    if (chunks.length === 1 && chunks[0].rows < rows) limits.firstOutputs?.(chunks[0].outputs, chunks[0].rows, rows);
  };
  const plan = { ...forwardPlan(loaded, rows, rowShape, limits), afterFirstChunk };
  const { batch } = plan;
  try {
    await inChunks(plan, async (from, to) => {
      const part = from === 0 && to === rows ? inputs : inputs.map((t, i) => (batched[i] ? sliceRows(t, from, to) : t));
      const short = batch !== undefined && to - from < batch;
      const outputs = await runChunk(loaded, short ? part.map((t, i) => (batched[i] ? padRows(t, batch) : t)) : part);
      chunks.push({ rows: to - from, outputs: short ? dropPadding(loaded, outputs, to - from, batch) : outputs });
    });
  } catch (error) {
    throw uncheckedShapeFailure(loaded, inputs, error);
  }
  if (chunks.length === 1) return chunks[0].outputs;
  try {
    return chunks[0].outputs.map((_, i) => mergeChunks(loaded, chunks, i, batch));
  } catch (error) {
    // The rows ran in chunks only because the first was one row measured alone (a model's first
    // request: inChunks), and they now fit one call: run them so, as every later request runs.
    if (!(error instanceof UnprocessableError) || batch !== undefined || rowsPerChunk(plan) < rows) throw error;
    return runChunk(loaded, inputs);
  }
}
