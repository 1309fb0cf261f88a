/**
 * A conv net trains on the default backend (wasm): every layer trainable, conv2d + depthwiseConv2d
 * + pooling + dense, so its gradients go through the kernels of lib/runtime/wasmKernels.
 * The loss curve on wasm equals cpu's for 3 epochs from the same weights on the same data; a
 * plain `node` process that only calls initBackend() trains, and so does an esbuild bundle made
 * with the handlers' configuration (where tfjs is a slim build) run by plain node.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
// The cpu backend is registered on demand in the bundles (lib/runtime/backend.ts); compared against here.
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../lib/runtime/backend.js';
import { buildHandlers } from '../../scripts/build.js';
import { uniform } from '../../lib/random.js';

const run = promisify(execFile);

const SIDE = 12;
const CLASSES = 3;
const ROWS = 96;
const SETTINGS = { epochs: 3, batchSize: 16, learningRate: 0.01 };

const mulberry32 = uniform;

/** Noisy two-channel images whose class is where a bright square sits: left, middle or right. */
function dataset(): { images: Float32Array; labels: number[] } {
  const random = mulberry32(42);
  const images = new Float32Array(ROWS * SIDE * SIDE * 2);
  const labels: number[] = [];
  for (let n = 0; n < ROWS; n++) {
    const label = n % CLASSES;
    labels.push(label);
    const left = 1 + label * 4 + Math.floor(random() * 2);
    const top = 1 + Math.floor(random() * 7);
    for (let r = 0; r < SIDE; r++) {
      for (let c = 0; c < SIDE; c++) {
        const inSquare = r >= top && r < top + 3 && c >= left && c < left + 3;
        const offset = ((n * SIDE + r) * SIDE + c) * 2;
        images[offset] = (inSquare ? 1 : 0) + 0.3 * random();
        images[offset + 1] = 0.5 * random();
      }
    }
  }
  return { images, labels };
}

function build(): tfl.LayersModel {
  const init = (seed: number) => tfl.initializers.glorotUniform({ seed });
  const model = tfl.sequential({
    layers: [
      tfl.layers.conv2d({ inputShape: [SIDE, SIDE, 2], filters: 6, kernelSize: 3, padding: 'same', activation: 'relu', kernelInitializer: init(1) }),
      tfl.layers.depthwiseConv2d({ kernelSize: 3, depthMultiplier: 2, strides: 2, activation: 'relu', depthwiseInitializer: init(2) }),
      tfl.layers.maxPooling2d({ poolSize: 2 }),
      tfl.layers.flatten(),
      tfl.layers.dense({ units: CLASSES, activation: 'softmax', kernelInitializer: init(3) }),
    ],
  });
  model.compile({ optimizer: tf.train.adam(SETTINGS.learningRate), loss: 'categoricalCrossentropy' });
  return model;
}

interface Curve {
  batchLosses: number[];
  epochLosses: number[];
  trainable: number;
  leaked: number;
}

/** Trains from `weights` on `backend`; every tensor it made is gone afterwards. */
async function train(backend: 'wasm' | 'cpu', weights: { values: Float32Array; shape: number[] }[]): Promise<Curve> {
  await tf.setBackend(backend);
  const before = tf.memory().numTensors;
  const { images, labels } = dataset();
  const xs = tf.tensor4d(images, [ROWS, SIDE, SIDE, 2]);
  const ys = tf.tidy(() => tf.oneHot(tf.tensor1d(labels, 'int32'), CLASSES));
  const model = build();
  const initial = weights.map((w) => tf.tensor(w.values, w.shape));
  model.setWeights(initial); // copies
  tf.dispose(initial);
  const batchLosses: number[] = [];
  const history = await model.fit(xs, ys, {
    epochs: SETTINGS.epochs,
    batchSize: SETTINGS.batchSize,
    shuffle: false,
    verbose: 0,
    callbacks: { onBatchEnd: async (_batch, logs) => void batchLosses.push(logs!.loss) },
  });
  const trainable = model.trainableWeights.length;
  model.optimizer.dispose();
  model.dispose();
  tf.dispose([xs, ys]);
  return { batchLosses, epochLosses: history.history.loss as number[], trainable, leaked: tf.memory().numTensors - before };
}

/**
 * Source of a module-level `train(initBackend)` for a separate process: a small conv net with every
 * kind of layer whose gradient wasm lacked, three epochs on the backend initBackend() picks.
 */
