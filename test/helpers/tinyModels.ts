/**
 * Small TF.js model folders made on the fly, in both formats, with known weights: a linear
 * softmax classifier y = softmax(x W + b) over 4 inputs and 3 classes.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { initBackend } from '../../lib/runtime/backend.js';
import { modelFiles } from '../../lib/runtime/modelFiles.js';

const W = [
  [0.5, -0.2, 0.1],
  [0.3, 0.8, -0.5],
  [-0.7, 0.2, 0.9],
  [0.1, -0.4, 0.6],
];
const B = [0.05, -0.1, 0.2];

async function folder(): Promise<string> {
  return mkdtemp(path.join(tmpdir(), 'tiny-model-'));
}

/** A layers-format folder (what model.save writes): model.json + weights.bin. */
export async function writeLayersModel(dir?: string): Promise<string> {
  await initBackend();
  const out = dir ?? (await folder());
  const model = tfl.sequential({ layers: [tfl.layers.dense({ inputShape: [4], units: 3, activation: 'softmax', name: 'probs' })] });
  model.setWeights([tf.tensor2d(W), tf.tensor1d(B)]);
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      const weightsManifest = [{ paths: ['weights.bin'], weights: artifacts.weightSpecs! }];
      const modelJson = { format: 'layers-model', generatedBy: 'test', convertedBy: null, modelTopology: artifacts.modelTopology, weightsManifest };
      await writeFile(path.join(out, 'model.json'), JSON.stringify(modelJson));
      await writeFile(path.join(out, 'weights.bin'), new Uint8Array(artifacts.weightData as ArrayBuffer));
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  model.dispose();
  return out;
}

const float = { type: 'DT_FLOAT' };
const dims = (...sizes: number[]) => ({ dim: sizes.map((size) => ({ size: String(size) })) });

/** A graph-format folder as tensorflowjs_converter writes it (GraphDef JSON + one shard). */
export async function writeGraphModel(dir?: string): Promise<string> {
  const out = dir ?? (await folder());
  const node = [
    { name: 'x', op: 'Placeholder', attr: { dtype: float, shape: { shape: dims(-1, 4) } } },
    { name: 'w', op: 'Const', attr: { dtype: float, value: { tensor: { dtype: 'DT_FLOAT', tensorShape: dims(4, 3) } } } },
    { name: 'b', op: 'Const', attr: { dtype: float, value: { tensor: { dtype: 'DT_FLOAT', tensorShape: dims(3) } } } },
    { name: 'MatMul', op: 'MatMul', input: ['x', 'w'], attr: { T: float, transpose_a: { b: false }, transpose_b: { b: false } } },
    { name: 'add', op: 'AddV2', input: ['MatMul', 'b'], attr: { T: float } },
    { name: 'probs', op: 'Softmax', input: ['add'], attr: { T: float } },
  ];
  const modelJson = {
    format: 'graph-model',
    generatedBy: 'test',
    convertedBy: 'TensorFlow.js Converter v4.22.0',
    modelTopology: { node, library: {}, versions: { producer: 1482 } },
    signature: {
      inputs: { 'x:0': { name: 'x:0', dtype: 'DT_FLOAT', tensorShape: dims(-1, 4) } },
      outputs: { 'probs:0': { name: 'probs:0', dtype: 'DT_FLOAT', tensorShape: dims(-1, 3) } },
    },
    weightsManifest: [
      {
        paths: ['group1-shard1of1.bin'],
        weights: [
          { name: 'w', shape: [4, 3], dtype: 'float32' },
          { name: 'b', shape: [3], dtype: 'float32' },
        ],
      },
    ],
  };
  await writeFile(path.join(out, 'model.json'), JSON.stringify(modelJson));
  await writeFile(path.join(out, 'group1-shard1of1.bin'), new Uint8Array(new Float32Array([...W.flat(), ...B]).buffer));
  return out;
}

/** The reference answer: softmax(x W + b). */
export function expectedProbabilities(x: number[]): number[] {
  const logits = B.map((b, j) => b + x.reduce((sum, xi, i) => sum + xi * W[i][j], 0));
  const max = Math.max(...logits);
  const exps = logits.map((l) => Math.exp(l - max));
  const total = exps.reduce((a, b) => a + b, 0);
  return exps.map((e) => e / total);
}

