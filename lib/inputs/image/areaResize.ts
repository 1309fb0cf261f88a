/**
 * Float images (interleaved HWC, values 0..255) and separable resampling.
 *
 * Per axis: area averaging when shrinking (each output pixel is the coverage-weighted mean of the
 * source pixels it covers; every source pixel counts, so thin 1-2 px strokes of a large drawing
 * survive as grey instead of vanishing between bilinear taps), bilinear with half-pixel centres
 * when enlarging (smooth, no blocky nearest-neighbour steps). Weights always sum to 1, so a
 * constant image stays constant and the value range is kept.
 */
export interface Plane {
  width: number;
  height: number;
  channels: number;
  /** width * height * channels, row-major, channels interleaved. */
  data: Float32Array;
}

interface Taps {
  index: Int32Array;
  weight: Float32Array;
  /** Taps of output i are start[i] .. start[i + 1]. */
  start: Int32Array;
}

function axisTaps(source: number, target: number): Taps {
  const index: number[] = [];
  const weight: number[] = [];
  const start = new Int32Array(target + 1);
  const ratio = source / target;
  for (let i = 0; i < target; i++) {
    start[i] = index.length;
    if (source === target) {
      index.push(i);
      weight.push(1);
    } else if (source > target) {
      const from = i * ratio;
      const to = (i + 1) * ratio;
      for (let s = Math.floor(from); s < Math.min(source, Math.ceil(to)); s++) {
        const overlap = Math.min(to, s + 1) - Math.max(from, s);
        if (overlap > 0) {
          index.push(s);
          weight.push(overlap / ratio);
        }
      }
    } else {
      const x = Math.min(source - 1, Math.max(0, (i + 0.5) * ratio - 0.5));
      const left = Math.floor(x);
      const t = x - left;
      index.push(left);
      weight.push(1 - t);
      if (t > 0 && left + 1 < source) {
        index.push(left + 1);
        weight.push(t);
      }
    }
  }
  start[target] = index.length;
  return { index: Int32Array.from(index), weight: Float32Array.from(weight), start };
}

/** Resamples to width x height (horizontal pass, then vertical): the `area` method, and the MNIST fit's. */
export function areaResize(plane: Plane, width: number, height: number): Plane {
  const { channels: c } = plane;
  if (plane.width === width && plane.height === height) return plane;
  const xs = axisTaps(plane.width, width);
  const rows = new Float32Array(plane.height * width * c);
  for (let y = 0; y < plane.height; y++) {
    const src = y * plane.width * c;
    const dst = y * width * c;
    for (let x = 0; x < width; x++) {
      for (let k = xs.start[x]; k < xs.start[x + 1]; k++) {
        const from = src + xs.index[k] * c;
        const w = xs.weight[k];
        for (let ch = 0; ch < c; ch++) rows[dst + x * c + ch] += plane.data[from + ch] * w;
      }
    }
  }
  const ys = axisTaps(plane.height, height);
  const out = new Float32Array(height * width * c);
  const rowLength = width * c;
  for (let y = 0; y < height; y++) {
    const dst = y * rowLength;
    for (let k = ys.start[y]; k < ys.start[y + 1]; k++) {
      const from = ys.index[k] * rowLength;
      const w = ys.weight[k];
      for (let i = 0; i < rowLength; i++) out[dst + i] += rows[from + i] * w;
    }
  }
  return { width, height, channels: c, data: out };
}

/** The x0..x1 (exclusive) by y0..y1 window of a plane. */
export function crop(plane: Plane, x0: number, y0: number, x1: number, y1: number): Plane {
  const c = plane.channels;
  const width = x1 - x0;
  const height = y1 - y0;
  const data = new Float32Array(width * height * c);
  for (let y = 0; y < height; y++) {
    const from = ((y0 + y) * plane.width + x0) * c;
    data.set(plane.data.subarray(from, from + width * c), y * width * c);
  }
  return { width, height, channels: c, data };
}
