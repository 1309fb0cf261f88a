/**
 * Identity for the wasm backend, sharing its input's memory instead of copying it, as the cpu
 * backend's does and as wasm's own Reshape does (the backend counts references per buffer, and no
 * kernel writes into its inputs). Identity is what tf.clone runs, and a gradient tape clones every
 * tensor each op saves for its backward pass: on the digits net wasm's copies were 0.7 ms of a
 * 6 ms integrated-gradients pass, and training pays the same on every step.
 * Strings have no wasm memory: they keep wasm's own kernel.
 */
import type { KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';

export function identityKernel(original: KernelFunc): KernelFunc {
  return (args) => {
    const x = args.inputs.x as TensorInfo | undefined;
    if (x === undefined) throw new Error("kernel input 'x' is missing");
    if (x.dtype === 'string') return original(args);
    (args.backend as unknown as { incRef(dataId: object): void }).incRef(x.dataId);
    return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
  };
}
