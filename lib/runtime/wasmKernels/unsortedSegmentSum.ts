/**
 * UnsortedSegmentSum for the wasm backend (it has none; tf.grad through tf.gather needs it),
 * composed from wasm's own ScatterNd, which adds up updates that land on the same index.
 *
 *   out[s, ...] = sum of x[j, ...] over all j with segmentIds[j] == s
 *
 * Ids outside [0, numSegments) are ignored, as tfjs cpu and TensorFlow do: ScatterNd does not
 * check its indices, so those rows are sent to segment 0 with their values replaced by zeros.
 * segmentIds may have any rank k: it indexes the first k axes of x (TensorFlow's definition; for
 * the 1-D ids that tf.unsortedSegmentSum and the gather gradient pass, the same as cpu's).
 * The output keeps x's dtype.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ScatterNd, UnsortedSegmentSum } from '@tensorflow/tfjs-core';
import type { KernelConfig, KernelFunc, UnsortedSegmentSumAttrs, UnsortedSegmentSumInputs } from '@tensorflow/tfjs-core';
import { asTensor } from './inputs.js';

function unsortedSegmentSum({ inputs, attrs }: Parameters<KernelFunc>[0]): tf.Tensor {
  const x = asTensor((inputs as UnsortedSegmentSumInputs).x, 'x');
  const segmentIds = asTensor((inputs as UnsortedSegmentSumInputs).segmentIds, 'segmentIds');
  const { numSegments } = attrs as unknown as UnsortedSegmentSumAttrs;
  const rows = segmentIds.shape.reduce((a, b) => a * b, 1);
  const rowShape = x.shape.slice(segmentIds.shape.length);

  return tf.tidy(() => {
    const ids = tf.reshape(segmentIds, [rows]);
    const values = tf.reshape(x, [rows, ...rowShape]);
    const valid = tf.logicalAnd(tf.greaterEqual(ids, 0), tf.less(ids, numSegments));
    const safeIds = tf.where(valid, ids, tf.zerosLike(ids));
    const validRows = tf.reshape(valid, [rows, ...rowShape.map(() => 1)]);
    // where, not a multiply by 0/1: an ignored row holding Infinity or NaN must not leak into segment 0.
    const safeValues = tf.where(validRows, values, tf.zeros([], values.dtype));
    return tf
      .engine()
      .runKernel(ScatterNd, { indices: tf.reshape(safeIds, [rows, 1]), updates: safeValues }, { shape: [numSegments, ...rowShape] } as unknown as tf.NamedAttrMap) as tf.Tensor;
  });
}

export const unsortedSegmentSumConfig: KernelConfig = {
  kernelName: UnsortedSegmentSum,
  backendName: 'wasm',
  kernelFunc: unsortedSegmentSum as unknown as KernelFunc,
};
