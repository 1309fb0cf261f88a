/**
 * The kernels here are written with tf ops, which take Tensors. The engine hands a kernel the very
 * Tensors its op was called with, so this is usually a cast; a bare TensorInfo (a kernel called
 * from another backend-level kernel) is wrapped in a Tensor that holds its own reference to the
 * data, so that disposing the wrapper (tf.tidy does) leaves the caller's data alone.
 */
import * as tf from '@tensorflow/tfjs-core';

export function asTensor<T extends tf.Tensor>(info: tf.TensorInfo | undefined, name: string): T {
  if (info === undefined) throw new Error(`kernel input '${name}' is missing`);
  if (info instanceof tf.Tensor) return info as T;
  const engine = tf.engine();
  engine.backend.incRef(info.dataId);
  return engine.makeTensorFromTensorInfo(info) as T;
}
