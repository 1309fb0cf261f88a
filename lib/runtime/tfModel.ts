/**
 * Builds a TF.js model from bytes already in memory (the loader fetched and checked them), for both
 * formats, and reads its signature. One GET per file happens in the loader; nothing is fetched here.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import type { GraphModel } from '@tensorflow/tfjs-converter';
import type { ModelFormat, ModelJson } from '../registry/artifacts.js';
import { distinctNames, type Signature, type TensorSpec } from '../registry/manifest.js';
import { initBackend } from './backend.js';
import { dynamicOpIn } from './dynamicOps.js';
import { forwardPeakBytesPerRow } from './forwardPeak.js';
import { namedBySignatureKeys } from './signatureKeys.js';

export type TfModel = LayersModel | GraphModel;

export async function modelFromMemory(format: ModelFormat, modelJson: ModelJson, weightData: ArrayBuffer): Promise<TfModel> {
  await initBackend();
  const handler = tf.io.fromMemory({
    modelTopology: modelJson.modelTopology as object,
    weightSpecs: (modelJson.weightsManifest ?? []).flatMap((g) => g.weights) as tf.io.WeightsManifestEntry[],
    weightData,
    format: modelJson.format as string | undefined,
    signature: modelJson.signature as object | undefined,
    userDefinedMetadata: modelJson.userDefinedMetadata as Record<string, unknown> | undefined,
    modelInitializer: modelJson.modelInitializer as object | undefined,
  });
  // Each format's library is imported when a model of that format is first built: a function
  // serving layers models never compiles the graph converter on its cold start, and vice versa.
  if (format === 'layers') return (await import('@tensorflow/tfjs-layers')).loadLayersModel(handler);
  const model = await (await import('@tensorflow/tfjs-converter')).loadGraphModel(handler);
  const op = dynamicOpIn(modelJson);
  if (op) dynamicOps.set(model, op);
  return model;
}

/** By graph model: the op for which TF.js runs it only with executeAsync (see dynamicOps.ts). */
const dynamicOps = new WeakMap<TfModel, string>();

/** The op for which TF.js runs this graph model only asynchronously, where no gradient can be taken. */
export function dynamicOpOf(model: TfModel): string | undefined {
  return dynamicOps.get(model);
}

/**
 * The model's outputs on `feeds` (one per input, in the signature's order), in its outputs' order;
 * the caller disposes them. A graph model with dynamic ops runs with executeAsync, the only way
 * TF.js runs it, and the way its authors' code does; every other model with predict, as before.
 *
 * A layers model's predict cuts its input into batches of 32 by default, each by a Slice, and the
 * wasm backend makes a Slice by reading the whole input back into JavaScript: 1,000 digits took 92
 * to 156 ms a call against 30 to 44 as one batch, 4,096 iris rows 11 to 27 ms against 0.4 to 1.3,
 * for outputs equal bit for bit. So a call whose rows make at most ONE_BATCH_BYTES of input runs
 * as one batch. A larger one keeps TF.js's batches, and with them a call's activations to 32
 * rows' worth: the memory budget plans its calls on measures taken that way, and the count of
 * convolution-model images a 413 said fit, run as one batch, took a 256 MB function to 274 MB.
 */
export async function predictTensors(model: TfModel, feeds: tf.Tensor[]): Promise<tf.Tensor[]> {
  const x = feeds.length === 1 ? feeds[0] : feeds;
  const rows = feeds[0]?.shape[0] ?? 1;
  const oneBatch = isLayersModel(model) && rows > 0 && feeds.reduce((sum, t) => sum + t.size * 4, 0) <= ONE_BATCH_BYTES;
  const result = dynamicOps.has(model)
    ? await (model as GraphModel).predictAsync(x)
    : oneBatch
      ? (model as LayersModel).predict(x, { batchSize: rows })
      : (model as { predict(x: tf.Tensor | tf.Tensor[]): tf.Tensor | tf.Tensor[] | tf.NamedTensorMap }).predict(x);
  return inSignatureOrder(model, result instanceof tf.Tensor ? [result] : Array.isArray(result) ? result : Object.values(result));
}

/** By model: the index among the model's own outputs of each output of its manifest's signature, when the two orders differ. */
const outputOrders = new WeakMap<TfModel, number[]>();

/**
 * Gives the model's outputs in the order of `outputs` (a manifest's signature, which `--output` may
 * have reordered to put the output answers read first) wherever they are taken from it
 * (predictTensors, inSignatureOrder), so that every reader of "the first output" reads that one.
 * An output matches by its name, else its node (a version pushed before outputs were named by key).
 * False when the signature does not name each of the model's outputs once (a version pushed
 * before a layer's two outputs were named apart: head, head): the model's own order is kept.
 */
