/**
 * Our FusedBatchNorm gradient (lib/runtime/gradients/batchNorm.ts) gives exactly tfjs-core's values,
 * for every input (x, mean, variance, scale, offset), with per-channel statistics of rank 1 (what
 * layers models in inference mode pass) and rank 4: only the work is cut, not the arithmetic.
 */
import * as tf from '@tensorflow/tfjs-core';
// tfjs-layers registers tfjs-core's gradients (tfjs-core itself does not).
import '@tensorflow/tfjs-layers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fusedBatchNormGradConfig as ours } from '../../lib/runtime/gradients/batchNorm.js';
import { initBackend } from '../../lib/runtime/backend.js';
import { useOurGradients } from '../../lib/runtime/gradients/index.js';

// tfjs-core's own, as importing tfjs-layers registered it (before initBackend puts ours in its place).
const tfjsConfig = tf.getGradient('FusedBatchNorm') as tf.GradConfig;

beforeAll(async () => {
  await initBackend();
  expect(tfjsConfig).not.toBe(ours);
});
afterAll(() => tf.registerGradient(ours));

function gradients(config: tf.GradConfig, statShape: number[], only?: 'x'): number[][] {
  tf.registerGradient(config);
  return tf.tidy(() => {
    const x = tf.randomUniform([2, 5, 5, 3], -2, 2, 'float32', 1);
    const stat = (seed: number, low = -1, high = 1) => tf.randomUniform(statShape, low, high, 'float32', seed);
    const [mean, variance, scale, offset] = [stat(2), stat(3, 0.1, 2), stat(4), stat(5)];
    const w = tf.randomUniform([2, 5, 5, 3], -1, 1, 'float32', 6);
    const f = (a: tf.Tensor, m: tf.Tensor, v: tf.Tensor, s: tf.Tensor, o: tf.Tensor) => tf.sum(tf.mul(tf.batchNorm(a, m, v, o, s, 0.001), w));
    if (only === 'x')
      return [
        Array.from(
          tf
            .grad((a: tf.Tensor) => f(a, mean, variance, scale, offset))(x)
            .dataSync(),
        ),
      ];
    return tf
      .grads(f)([x, mean, variance, scale, offset])
      .map((g) => Array.from(g.dataSync()));
  });
}

describe('FusedBatchNorm gradient', () => {
  it('equals tfjs-core for per-channel statistics (rank 1), for every input', () => {
    const reference = gradients(tfjsConfig, [3]);
    expect(gradients(ours, [3])).toEqual(reference);
    expect(reference.every((g) => g.some((v) => v !== 0))).toBe(true);
  });

  it('with [1, 1, 1, C] statistics: the input gradient equals tfjs-core, and the others equal the rank-1 ones (where tfjs-core throws)', () => {
    expect(gradients(ours, [1, 1, 1, 3], 'x')).toEqual(gradients(tfjsConfig, [1, 1, 1, 3], 'x'));
    expect(() => gradients(tfjsConfig, [1, 1, 1, 3])).toThrow(/must match the product of shape/);
    expect(gradients(ours, [1, 1, 1, 3])).toEqual(gradients(ours, [3]));
  });
});

describe('a batch normalization without a scale or an offset (Keras scale: false, center: false)', () => {
  it('has the input gradient of the same one with scale 1 and offset 0, and leaves no tensor behind (tfjs-core cannot take it)', () => {
    tf.registerGradient(ours);
    useOurGradients();
    const x = tf.randomUniform([2, 5, 5, 3], -2, 2, 'float32', 1);
    const [mean, variance] = [tf.randomUniform([3], -1, 1, 'float32', 2), tf.randomUniform([3], 0.1, 2, 'float32', 3)];
    const w = tf.randomUniform([2, 5, 5, 3], -1, 1, 'float32', 6);
    const [ones, zeros] = [tf.ones([3]), tf.zeros([3])];
    const before = tf.memory().numTensors;
    for (const [scale, offset] of [
      [undefined, undefined],
      [undefined, zeros],
      [ones, undefined],
    ]) {
      const without = tf.grad((a: tf.Tensor) => tf.sum(tf.mul(tf.batchNorm(a, mean, variance, offset, scale, 0.001), w)))(x);
      const withBoth = tf.grad((a: tf.Tensor) => tf.sum(tf.mul(tf.batchNorm(a, mean, variance, zeros, ones, 0.001), w)))(x);
      expect(Array.from(without.dataSync())).toEqual(Array.from(withBoth.dataSync()));
      tf.dispose([without, withBoth]);
    }
    expect(tf.memory().numTensors).toBe(before);
    // Outside a gradient the kernel gets what it was given: inference is as it was.
    const plain = tf.tidy(() => tf.batchNorm(x, mean, variance, undefined, undefined, 0.001));
    expect(tf.memory().numTensors).toBe(before + 1);
    plain.dispose();
  });
});
