/**
 * The wasm kernels replaced for input gradients (lib/runtime/wasmKernels/replacements.ts), against
 * the cpu backend's own kernels on seeded random shapes and attributes, in one process: same
 * inputs, switch backend, compare. MaxPoolGrad inputs are drawn from a few values so that windows
 * tie often: the tie rule (first maximum in row-major order) must be cpu's.
 */
import * as tf from '@tensorflow/tfjs-core';
// The cpu backend is registered on demand in the bundles (lib/runtime/backend.ts); compared against here.
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-layers'; // registers every gradient
import { Conv2DBackpropInput, Identity, MaxPoolGrad } from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uniform } from '../../lib/random.js';
import { initBackend } from '../../lib/runtime/backend.js';
import { registerWasmKernelReplacements } from '../../lib/runtime/wasmKernels/replacements.js';

type Shape4 = [number, number, number, number];
type Pad = 'valid' | 'same' | [[number, number], [number, number], [number, number], [number, number]];

const between = (random: () => number, lo: number, hi: number) => lo + Math.floor(random() * (hi - lo + 1));

function values(random: () => number, n: number, levels?: number): Float32Array {
  return Float32Array.from({ length: n }, () => (levels ? Math.floor(random() * levels) / levels : random() * 2 - 1));
}

async function onBoth<T extends tf.Tensor>(run: () => T): Promise<{ cpu: Float32Array; wasm: Float32Array }> {
  const result: Record<string, Float32Array> = {};
  for (const backend of ['cpu', 'wasm']) {
    await tf.setBackend(backend);
    const t = run();
    result[backend] = (await t.data()) as Float32Array;
    t.dispose();
  }
  return { cpu: result.cpu, wasm: result.wasm };
}

function expectClose(actual: Float32Array, expected: Float32Array): void {
  expect(actual.length).toBe(expected.length);
  const scale = Math.max(1e-6, ...Array.from(expected, Math.abs));
  let worst = 0;
  for (let i = 0; i < expected.length; i++) worst = Math.max(worst, Math.abs(actual[i] - expected[i]));
  expect(worst / scale).toBeLessThan(1e-5);
}

let previous: string;
beforeAll(async () => {
  await initBackend();
  previous = tf.getBackend();
});
afterAll(async () => {
  await tf.setBackend(previous);
});