export function useOutputOrder(model: TfModel, outputs: TensorSpec[]): boolean {
  // One output: nothing to order, and no signature to read again on every cold start's load.
  if (outputs.length === 1 && model.outputs.length === 1) return true;
  const own = signatureOf(model).outputs;
  const nodeOf = (spec: TensorSpec) => spec.node ?? spec.name;
  const order = outputs.map((spec) => {
    const named = own.findIndex((o) => o.name === spec.name);
    return named >= 0 ? named : own.findIndex((o) => nodeOf(o) === nodeOf(spec));
  });
  const permutes = order.length === own.length && new Set(order).size === own.length && !order.includes(-1);
  if (permutes && order.some((at, i) => at !== i)) outputOrders.set(model, order);
  return permutes;
}

/** A model call's outputs (in the model's order) in its manifest's order (useOutputOrder). */
export function inSignatureOrder<T>(model: TfModel, outputs: T[]): T[] {
  const order = outputOrders.get(model);
  return order ? order.map((at) => outputs[at]) : outputs;
}

/**
 * Frees the model's weights. TF.js counts a layer once per call of it (a layer applied twice, as a
 * shared head or a Siamese branch, counts 2) and a layers model's dispose() takes one off each
 * layer: the weights of a layer applied more than once stayed, a model's worth of tensors left at
 * every cache eviction, push or fine-tune of such a model. Each layer is released to 0 here.
 */
export function disposeModel(model: TfModel): void {
  model.dispose();
  if (!isLayersModel(model)) return;
  for (const layer of model.layers) {
    const counted = layer as unknown as { _refCount: number | null };
    while (counted._refCount !== null && counted._refCount > 0) layer.dispose();
  }
}

/** The most input (4 bytes a value) a layers model's call runs as one batch (predictTensors). */
const ONE_BATCH_BYTES = 8 * 2 ** 20;

export function isLayersModel(model: TfModel): model is LayersModel {
  return 'layers' in model;
}

/** A shape as TF.js or a model.json signature gives it: null for a variable size, undefined for an unknown rank. */
type GivenShape = (number | null)[] | undefined;

function spec(name: string, dtype: string | undefined, shape: GivenShape): TensorSpec {
  return {
    name,
    dtype: (dtype ?? 'float32') as TensorSpec['dtype'],
    // Not said is not a scalar ([]): the model takes any shape there, and says so.
    shape: shape === undefined ? null : shape.map((d) => (d === null || d === undefined || d < 0 ? -1 : d)),
  };
}

interface TensorInfoProto {
  name?: string;
  dtype?: string;
  tensorShape?: { dim?: { size?: string | number }[]; unknownRank?: boolean };
}

/** TF dtypes as TF.js holds them (it reads every integer type as int32). */
const TF_DTYPES: Record<string, TensorSpec['dtype']> = {
  DT_FLOAT: 'float32',
  DT_DOUBLE: 'float32',
  DT_HALF: 'float32',
  DT_INT32: 'int32',
  DT_INT64: 'int32',
  DT_INT16: 'int32',
  DT_INT8: 'int32',
  DT_UINT8: 'int32',
  DT_UINT16: 'int32',
  DT_BOOL: 'bool',
  DT_STRING: 'string',
};

interface Declared {
  shape: GivenShape;
  dtype?: TensorSpec['dtype'];
  /** The TF type said, where TF.js holds it as int32 and it is narrower (DT_UINT8: uint8). */
  narrow?: TensorSpec['declaredDtype'];
}

/** TF's narrower integer types, as the manifest names them. */
const NARROW: Record<string, TensorSpec['declaredDtype']> = { DT_UINT8: 'uint8', DT_INT8: 'int8', DT_UINT16: 'uint16', DT_INT16: 'int16' };

/**
 * What model.json's signature (the SavedModel's, as tensorflowjs_converter writes it) says of each
 * tensor, by name: TF.js leaves a graph output's shape and dtype unsaid (an Identity node has no
 * such attributes), while the signature often has them.
 */
function declared(model: GraphModel, which: 'inputs' | 'outputs'): Map<string, Declared> {
  const entries = Object.values(((model.modelSignature as Record<string, unknown> | undefined)?.[which] ?? {}) as Record<string, TensorInfoProto>);
  const found = new Map<string, Declared>();
  for (const { name, dtype, tensorShape } of entries) {
    if (typeof name !== 'string') continue;
    // proto3 JSON leaves out an empty dim list: a shape with neither dims nor unknownRank is a scalar's.
    const shape = !tensorShape || tensorShape.unknownRank ? undefined : (tensorShape.dim ?? []).map((d) => Number(d.size ?? -1));
    found.set(name.replace(/:0$/, ''), { shape, dtype: dtype === undefined ? undefined : TF_DTYPES[dtype], narrow: dtype === undefined ? undefined : NARROW[dtype] });
  }
  return found;
}