/** A layers-format image classifier over height x width x channels inputs (2 classes; the weights are arbitrary). */
export async function writeImageModel(width: number, height: number, channels: number, dir?: string): Promise<string> {
  await initBackend();
  const out = dir ?? (await folder());
  const model = tfl.sequential({ layers: [tfl.layers.flatten({ inputShape: [height, width, channels] }), tfl.layers.dense({ units: 2, activation: 'softmax', name: 'probs' })] });
  for (const [file, bytes] of await modelFiles(model)) await writeFile(path.join(out, file), bytes);
  model.dispose();
  return out;
}

/**
 * A layers-format image classifier that convolves its input before it classifies (32 filters of
 * 1 x 1, their mean over the image, 2 classes; arbitrary weights): its forward pass holds more than
 * ten times its input row (32 channels for 3), where writeImageModel's holds about the row itself,
 * at little compute.
 */
export async function writeConvImageModel(width: number, height: number, channels: number, dir?: string): Promise<string> {
  await initBackend();
  const out = dir ?? (await folder());
  const model = tfl.sequential({
    layers: [
      tfl.layers.conv2d({ inputShape: [height, width, channels], filters: 32, kernelSize: 1, activation: 'relu' }),
      tfl.layers.globalAveragePooling2d({}),
      tfl.layers.dense({ units: 2, activation: 'softmax', name: 'probs' }),
    ],
  });
  for (const [file, bytes] of await modelFiles(model)) await writeFile(path.join(out, file), bytes);
  model.dispose();
  return out;
}

/**
 * Image models of any size (their input [-1, -1, -1, 3]), layers format, arbitrary weights: an
 * upscaler (3 x 3 convolution of 4 filters, nearest upsampling by 2, 3 x 3 convolution: an image
 * twice the size), and a classifier (3 x 3 convolution of 32 filters, their mean over the image, 2 classes).
 */
export async function writeAnySizeImageModel(head: 'upscaler' | 'classifier'): Promise<string> {
  await initBackend();
  const out = await folder();
  // The classifier's 32 filters make its pass hold more than an image's decoding does (about 130 bytes a pixel).
  const filters = head === 'upscaler' ? 4 : 32;
  const first = tfl.layers.conv2d({ inputShape: [null, null, 3], filters, kernelSize: 3, padding: 'same', activation: 'relu' });
  const rest =
    head === 'upscaler'
      ? [tfl.layers.upSampling2d({ size: [2, 2] }), tfl.layers.conv2d({ filters: 3, kernelSize: 3, padding: 'same', name: 'image' })]
      : [tfl.layers.globalAveragePooling2d({}), tfl.layers.dense({ units: 2, activation: 'softmax', name: 'probs' })];
  const model = tfl.sequential({ layers: [first, ...rest] });
  for (const [file, bytes] of await modelFiles(model)) await writeFile(path.join(out, file), bytes);
  model.dispose();
  return out;
}

/** Two outputs of the same 4 inputs: `small` (one value) first, then `wide` (`units` values). */
export async function writeSmallAndWideModel(units: number): Promise<string> {
  await initBackend();
  const out = await folder();
  const input = tfl.input({ shape: [4], name: 'x' });
  const small = tfl.layers.dense({ units: 1, name: 'small' }).apply(input) as tfl.SymbolicTensor;
  const wide = tfl.layers.dense({ units, name: 'wide' }).apply(input) as tfl.SymbolicTensor;
  const model = tfl.model({ inputs: input, outputs: [small, wide] });
  for (const [file, bytes] of await modelFiles(model)) await writeFile(path.join(out, file), bytes);
  model.dispose();
  return out;
}

/** A layers-format regression over 4 inputs with `units` outputs per row (a dense layer, arbitrary weights): a small request with a large answer. */
export async function writeWideModel(units: number, dir?: string): Promise<string> {
  await initBackend();
  const out = dir ?? (await folder());
  const model = tfl.sequential({ layers: [tfl.layers.dense({ inputShape: [4], units, name: 'out' })] });
  for (const [file, bytes] of await modelFiles(model)) await writeFile(path.join(out, file), bytes);
  model.dispose();
  return out;
}
