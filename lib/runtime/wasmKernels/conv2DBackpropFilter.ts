/**
 * Conv2DBackpropFilter for the wasm backend (it has none: tfjs issue #8474), composed from wasm's
 * own Conv2D (or DepthwiseConv2dNative) so that the work runs in XNNPACK SIMD.
 *
 * The filter gradient is itself a convolution. For a forward conv with stride s (no dilation:
 * the kernel has no such attribute, and tfjs-core refuses gradients of dilated conv2d),
 *
 *   dW[r, c, i, o] = sum over b, y, x of  xPadded[b, r + y*sH, c + x*sW, i] * dy[b, y, x, o]
 *
 * which is a stride-1 convolution, dilated by s, of the input seen as a batch of `inChannels`
 * images with `batch` channels ([i, H, W, b]), with dy seen as an outH x outW filter from `batch`
 * to `outChannels` channels ([y, x, b, o]). Its output [i, r, c, o] is dW transposed.
 *
 * Most of the time goes into XNNPACK packing that data-sized filter, a fresh one on every call.
 * With a single input channel (a first layer on grey images) a depthwise conv over the same
 * operands does the same sums with a cheaper packing: out [1, r, c, (b, o)], summed over b.
 * Measured on the digits net's conv1 (batch 32): 2.2 ms against 3.2 ms for the Conv2D form.
 */
import * as tf from '@tensorflow/tfjs-core';
import { backend_util, Conv2D, Conv2DBackpropFilter, DepthwiseConv2dNative } from '@tensorflow/tfjs-core';
import type { Conv2DBackpropFilterAttrs, Conv2DBackpropFilterInputs, KernelConfig, KernelFunc } from '@tensorflow/tfjs-core';
import { asTensor } from './inputs.js';
import { spatialWindow } from './window.js';

function conv2DBackpropFilter({ inputs, attrs }: Parameters<KernelFunc>[0]): tf.Tensor4D {
  const x = asTensor<tf.Tensor4D>((inputs as Conv2DBackpropFilterInputs).x, 'x');
  const dy = asTensor<tf.Tensor4D>((inputs as Conv2DBackpropFilterInputs).dy, 'dy');
  const { strides, pad, dataFormat, dimRoundingMode, filterShape } = attrs as unknown as Conv2DBackpropFilterAttrs;
  const format = backend_util.convertConv2DDataFormat(dataFormat);
  const info = backend_util.computeConv2DInfo(x.shape, filterShape, strides, 1, pad, dimRoundingMode, false, format);
  const channelsLast = info.dataFormat === 'channelsLast';

  return tf.tidy(() => {
    // x -> [inChannels, H, W, batch]; dy -> [outH, outW, batch, outChannels].
    const images = tf.transpose(x, channelsLast ? [3, 1, 2, 0] : [1, 2, 3, 0]);
    const filter = tf.transpose(dy, channelsLast ? [1, 2, 0, 3] : [2, 3, 0, 1]);
    // Exactly the rows and columns the forward conv read, padding included.
    const { tensor, pad: explicit } = spatialWindow(
      images,
      { start: -info.padInfo.top, length: (info.outHeight - 1) * info.strideHeight + info.filterHeight },
      { start: -info.padInfo.left, length: (info.outWidth - 1) * info.strideWidth + info.filterWidth },
    );
    const attrs = {
      strides: [1, 1],
      pad: explicit,
      dataFormat: 'NHWC',
      dilations: [info.strideHeight, info.strideWidth],
      dimRoundingMode: undefined,
    } as unknown as tf.NamedAttrMap;
    if (info.inChannels === 1) {
      const perImage = tf.engine().runKernel(DepthwiseConv2dNative, { x: tensor, filter }, attrs) as tf.Tensor4D; // [1, fH, fW, (b, o)]
      const summed = tf.sum(tf.reshape(perImage, [info.filterHeight, info.filterWidth, info.batchSize, info.outChannels]), 2);
      return tf.reshape(summed, info.filterShape) as tf.Tensor4D;
    }
    const transposed = tf.engine().runKernel(Conv2D, { x: tensor, filter }, attrs) as tf.Tensor4D; // [inChannels, fH, fW, outChannels]
    return tf.transpose(transposed, [1, 2, 0, 3]);
  });
}

export const conv2DBackpropFilterConfig: KernelConfig = {
  kernelName: Conv2DBackpropFilter,
  backendName: 'wasm',
  kernelFunc: conv2DBackpropFilter as unknown as KernelFunc,
};