const TRAIN_SOURCE = `
  import * as tf from '@tensorflow/tfjs-core';
  import * as tfl from '@tensorflow/tfjs-layers';
  async function train(initBackend) {
    const backend = await initBackend();
    const model = tfl.sequential({ layers: [
      tfl.layers.conv2d({ inputShape: [10, 10, 1], filters: 4, kernelSize: 3, strides: 2, activation: 'relu' }),
      tfl.layers.depthwiseConv2d({ kernelSize: 2, depthMultiplier: 2 }),
      tfl.layers.averagePooling2d({ poolSize: 2 }),
      tfl.layers.flatten(),
      tfl.layers.dense({ units: 2, activation: 'softmax' }),
    ] });
    model.compile({ optimizer: tf.train.adam(0.01), loss: 'categoricalCrossentropy' });
    const xs = tf.randomUniform([32, 10, 10, 1], 0, 1, 'float32', 7);
    const ys = tf.oneHot(tf.cast(tf.greater(tf.mean(xs, [1, 2, 3]), 0.5), 'int32'), 2);
    const history = await model.fit(xs, ys, { epochs: 3, batchSize: 8, shuffle: false, verbose: 0 });
    return { backend, tf: tf.getBackend(), losses: history.history.loss };
  }
`;

function expectTrained(answer: { backend: string; tf: string; losses: number[] }): void {
  expect(answer.backend).toBe('wasm');
  expect(answer.tf).toBe('wasm');
  expect(answer.losses).toHaveLength(3);
  for (const loss of answer.losses) expect(Number.isFinite(loss)).toBe(true);
  expect(answer.losses[2]).toBeLessThan(answer.losses[0]);
}

beforeAll(async () => {
  process.env.TFJS_BACKEND = ''; // the default choice, as in production
  expect(await initBackend()).toBe('wasm');
});

describe('training a conv net on wasm', () => {
  it('follows the same loss curve as cpu for 3 epochs, within 1e-3', async () => {
    await tf.setBackend('cpu');
    const initial = build();
    const weights = initial.getWeights().map((w) => ({ values: w.dataSync() as Float32Array, shape: w.shape }));
    initial.dispose();

    const cpu = await train('cpu', weights);
    const wasm = await train('wasm', weights);

    expect(wasm.trainable).toBe(6); // kernel and bias of conv, depthwise and dense: nothing frozen
    expect(wasm.batchLosses).toHaveLength(SETTINGS.epochs * (ROWS / SETTINGS.batchSize));
    for (const [i, loss] of wasm.batchLosses.entries()) expect(Math.abs(loss - cpu.batchLosses[i])).toBeLessThanOrEqual(1e-3);
    for (const [i, loss] of wasm.epochLosses.entries()) expect(Math.abs(loss - cpu.epochLosses[i])).toBeLessThanOrEqual(1e-3);
    expect(wasm.epochLosses[2]).toBeLessThan(wasm.epochLosses[0]); // it learns
    expect(wasm.leaked).toBe(0);
    expect(cpu.leaked).toBe(0);
  });

  it('trains in a plain node process that only calls initBackend()', async () => {
    const script = `
      import { initBackend } from './lib/runtime/backend.js';
      ${TRAIN_SOURCE}
      console.log(JSON.stringify(await train(initBackend)));
      process.exit(0);
    `;
    const { stdout } = await run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: path.resolve('.'),
      env: { ...process.env, TFJS_BACKEND: '' },
    });
    expectTrained(JSON.parse(stdout.trim().split('\n').pop()!));
  });

  it('trains in a bundle built like the handlers (scripts/build.ts), run by plain node away from node_modules', async () => {
    const work = await mkdtemp(path.join(tmpdir(), 'wasm-training-'));
    try {
      // A stand-in for the fine-tune handler: the same esbuild configuration and backend start-up.
      const handlers = path.join(work, 'handlers');
      await mkdir(handlers);
      await symlink(path.resolve('node_modules'), path.join(handlers, 'node_modules'), 'dir');
      const backendModule = JSON.stringify(path.resolve('lib/runtime/backend.js'));
      await writeFile(path.join(handlers, 'trainConv.ts'), `import { initBackend } from ${backendModule};\n${TRAIN_SOURCE}\nexport const handler = () => train(initBackend);\n`);
      await buildHandlers({ handlersDir: handlers, outDir: path.join(work, 'dist'), enforceBudget: false });
      const bundle = pathToFileURL(path.join(work, 'dist', 'trainConv', 'index.js')).href;
      const script = `const { handler } = await import(${JSON.stringify(bundle)}); console.log(JSON.stringify(await handler())); process.exit(0);`;
      const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { cwd: work, env: { ...process.env, TFJS_BACKEND: '' } });
      expectTrained(JSON.parse(stdout.trim().split('\n').pop()!));
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  });
});
