/**
 * Runs a loaded model on plain tensors: checks them against the signature, runs the rows in chunks
 * that fit the memory budget (and MAX_BATCH), and merges the outputs back in order.
 * Every tensor created here is disposed, on the error paths too.
 */
import * as tf from '@tensorflow/tfjs-core';
import { BadRequestError } from '../errors.js';
import type { LoadedModel } from '../loader/index.js';
import { inChunks, type RunLimits } from '../runtime/memory.js';
import { activationBytesPerRow } from '../runtime/tfModel.js';
import { concatRows, elementCount, fitsShape, sliceRows, type TensorData, type TensorSpec } from '../tensors/data.js';
import { checkValuesFit } from '../tensors/valueRanges.js';

const COMPATIBLE: Record<string, string[]> = {
  float32: ['float32', 'int32', 'bool'],
  int32: ['int32', 'bool'],
  bool: ['bool'],
  string: ['string'],
};

/** Whether a tensor fits the model input it is for (dtype, shape, value count): a 400 naming what does not. */
export function checkInput(spec: TensorSpec, input: TensorData): void {
  const where = `input ${spec.name}`;
  if (!COMPATIBLE[spec.dtype]?.includes(input.dtype)) {
    throw new BadRequestError(`${where}: datatype ${input.dtype} does not fit the model's ${spec.dtype}`);
  }
  if (!fitsShape(spec.shape, input.shape)) {
    throw new BadRequestError(`${where}: shape [${input.shape}] does not fit the model's [${spec.shape}] (-1 = any size)`);
  }
  if (elementCount(input.shape) !== input.data.length) {
    throw new BadRequestError(`${where}: shape [${input.shape}] needs ${elementCount(input.shape)} values, got ${input.data.length}`);
  }
  checkValuesFit(spec.dtype, input.data, where);
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
  const values = t.dtype === 'bool' && dtype !== 'bool' ? Array.from(t.data, (v) => (v ? 1 : 0)) : t.data;
  return tf.tensor(values as number[], t.shape, dtype as tf.DataType);
}

async function runChunk(loaded: LoadedModel, inputs: TensorData[]): Promise<TensorData[]> {
  const { signature } = loaded.manifest;
  const feeds = inputs.map((t, i) => toTensor(t, signature.inputs[i]));
  let outputs: tf.Tensor[] = [];
  try {
    const model = loaded.model as { predict(x: tf.Tensor | tf.Tensor[]): tf.Tensor | tf.Tensor[] | tf.NamedTensorMap };
    const result = model.predict(feeds.length === 1 ? feeds[0] : feeds);
    outputs = result instanceof tf.Tensor ? [result] : Array.isArray(result) ? result : Object.values(result);
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
 * The request's tensors in the model's input order, each checked against its input, with one
 * number of rows: a 400 naming what does not fit. Also what a job's submission checks before it
 * is accepted, so the job would not fail on it.
 */
export function checkInputs(specs: TensorSpec[], requestInputs: TensorData[]): TensorData[] {
  const inputs = matchInputs(specs, requestInputs);
  for (const [i, t] of inputs.entries()) checkInput(specs[i], t);
  const rows = inputs[0].shape[0];
  if (inputs.some((t) => t.shape[0] !== rows)) throw new BadRequestError('all inputs must have the same number of rows (first dimension)');
  if (rows === 0) throw new BadRequestError(`input ${specs[0].name}: shape [${inputs[0].shape}] has no rows: send at least one instance`);
  return inputs;
}

export async function runModel(loaded: LoadedModel, requestInputs: TensorData[], limits: RunLimits): Promise<TensorData[]> {
  const inputs = checkInputs(loaded.manifest.signature.inputs, requestInputs);
  const rows = inputs[0].shape[0];
  const chunks: TensorData[][] = [];
  const plan = {
    model: loaded.model,
    name: `${loaded.name}:${loaded.version}`,
    pass: 'forward' as const,
    rows,
    maxRows: limits.maxBatch,
    budget: limits.budget,
    estimate: activationBytesPerRow(loaded.model),
  };
  await inChunks(plan, async (from, to) => {
    chunks.push(await runChunk(loaded, from === 0 && to === rows ? inputs : inputs.map((t) => sliceRows(t, from, to))));
  });
  return chunks.length === 1 ? chunks[0] : chunks[0].map((_, i) => concatRows(chunks.map((c) => c[i])));
}
