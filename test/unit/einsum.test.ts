/**
 * Einsum on the wasm backend (lib/runtime/wasmKernels/einsum.ts) against tfjs cpu's own kernel,
 * and its gradient (lib/runtime/gradients/einsum.ts) against the gradient TF.js itself takes of
 * the same product written out in ops it differentiates (each operand broadcast over every
 * label, multiplied, summed): the equations Keras's EinsumDense and MultiHeadAttention convert to,
 * and the corners (one operand, a label only one operand has, an identity).
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-core/dist/register_all_gradients.js'; // the reference's gradients (tfjs-layers imports these for fit)
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../lib/runtime/backend.js';
import { useOurGradients } from '../../lib/runtime/gradients/index.js';
import { uniform } from '../../lib/random.js';

/** [equation, each operand's shape]. */
const CASES: [string, number[][]][] = [
  [
    'ab,bc->ac',
    [
      [3, 4],
      [4, 5],
    ],
  ], // EinsumDense as Dense
  [
    'abc,cd->abd',
    [
      [2, 3, 4],
      [4, 5],
    ],
  ], // EinsumDense over a sequence
  [
    'abc,cde->abde',
    [
      [2, 3, 4],
      [4, 2, 3],
    ],
  ], // MultiHeadAttention: query, key, value projections
  [
    'aecd,abcd->acbe',
    [
      [2, 3, 2, 4],
      [2, 5, 2, 4],
    ],
  ], // attention scores
  [
    'acbe,aecd->abcd',
    [
      [2, 2, 5, 3],
      [2, 3, 2, 4],
    ],
  ], // scores times values
  [
    'abcd,cde->abe',
    [
      [2, 5, 2, 4],
      [2, 4, 6],
    ],
  ], // the output projection
  [
    'ab,cb->ac',
    [
      [3, 4],
      [5, 4],
    ],
  ], // a transposed operand
  [
    'ab,bc->a',
    [
      [3, 4],
      [4, 5],
    ],
  ], // a free label summed away
  [
    'ab,cd->ad',
    [
      [3, 4],
      [5, 2],
    ],
  ], // a label each operand alone has, summed (tfjs cpu's own kernel fails on it)
  [
    'ab,ab->ab',
    [
      [3, 4],
      [3, 4],
    ],
  ], // elementwise
  ['i,j->ij', [[3], [4]]], // outer product: its gradient reads an operand's data as another [K, N] (wasm's MatMul cache)
  ['ab->ba', [[3, 4]]],
  ['abc->ac', [[2, 3, 4]]],
  ['ab->ab', [[3, 4]]],
];

const operands = (shapes: number[][], seed: number) => {
  const random = uniform(seed);
  return shapes.map((shape) =>
    tf.tensor(
      Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => random() * 2 - 1),
      shape,
    ),
  );
};

/** einsum written out: each operand transposed and reshaped over every label, multiplied, summed. */
function einsumByBroadcast(equation: string, tensors: tf.Tensor[]): tf.Tensor {
  const [inputs = '', output = ''] = equation.split('->');
  const terms = inputs.split(',');
  const all = [...new Set([...output, ...terms.join('')])];
  const sizes = new Map<string, number>();
  for (const [t, term] of terms.entries()) for (const [axis, l] of [...term].entries()) sizes.set(l, (tensors[t] as tf.Tensor).shape[axis] as number);
  const spread = terms.map((term, t) => {
    const order = all.filter((l) => term.includes(l));
    const arranged = tf.transpose(
      tensors[t] as tf.Tensor,
      order.map((l) => term.indexOf(l)),
    );
    return tf.reshape(
      arranged,
      all.map((l) => (term.includes(l) ? (sizes.get(l) as number) : 1)),
    );
  });
  const product = spread.reduce((a, b) => tf.mul(a, b));
  const summed = all.flatMap((l, axis) => (output.includes(l) ? [] : [axis]));
  const reduced = summed.length > 0 ? tf.sum(product, summed) : product;
  const left = all.filter((l) => output.includes(l));
  return tf.transpose(
    reduced,
    [...output].map((l) => left.indexOf(l)),
  );
}