describe('wasm kernel replacements', () => {
  it('are registered by initBackend, once', () => {
    expect(registerWasmKernelReplacements()).toEqual([]);
    expect(tf.getKernel(Conv2DBackpropInput, 'wasm')).toBeDefined();
    expect(tf.getKernel(MaxPoolGrad, 'wasm')).toBeDefined();
    expect(tf.getKernel(Identity, 'wasm')).toBeDefined();
  });

  const convCases = Array.from({ length: 24 }, (_, seed) => {
    const random = uniform(100 + seed);
    const stride = seed % 6 === 5 ? 2 : 1; // strided: wasm's own kernel, still checked
    const [fh, fw] = [between(random, 1, 4), between(random, 1, 4)];
    const inChannels = seed % 3 === 0 ? 1 : between(random, 2, 5);
    const xShape: Shape4 = [between(random, 1, 3), between(random, fh, 12), between(random, fw, 12), inChannels];
    const padKind = seed % 4;
    const pad: Pad =
      padKind === 0
        ? 'valid'
        : padKind === 1
          ? 'same'
          : [
              [0, 0],
              [between(random, 0, fh - 1), between(random, 0, 2)],
              [between(random, 0, 2), between(random, 0, fw - 1)],
              [0, 0],
            ];
    return {
      name: `#${seed} x [${xShape}] filter ${fh}x${fw} stride ${stride} pad ${JSON.stringify(pad)}`,
      seed,
      xShape,
      filterShape: [fh, fw, inChannels, between(random, 1, 6)] as Shape4,
      stride,
      pad,
    };
  });

  it.each(convCases)('Conv2DBackpropInput equals cpu: $name', async ({ seed, xShape, filterShape, stride, pad }) => {
    const random = uniform(seed);
    const filter = values(
      random,
      filterShape.reduce((a, b) => a * b),
    );
    const y = tf.tidy(() => tf.conv2d(tf.zeros(xShape) as tf.Tensor4D, tf.zeros(filterShape) as tf.Tensor4D, stride, pad));
    const dy = values(random, y.size);
    const dyShape = y.shape as Shape4;
    y.dispose();
    const { cpu, wasm } = await onBoth(() => tf.conv2dTranspose(tf.tensor4d(dy, dyShape), tf.tensor4d(filter, filterShape), xShape, stride, pad));
    expectClose(wasm, cpu);
  });

  const poolCases = Array.from({ length: 24 }, (_, seed) => {
    const random = uniform(200 + seed);
    const filter = between(random, 1, 3);
    const stride = between(random, 1, 3);
    const pad: 'valid' | 'same' = seed % 2 === 0 ? 'valid' : 'same';
    const xShape: Shape4 = [between(random, 1, 3), between(random, filter, 11), between(random, filter, 11), between(random, 1, 4)];
    return { name: `#${seed} x [${xShape}] pool ${filter} stride ${stride} ${pad}`, seed, xShape, filter, stride, pad };
  });

  it.each(poolCases)('MaxPoolGrad equals cpu, ties included: $name', async ({ seed, xShape, filter, stride, pad }) => {
    const random = uniform(seed);
    const x = values(
      random,
      xShape.reduce((a, b) => a * b),
      3,
    ); // 3 levels: many ties
    const y = tf.tidy(() => tf.maxPool(tf.zeros(xShape) as tf.Tensor4D, filter, stride, pad));
    const dy = tf.tensor(values(random, y.size), y.shape);
    y.dispose();
    const { cpu, wasm } = await onBoth(() => tf.grad((input: tf.Tensor) => tf.mul(tf.maxPool(input as tf.Tensor4D, filter, stride, pad), dy))(tf.tensor4d(x, xShape)));
    dy.dispose();
    expectClose(wasm, cpu);
  });

  it('MaxPoolGrad equals cpu on windows with NaN, -Infinity and Infinity (the forward maxima cannot be trusted there)', async () => {
    const N = Number.NaN;
    const I = Number.POSITIVE_INFINITY;
    // 2x2 windows of a 4x4 image: all NaN, NaN beside numbers, all -Infinity, -Infinity beside a number, +Infinity twice.
    const x = [N, N, N, 2, N, N, 1, 2, -I, -I, -I, 3, -I, -I, -I, 3];
    const xWide = [...x.slice(0, 8), I, 0, 5, 5, I, 1, 5, 5];
    for (const values of [x, xWide]) {
      const dy = tf.tensor4d([1, 2, 3, 4], [1, 2, 2, 1]);
      const { cpu, wasm } = await onBoth(() => tf.grad((input: tf.Tensor) => tf.mul(tf.maxPool(input as tf.Tensor4D, 2, 2, 'valid'), dy))(tf.tensor4d(values, [1, 4, 4, 1])));
      dy.dispose();
      expect(Array.from(wasm)).toEqual(Array.from(cpu));
    }
  });

  it('MaxPoolGrad equals cpu bit for bit on small inputs full of NaN, infinities, signed zeros and ties (seeded, 300 cases)', async () => {
    // XNNPACK's forward max of a window holding a NaN may be another of its values (for [1, 2, 1, NaN]
    // it gives 1): the kernel must not take that for the window's maximum.
    const specials = [Number.NaN, Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY, -0, 0, 1, 2, -1];
    const random = uniform(4242);
    const pick = <T>(items: T[]) => items[Math.floor(random() * items.length)];
    const pads: Pad[] = [
      'valid',
      'same',
      [
        [0, 0],
        [1, 0],
        [0, 1],
        [0, 0],
      ],
    ];
    let checked = 0;
    for (let n = 0; n < 300; n++) {
      const filter = between(random, 1, 3);
      const stride = between(random, 1, 3);
      const shape: Shape4 = [1, filter + between(random, 0, 3), filter + between(random, 0, 3), between(random, 1, 2)];
      const pad = pick(pads);
      const nanShare = random() * 0.5;
      const x = Float32Array.from({ length: shape.reduce((a, b) => a * b) }, () => (random() < nanShare ? Number.NaN : pick(specials)));
      const run = () =>
        tf.tidy(() => {
          const input = tf.tensor4d(x, shape);
          const dy = tf.tidy(() => {
            const y = tf.maxPool(input, filter, stride, pad);
            return tf.reshape(tf.range(1, y.size + 1), y.shape);
          });
          return tf.grad((t: tf.Tensor) => tf.mul(tf.maxPool(t as tf.Tensor4D, filter, stride, pad), dy))(input);
        });
      const { cpu, wasm } = await onBoth(run);
      expect(Array.from(wasm), `case ${n}: x [${Array.from(x)}] shape [${shape}] pool ${filter} stride ${stride} ${JSON.stringify(pad)}`).toEqual(Array.from(cpu));
      checked += 1;
    }
    expect(checked).toBe(300);
  });

  it('Identity (tf.clone, and every tensor a gradient tape saves) shares the wasm buffer and keeps values when either side is disposed', async () => {
    await tf.setBackend('wasm');
    const source = tf.tensor2d([1, 2, 3, 4, 5, 6], [2, 3]);
    const buffers = tf.memory().numDataBuffers;
    const copy = tf.clone(source);
    expect(tf.memory().numDataBuffers).toBe(buffers); // shared, not copied
    source.dispose();
    expect(Array.from(await copy.data())).toEqual([1, 2, 3, 4, 5, 6]);
    const again = tf.clone(copy);
    copy.dispose();
    expect(Array.from(await again.data())).toEqual([1, 2, 3, 4, 5, 6]);
    again.dispose();
    expect(tf.memory().numDataBuffers).toBe(buffers - 1);
    const words = tf.clone(tf.tensor(['a', 'b'])); // strings: wasm's own kernel
    expect(await words.data()).toEqual(['a', 'b']);
    words.dispose();
  });

  it('leave no tensors behind', async () => {
    await tf.setBackend('wasm');
    const before = tf.memory().numTensors;
    const x = tf.randomUniform([2, 8, 8, 3]) as tf.Tensor4D;
    const w = tf.randomUniform([3, 3, 3, 4]) as tf.Tensor4D;
    const g = tf.grad((input: tf.Tensor) => tf.sum(tf.maxPool(tf.relu(tf.conv2d(input as tf.Tensor4D, w, 1, 'same')), 2, 2, 'valid')))(x);
    tf.dispose([x, w, g]);
    expect(tf.memory().numTensors).toBe(before);
  });
});
