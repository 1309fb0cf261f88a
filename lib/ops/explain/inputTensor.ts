/**
 * Rows of model inputs (flat float32, as the explainers build them) as the tensor the model is fed:
 * - in the input's dtype: an int32 input (MoveNet's image, a converted uint8 one) gets int32, its
 *   values cut toward zero as predict cuts natural images (a graph model refuses a float32 tensor
 *   there). kernelShap's rows mix the instance's values and the background's, whole when the request
 *   gave them, but a background made for the request (a black image's normalized encoding, the
 *   manifest's sample) need not be;
 * - at the batch size the signature fixes, if it fixes one (MoveNet's [1, 192, 192, 3], the TF
 *   object-detection models' [1, -1, -1, 3]): the explainers' many rows go in chunks of at most that
 *   many (the chunk plan's batch, runtime/memory.ts), a shorter chunk padded with zero rows whose
 *   outputs are not read.
 */
import * as tf from '@tensorflow/tfjs-core';
import { fixedBatchOf } from '../../tensors/fixedBatch.js';
import type { InputSpace } from './inputs.js';

/** The batch size a call of `rows` rows is fed at: `rows`, or the batch size the signature fixes. */
export function fedRows(space: InputSpace, rows: number): number {
  return fixedBatchOf([space.spec]) ?? rows;
}

/** `values` ([rows][size], flat) as the input tensor, [fedRows][...rowShape], in the input's dtype. */
export function inputTensor(space: InputSpace, values: Float32Array, rows: number): tf.Tensor {
  const fed = fedRows(space, rows);
  const shape = [fed, ...space.rowShape];
  const size = fed * space.size;
  if (space.spec.dtype === 'int32') {
    const data = new Int32Array(size);
    for (let i = 0; i < rows * space.size; i++) data[i] = Math.trunc(values[i]);
    return tf.tensor(data, shape, 'int32');
  }
  if (fed === rows) return tf.tensor(values, shape);
  const data = new Float32Array(size);
  data.set(values.subarray(0, rows * space.size));
  return tf.tensor(data, shape);
}