async function on(backend: 'wasm' | 'cpu', make: () => tf.Tensor | tf.Tensor[]): Promise<number[][]> {
  await tf.setBackend(backend);
  const out = tf.tidy(make);
  const list = Array.isArray(out) ? out : [out];
  const values = list.map((t) => Array.from(t.dataSync()));
  tf.dispose(list);
  return values;
}

function expectClose(actual: number[], expected: number[]): void {
  expect(actual.length).toBe(expected.length);
  const scale = Math.max(1, ...expected.map(Math.abs));
  for (const [i, a] of actual.entries()) expect(Math.abs(a - (expected[i] as number))).toBeLessThan(1e-5 * scale);
}

beforeAll(async () => {
  process.env.TFJS_BACKEND = 'wasm';
  expect(await initBackend()).toBe('wasm');
  useOurGradients();
});

describe('Einsum on the wasm backend', () => {
  it.each(CASES)('%s equals tfjs cpu (or, where cpu fails, the product written out)', async (equation, shapes) => {
    const cpuFails = equation === 'ab,cd->ad';
    if (cpuFails) await expect(on('cpu', () => tf.einsum(equation, ...operands(shapes, 7)))).rejects.toThrow(/could not be broadcast/);
    const [expected] = await on('cpu', () => (cpuFails ? einsumByBroadcast(equation, operands(shapes, 7)) : tf.einsum(equation, ...operands(shapes, 7))));
    await tf.setBackend('wasm');
    const before = tf.memory().numTensors;
    const [actual] = await on('wasm', () => tf.einsum(equation, ...operands(shapes, 7)));
    expect(tf.memory().numTensors).toBe(before);
    expectClose(actual as number[], expected as number[]);
  });

  it.each(CASES)('%s: its gradient equals that of the product written out', async (equation, shapes) => {
    // A weighted sum of the output, so that every output element's gradient differs.
    const loss =
      (f: (...t: tf.Tensor[]) => tf.Tensor) =>
      (...t: tf.Tensor[]) => {
        const out = f(...t);
        return tf.sum(tf.mul(out, tf.reshape(tf.range(1, out.size + 1), out.shape)));
      };
    const ours = await on('wasm', () => tf.grads(loss((...t) => tf.einsum(equation, ...t)))(operands(shapes, 11)));
    const reference = await on('wasm', () => tf.grads(loss((...t) => einsumByBroadcast(equation, t)))(operands(shapes, 11)));
    expect(ours.length).toBe(shapes.length);
    for (const [i, g] of ours.entries()) expectClose(g, reference[i] as number[]);
  });

  it('takes int32 operands, as cpu does (wasm MatMul takes float32 only)', async () => {
    const ints = () => [tf.tensor2d([1, -2, 3, 4, 5, -6], [2, 3], 'int32'), tf.tensor2d([7, 8, -9, 10, 11, 12], [3, 2], 'int32')];
    const [expected] = await on('cpu', () => tf.einsum('ij,jk->ik', ...ints()));
    await tf.setBackend('wasm');
    const before = tf.memory().numTensors;
    const out = tf.tidy(() => tf.einsum('ij,jk->ik', ...ints()));
    expect(out.dtype).toBe('int32');
    expect(Array.from(out.dataSync())).toEqual(expected);
    out.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('refuses what TF.js refuses on every backend, in its words', async () => {
    await tf.setBackend('wasm');
    const [a, b, c] = operands(
      [
        [2, 3],
        [3, 4],
        [4, 2],
      ],
      3,
    ) as [tf.Tensor, tf.Tensor, tf.Tensor];
    expect(() => tf.einsum('...b,bc->...c', a, b)).toThrow(/ellipsis/);
    expect(() => tf.einsum('ab,bc,cd->ad', a, b, c)).toThrow(/more than 2 input tensors/);
    expect(() => tf.einsum('ab,bc->ac', a, c)).toThrow(/dimension/i);
    tf.dispose([a, b, c]);
  });
});
