/**
 * Kernels that @tensorflow/tfjs-backend-wasm 4.22 does not have: those training needs (the filter
 * gradient of conv2d, tfjs issue #8474; both gradients of depthwiseConv2d; the gradient of gather,
 * UnsortedSegmentSum), and Einsum, which converted Keras transformers run. Each is composed from
 * kernels wasm does have, so the work stays in wasm SIMD; none is a plain-JS loop.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { KernelConfig } from '@tensorflow/tfjs-core';
import { conv2DBackpropFilterConfig } from './conv2DBackpropFilter.js';
import { depthwiseConv2dNativeBackpropFilterConfig } from './depthwiseConv2dNativeBackpropFilter.js';
import { depthwiseConv2dNativeBackpropInputConfig } from './depthwiseConv2dNativeBackpropInput.js';
import { einsumConfig } from './einsum.js';
import { unsortedSegmentSumConfig } from './unsortedSegmentSum.js';

export const WASM_GAP_KERNELS: readonly KernelConfig[] = [
  conv2DBackpropFilterConfig,
  depthwiseConv2dNativeBackpropFilterConfig,
  depthwiseConv2dNativeBackpropInputConfig,
  unsortedSegmentSumConfig,
  einsumConfig,
];

/**
 * Registers, for the 'wasm' backend, each of these kernels that it does not already have (a
 * later tfjs-backend-wasm that ships its own keeps it). Safe to call more than once. Returns the
 * names registered by this call.
 */
export function registerWasmGapKernels(): string[] {
  const added: string[] = [];
  for (const config of WASM_GAP_KERNELS) {
    if (tf.getKernel(config.kernelName, config.backendName) !== undefined) continue;
    tf.registerKernel(config);
    added.push(config.kernelName);
  }
  return added;
}
