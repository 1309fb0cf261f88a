/**
 * DepthwiseConv2dNativeBackpropInput for the wasm backend (it has none), composed from wasm's own
 * DepthwiseConv2dNative so that the work runs in XNNPACK SIMD.
 *
 * The input gradient of a convolution is the transposed convolution of dy: dy with zeros put
 * between its rows and columns (stride - 1 of them), padded by (effective filter - 1 - forward
 * padding), correlated with the filter turned by 180 degrees, with the forward dilation. For a
 * depthwise conv every output channel (i, m) only feeds input channel i, so this is a depthwise
 * conv with multiplier 1 over the inChannels*M planes of dy, summed over m.
 */
import * as tf from '@tensorflow/tfjs-core';
import { backend_util, DepthwiseConv2dNative, DepthwiseConv2dNativeBackpropInput } from '@tensorflow/tfjs-core';
import type { DepthwiseConv2dNativeBackpropInputAttrs, DepthwiseConv2dNativeBackpropInputInputs, KernelConfig, KernelFunc } from '@tensorflow/tfjs-core';
import { asTensor } from './inputs.js';
import { spatialWindow } from './window.js';

/** dy with stride - 1 zero rows after each row and zero columns after each column. */
function spreadByStride(dy: tf.Tensor4D, strideHeight: number, strideWidth: number): tf.Tensor4D {
  if (strideHeight === 1 && strideWidth === 1) return dy;
  const [batch, rows, cols, channels] = dy.shape;
  const cells = tf.reshape(dy, [batch, rows, 1, cols, 1, channels]);
  const padded = tf.pad(cells, [
    [0, 0],
    [0, 0],
    [0, strideHeight - 1],
    [0, 0],
    [0, strideWidth - 1],
    [0, 0],
  ]);
  return tf.reshape(padded, [batch, rows * strideHeight, cols * strideWidth, channels]);
}

function depthwiseConv2dNativeBackpropInput({ inputs, attrs }: Parameters<KernelFunc>[0]): tf.Tensor4D {
  const dy = asTensor<tf.Tensor4D>((inputs as DepthwiseConv2dNativeBackpropInputInputs).dy, 'dy');
  const filter = asTensor<tf.Tensor4D>((inputs as DepthwiseConv2dNativeBackpropInputInputs).filter, 'filter');
  const { strides, dilations, pad, dimRoundingMode, inputShape } = attrs as unknown as DepthwiseConv2dNativeBackpropInputAttrs;
  const info = backend_util.computeConv2DInfo(inputShape, filter.shape, strides, dilations ?? 1, pad, dimRoundingMode, true);
  const { batchSize, inHeight, inWidth, inChannels, outChannels, filterHeight, filterWidth } = info;
  const multiplier = outChannels / inChannels;

  return tf.tidy(() => {
    const spread = spreadByStride(dy, info.strideHeight, info.strideWidth);
    // dx[r] = sum over k of spread[r + top - k*d] * w[k]: a correlation with the turned filter
    // over spread rows [top - (fH - 1)*d, top - (fH - 1)*d + H + (fH - 1)*d).
    const reachHeight = (filterHeight - 1) * info.dilationHeight;
    const reachWidth = (filterWidth - 1) * info.dilationWidth;
    const { tensor, pad: explicit } = spatialWindow(
      spread,
      { start: info.padInfo.top - reachHeight, length: inHeight + reachHeight },
      { start: info.padInfo.left - reachWidth, length: inWidth + reachWidth },
    );
    const turned = tf.reshape(tf.reverse(filter, [0, 1]), [filterHeight, filterWidth, outChannels, 1]);
    const perPlane = tf.engine().runKernel(DepthwiseConv2dNative, { x: tensor, filter: turned }, {
      strides: [1, 1],
      pad: explicit,
      dataFormat: 'NHWC',
      dilations: [info.dilationHeight, info.dilationWidth],
      dimRoundingMode: undefined,
    } as unknown as tf.NamedAttrMap) as tf.Tensor4D; // [B, H, W, (i, m)]
    if (multiplier === 1) return perPlane;
    return tf.sum(tf.reshape(perPlane, [batchSize, inHeight, inWidth, inChannels, multiplier]), 4) as tf.Tensor4D;
  });
}

export const depthwiseConv2dNativeBackpropInputConfig: KernelConfig = {
  kernelName: DepthwiseConv2dNativeBackpropInput,
  backendName: 'wasm',
  kernelFunc: depthwiseConv2dNativeBackpropInput as unknown as KernelFunc,
};