interface NodeDef {
  name?: string;
  op?: string;
  attr?: Record<string, { type?: string } | undefined>;
}

/**
 * The TF type each graph node says it makes, by node name, where its attributes name it: a
 * Placeholder's or Const's `dtype`, an Identity's `T`, a Cast's `DstT`, an ArgMax's `output_type`,
 * a Shape's `out_type` (an op's `T` is its inputs' type, not always its output's: not read). A
 * signature that names only the outputs (human's faceboxes) says nothing of types the nodes still
 * say: its input's uint8, its num_boxes' int32. Read from the graph as loaded (the model's
 * artifacts): TF.js keeps no type narrower than int32, and none for an output it has not run.
 */
function nodeTypes(model: GraphModel): Map<string, string> {
  const nodes = (model as unknown as { artifacts?: { modelTopology?: { node?: NodeDef[] } } }).artifacts?.modelTopology?.node;
  const found = new Map<string, string>();
  for (const { name, op, attr = {} } of nodes ?? []) {
    const said = op === 'Placeholder' || op === 'Const' ? attr.dtype : op === 'Identity' ? attr.T : (attr.DstT ?? attr.output_type ?? attr.out_type);
    if (name && said?.type) found.set(name, said.type);
  }
  return found;
}

/**
 * Inputs and outputs as OIP v2 metadata shows them (-1 for variable dimensions, null for an unknown
 * rank); a graph's outputs by their signature keys, as TF Serving names them. A graph often leaves
 * its output shapes unsaid, or of one row: a push learns them from an example (trialRun.ts exampleSignature).
 */
export function signatureOf(model: TfModel): Signature {
  if (isLayersModel(model)) {
    // Layer names, not symbolic tensor names (which carry per-process counters such as `_1`).
    return {
      inputs: model.inputs.map((t) => spec(t.sourceLayer?.name ?? t.name, t.dtype, t.shape)),
      outputs: distinctNames(model.outputs.map((t) => t.sourceLayer?.name ?? t.name)).map((name, i) => spec(name, model.outputs[i].dtype, model.outputs[i].shape)),
    };
  }
  const declaredInputs = declared(model, 'inputs');
  // The graph's nodes are read only when a type is missing: signatureOf runs at every load of a
  // model of several outputs (useOutputOrder), where a scan of every node would be wasted.
  let scanned: Map<string, string> | undefined;
  const typeOf = (name: string) => {
    scanned ??= nodeTypes(model);
    return scanned.get(name) ?? '';
  };
  const inputs = model.inputs.map((t) => {
    const said = declaredInputs.get(t.name);
    const taken = spec(t.name, t.dtype ?? said?.dtype, t.shape ?? said?.shape);
    const narrow = said?.narrow ?? (taken.dtype === 'int32' ? NARROW[typeOf(t.name)] : undefined);
    return narrow && taken.dtype === 'int32' ? { ...taken, declaredDtype: narrow } : taken;
  });
  const declaredOutputs = declared(model, 'outputs');
  const said = model.outputs.map((t) => declaredOutputs.get(t.name));
  const given = model.outputs.map((t, i) => (t.shape && t.shape.length > 0 ? t.shape : (said[i]?.shape ?? t.shape)));
  const outputs = model.outputs.map((t, i) => spec(t.name, t.dtype ?? said[i]?.dtype ?? TF_DTYPES[typeOf(t.name)], given[i]));
  return { inputs, outputs: namedBySignatureKeys(outputs, model.modelSignature) };
}

/**
 * One row's activations summed: every layer's output, all alive at once, as a backward pass keeps
 * them (a layers model's topology says their shapes; undefined for graph models or unknown sizes).
 * A forward pass frees them as it goes: forwardBytesPerRow.
 */
export function activationBytesPerRow(model: TfModel): number | undefined {
  if (!isLayersModel(model)) return undefined;
  let total = 0;
  for (const layer of model.layers) {
    const shape = layer.outputShape as (number | null)[] | (number | null)[][];
    for (const one of Array.isArray(shape[0]) ? (shape as (number | null)[][]) : [shape as (number | null)[]]) {
      const dims = one.slice(1);
      if (dims.some((d) => d === null || d < 0)) return undefined;
      total += (dims as number[]).reduce((a, b) => a * b, 1) * 4;
    }
  }
  return total;
}

/** An upper estimate of one row's peak bytes in a forward pass (runtime/forwardPeak.ts; undefined for graph models or unknown sizes). */
export function forwardBytesPerRow(model: TfModel): number | undefined {
  return isLayersModel(model) ? forwardPeakBytesPerRow(model) : undefined;
}
