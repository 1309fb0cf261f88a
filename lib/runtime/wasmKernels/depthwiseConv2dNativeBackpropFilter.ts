/**
 * DepthwiseConv2dNativeBackpropFilter for the wasm backend (it has none), composed from wasm's own
 * DepthwiseConv2dNative so that the work runs in XNNPACK SIMD.
 *
 * For a depthwise conv with stride s, dilation d and channel multiplier M,
 *
 *   dW[r, c, i, m] = sum over b, y, x of  xPadded[b, r*dH + y*sH, c*dW + x*sW, i] * dy[b, y, x, i*M + m]
 *
 * Per (channel i, image b) pair this is a convolution of that image plane with the matching
 * planes of dy, with stride d and dilation s (the roles swap). A depthwise conv does exactly
 * that when the input is x seen as one image with inChannels*batch channels ([1, H, W, i*b]) and
 * the filter is dy seen as an outH x outW filter with multiplier M ([y, x, i*b, m]). Its output
 * [1, fH, fW, (i, b, m)] summed over b is dW.
 */
import * as tf from '@tensorflow/tfjs-core';
import { backend_util, DepthwiseConv2dNative, DepthwiseConv2dNativeBackpropFilter } from '@tensorflow/tfjs-core';
import type { DepthwiseConv2dNativeBackpropFilterAttrs, DepthwiseConv2dNativeBackpropFilterInputs, KernelConfig, KernelFunc } from '@tensorflow/tfjs-core';
import { asTensor } from './inputs.js';
import { spatialWindow } from './window.js';

function depthwiseConv2dNativeBackpropFilter({ inputs, attrs }: Parameters<KernelFunc>[0]): tf.Tensor4D {
  const x = asTensor<tf.Tensor4D>((inputs as DepthwiseConv2dNativeBackpropFilterInputs).x, 'x');
  const dy = asTensor<tf.Tensor4D>((inputs as DepthwiseConv2dNativeBackpropFilterInputs).dy, 'dy');
  const { strides, dilations, pad, dimRoundingMode, filterShape } = attrs as unknown as DepthwiseConv2dNativeBackpropFilterAttrs;
  const info = backend_util.computeConv2DInfo(x.shape, filterShape, strides, dilations ?? 1, pad, dimRoundingMode, true);
  const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth, filterHeight, filterWidth } = info;
  const multiplier = info.outChannels / inChannels;

  return tf.tidy(() => {
    // x -> [1, H, W, (i, b)]; dy -> [outH, outW, (i, b), m].
    const images = tf.reshape(tf.transpose(x, [1, 2, 3, 0]), [1, inHeight, inWidth, inChannels * batchSize]) as tf.Tensor4D;
    const planes = tf.reshape(dy, [batchSize, outHeight, outWidth, inChannels, multiplier]);
    const filter = tf.reshape(tf.transpose(planes, [1, 2, 3, 0, 4]), [outHeight, outWidth, inChannels * batchSize, multiplier]);
    const { tensor, pad: explicit } = spatialWindow(
      images,
      { start: -info.padInfo.top, length: (filterHeight - 1) * info.dilationHeight + (outHeight - 1) * info.strideHeight + 1 },
      { start: -info.padInfo.left, length: (filterWidth - 1) * info.dilationWidth + (outWidth - 1) * info.strideWidth + 1 },
    );
    const perPair = tf.engine().runKernel(DepthwiseConv2dNative, { x: tensor, filter }, {
      strides: [info.dilationHeight, info.dilationWidth],
      pad: explicit,
      dataFormat: 'NHWC',
      dilations: [info.strideHeight, info.strideWidth],
      dimRoundingMode: undefined,
    } as unknown as tf.NamedAttrMap) as tf.Tensor4D; // [1, fH, fW, (i, b, m)]
    const summed = tf.sum(tf.reshape(perPair, [filterHeight, filterWidth, inChannels, batchSize, multiplier]), 3);
    return tf.reshape(summed, info.filterShape) as tf.Tensor4D;
  });
}

export const depthwiseConv2dNativeBackpropFilterConfig: KernelConfig = {
  kernelName: DepthwiseConv2dNativeBackpropFilter,
  backendName: 'wasm',
  kernelFunc: depthwiseConv2dNativeBackpropFilter as unknown as KernelFunc,
};
