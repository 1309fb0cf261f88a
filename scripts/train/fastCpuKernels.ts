/**
 * Faster Conv2DBackpropFilter and MaxPoolGrad kernels for the cpu backend, for training only.
 *
 * The stock cpu kernels read every element through TensorBuffer.get(b, r, c, d), and
 * Conv2DBackpropFilter has the batch loop innermost: 4.7 s per batch of 64 for the digits net
 * (95% of a training step), which puts a few epochs of MNIST at a quarter of an hour. These walk
 * the typed arrays directly, in memory order: per batch of 64, Conv2DBackpropFilter 4.7 s -> 0.07 s
 * and MaxPoolGrad 0.31 s -> 0.03 s. Checked against the stock kernels on random inputs: identical
 * for the filter gradient and for non-overlapping pools, within one float32 ulp for overlapping
 * pools (summation order). The wasm backend would be faster still but, as shipped, has no
 * Conv2DBackpropFilter at all (lib/runtime/wasmKernels/).
 *
 * Only the cases the demo nets use (NHWC float32) are handled; anything else goes to the stock
 * kernel, which is kept.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';

type KernelFunc = tf.KernelConfig['kernelFunc'];
type Conv2DBackpropFilterArgs = {
  inputs: { x: tf.TensorInfo; dy: tf.TensorInfo };
  backend: { data: { get(id: unknown): { values: unknown } }; makeTensorInfo(shape: number[], dtype: tf.DataType, values: Float32Array): tf.TensorInfo };
  attrs: {
    strides: [number, number] | number;
    pad: 'valid' | 'same' | number;
    dataFormat: 'NHWC' | 'NCHW';
    dimRoundingMode?: 'floor' | 'round' | 'ceil';
    filterShape: [number, number, number, number];
  };
};

function fastConv2DBackpropFilter(stock: KernelFunc): KernelFunc {
  return (args) => {
    const { inputs, backend, attrs } = args as unknown as Conv2DBackpropFilterArgs;
    const { x, dy } = inputs;
    if (attrs.dataFormat !== 'NHWC' || x.dtype !== 'float32' || dy.dtype !== 'float32') return stock(args);
    const info = tf.backend_util.computeConv2DInfo(
      x.shape as [number, number, number, number],
      attrs.filterShape,
      attrs.strides,
      1,
      attrs.pad,
      attrs.dimRoundingMode,
      false,
      'channelsLast',
    );
    const xs = backend.data.get(x.dataId).values as Float32Array;
    const dys = backend.data.get(dy.dataId).values as Float32Array;
    const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth, outChannels, filterHeight, filterWidth, strideHeight, strideWidth } = info;
    const top = info.padInfo.top;
    const left = info.padInfo.left;
    // Sums in float64, like the stock kernel's JS-number accumulator.
    const dW = new Float64Array(filterHeight * filterWidth * inChannels * outChannels);
    for (let b = 0; b < batchSize; b += 1) {
      for (let yR = 0; yR < outHeight; yR += 1) {
        for (let yC = 0; yC < outWidth; yC += 1) {
          const dyOffset = ((b * outHeight + yR) * outWidth + yC) * outChannels;
          for (let wR = 0; wR < filterHeight; wR += 1) {
            const xR = yR * strideHeight + wR - top;
            if (xR < 0 || xR >= inHeight) continue;
            for (let wC = 0; wC < filterWidth; wC += 1) {
              const xC = yC * strideWidth + wC - left;
              if (xC < 0 || xC >= inWidth) continue;
              const xOffset = ((b * inHeight + xR) * inWidth + xC) * inChannels;
              const wOffset = (wR * filterWidth + wC) * inChannels * outChannels;
              for (let d1 = 0; d1 < inChannels; d1 += 1) {
                const xValue = xs[xOffset + d1];
                if (xValue === 0) continue; // post-ReLU activations are mostly zero
                const row = wOffset + d1 * outChannels;
                for (let d2 = 0; d2 < outChannels; d2 += 1) dW[row + d2] += xValue * dys[dyOffset + d2];
              }
            }
          }
        }
      }
    }
    return backend.makeTensorInfo(info.filterShape, 'float32', Float32Array.from(dW));
  };
}

type MaxPoolGradArgs = {
  inputs: { dy: tf.TensorInfo; input: tf.TensorInfo; output: tf.TensorInfo };
  backend: Conv2DBackpropFilterArgs['backend'];
  attrs: { filterSize: [number, number] | number; strides: [number, number] | number; pad: 'valid' | 'same' | number; dimRoundingMode?: 'floor' | 'round' | 'ceil' };
};

/** Routes each output gradient to the first maximum of its window, as the stock kernel does. */
function fastMaxPoolGrad(stock: KernelFunc): KernelFunc {
  return (args) => {
    const { inputs, backend, attrs } = args as unknown as MaxPoolGradArgs;
    const { dy, input: x } = inputs;
    if (x.dtype !== 'float32' || dy.dtype !== 'float32') return stock(args);
    const info = tf.backend_util.computePool2DInfo(x.shape as [number, number, number, number], attrs.filterSize, attrs.strides, 1, attrs.pad, attrs.dimRoundingMode);
    const xs = backend.data.get(x.dataId).values as Float32Array;
    const dys = backend.data.get(dy.dataId).values as Float32Array;
    const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth, strideHeight, strideWidth, filterHeight, filterWidth } = info;
    const dx = new Float32Array(xs.length);
    let dyIndex = 0;
    for (let b = 0; b < batchSize; b += 1) {
      for (let yR = 0; yR < outHeight; yR += 1) {
        const rowStart = yR * strideHeight - info.padInfo.top;
        const rowEnd = Math.min(inHeight, rowStart + filterHeight);
        for (let yC = 0; yC < outWidth; yC += 1) {
          const colStart = yC * strideWidth - info.padInfo.left;
          const colEnd = Math.min(inWidth, colStart + filterWidth);
          for (let d = 0; d < inChannels; d += 1, dyIndex += 1) {
            let best = Number.NEGATIVE_INFINITY;
            let bestIndex = -1;
            for (let xR = Math.max(0, rowStart); xR < rowEnd; xR += 1) {
              for (let xC = Math.max(0, colStart); xC < colEnd; xC += 1) {
                const index = ((b * inHeight + xR) * inWidth + xC) * inChannels + d;
                if (xs[index] > best) {
                  best = xs[index];
                  bestIndex = index;
                }
              }
            }
            if (bestIndex >= 0) dx[bestIndex] += dys[dyIndex];
          }
        }
      }
    }
    return backend.makeTensorInfo(x.shape, 'float32', dx);
  };
}

function replaceCpuKernel(name: string, faster: (stock: KernelFunc) => KernelFunc): void {
  const stock = tf.getKernel(name, 'cpu');
  if (!stock) throw new Error(`the cpu backend has no ${name} kernel to replace`);
  tf.unregisterKernel(name, 'cpu');
  tf.registerKernel({ ...stock, kernelFunc: faster(stock.kernelFunc) });
}

let installed = false;

/** Replaces the cpu backend's Conv2DBackpropFilter and MaxPoolGrad for this process (idempotent). */
export function installFastCpuKernels(): void {
  if (installed) return;
  replaceCpuKernel('Conv2DBackpropFilter', fastConv2DBackpropFilter);
  replaceCpuKernel('MaxPoolGrad', fastMaxPoolGrad);
  installed = true;
}
