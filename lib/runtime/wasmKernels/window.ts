/**
 * Shared by the convolution gradients: cut the part of a tensor that a convolution reads, along
 * the two spatial axes of an NHWC tensor, given as a window that may start before the tensor
 * (padding) or stop short of its end (cropping). Zero padding is left to the convolution kernel
 * itself (XNNPACK pads without copying); only negative padding, which convolutions reject,
 * becomes a slice.
 */
import * as tf from '@tensorflow/tfjs-core';

/** Rows (or columns) [start, start + length) of an axis, where start may be negative. */
export interface Span {
  start: number;
  length: number;
}

export type ExplicitPad = [[number, number], [number, number], [number, number], [number, number]];

export interface Windowed {
  /** The input, sliced where the window stops inside it. */
  tensor: tf.Tensor4D;
  /** Zeros the convolution must add around `tensor` to cover the window. */
  pad: ExplicitPad;
}

function along(size: number, span: Span): { begin: number; end: number; before: number; after: number } {
  const begin = Math.min(Math.max(span.start, 0), size);
  const end = Math.max(Math.min(span.start + span.length, size), begin);
  return { begin, end, before: begin - span.start, after: span.start + span.length - end };
}

/** The window `rows` x `cols` of axes 1 and 2 of `t`, zeros outside `t`. */
export function spatialWindow(t: tf.Tensor4D, rows: Span, cols: Span): Windowed {
  const [n, height, width, channels] = t.shape;
  const r = along(height, rows);
  const c = along(width, cols);
  if (r.end === r.begin || c.end === c.begin) {
    // The window misses the tensor entirely (only possible with odd explicit padding): all zeros.
    return {
      tensor: tf.zeros([n, rows.length, cols.length, channels]),
      pad: [
        [0, 0],
        [0, 0],
        [0, 0],
        [0, 0],
      ],
    };
  }
  const whole = r.begin === 0 && r.end === height && c.begin === 0 && c.end === width;
  const tensor = whole ? t : tf.slice(t, [0, r.begin, c.begin, 0], [n, r.end - r.begin, c.end - c.begin, channels]);
  return {
    tensor,
    pad: [
      [0, 0],
      [r.before, r.after],
      [c.before, c.after],
      [0, 0],
    ],
  };
}
