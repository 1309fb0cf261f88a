/**
 * Einsum for the wasm backend (it has none), as Keras's EinsumDense and MultiHeadAttention reach a
 * converted graph model: without it, such a model (any Keras transformer) pushes, then fails on
 * every request. Each operand is first summed over the labels that only it has, then two operands
 * are contracted by one batched matrix product:
 *
 *   A [batch, freeA, contracted] x B [batch, contracted, freeB] -> [batch, freeA, freeB]
 *
 * (labels regrouped by a transpose and a reshape), transposed to the output's order. The work so
 * runs in wasm's MatMul, where tfjs cpu's kernel multiplies out the broadcast product of every
 * label's size and sums it. The equation is read and checked by tfjs-core's own backend_util, so
 * what TF.js refuses on every backend (an ellipsis, more than two operands, a label twice in one
 * operand, sizes that disagree) is refused here with its words.
 */
import * as tf from '@tensorflow/tfjs-core';
import { backend_util, Einsum } from '@tensorflow/tfjs-core';
import type { EinsumAttrs, KernelConfig, KernelFunc } from '@tensorflow/tfjs-core';
import { asTensor } from './inputs.js';

/** An equation's labels, each operand's and the output's (whitespace removed, already checked). */
export function einsumLabels(equation: string): { operands: string[]; output: string } {
  const [inputs = '', output = ''] = equation.replace(/\s/g, '').split('->');
  return { operands: inputs.split(','), output };
}

const sizeOf = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

/** `x`, whose axes are `labels`, summed over the labels not in `keep`: the tensor and its labels. */
function sumOut(x: tf.Tensor, labels: string, keep: (label: string) => boolean): [tf.Tensor, string] {
  const axes = [...labels].flatMap((label, axis) => (keep(label) ? [] : [axis]));
  if (axes.length === 0) return [x, labels];
  return [tf.sum(x, axes), [...labels].filter(keep).join('')];
}

/** `x`, whose axes are `labels`, with its axes in the order of `order` (a permutation of them). */
function arrange(x: tf.Tensor, labels: string, order: string): tf.Tensor {
  const perm = [...order].map((label) => labels.indexOf(label));
  return perm.every((p, i) => p === i) ? x : tf.transpose(x, perm);
}

/**
 * wasm's MatMul caches the packing of its right operand by that operand's data, whatever shape it
 * is read as: the same data read again as another [K, N] gets the first packing (out of bounds, a
 * trap; or, where the sizes agree, wrong sums). An operand that is an input's own data (no
 * transpose made new data of it: a weight, read the same way at every call) keeps the [K, N] it
 * was first read as; read as another (an outer product's operand, then its gradient's), a copy of
 * it is.
 */
const readAs = new WeakMap<object, string>();
function rightOperand(right: tf.Tensor): tf.Tensor {
  const shape = right.shape.join('x');
  const first = readAs.get(right.dataId);
  if (first === undefined) readAs.set(right.dataId, shape);
  return first === undefined || first === shape ? right : tf.add(right, 0);
}

function einsum({ inputs, attrs }: Parameters<KernelFunc>[0]): tf.Tensor {
  const { equation } = attrs as unknown as EinsumAttrs;
  const tensors = (inputs as unknown as tf.TensorInfo[]).map((t, i) => asTensor(t, `tensors${i}`));
  const { allDims, idDims } = backend_util.decodeEinsumEquation(equation, tensors.length);
  backend_util.checkEinsumDimSizes(allDims.length, idDims, tensors);
  const { operands, output } = einsumLabels(equation);
  // wasm's MatMul takes float32 only: an int32 einsum (cpu computes one) runs in float32 and is cast
  // back, exact while its sums stay under 2^24.
  const dtype = (tensors[0] as tf.Tensor).dtype;
  if (dtype !== 'float32') {
    return tf.tidy(() => tf.cast(tf.einsum(equation, ...tensors.map((t) => tf.cast(t, 'float32'))), dtype));
  }

  // A kernel returns a tensor of its own: an equation that changes nothing ('ab->ab') gets a copy.
  const own = (out: tf.Tensor) => (tensors.includes(out) ? tf.clone(out) : out);
  return tf.tidy(() => {
    if (tensors.length === 1) {
      const [summed, labels] = sumOut(tensors[0] as tf.Tensor, operands[0] as string, (l) => output.includes(l));
      return own(arrange(summed, labels, output));
    }
    const [labelsA, labelsB] = operands as [string, string];
    const [a, inA] = sumOut(tensors[0] as tf.Tensor, labelsA, (l) => output.includes(l) || labelsB.includes(l));
    const [b, inB] = sumOut(tensors[1] as tf.Tensor, labelsB, (l) => output.includes(l) || labelsA.includes(l));
    const batch = [...inA].filter((l) => inB.includes(l) && output.includes(l)).join('');
    const contracted = [...inA].filter((l) => inB.includes(l) && !output.includes(l)).join('');
    const freeA = [...inA].filter((l) => !inB.includes(l)).join('');
    const freeB = [...inB].filter((l) => !inA.includes(l)).join('');
    const size = (labels: string) => [...labels].map((l) => (inA.includes(l) ? a.shape[inA.indexOf(l)] : b.shape[inB.indexOf(l)]) as number);
    const left = tf.reshape(arrange(a, inA, batch + freeA + contracted), [sizeOf(size(batch)), sizeOf(size(freeA)), sizeOf(size(contracted))]);
    const right = rightOperand(tf.reshape(arrange(b, inB, batch + contracted + freeB), [sizeOf(size(batch)), sizeOf(size(contracted)), sizeOf(size(freeB))]));
    const product = tf.reshape(tf.matMul(left, right), size(batch + freeA + freeB));
    return arrange(product, batch + freeA + freeB, output);
  });
}

export const einsumConfig: KernelConfig = {
  kernelName: Einsum,
  backendName: 'wasm',
  kernelFunc: einsum as unknown as KernelFunc,
};
