/**
 * Conv2DBackpropInput for the wasm backend, replacing its own: the input gradient of a stride-1
 * convolution is itself a convolution, of dy with the filter turned by 180 degrees and its in/out
 * channels swapped, padded so that the output has the input's size:
 *
 *   dx[b, y, x, i] = sum over r, c, o of  dyPadded[b, y + r, x + c, o] * W[fH - 1 - r, fW - 1 - c, i, o]
 *   with fH - 1 - padTop rows of zeros above dy and inH + fH - 1 - outH - that below (columns alike).
 *
 * so it runs in wasm's XNNPACK Conv2D. With one input channel (a first layer on grey images,
 * which every input-gradient explanation reaches) a depthwise convolution over dy's channels
 * summed over them does the same sums faster. Measured on the digits net at batch 52 (the
 * integrated-gradients path of one image): conv2 13x13x8 <- 11x11x16: 21.7 ms (wasm's kernel)
 * against 1.8 ms; conv1 28x28x1 <- 26x26x8: 9.6 ms against 1.8 ms.
 *
 * Strides other than 1 and NCHW keep wasm's own kernel (stride-s input gradients need dy dilated
 * by s, which the convolution kernels cannot do without a copy).
 */
import * as tf from '@tensorflow/tfjs-core';
import { backend_util, Conv2D, DepthwiseConv2dNative } from '@tensorflow/tfjs-core';
import type { Conv2DBackpropInputAttrs, Conv2DBackpropInputInputs, KernelFunc } from '@tensorflow/tfjs-core';
import { asTensor } from './inputs.js';
import type { ExplicitPad } from './window.js';

export function conv2DBackpropInputKernel(fallback: KernelFunc): KernelFunc {
  return (args) => {
    const { strides, pad, dataFormat, dimRoundingMode, inputShape } = args.attrs as unknown as Conv2DBackpropInputAttrs;
    const filterInfo = (args.inputs as Conv2DBackpropInputInputs).filter;
    if (filterInfo === undefined) throw new Error("kernel input 'filter' is missing");
    const format = backend_util.convertConv2DDataFormat(dataFormat);
    const info = backend_util.computeConv2DInfo(inputShape, filterInfo.shape as [number, number, number, number], strides, 1, pad, dimRoundingMode, false, format);
    const top = info.filterHeight - 1 - info.padInfo.top;
    const left = info.filterWidth - 1 - info.padInfo.left;
    const bottom = info.inHeight + info.filterHeight - 1 - info.outHeight - top;
    const right = info.inWidth + info.filterWidth - 1 - info.outWidth - left;
    const supported = info.strideHeight === 1 && info.strideWidth === 1 && info.dataFormat === 'channelsLast' && Math.min(top, left, bottom, right) >= 0;
    if (!supported) return fallback(args);

    const dy = asTensor<tf.Tensor4D>((args.inputs as Conv2DBackpropInputInputs).dy, 'dy');
    const filter = asTensor<tf.Tensor4D>(filterInfo, 'filter');
    return tf.tidy(() => {
      const explicit: ExplicitPad = [
        [0, 0],
        [top, bottom],
        [left, right],
        [0, 0],
      ];
      const attrs = { strides: [1, 1], pad: explicit, dataFormat: 'NHWC', dilations: [1, 1], dimRoundingMode: undefined } as unknown as tf.NamedAttrMap;
      const turned = tf.reverse(filter, [0, 1]); // [fH, fW, in, out]
      if (info.inChannels === 1) {
        const depthwise = tf.reshape(turned, [info.filterHeight, info.filterWidth, info.outChannels, 1]);
        const perChannel = tf.engine().runKernel(DepthwiseConv2dNative, { x: dy, filter: depthwise }, attrs) as tf.Tensor4D;
        return tf.sum(perChannel, 3, true);
      }
      return tf.engine().runKernel(Conv2D, { x: dy, filter: tf.transpose(turned, [0, 1, 3, 2]) }, attrs) as tf.Tensor4D;
    });
  };
}
