/**
 * MaxPoolGrad for the wasm backend, replacing its own for two reasons:
 *
 * 1. Ties. A window whose maximum occurs twice sends the gradient to one of the two: tfjs-core's
 *    cpu kernel (and TensorFlow) picks the first in row-major order, wasm's picked the last. Ties
 *    are common, not rare: after a ReLU a blank region of an image is one constant (the bias), so
 *    on the digits net every background window ties, and the input gradients of cpu and wasm
 *    disagreed there by 1e-2. This kernel uses cpu's rule exactly (strict >, windows clipped to
 *    the input, gradients of overlapping windows added).
 * 2. Speed: wasm's took 20 ms for 52 x 26 x 26 x 8; this one about 3 ms scanning every window,
 *    and less where the forward pass's output (the window maxima) is given: the first cell equal
 *    to the maximum is the one, usually the first read (random inputs 2.1 -> 1.4 ms).
 *
 * Unlike the other kernels here it is a plain loop over views of the wasm heap: it is a
 * scatter of one dy value per window with no arithmetic, and the compositions of wasm ops that
 * express first-maximum selection (strided slices, equal/logicalAnd masks, inner-axis concat)
 * each cost more than the whole loop (measured 19.6 ms for the best of them).
 */
import type * as tf from '@tensorflow/tfjs-core';
import { backend_util } from '@tensorflow/tfjs-core';
import type { KernelFunc, MaxPoolGradAttrs, MaxPoolGradInputs } from '@tensorflow/tfjs-core';

/** The two methods of tfjs-backend-wasm's BackendWasm used here: views of its heap, no copies. */
interface WasmHeap {
  makeOutput(shape: number[], dtype: 'float32'): tf.TensorInfo;
  typedArrayFromHeap(info: tf.TensorInfo): Float32Array;
}

export function maxPoolGradKernel(): KernelFunc {
  return ({ inputs, attrs, backend }) => {
    const { dy, input, output } = inputs as MaxPoolGradInputs;
    if (dy === undefined || input === undefined) throw new Error('MaxPoolGrad: dy and input are required');
    const { filterSize, strides, pad, dimRoundingMode } = attrs as unknown as MaxPoolGradAttrs;
    const info = backend_util.computePool2DInfo(input.shape as [number, number, number, number], filterSize, strides, 1, pad, dimRoundingMode);
    const heap = backend as unknown as WasmHeap;
    const result = heap.makeOutput(input.shape, 'float32');
    // Views into the wasm heap, taken after the allocation above (which may grow and move it).
    const x = heap.typedArrayFromHeap(input);
    const gradient = heap.typedArrayFromHeap(dy);
    // With a NaN anywhere in the input the forward maxima cannot be trusted (XNNPACK's max of a
    // window holding a NaN may be another of its values, not the largest): every window is scanned.
    const maxima = output === undefined || hasNaN(x) ? undefined : heap.typedArrayFromHeap(output);
    const out = heap.typedArrayFromHeap(result).fill(0);
    const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth, strideHeight, strideWidth, filterHeight, filterWidth } = info;
    for (let b = 0; b < batchSize; b++) {
      for (let i = 0; i < outHeight; i++) {
        const rowStart = i * strideHeight - info.padInfo.top;
        const r0 = Math.max(0, rowStart);
        const r1 = Math.min(inHeight, rowStart + filterHeight);
        for (let j = 0; j < outWidth; j++) {
          const colStart = j * strideWidth - info.padInfo.left;
          const c0 = Math.max(0, colStart);
          const c1 = Math.min(inWidth, colStart + filterWidth);
          const dyAt = ((b * outHeight + i) * outWidth + j) * inChannels;
          for (let k = 0; k < inChannels; k++) {
            // The forward pass's maximum, when usable: the first cell equal to it is the first
            // maximum, found without reading the rest of the window (after a ReLU most windows
            // are flat, and their first cell is it). A -Infinity maximum (cpu's rule then picks
            // no cell), or no cell equal, takes the full scan.
            const target = maxima === undefined ? Number.NaN : maxima[dyAt + k];
            let at = target > Number.NEGATIVE_INFINITY ? firstEqual(x, target, b, r0, r1, c0, c1, k, inHeight, inWidth, inChannels) : -1;
            if (at < 0) at = firstMaximum(x, b, r0, r1, c0, c1, k, inHeight, inWidth, inChannels);
            if (at >= 0) out[at] += gradient[dyAt + k];
          }
        }
      }
    }
    return result;
  };
}

/** Index of the first cell of the window (row-major) whose value is `target`, or -1. */
function firstEqual(
  x: Float32Array,
  target: number,
  b: number,
  r0: number,
  r1: number,
  c0: number,
  c1: number,
  k: number,
  height: number,
  width: number,
  channels: number,
): number {
  for (let r = r0; r < r1; r++) {
    const rowAt = (b * height + r) * width;
    for (let c = c0; c < c1; c++) {
      const p = (rowAt + c) * channels + k;
      if (x[p] === target) return p;
    }
  }
  return -1;
}

/** cpu's rule: the first cell greater than every cell before it and not less than any after (NaN never wins); -1 when no cell is above -Infinity. */
function firstMaximum(x: Float32Array, b: number, r0: number, r1: number, c0: number, c1: number, k: number, height: number, width: number, channels: number): number {
  let best = Number.NEGATIVE_INFINITY;
  let at = -1;
  for (let r = r0; r < r1; r++) {
    const rowAt = (b * height + r) * width;
    for (let c = c0; c < c1; c++) {
      const p = (rowAt + c) * channels + k;
      if (x[p] > best) {
        best = x[p];
        at = p;
      }
    }
  }
  return at;
}

function hasNaN(x: Float32Array): boolean {
  for (let i = 0; i < x.length; i++) if (Number.isNaN(x[i])) return true;
  return false;
}
