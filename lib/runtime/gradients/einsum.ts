/**
 * The gradient of Einsum, which tfjs-core 4.22 does not define: without it no input gradient
 * (saliency, integrated gradients, SmoothGrad) goes through a graph model converted from Keras's
 * EinsumDense or MultiHeadAttention. An operand's gradient is itself an einsum, of the
 * output's gradient with the other operand, into the operand's labels:
 *
 *   out = einsum('A,B->O', a, b)   gives   da = einsum('O,B->A', dy, b),   db = einsum('O,A->B', dy, a)
 *
 * A label the operand alone has and the output lacks was summed over: every element under it gets
 * the same gradient, so the einsum leaves it out and the result is broadcast back along it.
 */
import * as tf from '@tensorflow/tfjs-core';
import { Einsum, type GradConfig, type NamedAttrMap } from '@tensorflow/tfjs-core';
import { einsumLabels } from '../wasmKernels/einsum.js';

function operandGradient(dy: tf.Tensor, output: string, labels: string, shape: number[], other?: { tensor: tf.Tensor; labels: string }): tf.Tensor {
  const reached = [...labels].filter((l) => output.includes(l) || other?.labels.includes(l)).join('');
  const terms = other ? `${output},${other.labels}` : output;
  const gradient = other ? tf.einsum(`${terms}->${reached}`, dy, other.tensor) : tf.einsum(`${terms}->${reached}`, dy);
  if (reached.length === labels.length) return gradient;
  // Size 1 along each label left out, then repeated along it.
  const kept = tf.reshape(
    gradient,
    [...labels].map((l, axis) => (reached.includes(l) ? (shape[axis] as number) : 1)),
  );
  return tf.broadcastTo(kept, shape);
}

export const einsumGradConfig: GradConfig = {
  kernelName: Einsum,
  saveAllInputs: true,
  gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[], attrs: NamedAttrMap) => {
    const { operands, output } = einsumLabels((attrs as unknown as { equation: string }).equation);
    const gradient = dy as tf.Tensor;
    const grads: Record<string, () => tf.Tensor> = {};
    for (const [i, labels] of operands.entries()) {
      const j = 1 - i;
      const other = saved.length === 2 ? { tensor: saved[j] as tf.Tensor, labels: operands[j] as string } : undefined;
      grads[i] = () => operandGradient(gradient, output, labels, (saved[i] as tf.Tensor).shape, other);
    }
    return grads;
  },
};
